//! Data loading per epoch: ember's batcher through Burn's data loader over the MNIST training
//! split (60,000 images), shuffled as `train` shuffles, onto the flex device, without training.
//!
//! `cargo bench --bench data_loading` prints, per batch size, the median of 5 epochs (after
//! one warm-up epoch), the time per batch and images/s, and the share of a flex LeNet epoch
//! this is (see BENCHMARKS.md). Each batch's labels are summed on the device and read back, so
//! the figures include building and uploading every tensor.
//!
//! A plain harness: see benches/train_step.rs.

use std::time::Instant;

use burn::data::dataloader::DataLoaderBuilder;
use burn::tensor::Device;
use ember::learner::epoch_seed;
use ember_datasets::{DatasetKind, ImageBatcher, InMemoryDataset, Split, load, locate};

const EPOCHS: usize = 5;

fn main() {
    let dir = locate(DatasetKind::Mnist, None).expect("MNIST");
    let train = InMemoryDataset::new(load(&dir, Split::Train).expect("MNIST train split"));
    let images = train.data().len();
    let batcher = ImageBatcher::new(DatasetKind::Mnist);
    let device = Device::flex();
    println!(
        "data loading: MNIST train ({images} images), shuffled, flex device, median of {EPOCHS} epochs after 1 warm-up"
    );
    for batch_size in [64, 256] {
        let mut times = Vec::with_capacity(EPOCHS + 1);
        for epoch in 0..=EPOCHS {
            let loader = DataLoaderBuilder::new(batcher)
                .batch_size(batch_size)
                .shuffle(epoch_seed(42, epoch + 1))
                .set_device(device.clone())
                .build(train.clone());
            let start = Instant::now();
            let mut label_sum = 0i64;
            let mut batches = 0usize;
            for batch in loader.iter() {
                let batch = batch.expect("batch");
                label_sum += batch.targets.sum().into_scalar::<i64>();
                batches += 1;
            }
            times.push(start.elapsed().as_secs_f64());
            assert_eq!(batches, images.div_ceil(batch_size));
            assert!(label_sum > 0);
        }
        let mut timed = times[1..].to_vec();
        timed.sort_by(f64::total_cmp);
        let median = timed[EPOCHS / 2];
        println!(
            "  batch {batch_size:3}: epoch {:7.1} ms  per batch {:6.3} ms  {:9.0} images/s",
            median * 1e3,
            median * 1e3 / images.div_ceil(batch_size) as f64,
            images as f64 / median
        );
    }
}
