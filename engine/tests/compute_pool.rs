//! `threads::join_compute_pool`, in a test binary of its own: Rayon's global pool is built once
//! per process, so no other test may touch it first.

use rayon::prelude::*;

#[test]
fn the_calling_thread_becomes_worker_0_and_runs_part_of_a_parallel_loop() {
    let joined = ember_engine::threads::join_compute_pool();
    if !joined {
        // One core (or RAYON_NUM_THREADS=1): nothing to join, as documented.
        assert_eq!(rayon::current_num_threads(), 1);
        assert_eq!(rayon::current_thread_index(), None);
        return;
    }
    assert_eq!(rayon::current_thread_index(), Some(0));
    assert!(rayon::current_num_threads() >= 2);
    let caller = std::thread::current().id();
    let ran_here = (0..1024)
        .into_par_iter()
        .with_max_len(1)
        .filter(|_| std::thread::current().id() == caller)
        .count();
    assert!(ran_here > 0, "the calling thread ran none of the loop");
    // Built once: a second call changes nothing.
    assert!(!ember_engine::threads::join_compute_pool());
}
