//! One optimizer step on LeNet's parameters (flex backend), for every ember optimizer and for
//! Burn's own Adam (with torch's ε) as the baseline.
//!
//! The gradients are real: before each step, one forward and backward pass of LeNet on 256
//! MNIST training images (untimed). Only `ModuleOptimizer::step` is timed: `WARMUP` steps
//! first (the first creates the state), then the median of `STEPS` steps, reported in
//! milliseconds and as a ratio to Burn's Adam measured in the same run.
//!
//! `cargo bench --bench optim_step` (a filter argument selects optimizers by name).
//!
//! A plain harness rather than criterion, for the reason given in benches/train_step.rs.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig as BurnAdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use ember::optim::{OptimizerConfig, RpropConfig, RpropVariant};
use ember_datasets::{DatasetKind, ImageBatcher, Split, load, locate};
use ember_models::ModelKind;

const BATCH: usize = 256;
const WARMUP: usize = 3;
const STEPS: usize = 31;

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let dir = locate(DatasetKind::Mnist, None).expect("MNIST");
    let train = load(&dir, Split::Train).expect("MNIST train split");
    let device = Device::flex().autodiff();
    let batch = ImageBatcher::new(DatasetKind::Mnist).batch_raw(
        &train.images[..BATCH * 784],
        &train.labels[..BATCH],
        &device,
    );
    let loss = CrossEntropyLossConfig::new().init(&device);

    let burn_adam = || -> ModuleOptimizer { BurnAdamConfig::new().with_epsilon(1e-8).init() };
    let mut candidates: Vec<(String, Box<dyn Fn() -> ModuleOptimizer>)> =
        vec![("burn-adam".into(), Box::new(burn_adam))];
    let mut configs: Vec<(String, OptimizerConfig)> = OptimizerConfig::NAMES
        .iter()
        .map(|n| (n.to_string(), n.parse().expect("known name")))
        .collect();
    configs.push((
        "rprop-plus".into(),
        OptimizerConfig::Rprop(RpropConfig {
            variant: RpropVariant::RpropPlus,
            ..Default::default()
        }),
    ));
    for (name, config) in configs {
        candidates.push((name, Box::new(move || config.init())));
    }

    println!(
        "one optimizer step on LeNet's parameters (flex), median of {STEPS} steps after {WARMUP} warm-up steps"
    );
    let mut baseline = None;
    for (name, make) in candidates {
        if name != "burn-adam"
            && !filters.is_empty()
            && !filters.iter().any(|f| name.contains(f.as_str()))
        {
            continue;
        }
        let mut optimizer = make();
        let mut model = ModelKind::Lenet.init(&device);
        let mut times = Vec::with_capacity(STEPS);
        for i in 0..WARMUP + STEPS {
            let logits = model.forward(batch.images.clone());
            let value = loss.forward(logits, batch.targets.clone());
            let grads = GradientsParams::from_grads(value.backward(), &model);
            let start = Instant::now();
            model = optimizer.step(1e-3, model, grads);
            let elapsed = start.elapsed().as_secs_f64() * 1e3;
            if i >= WARMUP {
                times.push(elapsed);
            }
        }
        times.sort_by(f64::total_cmp);
        let median = times[STEPS / 2];
        let base = *baseline.get_or_insert(median);
        println!(
            "{name:12} median {median:7.3} ms  {:5.2}x burn-adam",
            median / base
        );
    }
}
