//! NAdam (Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop), exactly as
//! `torch.optim.NAdam` (PyTorch 2.x, `_single_tensor_nadam`), with its momentum schedule
//! and optional decoupled weight decay (NAdamW):
//!
//! ```text
//! g ← g + wd·θ                       (coupled)   or   θ ← θ·(1 − lr·wd)   (decoupled)
//! μ_t = β1·(1 − ½·0.96^(t·ψ)),  μ_{t+1} likewise        (ψ = momentum_decay)
//! Π_t = Π_{t−1}·μ_t                  (mu_product, kept in f32 as torch keeps its tensor)
//! m ← lerp(m, g, 1 − β1);   v ← β2·v + (1 − β2)·g²
//! d = √(v / (1 − β2^t)) + ε
//! θ ← θ − lr·(1 − μ_t)/(1 − Π_t) · g/d − lr·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/d
//! ```
//!
//! Defaults are torch's: lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0,
//! momentum_decay 4e-3, decoupled_weight_decay false.

use burn::optim::{ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::OptimizerError;
use crate::RecordState;
use crate::common::{
    addcdiv, bias_correction, check_moments, check_non_negative, decoupled_weight_decay,
    ema_product, l2_weight_decay, lerp,
};

/// `torch.optim.NAdam` hyperparameters (lr aside); `Default` gives torch's defaults.
///
/// ```
/// use burn::optim::ModuleOptimizer;
/// use ember_optim::NAdamConfig;
/// let config = NAdamConfig { weight_decay: 1e-2, decoupled_weight_decay: true, ..Default::default() };
/// config.validate().unwrap();
/// let optimizer: ModuleOptimizer = config.init(); // config.build(): the bare optimizer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NAdamConfig {
    /// β1 ∈ [0, 1); default 0.9.
    pub beta1: f64,
    /// β2 ∈ [0, 1); default 0.999.
    pub beta2: f64,
    /// ε ≥ 0 added to the denominator; default 1e-8.
    pub eps: f64,
    /// Weight decay ≥ 0; default 0.
    pub weight_decay: f64,
    /// ψ ≥ 0 of the momentum schedule μ_t = β1·(1 − ½·0.96^(t·ψ)); default 4e-3.
    pub momentum_decay: f64,
    /// Decay the weights by `lr·wd` (AdamW style) instead of adding `wd·θ` to the gradient;
    /// default false.
    pub decoupled_weight_decay: bool,
}

impl Default for NAdamConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
        }
    }
}

impl NAdamConfig {
    /// torch's checks: 0 ≤ eps, 0 ≤ β1 < 1, 0 ≤ β2 < 1, 0 ≤ weight_decay, 0 ≤ momentum_decay.
    ///
    /// # Errors
    /// [`OptimizerError::OutOfRange`], naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        check_moments(self.beta1, self.beta2, self.eps, self.weight_decay)?;
        check_non_negative("momentum_decay", self.momentum_decay)
    }

    /// The bare optimizer, which updates one parameter tensor at a time (Burn's `build`).
    pub fn build(&self) -> NAdam {
        NAdam { config: *self }
    }

    /// The optimizer for a whole module (Burn's `init`): [`Self::build`] in a
    /// [`ModuleOptimizer`].
    pub fn init(&self) -> ModuleOptimizer {
        self.build().into()
    }

    /// The momentum coefficient μ_t, in f64 as Python computes it.
    fn mu(&self, step: usize) -> f64 {
        self.beta1 * (1.0 - 0.5 * 0.96f64.powf(step as f64 * self.momentum_decay))
    }
}

/// The NAdam optimizer; see the module documentation.
#[derive(Debug, Clone)]
pub struct NAdam {
    config: NAdamConfig,
}

/// Per-parameter state of [`NAdam`], with torch's names.
#[derive(RecordState, Clone)]
pub struct NAdamState<const D: usize> {
    /// Steps taken, `t`.
    pub step: usize,
    /// Product of the momentum coefficients Π_t, in f32 like torch's 0-dim state tensor.
    pub mu_product: f32,
    /// First moment `m`.
    pub exp_avg: Tensor<D>,
    /// Second moment `v`.
    pub exp_avg_sq: Tensor<D>,
}

impl Optimizer for NAdam {
    type State<const D: usize> = NAdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = &self.config;
        let (step, mu_product, exp_avg, exp_avg_sq) = match state {
            Some(s) => (s.step, s.mu_product, s.exp_avg, s.exp_avg_sq),
            None => (0, 1.0f32, param.zeros_like(), param.zeros_like()),
        };
        let step = step + 1;
        let bias_correction2 = bias_correction(c.beta2, step);
        let (param, grad) = if c.decoupled_weight_decay {
            (decoupled_weight_decay(param, lr, c.weight_decay), grad)
        } else {
            let grad = l2_weight_decay(grad, &param, c.weight_decay);
            (param, grad)
        };
        let mu = c.mu(step);
        let mu_next = c.mu(step + 1);
        // `mu_product *= mu` on an f32 tensor: the scalar is rounded to f32 first.
        let mu_product = mu_product * mu as f32;

        let exp_avg = lerp(exp_avg, grad.clone(), 1.0 - c.beta1);
        let exp_avg_sq = ema_product(exp_avg_sq, grad.clone(), grad.clone(), c.beta2);
        let denom = exp_avg_sq
            .clone()
            .div_scalar(bias_correction2)
            .sqrt()
            .add_scalar(c.eps);

        let mu_product_next = f64::from(mu_product) * mu_next;
        let grad_step = -lr * (1.0 - mu) / (1.0 - f64::from(mu_product));
        let avg_step = (-lr * mu_next) / (1.0 - mu_product_next);
        let param = addcdiv(param, grad, denom.clone(), grad_step);
        let param = addcdiv(param, exp_avg.clone(), denom, avg_step);

        let state = NAdamState {
            step,
            mu_product,
            exp_avg,
            exp_avg_sq,
        };
        (param, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        NAdamState {
            step: state.step,
            mu_product: state.mu_product,
            exp_avg: state.exp_avg.to_device(device),
            exp_avg_sq: state.exp_avg_sq.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_regression;

    /// candle-optimisers' PyTorch-checked values (`tests/nadam_tests.rs`): default lr 2e-3,
    /// 100 steps; plain, weight_decay 0.6, and weight_decay 0.6 decoupled.
    #[test]
    fn matches_torch_on_the_regression() {
        let plain = NAdamConfig::default();
        assert_regression(plain.init(), 2e-3, 100, [0.1897, 0.1837], 0.1864);
        let decayed = NAdamConfig {
            weight_decay: 0.6,
            ..plain
        };
        assert_regression(decayed.init(), 2e-3, 100, [0.1897, 0.1837], 0.1863);
        let decoupled = NAdamConfig {
            decoupled_weight_decay: true,
            ..decayed
        };
        assert_regression(decoupled.init(), 2e-3, 100, [0.1792, 0.1737], 0.1762);
    }

    /// The momentum schedule by hand: μ_1 = 0.9·(1 − ½·0.96^0.004).
    #[test]
    fn momentum_schedule() {
        let c = NAdamConfig::default();
        let expected = 0.9 * (1.0 - 0.5 * (0.004 * 0.96f64.ln()).exp());
        assert!((c.mu(1) - expected).abs() < 1e-15);
        assert!(c.mu(1000) > c.mu(1), "μ_t grows towards β1");
    }

    #[test]
    fn rejects_negative_momentum_decay() {
        let bad = NAdamConfig {
            momentum_decay: -1.0,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "momentum_decay must be >= 0, got -1"
        );
    }
}
