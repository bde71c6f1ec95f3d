//! One LeNet training step (forward, backward, AdaBelief update) at batch 256 on each backend,
//! from the same initial weights and batch; wgpu is included when an adapter is available.
//!
//! `cargo bench --bench train_step` prints, per backend, the first-step latency (kernel
//! compilation and autotuning on wgpu), then the median and mean of the timed steps and the
//! ratio to flex measured in the same run. Figures are recorded in BENCHMARKS.md.
//!
//! A plain harness rather than criterion: criterion's dependencies switch on features of crates
//! Burn shares (num-traits/std), which would make `cargo test` and `cargo run` build Burn twice.

use std::time::Instant;

use ember::backend::{self, BackendKind};
use ember::learner::init_model;
use ember::learner::step::{loss_fn, train_step};
use ember::optim::OptimizerConfig;
use ember_datasets::{DatasetKind, ImageBatcher, Split, load, locate};
use ember_models::ModelKind;

const BATCH: usize = 256;
const WARMUP: usize = 3;
const STEPS: usize = 20;

fn main() {
    let _runtime_dir = backend::quiet_headless_vulkan();
    // `cargo bench` passes `--bench`; a filter argument selects backends by name.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let dir = locate(DatasetKind::Mnist, None).expect("MNIST");
    let train = load(&dir, Split::Train).expect("MNIST train split");
    let batcher = ImageBatcher::new(DatasetKind::Mnist);
    let mut flex_median = None;
    println!(
        "lenet train step, batch {BATCH}, AdaBelief, {STEPS} timed steps after {WARMUP} warm-up steps"
    );
    for kind in BackendKind::ALL {
        if !filters.is_empty() && !filters.iter().any(|f| kind.name().contains(f.as_str())) {
            continue;
        }
        let backend = match backend::select(kind, None) {
            Ok(b) => b,
            Err(e) => {
                println!("{kind:8} not available: {e}");
                continue;
            }
        };
        let device = backend.device.clone().autodiff();
        let batch = batcher.batch_raw(
            &train.images[..BATCH * 784],
            &train.labels[..BATCH],
            &device,
        );
        let loss = loss_fn(&device);
        let mut optimizer = OptimizerConfig::AdaBelief(Default::default()).init();
        let mut model = init_model(ModelKind::Lenet, 1, &device);
        let mut times = Vec::with_capacity(WARMUP + STEPS);
        for _ in 0..WARMUP + STEPS {
            let start = Instant::now();
            let (next, out) = train_step(model, &mut optimizer, &loss, &batch, 1e-3);
            // Reading the loss waits for asynchronous backends to finish the step.
            let _: f32 = out.loss.into_scalar();
            model = next;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let first = times[0];
        let mut timed = times[WARMUP..].to_vec();
        timed.sort_by(f64::total_cmp);
        let median = timed[STEPS / 2];
        let mean = timed.iter().sum::<f64>() / STEPS as f64;
        if kind == BackendKind::Flex {
            flex_median = Some(median);
        }
        let ratio = flex_median.map_or(String::new(), |f| format!("  {:.2}x flex", median / f));
        println!(
            "{kind:8} first step {first:9.1} ms  median {median:8.2} ms  mean {mean:8.2} ms{ratio}  [{}]",
            backend.device_name
        );
    }
}
