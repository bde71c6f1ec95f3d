//! `threads::keep_warm`, in a test binary of its own: its threads spin while a guard lives, which
//! other tests' timing should not see.

use std::time::{Duration, Instant};

use ember_engine::threads::{Warm, WarmThreads, keep_warm};
use rayon::prelude::*;

/// Waits up to ten seconds for `count` to read `want`.
fn wait_for(count: &WarmThreads, want: usize) {
    let start = Instant::now();
    while count.get() != want {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} threads kept warm, expected {want}",
            count.get()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `warm` keeps `threads` threads warm, the pool still runs parallel work, and after the drop no
/// thread is kept warm.
fn spins_then_stops(warm: Warm, threads: usize) {
    let count = warm.threads();
    wait_for(&count, threads);
    let sum: u64 = (0..100_000u32)
        .into_par_iter()
        .with_max_len(64)
        .map(u64::from)
        .sum();
    assert_eq!(sum, 99_999 * 100_000 / 2);
    drop(warm);
    wait_for(&count, 0);
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// From one of the pool's threads (as the training thread when it joined the pool): every
/// other thread is kept warm and still runs the pool's work; after the drop none is.
#[test]
fn the_other_threads_spin_until_the_guard_is_dropped() {
    pool(3).install(|| spins_then_stops(keep_warm().expect("three threads"), 2));
}

/// From a thread outside any pool (the global pool's threads are the ones kept warm): all of
/// them.
#[test]
fn from_outside_the_pool_every_thread_spins() {
    let Some(warm) = keep_warm() else {
        assert_eq!(
            rayon::current_num_threads(),
            1,
            "only one thread has nothing to keep warm"
        );
        return;
    };
    spins_then_stops(warm, rayon::current_num_threads());
}

#[test]
fn a_pool_of_one_thread_has_nothing_to_keep_warm() {
    assert!(pool(1).install(keep_warm).is_none());
}
