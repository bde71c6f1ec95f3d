//! Seeded weight initialization that holds when several threads of one process initialize
//! models at once (a test binary's tests, a committee trained in parallel).
//!
//! Burn 0.22's random generator is one per backend and process, not one per device or thread:
//! `Device::seed` documents it as reproducible "in a single-threaded program". Two threads that
//! each seed and then draw interleave their draws, and each model gets some of the other's
//! numbers. [`seeded`] seeds the flex CPU device and runs the initialization under one
//! process-wide lock, so the weights depend only on the seed. Weights are drawn on the CPU and
//! moved by the caller, so every backend starts from the same ones for the same seed.

use std::sync::{Mutex, PoisonError};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Bool, Device, Int, Tensor};

/// Held while a seeded initialization draws from Burn's process-wide generator.
static GENERATOR: Mutex<()> = Mutex::new(());

/// Runs `init` on the flex CPU device right after seeding Burn's generator with `seed` and
/// draws every parameter of the module it builds, under a process-wide lock; returns the module
/// (on the CPU: move it with `to_device`).
///
/// Only initializations that go through this function are serialized: code elsewhere in the
/// process that draws from Burn's generator at the same time (`Tensor::random`) still
/// interleaves with it.
///
/// ```
/// use burn::nn::LinearConfig;
/// let a = ember_engine::init::seeded(7, |cpu| LinearConfig::new(2, 3).init(cpu));
/// let b = ember_engine::init::seeded(7, |cpu| LinearConfig::new(2, 3).init(cpu));
/// assert_eq!(a.weight.val().into_data(), b.weight.val().into_data());
/// ```
pub fn seeded<M: Module>(seed: u64, init: impl FnOnce(&Device) -> M) -> M {
    // A panic in another initialization leaves nothing half-done that this one relies on.
    let _draws = GENERATOR.lock().unwrap_or_else(PoisonError::into_inner);
    let cpu = Device::flex();
    cpu.seed(seed);
    let module = init(&cpu);
    module.visit(&mut Materialize);
    module
}

/// Draws each lazily initialized parameter now (`Param::val` fills its shared cell).
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }

    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
        let _ = param.val();
    }

    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, Bool>>) {
        let _ = param.val();
    }
}
