//! Regression through ember's learner: a small network of our own fits y = x·sin(3x) on
//! [-2, 2] from 1,024 noisy samples, with mean squared error as the loss and the mean absolute
//! error as a metric ([`ember_engine::Regression`]).
//!
//! The data source implements ember's [`EpochSource`] itself (instead of Burn's `Dataset` and
//! `Batcher`, as `examples/library.rs` does): each batch is cut from tensors already on the
//! device, in the order [`ember_engine::data::batch_order`] gives for the epoch's seed.
//!
//! ```text
//! cargo run --release --example regression
//! ```

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Tanh};
use burn::tensor::{Device, Int, Tensor, TensorData};
use ember_engine::data::{Batches, DataError, batch_order};
use ember_engine::{
    ConsoleLogger, EngineError, EpochLogs, EpochSource, FitOutcome, Learner, LearnerConfig,
    Regression, StepOutput,
};
use ember_optim::AdamConfig;

/// Our own network: 1 → 32 (tanh) → 32 (tanh) → 1.
#[derive(Module, Debug)]
pub struct Curve {
    input: Linear,
    hidden: Linear,
    output: Linear,
    activation: Tanh,
}

impl Curve {
    /// Weights drawn from `seed` (on the CPU, under [`ember_engine::init::seeded`]'s lock) and
    /// moved to `device`.
    pub fn new(seed: u64, device: &Device) -> Self {
        let curve = ember_engine::init::seeded(seed, |cpu| Self {
            input: LinearConfig::new(1, 32).init(cpu),
            hidden: LinearConfig::new(32, 32).init(cpu),
            output: LinearConfig::new(32, 1).init(cpu),
            activation: Tanh::new(),
        });
        // A device move keeps tensors untracked; `train` turns autodiff on.
        curve.to_device(device).train()
    }

    /// `[batch, 1]` inputs to `[batch, 1]` predictions.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = self.activation.forward(self.input.forward(x));
        let h = self.activation.forward(self.hidden.forward(h));
        self.output.forward(h)
    }
}

/// Inputs and targets, both `[batch, 1]`.
pub struct Pairs {
    x: Tensor<2>,
    y: Tensor<2>,
}

/// Samples of y = x·sin(3x) + noise, held on the host; batches are built on the device asked.
pub struct CurveData {
    x: Vec<f32>,
    y: Vec<f32>,
}

impl CurveData {
    /// `n` samples at evenly spaced x in [-2, 2], with noise of amplitude `noise` from a fixed
    /// sequence (so the data is the same everywhere).
    pub fn new(n: usize, noise: f32, phase: f32) -> Self {
        let x: Vec<f32> = (0..n)
            .map(|i| -2.0 + 4.0 * (i as f32 + phase) / n as f32)
            .collect();
        let y = x
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                x * (3.0 * x).sin() + noise * ((i as f32 * 12.9898).sin() * 43_758.545).fract()
            })
            .collect();
        Self { x, y }
    }
}

impl EpochSource for CurveData {
    type Batch = Pairs;

    fn len(&self) -> usize {
        self.x.len()
    }

    fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        skip: usize,
        device: &Device,
    ) -> Result<Batches<'_, Pairs>, DataError> {
        let n = self.len();
        let x = Tensor::<2>::from_data(TensorData::new(self.x.clone(), [n, 1]), device);
        let y = Tensor::<2>::from_data(TensorData::new(self.y.clone(), [n, 1]), device);
        let device = device.clone();
        let chunks = batch_order(n, batch_size, shuffle);
        Ok(Box::new(chunks.into_iter().skip(skip).map(move |rows| {
            let k = rows.len();
            let rows: Vec<i64> = rows.into_iter().map(|i| i as i64).collect();
            let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [k]), &device);
            Ok(Pairs {
                x: x.clone().select(0, rows.clone()),
                y: y.clone().select(0, rows),
            })
        })))
    }
}

/// Fits the curve for `epochs` epochs; returns the history.
///
/// # Errors
/// The learner's.
pub fn fit(epochs: usize, verbose: bool) -> Result<Vec<EpochLogs>, EngineError> {
    let device = Device::flex().autodiff();
    let config = LearnerConfig {
        epochs,
        batch_size: 64,
        learning_rate: 1e-2,
        seed: 3,
        ..Default::default()
    };
    let step = |curve: &Curve, batch: Pairs| -> StepOutput {
        Regression.output(curve.forward(batch.x), batch.y)
    };
    let mut learner = Learner::new(
        Curve::new(5, &device),
        AdamConfig::default().init(),
        step,
        device,
        config,
    );
    if verbose {
        learner = learner.callback(ConsoleLogger);
    }
    let train = CurveData::new(1024, 0.1, 0.0);
    let valid = CurveData::new(256, 0.0, 0.5);
    match learner.fit(&train, Some(&valid))? {
        FitOutcome::Finished(result) => Ok(result.history),
        FitOutcome::Interrupted { .. } => unreachable!("no stop flag was given"),
    }
}

fn main() -> Result<(), EngineError> {
    let history = fit(40, true)?;
    if let (Some(first), Some(last)) = (history.first(), history.last()) {
        println!(
            "val_loss (MSE) {:.4} after epoch 1, {:.4} after epoch {}; val_mae {:.4}",
            first.logs["val_loss"], last.logs["val_loss"], last.epoch, last.logs["val_mae"]
        );
    }
    Ok(())
}
