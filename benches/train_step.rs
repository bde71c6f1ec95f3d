//! One training step (forward, backward, AdaBelief update) per model (mlp, deep-mlp, lenet),
//! per backend (flex, ndarray, and wgpu when an adapter is available) and per batch size (64,
//! 256), from the same initial weights and batch.
//!
//! `cargo bench --bench train_step [FILTER...]` prints, per combination, the first-step latency
//! (kernel compilation and autotuning on wgpu), then the median and mean of the timed steps and
//! the ratio of the median to flex's for the same model and batch, measured in the same run.
//! A filter keeps the combinations whose `model/backend/batch` label contains it (e.g. `lenet`,
//! `flex`, `/64`). `EMBER_BENCH_STEPS` sets the timed steps (default 20). Figures are recorded
//! in BENCHMARKS.md.
//!
//! A plain harness rather than criterion: criterion's dependencies switch on features of crates
//! Burn shares (num-traits/std), which would make `cargo test` and `cargo run` build Burn twice.

use std::collections::HashMap;
use std::time::Instant;

use ember::backend::{self, BackendKind};
use ember::learner::init_model;
use ember::learner::step::{loss_fn, train_step};
use ember::optim::OptimizerConfig;
use ember_datasets::{DatasetKind, ImageBatcher, Split, load, locate};
use ember_models::ModelKind;

const BATCHES: [usize; 2] = [64, 256];
const WARMUP: usize = 3;

fn main() {
    let _runtime_dir = backend::quiet_headless_vulkan();
    // `cargo bench` passes `--bench`; other arguments are filters.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let steps: usize = std::env::var("EMBER_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = locate(DatasetKind::Mnist, None).expect("MNIST");
    let train = load(&dir, Split::Train).expect("MNIST train split");
    let batcher = ImageBatcher::new(DatasetKind::Mnist);
    println!("train step, AdaBelief, {steps} timed steps after {WARMUP} warm-up steps");
    // Flex's median per (model, batch), for the ratios.
    let mut flex_median: HashMap<(ModelKind, usize), f64> = HashMap::new();
    for kind in BackendKind::ALL {
        let wanted = |model: ModelKind, batch: usize| {
            let label = format!("{model}/{kind}/{batch}");
            filters.is_empty() || filters.iter().any(|f| label.contains(f.as_str()))
        };
        if !ModelKind::ALL
            .iter()
            .any(|&m| BATCHES.iter().any(|&b| wanted(m, b)))
        {
            continue;
        }
        let backend = match backend::select(kind, None) {
            Ok(b) => b,
            Err(e) => {
                println!("{kind:8} not available: {e}");
                continue;
            }
        };
        println!("{kind} [{}]", backend.device_name);
        let device = backend.device.clone().autodiff();
        for model_kind in ModelKind::ALL {
            for batch_size in BATCHES {
                if !wanted(model_kind, batch_size) {
                    continue;
                }
                let batch = batcher.batch_raw(
                    &train.images[..batch_size * 784],
                    &train.labels[..batch_size],
                    &device,
                );
                let loss = loss_fn(&device);
                let mut optimizer = OptimizerConfig::AdaBelief(Default::default()).init();
                let mut model = init_model(model_kind, 1, &device);
                let mut times = Vec::with_capacity(WARMUP + steps);
                for _ in 0..WARMUP + steps {
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
                let median = timed[steps / 2];
                let mean = timed.iter().sum::<f64>() / steps as f64;
                if kind == BackendKind::Flex {
                    flex_median.insert((model_kind, batch_size), median);
                }
                let ratio = flex_median
                    .get(&(model_kind, batch_size))
                    .map_or(String::new(), |f| format!("  {:.2}x flex", median / f));
                println!(
                    "  {:<8} batch {batch_size:3}  first step {first:9.1} ms  median {median:8.2} ms  mean {mean:8.2} ms  {:8.0} images/s{ratio}",
                    model_kind.name(),
                    batch_size as f64 / median * 1e3,
                );
            }
        }
    }
}
