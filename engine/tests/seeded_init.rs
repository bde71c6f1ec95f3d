//! `init::seeded` under threads, in a test binary of its own: Burn's generator is one per
//! process, and another test of the same binary drawing from it without `seeded` (as the
//! engine's unit tests do) would interleave with these draws, which `seeded` documents it does
//! not prevent.

use burn::nn::LinearConfig;
use burn::tensor::TensorData;
use ember_engine::init::seeded;

fn weights(seed: u64) -> TensorData {
    let linear = seeded(seed, |cpu| LinearConfig::new(64, 64).init(cpu));
    assert!(
        linear.weight.is_initialized(),
        "drawn after the lock was released"
    );
    linear.weight.val().into_data()
}

/// Threads that initialize with different seeds at the same time each get their seed's weights,
/// as a single thread does (without the lock, their draws interleave).
#[test]
fn concurrent_initializations_keep_their_seeds() {
    let alone: Vec<TensorData> = (0..4).map(weights).collect();
    let together: Vec<Vec<TensorData>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|seed| scope.spawn(move || (0..20).map(|_| weights(seed)).collect()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (seed, runs) in together.iter().enumerate() {
        for run in runs {
            assert_eq!(run, &alone[seed], "seed {seed}");
        }
    }
    assert_ne!(alone[0], alone[1]);
}
