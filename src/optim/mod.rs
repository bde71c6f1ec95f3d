//! ember's optimizers, as Burn [`burn::optim::Optimizer`] implementations.
//!
//! | name | type | reference | default lr |
//! |---|---|---|---|
//! | `adabelief` | [`AdaBelief`] | adabelief-pytorch 0.2.1 | 1e-3 |
//! | `rprop` | [`Rprop`] | torch.optim.Rprop (iRprop⁻) | 1e-2 (initial step size) |
//! | `adadelta` | [`Adadelta`] | torch.optim.Adadelta | 1.0 |
//! | `sgd` | Burn's SGD, torch defaults ([`SgdConfig`]) | torch.optim.SGD | 1e-2 |
//! | `adam` | [`AdamConfig`] | torch.optim.Adam | 1e-3 |
//!
//! Every one is usable in any Burn training loop through [`burn::optim::ModuleOptimizer`]:
//!
//! ```
//! use burn::optim::GradientsParams;
//! use burn::tensor::{Device, Tensor};
//! use ember::optim::OptimizerConfig;
//! use ember_models::ModelKind;
//!
//! let device = Device::flex().autodiff();
//! let mut model = ModelKind::Mlp.init(&device);
//! let mut optimizer = OptimizerConfig::AdaBelief(Default::default()).init();
//! let images = Tensor::<4>::ones([8, 1, 28, 28], &device);
//! let loss = model.forward(images).powf_scalar(2.0).mean();
//! let grads = GradientsParams::from_grads(loss.backward(), &model);
//! model = optimizer.step(1e-3, model, grads);
//! ```

mod adabelief;
mod adadelta;
mod adam;
mod common;
mod rprop;
mod sgd;
#[cfg(test)]
pub(crate) mod testing;

use std::fmt;
use std::str::FromStr;

use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

pub use adabelief::{AdaBelief, AdaBeliefConfig, AdaBeliefState};
pub use adadelta::{Adadelta, AdadeltaConfig, AdadeltaState};
pub use adam::AdamConfig;
pub use rprop::{Rprop, RpropConfig, RpropState};
pub use sgd::SgdConfig;

/// An optimizer and its hyperparameters (the learning rate is passed per step, as Burn does).
///
/// Serialized with the optimizer's name in the `name` field, e.g.
/// `{"name": "adabelief", "beta1": 0.9, ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum OptimizerConfig {
    /// AdaBelief (adabelief-pytorch 0.2.1).
    #[serde(rename = "adabelief")]
    AdaBelief(AdaBeliefConfig),
    /// Rprop (torch.optim.Rprop).
    Rprop(RpropConfig),
    /// Adadelta (torch.optim.Adadelta).
    Adadelta(AdadeltaConfig),
    /// SGD with optional momentum/Nesterov (torch.optim.SGD).
    Sgd(SgdConfig),
    /// Adam / AMSGrad (torch.optim.Adam).
    Adam(AdamConfig),
}

impl OptimizerConfig {
    /// Every optimizer name the CLI accepts.
    pub const NAMES: [&'static str; 5] = ["adabelief", "rprop", "adadelta", "sgd", "adam"];

    /// The optimizer's name (`adabelief`, `rprop`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::AdaBelief(_) => "adabelief",
            OptimizerConfig::Rprop(_) => "rprop",
            OptimizerConfig::Adadelta(_) => "adadelta",
            OptimizerConfig::Sgd(_) => "sgd",
            OptimizerConfig::Adam(_) => "adam",
        }
    }

    /// The reference implementation's default learning rate (for SGD, which has none in
    /// torch, Keras' 0.01).
    pub fn default_lr(&self) -> f64 {
        match self {
            OptimizerConfig::AdaBelief(_) | OptimizerConfig::Adam(_) => 1e-3,
            OptimizerConfig::Rprop(_) | OptimizerConfig::Sgd(_) => 1e-2,
            OptimizerConfig::Adadelta(_) => 1.0,
        }
    }

    /// Checks the hyperparameters against the reference's own range checks.
    ///
    /// # Errors
    /// A one-line message naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            OptimizerConfig::AdaBelief(c) => c.validate(),
            OptimizerConfig::Rprop(c) => c.validate(),
            OptimizerConfig::Adadelta(c) => c.validate(),
            OptimizerConfig::Sgd(c) => c.validate(),
            OptimizerConfig::Adam(c) => c.validate(),
        }
    }

    /// A fresh module optimizer (no state yet).
    pub fn init(&self) -> ModuleOptimizer {
        match self {
            OptimizerConfig::AdaBelief(c) => c.init().into(),
            OptimizerConfig::Rprop(c) => c.init().into(),
            OptimizerConfig::Adadelta(c) => c.init().into(),
            OptimizerConfig::Sgd(c) => c.init(),
            OptimizerConfig::Adam(c) => c.init(),
        }
    }
}

impl fmt::Display for OptimizerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerConfig {
    type Err = String;

    /// The named optimizer with its reference defaults.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "adabelief" => OptimizerConfig::AdaBelief(Default::default()),
            "rprop" => OptimizerConfig::Rprop(Default::default()),
            "adadelta" => OptimizerConfig::Adadelta(Default::default()),
            "sgd" => OptimizerConfig::Sgd(Default::default()),
            "adam" => OptimizerConfig::Adam(Default::default()),
            other => {
                return Err(format!(
                    "unknown optimizer '{other}' (expected one of: {})",
                    Self::NAMES.join(", ")
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Tensor, TensorData};

    fn grads(model: &Linear, scale: f32, device: &Device) -> GradientsParams {
        let input = Tensor::<2>::from_data(
            TensorData::new(vec![0.5f32, -1.0, 2.0, 0.25, 1.5, -0.75, 0.1, 3.0], [2, 4]),
            device,
        );
        let loss = model
            .forward(input)
            .mul_scalar(scale)
            .powf_scalar(2.0)
            .sum();
        GradientsParams::from_grads(loss.backward(), model)
    }

    /// Every optimizer's state survives a burnpack round trip (what a checkpoint stores): the
    /// step after restoring equals, bit for bit, the step of the optimizer that never stopped.
    #[test]
    fn state_round_trips_through_burnpack() {
        let device = Device::flex().autodiff();
        for name in OptimizerConfig::NAMES {
            let config: OptimizerConfig = name.parse().unwrap();
            let lr = config.default_lr() * 0.1;
            let mut model = LinearConfig::new(4, 3).init(&device);
            let mut optimizer = config.init();
            for scale in [1.0, -0.5, 0.25] {
                let g = grads(&model, scale, &device);
                model = optimizer.step(lr, model, g);
            }
            let bytes = optimizer.into_bytes().unwrap();
            let mut restored = config.init().from_bytes(bytes).unwrap();
            let kept = optimizer.step(lr, model.clone(), grads(&model, 0.3, &device));
            let back = restored.step(lr, model.clone(), grads(&model, 0.3, &device));
            assert_eq!(
                kept.weight.val().into_data(),
                back.weight.val().into_data(),
                "{name}"
            );
            let before: Vec<f32> = model.weight.val().try_into_vec_as().unwrap();
            let after: Vec<f32> = kept.weight.val().try_into_vec_as().unwrap();
            assert_ne!(before, after, "{name}: the step did not move the weights");
        }
    }
}
