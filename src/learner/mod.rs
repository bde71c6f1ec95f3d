//! The `train` command's training run: the zoo's model on the MNIST splits, through
//! [`ember_engine::Learner`] (the one training loop), with the callbacks the configuration asks
//! for, then what only the application does: `config.toml`, plots, the test evaluation at
//! batch 1000 and `summary.json`.
//!
//! - [`step`]: the zoo's step (cross-entropy and accuracy) and the test-set evaluation.
//! - [`summary`]: what `summary.json` holds.
//! - [`checkpoint`]: the engine's checkpoints with the run's configuration in them.
//! - [`progress`]: the progress bar and epoch lines.
//!
//! Each epoch shuffles the training split (order derived from the seed and the epoch number,
//! so a resumed run sees the same order), trains, validates, appends a row to `metrics.csv`
//! and writes a checkpoint (also every N steps on request, and when asked to stop); at the end
//! the final weights are saved and evaluated on the test split.

pub mod checkpoint;
pub mod progress;
pub mod step;
pub mod summary;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context as _;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use ember_datasets::{AugmentedSource, ImageBatch, ImageBatcher};
use ember_engine::callbacks::Logs;
use ember_engine::callbacks::early_stopping::{EarlyStopping, EarlyStoppingState};
use ember_engine::callbacks::model_checkpoint::ModelCheckpoint;
use ember_engine::callbacks::plateau::ReduceLrOnPlateau;
use ember_engine::distill::Distillation;
use ember_engine::penalty::Penalized;
use ember_engine::schedule::LrSchedule;
use ember_engine::tensorboard::UpdateFreq;
use ember_engine::{
    Callback, CheckpointSelector, Context, CsvLogger, EarlyStopper, EpochSource, JsonlLogger,
    Learner, LearnerConfig, PlateauScheduler, Scheduler, StepOutput, TargetStopper, TensorBoard,
    Timing, TrainStep,
};
use ember_models::{Model, ModelKind, ModelOptions};

pub use ember_engine::epoch_seed;

use ember_engine::lock::RunLock;

use crate::backend::Backend;
use crate::config::{TrainConfig, callback_error};
use crate::data::RunData;
use crate::distillation::{DistillStep, DistillationConfig, SoftTargets};
use crate::metrics::EpochMetrics;
use crate::run_files::{CONFIG_FILE, FINAL_MODEL_FILE, PLOTS_DIR, SUMMARY_FILE};
use checkpoint::{Checkpoint, RunRecord};
use progress::Progress;
use step::{classify, evaluate};
pub use summary::Summary;

/// Batch size of validation and test passes (no gradients, so larger than training batches).
pub const EVAL_BATCH_SIZE: usize = 1000;
/// The epoch metrics written to TensorBoard (Keras logs the model's metrics and the learning
/// rate; the timing is not).
const TENSORBOARD_METRICS: [&str; 5] = [
    "loss",
    "accuracy",
    "learning_rate",
    "val_loss",
    "val_accuracy",
];

/// How [`fit`] runs.
#[derive(Debug, Default)]
pub struct FitOptions {
    /// Directory for the configuration, metrics, checkpoints and final model.
    pub run_dir: PathBuf,
    /// Continue from this checkpoint instead of starting afresh.
    pub resume: Option<Checkpoint>,
    /// When set (by a SIGINT/SIGTERM handler), stop after the current step with a checkpoint.
    pub stop: Option<Arc<AtomicBool>>,
    /// The run directory's lock, when the caller took it before choosing the checkpoint to
    /// resume (the `train` command does); `None`: `fit` takes it before writing anything.
    pub lock: Option<RunLock>,
}

/// How a [`fit`] call ended.
#[derive(Debug, Clone)]
pub enum FitOutcome {
    /// Every epoch ran (or early stopping ended training); the final model is saved and
    /// evaluated.
    Finished(Box<Summary>),
    /// Stopped on request after a step; training continues from `checkpoint` with `--resume`.
    Interrupted {
        /// The checkpoint written at the stop.
        checkpoint: PathBuf,
        /// Optimizer steps taken.
        global_step: usize,
    },
}

/// A fresh `kind` model with weights drawn from `seed`, placed on `device`; with autodiff on
/// when `device` has it, ready to train.
///
/// The weights are always drawn on the flex CPU device and then moved, so every backend starts
/// from the same initial weights for the same seed.
pub fn init_model(kind: ModelKind, seed: u64, device: &Device) -> Model {
    init_model_with(kind, &ModelOptions::default(), seed, device)
}

/// [`init_model`] with dropout or batch normalization layers.
pub fn init_model_with(
    kind: ModelKind,
    options: &ModelOptions,
    seed: u64,
    device: &Device,
) -> Model {
    let model =
        ember_engine::init::seeded(seed, |cpu| kind.init_with(options, cpu)).to_device(device);
    // A device move keeps tensors untracked; `train` is Burn's transition to autodiff.
    if device.is_autodiff() {
        model.train()
    } else {
        model
    }
}

/// The callbacks `config` asks for, in the order they act on an epoch: timing and the console
/// first (so every later callback sees `epoch_seconds`), then the schedule, early stopping,
/// ReduceLROnPlateau, checkpoint selection, and the logs.
///
/// # Errors
/// An invalid callback configuration.
fn callbacks<'a>(
    config: &TrainConfig,
    progress: &'a mut dyn Progress,
) -> anyhow::Result<Vec<Box<dyn Callback<Model> + 'a>>> {
    let mut list: Vec<Box<dyn Callback<Model> + 'a>> = vec![
        Box::new(Timing::new("images")),
        Box::new(Console { progress }),
    ];
    if config.lr_schedule != LrSchedule::Constant {
        list.push(Box::new(Scheduler {
            schedule: config.lr_schedule.clone(),
            unit: config.schedule_unit,
            base_lr: config.lr,
        }));
    }
    if let Some(target) = &config.until {
        list.push(Box::new(TargetStopper::new(
            target.clone(),
            config.until_window,
        )));
    }
    if let Some(c) = &config.early_stopping {
        let early =
            EarlyStopping::new(c.clone()).map_err(|e| anyhow::Error::msg(callback_error(e)))?;
        list.push(Box::new(EarlyStopper::new(early)));
    }
    if let Some(c) = &config.reduce_lr_on_plateau {
        let plateau =
            ReduceLrOnPlateau::new(c.clone()).map_err(|e| anyhow::Error::msg(callback_error(e)))?;
        list.push(Box::new(PlateauScheduler::new(plateau)));
    }
    if let Some(c) = &config.model_checkpoint {
        let selection =
            ModelCheckpoint::new(c.clone()).map_err(|e| anyhow::Error::msg(callback_error(e)))?;
        list.push(Box::new(CheckpointSelector::new(selection)));
    }
    list.push(Box::new(CsvLogger::default()));
    list.push(Box::new(JsonlLogger::default()));
    if config.logging.tensorboard {
        let freq = match config.logging.update_freq {
            Some(n) => UpdateFreq::Batches(n),
            None => UpdateFreq::Epoch,
        };
        list.push(Box::new(
            TensorBoard::new(freq)
                .only(&TENSORBOARD_METRICS)
                .histograms(config.logging.histogram_freq, config.logging.write_images),
        ));
    }
    Ok(list)
}

/// Trains `config` on `backend` with `data`; see the module documentation.
///
/// Resuming from a mid-epoch checkpoint replays the epoch's data order and skips the steps
/// already taken, with the epoch's metric sums and every callback's state restored: the run
/// continues exactly where the checkpoint was written.
///
/// # Errors
/// Failure to write the run directory or a checkpoint, to read the resume checkpoint, or a
/// callback monitoring a metric that is not logged.
pub fn fit(
    config: &TrainConfig,
    backend: &Backend,
    data: &RunData,
    options: FitOptions,
    progress: &mut dyn Progress,
) -> anyhow::Result<FitOutcome> {
    let started = Instant::now();
    let run_dir = &options.run_dir;
    let lock = match options.lock {
        Some(lock) if lock.dir() == run_dir.as_path() => lock,
        Some(lock) => anyhow::bail!(
            "the lock given is for {}, the run directory is {}",
            lock.dir().display(),
            run_dir.display()
        ),
        None => RunLock::acquire(run_dir)?,
    };
    let config_file = run_dir.join(CONFIG_FILE);
    ember_engine::fsutil::write_atomic(&config_file, config.to_toml().as_bytes())
        .with_context(|| format!("cannot write {}", config_file.display()))?;
    // `train --config <run>/config.toml` must repeat the run: checked on every run (so every
    // configuration the tests use is checked), before anything trains.
    if TrainConfig::from_toml_file(&config_file).as_ref() != Ok(config) {
        anyhow::bail!(
            "internal error: {} does not read back as this run's configuration (please report it)",
            config_file.display()
        );
    }

    let device = backend.device.clone().autodiff();
    let train_images = data.train.data().len();
    if let Some(ck) = &options.resume {
        progress.message(&format!(
            "resuming from {} (epoch {}, step {})",
            ck.dir.display(),
            ck.state.epoch + usize::from(ck.state.epoch_step > 0),
            ck.state.global_step
        ));
    }
    progress.message(&format!(
        "training {} with {} (lr {}) on {} [{}], {} training / {} validation images, run directory {}",
        config.model,
        config.optimizer,
        config.lr,
        backend.kind,
        backend.device_name,
        train_images,
        data.val.data().len(),
        run_dir.display()
    ));
    if let Some(ck) = options
        .resume
        .as_ref()
        .filter(|ck| ck.state.epoch >= config.epochs)
    {
        progress.message(&format!(
            "the checkpoint already completed {} of {} epochs; nothing to train",
            ck.state.epoch, config.epochs
        ));
    }
    for note in data.host_fallback_notes(backend) {
        progress.message(&note);
    }
    let reg = &config.regularization;
    let eval_device = device.clone().without_autodiff();
    let teacher = match &config.distillation {
        Some(distillation) => Some(load_teacher(distillation, config, &eval_device)?),
        None => None,
    };
    let train_source: Box<dyn EpochSource<Batch = ImageBatch>> = match &teacher {
        // The training images never change: the teacher's logits are computed once.
        Some((teacher, _)) if reg.augment.is_empty() => {
            let timer = Instant::now();
            let mut logits = Vec::new();
            let in_order = data.source(&data.train, backend, &eval_device);
            evaluate(teacher, &in_order, EVAL_BATCH_SIZE, &device, |_, l| {
                logits.push(l.clone());
            });
            progress.message(&format!(
                "the teacher's logits for the {train_images} training images: computed once, in {:.1} s",
                timer.elapsed().as_secs_f64()
            ));
            Box::new(SoftTargets::new(
                data.source(&data.train, backend, &device),
                Tensor::cat(logits, 0),
            ))
        }
        _ => training_source(config, data, backend, &device),
    };
    let val_source = data.source(&data.val, backend, &eval_device);
    let steps_per_epoch = train_images.div_ceil(batch_size(config, train_images).max(1));
    let record = RunRecord {
        config: config.clone(),
        data_fingerprint: data.fingerprint.clone(),
    };
    let step = match teacher {
        Some((teacher, loss)) => RunStep::Distill(Box::new(DistillStep::new(teacher, loss))),
        None => RunStep::Classify,
    };
    let learner_config = LearnerConfig {
        run_dir: Some(run_dir.clone()),
        ..learner_config(config, train_images)
    };
    let mut learner = zoo_learner(config, step, &device, learner_config)
        .app_state(serde_json::to_value(&record)?)
        .run_lock(&lock);
    // The console callback borrows `progress` for the run; messages after it use it again.
    let outcome = {
        for callback in callbacks(config, progress)? {
            learner = learner.boxed_callback(callback);
        }
        if let Some(stop) = options.stop.clone() {
            learner = learner.stop_flag(stop);
        }
        if let Some(ck) = options.resume {
            learner = learner.resume(ck.into_engine())?;
        }
        learner.fit(train_source.as_ref(), Some(&val_source))?
    };
    let result = match outcome {
        ember_engine::FitOutcome::Interrupted {
            checkpoint,
            global_step,
            ..
        } => {
            let epoch = global_step.div_ceil(steps_per_epoch);
            progress.message(&if global_step.is_multiple_of(steps_per_epoch) {
                format!(
                    "interrupted at the end of epoch {epoch}: checkpoint {}",
                    checkpoint.display()
                )
            } else {
                format!(
                    "interrupted at epoch {epoch}, step {global_step}: checkpoint {}",
                    checkpoint.display()
                )
            });
            return Ok(FitOutcome::Interrupted {
                checkpoint,
                global_step,
            });
        }
        ember_engine::FitOutcome::Finished(result) => *result,
    };
    let history: Vec<EpochMetrics> = result
        .history
        .iter()
        .map(EpochMetrics::from_logs)
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    let restored_epoch = restored_epoch(config, &result.callback_states);
    let model = result.model;
    save_final_model(&model, run_dir)?;
    if config.logging.plots && !history.is_empty() {
        let label = format!("{}/{}", config.model, config.optimizer.name());
        match crate::plot::write_training_curves(
            &[(label, history.clone())],
            &run_dir.join(PLOTS_DIR).join("curves"),
        ) {
            Ok(_) => {}
            // A plot is a convenience: failing to draw one must not fail a finished run.
            Err(e) => progress.message(&format!("warning: no plot drawn: {e:#}")),
        }
    }
    let test_source = data.source(&data.test, backend, &eval_device);
    let test = evaluate(&model, &test_source, EVAL_BATCH_SIZE, &device, |_, _| {});
    let summary = Summary {
        model: config.model,
        optimizer: config.optimizer.name().to_string(),
        dataset: config.dataset.to_string(),
        backend: backend.kind.to_string(),
        device: backend.device_name.clone(),
        epochs: history.last().map_or(0, |m| m.epoch),
        global_step: result.global_step,
        last_epoch: history.last().cloned(),
        stopped_early: result.stopped,
        restored_epoch,
        test_loss: test.mean_loss(),
        test_accuracy: test.accuracy(),
        test_images: test.images(),
        wall_seconds: started.elapsed().as_secs_f64(),
        target: TargetStopper::outcome(&result.callback_states),
    };
    let json = serde_json::to_vec_pretty(&summary)?;
    ember_engine::fsutil::write_atomic(&run_dir.join(SUMMARY_FILE), &json)
        .with_context(|| format!("cannot write {}", run_dir.join(SUMMARY_FILE).display()))?;
    progress.run_end(&summary);
    Ok(FitOutcome::Finished(Box::new(summary)))
}

/// Images per training step of `config` on a training split of `train_images` (full batch:
/// all of them).
fn batch_size(config: &TrainConfig, train_images: usize) -> usize {
    config.batch_size.unwrap_or(train_images)
}

/// The learner's settings for `config` on a training split of `train_images` images: its
/// epochs, batch size, learning rate, seed, checkpoint frequency and training-loop knobs
/// (accumulation, clipping, weight averaging); no run directory (no checkpoints) and no step
/// limit, which the caller sets when it wants them.
pub(crate) fn learner_config(config: &TrainConfig, train_images: usize) -> LearnerConfig {
    let reg = &config.regularization;
    LearnerConfig {
        epochs: config.epochs,
        batch_size: batch_size(config, train_images),
        eval_batch_size: Some(EVAL_BATCH_SIZE),
        learning_rate: config.lr,
        seed: config.seed,
        shuffle: true,
        run_dir: None,
        checkpoint_every: config.checkpoint_every,
        max_steps: None,
        keep_checkpoints: config.keep_checkpoints,
        accumulate_grad_batches: reg.accumulate_grad_batches,
        gradient_clip: reg.gradient_clip(),
        ema_decay: reg.ema_decay,
        ema_eval: reg.ema_eval,
    }
}

/// The training batches of `config` on `backend`: augmented on the host when `config` asks
/// for augmentation, else the plain training split ([`RunData::source`]).
pub(crate) fn training_source(
    config: &TrainConfig,
    data: &RunData,
    backend: &Backend,
    device: &Device,
) -> Box<dyn EpochSource<Batch = ImageBatch>> {
    let augment = &config.regularization.augment;
    if augment.is_empty() {
        Box::new(data.source(&data.train, backend, device))
    } else {
        Box::new(AugmentedSource::new(
            data.train.clone(),
            ImageBatcher::new(config.dataset),
            augment.clone(),
        ))
    }
}

/// The zoo's learner for `config`, without callbacks: a fresh model from the run's seed (with
/// the configuration's dropout and batch normalization) on `device` (autodiff on), the
/// configured optimizer, and `step` with the configuration's weight penalty added.
pub(crate) fn zoo_learner<'a>(
    config: &TrainConfig,
    step: impl TrainStep<Model, ImageBatch> + 'a,
    device: &Device,
    learner_config: LearnerConfig,
) -> Learner<'a, Model, ImageBatch> {
    let reg = &config.regularization;
    let model = init_model_with(config.model, &reg.model_options(), config.seed, device);
    let step = Penalized {
        step,
        penalty: reg.penalty(),
    };
    // iRprop⁺ reads each step's loss from this cell, which the learner sets before the step.
    let step_loss = ember_optim::LossCell::new();
    let learner = Learner::new(
        model,
        config.optimizer.init_with_loss(&step_loss),
        step,
        device.clone(),
        learner_config,
    );
    if config.optimizer.needs_loss() {
        learner.report_loss(move |loss| step_loss.set(loss))
    } else {
        learner
    }
}

/// The step of a run: the zoo's cross-entropy, or distillation from a teacher.
enum RunStep {
    Classify,
    Distill(Box<DistillStep>),
}

/// The teacher that `distillation` names, on `eval_device` (the run's device without
/// autodiff), checked against the student's data, and the loss's settings.
///
/// # Errors
/// Settings out of range, a teacher that cannot be read or was trained on other images.
fn load_teacher(
    distillation: &DistillationConfig,
    config: &TrainConfig,
    eval_device: &Device,
) -> anyhow::Result<(Model, Distillation)> {
    let loss = distillation.loss().map_err(anyhow::Error::msg)?;
    let (teacher, recorded, _) =
        checkpoint::load_trained(&distillation.teacher, "--teacher", eval_device)?;
    check_teacher(&recorded, config, distillation)?;
    Ok((teacher, loss))
}

impl TrainStep<Model, ImageBatch> for RunStep {
    fn step(&self, model: &Model, batch: ImageBatch) -> StepOutput {
        match self {
            Self::Classify => classify(model, batch),
            Self::Distill(step) => step.step(model, batch),
        }
    }
}

/// The teacher must have been trained on the images the student sees.
///
/// # Errors
/// The datasets or the preprocessings differ (one line naming both).
fn check_teacher(
    teacher: &TrainConfig,
    student: &TrainConfig,
    config: &DistillationConfig,
) -> anyhow::Result<()> {
    if teacher.dataset != student.dataset || teacher.preprocess != student.preprocess {
        anyhow::bail!(
            "--teacher {} was trained on {} (preprocess {}), the student on {} (preprocess {}); distill on the teacher's data",
            config.teacher.display(),
            teacher.dataset,
            teacher.preprocess,
            student.dataset,
            student.preprocess
        );
    }
    Ok(())
}

/// The epoch whose weights early stopping restored: its best epoch, when it restores.
fn restored_epoch(
    config: &TrainConfig,
    states: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Option<usize> {
    let restores = config
        .early_stopping
        .as_ref()
        .is_some_and(|c| c.restore_best_weights);
    let state: EarlyStoppingState =
        serde_json::from_value(states.get("early_stopping")?.clone()).ok()?;
    restores.then_some(state.best_epoch).flatten()
}

/// Writes the final weights to `run_dir/model.bpk` through a temporary file and a rename.
fn save_final_model(model: &Model, run_dir: &Path) -> anyhow::Result<()> {
    let path = run_dir.join(FINAL_MODEL_FILE);
    ember_engine::checkpoint::save_weights(model, &path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The progress bar and the epoch lines, as a callback of the run; it also warns when the
/// training loss stops being finite.
struct Console<'a> {
    progress: &'a mut dyn Progress,
}

impl Callback<Model> for Console<'_> {
    fn name(&self) -> String {
        "console".into()
    }

    fn on_epoch_begin(&mut self, ctx: &mut Context<'_, Model>) -> Result<(), String> {
        self.progress
            .epoch_start(ctx.epoch, ctx.epochs, ctx.steps_per_epoch);
        Ok(())
    }

    fn on_step_end(&mut self, ctx: &mut Context<'_, Model>) -> Result<(), String> {
        let running = || {
            let logs = ctx.running_logs();
            let get = |name: &str| logs.get(name).copied().unwrap_or(f64::NAN);
            (get("loss"), get("accuracy"), ctx.examples())
        };
        self.progress.step(ctx.epoch_step, &running);
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        ctx: &mut Context<'_, Model>,
        logs: &mut Logs,
    ) -> Result<(), String> {
        let metrics = EpochMetrics::from_logs(&ember_engine::EpochLogs {
            epoch: ctx.epoch,
            logs: logs.clone(),
        })?;
        self.progress.epoch_end(&metrics, ctx.epochs);
        if !metrics.loss.is_finite() {
            ctx.message(format!(
                "the training loss is {} at epoch {}: training diverged; try a smaller --lr",
                metrics.loss, ctx.epoch
            ));
        }
        Ok(())
    }

    fn on_message(&mut self, text: &str) {
        self.progress.message(text);
    }
}
