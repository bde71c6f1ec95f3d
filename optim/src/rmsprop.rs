//! RMSprop (Hinton, Coursera "Neural Networks for Machine Learning", lecture 6e, 2012; the
//! centered form from Graves, "Generating Sequences With Recurrent Neural Networks", 2013),
//! exactly as `torch.optim.RMSprop` (PyTorch 2.x, `_single_tensor_rmsprop`):
//!
//! ```text
//! g ← g + wd·θ                              (if weight_decay ≠ 0)
//! v ← α·v + (1 − α)·g²                      (square_avg)
//! centered:  ḡ ← lerp(ḡ, g, 1 − α);  a = √(v − ḡ²) + ε      otherwise  a = √v + ε
//! momentum > 0:  b ← μ·b + g/a;  θ ← θ − lr·b                otherwise  θ ← θ − lr·g/a
//! ```
//!
//! Defaults are torch's: lr 1e-2, alpha 0.99, eps 1e-8, weight_decay 0, momentum 0,
//! centered false. (Keras' RMSprop puts ε inside the square root and defaults to lr 1e-3,
//! rho 0.9, so its trajectories differ.)

use burn::optim::{ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::OptimizerError;
use crate::RecordState;
use crate::common::{addcdiv, check_non_negative, ema_product, l2_weight_decay, lerp};

/// `torch.optim.RMSprop` hyperparameters (lr aside); `Default` gives torch's defaults.
///
/// ```
/// use burn::optim::ModuleOptimizer;
/// use ember_optim::RmsPropConfig;
/// let config = RmsPropConfig { momentum: 0.9, centered: true, ..Default::default() };
/// config.validate().unwrap();
/// let optimizer: ModuleOptimizer = config.init(); // config.build(): the bare optimizer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RmsPropConfig {
    /// Smoothing constant α ≥ 0 of the squared-gradient average; default 0.99.
    pub alpha: f64,
    /// ε ≥ 0 added to the denominator (outside the square root); default 1e-8.
    pub eps: f64,
    /// L2 weight decay ≥ 0 added to the gradient; default 0.
    pub weight_decay: f64,
    /// Momentum factor μ ≥ 0 of the update buffer; default 0 (no buffer).
    pub momentum: f64,
    /// Normalize by the estimated variance `v − ḡ²` instead of `v`; default false.
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        Self {
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

impl RmsPropConfig {
    /// torch's checks: eps, momentum, weight_decay and alpha all ≥ 0.
    ///
    /// # Errors
    /// [`OptimizerError::OutOfRange`], naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        check_non_negative("eps", self.eps)?;
        check_non_negative("momentum", self.momentum)?;
        check_non_negative("weight_decay", self.weight_decay)?;
        check_non_negative("alpha", self.alpha)
    }

    /// The bare optimizer, which updates one parameter tensor at a time (Burn's `build`).
    pub fn build(&self) -> RmsProp {
        RmsProp { config: *self }
    }

    /// The optimizer for a whole module (Burn's `init`): [`Self::build`] in a
    /// [`ModuleOptimizer`].
    pub fn init(&self) -> ModuleOptimizer {
        self.build().into()
    }
}

/// The RMSprop optimizer; see the module documentation.
#[derive(Debug, Clone)]
pub struct RmsProp {
    config: RmsPropConfig,
}

/// Per-parameter state of [`RmsProp`], with torch's names.
#[derive(RecordState, Clone)]
pub struct RmsPropState<const D: usize> {
    /// Steps taken.
    pub step: usize,
    /// Running average of squared gradients `v`.
    pub square_avg: Tensor<D>,
    /// Running average of gradients `ḡ`, present when centered.
    pub grad_avg: Option<Tensor<D>>,
    /// Momentum buffer `b`, present when momentum > 0.
    pub momentum_buffer: Option<Tensor<D>>,
}

impl Optimizer for RmsProp {
    type State<const D: usize> = RmsPropState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = &self.config;
        let state = state.unwrap_or_else(|| {
            let zeros = param.zeros_like();
            RmsPropState {
                step: 0,
                square_avg: zeros.clone(),
                grad_avg: c.centered.then(|| zeros.clone()),
                momentum_buffer: (c.momentum > 0.0).then_some(zeros),
            }
        });
        let grad = l2_weight_decay(grad, &param, c.weight_decay);
        let square_avg = ema_product(state.square_avg, grad.clone(), grad.clone(), c.alpha);
        let grad_avg = state
            .grad_avg
            .map(|avg| lerp(avg, grad.clone(), 1.0 - c.alpha));
        let avg = match &grad_avg {
            // `square_avg.addcmul(grad_avg, grad_avg, value=-1)`: v + (−1·ḡ)·ḡ.
            Some(mean) => square_avg.clone().add(mean.clone().neg().mul(mean.clone())),
            None => square_avg.clone(),
        };
        let avg = avg.sqrt().add_scalar(c.eps);
        let (param, momentum_buffer) = match state.momentum_buffer {
            Some(buf) => {
                // `buf.mul_(momentum).addcdiv_(grad, avg)`, then `param.add_(buf, alpha=-lr)`.
                let buf = addcdiv(buf.mul_scalar(c.momentum), grad, avg, 1.0);
                (param.add(buf.clone().mul_scalar(-lr)), Some(buf))
            }
            None => (addcdiv(param, grad, avg, -lr), None),
        };
        let state = RmsPropState {
            step: state.step + 1,
            square_avg,
            grad_avg,
            momentum_buffer,
        };
        (param, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        RmsPropState {
            step: state.step,
            square_avg: state.square_avg.to_device(device),
            grad_avg: state.grad_avg.map(|t| t.to_device(device)),
            momentum_buffer: state.momentum_buffer.map(|t| t.to_device(device)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_regression;

    /// candle-optimisers' PyTorch-checked values (`tests/rmsprop-tests.rs`): default lr 1e-2,
    /// 100 steps; plain, weight_decay 0.4, centered, centered with momentum 0.4, and centered
    /// with momentum 0.4 and weight_decay 0.4.
    #[test]
    fn matches_torch_on_the_regression() {
        let plain = RmsPropConfig::default();
        assert_regression(plain.init(), 1e-2, 100, [1.6650, 0.7867], 1.3012);
        let decayed = RmsPropConfig {
            weight_decay: 0.4,
            ..plain
        };
        assert_regression(decayed.init(), 1e-2, 100, [1.6643, 0.7867], 1.2926);
        let centered = RmsPropConfig {
            centered: true,
            ..plain
        };
        assert_regression(centered.init(), 1e-2, 100, [1.8892, 0.7617], 1.3688);
        let momentum = RmsPropConfig {
            momentum: 0.4,
            ..centered
        };
        assert_regression(momentum.init(), 1e-2, 100, [2.4486, 0.6715], 1.5045);
        let all = RmsPropConfig {
            weight_decay: 0.4,
            ..momentum
        };
        assert_regression(all.init(), 1e-2, 100, [2.4468, 0.6744], 1.4695);
    }

    #[test]
    fn rejects_negative_alpha() {
        let bad = RmsPropConfig {
            alpha: -0.5,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "alpha must be >= 0, got -0.5"
        );
    }
}
