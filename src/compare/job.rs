//! The training job every backend of a comparison runs, and what one run of it measures.
//!
//! The job is the one `train` would run with the same flags, through the same learner
//! ([`ember_engine::Learner`] with the zoo's step [`classify`]): weights drawn from the seed on
//! the flex device and moved ([`init_model`]), each epoch's batches in the order of the seed,
//! and a final pass of [`evaluate`] over the validation split. Only the length may be cut to a
//! number of steps (the learner's `max_steps`), and the [`StepTimer`] callback reads every
//! step's loss back to the host, which synchronizes asynchronous backends, so each step's wall
//! time (from `on_step_begin`, the batch already built, to the loss on the host) is that step's
//! own.

use std::time::Instant;

use ember_engine::{Callback, Context, FitOutcome, Learner, LearnerConfig};
use ember_models::Model;
use serde::{Deserialize, Serialize};

use crate::backend::{self, BackendKind};
use crate::compare::memory::{DeviceMemoryPeak, peak_resident_bytes};
use crate::config::TrainConfig;
use crate::data::load_run_data;
use crate::learner::step::{classify, evaluate};
use crate::learner::{EVAL_BATCH_SIZE, init_model};

/// What every backend of a comparison trains. `config.backend` is ignored: the backend is
/// given to [`run_job`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareJob {
    /// Model, optimizer, learning rate, batch size, seed, data, number of epochs.
    pub config: TrainConfig,
    /// Stop after this many optimizer steps (crossing epochs as needed) instead of after
    /// `config.epochs` epochs.
    pub steps: Option<usize>,
    /// The first steps timed as warm-up (wgpu compiles and autotunes its kernels there; the
    /// optimizer's state is created in step 1 and first read in step 2).
    pub warmup_steps: usize,
    /// The losses of this many first steps are kept, to compare trajectories across backends.
    pub divergence_steps: usize,
}

impl CompareJob {
    /// Optimizer steps in one epoch: `ceil(training images / batch size)`.
    pub fn steps_per_epoch(&self, train_images: usize) -> usize {
        train_images.div_ceil(self.config.batch_size.unwrap_or(train_images).max(1))
    }

    /// The total number of optimizer steps of the job.
    pub fn total_steps(&self, train_images: usize) -> usize {
        self.steps
            .unwrap_or(self.config.epochs * self.steps_per_epoch(train_images))
    }
}

/// The measurements of one backend's run of a [`CompareJob`]. Times are wall-clock seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendRun {
    /// The device it ran on, as [`backend::Backend::device_name`].
    pub device: String,
    /// Number of warm-up steps ([`CompareJob::warmup_steps`], fewer if the job is shorter).
    pub warmup_steps: usize,
    /// Wall time of the warm-up steps together, including wgpu kernel compilation and
    /// autotuning.
    pub warmup_seconds: f64,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Median wall time of one step after the warm-up (fetching the batch, forward, backward,
    /// update, reading the loss back).
    pub step_seconds_median: f64,
    /// Mean wall time of one step after the warm-up.
    pub step_seconds_mean: f64,
    /// Training images per second after the warm-up: images of those steps over their total
    /// time.
    pub images_per_second: f64,
    /// Wall time of each complete epoch's training (validation excluded); the first includes
    /// the warm-up. Empty when the job stopped within its first epoch.
    pub epoch_seconds: Vec<f64>,
    /// Steady-state time of one epoch: the steps of an epoch at the median step time. `None`
    /// for jobs measured in steps.
    pub steady_epoch_seconds: Option<f64>,
    /// The loss of each of the first [`CompareJob::divergence_steps`] steps (batch mean
    /// cross-entropy before the update).
    pub losses: Vec<f64>,
    /// The loss of the last step.
    pub final_train_loss: f64,
    /// Mean cross-entropy over the validation split after training.
    pub val_loss: f64,
    /// Accuracy over the validation split after training, in [0, 1].
    pub val_accuracy: f64,
    /// Images in the validation split.
    pub val_images: usize,
    /// Peak resident memory of the process that ran the job (Linux `VmHWM`), in bytes; `None`
    /// where the system does not report it.
    pub peak_rss_bytes: Option<u64>,
    /// The most device memory the backend's allocator had reserved, in bytes; `None` for
    /// backends without a device allocator report (the CPU backends).
    pub device_memory_peak_bytes: Option<u64>,
}

/// Runs `job` on `backend_kind` in this process and measures it.
///
/// # Errors
/// [`backend::BackendError`] (as the error's source) when the backend cannot be brought up;
/// data loading or reading errors.
pub fn run_job(job: &CompareJob, backend_kind: BackendKind) -> Result<BackendRun, JobError> {
    let backend = backend::select(backend_kind, job.config.gpu_index)?;
    let data = load_run_data(&job.config).map_err(|e| JobError::Other(e.into()))?;
    let train_images = data.train.data().len();
    let batch_size = job.config.batch_size.unwrap_or(train_images);
    let total_steps = job.total_steps(train_images);
    let steps_per_epoch = job.steps_per_epoch(train_images);

    let device = backend.device.clone().autodiff();
    for note in data.host_fallback_notes(&backend) {
        ember_engine::console::err(&note);
    }
    let train_source = data.source(&data.train, &backend, &device);
    let mut timer = StepTimer {
        memory: DeviceMemoryPeak::new(&backend.device),
        keep_losses: job.divergence_steps.min(total_steps),
        steps_per_epoch,
        epoch_images: 0,
        step_started: None,
        epoch_started: None,
        step_times: Vec::with_capacity(total_steps),
        step_images: Vec::with_capacity(total_steps),
        losses: Vec::new(),
        final_train_loss: f64::NAN,
        epoch_seconds: Vec::new(),
    };
    let config = LearnerConfig {
        epochs: total_steps.div_ceil(steps_per_epoch),
        batch_size,
        learning_rate: job.config.lr,
        seed: job.config.seed,
        max_steps: Some(total_steps),
        ..Default::default()
    };
    let model = init_model(job.config.model, job.config.seed, &device);
    // iRprop⁺ reads each step's loss from this cell, which the learner sets before the step.
    let step_loss = ember_optim::LossCell::new();
    let mut learner = Learner::new(
        model,
        job.config.optimizer.init_with_loss(&step_loss),
        classify,
        device.clone(),
        config,
    )
    .callback(&mut timer);
    if job.config.optimizer.needs_loss() {
        learner = learner.report_loss(move |loss| step_loss.set(loss));
    }
    let outcome = learner
        .fit(&train_source, None::<&ember_datasets::BatchSource>)
        .map_err(|e| JobError::Other(e.into()))?;
    let FitOutcome::Finished(result) = outcome else {
        return Err(JobError::Other(anyhow::anyhow!("the job was interrupted")));
    };
    let model = result.model;
    let StepTimer {
        step_times,
        step_images,
        losses,
        final_train_loss,
        epoch_seconds,
        mut memory,
        ..
    } = timer;

    let val_source = data.source(&data.val, &backend, &device.clone().without_autodiff());
    let val = evaluate(&model, &val_source, EVAL_BATCH_SIZE, &device, |_, _| {});
    memory.sample();
    let warmup_steps = job.warmup_steps.min(step_times.len());
    if warmup_steps == step_times.len() {
        // Nothing left to time: the step statistics would be NaN, which JSON cannot carry.
        return Err(JobError::Other(anyhow::anyhow!(
            "all {} step(s) are warm-up steps; train more (--epochs, --limit-train, --batch-size) or lower --warmup-steps",
            step_times.len()
        )));
    }
    let steady = SteadyState::of(&step_times[warmup_steps..], &step_images[warmup_steps..]);
    Ok(BackendRun {
        device: backend.device_name.clone(),
        warmup_steps,
        warmup_seconds: step_times[..warmup_steps].iter().sum(),
        steps: step_times.len(),
        step_seconds_median: steady.median,
        step_seconds_mean: steady.mean,
        images_per_second: steady.images_per_second,
        epoch_seconds,
        steady_epoch_seconds: job
            .steps
            .is_none()
            .then_some(steady.median * steps_per_epoch as f64),
        losses,
        final_train_loss,
        val_loss: val.mean_loss(),
        val_accuracy: val.accuracy(),
        val_images: val.images(),
        peak_rss_bytes: peak_resident_bytes(),
        device_memory_peak_bytes: memory.peak(),
    })
}

/// Times each step of the job and keeps what the comparison reports: the step's wall time and
/// images, the first losses, the last loss, whole epochs' times and the device's memory peak.
struct StepTimer {
    memory: DeviceMemoryPeak,
    keep_losses: usize,
    steps_per_epoch: usize,
    /// Images of the epoch's steps so far.
    epoch_images: usize,
    step_started: Option<Instant>,
    epoch_started: Option<Instant>,
    step_times: Vec<f64>,
    step_images: Vec<usize>,
    losses: Vec<f64>,
    final_train_loss: f64,
    epoch_seconds: Vec<f64>,
}

impl Callback<Model> for &mut StepTimer {
    fn name(&self) -> String {
        "step_timer".into()
    }

    fn on_epoch_begin(&mut self, _ctx: &mut Context<'_, Model>) -> Result<(), String> {
        self.epoch_started = Some(Instant::now());
        self.epoch_images = 0;
        Ok(())
    }

    fn on_step_begin(&mut self, _ctx: &mut Context<'_, Model>) -> Result<(), String> {
        self.step_started = Some(Instant::now());
        Ok(())
    }

    fn on_step_end(&mut self, ctx: &mut Context<'_, Model>) -> Result<(), String> {
        // Reading the loss waits for the device to finish the step.
        let loss = ctx
            .step_loss
            .clone()
            .map_or(f64::NAN, |l| l.into_scalar::<f64>());
        let seconds = self.step_started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let images = ctx.examples() - self.epoch_images;
        self.epoch_images = ctx.examples();
        self.step_times.push(seconds);
        self.step_images.push(images);
        self.memory.sample();
        if self.losses.len() < self.keep_losses {
            self.losses.push(loss);
        }
        self.final_train_loss = loss;
        Ok(())
    }

    fn on_validation_begin(&mut self, ctx: &mut Context<'_, Model>) -> Result<(), String> {
        // Only whole epochs have an epoch time.
        if ctx.epoch_step == self.steps_per_epoch {
            let started = self
                .epoch_started
                .map_or(0.0, |s| s.elapsed().as_secs_f64());
            self.epoch_seconds.push(started);
        }
        Ok(())
    }
}

/// Why a job did not run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The backend is not available here: the comparison lists it with this reason.
    #[error(transparent)]
    Unavailable(#[from] backend::BackendError),
    /// Anything else: the comparison reports the backend as failed.
    #[error("{0:#}")]
    Other(anyhow::Error),
}

/// Step-time statistics after the warm-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SteadyState {
    pub median: f64,
    pub mean: f64,
    pub images_per_second: f64,
}

impl SteadyState {
    /// Median and mean of `seconds`, and `sum(images) / sum(seconds)`; NaN when empty.
    pub fn of(seconds: &[f64], images: &[usize]) -> Self {
        if seconds.is_empty() {
            return SteadyState {
                median: f64::NAN,
                mean: f64::NAN,
                images_per_second: f64::NAN,
            };
        }
        let mut sorted = seconds.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let total: f64 = seconds.iter().sum();
        SteadyState {
            median,
            mean: total / n as f64,
            images_per_second: images.iter().sum::<usize>() as f64 / total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_state_statistics_by_hand() {
        // Odd count: median is the middle value; 60 images in 0.6 s.
        let s = SteadyState::of(&[0.3, 0.1, 0.2], &[20, 20, 20]);
        assert_eq!(s.median, 0.2);
        assert!((s.mean - 0.2).abs() < 1e-15);
        assert!((s.images_per_second - 100.0).abs() < 1e-9);
        // Even count: mean of the two middle values; a short last batch counts its own images.
        let s = SteadyState::of(&[0.4, 0.1, 0.2, 0.3], &[64, 64, 64, 8]);
        assert!((s.median - 0.25).abs() < 1e-15);
        assert!((s.images_per_second - 200.0).abs() < 1e-9);
        assert!(SteadyState::of(&[], &[]).median.is_nan());
    }

    #[test]
    fn steps_of_a_job() {
        let mut config = TrainConfig::new(
            ember_models::ModelKind::Mlp,
            ember_optim::OptimizerConfig::AdaBelief(Default::default()),
        );
        config.epochs = 2;
        config.batch_size = Some(64);
        let mut job = CompareJob {
            config,
            steps: None,
            warmup_steps: 2,
            divergence_steps: 10,
        };
        // 54,000 images in batches of 64: 843 full batches and one of 48.
        assert_eq!(job.steps_per_epoch(54_000), 844);
        assert_eq!(job.total_steps(54_000), 1688);
        job.steps = Some(50);
        assert_eq!(job.total_steps(54_000), 50);
        job.config.batch_size = None;
        assert_eq!(job.steps_per_epoch(54_000), 1);
    }
}
