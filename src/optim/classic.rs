//! SGD and Adam from Burn (`burn::optim`), configured with PyTorch's semantics and defaults.
//!
//! Burn's built-ins compute the same updates as torch.optim once two defaults are aligned:
//! Burn's momentum dampening defaults to 0.1 (torch: 0) and Burn's Adam epsilon to 1e-5
//! (torch: 1e-8). Both are set to torch's values here.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig as BurnAdamConfig, ModuleOptimizer, SgdConfig as BurnSgdConfig};
use serde::{Deserialize, Serialize};

use crate::optim::common::{check, check_moments};

/// `torch.optim.SGD` hyperparameters (lr aside): momentum 0, dampening 0, nesterov false,
/// weight_decay 0 by default.
///
/// ```text
/// g ← g + wd·θ;   b ← μ·b + (1 − dampening)·g  (b = g at the first step);
/// g ← g + μ·b if nesterov else b;   θ ← θ − lr·g
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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
    /// A one-line message naming the parameter.
    pub fn validate(&self) -> Result<(), String> {
        check(self.momentum >= 0.0, "momentum", self.momentum, ">= 0")?;
        check(
            self.weight_decay >= 0.0,
            "weight_decay",
            self.weight_decay,
            ">= 0",
        )?;
        check(
            !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0),
            "nesterov",
            self.nesterov,
            "used with momentum > 0 and dampening 0",
        )
    }

    /// Burn's SGD with these settings.
    pub fn init(&self) -> ModuleOptimizer {
        let mut config = BurnSgdConfig::new();
        if self.momentum > 0.0 {
            config = config.with_momentum(Some(MomentumConfig {
                momentum: self.momentum,
                dampening: self.dampening,
                nesterov: self.nesterov,
            }));
        }
        if self.weight_decay > 0.0 {
            config = config.with_weight_decay(Some(WeightDecayConfig {
                penalty: self.weight_decay as f32,
            }));
        }
        config.init()
    }
}

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
        let mut config = BurnAdamConfig::new()
            .with_beta_1(self.beta1 as f32)
            .with_beta_2(self.beta2 as f32)
            .with_epsilon(self.eps as f32)
            .with_amsgrad(self.amsgrad);
        if self.weight_decay > 0.0 {
            config = config.with_weight_decay(Some(WeightDecayConfig {
                penalty: self.weight_decay as f32,
            }));
        }
        config.init()
    }
}
