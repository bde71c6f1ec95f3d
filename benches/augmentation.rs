//! What data augmentation costs a LeNet epoch on flex (issue: "augmentation must not starve
//! the step"): the same LeNet training steps (batch 64, AdaBelief) on batches built by the plain
//! host source and by [`ember_datasets::AugmentedSource`] with the seed's recipe
//! (torchvision's RandomRotation(30); RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1));
//! ColorJitter(0.2, 0.2); plus Gaussian noise 0.1), and with Simard's elastic distortion; and
//! the batches alone, without training. Each sample is 50 steps (3,200 images) of an epoch's
//! order, batch building included; criterion.
//!
//! `cargo bench --bench augmentation`: criterion's report, then each case's median relative to
//! the plain source's, from the same run. Figures are recorded in BENCHMARKS.md.

mod common;

use std::time::{Duration, Instant, SystemTime};

use criterion::SamplingMode;
use ember::learner::init_model;
use ember::learner::step::train_step;
use ember_datasets::{
    Augmentation, AugmentedSource, BatchSource, DatasetKind, ImageBatch, ImageBatcher,
    InMemoryDataset, Split, load, locate,
};
use ember_engine::EpochSource;
use ember_models::ModelKind;
use ember_optim::OptimizerConfig;

/// The seed's recipe (seed 003, HW2 Q5), with noise.
const SEED_RECIPE: &str = "rotate=30,affine=20:0.1:0.9-1.1,jitter=0.2:0.2,noise=0.1";
/// Simard et al.'s elastic distortion for MNIST.
const ELASTIC: &str = "elastic=34:4";
const STEPS: usize = 50;
const BATCH: usize = 64;

fn main() {
    let start = SystemTime::now();
    let mut criterion = common::criterion();
    let dir = locate(DatasetKind::Mnist, None).expect("MNIST");
    let train = InMemoryDataset::new(load(&dir, Split::Train).expect("MNIST train split"));
    let batcher = ImageBatcher::new(DatasetKind::Mnist);
    let device = burn::tensor::Device::flex().autodiff();
    let recipe = |spec: &str| spec.parse::<Augmentation>().expect("recipe");
    let sources: Vec<(&str, Box<dyn EpochSource<Batch = ImageBatch>>)> = vec![
        (
            "plain",
            Box::new(BatchSource::on_host(train.clone(), batcher)),
        ),
        (
            "seed-recipe",
            Box::new(AugmentedSource::new(
                train.clone(),
                batcher,
                recipe(SEED_RECIPE),
            )),
        ),
        (
            "elastic",
            Box::new(AugmentedSource::new(
                train.clone(),
                batcher,
                recipe(ELASTIC),
            )),
        ),
    ];
    let group_name = "augmentation-lenet-flex";
    let mut group = criterion.benchmark_group(group_name);
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let mut ids = Vec::new();
    for (name, source) in &sources {
        let mut epoch = 0u64;
        let mut model = Some(init_model(ModelKind::Lenet, 1, &device));
        let mut optimizer = OptimizerConfig::AdaBelief(Default::default()).init();
        group.bench_function(format!("train-{name}"), |b| {
            b.iter_custom(|iters| {
                time_batches(source.as_ref(), &mut epoch, iters, &device, |batch| {
                    let (next, out) = train_step(
                        model.take().expect("put back"),
                        &mut optimizer,
                        &batch,
                        1e-3,
                    );
                    let _: f32 = out.loss.into_scalar();
                    model = Some(next);
                })
            })
        });
        ids.push(format!("train-{name}"));
        group.bench_function(format!("batches-only-{name}"), |b| {
            b.iter_custom(|iters| {
                time_batches(source.as_ref(), &mut epoch, iters, &device, |batch| {
                    std::hint::black_box(batch);
                })
            })
        });
        ids.push(format!("batches-only-{name}"));
    }
    group.finish();
    criterion.final_summary();
    common::print_ratios(group_name, &ids, "train-plain", start);
}

/// The time of `iters` samples, each the first `STEPS` batches of a new epoch of `source`
/// (its number counted in `epoch`), built and handed to `each`.
fn time_batches(
    source: &dyn EpochSource<Batch = ImageBatch>,
    epoch: &mut u64,
    iters: u64,
    device: &burn::tensor::Device,
    mut each: impl FnMut(ImageBatch),
) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
        *epoch += 1;
        let batches = source
            .batches(BATCH, Some(*epoch), 0, device)
            .expect("batches");
        for batch in batches.take(STEPS) {
            each(batch.expect("batch"));
        }
    }
    started.elapsed()
}
