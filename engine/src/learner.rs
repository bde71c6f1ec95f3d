//! The learner: the one training loop of ember, for any Burn module, data source, optimizer
//! and step.
//!
//! Per epoch: the training batches in an order derived from the seed and the epoch number (so
//! a resumed run sees the same order), one optimizer step each, validation, the callbacks, and
//! a checkpoint when the learner has a run directory (also every N steps on request, and when
//! asked to stop). A run resumed from any checkpoint, mid-epoch included, continues bit for bit
//! as the run that was not interrupted: the data order, the optimizer state, the epoch's metric
//! sums, the learning rate and every callback's state come back exactly.
//!
//! `examples/library.rs` trains a network of its own on data it makes with every callback;
//! `examples/regression.rs` a regression; docs/library.md walks through both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};

use crate::callback::{Callback, Context, Counters};
use crate::checkpoint::{
    self, Checkpoint, CheckpointState, FORMAT_VERSION, load_optimizer, load_weights,
};
use crate::clip::GradientClip;
use crate::data::EpochSource;
use crate::ema::Ema;
use crate::error::EngineError;
use crate::layout::{CHECKPOINTS_DIR, EMA_FILE, MODEL_FILE};
use crate::lock::RunLock;
use crate::metrics::{EpochLogs, MetricSum, MetricSums, PartialSums};
use crate::step::{StepOutput, TrainStep};
use crate::threads::{computes_on_pool, keep_warm};

/// How the learner runs.
#[derive(Debug, Clone)]
pub struct LearnerConfig {
    /// The last epoch to train (a resumed run continues up to it). Default 10.
    pub epochs: usize,
    /// Examples per training step; the last batch of an epoch may be smaller. Default 32
    /// (Keras' `fit`).
    pub batch_size: usize,
    /// Examples per validation batch (no gradients, so it may be larger). Default: the
    /// training batch size.
    pub eval_batch_size: Option<usize>,
    /// The learning rate, until a callback (a schedule, ReduceLROnPlateau) sets another.
    /// Default 1e-3.
    pub learning_rate: f64,
    /// The seed of the per-epoch shuffles ([`epoch_seed`]). Default 0.
    pub seed: u64,
    /// Whether each epoch shuffles the training data (Keras' `shuffle=True`). Default true.
    pub shuffle: bool,
    /// Where checkpoints go (`<run_dir>/checkpoints/`); none written without it. `fit` holds
    /// the directory's lock ([`RunLock`]) while it runs, so a second process on the same run
    /// directory is refused. Default none.
    pub run_dir: Option<PathBuf>,
    /// Also write a checkpoint every N optimizer steps, mid-epoch included. Default none.
    pub checkpoint_every: Option<usize>,
    /// End training after this many optimizer steps in all (Lightning's `max_steps`), in the
    /// middle of an epoch if need be: that epoch ends there (validation, callbacks) and the
    /// run finishes. Default none.
    pub max_steps: Option<usize>,
    /// How many resume checkpoints to keep: after each one is written, the oldest beyond this
    /// number are removed (never one newer than the checkpoint just written), so a long run's
    /// disk use is bounded. `None` keeps all. Checkpoints that callbacks select
    /// (`<run>/models/`) are not counted. Default `Some(3)`.
    pub keep_checkpoints: Option<usize>,
    /// Batches whose gradients make one optimizer step (Lightning's `accumulate_grad_batches`):
    /// each batch's loss is divided by the number of batches in its window before `backward`,
    /// so the step uses the mean of their gradients. An epoch's last window may be shorter
    /// (when the batches per epoch are not a multiple); it is the mean of the batches it has.
    /// Checkpoints within an epoch are written at window ends only. Default 1.
    pub accumulate_grad_batches: usize,
    /// Gradient clipping, after accumulation and before the optimizer's update
    /// ([`GradientClip`]). Default none.
    pub gradient_clip: Option<GradientClip>,
    /// Keep an exponential moving average of the weights with this decay, in `[0, 1)`
    /// ([`Ema`], Keras' `ema_momentum`); it is saved in every checkpoint (`ema.bpk`). Default
    /// none.
    pub ema_decay: Option<f64>,
    /// With `ema_decay`: validate, and return as the final model, the averaged weights (what
    /// the epoch-end callbacks see too, so a selected checkpoint holds the weights its metric
    /// measured); `false` only keeps the average in the checkpoints. Default true.
    pub ema_eval: bool,
}

impl Default for LearnerConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            eval_batch_size: None,
            learning_rate: 1e-3,
            seed: 0,
            shuffle: true,
            run_dir: None,
            checkpoint_every: None,
            max_steps: None,
            keep_checkpoints: Some(DEFAULT_KEEP_CHECKPOINTS),
            accumulate_grad_batches: 1,
            gradient_clip: None,
            ema_decay: None,
            ema_eval: true,
        }
    }
}

/// [`LearnerConfig::keep_checkpoints`]'s default: the newest three resume checkpoints, so that
/// a damaged newest one still leaves two to fall back on.
pub const DEFAULT_KEEP_CHECKPOINTS: usize = 3;

/// The shuffle seed of `epoch`: a fixed function of the run seed, so that epoch `e` sees the
/// same order whether or not the run was resumed before it.
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// How a [`Learner::fit`] call ended.
pub enum FitOutcome<M> {
    /// Every epoch ran, or a callback stopped training.
    Finished(Box<FitResult<M>>),
    /// Stopped on request ([`Learner::stop_flag`]) after a step, with a checkpoint.
    Interrupted {
        /// The model at the stop.
        model: M,
        /// The checkpoint written at the stop ([`Learner::resume`] continues from it).
        checkpoint: PathBuf,
        /// Optimizer steps taken.
        global_step: usize,
    },
}

/// A finished run.
pub struct FitResult<M> {
    /// The trained model (or the one a callback chose at the end, e.g. early stopping's best).
    pub model: M,
    /// The optimizer with its state.
    pub optimizer: ModuleOptimizer,
    /// Every epoch's logs.
    pub history: Vec<EpochLogs>,
    /// Why a callback stopped training early, if one did.
    pub stopped: Option<String>,
    /// Optimizer steps taken.
    pub global_step: usize,
    /// Each callback's final state, under its name (early stopping's best epoch, ...).
    pub callback_states: BTreeMap<String, serde_json::Value>,
}

/// Trains a module `M` on batches `B`; see the module documentation. `'a` bounds what the
/// step and the callbacks may borrow (an application's console, say).
pub struct Learner<'a, M, B> {
    model: M,
    optimizer: ModuleOptimizer,
    step: Box<dyn TrainStep<M, B> + 'a>,
    device: Device,
    config: LearnerConfig,
    callbacks: Vec<Box<dyn Callback<M> + 'a>>,
    resume: Option<Checkpoint>,
    stop: Option<Arc<AtomicBool>>,
    app: serde_json::Value,
    lock: Option<&'a RunLock>,
    report_loss: Option<Box<dyn Fn(f64) + 'a>>,
}

impl<'a, M: Module, B> Learner<'a, M, B> {
    /// A learner for `model` (on `device`, which should have autodiff on), updated by
    /// `optimizer` with the loss of `step`.
    pub fn new(
        model: M,
        optimizer: ModuleOptimizer,
        step: impl TrainStep<M, B> + 'a,
        device: Device,
        config: LearnerConfig,
    ) -> Self {
        Self {
            model,
            optimizer,
            step: Box::new(step),
            device,
            config,
            callbacks: Vec::new(),
            resume: None,
            stop: None,
            app: serde_json::Value::Null,
            lock: None,
            report_loss: None,
        }
    }

    /// Calls `report` with each optimizer step's training loss just before the optimizer's
    /// update: the mean of the losses of the batches whose gradients the step uses (one batch,
    /// or its accumulation window), read from the device as f64. For an optimizer whose rule
    /// reads the loss, which Burn's `Optimizer::step` cannot pass: iRprop⁺
    /// (`ember_optim::LossCell`, e.g. `.report_loss(move |loss| cell.set(loss))`). Reading the
    /// loss waits for the device once per batch, so leave it unset for other optimizers.
    /// ([`optimize`] does not report.)
    pub fn report_loss(mut self, report: impl Fn(f64) + 'a) -> Self {
        self.report_loss = Some(Box::new(report));
        self
    }

    /// Adds a callback; callbacks run in the order they are added.
    pub fn callback(mut self, callback: impl Callback<M> + 'a) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Adds a boxed callback.
    pub fn boxed_callback(mut self, callback: Box<dyn Callback<M> + 'a>) -> Self {
        self.callbacks.push(callback);
        self
    }

    /// When `flag` becomes true (a SIGINT handler, a test), training stops after the current
    /// step with a checkpoint, and `fit` returns [`FitOutcome::Interrupted`].
    pub fn stop_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Uses `lock`, which the caller already holds, as the run directory's lock instead of
    /// taking it in `fit`: for an application that writes files of its own into the run
    /// directory before and after training (the `train` command's `config.toml`). Its
    /// directory must be [`LearnerConfig::run_dir`].
    pub fn run_lock(mut self, lock: &'a RunLock) -> Self {
        self.lock = Some(lock);
        self
    }

    /// What the application stores in each checkpoint ([`CheckpointState::app`]).
    pub fn app_state(mut self, app: serde_json::Value) -> Self {
        self.app = app;
        self
    }

    /// Continues from `checkpoint`: its weights and optimizer state replace the learner's
    /// (which must be of the same structure), and `fit` restores the counters, the metric sums,
    /// the learning rate and each callback's state and files.
    ///
    /// # Errors
    /// Weights or optimizer state that do not load.
    pub fn resume(mut self, checkpoint: Checkpoint) -> Result<Self, EngineError> {
        self.model = load_weights(self.model, &checkpoint.dir.join(MODEL_FILE))?;
        self.optimizer = load_optimizer(self.optimizer, &checkpoint)?;
        self.resume = Some(checkpoint);
        Ok(self)
    }

    /// Trains on `train`, validating on `valid` after each epoch.
    ///
    /// On a CPU device (flex, ndarray) the other threads of Rayon's pool, which the CPU kernels
    /// run on, are kept looking for work from the first epoch to the return
    /// ([`crate::threads::keep_warm`]): their cores stay busy meanwhile.
    ///
    /// # Errors
    /// A bad setting, two callbacks of one name, a callback's error, a data source's, or
    /// failing to write a checkpoint.
    pub fn fit<T, V>(self, train: &T, valid: Option<&V>) -> Result<FitOutcome<M>, EngineError>
    where
        T: EpochSource<Batch = B> + ?Sized,
        V: EpochSource<Batch = B> + ?Sized,
    {
        let Learner {
            mut model,
            mut optimizer,
            step,
            device,
            config,
            callbacks,
            resume,
            stop,
            app,
            lock,
            report_loss,
        } = self;
        if config.batch_size == 0 || config.eval_batch_size == Some(0) {
            return Err(EngineError::Config(
                "the batch size must be at least 1".into(),
            ));
        }
        if config.checkpoint_every == Some(0) {
            return Err(EngineError::Config(
                "checkpoint_every must be at least 1 step".into(),
            ));
        }
        if config.keep_checkpoints == Some(0) {
            return Err(EngineError::Config(
                "keep_checkpoints must be at least 1 (None keeps all)".into(),
            ));
        }
        if config.accumulate_grad_batches == 0 {
            return Err(EngineError::Config(
                "accumulate_grad_batches must be at least 1".into(),
            ));
        }
        if let Some(clip) = config.gradient_clip
            && !(clip.threshold().is_finite() && clip.threshold() > 0.0)
        {
            return Err(EngineError::Config(format!(
                "the gradient clipping threshold must be a positive number, got {}",
                clip.threshold()
            )));
        }
        if let Some(decay) = config.ema_decay
            && !(0.0..1.0).contains(&decay)
        {
            return Err(EngineError::Config(format!(
                "ema_decay must be in [0, 1), got {decay}"
            )));
        }
        if train.is_empty() {
            return Err(EngineError::Config("the training data is empty".into()));
        }
        let mut names: Vec<String> = callbacks.iter().map(|c| c.name()).collect();
        names.sort();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(EngineError::Config(format!(
                "two callbacks are named '{}'; each needs its own name for its checkpoint state",
                pair[0]
            )));
        }
        let run_dir = config.run_dir.as_deref();
        // Held until `fit` returns: no other process writes into the run directory meanwhile.
        let _own_lock;
        if let Some(dir) = run_dir {
            match lock {
                Some(lock) if lock.dir() == dir => {}
                Some(lock) => {
                    return Err(EngineError::Config(format!(
                        "the lock given is for {}, the run directory is {}",
                        lock.dir().display(),
                        dir.display()
                    )));
                }
                None => _own_lock = RunLock::acquire(dir)?,
            }
            // Under the lock, any temporary of a checkpoint write is a dead writer's.
            checkpoint::remove_partial_writes(dir).map_err(|source| EngineError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let state = match &resume {
            Some(ck) => CheckpointState {
                app: app.clone(),
                ..ck.state.clone()
            },
            None => CheckpointState {
                format_version: FORMAT_VERSION,
                epoch: 0,
                global_step: 0,
                epoch_step: 0,
                partial: PartialSums::default(),
                learning_rate: config.learning_rate,
                callbacks: Default::default(),
                app,
                stopped: None,
                history: Vec::new(),
            },
        };
        // A batch larger than the data is the data (Keras' `fit` does the same); a source
        // then never sizes a buffer by an absurd batch size.
        let batch_size = config.batch_size.min(train.len());
        let steps_per_epoch = train.len().div_ceil(batch_size);
        let mut run = Run {
            callbacks,
            state,
            run_dir,
            keep_checkpoints: config.keep_checkpoints,
            epochs: config.epochs,
            steps_per_epoch,
            epoch: 0,
            // A run whose end a callback decided ends again at once when resumed.
            stopped: resume.as_ref().and_then(|ck| ck.state.stopped.clone()),
            pending: Vec::new(),
            step_loss: None,
            ema: None,
        };
        if let Some(ck) = &resume {
            for callback in &mut run.callbacks {
                if let Some(state) = ck.state.callbacks.get(&callback.name()) {
                    callback
                        .load_state(state.clone())
                        .map_err(EngineError::Callback)?;
                }
                callback
                    .load_files(&ck.dir, &model)
                    .map_err(EngineError::Callback)?;
            }
        }
        run.ema = match (config.ema_decay, &resume) {
            (None, _) => None,
            (Some(decay), None) => Some(Ema::new(&model, decay)),
            (Some(decay), Some(ck)) => Some(Ema {
                decay,
                average: load_weights(model.valid(), &ck.dir.join(EMA_FILE))?,
            }),
        };
        let accumulate = config.accumulate_grad_batches;
        let no_sums = MetricSums::default();
        run.hook(&model, &no_sums, &optimizer, |c, ctx| c.on_train_begin(ctx))?;

        let eval_device = device.clone().without_autodiff();
        let eval_batch_size = config.eval_batch_size.unwrap_or(config.batch_size);
        // On a CPU device the pool's threads are what trains: kept from falling asleep between
        // a step's parallel regions while the epochs run (`threads::keep_warm`).
        let _warm = computes_on_pool(&device).then(keep_warm).flatten();
        for epoch in run.state.epoch + 1..=config.epochs {
            if run.stopped.is_some() {
                break;
            }
            let skip = run.state.epoch_step;
            let mut sums = MetricSums::restore(&run.state.partial, &device);
            run.epoch = epoch;
            run.hook(&model, &sums, &optimizer, |c, ctx| c.on_epoch_begin(ctx))?;
            let shuffle = config.shuffle.then(|| epoch_seed(config.seed, epoch));
            let batches = train
                .batches(batch_size, shuffle, skip, &device)
                .map_err(|source| EngineError::Data {
                    split: "training",
                    source,
                })?;
            let mut window = GradientsAccumulator::new();
            // The window's summed loss, for `report_loss`.
            let mut window_loss = 0.0;
            for (i, batch) in batches.enumerate() {
                let batch = batch.map_err(|source| EngineError::Data {
                    split: "training",
                    source,
                })?;
                let index = skip + i;
                // The window of `accumulate` batches this one belongs to (checkpoints are
                // only written at window ends, so `skip` is always at a window start).
                let start = index - index % accumulate;
                let window_len = accumulate.min(steps_per_epoch - start);
                let window_end = index + 1 == start + window_len;
                if index == start {
                    run.hook(&model, &sums, &optimizer, |c, ctx| c.on_step_begin(ctx))?;
                }
                let noise = crate::noise::step_key(config.seed, epoch, index);
                let (grads, out) = crate::noise::scope(noise, || {
                    gradients(step.as_ref(), &model, batch, window_len)
                });
                let loss = add(&mut sums, out);
                if report_loss.is_some() {
                    window_loss += loss.clone().into_scalar::<f64>();
                }
                run.state.epoch_step = index + 1;
                if !window_end {
                    window.accumulate(&model, grads);
                    continue;
                }
                let grads = if window_len > 1 {
                    window.accumulate(&model, grads);
                    window.grads()
                } else {
                    grads
                };
                let grads = match config.gradient_clip {
                    Some(clip) => clip.apply(&model, grads),
                    None => grads,
                };
                // Known before the update: the end of the epoch's data, or the step that
                // reaches `max_steps`.
                let last_step = run.state.epoch_step == steps_per_epoch
                    || config
                        .max_steps
                        .is_some_and(|n| run.state.global_step + 1 >= n);
                if last_step {
                    run.hook(&model, &sums, &optimizer, |c, ctx| {
                        c.on_last_step_gradients(ctx, &grads)
                    })?;
                }
                if let Some(report) = &report_loss {
                    report(window_loss / window_len as f64);
                    window_loss = 0.0;
                }
                model = optimizer.step(run.state.learning_rate, model, grads);
                if let Some(ema) = &mut run.ema {
                    ema.update(&model);
                }
                run.step_loss = Some(loss);
                run.state.global_step += 1;
                run.hook(&model, &sums, &optimizer, |c, ctx| c.on_step_end(ctx))?;
                run.step_loss = None;
                // The epoch end writes its own checkpoint below. A callback that stops
                // training at a step (a target reached, a diverging loss) ends the epoch here,
                // as `max_steps` does.
                if last_step || run.stopped.is_some() {
                    break;
                }
                let due = config
                    .checkpoint_every
                    .is_some_and(|n| run.state.global_step.is_multiple_of(n));
                let stopping = stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
                if let Some(dir) = run_dir.filter(|_| due || stopping) {
                    let path =
                        run.save(&checkpoint_dir(dir, &run.state), &model, &optimizer, &sums)?;
                    if stopping {
                        run.hook(&model, &sums, &optimizer, |c, ctx| c.on_interrupt(ctx))?;
                        return Ok(FitOutcome::Interrupted {
                            model,
                            checkpoint: path,
                            global_step: run.state.global_step,
                        });
                    }
                }
            }
            run.hook(&model, &sums, &optimizer, |c, ctx| {
                c.on_validation_begin(ctx)
            })?;
            let mut logs = sums.logs("");
            // What validation and the epoch-end callbacks see: the averaged weights on request.
            let averaged = run
                .ema
                .as_ref()
                .filter(|_| config.ema_eval)
                .map(|e| e.apply_to(&model));
            let evaluated = averaged.as_ref().unwrap_or(&model);
            if let Some(valid) = valid {
                let val = evaluate(
                    step.as_ref(),
                    evaluated,
                    valid,
                    eval_batch_size,
                    &eval_device,
                )?;
                logs.extend(val.logs("val_"));
            }
            logs.insert("learning_rate".into(), run.state.learning_rate);
            run.state.epoch = epoch;
            run.state.epoch_step = 0;
            run.state.partial = PartialSums::default();
            let no_sums = MetricSums::default();
            // Checkpoints the callbacks ask for here include this epoch's row: they are
            // written once it is in the history.
            run.call(evaluated, &no_sums, |c, ctx| c.on_epoch_end(ctx, &mut logs))?;
            run.state.stopped.clone_from(&run.stopped);
            run.state.history.push(EpochLogs { epoch, logs });
            run.save_pending(evaluated, &optimizer, &no_sums)?;
            if let Some(dir) = run_dir {
                run.save(
                    &checkpoint_dir(dir, &run.state),
                    &model,
                    &optimizer,
                    &no_sums,
                )?;
            }
            if run.stopped.is_some() || out_of_steps(&config, &run.state) {
                break;
            }
            let stopping = stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
            if let Some(dir) = run_dir.filter(|_| stopping && epoch < config.epochs) {
                run.hook(&model, &no_sums, &optimizer, |c, ctx| c.on_interrupt(ctx))?;
                return Ok(FitOutcome::Interrupted {
                    model,
                    checkpoint: checkpoint_dir(dir, &run.state),
                    global_step: run.state.global_step,
                });
            }
        }
        let no_sums = MetricSums::default();
        if let Some(ema) = run.ema.as_ref().filter(|_| config.ema_eval) {
            model = ema.apply_to(&model);
        }
        if let Some(best) = run.hook(&model, &no_sums, &optimizer, |c, ctx| c.on_train_end(ctx))? {
            model = best;
        }
        let callback_states = run.states();
        Ok(FitOutcome::Finished(Box::new(FitResult {
            model,
            optimizer,
            history: run.state.history,
            stopped: run.stopped,
            global_step: run.state.global_step,
            callback_states,
        })))
    }
}

/// One optimization step, the learner's loop for one batch without its options (noise keys,
/// accumulation, clipping, averaging): `step` on `batch`, backward, and `optimizer`'s update
/// at `learning_rate`. Returns the updated model and the step's output (its loss still the
/// graph's; detach it to keep it).
///
/// The model is taken by value and returned updated, so that no second handle keeps the old
/// weights alive while the optimizer writes the new ones. `batch` must live on the model's
/// (autodiff) device. Benchmarks and tests that time or check single steps call this, so they
/// measure what the learner runs.
pub fn optimize<M: Module, B>(
    step: &dyn TrainStep<M, B>,
    model: M,
    optimizer: &mut ModuleOptimizer,
    batch: B,
    learning_rate: f64,
) -> (M, StepOutput) {
    let (grads, out) = gradients(step, &model, batch, 1);
    (optimizer.step(learning_rate, model, grads), out)
}

/// `step` on `batch` and backward: the gradients of its loss divided by `window` (the batches
/// whose gradients one optimizer step sums: their mean), and the step's output.
fn gradients<M: Module, B>(
    step: &dyn TrainStep<M, B>,
    model: &M,
    batch: B,
    window: usize,
) -> (GradientsParams, StepOutput) {
    let out = step.step(model, batch);
    let loss = if window > 1 {
        out.loss.clone().div_scalar(window as f64)
    } else {
        out.loss.clone()
    };
    (GradientsParams::from_grads(loss.backward(), model), out)
}

/// The loss and metrics of `model` over `source` (in storage order, batches of `batch_size`),
/// without gradients: on its validation copy ([`Module::valid`]) on `device` (without
/// autodiff), where the source builds its batches.
///
/// # Errors
/// The source's error.
pub fn evaluate<M: Module, B, S>(
    step: &dyn TrainStep<M, B>,
    model: &M,
    source: &S,
    batch_size: usize,
    device: &Device,
) -> Result<MetricSums, EngineError>
where
    S: EpochSource<Batch = B> + ?Sized,
{
    let model = model.valid();
    let device = device.clone().without_autodiff();
    let mut sums = MetricSums::default();
    let data_err = |source| EngineError::Data {
        split: "validation",
        source,
    };
    for batch in source
        .batches(batch_size.min(source.len().max(1)), None, 0, &device)
        .map_err(data_err)?
    {
        add(&mut sums, step.step(&model, batch.map_err(data_err)?));
    }
    Ok(sums)
}

/// Adds a step's loss (weighted by its batch size) and metrics to the epoch's sums.
/// Returns the loss, detached (the `step_loss` callbacks see).
fn add(sums: &mut MetricSums, out: StepOutput) -> Tensor<1> {
    let StepOutput {
        loss,
        batch_size,
        metrics,
    } = out;
    let loss = loss.detach();
    sums.add(MetricSum {
        name: "loss".into(),
        sum: loss.clone().mul_scalar(batch_size as f64),
        count: batch_size,
    });
    for metric in metrics {
        sums.add(metric);
    }
    loss
}

/// Whether the run has taken its `max_steps`.
fn out_of_steps(config: &LearnerConfig, state: &CheckpointState) -> bool {
    config.max_steps.is_some_and(|n| state.global_step >= n)
}

fn checkpoint_dir(run_dir: &Path, state: &CheckpointState) -> PathBuf {
    run_dir.join(CHECKPOINTS_DIR).join(state.dir_name())
}

/// The loop's mutable part: the callbacks and the state a checkpoint stores.
struct Run<'a, 'c, M> {
    callbacks: Vec<Box<dyn Callback<M> + 'c>>,
    state: CheckpointState,
    run_dir: Option<&'a Path>,
    keep_checkpoints: Option<usize>,
    epochs: usize,
    steps_per_epoch: usize,
    /// The current epoch (1-based); `state.epoch` counts the completed ones.
    epoch: usize,
    stopped: Option<String>,
    /// Checkpoints asked for and not yet written.
    pending: Vec<PathBuf>,
    /// The last step's mean loss, detached, while its `on_step_end` runs.
    step_loss: Option<Tensor<1>>,
    /// The weights' moving average, when the run keeps one; saved in every checkpoint as
    /// [`EMA_FILE`].
    ema: Option<Ema<M>>,
}

impl<M: Module> Run<'_, '_, M> {
    /// Runs one hook of every callback, then carries out what they asked for (messages,
    /// checkpoints, a stop); returns a model a callback chose to replace the current one.
    fn hook(
        &mut self,
        model: &M,
        sums: &MetricSums,
        optimizer: &ModuleOptimizer,
        call: impl FnMut(&mut dyn Callback<M>, &mut Context<'_, M>) -> Result<(), String>,
    ) -> Result<Option<M>, EngineError> {
        let replacement = self.call(model, sums, call)?;
        self.save_pending(model, optimizer, sums)?;
        Ok(replacement)
    }

    /// [`hook`](Self::hook) without writing the checkpoints asked for: they wait in `pending`.
    fn call(
        &mut self,
        model: &M,
        sums: &MetricSums,
        mut call: impl FnMut(&mut dyn Callback<M>, &mut Context<'_, M>) -> Result<(), String>,
    ) -> Result<Option<M>, EngineError> {
        let counters = Counters {
            epoch: self.epoch.max(self.state.epoch),
            epochs: self.epochs,
            global_step: self.state.global_step,
            epoch_step: self.state.epoch_step,
            steps_per_epoch: self.steps_per_epoch,
        };
        let (stop, messages, saves, replacement, learning_rate) = {
            let mut ctx = Context::new(
                model,
                counters,
                self.state.learning_rate,
                &self.state.history,
                self.run_dir,
                sums,
            );
            ctx.step_loss = self.step_loss.clone();
            for callback in &mut self.callbacks {
                call(callback.as_mut(), &mut ctx).map_err(EngineError::Callback)?;
            }
            (
                ctx.stop,
                ctx.messages,
                ctx.saves,
                ctx.replacement,
                ctx.learning_rate,
            )
        };
        self.state.learning_rate = learning_rate;
        if stop.is_some() {
            self.stopped = stop;
        }
        for text in &messages {
            for callback in &mut self.callbacks {
                callback.on_message(text);
            }
        }
        self.pending.extend(saves);
        Ok(replacement)
    }

    /// Writes the checkpoints the callbacks asked for.
    fn save_pending(
        &mut self,
        model: &M,
        optimizer: &ModuleOptimizer,
        sums: &MetricSums,
    ) -> Result<(), EngineError> {
        for dir in std::mem::take(&mut self.pending) {
            self.save(&dir, model, optimizer, sums)?;
        }
        Ok(())
    }

    /// Every callback's state, under its name.
    fn states(&self) -> BTreeMap<String, serde_json::Value> {
        self.callbacks
            .iter()
            .filter_map(|c| c.state().map(|s| (c.name(), s)))
            .collect()
    }

    /// Writes a full checkpoint into `dir`: weights, optimizer, counters, the epoch's sums so
    /// far, every callback's state and files.
    fn save(
        &mut self,
        dir: &Path,
        model: &M,
        optimizer: &ModuleOptimizer,
        sums: &MetricSums,
    ) -> Result<PathBuf, EngineError> {
        self.state.partial = if self.state.epoch_step > 0 {
            sums.snapshot()
        } else {
            PartialSums::default()
        };
        self.state.callbacks = self.states();
        let callbacks = &self.callbacks;
        let ema = &self.ema;
        let path = checkpoint::save_as(dir, &self.state, model, optimizer, |tmp| {
            if let Some(ema) = ema {
                checkpoint::save_weights(&ema.average, &tmp.join(EMA_FILE))?;
            }
            callbacks.iter().try_for_each(|c| c.save_files(tmp))
        })?;
        tracing::debug!("checkpoint {}", path.display());
        if let (Some(run_dir), Some(keep)) = (self.run_dir, self.keep_checkpoints)
            && path.parent() == Some(run_dir.join(CHECKPOINTS_DIR).as_path())
        {
            checkpoint::prune(run_dir, keep, &path).map_err(|source| EngineError::Write {
                path: run_dir.join(CHECKPOINTS_DIR),
                source,
            })?;
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::SgdConfig;
    use burn::tensor::{Device, TensorData};

    use super::*;
    use crate::callback::Context;
    use crate::data::{TensorSource, Xy};
    use crate::step::Regression;

    #[derive(Module, Debug)]
    struct Line {
        linear: Linear,
    }

    /// Stops training at its `at`-th step.
    struct StopAt {
        at: usize,
    }

    impl Callback<Line> for StopAt {
        fn name(&self) -> String {
            "stop_at".into()
        }

        fn on_step_end(&mut self, ctx: &mut Context<'_, Line>) -> Result<(), String> {
            if ctx.global_step == self.at {
                ctx.stop_training("target");
            }
            Ok(())
        }
    }

    /// A stop asked for at a step ends the epoch after that step: 3 of the epoch's 8 steps,
    /// one history row (validated), the reason kept.
    #[test]
    fn a_stop_at_a_step_ends_the_epoch_there() {
        let device = Device::flex().autodiff();
        let xs: Vec<f32> = (0..32).map(|i| i as f32 / 16.0 - 1.0).collect();
        let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x + 1.0).collect();
        let data =
            TensorSource::new(TensorData::new(xs, [32, 1]), TensorData::new(ys, [32, 1])).unwrap();
        let model = Line {
            linear: LinearConfig::new(1, 1).init(&device),
        };
        let config = LearnerConfig {
            epochs: 5,
            batch_size: 4,
            learning_rate: 0.1,
            ..Default::default()
        };
        let step = |m: &Line, b: Xy| Regression.output(m.linear.forward(b.x), b.y);
        let outcome = Learner::new(model, SgdConfig::new().init(), step, device, config)
            .callback(StopAt { at: 3 })
            .fit(&data, Some(&data))
            .unwrap();
        let FitOutcome::Finished(result) = outcome else {
            panic!("the run was not interrupted")
        };
        assert_eq!(result.global_step, 3);
        assert_eq!(result.history.len(), 1);
        assert!(result.history[0].logs.contains_key("val_loss"));
        assert_eq!(result.stopped.as_deref(), Some("target"));
    }

    /// Raises a stop flag (Ctrl-C) at its `at`-th step.
    struct InterruptAt {
        at: usize,
        flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl Callback<Line> for InterruptAt {
        fn name(&self) -> String {
            "interrupt_at".into()
        }

        fn on_step_end(&mut self, ctx: &mut Context<'_, Line>) -> Result<(), String> {
            if ctx.global_step == self.at {
                self.flag.store(true, Ordering::SeqCst);
            }
            Ok(())
        }
    }

    /// A run interrupted before its target and resumed reaches it at the same step, with the
    /// same windowed value and examples, as the run that was never stopped.
    #[test]
    fn a_target_is_reached_at_the_same_step_across_a_resume() {
        use crate::builtin::TargetStopper;
        let device = Device::flex().autodiff();
        let dir = std::env::temp_dir().join(format!("ember-target-{}", std::process::id()));
        let xs: Vec<f32> = (0..32).map(|i| i as f32 / 16.0 - 1.0).collect();
        let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x + 1.0).collect();
        let data =
            TensorSource::new(TensorData::new(xs, [32, 1]), TensorData::new(ys, [32, 1])).unwrap();
        let fit = |run_dir: Option<PathBuf>,
                   interrupt: Option<usize>,
                   resume: Option<crate::checkpoint::Checkpoint>| {
            let model = crate::init::seeded(3, |cpu| Line {
                linear: LinearConfig::new(1, 1).init(cpu),
            })
            .to_device(&device)
            .train();
            let config = LearnerConfig {
                epochs: 100,
                batch_size: 4,
                learning_rate: 0.05,
                run_dir,
                ..Default::default()
            };
            let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let step = |m: &Line, b: Xy| Regression.output(m.linear.forward(b.x), b.y);
            let mut learner =
                Learner::new(model, SgdConfig::new().init(), step, device.clone(), config)
                    .callback(TargetStopper::new("loss<=0.01".parse().unwrap(), 12))
                    .stop_flag(std::sync::Arc::clone(&flag));
            if let Some(at) = interrupt {
                learner = learner.callback(InterruptAt { at, flag });
            }
            if let Some(ck) = resume {
                learner = learner.resume(ck).unwrap();
            }
            learner.fit(&data, None::<&TensorSource>).unwrap()
        };
        let outcome = |result: &FitResult<Line>| {
            TargetStopper::outcome(&result.callback_states).expect("a target outcome")
        };
        let FitOutcome::Finished(whole) = fit(None, None, None) else {
            panic!("not interrupted")
        };
        let whole = outcome(&whole);
        assert!(whole.reached && whole.steps > 10, "{whole:?}");
        let _ = std::fs::remove_dir_all(&dir);
        let FitOutcome::Interrupted { .. } = fit(Some(dir.clone()), Some(whole.steps / 2), None)
        else {
            panic!("the run was not interrupted")
        };
        let latest = crate::checkpoint::latest(&dir).unwrap();
        let FitOutcome::Finished(resumed) = fit(Some(dir.clone()), None, Some(latest)) else {
            panic!("not interrupted")
        };
        let resumed = outcome(&resumed);
        assert_eq!(
            (resumed.steps, resumed.examples, resumed.value.to_bits()),
            (whole.steps, whole.examples, whole.value.to_bits())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A run resumed from the checkpoint written where a callback stopped it trains no
    /// further (killed before the application saw the end, it must not train on).
    #[test]
    fn a_stopped_run_resumed_ends_at_once() {
        let device = Device::flex().autodiff();
        let dir = std::env::temp_dir().join(format!("ember-stopped-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let xs: Vec<f32> = (0..32).map(|i| i as f32 / 16.0 - 1.0).collect();
        let data = TensorSource::new(
            TensorData::new(xs.clone(), [32, 1]),
            TensorData::new(xs, [32, 1]),
        )
        .unwrap();
        let fit = |resume: Option<crate::checkpoint::Checkpoint>| {
            let model = Line {
                linear: LinearConfig::new(1, 1).init(&device),
            };
            let config = LearnerConfig {
                epochs: 5,
                batch_size: 4,
                run_dir: Some(dir.clone()),
                ..Default::default()
            };
            let step = |m: &Line, b: Xy| Regression.output(m.linear.forward(b.x), b.y);
            let mut learner =
                Learner::new(model, SgdConfig::new().init(), step, device.clone(), config)
                    .callback(StopAt { at: 3 });
            if let Some(ck) = resume {
                learner = learner.resume(ck).unwrap();
            }
            match learner.fit(&data, None::<&TensorSource>).unwrap() {
                FitOutcome::Finished(result) => result,
                FitOutcome::Interrupted { .. } => panic!("not interrupted"),
            }
        };
        assert_eq!(fit(None).global_step, 3);
        let latest = crate::checkpoint::latest(&dir).unwrap();
        let resumed = fit(Some(latest));
        assert_eq!(resumed.global_step, 3);
        assert_eq!(resumed.history.len(), 1);
        assert_eq!(resumed.stopped.as_deref(), Some("target"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
