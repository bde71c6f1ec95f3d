//! The comparison's results: one row per backend with its speedup and loss divergence, as the
//! console table, `compare.json` and `compare.csv`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;
use crate::compare::job::{BackendRun, CompareJob};
use crate::compare::worker::WorkerOutcome;

/// The largest difference between two loss trajectories over their common first steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// The backend compared against (the first backend that ran).
    pub reference: BackendKind,
    /// Steps compared.
    pub steps: usize,
    /// `max_t |loss_t − reference_t|`.
    pub max_abs: f64,
    /// `max_t |loss_t − reference_t| / |reference_t|`.
    pub max_rel: f64,
}

impl Divergence {
    /// The divergence of `losses` from `reference` over their common length.
    pub fn between(reference_kind: BackendKind, losses: &[f64], reference: &[f64]) -> Self {
        let (mut max_abs, mut max_rel) = (0.0f64, 0.0f64);
        for (l, r) in losses.iter().zip(reference) {
            let d = (l - r).abs();
            max_abs = max_abs.max(d);
            max_rel = max_rel.max(d / r.abs());
        }
        Divergence {
            reference: reference_kind,
            steps: losses.len().min(reference.len()),
            max_abs,
            max_rel,
        }
    }
}

/// One backend's line of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendRow {
    /// The backend.
    pub backend: BackendKind,
    /// `ran`, `unavailable` or `failed`, and the reason or the measurements.
    pub outcome: WorkerOutcome,
    /// Images/s relative to the first CPU backend (flex or ndarray) that ran.
    pub speedup: Option<f64>,
    /// Loss divergence from the first backend that ran (`None` for that backend itself).
    pub divergence: Option<Divergence>,
}

impl BackendRow {
    /// The measurements, if the backend ran.
    pub fn run(&self) -> Option<&BackendRun> {
        match &self.outcome {
            WorkerOutcome::Ran(run) => Some(run),
            _ => None,
        }
    }
}

/// `compare.json`: the job and a row per backend, in the order asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    /// What every backend trained.
    pub job: CompareJob,
    /// The backend speedups are relative to.
    pub speedup_reference: Option<BackendKind>,
    /// One row per backend.
    pub backends: Vec<BackendRow>,
}

impl CompareReport {
    /// Rows for `outcomes` (in order), with speedups against the first CPU backend that ran and
    /// divergences against the first backend that ran.
    pub fn new(job: CompareJob, outcomes: Vec<(BackendKind, WorkerOutcome)>) -> Self {
        let ran = |kind: &BackendKind, o: &WorkerOutcome| match o {
            WorkerOutcome::Ran(run) => Some((*kind, run.as_ref().clone())),
            _ => None,
        };
        let first = outcomes.iter().find_map(|(k, o)| ran(k, o));
        let cpu_reference = outcomes
            .iter()
            .filter(|(k, _)| *k != BackendKind::Wgpu)
            .find_map(|(k, o)| ran(k, o));
        let backends = outcomes
            .into_iter()
            .map(|(backend, outcome)| {
                let (speedup, divergence) = match &outcome {
                    WorkerOutcome::Ran(run) => (
                        cpu_reference
                            .as_ref()
                            .map(|(_, r)| run.images_per_second / r.images_per_second),
                        first
                            .as_ref()
                            .filter(|(k, _)| *k != backend)
                            .map(|(k, r)| Divergence::between(*k, &run.losses, &r.losses)),
                    ),
                    _ => (None, None),
                };
                BackendRow {
                    backend,
                    outcome,
                    speedup,
                    divergence,
                }
            })
            .collect();
        CompareReport {
            job,
            speedup_reference: cpu_reference.map(|(k, _)| k),
            backends,
        }
    }

    /// The console table.
    pub fn table(&self) -> String {
        let header = [
            "backend",
            "device",
            "warm-up",
            "step",
            "epoch (steady)",
            "images/s",
            "speedup",
            "peak RAM",
            "device mem",
            "val loss",
            "val acc",
            "max |Δloss|",
            "max rel",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
        let mut notes = Vec::new();
        for row in &self.backends {
            let Some(run) = row.run() else {
                let (status, reason) = match &row.outcome {
                    WorkerOutcome::Unavailable { reason } => ("not available", reason),
                    WorkerOutcome::Failed { reason } => ("failed", reason),
                    WorkerOutcome::Ran(_) => unreachable!("handled above"),
                };
                notes.push(format!("{}: {status}: {reason}", row.backend));
                let mut cells = vec![row.backend.to_string(), status.to_string()];
                cells.resize(header.len(), "-".into());
                rows.push(cells);
                continue;
            };
            rows.push(vec![
                row.backend.to_string(),
                run.device.clone(),
                format!("{} ({})", seconds(run.warmup_seconds), run.warmup_steps),
                seconds(run.step_seconds_median),
                run.steady_epoch_seconds.map_or("-".into(), seconds),
                format!("{:.0}", run.images_per_second),
                row.speedup.map_or("-".into(), |s| format!("{s:.2}x")),
                run.peak_rss_bytes.map_or("n/a".into(), mebibytes),
                run.device_memory_peak_bytes.map_or("n/a".into(), mebibytes),
                format!("{:.4}", run.val_loss),
                format!("{:.2}%", run.val_accuracy * 100.0),
                row.divergence
                    .map_or("(reference)".into(), |d| format!("{:.1e}", d.max_abs)),
                row.divergence
                    .map_or("-".into(), |d| format!("{:.1e}", d.max_rel)),
            ]);
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
        for note in notes {
            let _ = writeln!(out, "{note}");
        }
        out
    }

    /// `compare.csv`: a header and one line per backend; empty cells where a value does not
    /// apply (times of a backend that did not run, the reference's divergence).
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "backend,status,reason,device,warmup_steps,warmup_seconds,steps,step_seconds_median,step_seconds_mean,steady_epoch_seconds,images_per_second,speedup,peak_rss_bytes,device_memory_peak_bytes,final_train_loss,val_loss,val_accuracy,divergence_steps,divergence_max_abs,divergence_max_rel\n",
        );
        let opt = |v: Option<String>| v.unwrap_or_default();
        for row in &self.backends {
            let (status, reason) = match &row.outcome {
                WorkerOutcome::Ran(_) => ("ran", String::new()),
                WorkerOutcome::Unavailable { reason } => ("unavailable", reason.clone()),
                WorkerOutcome::Failed { reason } => ("failed", reason.clone()),
            };
            let run = row.run();
            let num = |f: fn(&BackendRun) -> f64| opt(run.map(|r| f(r).to_string()));
            let cells = [
                row.backend.to_string(),
                status.to_string(),
                reason,
                opt(run.map(|r| r.device.clone())),
                opt(run.map(|r| r.warmup_steps.to_string())),
                num(|r| r.warmup_seconds),
                opt(run.map(|r| r.steps.to_string())),
                num(|r| r.step_seconds_median),
                num(|r| r.step_seconds_mean),
                opt(run
                    .and_then(|r| r.steady_epoch_seconds)
                    .map(|v| v.to_string())),
                num(|r| r.images_per_second),
                opt(row.speedup.map(|v| v.to_string())),
                opt(run.and_then(|r| r.peak_rss_bytes).map(|v| v.to_string())),
                opt(run
                    .and_then(|r| r.device_memory_peak_bytes)
                    .map(|v| v.to_string())),
                num(|r| r.final_train_loss),
                num(|r| r.val_loss),
                num(|r| r.val_accuracy),
                opt(row.divergence.map(|d| d.steps.to_string())),
                opt(row.divergence.map(|d| d.max_abs.to_string())),
                opt(row.divergence.map(|d| d.max_rel.to_string())),
            ];
            let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
            let _ = writeln!(out, "{}", line.join(","));
        }
        out
    }
}

/// A CSV field quoted as RFC 4180 requires when it holds a comma, quote or line break
/// (device names such as "llvmpipe (LLVM 15.0.7, 256 bits)" do).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Seconds as `12.3 ms` below one second, else `1.23 s`.
fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// Bytes as MiB.
fn mebibytes(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrainConfig;
    use ember_models::ModelKind;
    use ember_optim::OptimizerConfig;

    fn run(images_per_second: f64, losses: Vec<f64>) -> WorkerOutcome {
        WorkerOutcome::Ran(Box::new(BackendRun {
            device: "cpu, 2 threads".into(),
            warmup_steps: 2,
            warmup_seconds: 0.5,
            steps: 10,
            step_seconds_median: 0.1,
            step_seconds_mean: 0.1,
            images_per_second,
            epoch_seconds: vec![],
            steady_epoch_seconds: None,
            losses,
            final_train_loss: 1.0,
            val_loss: 1.0,
            val_accuracy: 0.5,
            val_images: 100,
            peak_rss_bytes: Some(1 << 20),
            device_memory_peak_bytes: None,
        }))
    }

    fn job() -> CompareJob {
        CompareJob {
            config: TrainConfig::new(
                ModelKind::Mlp,
                OptimizerConfig::AdaBelief(Default::default()),
            ),
            steps: Some(10),
            warmup_steps: 2,
            divergence_steps: 3,
        }
    }

    #[test]
    fn divergence_by_hand() {
        // |2.1 − 2| = 0.1 (rel 0.05); |0.9 − 1| = 0.1 (rel 0.1); the longer trajectory's
        // extra step is not compared.
        let d = Divergence::between(BackendKind::Flex, &[2.1, 0.9, 5.0], &[2.0, 1.0]);
        assert_eq!(d.steps, 2);
        assert!((d.max_abs - 0.1).abs() < 1e-12);
        assert!((d.max_rel - 0.1).abs() < 1e-12);
    }

    #[test]
    fn speedup_against_first_cpu_backend_and_divergence_against_first() {
        let report = CompareReport::new(
            job(),
            vec![
                (
                    BackendKind::Wgpu,
                    WorkerOutcome::Unavailable {
                        reason: "no adapter".into(),
                    },
                ),
                (BackendKind::Ndarray, run(100.0, vec![2.0, 1.0])),
                (BackendKind::Flex, run(400.0, vec![2.0, 1.5])),
            ],
        );
        assert_eq!(report.speedup_reference, Some(BackendKind::Ndarray));
        let rows = &report.backends;
        assert_eq!(rows[0].speedup, None);
        assert_eq!(rows[1].speedup, Some(1.0));
        assert_eq!(rows[1].divergence, None);
        assert_eq!(rows[2].speedup, Some(4.0));
        let d = rows[2].divergence.unwrap();
        assert_eq!(d.reference, BackendKind::Ndarray);
        assert!((d.max_rel - 0.5).abs() < 1e-12);

        let table = report.table();
        assert!(table.contains("wgpu: not available: no adapter"), "{table}");
        assert!(table.contains("4.00x"), "{table}");

        // The CSV reads back: the device name with a comma stays one field.
        let csv = report.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        let columns = lines[0].split(',').count();
        assert!(lines[2].contains("\"cpu, 2 threads\""));
        assert_eq!(
            lines[2]
                .replace("\"cpu, 2 threads\"", "x")
                .split(',')
                .count(),
            columns
        );
        assert_eq!(lines[1].split(',').count(), columns);

        // compare.json round-trips.
        let json = serde_json::to_string(&report).unwrap();
        let back: CompareReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("flex"), "flex");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
