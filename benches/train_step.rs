//! One LeNet training step (forward, backward, AdaBelief update) at batch 256 on each backend,
//! from the same initial weights and batch. wgpu is included when an adapter is available.
//!
//! `cargo bench --bench train_step`; figures are recorded in BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use ember::backend::{self, BackendKind};
use ember::learner::init_model;
use ember::learner::step::{loss_fn, train_step};
use ember::optim::OptimizerConfig;
use ember_datasets::{DatasetKind, ImageBatcher, Split, load, locate};
use ember_models::ModelKind;

const BATCH: usize = 256;

fn lenet_step(c: &mut Criterion) {
    let dir = locate(DatasetKind::Mnist, None).expect("MNIST");
    let train = load(&dir, Split::Train).expect("MNIST train split");
    let batcher = ImageBatcher::new(DatasetKind::Mnist);
    let mut group = c.benchmark_group("lenet_train_step_b256");
    group.sample_size(10);
    for kind in BackendKind::ALL {
        let Ok(backend) = backend::select(kind, None) else {
            eprintln!("{kind}: not available, skipped");
            continue;
        };
        let device = backend.device.clone().autodiff();
        let batch = batcher.batch_raw(&train.images[..BATCH * 784], &train.labels[..BATCH], &device);
        let loss = loss_fn(&device);
        let mut optimizer = OptimizerConfig::AdaBelief(Default::default()).init();
        let mut model = Some(init_model(ModelKind::Lenet, 1, &device));
        group.bench_function(kind.name(), |b| {
            b.iter(|| {
                let current = model.take().expect("model");
                let (next, out) = train_step(current, &mut optimizer, &loss, &batch, 1e-3);
                // Read the loss so the step has finished on asynchronous backends.
                let value: f32 = out.loss.into_scalar();
                model = Some(next);
                value
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lenet_step);
criterion_main!(benches);
