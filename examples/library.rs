//! ember as a library: a network of our own (not one of the zoo's) on data this example makes
//! itself, trained by ember's learner with early stopping, top-k checkpoint selection,
//! TensorBoard and CSV logs, a learning-rate schedule and a callback of our own with a state
//! that resumes exactly.
//!
//! The data: cs231n's three-armed spiral (Karpathy, "CS231n: Convolutional Neural Networks for
//! Visual Recognition", neural-networks-case-study), 2-D points of 3 classes that no linear
//! classifier separates; 600 points for training, 300 for validation, from a fixed seed.
//!
//! ```text
//! cargo run --release --example library [RUN_DIR]
//! ```
//!
//! writes `RUN_DIR` (default `runs/library-example`): `metrics.csv`, `metrics.jsonl`,
//! `tensorboard/`, `checkpoints/` (resume with the same command: it continues from the latest
//! checkpoint) and `models/` (the two best epochs by validation accuracy). docs/library.md
//! explains each piece; `tests/library.rs` interrupts this run mid-epoch, resumes it, and checks
//! that weights and logs equal those of the run that was not interrupted, bit for bit.

use std::path::{Path, PathBuf};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Int, Tensor, TensorData};
use ember_engine::callbacks::Logs;
use ember_engine::callbacks::early_stopping::{EarlyStopping, EarlyStoppingConfig};
use ember_engine::callbacks::model_checkpoint::{ModelCheckpoint, ModelCheckpointConfig};
use ember_engine::checkpoint;
use ember_engine::schedule::{LrSchedule, ScheduleUnit};
use ember_engine::tensorboard::UpdateFreq;
use ember_engine::{
    Callback, CheckpointSelector, Classification, ConsoleLogger, Context, CsvLogger, DatasetSource,
    EarlyStopper, EngineError, FitOutcome, JsonlLogger, Learner, LearnerConfig, Scheduler,
    StepOutput, TensorBoard,
};
use ember_optim::AdamConfig;
use serde::{Deserialize, Serialize};

/// Points per class in the training and the validation split.
const TRAIN_PER_CLASS: usize = 200;
const VALID_PER_CLASS: usize = 100;
const CLASSES: usize = 3;
const HIDDEN: usize = 64;

/// Our own network: 2 → 64 (ReLU) → 64 (ReLU) → 3 logits.
#[derive(Module, Debug)]
pub struct SpiralNet {
    input: Linear,
    hidden: Linear,
    output: Linear,
    activation: Relu,
}

impl SpiralNet {
    /// Weights drawn from `seed` on the CPU and moved to `device`, so every backend starts from
    /// the same ones. [`ember_engine::init::seeded`] keeps the draws to this seed when other
    /// threads initialize models at the same time (Burn's generator is one per process).
    pub fn new(seed: u64, device: &Device) -> Self {
        let net = ember_engine::init::seeded(seed, |cpu| Self {
            input: LinearConfig::new(2, HIDDEN).init(cpu),
            hidden: LinearConfig::new(HIDDEN, HIDDEN).init(cpu),
            output: LinearConfig::new(HIDDEN, CLASSES).init(cpu),
            activation: Relu::new(),
        });
        // A device move keeps tensors untracked; `train` turns autodiff on.
        net.to_device(device).train()
    }

    /// Points `[batch, 2]` to logits `[batch, 3]`.
    pub fn forward(&self, points: Tensor<2>) -> Tensor<2> {
        let x = self.activation.forward(self.input.forward(points));
        let x = self.activation.forward(self.hidden.forward(x));
        self.output.forward(x)
    }
}

/// One labelled point.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    xy: [f32; 2],
    class: i64,
}

/// A batch: points `[batch, 2]` and their classes `[batch]`.
#[derive(Debug, Clone)]
pub struct SpiralBatch {
    points: Tensor<2>,
    classes: Tensor<1, Int>,
}

/// Burn's batcher interface: items to tensors on a device.
#[derive(Debug, Clone, Copy)]
pub struct SpiralBatcher;

impl Batcher<Point, SpiralBatch> for SpiralBatcher {
    fn batch(&self, items: Vec<Point>, device: &Device) -> SpiralBatch {
        let n = items.len();
        let xy: Vec<f32> = items.iter().flat_map(|p| p.xy).collect();
        let classes: Vec<i64> = items.iter().map(|p| p.class).collect();
        SpiralBatch {
            points: Tensor::from_data(TensorData::new(xy, [n, 2]), device),
            classes: Tensor::from_data(TensorData::new(classes, [n]), device),
        }
    }
}

/// The spiral: class k's arm turns through 4 radians as the radius grows from 0 to 1, with
/// Gaussian noise of 0.2 radians on the angle (cs231n's recipe). The noise comes from a small
/// fixed generator (SplitMix64 and Box-Muller), so the data is the same on every machine.
pub fn spiral(per_class: usize, seed: u64) -> Vec<Point> {
    let mut state = seed;
    let mut uniform = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut points = Vec::with_capacity(per_class * CLASSES);
    for class in 0..CLASSES {
        for i in 0..per_class {
            let r = i as f64 / per_class as f64;
            let gaussian = (-2.0 * (1.0 - uniform()).ln()).sqrt()
                * (2.0 * std::f64::consts::PI * uniform()).cos();
            let t = class as f64 * 4.0 + r * 4.0 + gaussian * 0.2;
            points.push(Point {
                xy: [(r * t.sin()) as f32, (r * t.cos()) as f32],
                class: class as i64,
            });
        }
    }
    points
}

/// Our own callback with a state: counts the epochs whose validation accuracy beat every
/// earlier one, and logs the count as `record_epochs` (so the CSV, early stopping or a
/// checkpoint template could use it). Its state is in every checkpoint under "records".
#[derive(Debug, Default)]
pub struct Records {
    state: RecordsState,
}

/// What a checkpoint stores of [`Records`]. The best accuracy is a float: written with
/// `exact_f64`, it reads back bit for bit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RecordsState {
    count: usize,
    #[serde(with = "ember_engine::callbacks::exact_f64::option")]
    best: Option<f64>,
}

impl<M> Callback<M> for Records {
    fn name(&self) -> String {
        "records".into()
    }

    fn on_epoch_end(&mut self, ctx: &mut Context<'_, M>, logs: &mut Logs) -> Result<(), String> {
        let accuracy = logs["val_accuracy"];
        if self.state.best.is_none_or(|best| accuracy > best) {
            self.state.best = Some(accuracy);
            self.state.count += 1;
            ctx.message(format!(
                "epoch {}: a new record, val_accuracy {accuracy:.4}",
                ctx.epoch
            ));
        }
        logs.insert("record_epochs".into(), self.state.count as f64);
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.state).ok()
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<(), String> {
        self.state = serde_json::from_value(state).map_err(|e| format!("records: {e}"))?;
        Ok(())
    }
}

/// How [`train`] runs: where, and what the caller adds.
pub struct Run {
    /// The run directory.
    pub dir: PathBuf,
    /// Continue from the latest checkpoint in `dir` if there is one.
    pub resume: bool,
    /// More callbacks after ours (a test's interrupter).
    pub extra: Vec<Box<dyn Callback<SpiralNet>>>,
    /// Set it to stop after the current step with a checkpoint.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Print each epoch and the callbacks' messages.
    pub verbose: bool,
}

/// Trains [`SpiralNet`] on the spiral for up to 60 epochs; see the module documentation.
///
/// # Errors
/// The learner's: a callback's, a checkpoint that cannot be written or read.
pub fn train(run: Run) -> Result<FitOutcome<SpiralNet>, EngineError> {
    let device = Device::flex().autodiff();
    let train_data =
        DatasetSource::new(InMemDataset::new(spiral(TRAIN_PER_CLASS, 1)), SpiralBatcher);
    let valid_data =
        DatasetSource::new(InMemDataset::new(spiral(VALID_PER_CLASS, 2)), SpiralBatcher);
    let config = LearnerConfig {
        epochs: 60,
        batch_size: 32,
        learning_rate: 1e-2,
        seed: 7,
        run_dir: Some(run.dir.clone()),
        // Mid-epoch checkpoints too (every 8 of an epoch's 19 steps).
        checkpoint_every: Some(8),
        ..Default::default()
    };
    let classification = Classification::new().top_k(2);
    let step = move |net: &SpiralNet, batch: SpiralBatch| -> StepOutput {
        classification.output(net.forward(batch.points), batch.classes)
    };
    let early_stopping = EarlyStopping::new(EarlyStoppingConfig {
        monitor: "val_loss".into(),
        patience: 3,
        min_delta: 1e-3,
        restore_best_weights: true,
        ..Default::default()
    })?;
    let top_two = ModelCheckpoint::new(ModelCheckpointConfig {
        filename: "epoch{epoch:02d}-acc{val_accuracy:.3f}".into(),
        monitor: Some("val_accuracy".into()),
        save_top_k: Some(2),
        save_weights_only: true,
        ..Default::default()
    })?;
    let mut learner = Learner::new(
        SpiralNet::new(42, &device),
        AdamConfig::default().init(),
        step,
        device,
        config.clone(),
    )
    .callback(Scheduler {
        // ×0.5 every 10 epochs (torch's StepLR).
        schedule: LrSchedule::Step {
            step_size: 10,
            gamma: 0.5,
        },
        unit: ScheduleUnit::Epoch,
        base_lr: config.learning_rate,
    })
    .callback(Records::default())
    .callback(EarlyStopper::new(early_stopping))
    .callback(CheckpointSelector::new(top_two))
    .callback(TensorBoard::new(UpdateFreq::Batches(5)))
    .callback(CsvLogger::default())
    .callback(JsonlLogger::default());
    if run.verbose {
        learner = learner.callback(ConsoleLogger);
    }
    for extra in run.extra {
        learner = learner.boxed_callback(extra);
    }
    if let Some(stop) = run.stop {
        learner = learner.stop_flag(stop);
    }
    if run.resume && checkpoint::has_checkpoints(&run.dir) {
        learner = learner.resume(checkpoint::latest(&run.dir)?)?;
    }
    let train_source: &DatasetSource<_, _, _, _> = &train_data;
    learner.fit(train_source, Some(&valid_data))
}

fn main() -> Result<(), EngineError> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| Path::new("runs").join("library-example"), PathBuf::from);
    let outcome = train(Run {
        dir: dir.clone(),
        resume: true,
        extra: Vec::new(),
        stop: None,
        verbose: true,
    })?;
    if let FitOutcome::Finished(result) = outcome {
        let last = result.history.last().map(|row| &row.logs);
        println!(
            "trained {} epochs ({} steps){}; last epoch: val_accuracy {:.4}, val_loss {:.4}; run directory {}",
            result.history.len(),
            result.global_step,
            result.stopped.map_or(String::new(), |reason| format!(
                ", stopped early ({})",
                reason.trim_end_matches('.')
            )),
            last.map_or(f64::NAN, |l| l["val_accuracy"]),
            last.map_or(f64::NAN, |l| l["val_loss"]),
            dir.display()
        );
    }
    Ok(())
}
