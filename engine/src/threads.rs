//! The CPU thread pool that training runs on.
//!
//! burn-flex's and ember's CPU kernels split their work over Rayon's global thread pool (one
//! thread per core by default, `RAYON_NUM_THREADS` to change it). A training loop that runs on
//! a thread outside that pool, such as a program's main thread, hands each parallel region
//! (a matrix product, a convolution's batch of images) to the pool and sleeps until a worker
//! wakes it: two context switches per region, dozens per training step. [`join_compute_pool`]
//! makes the calling thread one of the pool's workers instead, so that it runs its share of
//! each region itself and the other workers steal the rest.
//!
//! Measured (2-core AMD EPYC, flex, Adam, training epochs; BENCHMARKS.md): two MLP epochs at
//! batch 256 went from 31,800 to 2,100 context switches; epochs took 8-11% less time for LeNet
//! and the MLPs at batch 256.
//!
//! Between regions the other workers still fall asleep (Rayon parks an idle worker after a few
//! dozen rounds of looking for work), and the next region waits until the kernel has woken one.
//! [`keep_warm`] keeps them looking, as OpenMP runtimes keep their threads spinning between
//! parallel regions (PyTorch's CPU threads); the learner does it on CPU devices while it trains.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use burn::backend::DispatchDevice;
use burn::tensor::Device;

/// Makes the calling thread worker 0 of Rayon's global thread pool (Rayon's
/// `ThreadPoolBuilder::use_current_thread`), with Rayon's default thread count (one per core,
/// or `RAYON_NUM_THREADS`). Call it first in `main`, on the thread that will train, before
/// anything uses the pool.
///
/// Returns whether it did. It does nothing, and returns `false`, when the pool would have a
/// single thread (one core, or `RAYON_NUM_THREADS=1`): the calling thread picks up other
/// threads' jobs only while it is inside a parallel call itself, so a one-thread pool made of it
/// would leave a job sent from any other thread waiting. It also returns `false` when the global
/// pool was already built (then nothing changes). Never fails otherwise; results do not depend
/// on it (ember's kernels split work by its size, not by thread).
pub fn join_compute_pool() -> bool {
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    threads >= 2
        && rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .use_current_thread()
            .build_global()
            .is_ok()
}

/// Whether `device` computes on this process's Rayon pool: flex and ndarray, with or without
/// autodiff (a GPU device, and wgpu's CPU adapter, lavapipe, run on threads of their own).
pub fn computes_on_pool(device: &Device) -> bool {
    matches!(
        device.clone().without_autodiff().as_dispatch(),
        DispatchDevice::Flex(_) | DispatchDevice::NdArray(_)
    )
}

/// Spin-loop hints (x86's `pause`) between two looks for work of a thread kept warm.
const SPINS_PER_LOOK: u32 = 64;
/// Idle looks between two `sched_yield`s of a thread kept warm.
const LOOKS_PER_YIELD: u32 = 16;

/// Keeps the other threads of the current Rayon pool (the global one outside any pool) looking
/// for work, without falling asleep, until the returned guard is dropped: each runs a job that
/// runs the pool's pending jobs as they come (`rayon::yield_now`) and, when there are none,
/// spins briefly and now and then yields its core to any other runnable thread
/// (`sched_yield`), rather than parking on a futex. A parallel region then starts on all
/// threads at once instead of after the kernel has woken the sleepers; the cost is that the
/// threads stay busy, so their cores are never idle while the guard lives.
///
/// Measured (2-core AMD EPYC, flex, Adam, fastest training epoch of five, interleaved): MLP at
/// batch 256 0.200 -> 0.168 s; the MLP at batch 64, whose products run on one thread, within
/// the noise (0.378 -> 0.381 s). The sittings against PyTorch are in BENCHMARKS.md.
///
/// `None` when the pool has one thread (nothing to keep warm). The calling thread itself is
/// never held: if it is one of the pool's threads, its share of the job returns at once.
pub fn keep_warm() -> Option<Warm> {
    if rayon::current_num_threads() < 2 {
        return None;
    }
    let caller = rayon::current_thread_index();
    let warm = Warm {
        stop: Arc::new(AtomicBool::new(false)),
        spinning: Arc::new(AtomicUsize::new(0)),
    };
    let (stop, spinning) = (Arc::clone(&warm.stop), Arc::clone(&warm.spinning));
    rayon::spawn_broadcast(move |thread| {
        if Some(thread.index()) == caller {
            return;
        }
        spinning.fetch_add(1, Ordering::AcqRel);
        let mut idle_looks = 0u32;
        while !stop.load(Ordering::Acquire) {
            if rayon::yield_now() == Some(rayon::Yield::Executed) {
                continue;
            }
            // Between looks, spin-loop hints rather than a system call per look (MLP at batch
            // 256: 0.168 s against 0.177 s with `sched_yield` after every idle look), and the
            // core to any other runnable thread now and then.
            for _ in 0..SPINS_PER_LOOK {
                std::hint::spin_loop();
            }
            idle_looks = idle_looks.wrapping_add(1);
            if idle_looks.is_multiple_of(LOOKS_PER_YIELD) {
                std::thread::yield_now();
            }
        }
        spinning.fetch_sub(1, Ordering::AcqRel);
    });
    Some(warm)
}

/// The guard of [`keep_warm`]: dropping it lets the threads sleep again (each stops after the
/// job it is running, if any).
#[derive(Debug)]
pub struct Warm {
    stop: Arc<AtomicBool>,
    spinning: Arc<AtomicUsize>,
}

impl Warm {
    /// The count of the threads this guard keeps warm, readable after the guard is dropped:
    /// they start as the pool picks up the request, and stop shortly after the drop.
    pub fn threads(&self) -> WarmThreads {
        WarmThreads(Arc::clone(&self.spinning))
    }
}

/// A count of the threads a [`Warm`] guard keeps warm ([`Warm::threads`]).
#[derive(Debug, Clone)]
pub struct WarmThreads(Arc<AtomicUsize>);

impl WarmThreads {
    /// The threads kept warm now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::DeviceKind;

    #[test]
    fn cpu_devices_compute_on_the_pool_and_wgpu_does_not() {
        #[allow(deprecated)] // ndarray is one of ember's backends.
        let ndarray = Device::ndarray();
        assert!(computes_on_pool(&Device::flex()));
        assert!(computes_on_pool(&Device::flex().autodiff()));
        assert!(computes_on_pool(&ndarray.autodiff()));
        // A handle only: nothing opens an adapter until a tensor is made on it.
        assert!(!computes_on_pool(&Device::wgpu(DeviceKind::Cpu)));
    }
}
