//! The [`Callback`] trait: code the learner calls at fixed points of the loop, with a state
//! that every checkpoint stores under the callback's name so that a resumed run continues it
//! exactly (Keras' `Callback` hook points, Lightning's `state_dict`/`load_state_dict`).
//!
//! Hook order in one epoch: `on_epoch_begin`; per step `on_step_begin` (the learning rate may
//! be set here), the step (at the epoch's last, `on_last_step_gradients` between backward and
//! the update), `on_step_end`; `on_validation_begin`; validation; `on_epoch_end`
//! (its logs may be extended, e.g. with timing); then the epoch checkpoint. Callbacks run in
//! the order they were added. `on_train_begin` runs once per `fit` call, also when resuming,
//! after the states were restored; `on_train_end` when training ends, `on_interrupt` instead
//! when a stop request interrupts it.

use std::path::{Path, PathBuf};

use burn::optim::GradientsParams;

use crate::callbacks::Logs;
use crate::metrics::{EpochLogs, MetricSums};

/// Code run by the learner at its hook points. Every method has a default that does nothing.
///
/// A callback's mutable state goes in [`state`](Self::state) (serde_json; write floats with
/// [`crate::callbacks::exact_f64`] so that they read back bit for bit) and, for tensors, in
/// files it writes with [`save_files`](Self::save_files).
pub trait Callback<M> {
    /// The key of the callback's state in checkpoints; unique among a learner's callbacks.
    fn name(&self) -> String;

    /// Once at the start of `fit` (after a resumed state was loaded).
    ///
    /// # Errors
    /// A one-line message; `fit` stops with it.
    fn on_train_begin(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        let _ = ctx;
        Ok(())
    }

    /// At the start of each epoch (also of a resumed, half-done one).
    ///
    /// # Errors
    /// As [`on_train_begin`](Self::on_train_begin).
    fn on_epoch_begin(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        let _ = ctx;
        Ok(())
    }

    /// Before each optimizer step; `ctx.learning_rate` is the rate the step will use.
    ///
    /// # Errors
    /// As [`on_train_begin`](Self::on_train_begin).
    fn on_step_begin(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        let _ = ctx;
        Ok(())
    }

    /// At the epoch's last optimizer step, after backward (and accumulation and clipping),
    /// before the optimizer's update: `grads` holds the gradients that update applies, one per
    /// trainable float parameter of `ctx.model` (the weights before the update), each of its
    /// parameter's shape, keyed by [`ParamId`](burn::module::ParamId) (read one with
    /// `grads.get::<D>(param.id)`, or all by path with
    /// [`crate::tensorboard::weights::gradients`]). They live on the training device; reading
    /// them waits for it.
    ///
    /// "Last" is known before the update: the step that ends the epoch's data, or the one that
    /// reaches [`crate::LearnerConfig::max_steps`]. An epoch that a stop request or a
    /// callback's stop ends earlier has no such call. `ctx.global_step` does not count this
    /// step yet; `ctx.epoch_step` counts its batches. Called once an epoch and only here, so
    /// the other steps pay nothing for it (for Keras 2's `write_grads` histograms).
    ///
    /// # Errors
    /// As [`on_train_begin`](Self::on_train_begin).
    fn on_last_step_gradients(
        &mut self,
        ctx: &mut Context<'_, M>,
        grads: &GradientsParams,
    ) -> Result<(), String> {
        let _ = (ctx, grads);
        Ok(())
    }

    /// After each optimizer step (`ctx.global_step` counts it).
    ///
    /// # Errors
    /// As [`on_train_begin`](Self::on_train_begin).
    fn on_step_end(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        let _ = ctx;
        Ok(())
    }

    /// After the epoch's last training step, before validation.
    ///
    /// # Errors
    /// As [`on_train_begin`](Self::on_train_begin).
    fn on_validation_begin(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        let _ = ctx;
        Ok(())
    }

    /// After validation, with the epoch's logs (training metrics, `val_` metrics,
    /// `learning_rate`), which the callback may extend for those after it.
    ///
    /// # Errors
    /// As [`on_train_begin`](Self::on_train_begin).
    fn on_epoch_end(&mut self, ctx: &mut Context<'_, M>, logs: &mut Logs) -> Result<(), String> {
        let _ = (ctx, logs);
        Ok(())
    }

    /// When training ends (all epochs, or a stop request); the callback may replace the model
    /// the learner returns ([`Context::replace_model`]).
    ///
    /// # Errors
    /// As [`on_train_begin`](Self::on_train_begin).
    fn on_train_end(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        let _ = ctx;
        Ok(())
    }

    /// When training stops on request ([`crate::Learner::stop_flag`]), after the checkpoint
    /// was written: loggers flush what they buffered.
    ///
    /// # Errors
    /// As [`on_train_begin`](Self::on_train_begin).
    fn on_interrupt(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        let _ = ctx;
        Ok(())
    }

    /// A message for the user from the learner or a callback (a learning-rate reduction, a
    /// stop). Console loggers print it.
    fn on_message(&mut self, text: &str) {
        let _ = text;
    }

    /// The state to store in a checkpoint, if any.
    fn state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores what [`state`](Self::state) returned.
    ///
    /// # Errors
    /// A state that does not parse, as a one-line message.
    fn load_state(&mut self, state: serde_json::Value) -> Result<(), String> {
        let _ = state;
        Ok(())
    }

    /// Writes the callback's files into a checkpoint being written at `dir`.
    ///
    /// # Errors
    /// The I/O error; the checkpoint is then not written.
    fn save_files(&self, dir: &Path) -> std::io::Result<()> {
        let _ = dir;
        Ok(())
    }

    /// Reads the callback's files from the checkpoint at `dir` being resumed; `model` is the
    /// run's model (a template for weights to load).
    ///
    /// # Errors
    /// A one-line message naming the file.
    fn load_files(&mut self, dir: &Path, model: &M) -> Result<(), String> {
        let _ = (dir, model);
        Ok(())
    }
}

/// What a callback sees of the loop, and what it may ask of it.
pub struct Context<'a, M> {
    /// The model now (after the step, at `on_step_end`).
    pub model: &'a M,
    /// The current epoch, 1-based.
    pub epoch: usize,
    /// The last epoch of the run.
    pub epochs: usize,
    /// Optimizer steps taken since the start of the run.
    pub global_step: usize,
    /// Steps taken in the current epoch.
    pub epoch_step: usize,
    /// Steps in a full epoch.
    pub steps_per_epoch: usize,
    /// The learning rate the next step uses (set it in `on_step_begin` or `on_epoch_end`).
    pub learning_rate: f64,
    /// The logs of the completed epochs before this one.
    pub history: &'a [EpochLogs],
    /// The run directory, when the learner writes one.
    pub run_dir: Option<&'a Path>,
    /// At `on_step_end`: the step's mean loss, shape `[1]`, detached (reading it waits for the
    /// device). `None` at the other hooks.
    pub step_loss: Option<burn::tensor::Tensor<1>>,
    sums: &'a MetricSums,
    pub(crate) stop: Option<String>,
    pub(crate) messages: Vec<String>,
    pub(crate) saves: Vec<PathBuf>,
    pub(crate) replacement: Option<M>,
}

impl<'a, M> Context<'a, M> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        model: &'a M,
        counters: Counters,
        learning_rate: f64,
        history: &'a [EpochLogs],
        run_dir: Option<&'a Path>,
        sums: &'a MetricSums,
    ) -> Self {
        Self {
            model,
            epoch: counters.epoch,
            epochs: counters.epochs,
            global_step: counters.global_step,
            epoch_step: counters.epoch_step,
            steps_per_epoch: counters.steps_per_epoch,
            learning_rate,
            history,
            run_dir,
            step_loss: None,
            sums,
            stop: None,
            messages: Vec::new(),
            saves: Vec::new(),
            replacement: None,
        }
    }

    /// The epoch's training metrics so far (`loss`, `accuracy`, ...): their running means.
    /// Waits for the device, so call it only when needed.
    pub fn running_logs(&self) -> Logs {
        self.sums.logs("")
    }

    /// Training examples of the epoch so far (the `loss` count), resumed steps included.
    pub fn examples(&self) -> usize {
        self.sums.count("loss")
    }

    /// Ends training, for `reason`: called from a step hook ([`Callback::on_step_begin`],
    /// [`Callback::on_step_end`]), after this step (the
    /// epoch ends there, with validation and the epoch-end hooks, as
    /// [`crate::LearnerConfig::max_steps`] ends it); from any other hook, after this epoch
    /// (early stopping).
    pub fn stop_training(&mut self, reason: impl Into<String>) {
        self.stop = Some(reason.into());
    }

    /// A message for the user ([`Callback::on_message`] of every callback receives it).
    pub fn message(&mut self, text: impl Into<String>) {
        self.messages.push(text.into());
    }

    /// Asks for a full checkpoint (weights, optimizer, every callback's state) in `dir`, written
    /// once every callback has run this hook.
    pub fn save_checkpoint(&mut self, dir: PathBuf) {
        self.saves.push(dir);
    }

    /// At `on_train_end`: the model the learner returns instead of the current one (early
    /// stopping's best weights).
    pub fn replace_model(&mut self, model: M) {
        self.replacement = Some(model);
    }
}

/// The loop's counters, as a [`Context`] shows them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    pub epoch: usize,
    pub epochs: usize,
    pub global_step: usize,
    pub epoch_step: usize,
    pub steps_per_epoch: usize,
}
