//! Adamax, the infinity-norm variant of Adam (Kingma & Ba, "Adam: A Method for Stochastic
//! Optimization", ICLR 2015, section 7.1), exactly as `torch.optim.Adamax` (PyTorch 2.x,
//! `_single_tensor_adamax`):
//!
//! ```text
//! g ← g + wd·θ                              (if weight_decay ≠ 0)
//! m ← lerp(m, g, 1 − β1)
//! u ← max(β2·u, |g| + ε)                    (exp_inf)
//! θ ← θ − lr/(1 − β1^t) · m / u
//! ```
//!
//! Defaults are torch's: lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.

use burn::optim::{ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::OptimizerError;
use crate::RecordState;
use crate::common::{addcdiv, bias_correction, check_moments, l2_weight_decay, lerp};

/// `torch.optim.Adamax` hyperparameters (lr aside); `Default` gives torch's defaults.
///
/// ```
/// use burn::optim::ModuleOptimizer;
/// use ember_optim::AdamaxConfig;
/// let config = AdamaxConfig { beta2: 0.99, ..Default::default() };
/// config.validate().unwrap();
/// let optimizer: ModuleOptimizer = config.init(); // config.build(): the bare optimizer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamaxConfig {
    /// β1 ∈ [0, 1); default 0.9.
    pub beta1: f64,
    /// Decay β2 ∈ [0, 1) of the infinity norm; default 0.999.
    pub beta2: f64,
    /// ε ≥ 0 added to |g| inside the maximum; default 1e-8.
    pub eps: f64,
    /// L2 weight decay ≥ 0 added to the gradient; default 0.
    pub weight_decay: f64,
}

impl Default for AdamaxConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl AdamaxConfig {
    /// torch's checks: 0 ≤ eps, 0 ≤ β1 < 1, 0 ≤ β2 < 1, 0 ≤ weight_decay.
    ///
    /// # Errors
    /// [`OptimizerError::OutOfRange`], naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        check_moments(self.beta1, self.beta2, self.eps, self.weight_decay)
    }

    /// The bare optimizer, which updates one parameter tensor at a time (Burn's `build`).
    pub fn build(&self) -> Adamax {
        Adamax { config: *self }
    }

    /// The optimizer for a whole module (Burn's `init`): [`Self::build`] in a
    /// [`ModuleOptimizer`].
    pub fn init(&self) -> ModuleOptimizer {
        self.build().into()
    }
}

/// The Adamax optimizer; see the module documentation.
#[derive(Debug, Clone)]
pub struct Adamax {
    config: AdamaxConfig,
}

/// Per-parameter state of [`Adamax`], with torch's names.
#[derive(RecordState, Clone)]
pub struct AdamaxState<const D: usize> {
    /// Steps taken, `t`.
    pub step: usize,
    /// First moment `m`.
    pub exp_avg: Tensor<D>,
    /// Exponentially weighted infinity norm `u`.
    pub exp_inf: Tensor<D>,
}

impl Optimizer for Adamax {
    type State<const D: usize> = AdamaxState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = &self.config;
        let (step, exp_avg, exp_inf) = match state {
            Some(s) => (s.step, s.exp_avg, s.exp_inf),
            None => (0, param.zeros_like(), param.zeros_like()),
        };
        let step = step + 1;
        let grad = l2_weight_decay(grad, &param, c.weight_decay);
        let exp_avg = lerp(exp_avg, grad.clone(), 1.0 - c.beta1);
        let exp_inf = exp_inf
            .mul_scalar(c.beta2)
            .max_pair(grad.abs().add_scalar(c.eps));
        let clr = lr / bias_correction(c.beta1, step);
        let param = addcdiv(param, exp_avg.clone(), exp_inf.clone(), -clr);
        let state = AdamaxState {
            step,
            exp_avg,
            exp_inf,
        };
        (param, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamaxState {
            step: state.step,
            exp_avg: state.exp_avg.to_device(device),
            exp_inf: state.exp_inf.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_regression;

    /// candle-optimisers' PyTorch-checked values (`tests/adamax_tests.rs`): lr 0.004, 100
    /// steps, without and with weight_decay 0.6.
    #[test]
    fn matches_torch_on_the_regression() {
        let plain = AdamaxConfig::default();
        assert_regression(plain.init(), 0.004, 100, [0.3895, 0.3450], 0.3643);
        let decayed = AdamaxConfig {
            weight_decay: 0.6,
            ..plain
        };
        assert_regression(decayed.init(), 0.004, 100, [0.3894, 0.3450], 0.3639);
    }

    #[test]
    fn rejects_negative_eps() {
        let bad = AdamaxConfig {
            eps: -1e-8,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "eps must be >= 0, got -0.00000001"
        );
    }
}
