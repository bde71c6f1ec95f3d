//! One training step (forward, backward, AdaBelief update) per model (mlp, deep-mlp, lenet),
//! per backend (flex, ndarray, and wgpu when an adapter is available) and per batch size (64,
//! 256), from the same initial weights and batch; criterion.
//!
//! `cargo bench --bench train_step [-- FILTER]`: criterion's report per `train_step-MODEL/
//! BACKEND/BATCH` (e.g. filter `lenet/flex`, `train_step-mlp`), then the first-step latency of
//! each (kernel compilation and autotuning on wgpu) and the ratio of each median to flex's for
//! the same model and batch, from the same run (keep flex in the filter for the ratios). Each
//! case cycles through 8 training batches and starts again from its initial weights every 100
//! steps (`RESET_EVERY`), so that the timed steps are those of early training.
//! Figures are recorded in BENCHMARKS.md.

mod common;

use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkId, SamplingMode};
use ember::backend::{self, BackendKind};
use ember::learner::init_model;
use ember::learner::step::train_step;
use ember_datasets::{DatasetKind, ImageBatcher, Split, load, locate};
use ember_models::ModelKind;
use ember_optim::OptimizerConfig;

const BATCHES: [usize; 2] = [64, 256];
/// Steps from one initialization. Criterion runs thousands of steps; trained that long on a few
/// batches, the weights and AdaBelief's belief `s` drift toward subnormal floats, and a step
/// gets slower than it ever is in an epoch (MLP batch 64: 0.5 ms after 20 steps, 0.9 ms after
/// 3,000). Every `RESET_EVERY` steps the model and optimizer start again (untimed).
const RESET_EVERY: u64 = 100;
/// Distinct training batches, used in turn.
const DISTINCT_BATCHES: usize = 8;

fn main() {
    let start = SystemTime::now();
    let _runtime_dir = backend::quiet_headless_vulkan();
    let mut criterion = common::criterion();
    let dir = locate(DatasetKind::Mnist, None).expect("MNIST");
    let train = load(&dir, Split::Train).expect("MNIST train split");
    let batcher = ImageBatcher::new(DatasetKind::Mnist);
    let mut ran = Vec::new();
    for kind in BackendKind::ALL {
        let backend = match backend::select(kind, None) {
            Ok(b) => b,
            Err(e) => {
                println!("{kind}: not available: {e}");
                continue;
            }
        };
        println!("{kind}: {}", backend.device_name);
        let device = backend.device.clone().autodiff();
        for model_kind in ModelKind::ALL {
            let group_name = format!("train_step-{}", model_kind.name());
            let mut group = criterion.benchmark_group(&group_name);
            // The slow cases (ndarray, lavapipe) take a second a step at batch 256: time a
            // fixed number of steps per sample instead of criterion's growing ramp.
            group.sampling_mode(SamplingMode::Flat).sample_size(10);
            for batch_size in BATCHES {
                let id = BenchmarkId::new(kind.to_string(), batch_size);
                let batches: Vec<_> = (0..DISTINCT_BATCHES)
                    .map(|i| {
                        let images = i * batch_size..(i + 1) * batch_size;
                        batcher.batch_raw(
                            &train.images[images.start * 784..images.end * 784],
                            &train.labels[images],
                            &device,
                        )
                    })
                    .collect();
                let start_again = || {
                    let optimizer = OptimizerConfig::AdaBelief(Default::default()).init();
                    (Some(init_model(model_kind, 1, &device)), optimizer)
                };
                let (mut slot, mut optimizer) = start_again();
                let mut steps = 0u64;
                let mut first_step = None;
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let mut timed = Duration::ZERO;
                        for _ in 0..iters {
                            if steps > 0 && steps.is_multiple_of(RESET_EVERY) {
                                (slot, optimizer) = start_again();
                            }
                            let batch = &batches[steps as usize % DISTINCT_BATCHES];
                            steps += 1;
                            let model = slot.take().expect("put back after each step");
                            let started = Instant::now();
                            let (next, out) = train_step(model, &mut optimizer, batch, 1e-3);
                            // Reading the loss waits for asynchronous backends (wgpu).
                            let _: f32 = out.loss.into_scalar();
                            let elapsed = started.elapsed();
                            slot = Some(next);
                            // The first step: kernel compilation and autotuning on wgpu.
                            first_step.get_or_insert(elapsed);
                            timed += elapsed;
                        }
                        timed
                    })
                });
                let first: Duration = first_step.unwrap_or_default();
                // criterion's directory for the id: <function>/<parameter>.
                let dir = format!("{kind}/{batch_size}");
                if common::median_ms(&group_name, &dir, start).is_some() {
                    println!(
                        "{group_name}/{dir}: first step {:.1} ms",
                        first.as_secs_f64() * 1e3
                    );
                    ran.push((group_name.clone(), dir, batch_size));
                }
            }
            group.finish();
        }
    }
    criterion.final_summary();
    // Ratios to flex for the same model and batch size, from this run.
    for model_kind in ModelKind::ALL {
        let group = format!("train_step-{}", model_kind.name());
        for batch_size in BATCHES {
            let ids: Vec<String> = ran
                .iter()
                .filter(|(g, _, b)| *g == group && *b == batch_size)
                .map(|(_, id, _)| id.clone())
                .collect();
            if !ids.is_empty() {
                common::print_ratios(&group, &ids, &format!("flex/{batch_size}"), start);
            }
        }
    }
}
