//! Gradient clipping, applied by the learner to each optimizer step's gradients (after
//! accumulation, before the update).
//!
//! - [`GradientClip::Norm`]: by the global norm over all parameters, as PyTorch's
//!   `torch.nn.utils.clip_grad_norm_` (2.x) computes it, which Lightning uses for
//!   `gradient_clip_algorithm="norm"`: with `‖g‖ = sqrt(Σ_i ‖g_i‖²)` over every parameter's
//!   gradient `g_i`, each `g_i` is multiplied by `min(1, max_norm / (‖g‖ + 1e-6))`, so the
//!   direction of the whole step is kept. Keras' `global_clipnorm` is the same up to the 1e-6
//!   (`tf.clip_by_global_norm`: `max_norm / max(‖g‖, max_norm)`).
//! - [`GradientClip::Value`]: each component clamped to `[-clip_value, clip_value]`
//!   (`torch.nn.utils.clip_grad_value_`, Lightning's `"value"`, Keras' `clipvalue`, Burn's
//!   `GradientClipping::Value`).
//! - [`GradientClip::TensorNorm`]: each parameter's gradient scaled to norm at most
//!   `max_norm` on its own (Keras' `clipnorm`, Burn's `GradientClipping::Norm`), which changes
//!   the step's direction.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::optim::grad_clipping::GradientClipping;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// PyTorch's `clip_grad_norm_` adds this to the norm before dividing.
pub const NORM_EPS: f64 = 1e-6;

/// How gradients are clipped; see the module documentation. Thresholds are positive and
/// finite.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GradientClip {
    /// By the global norm of all gradients together (PyTorch's `clip_grad_norm_`).
    Norm(f64),
    /// Each component to `[-v, v]`.
    Value(f64),
    /// Each parameter's gradient by its own norm (Burn's and Keras' `clipnorm`).
    TensorNorm(f64),
}

impl GradientClip {
    /// The threshold.
    pub fn threshold(self) -> f64 {
        match self {
            Self::Norm(v) | Self::Value(v) | Self::TensorNorm(v) => v,
        }
    }

    /// `grads` of `model`'s parameters, clipped.
    pub fn apply<M: Module>(self, model: &M, mut grads: GradientsParams) -> GradientsParams {
        match self {
            Self::Norm(max_norm) => {
                let mut squares = SumOfSquares {
                    grads: &grads,
                    sum: None,
                };
                model.visit(&mut squares);
                let Some(sum) = squares.sum else {
                    return grads;
                };
                let coef = sum
                    .sqrt()
                    .add_scalar(NORM_EPS)
                    .recip()
                    .mul_scalar(max_norm)
                    .clamp_max(1.0);
                model.visit(&mut Scale {
                    grads: &mut grads,
                    coef,
                });
                grads
            }
            Self::Value(v) => per_tensor(model, grads, GradientClipping::Value(v as f32)),
            Self::TensorNorm(v) => per_tensor(model, grads, GradientClipping::Norm(v as f32)),
        }
    }
}

/// Burn's per-tensor clipping of every gradient of `model`.
fn per_tensor<M: Module>(
    model: &M,
    mut grads: GradientsParams,
    clip: GradientClipping,
) -> GradientsParams {
    struct Each<'a> {
        grads: &'a mut GradientsParams,
        clip: GradientClipping,
    }
    impl ModuleVisitor for Each<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.grads.register(param.id, self.clip.clip_gradient(g));
            }
        }
    }
    model.visit(&mut Each {
        grads: &mut grads,
        clip,
    });
    grads
}

/// Σ‖g_i‖² over the gradients present, as a `[1]` tensor on their device.
struct SumOfSquares<'a> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for SumOfSquares<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.sum = Some(match self.sum.take() {
                Some(total) => total.add(s),
                None => s,
            });
        }
    }
}

/// Multiplies every gradient by `coef` (`[1]`).
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    coef: Tensor<1>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            let coef: Tensor<D> = self.coef.clone().unsqueeze();
            self.grads.register(param.id, g.mul(coef));
        }
    }
}
