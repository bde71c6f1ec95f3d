//! The callbacks of one run, as the learner drives them: early stopping (with the best
//! weights it may restore), model checkpoint selection into `<run>/models/`, ReduceLROnPlateau,
//! the learning-rate schedule and TensorBoard.
//!
//! The decisions live in [`ember_engine::callbacks`] and [`ember_engine::schedule`] (pure
//! logic with Keras/Lightning semantics); this module owns what they act on: the weights kept
//! for `restore_best_weights`, the files written for a selected checkpoint, the learning rate
//! in force. Every piece of state is in [`CallbackStates`], stored in each resume checkpoint,
//! so a resumed run continues with the same counters, best values and top-k table.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ember_models::Model;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::learner::checkpoint::{self, CheckpointState};
use crate::learner::metrics::EpochMetrics;
use ember_engine::callbacks::Logs;
use ember_engine::callbacks::early_stopping::{EarlyStopping, EarlyStoppingState, StopReason};
use ember_engine::callbacks::model_checkpoint::{
    LAST_NAME, ModelCheckpoint, ModelCheckpointState, SaveDecision,
};
use ember_engine::callbacks::plateau::{ReduceLrOnPlateau, ReduceLrOnPlateauState};
use ember_engine::tensorboard::{TensorBoardLogger, UpdateFreq};

/// The epoch metrics written to TensorBoard (the timing metrics are not).
const TENSORBOARD_METRICS: [&str; 5] = [
    "loss",
    "accuracy",
    "learning_rate",
    "val_loss",
    "val_accuracy",
];

/// Sub-directory of a run holding the checkpoints that [`ModelCheckpoint`] selects.
pub const MODELS_DIR: &str = "models";

/// The state of every callback of a run, as a checkpoint stores it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallbackStates {
    /// Early stopping's counters and best value.
    pub early_stopping: Option<EarlyStoppingState>,
    /// The table of selected checkpoints.
    pub model_checkpoint: Option<ModelCheckpointState>,
    /// ReduceLROnPlateau's counters and the learning rate it set.
    pub plateau: Option<ReduceLrOnPlateauState>,
}

/// What the learner should do after an epoch.
#[derive(Debug)]
pub struct EpochOutcome {
    /// Early stopping asked to stop, and why.
    pub stop: Option<StopReason>,
    /// What the callbacks did that the user should see (a learning-rate reduction, a
    /// checkpoint skipped for a missing metric).
    pub messages: Vec<String>,
}

/// The callbacks of a run and what they hold.
pub struct Hooks {
    early_stopping: Option<EarlyStopping>,
    model_checkpoint: Option<ModelCheckpoint>,
    plateau: Option<ReduceLrOnPlateau>,
    /// Weights of early stopping's best epoch (only with `restore_best_weights`).
    best_weights: Option<Model>,
    tensorboard: Option<TensorBoardLogger>,
}

impl Hooks {
    /// The callbacks `config` asks for, continuing from `states` (and the best weights
    /// `best_weights`) when resuming.
    ///
    /// # Errors
    /// An invalid callback configuration, or TensorBoard files that cannot be created.
    pub fn new(
        config: &TrainConfig,
        run_dir: &Path,
        states: &CallbackStates,
        best_weights: Option<Model>,
    ) -> anyhow::Result<Self> {
        let early_stopping = match &config.early_stopping {
            Some(c) => Some(
                match &states.early_stopping {
                    Some(s) => EarlyStopping::with_state(c.clone(), s.clone()),
                    None => EarlyStopping::new(c.clone()),
                }
                .map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        let model_checkpoint = match &config.model_checkpoint {
            Some(c) => Some(
                match &states.model_checkpoint {
                    Some(s) => ModelCheckpoint::with_state(c.clone(), s.clone()),
                    None => ModelCheckpoint::new(c.clone()),
                }
                .map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        let plateau = match &config.reduce_lr_on_plateau {
            Some(c) => Some(
                match &states.plateau {
                    Some(s) => ReduceLrOnPlateau::with_state(c.clone(), s.clone()),
                    None => ReduceLrOnPlateau::new(c.clone()),
                }
                .map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        let tensorboard = if config.logging.tensorboard {
            let freq = match config.logging.update_freq {
                Some(n) => UpdateFreq::Batches(n),
                None => UpdateFreq::Epoch,
            };
            Some(TensorBoardLogger::create(run_dir, freq).with_context(|| {
                format!("cannot create TensorBoard files in {}", run_dir.display())
            })?)
        } else {
            None
        };
        Ok(Self {
            early_stopping,
            model_checkpoint,
            plateau,
            best_weights,
            tensorboard,
        })
    }

    /// Every callback's state, for a checkpoint.
    pub fn states(&self) -> CallbackStates {
        CallbackStates {
            early_stopping: self.early_stopping.as_ref().map(|e| e.state.clone()),
            model_checkpoint: self.model_checkpoint.as_ref().map(|m| m.state.clone()),
            plateau: self.plateau.as_ref().map(|p| p.state.clone()),
        }
    }

    /// The weights early stopping would restore, if it keeps any.
    pub fn best_weights(&self) -> Option<&Model> {
        self.best_weights.as_ref()
    }

    /// The learning rate of the step after `global_step` steps in epoch `epoch` (1-based):
    /// ReduceLROnPlateau's once it has run, else the schedule's.
    pub fn learning_rate(&self, config: &TrainConfig, epoch: usize, global_step: usize) -> f64 {
        let plateau_lr = self.plateau.as_ref().and_then(|p| p.state.lr);
        plateau_lr.unwrap_or_else(|| {
            config.lr_schedule.learning_rate(
                config.lr,
                epoch - 1,
                global_step,
                config.schedule_unit,
            )
        })
    }

    /// Whether [`on_step_end`](Self::on_step_end) writes a full checkpoint after step
    /// `global_step` (the caller then brings the state's metric sums up to date first).
    pub fn saves_at_step(&self, global_step: usize) -> bool {
        self.model_checkpoint
            .as_ref()
            .is_some_and(|m| m.should_save_at_step(global_step) && !m.config.save_weights_only)
    }

    /// After optimizer step `global_step` of epoch `epoch`: TensorBoard batch summaries and
    /// step-based checkpoint selection. `running` reads the epoch's running loss and accuracy
    /// (it waits for the device, so it is only called when something needs them).
    ///
    /// # Errors
    /// Failure to write a selected checkpoint or an event file.
    pub fn on_step_end(
        &mut self,
        snapshot: &Snapshot<'_>,
        epoch: usize,
        running: impl Fn() -> (f64, f64),
    ) -> anyhow::Result<()> {
        let step = snapshot.state.global_step;
        let tb_due = self.tensorboard.as_ref().is_some_and(|t| t.batch_due(step));
        let mc_due = self
            .model_checkpoint
            .as_ref()
            .is_some_and(|m| m.should_save_at_step(step));
        if !(tb_due || mc_due) {
            return Ok(());
        }
        let (loss, accuracy) = running();
        let logs = Logs::from([
            ("loss".to_string(), loss),
            ("accuracy".to_string(), accuracy),
        ]);
        if let Some(tb) = self.tensorboard.as_mut().filter(|_| tb_due) {
            tb.on_batch_end(step, &logs)?;
        }
        if mc_due {
            for warning in self.select_checkpoint(snapshot, epoch, &logs)? {
                tracing::warn!("{warning}");
            }
        }
        Ok(())
    }

    /// After epoch `metrics.epoch` (validation done, `snapshot.state` up to date): early
    /// stopping, ReduceLROnPlateau, epoch-based checkpoint selection and TensorBoard.
    ///
    /// # Errors
    /// A monitored metric that is not logged, or failure to write a file.
    pub fn on_epoch_end(
        &mut self,
        snapshot: &Snapshot<'_>,
        metrics: &EpochMetrics,
    ) -> anyhow::Result<EpochOutcome> {
        let logs = metrics.logs();
        let epoch = metrics.epoch;
        let mut stop = None;
        let mut messages = Vec::new();
        if let Some(es) = &mut self.early_stopping {
            let decision = es.on_epoch_end(epoch, &logs).map_err(anyhow::Error::msg)?;
            if decision.new_best && es.config.restore_best_weights {
                self.best_weights = Some(snapshot.model.clone());
            }
            stop = decision.stop;
        }
        if let Some(plateau) = &mut self.plateau {
            let lr = metrics.learning_rate;
            if let Some(new_lr) = plateau
                .on_epoch_end(epoch, &logs, lr)
                .map_err(anyhow::Error::msg)?
            {
                messages.push(format!(
                    "epoch {epoch}: ReduceLROnPlateau reducing learning rate to {new_lr:e}"
                ));
            }
        }
        if self.model_checkpoint.as_ref().is_some_and(|m| m.on_epoch()) {
            messages.extend(self.select_checkpoint(snapshot, epoch, &logs)?);
        }
        Ok(EpochOutcome { stop, messages })
    }

    /// TensorBoard's records of an epoch that ended after `global_step` steps: the validation
    /// result against iterations and the epoch summaries, as Keras 3 writes them.
    ///
    /// # Errors
    /// Failure to write the event files.
    pub fn log_epoch(&mut self, metrics: &EpochMetrics, global_step: usize) -> anyhow::Result<()> {
        if let Some(tb) = &mut self.tensorboard {
            // Keras' TensorBoard logs the model's metrics and the learning rate, not the timing.
            let logs: Logs = metrics
                .logs()
                .into_iter()
                .filter(|(name, _)| TENSORBOARD_METRICS.contains(&name.as_str()))
                .collect();
            tb.on_validation_end(global_step, &logs)?;
            tb.on_epoch_end(metrics.epoch - 1, &logs)?;
        }
        Ok(())
    }

    /// What early stopping did, for the end-of-run message (None without early stopping).
    pub fn early_stopping_summary(&self) -> Option<String> {
        self.early_stopping.as_ref().map(EarlyStopping::summary)
    }

    /// The weights to keep at the end of training: early stopping's best epoch's with
    /// `restore_best_weights` (Keras 3 restores whether or not training stopped early), else
    /// `model`. Returns the weights and, when restored, the epoch they come from.
    pub fn final_weights(&self, model: Model) -> (Model, Option<usize>) {
        match (&self.early_stopping, &self.best_weights) {
            (Some(es), Some(best)) if es.config.restore_best_weights => {
                (best.clone(), es.state.best_epoch)
            }
            _ => (model, None),
        }
    }

    /// Flushes the event files.
    ///
    /// # Errors
    /// The I/O error of flushing.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        if let Some(tb) = &mut self.tensorboard {
            tb.flush()?;
        }
        Ok(())
    }

    /// Asks checkpoint selection about this save point and carries out its decision; returns
    /// its warnings.
    fn select_checkpoint(
        &mut self,
        snapshot: &Snapshot<'_>,
        epoch: usize,
        logs: &Logs,
    ) -> anyhow::Result<Vec<String>> {
        let (decision, weights_only): (SaveDecision, bool) = {
            let Some(mc) = &mut self.model_checkpoint else {
                return Ok(Vec::new());
            };
            let decision = mc
                .on_save_point(epoch, snapshot.state.global_step, logs)
                .map_err(anyhow::Error::msg)?;
            (decision, mc.config.save_weights_only)
        };
        let dir = snapshot.run_dir.join(MODELS_DIR);
        if let Some(name) = &decision.save_as {
            self.write_selected(snapshot, name, weights_only)?;
        }
        if decision.save_last {
            self.write_selected(snapshot, LAST_NAME, weights_only)?;
        }
        for name in &decision.remove {
            let path = if weights_only {
                dir.join(format!("{name}.bpk"))
            } else {
                dir.join(name)
            };
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match removed {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                }
            }
            tracing::debug!("removed {} (left the top k)", path.display());
        }
        Ok(decision.warning.into_iter().collect())
    }
}

impl Hooks {
    /// At the end of training: Lightning's `save_last` writes `last` if no checkpoint was
    /// selected during the run.
    ///
    /// # Errors
    /// Failure to write it.
    pub fn on_train_end(&mut self, snapshot: &Snapshot<'_>) -> anyhow::Result<()> {
        let Some(mc) = &self.model_checkpoint else {
            return Ok(());
        };
        if mc.save_last_at_train_end() {
            let weights_only = mc.config.save_weights_only;
            self.write_selected(snapshot, LAST_NAME, weights_only)?;
        }
        Ok(())
    }

    /// Writes a selected checkpoint `name` into `<run>/models/`: `name.bpk` with the weights,
    /// or `name/` with the full training state, replacing an older one only once complete.
    fn write_selected(
        &self,
        snapshot: &Snapshot<'_>,
        name: &str,
        weights_only: bool,
    ) -> anyhow::Result<PathBuf> {
        let dir = snapshot.run_dir.join(MODELS_DIR);
        if weights_only {
            let path = dir.join(format!("{name}.bpk"));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            checkpoint::save_weights(snapshot.model, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        } else {
            let mut state = snapshot.state.clone();
            state.callbacks = self.states();
            Ok(checkpoint::save_as(
                &dir.join(name),
                &state,
                snapshot.model,
                snapshot.optimizer,
                self.best_weights.as_ref(),
            )?)
        }
    }
}

/// What a callback may save: the weights, optimizer and training state right now.
pub struct Snapshot<'a> {
    /// The run directory.
    pub run_dir: &'a Path,
    /// The training state (counters, history, configuration).
    pub state: &'a CheckpointState,
    /// The current weights.
    pub model: &'a Model,
    /// The optimizer with its state.
    pub optimizer: &'a burn::optim::ModuleOptimizer,
}
