//! Adam and AMSGrad from Burn (`burn::optim::Adam`), configured with `torch.optim.Adam`'s
//! semantics and defaults.
//!
//! Burn's Adam computes torch's update (with the bias corrections folded into the step size
//! and ε) once its epsilon, 1e-5 by default in Burn, is set to torch's 1e-8, which this
//! configuration does.

use burn::optim::{AdamConfig as BurnAdamConfig, ModuleOptimizer};
use serde::{Deserialize, Serialize};

use crate::optim::common::{burn_weight_decay, check_moments};

/// `torch.optim.Adam` hyperparameters (lr aside): betas (0.9, 0.999), eps 1e-8, weight_decay 0,
/// amsgrad false (Kingma & Ba 2015; AMSGrad: Reddi et al. 2018).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdamConfig {
    /// β1 ∈ [0, 1); default 0.9.
    pub beta1: f64,
    /// β2 ∈ [0, 1); default 0.999.
    pub beta2: f64,
    /// ε ≥ 0; default 1e-8 (torch), not Burn's 1e-5.
    pub eps: f64,
    /// L2 weight decay ≥ 0 added to the gradient; default 0.
    pub weight_decay: f64,
    /// Use the running maximum of the second moment; default false.
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }
}

impl AdamConfig {
    /// torch's checks: 0 ≤ eps, 0 ≤ β1 < 1, 0 ≤ β2 < 1, 0 ≤ weight_decay.
    ///
    /// # Errors
    /// A one-line message naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        check_moments(self.beta1, self.beta2, self.eps, self.weight_decay)
    }

    /// Burn's Adam with these settings.
    pub fn init(&self) -> ModuleOptimizer {
        let config = BurnAdamConfig::new()
            .with_beta_1(self.beta1 as f32)
            .with_beta_2(self.beta2 as f32)
            .with_epsilon(self.eps as f32)
            .with_amsgrad(self.amsgrad);
        config
            .with_weight_decay(burn_weight_decay(self.weight_decay))
            .init()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::run_module_optimizer;

    /// Adam's first step is lr·m̂/(√v̂ + ε) = lr·g/(|g| + ε): with a small gradient (1e-4) the
    /// step tells torch's ε = 1e-8 (a step of 0.9999·lr) from Burn's default 1e-5 (0.909·lr).
    #[test]
    fn first_step_uses_torchs_eps() {
        let out = run_module_optimizer(AdamConfig::default().init(), 0.1, &[0.0], &[&[1e-4]]);
        let expected = -0.1 * 1e-4 / (1e-4 + 1e-8);
        assert!(
            (out[0][0] as f64 - expected).abs() < 1e-6,
            "{out:?} vs {expected}"
        );
    }

    /// Later steps with a constant gradient keep m̂ = g and v̂ = g², so every step is lr (for
    /// |g| ≫ ε): θ = −0.1, −0.2, −0.3.
    #[test]
    fn constant_gradient_moves_lr_per_step() {
        let g: &[f32] = &[0.5];
        let out = run_module_optimizer(AdamConfig::default().init(), 0.1, &[0.0], &[g; 3]);
        for (got, want) in out.iter().zip([-0.1, -0.2, -0.3]) {
            assert!((got[0] - want).abs() < 1e-5, "{out:?}");
        }
    }
}
