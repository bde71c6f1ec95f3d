//! The sweep's report: every run's final and best metrics, their mean and spread over seeds,
//! sorted by the monitored metric, as Markdown (`report.md`, also printed) and CSV
//! (`report.csv`, one row per run); the runs' curves overlaid (`curves.png/.svg`, one colour per
//! point of the grid, the mean over its seeds); and with a target (`--until`), the steps each
//! point needed against the batch size (`steps.png/.svg`, log-log), the batch-size study's plot.
//!
//! Runs are read from their files (`summary.json`, `metrics.csv`), so the report is the same
//! whether the sweep ran them, a scheduler ran `--print-commands`' lines, or a stopped sweep
//! was continued. Only the `seconds` columns differ between such reports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::{Point, SweepFile};
use crate::learner::Summary;
use crate::metrics::EpochMetrics;
use crate::plot::steps::{StepsFigure, StepsPoint};
use crate::plot::{png_and_svg, save};
use crate::run_files::{METRICS_FILE, SUMMARY_FILE};

/// The Markdown report.
pub const TABLE_FILE: &str = "report.md";
/// The CSV report, one row per run.
pub const CSV_FILE: &str = "report.csv";
/// The overlaid curves (stem).
pub const CURVES_STEM: &str = "curves";
/// The steps-to-target plot (stem).
pub const STEPS_STEM: &str = "steps";

/// The metrics a report can sort by, as the CSV names them: final epoch's, best epoch's, the
/// test split's, and the steps to the target.
pub const SORT_KEYS: [&str; 8] = [
    "val_accuracy",
    "val_loss",
    "loss",
    "accuracy",
    "best_val_accuracy",
    "test_accuracy",
    "test_loss",
    "target_steps",
];

/// The report's default sort key (Keras' monitor for accuracy, maximized).
pub const DEFAULT_SORT_KEY: &str = "val_accuracy";

/// Checks a sort key.
///
/// # Errors
/// One line listing the names [`SORT_KEYS`] has.
pub fn check_sort_key(key: &str) -> anyhow::Result<()> {
    if !SORT_KEYS.contains(&key) {
        bail!(
            "--sort-by {key}: the report has no such metric; use one of {}",
            SORT_KEYS.join(", ")
        );
    }
    Ok(())
}

/// Whether smaller is better for `monitor`.
fn minimized(monitor: &str) -> bool {
    monitor.contains("loss") || monitor.contains("steps")
}

/// One run as read from its directory.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The sweep's point.
    pub point: Point,
    /// `summary.json`, when the run finished.
    pub summary: Option<Summary>,
    /// `metrics.csv`'s epochs (empty before the first).
    pub history: Vec<EpochMetrics>,
}

impl RunResult {
    /// `finished`, `unfinished` (epochs but no summary) or `not started`.
    pub fn status(&self) -> &'static str {
        match (&self.summary, self.history.is_empty()) {
            (Some(_), _) => "finished",
            (None, false) => "unfinished",
            (None, true) => "not started",
        }
    }

    /// The value of a [`SORT_KEYS`] metric, when the run has it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let last = self.history.last();
        let summary = self.summary.as_ref();
        match name {
            "loss" => last.map(|m| m.loss),
            "accuracy" => last.map(|m| m.accuracy),
            "val_loss" => last.map(|m| m.val_loss),
            "val_accuracy" => last.map(|m| m.val_accuracy),
            "best_val_accuracy" => self.best().map(|m| m.val_accuracy),
            "test_loss" => summary.map(|s| s.test_loss),
            "test_accuracy" => summary.map(|s| s.test_accuracy),
            "target_steps" => summary
                .and_then(|s| s.target.as_ref())
                .filter(|t| t.reached)
                .map(|t| t.steps as f64),
            _ => None,
        }
    }

    /// The epoch of the highest validation accuracy (the first of equals).
    fn best(&self) -> Option<&EpochMetrics> {
        self.history
            .iter()
            .fold(None, |best: Option<&EpochMetrics>, m| match best {
                Some(b) if b.val_accuracy >= m.val_accuracy => Some(b),
                _ => Some(m),
            })
    }
}

/// Reads every point's run under `dir`.
///
/// # Errors
/// An unreadable `summary.json` or `metrics.csv` (a run not started yet is no error).
pub fn collect(dir: &Path, points: &[Point]) -> anyhow::Result<Vec<RunResult>> {
    points
        .iter()
        .map(|point| {
            let run = dir.join(&point.dir);
            let summary_path = run.join(SUMMARY_FILE);
            let summary = if summary_path.is_file() {
                let text = std::fs::read_to_string(&summary_path)
                    .with_context(|| format!("cannot read {}", summary_path.display()))?;
                Some(serde_json::from_str(&text).with_context(|| {
                    format!("{} is not a train summary", summary_path.display())
                })?)
            } else {
                None
            };
            let metrics = run.join(METRICS_FILE);
            let history = if metrics.is_file() {
                crate::metrics::read_csv(&metrics).map_err(anyhow::Error::msg)?
            } else {
                Vec::new()
            };
            Ok(RunResult {
                point: point.clone(),
                summary,
                history,
            })
        })
        .collect()
}

/// A point of the grid and its seeds' runs.
struct Group<'a> {
    values: &'a [(String, String)],
    runs: Vec<&'a RunResult>,
}

impl Group<'_> {
    fn label(&self) -> String {
        let parts: Vec<String> = self
            .values
            .iter()
            .map(|(k, v)| super::value_label(k, v))
            .collect();
        parts.join(" ")
    }

    /// Mean and sample standard deviation of `metric` over the runs that have it.
    fn stats(&self, metric: &str) -> Option<(f64, Option<f64>, usize)> {
        let values: Vec<f64> = self.runs.iter().filter_map(|r| r.metric(metric)).collect();
        mean_sd(&values)
    }

    /// The mean curve over the seeds: each epoch's metrics averaged over the runs that have it.
    fn mean_history(&self) -> Vec<EpochMetrics> {
        let epochs = self.runs.iter().map(|r| r.history.len()).max().unwrap_or(0);
        (0..epochs)
            .map(|i| {
                let rows: Vec<&EpochMetrics> =
                    self.runs.iter().filter_map(|r| r.history.get(i)).collect();
                let mean = |f: fn(&EpochMetrics) -> f64| {
                    rows.iter().map(|m| f(m)).sum::<f64>() / rows.len() as f64
                };
                EpochMetrics {
                    epoch: i + 1,
                    loss: mean(|m| m.loss),
                    accuracy: mean(|m| m.accuracy),
                    val_loss: mean(|m| m.val_loss),
                    val_accuracy: mean(|m| m.val_accuracy),
                    learning_rate: mean(|m| m.learning_rate),
                    epoch_seconds: mean(|m| m.epoch_seconds),
                    images_per_second: mean(|m| m.images_per_second),
                }
            })
            .collect()
    }
}

/// Mean, sample standard deviation (with two values or more) and count.
fn mean_sd(values: &[f64]) -> Option<(f64, Option<f64>, usize)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = (n > 1)
        .then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
    Some((mean, sd, n))
}

/// The report of a sweep's runs.
pub struct Report<'a> {
    sweep: &'a SweepFile,
    runs: &'a [RunResult],
}

impl<'a> Report<'a> {
    /// The report of `runs`, the points of `sweep`.
    pub fn new(sweep: &'a SweepFile, runs: &'a [RunResult]) -> Self {
        Self { sweep, runs }
    }

    fn has_target(&self) -> bool {
        self.runs
            .iter()
            .any(|r| r.summary.as_ref().is_some_and(|s| s.target.is_some()))
    }

    /// The grid's points, each with its seeds' runs, best first by the monitor's mean (runs
    /// without it last, in sweep order).
    fn groups(&self) -> Vec<Group<'a>> {
        let mut groups: Vec<Group<'a>> = Vec::new();
        for run in self.runs {
            match groups.iter_mut().find(|g| g.values == run.point.values) {
                Some(group) => group.runs.push(run),
                None => groups.push(Group {
                    values: &run.point.values,
                    runs: vec![run],
                }),
            }
        }
        let monitor = self.sweep.sort_by.as_str();
        let sign = if minimized(monitor) { 1.0 } else { -1.0 };
        let key = |g: &Group<'_>| g.stats(monitor).map(|(m, _, _)| sign * m);
        groups.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        groups
    }

    /// The Markdown report: the points' table (mean ± sd over seeds), then every run's row.
    pub fn markdown(&self, dir: &Path) -> String {
        let finished = self.runs.iter().filter(|r| r.summary.is_some()).count();
        let groups = self.groups();
        let monitor = &self.sweep.sort_by;
        let mut out = format!(
            "# Sweep {}\n\n{} runs ({finished} finished), {} points; sorted by {monitor} ({} first), the mean over seeds; ± is the sample standard deviation.\n\n",
            dir.display(),
            self.runs.len(),
            groups.len(),
            if minimized(monitor) {
                "lowest"
            } else {
                "highest"
            },
        );
        let keys = &self.sweep.keys;
        let target = self.has_target();
        let mut header: Vec<String> = keys.clone();
        header.extend(
            [
                "runs",
                "val_accuracy",
                "best val_accuracy",
                "test_accuracy",
                "val_loss",
            ]
            .map(String::from),
        );
        if target {
            header.extend(
                ["reached", "steps to target", "epochs", "images", "seconds"].map(String::from),
            );
        } else {
            header.push("seconds".into());
        }
        table_header(&mut out, &header);
        for group in &groups {
            let mut row: Vec<String> = keys
                .iter()
                .map(|k| value_of(group.values, k).to_string())
                .collect();
            row.push(group.runs.len().to_string());
            for metric in [
                "val_accuracy",
                "best_val_accuracy",
                "test_accuracy",
                "val_loss",
            ] {
                row.push(cell(group.stats(metric), 4));
            }
            if target {
                let reached: Vec<&&RunResult> = group
                    .runs
                    .iter()
                    .filter(|r| target_of(r).is_some_and(|t| t.reached))
                    .collect();
                row.push(format!("{}/{}", reached.len(), group.runs.len()));
                let stat = |f: fn(&ember_engine::callbacks::target::TargetOutcome) -> f64| {
                    let values: Vec<f64> =
                        reached.iter().filter_map(|r| target_of(r).map(f)).collect();
                    mean_sd(&values)
                };
                row.push(cell(stat(|t| t.steps as f64), 0));
                row.push(cell(stat(|t| t.epochs), 2));
                row.push(cell(stat(|t| t.examples as f64), 0));
                row.push(cell(stat(|t| t.seconds), 1));
            } else {
                let seconds: Vec<f64> = group
                    .runs
                    .iter()
                    .filter_map(|r| r.summary.as_ref().map(|s| s.wall_seconds))
                    .collect();
                row.push(cell(mean_sd(&seconds), 1));
            }
            table_row(&mut out, &row);
        }
        out.push_str("\n## Every run\n\n");
        let header: Vec<String> = [
            "run",
            "status",
            "epochs",
            "steps",
            "loss",
            "val_loss",
            "val_accuracy",
            "best val_accuracy (epoch)",
            "test_accuracy",
        ]
        .map(String::from)
        .to_vec();
        table_header(&mut out, &header);
        for run in self.runs {
            let summary = run.summary.as_ref();
            let best = run.best().map_or("".into(), |m| {
                format!("{:.4} ({})", m.val_accuracy, m.epoch)
            });
            let number = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
            let row = vec![
                run.point.dir.clone(),
                run.status().to_string(),
                run.history.len().to_string(),
                summary.map_or(String::new(), |s| s.global_step.to_string()),
                number(run.metric("loss")),
                number(run.metric("val_loss")),
                number(run.metric("val_accuracy")),
                best,
                number(run.metric("test_accuracy")),
            ];
            table_row(&mut out, &row);
        }
        out
    }

    /// The CSV report: one row per run, in sweep order. The `*seconds` columns are the only
    /// ones that differ between two sweeps of the same runs.
    ///
    /// # Errors
    /// The CSV writer's error.
    pub fn csv(&self) -> anyhow::Result<String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = vec!["run".into()];
        header.extend(self.sweep.keys.iter().cloned());
        header.extend(
            [
                "seed",
                "status",
                "epochs",
                "steps",
                "loss",
                "accuracy",
                "val_loss",
                "val_accuracy",
                "best_val_accuracy",
                "best_epoch",
                "test_loss",
                "test_accuracy",
                "wall_seconds",
                "target",
                "target_reached",
                "target_steps",
                "target_epochs",
                "target_images",
                "target_seconds",
            ]
            .map(String::from),
        );
        writer.write_record(&header)?;
        let text = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:?}"));
        for run in self.runs {
            let summary = run.summary.as_ref();
            let target = target_of(run);
            let mut row: Vec<String> = vec![run.point.dir.clone()];
            row.extend(
                self.sweep
                    .keys
                    .iter()
                    .map(|k| value_of(&run.point.values, k).to_string()),
            );
            row.extend([
                run.point.seed.to_string(),
                run.status().to_string(),
                run.history.len().to_string(),
                summary.map_or(String::new(), |s| s.global_step.to_string()),
                text(run.metric("loss")),
                text(run.metric("accuracy")),
                text(run.metric("val_loss")),
                text(run.metric("val_accuracy")),
                text(run.metric("best_val_accuracy")),
                run.best().map_or(String::new(), |m| m.epoch.to_string()),
                text(run.metric("test_loss")),
                text(run.metric("test_accuracy")),
                text(summary.map(|s| s.wall_seconds)),
                target.map_or(String::new(), |t| t.target.clone()),
                target.map_or(String::new(), |t| t.reached.to_string()),
                target.map_or(String::new(), |t| t.steps.to_string()),
                text(target.map(|t| t.epochs)),
                target.map_or(String::new(), |t| t.examples.to_string()),
                text(target.map(|t| t.seconds)),
            ]);
            writer.write_record(&row)?;
        }
        Ok(String::from_utf8(writer.into_inner()?)?)
    }

    /// Writes `report.md`, `report.csv`, the curves and (with a target and a swept batch size)
    /// the steps plot into `dir`; returns the files written.
    ///
    /// # Errors
    /// A file that cannot be written, named.
    pub fn write(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for (name, text) in [(TABLE_FILE, self.markdown(dir)), (CSV_FILE, self.csv()?)] {
            let path = dir.join(name);
            ember_engine::fsutil::write_atomic(&path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            written.push(path);
        }
        let curves: Vec<(String, Vec<EpochMetrics>)> = self
            .groups()
            .iter()
            .map(|g| (g.label(), g.mean_history()))
            .filter(|(_, h)| !h.is_empty())
            .collect();
        if !curves.is_empty() {
            written.extend(crate::plot::write_training_curves(
                &curves,
                &dir.join(CURVES_STEM),
            )?);
        }
        if let Some(figure) = self.steps_figure() {
            for path in png_and_svg(&dir.join(STEPS_STEM)) {
                save(&figure, &path)?;
                written.push(path);
            }
        }
        Ok(written)
    }

    /// The batch-size study's figure, when the runs have a target and `batch-size` is swept.
    fn steps_figure(&self) -> Option<StepsFigure> {
        if !self.has_target() || !self.sweep.keys.iter().any(|k| k == "batch-size") {
            return None;
        }
        // One series per combination of the other keys, one point per batch size.
        let mut series: BTreeMap<String, Vec<StepsPoint>> = BTreeMap::new();
        for group in self.groups() {
            let Some(batch) = value_of(group.values, "batch-size").parse::<f64>().ok() else {
                continue;
            };
            let others: Vec<String> = group
                .values
                .iter()
                .filter(|(k, _)| k != "batch-size")
                .map(|(k, v)| super::value_label(k, v))
                .collect();
            let reached: Vec<f64> = group
                .runs
                .iter()
                .filter_map(|r| target_of(r).filter(|t| t.reached).map(|t| t.steps as f64))
                .collect();
            let budget = group
                .runs
                .iter()
                .filter_map(|r| target_of(r).map(|t| t.steps as f64))
                .fold(0.0, f64::max);
            let point = match mean_sd(&reached) {
                // A point counts as reached when every seed reached the target.
                Some((mean, _, n)) if n == group.runs.len() => StepsPoint {
                    batch,
                    steps: mean,
                    reached: true,
                },
                _ if budget > 0.0 => StepsPoint {
                    batch,
                    steps: budget,
                    reached: false,
                },
                _ => continue,
            };
            series.entry(others.join(" ")).or_default().push(point);
        }
        for points in series.values_mut() {
            points.sort_by(|a, b| a.batch.total_cmp(&b.batch));
        }
        let target = self
            .runs
            .iter()
            .find_map(|r| target_of(r).map(|t| t.target.clone()))
            .unwrap_or_default();
        Some(StepsFigure {
            series: series.into_iter().collect(),
            target,
        })
    }
}

fn target_of(run: &RunResult) -> Option<&ember_engine::callbacks::target::TargetOutcome> {
    run.summary.as_ref().and_then(|s| s.target.as_ref())
}

fn value_of<'v>(values: &'v [(String, String)], key: &str) -> &'v str {
    values
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// `mean ± sd` with `digits` decimals (`mean` alone for one value, empty for none).
fn cell(stats: Option<(f64, Option<f64>, usize)>, digits: usize) -> String {
    match stats {
        None => String::new(),
        Some((mean, None, _)) => format!("{mean:.digits$}"),
        Some((mean, Some(sd), _)) => format!("{mean:.digits$} ± {sd:.digits$}"),
    }
}

fn table_header(out: &mut String, header: &[String]) {
    table_row(out, header);
    table_row(out, &vec!["---".to_string(); header.len()]);
}

fn table_row(out: &mut String, cells: &[String]) {
    out.push_str("| ");
    out.push_str(&cells.join(" | "));
    out.push_str(" |\n");
}
