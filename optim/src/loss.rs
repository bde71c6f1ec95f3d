//! The loss of the current step, for optimizers whose rule reads it (iRprop⁺).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The bits that mean "no loss given yet": a NaN with a payload that [`LossCell::set`] never
/// stores (it stores every NaN as `f64::NAN`, whose payload differs).
const EMPTY: u64 = 0x7ff8_0000_0000_e3b0;

/// The training loss E(t) of the step about to be taken, shared between the training loop,
/// which writes it before each optimizer step, and an optimizer that reads it:
/// [`crate::RpropVariant::IrpropPlus`] (iRprop⁺, Igel & Hüsken 2000) reverts an update only
/// where the error grew, and Burn's [`burn::optim::Optimizer::step`] has no loss argument.
///
/// A clone is a handle to the same cell. It holds one `f64` as its bits in an [`AtomicU64`]
/// (lock-free; no ordering beyond the caller's own is needed, since the loop writes before it
/// calls the optimizer). A new cell holds no loss: [`LossCell::get`] gives `None` until the
/// first [`LossCell::set`]. A value is kept until the next `set`, so a loop that skips a step's
/// `set` hands the optimizer the previous step's loss again.
///
/// ```
/// use ember_optim::{LossCell, OptimizerConfig, RpropConfig, RpropVariant};
/// let loss = LossCell::new();
/// let config = OptimizerConfig::Rprop(RpropConfig {
///     variant: RpropVariant::IrpropPlus,
///     ..Default::default()
/// });
/// let mut optimizer = config.init_with_loss(&loss);
/// // each step: compute the loss and gradients, then
/// loss.set(0.25);
/// // optimizer.step(lr, model, grads);
/// assert_eq!(loss.get(), Some(0.25));
/// ```
#[derive(Debug, Clone)]
pub struct LossCell(Arc<AtomicU64>);

impl LossCell {
    /// A cell holding no loss.
    pub fn new() -> Self {
        Self(Arc::new(AtomicU64::new(EMPTY)))
    }

    /// Sets the loss of the step about to be taken (any NaN is stored as `f64::NAN`).
    pub fn set(&self, loss: f64) {
        let loss = if loss.is_nan() { f64::NAN } else { loss };
        self.0.store(loss.to_bits(), Ordering::Relaxed);
    }

    /// The last loss set, or `None` if none was.
    pub fn get(&self) -> Option<f64> {
        let bits = self.0.load(Ordering::Relaxed);
        (bits != EMPTY).then(|| f64::from_bits(bits))
    }
}

impl Default for LossCell {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_last_value_for_every_handle() {
        let cell = LossCell::new();
        let handle = cell.clone();
        assert_eq!(handle.get(), None);
        cell.set(1.5);
        cell.set(-0.0);
        assert_eq!(handle.get().map(f64::to_bits), Some((-0.0f64).to_bits()));
        // A NaN loss is a loss (not "none"): the cell distinguishes it from the empty state.
        cell.set(f64::from_bits(EMPTY));
        assert!(handle.get().is_some_and(f64::is_nan));
    }
}
