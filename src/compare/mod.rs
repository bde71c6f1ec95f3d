//! `train compare`: the same training job on several backends, side by side.
//!
//! Every backend trains the same [`CompareJob`] (same seed, hence the same initial weights,
//! drawn on flex and moved; the same batches in the same order), each in a child process of
//! the `train` binary ([`worker`]), so that its peak memory is its own. The parent collects
//! the measurements ([`job::BackendRun`]) into a [`CompareReport`]: warm-up and steady-state
//! time, images/s and the speedup against the first CPU backend, peak memory, the validation
//! loss and accuracy after training, and the largest divergence of the loss trajectory from
//! the first backend's over the first K steps. It prints the table and writes `compare.json`,
//! `compare.csv` and `compare.png` (images/s per backend) into the run directory.
//!
//! - [`job`]: the job and the run of it on one backend.
//! - [`worker`]: the child process protocol.
//! - [`memory`]: peak host and device memory.
//! - [`report`]: rows, speedups, divergences; table, JSON, CSV.
//! - [`chart`]: the bar chart.

pub mod chart;
pub mod job;
pub mod memory;
pub mod report;
pub mod worker;

use std::path::Path;

use anyhow::{Context, bail};

use crate::backend::BackendKind;
use crate::cli::CompareArgs;
use crate::config::TrainConfig;
use ember_engine::fsutil::write_atomic;
use ember_optim::OptimizerConfig;
pub use job::CompareJob;
pub use report::CompareReport;

/// File name of the comparison's JSON report in its run directory.
pub const JSON_FILE: &str = "compare.json";
/// File name of the comparison's CSV table in its run directory.
pub const CSV_FILE: &str = "compare.csv";
/// File name of the comparison's bar chart in its run directory.
pub const CHART_FILE: &str = "compare.png";

/// The job `train compare` flags describe: `train`'s defaults (lenet, adabelief, batch 64,
/// seed 42, 10% validation), one epoch unless `--epochs` or `--steps`.
///
/// # Errors
/// A one-line message naming a flag out of range.
pub fn job_from_args(args: &CompareArgs) -> anyhow::Result<CompareJob> {
    let optimizer = args
        .optimizer_args
        .apply(
            args.optimizer
                .unwrap_or(OptimizerConfig::AdaBelief(Default::default())),
        )
        .map_err(anyhow::Error::msg)?;
    let mut config = TrainConfig::new(args.model.unwrap_or(crate::cli::DEFAULT_MODEL), optimizer);
    config.epochs = args.epochs.unwrap_or(1);
    if let Some(batch) = args.batch_size {
        config.batch_size = batch.images();
    }
    if let Some(lr) = args.lr {
        config.lr = lr;
    }
    crate::overrides::apply_data_args(&mut config, &args.data);
    config.gpu_index = args.gpu_index;
    config.validate().map_err(anyhow::Error::msg)?;
    if args.steps == Some(0) {
        bail!("--steps must be at least 1");
    }
    if let Some(steps) = args.steps
        && args.warmup_steps >= steps
    {
        bail!(
            "--warmup-steps {} leaves none of the {steps} steps to time; pass more --steps or fewer --warmup-steps",
            args.warmup_steps
        );
    }
    if args.divergence_steps == 0 {
        bail!("--divergence-steps must be at least 1");
    }
    if args.backends.is_empty() {
        bail!("--backends names no backend; pass e.g. --backends flex,ndarray,wgpu");
    }
    Ok(CompareJob {
        config,
        steps: args.steps,
        warmup_steps: args.warmup_steps,
        divergence_steps: args.divergence_steps,
    })
}

/// Runs `job` on each of `backends` (duplicates once) in child processes of `exe`, prints the
/// table and writes [`JSON_FILE`], [`CSV_FILE`] and [`CHART_FILE`] into `run_dir`.
///
/// A backend that is unavailable is listed with its reason; one that failed too, and then the
/// call returns an error after writing the files.
///
/// # Errors
/// Failure to create `run_dir`, start a child or write the files; a failed backend.
pub fn run(
    job: &CompareJob,
    backends: &[BackendKind],
    run_dir: &Path,
    exe: &Path,
) -> anyhow::Result<CompareReport> {
    std::fs::create_dir_all(run_dir)
        .with_context(|| format!("cannot create run directory {}", run_dir.display()))?;
    let mut unique = Vec::new();
    for b in backends {
        if !unique.contains(b) {
            unique.push(*b);
        }
    }
    let length = match job.steps {
        Some(steps) => format!("{steps} steps"),
        None => format!("{} epoch(s)", job.config.epochs),
    };
    ember_engine::console::out(&format!(
        "comparing {} with {} (lr {}, batch {}, seed {}, {length}) on {}; run directory {}",
        job.config.model,
        job.config.optimizer.name(),
        job.config.lr,
        job.config
            .batch_size
            .map_or("full".to_string(), |b| b.to_string()),
        job.config.seed,
        unique
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join(", "),
        run_dir.display()
    ));
    let mut outcomes = Vec::with_capacity(unique.len());
    for backend in unique {
        ember_engine::console::out(&format!("{backend}: training ..."));
        let scratch = run_dir.join(format!(".{backend}-result.json"));
        outcomes.push((backend, worker::run_in_child(exe, job, backend, &scratch)?));
    }
    let report = CompareReport::new(job.clone(), outcomes);
    ember_engine::console::out_text(&report.table());

    let write = |name: &str, bytes: &[u8]| {
        let path = run_dir.join(name);
        write_atomic(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    write(JSON_FILE, &serde_json::to_vec_pretty(&report)?)?;
    write(CSV_FILE, report.csv().as_bytes())?;
    let chart = run_dir.join(CHART_FILE);
    chart::write_chart(&report, &chart)
        .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", chart.display()))?;
    ember_engine::console::out(&format!(
        "wrote {}, {} and {} in {}",
        JSON_FILE,
        CSV_FILE,
        CHART_FILE,
        run_dir.display()
    ));
    let failed: Vec<String> = report
        .backends
        .iter()
        .filter_map(|row| match &row.outcome {
            worker::WorkerOutcome::Failed { reason } => Some(format!("{}: {reason}", row.backend)),
            _ => None,
        })
        .collect();
    if !failed.is_empty() {
        bail!("backend run failed: {}", failed.join("; "));
    }
    Ok(report)
}
