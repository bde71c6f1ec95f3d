//! Adadelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method"), exactly as
//! `torch.optim.Adadelta` (PyTorch 2.x):
//!
//! ```text
//! g ← g + wd·θ                              (if weight_decay ≠ 0)
//! v ← ρ·v + (1 − ρ)·g²                      (square_avg)
//! Δ = √(u + ε) / √(v + ε) · g
//! u ← ρ·u + (1 − ρ)·Δ²                      (acc_delta)
//! θ ← θ − lr·Δ
//! ```
//!
//! Defaults are torch's: lr 1.0, rho 0.9, eps 1e-6, weight_decay 0. Zeiler's paper uses
//! ρ = 0.95 and ε = 1e-6 with no learning rate (lr = 1); Keras' `Adadelta` defaults to
//! learning_rate 0.001, rho 0.95, epsilon 1e-7.

use burn::optim::{ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::OptimizerError;
use crate::RecordState;
use crate::common::{check, check_non_negative, ema_product, l2_weight_decay};

/// Hyperparameters of [`Adadelta`]; `Default` gives torch's defaults.
///
/// ```
/// use burn::optim::ModuleOptimizer;
/// use ember_optim::AdadeltaConfig;
/// let config = AdadeltaConfig { rho: 0.95, ..Default::default() };
/// config.validate().unwrap();
/// let optimizer: ModuleOptimizer = config.init(); // config.build(): the bare optimizer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdadeltaConfig {
    /// Decay of both running averages, ρ ∈ [0, 1]; default 0.9.
    pub rho: f64,
    /// ε ≥ 0 inside both square roots; default 1e-6.
    pub eps: f64,
    /// L2 weight decay ≥ 0 added to the gradient; default 0.
    pub weight_decay: f64,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        Self {
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
        }
    }
}

impl AdadeltaConfig {
    /// torch's checks: 0 ≤ rho ≤ 1, 0 ≤ eps, 0 ≤ weight_decay.
    ///
    /// # Errors
    /// [`OptimizerError::OutOfRange`], naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        check(
            (0.0..=1.0).contains(&self.rho),
            "rho",
            self.rho,
            "be in [0, 1]",
        )?;
        check_non_negative("eps", self.eps)?;
        check_non_negative("weight_decay", self.weight_decay)
    }

    /// The bare optimizer, which updates one parameter tensor at a time (Burn's `build`).
    pub fn build(&self) -> Adadelta {
        Adadelta { config: *self }
    }

    /// The optimizer for a whole module (Burn's `init`): [`Self::build`] in a
    /// [`ModuleOptimizer`].
    pub fn init(&self) -> ModuleOptimizer {
        self.build().into()
    }
}

/// The Adadelta optimizer; see the module documentation.
#[derive(Debug, Clone)]
pub struct Adadelta {
    config: AdadeltaConfig,
}

/// Per-parameter state of [`Adadelta`], with torch's names.
#[derive(RecordState, Clone)]
pub struct AdadeltaState<const D: usize> {
    /// Steps taken.
    pub step: usize,
    /// Running average of squared gradients `v`.
    pub square_avg: Tensor<D>,
    /// Running average of squared updates `u`.
    pub acc_delta: Tensor<D>,
}

impl Optimizer for Adadelta {
    type State<const D: usize> = AdadeltaState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = &self.config;
        let (step, square_avg, acc_delta) = match state {
            Some(s) => (s.step, s.square_avg, s.acc_delta),
            None => (0, param.zeros_like(), param.zeros_like()),
        };
        let grad = l2_weight_decay(grad, &param, c.weight_decay);
        let square_avg = ema_product(square_avg, grad.clone(), grad.clone(), c.rho);
        let std = square_avg.clone().add_scalar(c.eps).sqrt();
        let delta = acc_delta
            .clone()
            .add_scalar(c.eps)
            .sqrt()
            .div(std)
            .mul(grad);
        let acc_delta = ema_product(acc_delta, delta.clone(), delta.clone(), c.rho);
        let param = param.add(delta.mul_scalar(-lr));
        let state = AdadeltaState {
            step: step + 1,
            square_avg,
            acc_delta,
        };
        (param, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdadeltaState {
            step: state.step,
            square_avg: state.square_avg.to_device(device),
            acc_delta: state.acc_delta.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_gradient_sequence;

    /// The recurrences evaluated in f64 for one element, lr 1, rho 0.9, eps 1e-6.
    #[test]
    fn matches_the_recurrence_in_f64() {
        let grads: [&[f32]; 4] = [&[0.5], &[-0.3], &[0.2], &[0.7]];
        let out = run_gradient_sequence(AdadeltaConfig::default().build(), 1.0, &[1.0], &grads);
        let (rho, eps) = (0.9f64, 1e-6f64);
        let (mut theta, mut v, mut u) = (1.0f64, 0.0f64, 0.0f64);
        for (g, got) in grads.iter().zip(&out) {
            let g = g[0] as f64;
            v = rho * v + (1.0 - rho) * g * g;
            let delta = (u + eps).sqrt() / (v + eps).sqrt() * g;
            u = rho * u + (1.0 - rho) * delta * delta;
            theta -= delta;
            assert!((got[0] as f64 - theta).abs() < 1e-6, "{got:?} vs {theta}");
        }
    }

    #[test]
    fn rejects_rho_above_one() {
        let bad = AdadeltaConfig {
            rho: 1.5,
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "rho must be in [0, 1], got 1.5"
        );
    }
}
