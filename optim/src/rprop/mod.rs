//! Rprop in four variants ([`RpropVariant`]), named as Igel & Hüsken name them ("Improving the
//! Rprop learning algorithm", Proc. NC'2000; "Empirical evaluation of the improved Rprop
//! learning algorithm", Neurocomputing 50, 2003). They differ only in what a sign flip of the
//! gradient does:
//!
//! | variant | where g·g_prev < 0 | source |
//! |---|---|---|
//! | `irprop-minus` (default) | no move, g ← 0 | iRprop⁻: `torch.optim.Rprop` (PyTorch 2.x, `_single_tensor_rprop`) |
//! | `rprop-plus` | the previous update is taken back, g ← 0 | Rprop⁺: Riedmiller & Braun, "A direct adaptive method for faster backpropagation learning: the RPROP algorithm", ICNN 1993 |
//! | `rprop-minus` | the step is still taken, with the current sign; g kept | Rprop⁻: Riedmiller & Braun's rule without backtracking |
//! | `irprop-plus` | the previous update is taken back only if E(t) > E(t−1), g ← 0 | iRprop⁺: Igel & Hüsken 2000 |
//!
//! Each parameter element keeps its own step size `Δ` (initialized to `lr`) and last gradient:
//!
//! ```text
//! s = sign(g · g_prev)
//! s > 0:  Δ ← min(Δ·η+, Δmax)
//! s < 0:  Δ ← max(Δ·η−, Δmin), then
//!         Rprop⁻:  nothing more (the step below uses this g)
//!         iRprop⁻: g ← 0 (so this element does not move, and the next step sees s = 0)
//!         Rprop⁺:  g ← 0, and θ ← θ − Δθ_prev (the previous update is taken back)
//!         iRprop⁺: g ← 0, and θ ← θ − Δθ_prev only if E(t) > E(t−1)
//! s = 0:  Δ ← clamp(Δ, Δmin, Δmax)
//! elsewhere:  Δθ = −sign(g)·Δ,  θ ← θ + Δθ;   always g_prev ← g
//! ```
//!
//! Every variant clamps Δ at s = 0 as torch does (the papers leave it unchanged there; the two
//! differ only at the first step, when `lr` lies outside `step_sizes`).
//!
//! Defaults are torch's: lr 0.01, etas (η−, η+) = (0.5, 1.2), step_sizes (Δmin, Δmax) =
//! (1e-6, 50). Rprop uses the sign of the gradient only, so it is meant for full-batch training
//! (`train --opt rprop --batch-size full`; mini-batch noise flips signs and shrinks every step
//! size, and iRprop⁺ would compare the losses of different batches). The learning rate passed
//! to [`Optimizer::step`] is read once, as the initial step size, when a parameter's state is
//! created: later learning rates (and so schedules) are ignored, as in torch.
//!
//! **iRprop⁺ and the loss.** Burn's [`Optimizer::step`] has no loss argument, so iRprop⁺ reads
//! E(t), the loss at the weights the step starts from (the loss whose gradient it is given),
//! from a [`LossCell`] that the training loop sets before each optimizer step
//! ([`RpropConfig::build_with_loss`], [`crate::OptimizerConfig::init_with_loss`]; ember's
//! learner does it when given `Learner::report_loss`). Each parameter's state keeps the E(t) of
//! its previous step as E(t−1) (so a checkpoint resumes exactly). At a tensor's first step there
//! is no E(t−1) and nothing is reverted (no sign can flip then: g_prev is 0). A NaN loss never
//! counts as an increase. **Without a loss** (a cell never set, e.g. after plain
//! [`RpropConfig::init`]) an iRprop⁺ step panics, naming the fix: taking iRprop⁻'s step instead
//! would be another algorithm than the one asked for.
//!
//! On flex (f32) the update is one fused pass per tensor (`flex.rs`, a Burn backend extension),
//! for all four variants; elsewhere it is written with tensor ops (`tensor_ops_step`). Both
//! perform the same f32 operations and give the same bits (tested).

use burn::optim::{ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::OptimizerError;
use crate::RecordState;
use crate::common::{check, fill, select};
use crate::loss::LossCell;

mod flex;

/// Which Rprop; see the module documentation for the rules and sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RpropVariant {
    /// iRprop⁻, `torch.optim.Rprop`: a flipped sign shrinks Δ and skips the element's update.
    #[default]
    IrpropMinus,
    /// Rprop⁺ (Riedmiller & Braun 1993): a flipped sign also takes the previous update back.
    RpropPlus,
    /// Rprop⁻ (Igel & Hüsken's name for Riedmiller & Braun's rule without backtracking): a
    /// flipped sign shrinks Δ, and the step is still taken with the current gradient's sign.
    RpropMinus,
    /// iRprop⁺ (Igel & Hüsken 2000): as Rprop⁺, but the previous update is taken back only if
    /// the loss grew, E(t) > E(t−1). Needs the loss of each step ([`LossCell`]).
    IrpropPlus,
}

impl RpropVariant {
    /// The four variants, the default first.
    pub const ALL: [RpropVariant; 4] = [
        RpropVariant::IrpropMinus,
        RpropVariant::RpropPlus,
        RpropVariant::RpropMinus,
        RpropVariant::IrpropPlus,
    ];

    /// The serialized (and `--variant`) name: `irprop-minus`, `rprop-plus`, `rprop-minus` or
    /// `irprop-plus`.
    pub fn name(self) -> &'static str {
        match self {
            RpropVariant::IrpropMinus => "irprop-minus",
            RpropVariant::RpropPlus => "rprop-plus",
            RpropVariant::RpropMinus => "rprop-minus",
            RpropVariant::IrpropPlus => "irprop-plus",
        }
    }

    /// Whether the step reads the loss E(t) from a [`LossCell`] (iRprop⁺ only).
    pub fn needs_loss(self) -> bool {
        self == RpropVariant::IrpropPlus
    }

    /// Whether a flipped sign sets the stored gradient to 0 (every variant but Rprop⁻), so
    /// that the element's own step is skipped and the next step neither grows nor shrinks Δ.
    fn freezes(self) -> bool {
        self != RpropVariant::RpropMinus
    }

    /// Whether the state keeps the last update, to take it back (Rprop⁺ and iRprop⁺).
    fn backtracks(self) -> bool {
        matches!(self, RpropVariant::RpropPlus | RpropVariant::IrpropPlus)
    }
}

impl std::str::FromStr for RpropVariant {
    type Err = OptimizerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| OptimizerError::UnknownVariant {
                name: s.to_string(),
            })
    }
}

/// Hyperparameters of [`Rprop`]; `Default` gives torch's defaults.
///
/// ```
/// use burn::optim::ModuleOptimizer;
/// use ember_optim::{RpropConfig, RpropVariant};
/// let config = RpropConfig { variant: RpropVariant::RpropPlus, ..Default::default() };
/// config.validate().unwrap();
/// let optimizer: ModuleOptimizer = config.init(); // config.build(): the bare optimizer
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpropConfig {
    /// Multiplicative decrease and increase factors (η−, η+), 0 < η− < 1 < η+; default (0.5, 1.2).
    pub etas: (f64, f64),
    /// Minimal and maximal step sizes (Δmin, Δmax); default (1e-6, 50).
    pub step_sizes: (f64, f64),
    /// Which Rprop ([`RpropVariant`]); default irprop-minus (torch's).
    pub variant: RpropVariant,
}

impl Default for RpropConfig {
    fn default() -> Self {
        Self {
            etas: (0.5, 1.2),
            step_sizes: (1e-6, 50.0),
            variant: RpropVariant::IrpropMinus,
        }
    }
}

impl RpropConfig {
    /// torch's checks: 0 < η− < 1 < η+ (and Δmin ≤ Δmax).
    ///
    /// # Errors
    /// [`OptimizerError::OutOfRange`], naming the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), OptimizerError> {
        let (minus, plus) = self.etas;
        check(
            0.0 < minus && minus < 1.0 && 1.0 < plus,
            "etas",
            format!("({minus}, {plus})"),
            "satisfy 0 < eta_minus < 1 < eta_plus",
        )?;
        let (min, max) = self.step_sizes;
        check(
            0.0 <= min && min <= max,
            "step_sizes",
            format!("({min}, {max})"),
            "satisfy 0 <= min <= max",
        )
    }

    /// The bare optimizer, which updates one parameter tensor at a time (Burn's `build`), with
    /// a loss cell of its own ([`Rprop::loss_cell`]); for iRprop⁺ the loop must set it before
    /// each step (see [`Self::build_with_loss`]).
    pub fn build(&self) -> Rprop {
        self.build_with_loss(&LossCell::new())
    }

    /// The bare optimizer, reading E(t) from `loss` (iRprop⁺; the other variants never read
    /// it). Set `loss` to the step's loss before each step, for every parameter tensor of it.
    pub fn build_with_loss(&self, loss: &LossCell) -> Rprop {
        Rprop {
            config: *self,
            loss: loss.clone(),
        }
    }

    /// The optimizer for a whole module (Burn's `init`): [`Self::build`] in a
    /// [`ModuleOptimizer`]. For iRprop⁺, use [`Self::init_with_loss`]: this one's loss cell
    /// cannot be reached, so its first step panics.
    pub fn init(&self) -> ModuleOptimizer {
        self.build().into()
    }

    /// [`Self::build_with_loss`] in a [`ModuleOptimizer`].
    pub fn init_with_loss(&self, loss: &LossCell) -> ModuleOptimizer {
        self.build_with_loss(loss).into()
    }
}

/// The Rprop optimizer in one of its variants; see the module documentation.
#[derive(Debug, Clone)]
pub struct Rprop {
    config: RpropConfig,
    loss: LossCell,
}

impl Rprop {
    /// A handle to the cell this optimizer reads E(t) from (iRprop⁺ only).
    pub fn loss_cell(&self) -> LossCell {
        self.loss.clone()
    }
}

/// Per-parameter state of [`Rprop`], with torch's names.
#[derive(RecordState, Clone)]
pub struct RpropState<const D: usize> {
    /// Steps taken.
    pub step: usize,
    /// The gradient used at the previous step (zeroed where the sign flipped, except in Rprop⁻).
    pub prev: Tensor<D>,
    /// Per-element step sizes Δ.
    pub step_size: Tensor<D>,
    /// Rprop⁺ and iRprop⁺ only: the previous step's update as subtracted, `θ ← θ − prev_update`
    /// (−Δθ_prev), so that backtracking subtracts its negation.
    pub prev_update: Option<Tensor<D>>,
    /// iRprop⁺ only: the loss at the previous step, E(t−1) (`None` before the first step).
    pub prev_loss: Option<f64>,
}

/// What a sign flip does in one step: the variant's rule, with iRprop⁺'s loss comparison
/// already made.
#[derive(Debug, Clone, Copy)]
struct OnFlip {
    /// g ← 0 where the sign flipped ([`RpropVariant::freezes`]).
    freeze: bool,
    /// Take the previous update back where the sign flipped (with a kept update only).
    undo: bool,
}

impl OnFlip {
    /// The rule of `variant`; `error_increased` (E(t) > E(t−1)) matters to iRprop⁺ only.
    fn of(variant: RpropVariant, error_increased: bool) -> Self {
        let undo = match variant {
            RpropVariant::RpropPlus => true,
            RpropVariant::IrpropPlus => error_increased,
            RpropVariant::IrpropMinus | RpropVariant::RpropMinus => false,
        };
        Self {
            freeze: variant.freezes(),
            undo,
        }
    }
}

impl Optimizer for Rprop {
    type State<const D: usize> = RpropState<D>;

    /// # Panics
    /// For iRprop⁺, if the loss cell holds no loss (see the module documentation).
    fn step<const D: usize>(
        &self,
        lr: f64,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let variant = self.config.variant;
        let (step, prev, step_size, prev_update, prev_loss) = match state {
            Some(s) => (s.step, s.prev, s.step_size, s.prev_update, s.prev_loss),
            None => (
                0,
                param.zeros_like(),
                param.full_like(lr),
                variant.backtracks().then(|| param.zeros_like()),
                None,
            ),
        };
        // iRprop⁺'s E(t); every parameter tensor of one step reads the same value.
        let loss = variant.needs_loss().then(|| {
            self.loss.get().unwrap_or_else(|| {
                panic!(
                    "Rprop variant irprop-plus (iRprop⁺) needs the loss of every step, and none \
                     was given: build the optimizer with RpropConfig::build_with_loss or \
                     OptimizerConfig::init_with_loss and call LossCell::set with the step's \
                     loss before each optimizer step (ember's Learner: Learner::report_loss)"
                )
            })
        });
        // `>` is false when either loss is NaN, or when there is no previous one.
        let error_increased = matches!((loss, prev_loss), (Some(e), Some(p)) if e > p);
        let on_flip = OnFlip::of(variant, error_increased);

        let inputs = Inputs {
            param,
            grad,
            prev,
            step_size,
        };
        // On flex, one pass per tensor (`flex.rs`); the same f32 operations as the tensor ops.
        let (param, prev, step_size, prev_update) = if flex::applies(&inputs, prev_update.as_ref())
        {
            flex::step(inputs, prev_update, self.config.scalars(), on_flip)
        } else {
            tensor_ops_step(&self.config, inputs, prev_update, on_flip)
        };
        let state = RpropState {
            step: step + 1,
            prev,
            step_size,
            prev_update,
            prev_loss: loss,
        };
        (param, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        RpropState {
            step: state.step,
            prev: state.prev.to_device(device),
            step_size: state.step_size.to_device(device),
            prev_update: state.prev_update.map(|t| t.to_device(device)),
            prev_loss: state.prev_loss,
        }
    }
}

/// One step's tensors, all of one shape.
struct Inputs<const D: usize> {
    param: Tensor<D>,
    grad: Tensor<D>,
    prev: Tensor<D>,
    step_size: Tensor<D>,
}

/// `(param, prev, step_size, prev_update)` after a step.
type Stepped<const D: usize> = (Tensor<D>, Tensor<D>, Tensor<D>, Option<Tensor<D>>);

impl RpropConfig {
    /// `[η−, η+, Δmin, Δmax]` as the f32 values the tensor ops use.
    fn scalars(&self) -> [f32; 4] {
        let ((eta_minus, eta_plus), (min, max)) = (self.etas, self.step_sizes);
        [eta_minus, eta_plus, min, max].map(|x| x as f32)
    }
}

/// The step written with tensor ops, for any backend: torch's single-tensor sequence, with the
/// variant's rule at sign flips (`on_flip`) and, where `prev_update` is kept, backtracking.
fn tensor_ops_step<const D: usize>(
    config: &RpropConfig,
    inputs: Inputs<D>,
    prev_update: Option<Tensor<D>>,
    on_flip: OnFlip,
) -> Stepped<D> {
    let Inputs {
        param,
        grad,
        prev,
        step_size,
    } = inputs;
    let (eta_minus, eta_plus) = config.etas;
    let (min, max) = config.step_sizes;
    // torch: `sign = grad.mul(prev).sign()`, then the factor η+, η− or 1 in its place, and
    // `step_size.mul_(sign).clamp_(min, max)`. Written with masks on the product and on
    // Δ·η± (the same f32 products), because flex's `sign` and `clamp` each cost more than
    // the rest of the step (see also `common::select`).
    let product = grad.clone().mul(prev);
    let grew = product.clone().greater_elem(0.0);
    let shrank = product.lower_elem(0.0);
    // Δ·η+ first, into a new buffer; once that select has returned, `step_size` is owned
    // alone again, so Δ·η− runs in place (flex's scalar ops reuse a unique buffer).
    let grown = select(grew, &step_size.clone().mul_scalar(eta_plus), &step_size);
    let step_size = select(shrank.clone(), &step_size.mul_scalar(eta_minus), &grown)
        // clamp_min then clamp_max: clamp's values (min ≤ max is validated).
        .clamp_min(min)
        .clamp_max(max);
    // Rprop⁻ keeps g: its flipped elements still step with their own sign.
    let grad = if on_flip.freeze {
        fill(&grad, shrank.clone(), 0.0)
    } else {
        grad
    };
    // `param.addcmul_(grad.sign(), step_size, value=-1)` adds −sign(g)·Δ: −Δ where g > 0,
    // +Δ where g < 0, nothing where g is 0 or NaN (whose sign is 0 here).
    let moves_down = grad.clone().greater_elem(0.0);
    let moves_up = grad.clone().lower_elem(0.0);
    let (param, prev_update) = match prev_update {
        // iRprop⁻ and Rprop⁻: choose between θ − Δ, θ + Δ and θ (bit for bit torch's sums,
        // since sign(g)·Δ is exact). Timed alone on LeNet's 10 tensors (flex, 2 shared cores),
        // this part takes ~90 µs, against ~230 µs for building the signed decrement
        // (Δ, −Δ, 0) by masks and subtracting it; optim_step: 0.64 → ~0.51 ms. A float
        // sign from the masks (`bool.float()`) was slower still, and so were the in-place
        // mask kernels (they branch per element, and the masks here are not predictable).
        None => {
            // θ + Δ into a new buffer, then θ − Δ in place (θ is unique again by then):
            // every buffer flex allocates costs more than the arithmetic in it.
            let moved_up = select(moves_up, &param.clone().add(step_size.clone()), &param);
            let param = select(moves_down, &param.sub(step_size.clone()), &moved_up);
            (param, None)
        }
        // Rprop⁺ and iRprop⁺ keep the decrement itself (their state); where the sign flipped
        // g is 0, so nothing moves there yet: take the previous update back instead (subtract
        // its negation) when the rule says so, else the decrement there stays 0.
        Some(prev_update) => {
            let positive = fill(&step_size, moves_down.bool_not(), 0.0);
            let negated = step_size.clone().neg();
            let decrement = select(moves_up, &negated, &positive);
            let decrement = if on_flip.undo {
                select(shrank, &prev_update.neg(), &decrement)
            } else {
                decrement
            };
            (param.sub(decrement.clone()), Some(decrement))
        }
    };

    (param, grad, step_size, prev_update)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_gradient_sequence;

    /// Hand-derived trajectory of one element under torch's rules, lr 0.1:
    /// g = +1: Δ = 0.1,  θ = 1 − 0.1 = 0.9
    /// g = +1: Δ = 0.12, θ = 0.78
    /// g = −1: sign flip, Δ = 0.06, no move, prev ← 0
    /// g = −1: s = 0, Δ = 0.06, θ = 0.84
    /// g = −1: Δ = 0.072, θ = 0.912
    #[test]
    fn follows_torchs_irprop_minus_rules() {
        let out = run_gradient_sequence(
            RpropConfig::default().build(),
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
        let out = run_gradient_sequence(config.build(), 0.1, &[0.0], &[minus; 4]);
        // Δ: 0.1, 0.12, 0.144, 0.15 (clamped)
        let expected = [0.1, 0.22, 0.364, 0.514];
        for (got, want) in out.iter().zip(expected) {
            assert!((got[0] - want).abs() < 1e-6, "{out:?}");
        }
    }

    /// The trajectory of θ under `variant` on the 1-D quadratic f(θ) = θ², g = 2θ, from θ = 1
    /// with lr (Δ₀) `lr`, for `steps` steps; the loss cell gets E(t) = θ² before each step.
    fn quadratic(variant: RpropVariant, lr: f64, steps: usize) -> Vec<f32> {
        let loss = LossCell::new();
        let optimizer = RpropConfig {
            variant,
            ..Default::default()
        }
        .build_with_loss(&loss);
        let device = Device::flex();
        let mut theta =
            Tensor::<1>::from_data(burn::tensor::TensorData::new(vec![1.0f32], [1]), &device);
        let mut state = None;
        let mut trajectory = Vec::new();
        for _ in 0..steps {
            let value: f32 = theta.clone().into_scalar();
            loss.set(f64::from(value * value));
            let grad = theta.clone().mul_scalar(2.0);
            (theta, state) = optimizer.step(lr, theta, grad, state);
            trajectory.push(theta.clone().into_scalar());
        }
        trajectory
    }

    fn assert_close(trajectory: &[f32], expected: &[f32]) {
        assert_eq!(trajectory.len(), expected.len());
        for (got, want) in trajectory.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{trajectory:?} vs {expected:?}");
        }
    }

    /// Rprop⁺ on the quadratic from θ = 1 with lr (Δ₀) 0.8, by hand:
    /// 1. g = 2 (no previous): Δ = 0.8, Δθ = −0.8, θ = 0.2
    /// 2. g = 0.4, same sign: Δ = 0.96, Δθ = −0.96, θ = −0.76
    /// 3. g = −1.52, sign flip: Δ = 0.48, backtrack θ −= −0.96 → 0.2, g_prev ← 0
    /// 4. g = 0.4, s = 0: Δ = 0.48, Δθ = −0.48, θ = −0.28
    /// 5. g = −0.56, flip: Δ = 0.24, backtrack θ = 0.2
    /// 6. g = 0.4, s = 0: Δ = 0.24, θ = −0.04
    ///
    /// iRprop⁻ on the same steps stays where the flip happened: θ = −0.76 after step 3.
    /// iRprop⁺ equals Rprop⁺ here: at both flips the loss grew (0.5776 > 0.04, 0.0784 > 0.04).
    #[test]
    fn rprop_plus_backtracks_on_a_quadratic() {
        let expected = [0.2, -0.76, 0.2, -0.28, 0.2, -0.04];
        assert_close(&quadratic(RpropVariant::RpropPlus, 0.8, 6), &expected);
        assert_close(&quadratic(RpropVariant::IrpropPlus, 0.8, 6), &expected);
        assert_close(
            &quadratic(RpropVariant::IrpropMinus, 0.8, 3),
            &[0.2, -0.76, -0.76],
        );
    }

    /// Rprop⁻ on the quadratic from θ = 1 with lr 0.8, by hand: the step is taken at a flip,
    /// with the current sign and the shrunk Δ, and g_prev keeps the gradient.
    /// 1. g = 2: Δ = 0.8, θ = 0.2
    /// 2. g = 0.4, same sign: Δ = 0.96, θ = −0.76
    /// 3. g = −1.52, flip: Δ = 0.48, θ = −0.76 + 0.48 = −0.28, g_prev = −1.52
    /// 4. g = −0.56, same sign as −1.52: Δ = 0.576, θ = 0.296
    /// 5. g = 0.592, flip: Δ = 0.288, θ = 0.008
    /// 6. g = 0.016, same sign: Δ = 0.3456, θ = −0.3376
    #[test]
    fn rprop_minus_steps_through_a_flip() {
        let expected = [0.2, -0.76, -0.28, 0.296, 0.008, -0.3376];
        assert_close(&quadratic(RpropVariant::RpropMinus, 0.8, 6), &expected);
    }

    /// iRprop⁺ on the quadratic from θ = 1 with lr 0.5, by hand, E(t) = θ(t)²:
    /// 1. E = 1, g = 2: Δ = 0.5, Δθ = −0.5, θ = 0.5
    /// 2. E = 0.25, g = 1, same sign: Δ = 0.6, Δθ = −0.6, θ = −0.1
    /// 3. E = 0.01 ≤ 0.25, g = −0.2, flip: Δ = 0.3, no revert (the error fell), g_prev ← 0
    /// 4. E = 0.01, s = 0: Δ = 0.3, Δθ = +0.3, θ = 0.2
    /// 5. E = 0.04 > 0.01, g = 0.4, flip: Δ = 0.15, revert: θ = 0.2 − 0.3 = −0.1, g_prev ← 0
    /// 6. E = 0.01, s = 0: Δ = 0.15, θ = 0.05
    ///
    /// Both branches of the error test; Rprop⁺ instead reverts at step 3 (θ = −0.1 + 0.6).
    #[test]
    fn irprop_plus_reverts_only_when_the_error_grew() {
        let expected = [0.5, -0.1, -0.1, 0.2, -0.1, 0.05];
        assert_close(&quadratic(RpropVariant::IrpropPlus, 0.5, 6), &expected);
        assert_close(
            &quadratic(RpropVariant::RpropPlus, 0.5, 3),
            &[0.5, -0.1, 0.5],
        );
    }

    /// Without a loss, iRprop⁺ refuses to step rather than run another algorithm.
    #[test]
    #[should_panic(expected = "irprop-plus (iRprop⁺) needs the loss of every step")]
    fn irprop_plus_without_a_loss_panics() {
        let config = RpropConfig {
            variant: RpropVariant::IrpropPlus,
            ..Default::default()
        };
        run_gradient_sequence(config.build(), 0.1, &[1.0], &[&[1.0]]);
    }

    /// The masked formulation of the step equals, bit for bit, torch's own sequence of ops
    /// (`sign`, factor tensor, `clamp`, `sign(g)·Δ`) on gradients with zeros and sign flips,
    /// with narrow step_sizes so that the clamps act.
    #[test]
    fn masked_step_equals_torchs_op_sequence() {
        use burn::tensor::TensorData;
        let device = Device::flex();
        let config = RpropConfig {
            step_sizes: (0.004, 0.02),
            ..Default::default()
        };
        let (eta_minus, eta_plus) = config.etas;
        let (min, max) = config.step_sizes;
        let optimizer = config.build();
        let grads: Vec<Vec<f32>> = (0..12)
            .map(|step| {
                (0..16)
                    .map(|i| match (i * 7 + step * 3) % 5 {
                        0 => 0.0,
                        1 | 2 => 0.5 + i as f32,
                        _ => -0.25 - step as f32,
                    })
                    .collect()
            })
            .collect();
        let tensor =
            |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device);
        let mut param = tensor(&[0.1; 16]);
        let mut state = None;
        let (mut ref_param, mut prev, mut step_size) =
            (tensor(&[0.1; 16]), tensor(&[0.0; 16]), tensor(&[0.01; 16]));
        for g in &grads {
            (param, state) = optimizer.step(0.01, param, tensor(g), state);
            // torch's `_single_tensor_rprop`, op for op.
            let grad = tensor(g);
            let sign = grad.clone().mul(prev).sign();
            let factor = sign
                .clone()
                .mask_fill(sign.clone().greater_elem(0.0), eta_plus)
                .mask_fill(sign.clone().lower_elem(0.0), eta_minus)
                .mask_fill(sign.clone().equal_elem(0.0), 1.0);
            step_size = step_size.mul(factor.clone()).clamp(min, max);
            let grad = grad.mask_fill(factor.equal_elem(eta_minus as f32), 0.0);
            ref_param = ref_param.sub(grad.clone().sign().mul(step_size.clone()));
            prev = grad;
            assert_eq!(param.to_data(), ref_param.to_data());
        }
    }

    #[test]
    fn rejects_bad_etas() {
        let bad = RpropConfig {
            etas: (1.5, 1.2),
            ..Default::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "etas must satisfy 0 < eta_minus < 1 < eta_plus, got (1.5, 1.2)"
        );
    }

    #[test]
    fn variant_names_round_trip() {
        for variant in RpropVariant::ALL {
            assert_eq!(variant.name().parse::<RpropVariant>(), Ok(variant));
        }
        assert!("rprop".parse::<RpropVariant>().is_err());
        let names: Vec<String> = RpropVariant::ALL
            .iter()
            .map(|v| {
                serde_json::to_value(v)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            ["irprop-minus", "rprop-plus", "rprop-minus", "irprop-plus"]
        );
    }
}
