//! One optimizer step on LeNet's parameters (flex backend), for every ember optimizer and for
//! Burn's own Adam (with torch's ε) as the baseline; criterion.
//!
//! The gradients are real: before each step, one forward and backward pass of LeNet on 256
//! MNIST training images, untimed (`iter_custom` times `ModuleOptimizer::step` alone). The
//! optimizer state carries over from step to step, as in training, and starts again (with the
//! model) every 100 steps, untimed, so that the steps are those of early training. After
//! criterion's report,
//! the medians are printed as ratios to Burn's Adam from the same run.
//!
//! `cargo bench --bench optim_step [-- FILTER]` (criterion's filter, e.g. `rprop`; keep
//! `burn-adam` in it for the ratios). Figures: BENCHMARKS.md.

mod common;

use std::time::{Duration, Instant, SystemTime};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig as BurnAdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use ember_datasets::{DatasetKind, ImageBatcher, Split, load, locate};
use ember_models::ModelKind;
use ember_optim::{LossCell, OptimizerConfig, RpropConfig, RpropVariant};

const BATCH: usize = 256;
const GROUP: &str = "optim_step";
/// Steps from one initialization, as in benches/train_step.rs (and for the same reason: long
/// training on one batch drifts toward subnormal floats); the restart is untimed.
const RESET_EVERY: u64 = 100;

/// A name, a maker of fresh optimizers, and whether it reads the loss (iRprop⁺).
type Candidate = (String, Box<dyn Fn() -> ModuleOptimizer>, bool);

fn main() {
    let start = SystemTime::now();
    let mut criterion = common::criterion();
    let dir = locate(DatasetKind::Mnist, None).expect("MNIST");
    let train = load(&dir, Split::Train).expect("MNIST train split");
    let device = Device::flex().autodiff();
    let batch = ImageBatcher::new(DatasetKind::Mnist).batch_raw(
        &train.images[..BATCH * 784],
        &train.labels[..BATCH],
        &device,
    );
    let loss = CrossEntropyLossConfig::new().init(&device);

    // iRprop⁺ reads each step's loss from this cell, set (untimed) before its steps only.
    let step_loss = LossCell::new();
    let burn_adam = || -> ModuleOptimizer { BurnAdamConfig::new().with_epsilon(1e-8).init() };
    let mut candidates: Vec<Candidate> = vec![("burn-adam".into(), Box::new(burn_adam), false)];
    let mut configs: Vec<(String, OptimizerConfig)> = OptimizerConfig::NAMES
        .iter()
        .map(|n| (n.to_string(), n.parse().expect("known name")))
        .collect();
    for variant in [
        RpropVariant::RpropPlus,
        RpropVariant::RpropMinus,
        RpropVariant::IrpropPlus,
    ] {
        configs.push((
            variant.name().into(),
            OptimizerConfig::Rprop(RpropConfig {
                variant,
                ..Default::default()
            }),
        ));
    }
    for (name, config) in configs {
        let step_loss = step_loss.clone();
        let make = move || config.init_with_loss(&step_loss);
        candidates.push((name, Box::new(make), config.needs_loss()));
    }

    let mut group = criterion.benchmark_group(GROUP);
    for (name, make, needs_loss) in &candidates {
        let start_again = || (make(), Some(ModelKind::Lenet.init(&device)));
        // The model is taken out and put back each step: `step` takes it by value, and a
        // second reference would stop flex from reusing the parameters' buffers in place.
        let (mut optimizer, mut slot) = start_again();
        let mut steps = 0u64;
        group.bench_function(name.as_str(), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    if steps > 0 && steps.is_multiple_of(RESET_EVERY) {
                        (optimizer, slot) = start_again();
                    }
                    steps += 1;
                    let model = slot.take().expect("the model is put back after each step");
                    let logits = model.forward(batch.images.clone());
                    let value = loss.forward(logits, batch.targets.clone());
                    if *needs_loss {
                        step_loss.set(value.clone().into_scalar::<f64>());
                    }
                    let grads = GradientsParams::from_grads(value.backward(), &model);
                    let start = Instant::now();
                    slot = Some(optimizer.step(1e-3, model, grads));
                    timed += start.elapsed();
                }
                timed
            })
        });
    }
    group.finish();
    criterion.final_summary();
    let names: Vec<String> = candidates.into_iter().map(|(name, ..)| name).collect();
    common::print_ratios(GROUP, &names, "burn-adam", start);
}
