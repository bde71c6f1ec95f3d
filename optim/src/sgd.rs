//! SGD from Burn (`burn::optim::Sgd`), configured with `torch.optim.SGD`'s semantics and
//! defaults.
//!
//! Burn's SGD computes torch's update once its momentum dampening, 0.1 by default in Burn, is
//! set to torch's 0, which this configuration does.

use burn::optim::momentum::MomentumConfig;
use burn::optim::{ModuleOptimizer, Sgd, SgdConfig as BurnSgdConfig};
use serde::{Deserialize, Serialize};

use crate::OptimizerError;
use crate::common::{burn_weight_decay, check, check_non_negative};

/// `torch.optim.SGD` hyperparameters (lr aside): momentum 0, dampening 0, nesterov false,
/// weight_decay 0 by default.
///
/// ```text
/// g ← g + wd·θ;   b ← μ·b + (1 − dampening)·g  (b = g at the first step, undampened);
/// g ← g + μ·b if nesterov else b;   θ ← θ − lr·g
/// ```
///
/// ```
/// use ember_optim::SgdConfig;
/// let config = SgdConfig { momentum: 0.9, nesterov: true, ..Default::default() };
/// config.validate().unwrap();
/// let optimizer = config.init(); // a burn::optim::ModuleOptimizer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    /// Momentum factor μ ≥ 0; default 0 (plain SGD).
    pub momentum: f64,
    /// Dampening of the momentum update; default 0.
    pub dampening: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0); default false.
    pub nesterov: bool,
    /// L2 weight decay ≥ 0; default 0.
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl SgdConfig {
    /// torch's checks: momentum ≥ 0, weight_decay ≥ 0, nesterov only with momentum and no
    /// dampening.
    ///
    /// # Errors
    /// [`OptimizerError::OutOfRange`], naming the parameter.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        check_non_negative("momentum", self.momentum)?;
        check_non_negative("weight_decay", self.weight_decay)?;
        check(
            !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0),
            "nesterov",
            format!(
                "momentum {} and dampening {}",
                self.momentum, self.dampening
            ),
            "be used with momentum > 0 and dampening 0",
        )
    }

    /// Burn's SGD optimizer with these settings, for one parameter tensor at a time (Burn's
    /// `build`).
    pub fn build(&self) -> Sgd {
        self.burn_config().build()
    }

    /// Burn's SGD for a whole module (Burn's `init`).
    pub fn init(&self) -> ModuleOptimizer {
        self.burn_config().init()
    }

    /// The same settings as Burn's own configuration.
    pub fn burn_config(&self) -> BurnSgdConfig {
        let mut config = BurnSgdConfig::new();
        if self.momentum > 0.0 {
            config = config.with_momentum(Some(MomentumConfig {
                momentum: self.momentum,
                dampening: self.dampening,
                nesterov: self.nesterov,
            }));
        }
        config.with_weight_decay(burn_weight_decay(self.weight_decay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_module_optimizer;

    fn assert_trajectory(config: SgdConfig, init: f32, grads: &[f32], expected: &[f32]) {
        let grads: Vec<&[f32]> = grads.iter().map(std::slice::from_ref).collect();
        let out = run_module_optimizer(config.init(), 0.1, &[init], &grads);
        for (got, want) in out.iter().zip(expected) {
            assert!((got[0] - want).abs() < 1e-6, "{out:?} vs {expected:?}");
        }
    }

    /// torch's heavy-ball momentum, lr 0.1, μ 0.9, g = 1: b = 1, 1.9, 2.71 (no dampening, b = g
    /// at the first step), θ = −0.1, −0.29, −0.561.
    #[test]
    fn momentum_follows_torch() {
        let config = SgdConfig {
            momentum: 0.9,
            ..Default::default()
        };
        assert_trajectory(config, 0.0, &[1.0; 3], &[-0.1, -0.29, -0.561]);
    }

    /// Nesterov: the step uses g + μ·b: 1.9, 2.71, 3.439, so θ = −0.19, −0.461, −0.8049.
    #[test]
    fn nesterov_follows_torch() {
        let config = SgdConfig {
            momentum: 0.9,
            nesterov: true,
            ..Default::default()
        };
        assert_trajectory(config, 0.0, &[1.0; 3], &[-0.19, -0.461, -0.8049]);
    }

    /// L2 weight decay with a zero gradient: θ ← θ − lr·wd·θ, so 0.99 then 0.9801.
    #[test]
    fn weight_decay_follows_torch() {
        let config = SgdConfig {
            weight_decay: 0.1,
            ..Default::default()
        };
        assert_trajectory(config, 1.0, &[0.0; 2], &[0.99, 0.9801]);
    }

    /// Dampening scales the gradient's share from the second step on (torch starts the
    /// buffer at g, undampened): μ 0.9, dampening 0.5, g = 1: b = 1, 1.4, 1.76, so with lr 0.1
    /// θ = −0.1, −0.24, −0.416.
    #[test]
    fn dampening_follows_torch() {
        let config = SgdConfig {
            momentum: 0.9,
            dampening: 0.5,
            ..Default::default()
        };
        assert_trajectory(config, 0.0, &[1.0; 3], &[-0.1, -0.24, -0.416]);
    }

    #[test]
    fn nesterov_needs_momentum_and_no_dampening() {
        let bad = SgdConfig {
            nesterov: true,
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .starts_with("nesterov must be used with momentum > 0")
        );
        let dampened = SgdConfig {
            nesterov: true,
            momentum: 0.9,
            dampening: 0.1,
            ..Default::default()
        };
        assert!(dampened.validate().is_err());
        let fine = SgdConfig {
            dampening: 0.0,
            ..dampened
        };
        assert!(fine.validate().is_ok());
    }
}
