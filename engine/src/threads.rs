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
