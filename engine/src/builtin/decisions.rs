//! The callbacks that decide: early stopping, checkpoint selection, the learning rate.

use std::path::{Path, PathBuf};

use burn::module::Module;

use super::{from_state, to_state};
use crate::callback::{Callback, Context};
use crate::callbacks::Logs;
use crate::callbacks::early_stopping::EarlyStopping;
use crate::callbacks::model_checkpoint::{LAST_NAME, ModelCheckpoint, SaveDecision};
use crate::callbacks::plateau::ReduceLrOnPlateau;
use crate::checkpoint::{load_weights, save_weights};
use crate::layout::{BEST_MODEL_FILE, MODELS_DIR};
use crate::schedule::{LrSchedule, ScheduleUnit};

/// Keras' `EarlyStopping` ([`EarlyStopping`]) acting on the run: it stops training, keeps the
/// best epoch's weights when `restore_best_weights` is set (in checkpoints as
/// `best_model.bpk`), and returns them at the end. Name `early_stopping`.
pub struct EarlyStopper<M> {
    /// The decisions.
    pub early_stopping: EarlyStopping,
    best: Option<M>,
}

impl<M> EarlyStopper<M> {
    /// Acts on `early_stopping`'s decisions.
    pub fn new(early_stopping: EarlyStopping) -> Self {
        Self {
            early_stopping,
            best: None,
        }
    }
}

impl<M: Module> Callback<M> for EarlyStopper<M> {
    fn name(&self) -> String {
        "early_stopping".into()
    }

    fn on_epoch_end(&mut self, ctx: &mut Context<'_, M>, logs: &mut Logs) -> Result<(), String> {
        let decision = self.early_stopping.on_epoch_end(ctx.epoch, logs)?;
        if decision.new_best && self.early_stopping.config.restore_best_weights {
            self.best = Some(ctx.model.clone());
        }
        if let Some(reason) = decision.stop {
            ctx.stop_training(reason.to_string());
        }
        Ok(())
    }

    fn on_train_end(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        ctx.message(self.early_stopping.summary());
        // Keras 3 restores whether or not training stopped early.
        if let Some(best) = self
            .best
            .as_ref()
            .filter(|_| self.early_stopping.config.restore_best_weights)
        {
            ctx.replace_model(best.clone());
        }
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        to_state(&self.early_stopping.state)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<(), String> {
        self.early_stopping.state = from_state("early stopping", state)?;
        Ok(())
    }

    fn save_files(&self, dir: &Path) -> std::io::Result<()> {
        match &self.best {
            Some(best) => save_weights(best, &dir.join(BEST_MODEL_FILE)),
            None => Ok(()),
        }
    }

    fn load_files(&mut self, dir: &Path, model: &M) -> Result<(), String> {
        let path = dir.join(BEST_MODEL_FILE);
        if path.is_file() {
            self.best = Some(load_weights(model.clone(), &path).map_err(|e| e.to_string())?);
        }
        Ok(())
    }
}

/// Keras' `ModelCheckpoint` with Lightning's top-k ([`ModelCheckpoint`]) acting on the run
/// directory: selected checkpoints go to `<run>/models/NAME.bpk` (weights only) or
/// `<run>/models/NAME/` (a full, resumable checkpoint), and those that leave the top k are
/// deleted. Needs the learner's run directory. Name `model_checkpoint`.
pub struct CheckpointSelector {
    /// The decisions.
    pub model_checkpoint: ModelCheckpoint,
}

impl CheckpointSelector {
    /// Acts on `model_checkpoint`'s decisions.
    pub fn new(model_checkpoint: ModelCheckpoint) -> Self {
        Self { model_checkpoint }
    }

    fn models_dir<M>(ctx: &Context<'_, M>) -> Result<PathBuf, String> {
        ctx.run_dir.map(|dir| dir.join(MODELS_DIR)).ok_or_else(|| {
            "checkpoint selection needs a run directory; set LearnerConfig::run_dir".to_string()
        })
    }

    /// Carries out `decision`: writes the selected checkpoints and deletes the dropped ones.
    fn carry_out<M: Module>(
        &self,
        ctx: &mut Context<'_, M>,
        decision: SaveDecision,
    ) -> Result<(), String> {
        let dir = Self::models_dir(ctx)?;
        let weights_only = self.model_checkpoint.config.save_weights_only;
        let names = decision
            .save_as
            .iter()
            .map(String::as_str)
            .chain(decision.save_last.then_some(LAST_NAME));
        for name in names {
            write(ctx, &dir, name, weights_only)?;
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
                Ok(()) => tracing::debug!("removed {} (left the top k)", path.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot remove {}: {e}", path.display())),
            }
        }
        if let Some(warning) = decision.warning {
            ctx.message(warning);
        }
        Ok(())
    }
}

/// Writes selected checkpoint `name` into `dir`: its weights now, or a full checkpoint once
/// the hook is over (the learner writes it with every callback's state).
fn write<M: Module>(
    ctx: &mut Context<'_, M>,
    dir: &Path,
    name: &str,
    weights_only: bool,
) -> Result<(), String> {
    if weights_only {
        let path = dir.join(format!("{name}.bpk"));
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        save_weights(ctx.model, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))
    } else {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        ctx.save_checkpoint(dir.join(name));
        Ok(())
    }
}

impl<M: Module> Callback<M> for CheckpointSelector {
    fn name(&self) -> String {
        "model_checkpoint".into()
    }

    fn on_step_end(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        if !self.model_checkpoint.should_save_at_step(ctx.global_step) {
            return Ok(());
        }
        let logs = ctx.running_logs();
        let decision = self
            .model_checkpoint
            .on_save_point(ctx.epoch, ctx.global_step, &logs)?;
        self.carry_out(ctx, decision)
    }

    fn on_epoch_end(&mut self, ctx: &mut Context<'_, M>, logs: &mut Logs) -> Result<(), String> {
        if !self.model_checkpoint.on_epoch() {
            return Ok(());
        }
        let decision = self
            .model_checkpoint
            .on_save_point(ctx.epoch, ctx.global_step, logs)?;
        self.carry_out(ctx, decision)
    }

    fn on_train_end(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        if self.model_checkpoint.save_last_at_train_end() {
            let dir = Self::models_dir(ctx)?;
            let weights_only = self.model_checkpoint.config.save_weights_only;
            write(ctx, &dir, LAST_NAME, weights_only)?;
        }
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        to_state(&self.model_checkpoint.state)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<(), String> {
        self.model_checkpoint.state = from_state("checkpoint selection", state)?;
        Ok(())
    }
}

/// Keras' `ReduceLROnPlateau` ([`ReduceLrOnPlateau`]) setting the learner's learning rate
/// after each epoch. Name `reduce_lr_on_plateau`.
pub struct PlateauScheduler {
    /// The decisions.
    pub plateau: ReduceLrOnPlateau,
}

impl PlateauScheduler {
    /// Acts on `plateau`'s decisions.
    pub fn new(plateau: ReduceLrOnPlateau) -> Self {
        Self { plateau }
    }
}

impl<M> Callback<M> for PlateauScheduler {
    fn name(&self) -> String {
        "reduce_lr_on_plateau".into()
    }

    fn on_epoch_end(&mut self, ctx: &mut Context<'_, M>, logs: &mut Logs) -> Result<(), String> {
        let lr = ctx.learning_rate;
        if let Some(new_lr) = self.plateau.on_epoch_end(ctx.epoch, logs, lr)? {
            ctx.learning_rate = new_lr;
            ctx.message(format!(
                "epoch {}: ReduceLROnPlateau reducing learning rate to {new_lr:e}",
                ctx.epoch
            ));
        }
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        to_state(&self.plateau.state)
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<(), String> {
        self.plateau.state = from_state("ReduceLROnPlateau", state)?;
        Ok(())
    }
}

/// A learning-rate schedule ([`LrSchedule`]) setting the rate of every step from the epoch or
/// the step count and the base rate. Stateless (the rate is a function of the counters). Name
/// `lr_schedule`.
pub struct Scheduler {
    /// The schedule.
    pub schedule: LrSchedule,
    /// Whether it counts epochs or steps.
    pub unit: ScheduleUnit,
    /// The rate the schedule starts from.
    pub base_lr: f64,
}

impl<M> Callback<M> for Scheduler {
    fn name(&self) -> String {
        "lr_schedule".into()
    }

    fn on_step_begin(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        ctx.learning_rate =
            self.schedule
                .learning_rate(self.base_lr, ctx.epoch - 1, ctx.global_step, self.unit);
        Ok(())
    }
}
