//! Adam and AMSGrad, exactly as `torch.optim.Adam` (PyTorch 2.x, the single-tensor path
//! `_single_tensor_adam`, which CPU training takes).
//!
//! For each parameter `θ` with gradient `g` at step `t` (1-based):
//!
//! ```text
//! g ← g + wd·θ                                  (if weight_decay ≠ 0)
//! m_t = lerp(m, g, 1 − β1)                     (= β1·m + (1 − β1)·g)
//! v_t = β2·v + (1 − β2)·g²
//! amsgrad:  v̂ = max(v̂, v_t), used in place of v_t below
//! θ ← θ − lr/(1 − β1^t) · m_t / (√v_t / √(1 − β2^t) + ε)
//! ```
//!
//! Kingma & Ba 2015 (Adam); Reddi et al. 2018 (AMSGrad).
//!
//! ember computes the update itself rather than through Burn's `Adam`: Burn holds β1, β2 and ε
//! as f32 and evaluates `1 − β2` and the bias corrections in f32 (f32(0.999) makes `1 − β2`
//! 1.3e-5 too small), and folds the bias corrections into the step size and ε. Against torch,
//! which computes these scalars in f64, Burn's Adam drifted: on tests/optim_reference.rs's
//! linear regression the loss differed by up to 3.4e-5 (relative) and the parameters by 5e-7
//! absolute after 3 steps; this implementation stays within 1.4e-6 on that loss.

use burn::optim::{ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::RecordState;
use crate::optim::common::{addcdiv, check_moments, ema_product, l2_weight_decay, lerp};

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

    /// A module optimizer with these settings (no state yet).
    pub fn init(&self) -> ModuleOptimizer {
        Adam { config: *self }.into()
    }
}

/// The Adam optimizer; see the module documentation.
#[derive(Debug, Clone)]
struct Adam {
    config: AdamConfig,
}

/// Per-parameter state of Adam, with torch's names.
#[derive(RecordState, Clone)]
struct AdamState<const D: usize> {
    /// Steps taken, `t`.
    step: usize,
    /// First moment `m_t`, shape of the parameter.
    exp_avg: Tensor<D>,
    /// Second moment `v_t`, shape of the parameter.
    exp_avg_sq: Tensor<D>,
    /// Running maximum of `v_t`, present with `amsgrad`.
    max_exp_avg_sq: Option<Tensor<D>>,
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = &self.config;
        let (step, exp_avg, exp_avg_sq, max_exp_avg_sq) = match state {
            Some(s) => (s.step, s.exp_avg, s.exp_avg_sq, s.max_exp_avg_sq),
            None => {
                let zeros = param.zeros_like();
                let max = c.amsgrad.then(|| zeros.clone());
                (0, zeros.clone(), zeros, max)
            }
        };
        let step = step + 1;
        let grad = l2_weight_decay(grad, &param, c.weight_decay);
        let exp_avg = lerp(exp_avg, grad.clone(), 1.0 - c.beta1);
        let exp_avg_sq = ema_product(exp_avg_sq, grad.clone(), grad, c.beta2);
        let max_exp_avg_sq = max_exp_avg_sq.map(|m| m.max_pair(exp_avg_sq.clone()));

        // Scalars in f64, as torch computes them in Python.
        let t = step as i32;
        let bias_correction1 = 1.0 - c.beta1.powi(t);
        let bias_correction2_sqrt = (1.0 - c.beta2.powi(t)).sqrt();
        let v = max_exp_avg_sq.as_ref().unwrap_or(&exp_avg_sq).clone();
        let denom = v.sqrt().div_scalar(bias_correction2_sqrt).add_scalar(c.eps);
        let param = addcdiv(param, exp_avg.clone(), denom, -lr / bias_correction1);

        let state = AdamState {
            step,
            exp_avg,
            exp_avg_sq,
            max_exp_avg_sq,
        };
        (param, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamState {
            step: state.step,
            exp_avg: state.exp_avg.to_device(device),
            exp_avg_sq: state.exp_avg_sq.to_device(device),
            max_exp_avg_sq: state.max_exp_avg_sq.map(|t| t.to_device(device)),
        }
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
