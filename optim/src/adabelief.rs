//! AdaBelief (Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
//! Gradients", NeurIPS 2020), exactly as the reference implementation adabelief-pytorch 0.2.1
//! (`adabelief_pytorch/AdaBelief.py`).
//!
//! For each parameter `θ` with gradient `g` at step `t` (1-based):
//!
//! ```text
//! weight decay   decoupled (default): θ ← θ·(1 − lr·wd)   (fixed_decay: θ ← θ·(1 − wd))
//!                coupled:             g ← g + wd·θ
//! m_t = β1·m + (1 − β1)·g
//! s_t = β2·s + (1 − β2)·(g − m_t)² + ε          (ε is added into the state, as the reference does)
//! amsgrad:   ŝ_t = max(ŝ, s_t), used in place of s_t in the plain update's denominator
//! plain:     θ ← θ − lr/(1 − β1^t) · m_t / (√s_t / √(1 − β2^t) + ε)
//! rectify (RAdam, Liu et al. 2020), with ρ∞ = 2/(1 − β2) − 1 and ρ_t = ρ∞ − 2t·β2^t/(1 − β2^t):
//!   ρ_t ≥ 5:   r_t = √((1 − β2^t)(ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t)) / (1 − β1^t)
//!              θ ← θ − lr·r_t · m_t / (√s_t + ε)
//!   ρ_t < 5:   degenerated_to_sgd: θ ← θ − lr/(1 − β1^t) · m_t;   otherwise no update
//! ```
//!
//! Defaults are the reference's: lr 1e-3, betas (0.9, 0.999), eps 1e-16, weight_decay 0,
//! weight_decouple true, fixed_decay false, rectify true, degenerated_to_sgd true, amsgrad false.
//! `eps` matters: the reference recommends 1e-16 (its default since 0.1.0, suited to image
//! classification where SGD does well) and 1e-8 where Adam does better (transformers, GANs); the
//! two give visibly different training curves because ε sits inside `s_t`.

use burn::optim::{ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::OptimizerError;
use crate::RecordState;
use crate::common::{addcdiv, bias_correction, check_moments, ema, ema_product, l2_weight_decay};

/// Hyperparameters of [`AdaBelief`]; `Default` gives the reference's defaults.
///
/// ```
/// use burn::optim::ModuleOptimizer;
/// use ember_optim::AdaBeliefConfig;
/// let config = AdaBeliefConfig { eps: 1e-8, ..Default::default() };
/// config.validate().unwrap();
/// let optimizer: ModuleOptimizer = config.init(); // config.build(): the bare optimizer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaBeliefConfig {
    /// Decay of the first moment, β1 ∈ [0, 1); default 0.9.
    pub beta1: f64,
    /// Decay of the second moment ("belief"), β2 ∈ [0, 1); default 0.999.
    pub beta2: f64,
    /// ε ≥ 0, added inside `s_t` and to the denominator; default 1e-16.
    pub eps: f64,
    /// Weight decay ≥ 0; default 0.
    pub weight_decay: f64,
    /// Decoupled weight decay (AdamW style) instead of L2 on the gradient; default true.
    pub weight_decouple: bool,
    /// With decoupled decay, decay by `wd` instead of `lr·wd`; default false.
    pub fixed_decay: bool,
    /// Use the running maximum of `s_t` (AMSGrad); default false.
    pub amsgrad: bool,
    /// RAdam-style rectification of the step size; default true.
    pub rectify: bool,
    /// With `rectify`, take SGD-with-momentum steps while ρ_t < 5; default true.
    pub degenerated_to_sgd: bool,
}

impl Default for AdaBeliefConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-16,
            weight_decay: 0.0,
            weight_decouple: true,
            fixed_decay: false,
            amsgrad: false,
            rectify: true,
            degenerated_to_sgd: true,
        }
    }
}

impl AdaBeliefConfig {
    /// The reference's checks: 0 ≤ eps, 0 ≤ β1 < 1, 0 ≤ β2 < 1 (and 0 ≤ weight_decay).
    ///
    /// # Errors
    /// [`OptimizerError::OutOfRange`], naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        check_moments(self.beta1, self.beta2, self.eps, self.weight_decay)
    }

    /// The bare optimizer, which updates one parameter tensor at a time (Burn's `build`).
    pub fn build(&self) -> AdaBelief {
        AdaBelief { config: *self }
    }

    /// The optimizer for a whole module (Burn's `init`): [`Self::build`] in a
    /// [`ModuleOptimizer`].
    pub fn init(&self) -> ModuleOptimizer {
        self.build().into()
    }
}

/// The AdaBelief optimizer; see the module documentation for the update.
#[derive(Debug, Clone)]
pub struct AdaBelief {
    config: AdaBeliefConfig,
}

/// Per-parameter state of [`AdaBelief`], with the reference's names.
#[derive(RecordState, Clone)]
pub struct AdaBeliefState<const D: usize> {
    /// Steps taken, `t`.
    pub step: usize,
    /// First moment `m_t`, shape of the parameter.
    pub exp_avg: Tensor<D>,
    /// Second moment of the residual `s_t` (ε included), shape of the parameter.
    pub exp_avg_var: Tensor<D>,
    /// Running maximum of `s_t`, present with `amsgrad`.
    pub max_exp_avg_var: Option<Tensor<D>>,
}

impl Optimizer for AdaBelief {
    type State<const D: usize> = AdaBeliefState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = &self.config;
        let (step, exp_avg, exp_avg_var, max_exp_avg_var) = match state {
            Some(s) => (s.step, s.exp_avg, s.exp_avg_var, s.max_exp_avg_var),
            None => {
                let zeros = param.zeros_like();
                let max = c.amsgrad.then(|| zeros.clone());
                (0, zeros.clone(), zeros, max)
            }
        };

        let (param, grad) = if c.weight_decouple {
            let factor = if c.fixed_decay {
                1.0 - c.weight_decay
            } else {
                1.0 - lr * c.weight_decay
            };
            // θ·1.0 is θ: skip the multiplication rather than spend a kernel on it.
            let param = if factor == 1.0 {
                param
            } else {
                param.mul_scalar(factor)
            };
            (param, grad)
        } else {
            let grad = l2_weight_decay(grad, &param, c.weight_decay);
            (param, grad)
        };

        let step = step + 1;
        let bias_correction1 = bias_correction(c.beta1, step);
        let bias_correction2 = bias_correction(c.beta2, step);

        let exp_avg = ema(exp_avg, grad.clone(), c.beta1);
        let residual = grad.sub(exp_avg.clone());
        let exp_avg_var =
            ema_product(exp_avg_var, residual.clone(), residual, c.beta2).add_scalar(c.eps);
        let max_exp_avg_var = max_exp_avg_var.map(|m| m.max_pair(exp_avg_var.clone()));

        let param = if !c.rectify {
            let s = max_exp_avg_var.as_ref().unwrap_or(&exp_avg_var).clone();
            let denom = s
                .sqrt()
                .div_scalar(bias_correction2.sqrt())
                .add_scalar(c.eps);
            addcdiv(param, exp_avg.clone(), denom, -lr / bias_correction1)
        } else {
            let (rho_t, step_size) = rectification(c, step);
            if rho_t >= 5.0 {
                // The reference uses `exp_avg_var` here even with amsgrad.
                let denom = exp_avg_var.clone().sqrt().add_scalar(c.eps);
                addcdiv(param, exp_avg.clone(), denom, -step_size * lr)
            } else if step_size > 0.0 {
                param.add(exp_avg.clone().mul_scalar(-step_size * lr))
            } else {
                param
            }
        };

        let state = AdaBeliefState {
            step,
            exp_avg,
            exp_avg_var,
            max_exp_avg_var,
        };
        (param, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdaBeliefState {
            step: state.step,
            exp_avg: state.exp_avg.to_device(device),
            exp_avg_var: state.exp_avg_var.to_device(device),
            max_exp_avg_var: state.max_exp_avg_var.map(|t| t.to_device(device)),
        }
    }
}

/// RAdam's length of the approximated SMA, ρ_t, and the rectified step size at `step`
/// (-1 when the reference takes no step), computed in f64 as the reference does.
fn rectification(c: &AdaBeliefConfig, step: usize) -> (f64, f64) {
    // Python's `beta2 ** step`: C pow, like `bias_correction`.
    let beta2_t = c.beta2.powf(step as f64);
    let rho_inf = 2.0 / (1.0 - c.beta2) - 1.0;
    let rho_t = rho_inf - 2.0 * step as f64 * beta2_t / (1.0 - beta2_t);
    let bias_correction1 = bias_correction(c.beta1, step);
    let step_size = if rho_t >= 5.0 {
        ((1.0 - beta2_t) * (rho_t - 4.0) / (rho_inf - 4.0) * (rho_t - 2.0) / rho_t * rho_inf
            / (rho_inf - 2.0))
            .sqrt()
            / bias_correction1
    } else if c.degenerated_to_sgd {
        1.0 / bias_correction1
    } else {
        -1.0
    };
    (rho_t, step_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_constant_gradients;

    /// TensorFlow Addons' AdaBelief test (`test_dense_sample`, the values adabelief-tf checks
    /// against): variables [1, 2] and [3, 4], constant gradients [0.1, 0.2] and [0.03, 0.04],
    /// lr 1e-3, eps 1e-14, no rectification, 100 steps.
    #[test]
    fn matches_the_published_tfa_values() {
        let config = AdaBeliefConfig {
            eps: 1e-14,
            rectify: false,
            ..Default::default()
        };
        let out = run_constant_gradients(
            config.build(),
            1e-3,
            &[(&[1.0, 2.0], &[0.1, 0.2]), (&[3.0, 4.0], &[0.03, 0.04])],
            100,
        );
        let expected = [[0.66723955, 1.6672393], [2.6672382, 3.6672382]];
        for (got, want) in out.iter().zip(expected) {
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() <= 1e-6 * w.abs(), "{got:?} vs {want:?}");
            }
        }
    }

    /// The rectification schedule: for β2 = 0.999, ρ_t = 4.996 at step 5 and 5.994 at step 6
    /// (ρ_t ≈ t − small), so steps 1-5 are SGD-with-momentum steps of size lr/(1 − β1^t) and
    /// rectified steps start at step 6.
    #[test]
    fn rectification_switches_on_at_step_six() {
        let c = AdaBeliefConfig::default();
        let (rho5, s5) = rectification(&c, 5);
        let (rho6, s6) = rectification(&c, 6);
        assert!((rho5 - 4.995998000395048).abs() < 1e-9, "{rho5}");
        assert!((rho6 - 5.994163751655833).abs() < 1e-9, "{rho6}");
        assert!((s5 - 1.0 / (1.0 - 0.9f64.powi(5))).abs() < 1e-12);
        assert!(s6 > 0.0 && s6 < 1.0, "{s6}");
        let no_sgd = AdaBeliefConfig {
            degenerated_to_sgd: false,
            ..c
        };
        assert_eq!(rectification(&no_sgd, 5).1, -1.0);
    }

    /// One rectified warm-up step by hand: m_1 = 0.1·g, θ ← θ − lr·m_1/(1 − 0.9).
    #[test]
    fn first_rectified_step_is_an_sgd_step() {
        let out = run_constant_gradients(
            AdaBeliefConfig::default().build(),
            0.1,
            &[(&[1.0, -2.0], &[0.5, -0.25])],
            1,
        );
        let expected = [1.0 - 0.1 * 0.5, -2.0 + 0.1 * 0.25];
        for (g, w) in out[0].iter().zip(expected) {
            assert!((g - w).abs() < 1e-6, "{:?}", out[0]);
        }
    }

    #[test]
    fn rejects_out_of_range_betas() {
        let bad = AdaBeliefConfig {
            beta1: 1.0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("beta1"));
    }
}
