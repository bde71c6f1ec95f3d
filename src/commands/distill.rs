//! `train distill`: the student trained twice with the same flags, budget and seed, once on
//! the teacher's softened outputs and the labels (`<dir>/distilled`, [`crate::distillation`])
//! and once on the labels alone (`<dir>/alone`), then the teacher's, the distilled student's
//! and the lone student's test accuracies side by side (`distill.md`, `distill.json`).
//!
//! As with `train committee`, the same command with `--run-dir <dir>` continues a stopped
//! distillation: a finished student is skipped, a stopped one resumes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::backend;
use crate::cli::DistillArgs;
use crate::distillation::DistillationConfig;
use crate::evaluation::{accuracy, test_outputs};
use crate::learner::Summary;
use crate::learner::checkpoint::locate_weights;
use crate::metrics::read_csv;
use crate::run_files::{METRICS_FILE, SUMMARY_FILE};
use crate::training::{
    EXIT_INTERRUPTED, RUNS_DIR, RunState, apply_autotune, complete_run, continuation,
    create_next_run_dir, lock_run, new_config, stop_on_signals,
};
use ember_engine::console::{out, out_text};

/// The report's files in the distillation's directory.
pub const REPORT_FILE: &str = "distill.json";
/// The report's table as Markdown.
pub const TABLE_FILE: &str = "distill.md";

/// One model's line of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// "teacher", "student, distilled" or "student alone".
    pub role: String,
    /// Its run (the teacher as given).
    pub run: PathBuf,
    /// The model's name.
    pub model: String,
    /// Test accuracy, a fraction.
    pub test_accuracy: f64,
    /// Mean seconds per training epoch (the students; `None` for the teacher).
    pub epoch_seconds: Option<f64>,
}

/// What `train distill` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Temperature.
    pub temperature: f64,
    /// Weight of the labels' cross-entropy.
    pub alpha: f64,
    /// The students' seed.
    pub seed: u64,
    /// The students' epochs.
    pub epochs: usize,
    /// Teacher, distilled student, student alone.
    pub rows: Vec<Row>,
}

pub(super) fn command(mut args: DistillArgs) -> anyhow::Result<ExitCode> {
    apply_autotune(&args.train.device);
    if args.train.resume.is_some() {
        bail!(
            "train distill takes no --resume: run the same command again with --run-dir <the distillation's directory>; a finished student is skipped and a stopped one resumes"
        );
    }
    if let Some(model) = args.train.model {
        bail!("train distill names the student with --student, not --model {model}");
    }
    let teacher_path = std::fs::canonicalize(&args.teacher).with_context(|| {
        format!(
            "--teacher {}: no such run directory or file; give the directory of a finished run",
            args.teacher.display()
        )
    })?;
    let (_, teacher_config) = locate_weights(&teacher_path)?;
    let teacher_config = teacher_config.with_context(|| {
        format!(
            "--teacher {}: no config.toml or checkpoint state beside its weights says which model it is; give the directory of a run that train wrote",
            args.teacher.display()
        )
    })?;
    args.train.model = Some(args.student);
    let mut alone = new_config(&args.train)?;
    // The student learns the teacher's task: its dataset, preprocessing and data, unless given.
    if args.train.data.dataset.is_none() {
        alone.dataset = teacher_config.dataset;
    }
    if args.train.preprocess.is_none() {
        alone.preprocess = teacher_config.preprocess;
    }
    if args.train.data.data_dir.is_none() {
        alone.data_dir = teacher_config.data_dir.clone();
    }
    let mut distilled = alone.clone();
    distilled.distillation = Some(DistillationConfig {
        teacher: teacher_path.clone(),
        temperature: args.temperature,
        alpha: args.alpha,
    });
    for config in [&alone, &distilled] {
        config.validate().map_err(anyhow::Error::msg)?;
    }
    if let Some(d) = &distilled.distillation {
        d.loss().map_err(anyhow::Error::msg)?;
    }
    let dir = match &args.train.run_dir {
        Some(dir) => dir.clone(),
        None => create_next_run_dir(&Path::new(RUNS_DIR).join("distill").join(format!(
            "{}-to-{}",
            teacher_config.model.name(),
            args.student.name()
        )))?,
    };
    let _lock = lock_run(&dir)?;
    let stop = stop_on_signals()?;
    let students = [
        ("student, distilled", dir.join("distilled"), &distilled),
        ("student alone", dir.join("alone"), &alone),
    ];
    for (role, run_dir, config) in &students {
        let label = format!("{role} ({}, seed {})", config.model, config.seed);
        if complete_run(config, run_dir, &label, &stop)? == RunState::Interrupted {
            out(&format!(
                "stopped during the {role}; continue with: {}",
                continuation(&dir)
            ));
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
    }
    let backend = backend::select(alone.backend, alone.gpu_index)?;
    let (_, probabilities, labels) = test_outputs(
        &teacher_path,
        "--teacher",
        alone.data_dir.as_deref(),
        &backend.device,
    )?;
    let mut rows = vec![Row {
        role: "teacher".into(),
        run: args.teacher.clone(),
        model: teacher_config.model.to_string(),
        test_accuracy: accuracy(&probabilities, &labels),
        epoch_seconds: None,
    }];
    for (role, run_dir, config) in &students {
        rows.push(student_row(role, run_dir, &config.model.to_string())?);
    }
    let report = Report {
        temperature: args.temperature,
        alpha: args.alpha,
        seed: alone.seed,
        epochs: alone.epochs,
        rows,
    };
    let json = serde_json::to_vec_pretty(&report)?;
    for (name, bytes) in [
        (REPORT_FILE, json),
        (TABLE_FILE, report.table().into_bytes()),
    ] {
        let path = dir.join(name);
        ember_engine::fsutil::write_atomic(&path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    out_text(&report.table());
    out(&format!("report: {}", dir.join(TABLE_FILE).display()));
    Ok(ExitCode::SUCCESS)
}

/// A finished student's row from its `summary.json` and `metrics.csv`.
fn student_row(role: &str, run_dir: &Path, model: &str) -> anyhow::Result<Row> {
    let path = run_dir.join(SUMMARY_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let summary: Summary = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a run summary", path.display()))?;
    let history = read_csv(&run_dir.join(METRICS_FILE)).map_err(anyhow::Error::msg)?;
    let seconds: f64 = history.iter().map(|m| m.epoch_seconds).sum();
    Ok(Row {
        role: role.into(),
        run: run_dir.to_path_buf(),
        model: model.into(),
        test_accuracy: summary.test_accuracy,
        epoch_seconds: (!history.is_empty()).then(|| seconds / history.len() as f64),
    })
}

impl Report {
    /// The report as Markdown.
    pub fn table(&self) -> String {
        let mut out = "| | model | run | test accuracy | s/epoch |
|---|---|---|---:|---:|
"
        .to_string();
        for row in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {:.2}% | {} |\n",
                row.role,
                row.model,
                row.run.display(),
                100.0 * row.test_accuracy,
                row.epoch_seconds
                    .map_or_else(|| "".to_string(), |s| format!("{s:.2}"))
            ));
        }
        out.push_str(&format!(
            "\nT = {}, alpha = {}; both students: seed {}, epochs {}, the same flags.\n",
            self.temperature, self.alpha, self.seed, self.epochs
        ));
        out
    }
}
