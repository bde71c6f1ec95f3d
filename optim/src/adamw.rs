//! AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019), exactly
//! as `torch.optim.AdamW` (PyTorch 2.x): Adam's update ([`crate::Adam`]) with the
//! weights decayed by `θ ← θ·(1 − lr·wd)` before the step instead of `wd·θ` added to the
//! gradient.
//!
//! Defaults are torch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2,
//! amsgrad false.

use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use crate::OptimizerError;
use crate::adam::{Adam, AdamConfig};

/// `torch.optim.AdamW` hyperparameters (lr aside); `Default` gives torch's defaults.
///
/// ```
/// use burn::optim::ModuleOptimizer;
/// use ember_optim::AdamWConfig;
/// let config = AdamWConfig { weight_decay: 0.05, ..Default::default() };
/// config.validate().unwrap();
/// let optimizer: ModuleOptimizer = config.init(); // config.build(): the bare optimizer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// β1 ∈ [0, 1); default 0.9.
    pub beta1: f64,
    /// β2 ∈ [0, 1); default 0.999.
    pub beta2: f64,
    /// ε ≥ 0 added to the denominator; default 1e-8.
    pub eps: f64,
    /// Decoupled weight decay ≥ 0 (per unit of learning rate); default 1e-2.
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad); default false.
    pub amsgrad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
        }
    }
}

impl AdamWConfig {
    fn adam(&self) -> AdamConfig {
        AdamConfig {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            amsgrad: self.amsgrad,
        }
    }

    /// torch's checks: 0 ≤ eps, 0 ≤ β1 < 1, 0 ≤ β2 < 1, 0 ≤ weight_decay.
    ///
    /// # Errors
    /// [`OptimizerError::OutOfRange`], naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        self.adam().validate()
    }

    /// The bare optimizer, which updates one parameter tensor at a time (Burn's `build`).
    pub fn build(&self) -> Adam {
        Adam {
            config: self.adam(),
            decoupled_weight_decay: true,
        }
    }

    /// The optimizer for a whole module (Burn's `init`): [`Self::build`] in a
    /// [`ModuleOptimizer`].
    pub fn init(&self) -> ModuleOptimizer {
        self.build().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_regression, run_gradient_sequence};

    /// With a zero gradient Adam's step is 0 (m = 0), so only the decay acts:
    /// θ ← θ·(1 − lr·wd) = 2·(1 − 0.1·0.5) = 1.9, then 1.805.
    #[test]
    fn decay_is_decoupled_from_the_gradient() {
        let config = AdamWConfig {
            weight_decay: 0.5,
            ..Default::default()
        };
        let out = run_gradient_sequence(config.build(), 0.1, &[2.0], &[&[0.0], &[0.0]]);
        assert!((out[0][0] - 1.9).abs() < 1e-6, "{out:?}");
        assert!((out[1][0] - 1.805).abs() < 1e-6, "{out:?}");
    }

    /// candle-optimisers' PyTorch-checked values (`tests/adam_tests.rs`,
    /// `optim.AdamW(weight_decay=0.6)`, with and without amsgrad), 1000 steps at lr 1e-3.
    #[test]
    fn matches_torch_on_the_regression() {
        let config = AdamWConfig {
            weight_decay: 0.6,
            ..Default::default()
        };
        assert_regression(config.init(), 1e-3, 1000, [0.6901, 0.5677], 0.6287);
        let amsgrad = AdamWConfig {
            amsgrad: true,
            ..config
        };
        assert_regression(amsgrad.init(), 1e-3, 1000, [0.6901, 0.5648], 0.6287);
    }
}
