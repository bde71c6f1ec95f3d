//! `train lr-find`: the learning-rate range test ([`crate::lr_find`]) on the zoo, through the
//! engine's learner: a fresh model from the run's seed, the configured optimizer, the rate
//! set by a callback at every step, `max_steps` = the ramp's steps, no validation and no
//! checkpoints. Writes `lr_find.csv`, `lr_find.json` and `lr_find.png`/`.svg` into the run
//! directory and prints the suggestion on one line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use ember_datasets::ImageBatch;
use ember_engine::{EpochSource, LearnerConfig};
use serde::Serialize;

use crate::backend;
use crate::cli::LrFindArgs;
use crate::config::TrainConfig;
use crate::data::load_run_data;
use crate::learner::step::classify;
use crate::learner::{learner_config, training_source, zoo_learner};
use crate::lr_find::{
    BETA, EARLY_STOP_THRESHOLD, Point, Ramp, RangeTest, RangeTestCallback, SKIP_BEGIN, SKIP_END,
    Stop, minimum_over_ten, steepest,
};
use crate::plot::lr_find::{Mark, write_lr_find_plot};
use crate::training::{
    apply_autotune, check_batch_size, create_command_run_dir, lock_run, new_config,
};
use ember_engine::console::out;

/// Every step of the test: `step,learning_rate,loss,smoothed_loss` (step 1-based; rates and
/// losses in Rust's shortest round-trip notation, `NaN`/`inf` for a non-finite loss).
pub const CSV_FILE: &str = "lr_find.csv";
/// The test's settings and outcome ([`Report`]).
pub const REPORT_FILE: &str = "lr_find.json";
/// The plot's stem: `lr_find.png` and `lr_find.svg`.
pub const PLOT_STEM: &str = "lr_find";

/// What `lr_find.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The ramp's first rate (`--min-lr`).
    pub min_lr: f64,
    /// The ramp's last rate (`--max-lr`).
    pub max_lr: f64,
    /// Steps of the full ramp (`--steps`).
    pub steps: usize,
    /// The factor between consecutive rates, `(max_lr/min_lr)^(1/(steps−1))`.
    pub factor: f64,
    /// β of the smoothed loss.
    pub beta: f64,
    /// The divergence threshold, a multiple of the best smoothed loss.
    pub early_stop_threshold: f64,
    /// Steps taken (the CSV's rows).
    pub steps_taken: usize,
    /// Why the test ended at `steps_taken`: a divergence, a non-finite loss, or the ramp's end.
    pub stop_reason: String,
    /// The suggested rate: the steepest descent of the smoothed loss against log lr
    /// (Lightning's rule); `None` when too few points remain for it.
    pub suggestion: Option<Suggestion>,
    /// fastai's minimum/10, for comparison.
    pub minimum_over_ten: Option<Suggestion>,
    /// How the suggestion is chosen, in words.
    pub rule: String,
    /// Training images the steps drew from.
    pub training_images: usize,
    /// Backend and device name.
    pub device: String,
    /// Seconds from loading the data to the end of the last step.
    pub wall_seconds: f64,
    /// The resolved training configuration (model, optimizer, batch size, seed, data, ...);
    /// its `lr` is the ramp's first rate.
    pub config: TrainConfig,
}

/// One suggested rate and the point it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// The rate suggested.
    pub learning_rate: f64,
    /// The step (1-based) of the point the rule picked.
    pub step: usize,
    /// That point's smoothed loss.
    pub smoothed_loss: f64,
}

impl Suggestion {
    fn at(points: &[Point], index: usize, learning_rate: f64) -> Self {
        Self {
            learning_rate,
            step: points[index].step,
            smoothed_loss: points[index].smoothed_loss,
        }
    }
}

/// The suggestion's rule in words, as `lr_find.json` states it.
const RULE: &str = "steepest descent: the learning rate of the point where the smoothed loss falls fastest against log10(lr) (numpy.gradient, central differences), skipping the first 10 and the last 1 points and non-finite losses (PyTorch Lightning 1.x-2.5.2 _LRFinder.suggestion)";

pub(super) fn command(args: LrFindArgs) -> anyhow::Result<ExitCode> {
    apply_autotune(&args.device);
    let ramp = Ramp::new(args.min_lr, args.max_lr, args.steps).map_err(anyhow::Error::msg)?;
    let mut config = new_config(&args.train_args())?;
    config.lr = ramp.min;
    config.validate().map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let data = load_run_data(&config)?;
    check_batch_size(&config, &data)?;
    let backend = backend::select(config.backend, config.gpu_index)?;
    let run_dir = match &args.run_dir {
        Some(dir) => dir.clone(),
        None => create_command_run_dir("lr-find", config.model, &config.optimizer)?,
    };
    let _lock = lock_run(&run_dir)?;
    let train_images = data.train.data().len();
    // "lenet with sgd (momentum 0.9)": the optimizer's flags given, as the test ran it.
    let given: Vec<String> = args
        .optimizer_args
        .values()
        .iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect();
    let label = if given.is_empty() {
        format!("{} with {}", config.model, config.optimizer.name())
    } else {
        format!(
            "{} with {} ({})",
            config.model,
            config.optimizer.name(),
            given.join(", ")
        )
    };
    out(&format!(
        "lr-find: {label} on {} [{}], {train_images} training images: {} steps from {:e} to {:e}",
        backend.kind, backend.device_name, ramp.steps, ramp.min, ramp.max
    ));

    let device = backend.device.clone().autodiff();
    let source = training_source(&config, &data, &backend, &device);
    let settings = LearnerConfig {
        // Enough epochs for every step; `max_steps` ends the run at the ramp's last.
        epochs: ramp.steps,
        max_steps: Some(ramp.steps),
        learning_rate: ramp.min,
        ..learner_config(&config, train_images)
    };
    let mut test = RangeTest::default();
    zoo_learner(&config, classify, &device, settings)
        .callback(RangeTestCallback {
            ramp,
            test: &mut test,
        })
        .fit(
            source.as_ref(),
            None::<&dyn EpochSource<Batch = ImageBatch>>,
        )?;
    let wall_seconds = started.elapsed().as_secs_f64();

    let points = &test.points;
    let suggestion = steepest(points).map(|i| Suggestion::at(points, i, points[i].learning_rate));
    let minimum = minimum_over_ten(points).map(|(i, lr)| Suggestion::at(points, i, lr));
    let stop_reason = match &test.stop {
        Some(stop) => stop.to_string(),
        None => "the ramp reached --max-lr".to_string(),
    };
    let report = Report {
        min_lr: ramp.min,
        max_lr: ramp.max,
        steps: ramp.steps,
        factor: ramp.rate(1) / ramp.rate(0),
        beta: BETA,
        early_stop_threshold: EARLY_STOP_THRESHOLD,
        steps_taken: points.len(),
        stop_reason,
        suggestion,
        minimum_over_ten: minimum,
        rule: RULE.into(),
        training_images: train_images,
        device: format!("{} [{}]", backend.kind, backend.device_name),
        wall_seconds,
        config,
    };
    let diverged = matches!(test.stop, Some(Stop::Diverged { .. }));
    let files = write_files(&run_dir, &label, &report, points, diverged)?;
    out(&summary_line(&report, &files));
    Ok(ExitCode::SUCCESS)
}

/// Writes the CSV, the JSON report and the plot (titled with `label`, the model and the
/// optimizer; its y range without the last point when the test `diverged` there) into
/// `run_dir`; returns the paths written.
fn write_files(
    run_dir: &Path,
    label: &str,
    report: &Report,
    points: &[Point],
    diverged: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut csv = String::from("step,learning_rate,loss,smoothed_loss\n");
    for p in points {
        csv.push_str(&format!(
            "{},{},{},{}\n",
            p.step, p.learning_rate, p.loss, p.smoothed_loss
        ));
    }
    let json = serde_json::to_vec_pretty(report)?;
    let mut written = Vec::new();
    for (name, bytes) in [(CSV_FILE, csv.into_bytes()), (REPORT_FILE, json)] {
        let path = run_dir.join(name);
        ember_engine::fsutil::write_atomic(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    // The marks point at the points the rules picked (index = step − 1).
    let mark = |s: &Option<Suggestion>| {
        s.as_ref().map(|s| Mark {
            index: s.step - 1,
            learning_rate: s.learning_rate,
        })
    };
    let title = format!(
        "Learning-rate range test: {label}, batch {}",
        report
            .config
            .batch_size
            .map_or_else(|| "full".to_string(), |b| b.to_string())
    );
    written.extend(write_lr_find_plot(
        &title,
        points,
        mark(&report.suggestion),
        mark(&report.minimum_over_ten),
        diverged,
        &run_dir.join(PLOT_STEM),
    )?);
    Ok(written)
}

/// The one line printed at the end: the suggestion, minimum/10, where and why the test
/// stopped, the files.
fn summary_line(report: &Report, files: &[PathBuf]) -> String {
    let suggestion = match &report.suggestion {
        Some(s) => format!(
            "suggested learning rate {:.3e} (steepest descent of the smoothed loss, step {} of {})",
            s.learning_rate, s.step, report.steps
        ),
        None => format!(
            "no suggestion: {} points remain after skipping the first {SKIP_BEGIN} and the last {SKIP_END} and the rule needs 2; lower --min-lr or raise --steps",
            report.steps_taken.saturating_sub(SKIP_BEGIN + SKIP_END)
        ),
    };
    let minimum = report
        .minimum_over_ten
        .as_ref()
        .map_or_else(String::new, |m| {
            format!("; fastai's minimum/10: {:.3e}", m.learning_rate)
        });
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    format!(
        "{suggestion}{minimum}; stopped at step {}: {}; wrote {}",
        report.steps_taken,
        report.stop_reason,
        paths.join(", ")
    )
}
