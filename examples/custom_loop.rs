//! ember's AdaBelief (the `ember-optim` crate) in a plain Burn training loop, without ember's
//! learner or its zoo: a network of our own (784-64-10, GELU), defined here with
//! `#[derive(Module)]`, on the first 6,400 MNIST training images, batch 64, 300 steps (3
//! passes), lr 1e-3, printing the mean loss every 50 steps and the accuracy on 1,000 test images
//! at the end.
//!
//! ```text
//! cargo run --release --example custom_loop
//! ```
//!
//! Any ember optimizer works the same way, with Burn's convention: `OptimizerConfig::init()` (or,
//! for one optimizer, `AdaBeliefConfig::init()`) gives a `burn::optim::ModuleOptimizer`, and
//! `ModuleOptimizer::step(lr, model, grads)` returns the updated model; `build()` gives the bare
//! optimizer, for `ModuleOptimizer::with_group`.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Gelu, Linear, LinearConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use ember_datasets::{DatasetKind, ImageBatcher, Split, load, locate};
use ember_optim::AdaBeliefConfig;

const IMAGES: usize = 6_400;
const BATCH: usize = 64;
const STEPS: usize = 300;
const LR: f64 = 1e-3;
const PIXELS: usize = 28 * 28;
const HIDDEN: usize = 64;

/// A user's own network, not one of ember's zoo: 784 → 64 (GELU) → 10 logits.
#[derive(Module, Debug)]
struct Net {
    hidden: Linear,
    activation: Gelu,
    output: Linear,
}

impl Net {
    fn new(device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(PIXELS, HIDDEN).init(device),
            activation: Gelu::new(),
            output: LinearConfig::new(HIDDEN, 10).init(device),
        }
    }

    /// `[batch, 1, 28, 28]` images to `[batch, 10]` logits.
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = images.flatten::<2>(1, 3);
        self.output
            .forward(self.activation.forward(self.hidden.forward(x)))
    }
}

fn main() -> anyhow::Result<()> {
    let dir = locate(DatasetKind::Mnist, None)?;
    let train = load(&dir, Split::Train)?;
    let test = load(&dir, Split::Test)?;
    let batcher = ImageBatcher::new(DatasetKind::Mnist);

    let device = Device::flex().autodiff();
    let mut model = Net::new(&device);
    let mut optimizer: ModuleOptimizer = AdaBeliefConfig::default().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);

    let batches = IMAGES / BATCH;
    let mut window = 0.0f64;
    let mut windows = Vec::new();
    for step in 0..STEPS {
        let start = (step % batches) * BATCH;
        let batch = batcher.batch_raw(
            &train.images[start * PIXELS..(start + BATCH) * PIXELS],
            &train.labels[start..start + BATCH],
            &device,
        );
        let logits = model.forward(batch.images);
        let loss = loss_fn.forward(logits, batch.targets);
        let value: f32 = loss.clone().detach().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(LR, model, grads);

        window += f64::from(value);
        if (step + 1) % 50 == 0 {
            let mean = window / 50.0;
            windows.push(mean);
            println!(
                "step {:3}  mean loss over the last 50 steps {mean:.4}",
                step + 1
            );
            window = 0.0;
        }
    }

    // Accuracy on 1,000 test images, without gradients.
    let eval = model.valid();
    let n = 1_000;
    let batch = batcher.batch_raw(
        &test.images[..n * PIXELS],
        &test.labels[..n],
        &Device::flex(),
    );
    let predicted = eval.forward(batch.images).argmax(1).flatten::<1>(0, 1);
    let correct: i64 = predicted.equal(batch.targets).int().sum().into_scalar();
    println!(
        "test accuracy on {n} images: {:.1}%",
        correct as f64 / n as f64 * 100.0
    );
    if let (Some(first), Some(last)) = (windows.first(), windows.last()) {
        println!("mean loss fell from {first:.4} (first 50 steps) to {last:.4} (last 50 steps)");
    }
    Ok(())
}
