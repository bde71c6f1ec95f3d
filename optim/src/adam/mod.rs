//! Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015) and AMSGrad
//! (Reddi et al., "On the Convergence of Adam and Beyond", ICLR 2018), exactly as
//! `torch.optim.Adam` (PyTorch 2.x, `_single_tensor_adam`). The same update with decoupled
//! weight decay is AdamW ([`crate::AdamWConfig`]), as in PyTorch.
//!
//! For each parameter `θ` with gradient `g` at step `t` (1-based):
//!
//! ```text
//! Adam:   g ← g + wd·θ                    AdamW:  θ ← θ·(1 − lr·wd)
//! m ← lerp(m, g, 1 − β1)                  (= β1·m + (1 − β1)·g)
//! v ← β2·v + (1 − β2)·g²
//! amsgrad: v̂ ← max(v̂, v), used in place of v below
//! θ ← θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)
//! ```
//!
//! Defaults are torch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, amsgrad false.
//! (Burn's own `AdamConfig` defaults to ε = 1e-5 and folds the bias corrections into f32
//! scalars, which is why ember computes the update itself.)
//!
//! On flex and ndarray (f32) the update is one fused pass per tensor, written into the moments'
//! own buffers (`fused.rs`, a Burn backend extension; half the time of Burn's Adam step on LeNet's
//! parameters, BENCHMARKS.md); elsewhere it is written with tensor ops (`tensor_ops_step`). Both
//! perform the same f32 operations and give the same bits (tested).

use burn::optim::{ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

// The kernel implements ndarray, one of ember's backends, which Burn deprecates in favour of flex;
// `backend_extension`'s generated dispatch names it, so the allowance is per module.
#[allow(deprecated)]
mod fused;

use crate::OptimizerError;
use crate::RecordState;
use crate::common::{
    addcdiv, bias_correction, check_moments, decoupled_weight_decay, ema_product, l2_weight_decay,
    lerp,
};

/// `torch.optim.Adam` hyperparameters (lr aside); `Default` gives torch's defaults.
///
/// ```
/// use burn::optim::ModuleOptimizer;
/// use ember_optim::AdamConfig;
/// let config = AdamConfig { amsgrad: true, ..Default::default() };
/// config.validate().unwrap();
/// let optimizer: ModuleOptimizer = config.init(); // config.build(): the bare optimizer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    /// β1 ∈ [0, 1); default 0.9.
    pub beta1: f64,
    /// β2 ∈ [0, 1); default 0.999.
    pub beta2: f64,
    /// ε ≥ 0 added to the denominator; default 1e-8 (torch), not Burn's 1e-5.
    pub eps: f64,
    /// L2 weight decay ≥ 0 added to the gradient; default 0.
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (AMSGrad); default false.
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
    /// [`OptimizerError::OutOfRange`], naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        check_moments(self.beta1, self.beta2, self.eps, self.weight_decay)
    }

    /// The bare optimizer, which updates one parameter tensor at a time (Burn's `build`).
    pub fn build(&self) -> Adam {
        Adam {
            config: *self,
            decoupled_weight_decay: false,
        }
    }

    /// The optimizer for a whole module (Burn's `init`): [`Self::build`] in a
    /// [`ModuleOptimizer`].
    pub fn init(&self) -> ModuleOptimizer {
        self.build().into()
    }
}

/// The Adam optimizer, with L2 (Adam) or decoupled (AdamW) weight decay; see the module
/// documentation.
#[derive(Debug, Clone)]
pub struct Adam {
    pub(crate) config: AdamConfig,
    /// AdamW: decay the weights by `lr·wd` instead of adding `wd·θ` to the gradient.
    pub(crate) decoupled_weight_decay: bool,
}

/// Per-parameter state of [`Adam`], with torch's names.
#[derive(RecordState, Clone)]
pub struct AdamState<const D: usize> {
    /// Steps taken, `t`.
    pub step: usize,
    /// First moment `m`, shape of the parameter.
    pub exp_avg: Tensor<D>,
    /// Second moment `v`, shape of the parameter.
    pub exp_avg_sq: Tensor<D>,
    /// Running maximum of `v`, present with `amsgrad`.
    pub max_exp_avg_sq: Option<Tensor<D>>,
}

impl Adam {
    /// Step `state.step` (1-based, already counted) with the learning rate `lr` as tensor ops,
    /// on any backend: the new parameter and state.
    fn tensor_ops_step<const D: usize>(
        &self,
        lr: f64,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: AdamState<D>,
    ) -> (Tensor<D>, AdamState<D>) {
        let c = &self.config;
        let step = state.step;
        let (param, grad) = if self.decoupled_weight_decay {
            (decoupled_weight_decay(param, lr, c.weight_decay), grad)
        } else {
            let grad = l2_weight_decay(grad, &param, c.weight_decay);
            (param, grad)
        };

        let exp_avg = lerp(state.exp_avg, grad.clone(), 1.0 - c.beta1);
        let exp_avg_sq = ema_product(state.exp_avg_sq, grad.clone(), grad, c.beta2);
        let max_exp_avg_sq = state.max_exp_avg_sq.map(|m| m.max_pair(exp_avg_sq.clone()));

        let step_size = lr / bias_correction(c.beta1, step);
        let bias_correction2_sqrt = bias_correction(c.beta2, step).sqrt();
        let second = max_exp_avg_sq.as_ref().unwrap_or(&exp_avg_sq).clone();
        let denom = second
            .sqrt()
            .div_scalar(bias_correction2_sqrt)
            .add_scalar(c.eps);
        let param = addcdiv(param, exp_avg.clone(), denom, -step_size);
        let state = AdamState {
            step,
            exp_avg,
            exp_avg_sq,
            max_exp_avg_sq,
        };
        (param, state)
    }

    /// The f32 constants of step `step` with the learning rate `lr` for the fused kernel,
    /// rounded as [`Self::tensor_ops_step`]'s scalar ops round them.
    fn scalars(&self, lr: f64, step: usize) -> fused::Scalars {
        let c = &self.config;
        let weight_decay = match (c.weight_decay, self.decoupled_weight_decay) {
            (0.0, _) => fused::WeightDecay::None,
            (wd, false) => fused::WeightDecay::L2(wd as f32),
            (wd, true) => fused::WeightDecay::Decoupled((1.0 - lr * wd) as f32),
        };
        fused::Scalars {
            weight_decay,
            lerp_weight: (1.0 - c.beta1) as f32,
            beta2: c.beta2 as f32,
            one_minus_beta2: (1.0 - c.beta2) as f32,
            bias_correction2_sqrt: bias_correction(c.beta2, step).sqrt() as f32,
            eps: c.eps as f32,
            neg_step_size: (-(lr / bias_correction(c.beta1, step))) as f32,
        }
    }
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
        let state = match state {
            Some(state) => AdamState {
                step: state.step + 1,
                ..state
            },
            None => {
                let zeros = || param.zeros_like();
                AdamState {
                    step: 1,
                    exp_avg: zeros(),
                    exp_avg_sq: zeros(),
                    max_exp_avg_sq: self.config.amsgrad.then(zeros),
                }
            }
        };
        // On flex and ndarray, one pass per tensor (`fused.rs`); the same f32 operations as the
        // tensor ops.
        let (param, state) = if fused::applies(&param, &grad, &state) {
            let scalars = self.scalars(lr, state.step);
            fused::step(param, grad, state, scalars)
        } else {
            self.tensor_ops_step(lr, param, grad, state)
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
    use crate::testing::{assert_regression, run_module_optimizer};

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

    /// candle-optimisers' PyTorch-checked values (`tests/adam_tests.rs`): the linear regression
    /// of `testing::assert_regression`, 1000 steps at torch's default lr 1e-3.
    #[test]
    fn matches_torch_on_the_regression() {
        let adam = AdamConfig::default();
        assert_regression(adam.init(), 1e-3, 1000, [0.9000, 0.6967], 0.7996);
        let decayed = AdamConfig {
            weight_decay: 0.6,
            ..adam
        };
        assert_regression(decayed.init(), 1e-3, 1000, [0.8997, 0.6964], 0.7975);
        let amsgrad = AdamConfig {
            amsgrad: true,
            ..adam
        };
        assert_regression(amsgrad.init(), 1e-3, 1000, [0.9001, 0.6904], 0.7978);
        let both = AdamConfig {
            amsgrad: true,
            weight_decay: 0.6,
            ..adam
        };
        assert_regression(both.init(), 1e-3, 1000, [0.8998, 0.6901], 0.7955);
    }

    #[test]
    fn rejects_out_of_range_beta2() {
        let bad = AdamConfig {
            beta2: 1.0,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "beta2 must be in [0, 1), got 1"
        );
    }
}
