//! L1 and L2 penalties on the loss (Keras' `regularizers.L1`/`L2` on kernels), separate from
//! an optimizer's weight decay.
//!
//! With weights `w` (every parameter of rank ≥ 2: linear weight matrices and convolution
//! kernels; biases and normalization scales and shifts, of rank 1, are left out, as seed 004's
//! derivation and Keras' `kernel_regularizer` do), the training loss becomes
//!
//! ```text
//! L = data loss + l1 · Σ|w| + l2 · Σ w²
//! ```
//!
//! (Keras' definitions: no factor 1/2 on the L2 term, so its gradient is `2 · l2 · w`.) The
//! penalty is added in training only, and logged as the metric `penalty`; `val_loss` and the
//! test loss are the data loss alone, so they compare across penalties. docs/regularization.md
//! sets out how this differs from coupled and decoupled weight decay.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::metrics::MetricSum;
use crate::step::{StepOutput, TrainStep};

/// The coefficients `l1` and `l2` (non-negative, finite; 0 turns a term off).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Penalty {
    /// Coefficient of `Σ|w|`.
    pub l1: f64,
    /// Coefficient of `Σ w²`.
    pub l2: f64,
}

impl Penalty {
    /// Whether both coefficients are 0.
    pub fn is_zero(&self) -> bool {
        self.l1 == 0.0 && self.l2 == 0.0
    }

    /// `l1 · Σ|w| + l2 · Σ w²` over `model`'s weights (parameters of rank ≥ 2), shape `[1]`,
    /// on their device (attached to the graph in training); `None` when the penalty is zero
    /// or the model has no weights.
    pub fn of<M: Module>(&self, model: &M) -> Option<Tensor<1>> {
        if self.is_zero() {
            return None;
        }
        let mut sum = Sum {
            penalty: *self,
            total: None,
        };
        model.visit(&mut sum);
        sum.total
    }
}

struct Sum {
    penalty: Penalty,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for Sum {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if D < 2 {
            return;
        }
        let w = param.val();
        let mut term: Option<Tensor<1>> = None;
        if self.penalty.l1 != 0.0 {
            term = Some(w.clone().abs().sum().mul_scalar(self.penalty.l1));
        }
        if self.penalty.l2 != 0.0 {
            let l2 = w.square().sum().mul_scalar(self.penalty.l2);
            term = Some(match term {
                Some(t) => t.add(l2),
                None => l2,
            });
        }
        if let Some(term) = term {
            self.total = Some(match self.total.take() {
                Some(total) => total.add(term),
                None => term,
            });
        }
    }
}

/// A step whose training loss carries `penalty` (see the module documentation): wraps any
/// [`TrainStep`].
#[derive(Debug, Clone)]
pub struct Penalized<S> {
    /// The step computing the data loss.
    pub step: S,
    /// The penalty added to it in training.
    pub penalty: Penalty,
}

impl<M: Module, B, S: TrainStep<M, B>> TrainStep<M, B> for Penalized<S> {
    fn step(&self, model: &M, batch: B) -> StepOutput {
        let mut out = self.step.step(model, batch);
        // Training is the autodiff device: validation runs the model's `valid` copy.
        if out.loss.device().is_autodiff()
            && let Some(penalty) = self.penalty.of(model)
        {
            out.metrics.push(MetricSum {
                name: "penalty".into(),
                sum: penalty.clone().detach().mul_scalar(out.batch_size as f64),
                count: out.batch_size,
            });
            out.loss = out.loss.add(penalty);
        }
        out
    }
}
