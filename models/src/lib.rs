#![warn(missing_docs)]
//! `ember-models`: ember's model zoo as Burn modules.
//!
//! | name | module | layers | parameters |
//! |---|---|---|---|
//! | `mlp` | [`mlp::Mlp`] | 784-100-10 | 79,510 |
//! | `deep-mlp` | [`mlp::Mlp`] via [`deep_mlp::config`] | 784-128-64-32-16-10 | 111,514 |
//! | `lenet` | [`lenet::LeNet`] | conv 6@5x5 pad 2, pool, conv 16@5x5, pool, 120, 84, 10 | 61,706 |
//!
//! Every model takes normalized images `Tensor<4>` of shape `[batch, 1, 28, 28]` and returns
//! logits `Tensor<2>` of shape `[batch, 10]`; [`Model`] wraps them so the learner needs no
//! per-model code. [`mlp::MlpConfig::dense`] builds any other fully connected ReLU network on
//! `[batch, features]` inputs. [`Model::summary`] (and [`mlp::Mlp::summary`]) gives Keras'
//! `model.summary()` with each layer's output shape ([`ember_engine::summary`]).
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use ember_models::ModelKind;
//! let device = Device::flex();
//! let model = ModelKind::Lenet.init(&device);
//! let logits = model.forward(Tensor::zeros([2, 1, 28, 28], &device));
//! assert_eq!(logits.dims(), [2, 10]);
//! ```

pub mod batch_norm;
pub mod deep_mlp;
pub mod dropout;
pub mod kernels;
pub mod lenet;
pub mod mlp;

mod zoo;

pub use batch_norm::BatchNorm;
pub use dropout::{Dropout, DropoutKind};
pub use zoo::{Model, ModelKind, ModelOptions};

/// Pixels of one flattened input image (28 x 28).
pub const IMAGE_PIXELS: usize = 28 * 28;
/// Number of output logits.
pub const NUM_CLASSES: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::tensor::{Device, Tensor};

    #[test]
    fn every_model_maps_images_to_ten_logits_with_the_documented_parameter_count() {
        let device = Device::flex();
        for (kind, params) in [
            (ModelKind::Mlp, 784 * 100 + 100 + 100 * 10 + 10),
            (
                ModelKind::DeepMlp,
                784 * 128 + 128 + 128 * 64 + 64 + 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10,
            ),
            (
                ModelKind::Lenet,
                6 * 25 + 6 + 16 * 6 * 25 + 16 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10,
            ),
        ] {
            let model = kind.init(&device);
            assert_eq!(model.num_params(), params, "{kind}");
            let logits = model.forward(Tensor::zeros([3, 1, 28, 28], &device));
            assert_eq!(logits.dims(), [3, 10], "{kind}");
        }
    }

    #[test]
    fn model_names_round_trip() {
        for kind in ModelKind::ALL {
            assert_eq!(kind.name().parse::<ModelKind>().unwrap(), kind);
        }
        assert!("resnet".parse::<ModelKind>().is_err());
    }
}
