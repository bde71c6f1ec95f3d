//! Adagrad (Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and
//! Stochastic Optimization", JMLR 2011), exactly as `torch.optim.Adagrad` (PyTorch 2.x,
//! `_single_tensor_adagrad`, dense gradients):
//!
//! ```text
//! g ← g + wd·θ                              (if weight_decay ≠ 0)
//! lr_t = lr / (1 + (t − 1)·lr_decay)        (t = 1, 2, ...)
//! s ← s + g·g                               (s starts at initial_accumulator_value)
//! θ ← θ − lr_t · g / (√s + ε)
//! ```
//!
//! Defaults are torch's: lr 1e-2, lr_decay 0, weight_decay 0, initial_accumulator_value 0,
//! eps 1e-10.

use burn::optim::{ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::OptimizerError;
use crate::RecordState;
use crate::common::{addcdiv, check_non_negative, l2_weight_decay};

/// `torch.optim.Adagrad` hyperparameters (lr aside); `Default` gives torch's defaults.
///
/// ```
/// use burn::optim::ModuleOptimizer;
/// use ember_optim::AdagradConfig;
/// let config = AdagradConfig { lr_decay: 1e-4, ..Default::default() };
/// config.validate().unwrap();
/// let optimizer: ModuleOptimizer = config.init(); // config.build(): the bare optimizer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdagradConfig {
    /// Learning-rate decay ≥ 0: step `t` uses `lr / (1 + (t − 1)·lr_decay)`; default 0.
    pub lr_decay: f64,
    /// L2 weight decay ≥ 0 added to the gradient; default 0.
    pub weight_decay: f64,
    /// Starting value ≥ 0 of the sum of squared gradients; default 0.
    pub initial_accumulator_value: f64,
    /// ε ≥ 0 added to the denominator; default 1e-10.
    pub eps: f64,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        Self {
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

impl AdagradConfig {
    /// torch's checks: lr_decay, weight_decay, initial_accumulator_value and eps all ≥ 0.
    ///
    /// # Errors
    /// [`OptimizerError::OutOfRange`], naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        check_non_negative("lr_decay", self.lr_decay)?;
        check_non_negative("weight_decay", self.weight_decay)?;
        check_non_negative("initial_accumulator_value", self.initial_accumulator_value)?;
        check_non_negative("eps", self.eps)
    }

    /// The bare optimizer, which updates one parameter tensor at a time (Burn's `build`).
    pub fn build(&self) -> Adagrad {
        Adagrad { config: *self }
    }

    /// The optimizer for a whole module (Burn's `init`): [`Self::build`] in a
    /// [`ModuleOptimizer`].
    pub fn init(&self) -> ModuleOptimizer {
        self.build().into()
    }
}

/// The Adagrad optimizer; see the module documentation.
#[derive(Debug, Clone)]
pub struct Adagrad {
    config: AdagradConfig,
}

/// Per-parameter state of [`Adagrad`], with torch's names.
#[derive(RecordState, Clone)]
pub struct AdagradState<const D: usize> {
    /// Steps taken, `t`.
    pub step: usize,
    /// Sum of squared gradients `s`, shape of the parameter.
    pub sum: Tensor<D>,
}

impl Optimizer for Adagrad {
    type State<const D: usize> = AdagradState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = &self.config;
        let (step, sum) = match state {
            Some(s) => (s.step, s.sum),
            None => (0, param.full_like(c.initial_accumulator_value)),
        };
        let step = step + 1;
        let grad = l2_weight_decay(grad, &param, c.weight_decay);
        let clr = lr / (1.0 + (step - 1) as f64 * c.lr_decay);
        // `state_sum.addcmul_(grad, grad, value=1)`: s + 1·g·g.
        let sum = sum.add(grad.clone().mul(grad.clone()));
        let std = sum.clone().sqrt().add_scalar(c.eps);
        let param = addcdiv(param, grad, std, -clr);
        (param, Some(AdagradState { step, sum }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdagradState {
            step: state.step,
            sum: state.sum.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_regression, run_gradient_sequence};

    /// candle-optimisers' PyTorch-checked values (`tests/adagrad_tests.rs`): lr 0.004, 1000
    /// steps; plain, lr_decay 0.2, weight_decay 0.2.
    #[test]
    fn matches_torch_on_the_regression() {
        let plain = AdagradConfig::default();
        assert_regression(plain.init(), 0.004, 1000, [0.2424, 0.2341], 0.2379);
        let decayed_lr = AdagradConfig {
            lr_decay: 0.2,
            ..plain
        };
        assert_regression(decayed_lr.init(), 0.004, 1000, [0.0231, 0.0230], 0.0230);
        let decayed = AdagradConfig {
            weight_decay: 0.2,
            ..plain
        };
        assert_regression(decayed.init(), 0.004, 1000, [0.2424, 0.2341], 0.2378);
    }

    /// By hand, initial_accumulator_value 1, lr 0.5, lr_decay 1, g = 1 then 2:
    /// s = 2, θ = −0.5/√2;  s = 6, lr_2 = 0.25, θ −= 0.25·2/√6.
    #[test]
    fn accumulator_start_and_lr_decay() {
        let config = AdagradConfig {
            initial_accumulator_value: 1.0,
            lr_decay: 1.0,
            ..Default::default()
        };
        let out = run_gradient_sequence(config.build(), 0.5, &[0.0], &[&[1.0], &[2.0]]);
        let first = -0.5 / 2f64.sqrt();
        let second = first - 0.25 * 2.0 / 6f64.sqrt();
        assert!((out[0][0] as f64 - first).abs() < 1e-6, "{out:?}");
        assert!((out[1][0] as f64 - second).abs() < 1e-6, "{out:?}");
    }

    #[test]
    fn rejects_negative_initial_accumulator_value() {
        let bad = AdagradConfig {
            initial_accumulator_value: -1.0,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "initial_accumulator_value must be >= 0, got -1"
        );
    }
}
