//! Rprop, exactly as `torch.optim.Rprop` (PyTorch 2.x), which implements iRprop⁻ (Igel &
//! Hüsken 2000, "Improving the Rprop learning algorithm"), a variant of Riedmiller & Braun's
//! Rprop (ICNN 1993).
//!
//! Each parameter element keeps its own step size `Δ` (initialized to `lr`) and last gradient:
//!
//! ```text
//! s = sign(g · g_prev)
//! s > 0:  Δ ← min(Δ·η+, Δmax)
//! s < 0:  Δ ← max(Δ·η−, Δmin), and g ← 0 (this element does not move; next step sees s = 0)
//! s = 0:  Δ ← clamp(Δ, Δmin, Δmax)
//! θ ← θ − sign(g)·Δ;   g_prev ← g
//! ```
//!
//! Defaults are torch's: lr 0.01, etas (η−, η+) = (0.5, 1.2), step_sizes (Δmin, Δmax) =
//! (1e-6, 50). Rprop uses the sign of the gradient only, so it is meant for full-batch training
//! (mini-batch noise flips signs and shrinks every step size). The learning rate passed to
//! [`Optimizer::step`] is read once, as the initial step size, when a parameter's state is
//! created: later learning rates (and so schedules) are ignored, as in torch.

use burn::optim::Optimizer;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::RecordState;
use crate::optim::common::check;

/// Hyperparameters of [`Rprop`]; `Default` gives torch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RpropConfig {
    /// Multiplicative decrease and increase factors (η−, η+), 0 < η− < 1 < η+; default (0.5, 1.2).
    pub etas: (f64, f64),
    /// Minimal and maximal step sizes (Δmin, Δmax); default (1e-6, 50).
    pub step_sizes: (f64, f64),
}

impl Default for RpropConfig {
    fn default() -> Self {
        Self {
            etas: (0.5, 1.2),
            step_sizes: (1e-6, 50.0),
        }
    }
}

impl RpropConfig {
    /// torch's checks: 0 < η− < 1 < η+ (and Δmin ≤ Δmax).
    ///
    /// # Errors
    /// A one-line message naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        let (minus, plus) = self.etas;
        check(
            0.0 < minus && minus < 1.0 && 1.0 < plus,
            "etas",
            format!("({minus}, {plus})"),
            "0 < eta_minus < 1 < eta_plus",
        )?;
        let (min, max) = self.step_sizes;
        check(
            0.0 <= min && min <= max,
            "step_sizes",
            format!("({min}, {max})"),
            "0 <= min <= max",
        )
    }

    /// The optimizer; wrap it with `ModuleOptimizer::from` to optimize a module.
    pub fn init(&self) -> Rprop {
        Rprop { config: *self }
    }
}

/// The Rprop optimizer (torch's iRprop⁻); see the module documentation.
///
/// ```
/// use burn::optim::ModuleOptimizer;
/// use ember::optim::RpropConfig;
/// let optimizer: ModuleOptimizer = RpropConfig::default().init().into();
/// ```
#[derive(Debug, Clone)]
pub struct Rprop {
    config: RpropConfig,
}

/// Per-parameter state of [`Rprop`], with torch's names.
#[derive(RecordState, Clone)]
pub struct RpropState<const D: usize> {
    /// Steps taken.
    pub step: usize,
    /// The gradient used at the previous step (zeroed where the sign flipped).
    pub prev: Tensor<D>,
    /// Per-element step sizes Δ.
    pub step_size: Tensor<D>,
}

impl Optimizer for Rprop {
    type State<const D: usize> = RpropState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (eta_minus, eta_plus) = self.config.etas;
        let (min, max) = self.config.step_sizes;
        let (step, prev, step_size) = match state {
            Some(s) => (s.step, s.prev, s.step_size),
            None => (0, param.zeros_like(), param.full_like(lr)),
        };

        let sign = grad.clone().mul(prev).sign();
        let grew = sign.clone().greater_elem(0.0);
        let shrank = sign.lower_elem(0.0);
        let factor = grad
            .ones_like()
            .mask_fill(grew, eta_plus)
            .mask_fill(shrank.clone(), eta_minus);
        let step_size = step_size.mul(factor).clamp(min, max);
        let grad = grad.mask_fill(shrank, 0.0);
        let param = param.sub(grad.clone().sign().mul(step_size.clone()));

        let state = RpropState {
            step: step + 1,
            prev: grad,
            step_size,
        };
        (param, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        RpropState {
            step: state.step,
            prev: state.prev.to_device(device),
            step_size: state.step_size.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::run_gradient_sequence;

    /// Hand-derived trajectory of one element under torch's rules, lr 0.1:
    /// g = +1: Δ = 0.1,  θ = 1 − 0.1 = 0.9
    /// g = +1: Δ = 0.12, θ = 0.78
    /// g = −1: sign flip, Δ = 0.06, no move, prev ← 0
    /// g = −1: s = 0, Δ = 0.06, θ = 0.84
    /// g = −1: Δ = 0.072, θ = 0.912
    #[test]
    fn follows_torchs_irprop_minus_rules() {
        let out = run_gradient_sequence(
            RpropConfig::default().init(),
            0.1,
            &[1.0],
            &[&[1.0], &[1.0], &[-1.0], &[-1.0], &[-1.0]],
        );
        let expected = [0.9, 0.78, 0.78, 0.84, 0.912];
        for (got, want) in out.iter().zip(expected) {
            assert!((got[0] - want).abs() < 1e-6, "{out:?}");
        }
    }

    /// Step sizes stay inside step_sizes: growth stops at Δmax.
    #[test]
    fn step_size_is_clamped() {
        let config = RpropConfig {
            step_sizes: (1e-6, 0.15),
            ..Default::default()
        };
        let minus: &[f32] = &[-1.0];
        let out = run_gradient_sequence(config.init(), 0.1, &[0.0], &[minus; 4]);
        // Δ: 0.1, 0.12, 0.144, 0.15 (clamped)
        let expected = [0.1, 0.22, 0.364, 0.514];
        for (got, want) in out.iter().zip(expected) {
            assert!((got[0] - want).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn rejects_bad_etas() {
        let bad = RpropConfig {
            etas: (1.5, 1.2),
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("etas"));
    }
}
