//! Data loading per epoch over the MNIST training split (60,000 images), shuffled as `train`
//! shuffles, without training; criterion.
//!
//! Two sources (`ember_datasets::BatchSource`): `host`, ember's batcher through Burn's data
//! loader onto the flex device (what the CPU backends use), and `device`, the split uploaded
//! once as bytes and each batch selected, unpacked and normalized there (what wgpu uses; timed
//! here on flex, where it measures the cutting, not a transfer). Each batch's labels are summed on the device and read back, so
//! the figures include building every tensor.
//!
//! `cargo bench --bench data_loading [-- FILTER]`. Figures: BENCHMARKS.md.

mod common;

use std::time::SystemTime;

use burn::tensor::Device;
use criterion::{BenchmarkId, SamplingMode};
use ember::learner::epoch_seed;
use ember_datasets::{
    BatchSource, DatasetKind, ImageBatcher, InMemoryDataset, Split, load, locate,
};

const GROUP: &str = "data_loading";

fn main() {
    let start = SystemTime::now();
    let mut criterion = common::criterion();
    let dir = locate(DatasetKind::Mnist, None).expect("MNIST");
    let train = InMemoryDataset::new(load(&dir, Split::Train).expect("MNIST train split"));
    let images = train.data().len();
    let batcher = ImageBatcher::new(DatasetKind::Mnist);
    let device = Device::flex();
    let sources = [
        ("host", BatchSource::on_host(train.clone(), batcher)),
        ("device", BatchSource::on_device(&train, batcher, &device)),
    ];
    let mut group = criterion.benchmark_group(GROUP);
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let mut ids = Vec::new();
    for (name, source) in &sources {
        for batch_size in [64, 256] {
            let mut epoch = 0;
            group.bench_function(BenchmarkId::new(*name, batch_size), |b| {
                b.iter(|| {
                    epoch += 1;
                    let batches = source
                        .epoch(batch_size, Some(epoch_seed(42, epoch)), &device)
                        .expect("an epoch of batches");
                    let mut label_sum = 0i64;
                    let mut count = 0usize;
                    for batch in batches.iter() {
                        label_sum += batch.expect("batch").targets.sum().into_scalar::<i64>();
                        count += 1;
                    }
                    assert_eq!(count, images.div_ceil(batch_size));
                    label_sum
                })
            });
            ids.push(format!("{name}/{batch_size}"));
        }
    }
    group.finish();
    criterion.final_summary();
    common::print_ratios(GROUP, &ids, "host/64", start);
}
