//! The noise of a training step (dropout masks, Gaussian dropout factors), as a function of
//! the step, not of a process-wide generator.
//!
//! The learner runs each training step inside [`scope`] with a key made of (seed, epoch,
//! batch index within the epoch). A layer that needs random numbers takes a fresh [`Rng`] with
//! [`rng`]: the n-th call within a step gets the stream keyed by (step key, n), so the draws
//! depend only on the step and on the order in which the model's layers draw, never on what
//! ran before: a run resumed at any step draws what the uninterrupted run drew, bit for bit,
//! and threads training side by side (a test binary, a committee) do not disturb each other.
//! (Burn's own `Dropout` draws from Burn's process-wide generator, which neither holds.)
//!
//! Outside a scope (a forward pass in training mode that the learner did not start), [`rng`]
//! still gives distinct streams, from a process-wide counter, but they are not reproducible.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::rng::{Rng, key};

thread_local! {
    /// The current step's key and the number of streams taken in it; `None` outside a scope.
    static STEP: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// Streams taken outside any scope, in the whole process.
static UNSCOPED: AtomicU64 = AtomicU64::new(0);

/// The key of a training step: the run's seed, the epoch (1-based) and the batch's index in
/// the epoch's order (0-based). The learner uses it for every training batch.
pub fn step_key(seed: u64, epoch: usize, batch: usize) -> u64 {
    key(&[seed, epoch as u64, batch as u64])
}

/// Runs `f` with `step_key` as the current step's key (see the module documentation); the
/// previous key, if any, is restored afterwards, also when `f` panics.
pub fn scope<T>(step_key: u64, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<(u64, u64)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            STEP.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(STEP.with(|s| s.replace(Some((step_key, 0)))));
    f()
}

/// A new random stream for one draw of the current step (the next stream of its key), or, with
/// no step in scope, an unreproducible stream unique to this call in the process.
pub fn rng() -> Rng {
    STEP.with(|s| match s.get() {
        Some((step, taken)) => {
            s.set(Some((step, taken + 1)));
            Rng::new(key(&[step, taken]))
        }
        None => Rng::new(key(&[u64::MAX, UNSCOPED.fetch_add(1, Ordering::Relaxed)])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws() -> Vec<u64> {
        (0..3).map(|_| rng().next_u64()).collect()
    }

    #[test]
    fn a_scope_fixes_the_streams_and_numbers_them() {
        let a = scope(step_key(1, 2, 3), draws);
        let b = scope(step_key(1, 2, 3), draws);
        assert_eq!(a, b);
        assert!(a[0] != a[1] && a[1] != a[2], "each draw its own stream");
        assert_ne!(a, scope(step_key(1, 2, 4), draws));
        assert_ne!(a, scope(step_key(2, 2, 3), draws));
    }

    #[test]
    fn scopes_nest_and_restore() {
        let outer = scope(7, || {
            let first = rng().next_u64();
            let inner = scope(8, draws);
            let second = rng().next_u64();
            (first, inner, second)
        });
        let plain = scope(7, || (rng().next_u64(), rng().next_u64()));
        assert_eq!((outer.0, outer.2), plain);
        assert_eq!(outer.1, scope(8, draws));
    }

    #[test]
    fn threads_do_not_disturb_each_other() {
        let alone = scope(5, || (0..100).map(|_| rng().next_u64()).collect::<Vec<_>>());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    scope(5, || (0..100).map(|_| rng().next_u64()).collect::<Vec<_>>())
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), alone);
        }
    }
}
