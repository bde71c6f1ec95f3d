//! The learner: the training loop, its metrics, checkpoints and console output.
//!
//! - [`step`]: one optimizer step and one evaluation pass, shared by every loop.
//! - [`metrics`]: per-epoch metrics and `metrics.csv`.
//! - [`checkpoint`]: epoch checkpoints and resume.
//! - [`progress`]: the progress bar and epoch lines.
//!
//! [`fit`] trains a [`TrainConfig`] into a run directory, Keras-`fit` style: each epoch shuffles
//! the training split (order derived from the seed and the epoch number, so a resumed run sees
//! the same order), trains, validates, appends a row to `metrics.csv` and writes a checkpoint
//! (also every N steps on request, and when asked to stop); at the end it saves the final
//! weights and evaluates on the test split.

pub mod checkpoint;
pub mod hooks;
pub mod metrics;
pub mod progress;
pub mod step;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use burn::module::Module;
use burn::tensor::Device;
use ember_models::{Model, ModelKind};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::config::TrainConfig;
use crate::data::RunData;
use burn::optim::ModuleOptimizer;
use checkpoint::{Checkpoint, CheckpointState, FORMAT_VERSION};
use ember_engine::fsutil::write_atomic;
use hooks::{Hooks, Snapshot};
use metrics::{EpochMetrics, MetricSums, PartialSums, write_csv, write_jsonl};
use progress::Progress;
use step::{evaluate, loss_fn, train_step};

/// Batch size of validation and test passes (no gradients, so larger than training batches).
pub const EVAL_BATCH_SIZE: usize = 1000;
/// File name of the final weights in a run directory.
pub const FINAL_MODEL_FILE: &str = "model.bpk";
/// File name of the resolved configuration in a run directory.
pub const CONFIG_FILE: &str = "config.toml";
/// File name of the per-epoch metrics in a run directory.
pub const METRICS_FILE: &str = "metrics.csv";
/// File name of the per-epoch metrics as JSON lines in a run directory.
pub const METRICS_JSONL_FILE: &str = "metrics.jsonl";
/// Sub-directory of a run holding the end-of-run plots.
pub const PLOTS_DIR: &str = "plots";
/// File name of the run summary in a run directory.
pub const SUMMARY_FILE: &str = "summary.json";

/// The end of a run, as written to `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Model name.
    pub model: ModelKind,
    /// Optimizer name.
    pub optimizer: String,
    /// Dataset name.
    pub dataset: String,
    /// Backend name.
    pub backend: String,
    /// Device the backend ran on.
    pub device: String,
    /// Epochs completed.
    pub epochs: usize,
    /// Optimizer steps taken.
    pub global_step: usize,
    /// Metrics of the last epoch (absent if no epoch ran).
    pub last_epoch: Option<EpochMetrics>,
    /// Why early stopping ended the run, if it did.
    pub stopped_early: Option<String>,
    /// The epoch whose weights were kept by `restore_best_weights`, if any.
    pub restored_epoch: Option<usize>,
    /// Cross-entropy on the test split.
    pub test_loss: f64,
    /// Accuracy on the test split, in [0, 1].
    pub test_accuracy: f64,
    /// Images in the test split.
    pub test_images: usize,
    /// Wall-clock seconds of this process's part of the run (training and evaluation).
    pub wall_seconds: f64,
}

/// How [`fit`] runs.
#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    /// Directory for the configuration, metrics, checkpoints and final model.
    pub run_dir: PathBuf,
    /// Continue from this checkpoint instead of starting afresh.
    pub resume: Option<Checkpoint>,
    /// When set (by a SIGINT/SIGTERM handler), stop after the current step with a checkpoint.
    pub stop: Option<Arc<AtomicBool>>,
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

/// The shuffle seed of `epoch`: a fixed function of the run seed, so that epoch `e` sees the
/// same order whether or not the run was resumed before it.
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A fresh `kind` model with weights drawn from `seed`, placed on `device`; with autodiff on
/// when `device` has it, ready to train.
///
/// The weights are always drawn on the flex CPU device and then moved, so every backend starts
/// from the same initial weights for the same seed.
pub fn init_model(kind: ModelKind, seed: u64, device: &Device) -> Model {
    let cpu = Device::flex();
    cpu.seed(seed);
    let model = kind.init(&cpu).to_device(device);
    // A device move keeps tensors untracked; `train` is Burn's transition to autodiff.
    if device.is_autodiff() {
        model.train()
    } else {
        model
    }
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
    std::fs::create_dir_all(run_dir)
        .with_context(|| format!("cannot create run directory {}", run_dir.display()))?;
    write_atomic(&run_dir.join(CONFIG_FILE), config.to_toml().as_bytes())
        .with_context(|| format!("cannot write {}", run_dir.join(CONFIG_FILE).display()))?;
    checkpoint::remove_partial_writes(run_dir)
        .with_context(|| format!("cannot clean up {}", run_dir.display()))?;

    let device = backend.device.clone().autodiff();
    let (mut model, mut optimizer, mut state, best_weights) =
        start(config, data, &options, &device, progress)?;
    let mut hooks = Hooks::new(config, run_dir, &state.callbacks, best_weights)?;

    progress.message(&format!(
        "training {} with {} (lr {}) on {} [{}], {} training / {} validation images, run directory {}",
        config.model,
        config.optimizer,
        config.lr,
        backend.kind,
        backend.device_name,
        data.train.data().len(),
        data.val.data().len(),
        run_dir.display()
    ));
    if state.epoch >= config.epochs {
        progress.message(&format!(
            "the checkpoint already completed {} of {} epochs; nothing to train",
            state.epoch, config.epochs
        ));
    }

    let stop_requested = || {
        options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::SeqCst))
    };
    let checkpoint_every = config.checkpoint_every;
    for note in data.host_fallback_notes(backend) {
        progress.message(&note);
    }
    let train_source = data.source(&data.train, backend, &device);
    let eval_device = device.clone().without_autodiff();
    let val_source = data.source(&data.val, backend, &eval_device);
    let batch_size = config.batch_size.unwrap_or(data.train.data().len());
    let steps_per_epoch = data.train.data().len().div_ceil(batch_size);
    let loss = loss_fn(&device);
    let mut stopped_early = None;
    for epoch in state.epoch + 1..=config.epochs {
        let epoch_start = Instant::now();
        let shuffle = Some(epoch_seed(config.seed, epoch));
        let batches = train_source
            .epoch(batch_size, shuffle, &device)
            .context("reading the training data")?;
        progress.epoch_start(epoch, config.epochs, steps_per_epoch);
        // A mid-epoch checkpoint: continue its epoch after the steps it had taken.
        let skip = state.epoch_step;
        let mut sums = MetricSums::restore(&state.partial, &device);
        let seconds_before = state.partial_seconds;
        let mut lr = hooks.learning_rate(config, epoch, state.global_step);
        for (i, batch) in batches.iter().enumerate().skip(skip) {
            let batch = batch.context("reading a training batch")?;
            lr = hooks.learning_rate(config, epoch, state.global_step);
            tracing::trace!("step {}: learning rate {lr:e}", state.global_step + 1);
            let (next, out) = train_step(model, &mut optimizer, &loss, &batch, lr);
            model = next;
            sums.add(out.loss, out.logits, batch.targets);
            state.global_step += 1;
            progress.step(i + 1, &sums);
            state.epoch_step = i + 1;
            state.partial_seconds = seconds_before + epoch_start.elapsed().as_secs_f64();
            if hooks.saves_at_step(state.global_step) {
                state.partial = sums.snapshot();
            }
            hooks.on_step_end(
                &Snapshot {
                    run_dir,
                    state: &state,
                    model: &model,
                    optimizer: &optimizer,
                },
                epoch,
                || (sums.mean_loss(), sums.accuracy()),
            )?;
            // The epoch end writes its own checkpoint below.
            if i + 1 == steps_per_epoch {
                break;
            }
            let due = checkpoint_every.is_some_and(|n| state.global_step.is_multiple_of(n));
            let stop = stop_requested();
            if due || stop {
                state.partial = sums.snapshot();
                state.callbacks = hooks.states();
                let dir =
                    checkpoint::save(run_dir, &state, &model, &optimizer, hooks.best_weights())?;
                if stop {
                    hooks.flush()?;
                    progress.message(&format!(
                        "interrupted at epoch {epoch}, step {}: checkpoint {}",
                        state.global_step,
                        dir.display()
                    ));
                    return Ok(FitOutcome::Interrupted {
                        checkpoint: dir,
                        global_step: state.global_step,
                    });
                }
            }
        }
        // Reading the sums waits for the device: the training time ends here.
        let (train_loss, train_accuracy) = (sums.mean_loss(), sums.accuracy());
        let train_seconds = seconds_before + epoch_start.elapsed().as_secs_f64();
        let val = evaluate(&model, &val_source, EVAL_BATCH_SIZE, &device, |_, _| {});
        let metrics = EpochMetrics {
            epoch,
            loss: train_loss,
            accuracy: train_accuracy,
            val_loss: val.mean_loss(),
            val_accuracy: val.accuracy(),
            learning_rate: lr,
            epoch_seconds: seconds_before + epoch_start.elapsed().as_secs_f64(),
            images_per_second: sums.images() as f64 / train_seconds,
        };
        state.history.push(metrics.clone());
        state.epoch = epoch;
        state.epoch_step = 0;
        state.partial = PartialSums::default();
        state.partial_seconds = 0.0;
        progress.epoch_end(&metrics, config.epochs);
        let outcome = hooks.on_epoch_end(
            &Snapshot {
                run_dir,
                state: &state,
                model: &model,
                optimizer: &optimizer,
            },
            &metrics,
        )?;
        for text in &outcome.messages {
            progress.message(text);
        }
        write_history(run_dir, &state.history)?;
        state.callbacks = hooks.states();
        let saving = Instant::now();
        let dir = checkpoint::save(run_dir, &state, &model, &optimizer, hooks.best_weights())?;
        tracing::debug!(
            "epoch {epoch}: checkpoint {} written in {:.1} ms",
            dir.display(),
            saving.elapsed().as_secs_f64() * 1e3
        );
        // After the checkpoint: a crash in between loses these records rather than repeating
        // them on resume.
        hooks.log_epoch(&metrics, state.global_step)?;
        if !metrics.loss.is_finite() {
            progress.message(&format!(
                "the training loss is {} at epoch {epoch}: training diverged; try a smaller --lr",
                metrics.loss
            ));
        }
        if let Some(reason) = outcome.stop {
            stopped_early = Some(reason.to_string());
            break;
        }
        if stop_requested() && epoch < config.epochs {
            hooks.flush()?;
            progress.message(&format!(
                "interrupted at the end of epoch {epoch}: checkpoint {}",
                dir.display()
            ));
            return Ok(FitOutcome::Interrupted {
                checkpoint: dir,
                global_step: state.global_step,
            });
        }
    }
    hooks.on_train_end(&Snapshot {
        run_dir,
        state: &state,
        model: &model,
        optimizer: &optimizer,
    })?;
    hooks.flush()?;

    let (model, restored_epoch) = hooks.final_weights(model);
    // Why training stopped (or did not), the best epoch, and which weights are kept.
    if let Some(text) = hooks.early_stopping_summary() {
        progress.message(&text);
    }
    save_final_model(&model, run_dir)?;
    if config.logging.plots && !state.history.is_empty() {
        let label = format!("{}/{}", config.model, config.optimizer.name());
        match crate::plot::write_training_curves(
            &[(label, state.history.clone())],
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
        epochs: state.history.last().map_or(0, |m| m.epoch),
        global_step: state.global_step,
        last_epoch: state.history.last().cloned(),
        stopped_early,
        restored_epoch,
        test_loss: test.mean_loss(),
        test_accuracy: test.accuracy(),
        test_images: test.images(),
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_vec_pretty(&summary)?;
    write_atomic(&run_dir.join(SUMMARY_FILE), &json)
        .with_context(|| format!("cannot write {}", run_dir.join(SUMMARY_FILE).display()))?;
    progress.run_end(&summary);
    Ok(FitOutcome::Finished(Box::new(summary)))
}

/// The model, optimizer, training state and early stopping's best weights a run starts from:
/// fresh, or the resume checkpoint's.
fn start(
    config: &TrainConfig,
    data: &RunData,
    options: &FitOptions,
    device: &Device,
    progress: &mut dyn Progress,
) -> anyhow::Result<(Model, ModuleOptimizer, CheckpointState, Option<Model>)> {
    Ok(match &options.resume {
        Some(ck) => {
            let model = checkpoint::load_weights(
                &ck.dir.join(checkpoint::MODEL_FILE),
                config.model,
                device,
            )?;
            let optimizer = checkpoint::load_optimizer(ck)?;
            let best = checkpoint::load_best_weights(ck, device)?;
            progress.message(&format!(
                "resuming from {} (epoch {}, step {})",
                ck.dir.display(),
                ck.state.epoch + usize::from(ck.state.epoch_step > 0),
                ck.state.global_step
            ));
            let mut state = ck.state.clone();
            state.config = config.clone();
            (model, optimizer, state, best)
        }
        None => (
            init_model(config.model, config.seed, device),
            config.optimizer.init(),
            CheckpointState {
                format_version: FORMAT_VERSION,
                epoch: 0,
                global_step: 0,
                epoch_step: 0,
                partial: PartialSums::default(),
                partial_seconds: 0.0,
                data_fingerprint: data.fingerprint.clone(),
                config: config.clone(),
                callbacks: Default::default(),
                history: Vec::new(),
            },
            None,
        ),
    })
}

/// Rewrites `metrics.csv` and `metrics.jsonl` from the history (atomically, so a resumed run
/// never shows rows of epochs it is about to redo).
fn write_history(run_dir: &Path, history: &[EpochMetrics]) -> anyhow::Result<()> {
    write_csv(&run_dir.join(METRICS_FILE), history)
        .with_context(|| format!("cannot write {}", run_dir.join(METRICS_FILE).display()))?;
    write_jsonl(&run_dir.join(METRICS_JSONL_FILE), history).with_context(|| {
        format!(
            "cannot write {}",
            run_dir.join(METRICS_JSONL_FILE).display()
        )
    })
}

/// Writes the final weights to `run_dir/model.bpk` through a temporary file and a rename.
fn save_final_model(model: &Model, run_dir: &Path) -> anyhow::Result<()> {
    let path = run_dir.join(FINAL_MODEL_FILE);
    checkpoint::save_weights(model, &path)
        .with_context(|| format!("cannot write {}", path.display()))
}
