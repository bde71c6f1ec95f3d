//! Metrics of an epoch: summed on the device during the epoch (no wait for the device at each
//! step), read once at its end, and kept as a history of [`EpochLogs`] that `metrics.csv` and
//! `metrics.jsonl` are written from.
//!
//! A metric is a sum and a count: its epoch value is `Σ sum / Σ count`, e.g. the mean loss
//! (each batch's mean loss times its examples, over the examples) or the accuracy (correct
//! predictions over the examples). Sums are f32 on the device, as the batches' values are; a
//! count of whole numbers (correct predictions) is exact up to 2^24 = 16,777,216 per epoch.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::callbacks::{Logs, exact_f64};

/// One metric of one batch: the sum of its per-example (or per-element) values, shape `[1]`,
/// detached from the autodiff graph, and how many values the sum covers.
#[derive(Debug, Clone)]
pub struct MetricSum {
    /// The metric's name in the logs (`"accuracy"`, `"mae"`, ...); validation adds `val_`.
    pub name: String,
    /// Sum of the values, shape `[1]`, float.
    pub sum: Tensor<1>,
    /// Number of values summed (examples, or elements for a per-element error).
    pub count: usize,
}

/// The running sums of an epoch, on the device.
#[derive(Debug, Default, Clone)]
pub struct MetricSums {
    sums: BTreeMap<String, (Tensor<1>, usize)>,
}

impl MetricSums {
    /// Adds one batch's `metric`.
    pub fn add(&mut self, metric: MetricSum) {
        let MetricSum { name, sum, count } = metric;
        let entry = match self.sums.remove(&name) {
            Some((total, n)) => (total.add(sum), n + count),
            None => (sum, count),
        };
        self.sums.insert(name, entry);
    }

    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// The count of `name` so far (0 if never added): for `loss`, the examples seen.
    pub fn count(&self, name: &str) -> usize {
        self.sums.get(name).map_or(0, |(_, n)| *n)
    }

    /// Every metric's mean so far, `Σ sum / Σ count` in f64, names prefixed with `prefix`
    /// (`""` or `"val_"`). Waits for the device.
    pub fn logs(&self, prefix: &str) -> Logs {
        self.sums
            .iter()
            .map(|(name, (sum, count))| {
                let sum = f64::from(sum.clone().into_scalar::<f32>());
                (format!("{prefix}{name}"), sum / *count as f64)
            })
            .collect()
    }

    /// The sums read back to the host, for a mid-epoch checkpoint. Waits for the device.
    pub fn snapshot(&self) -> PartialSums {
        PartialSums(
            self.sums
                .iter()
                .map(|(name, (sum, count))| {
                    let sum = f64::from(sum.clone().into_scalar::<f32>());
                    (name.clone(), PartialSum { sum, count: *count })
                })
                .collect(),
        )
    }

    /// Sums that continue from a [`snapshot`](Self::snapshot) on `device`. The sums go back to
    /// f32 exactly, so the epoch adds up bit for bit as if it had not been interrupted.
    pub fn restore(partial: &PartialSums, device: &Device) -> Self {
        let sums = partial
            .0
            .iter()
            .map(|(name, p)| {
                let sum = Tensor::from_data(TensorData::new(vec![p.sum as f32], [1]), device);
                (name.clone(), (sum, p.count))
            })
            .collect();
        Self { sums }
    }
}

/// [`MetricSums`] on the host: what a mid-epoch checkpoint stores of the epoch so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialSums(pub BTreeMap<String, PartialSum>);

/// One metric's sum and count so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PartialSum {
    /// The f32 sum, held exactly in an f64 and written as its shortest exact decimal.
    #[serde(with = "exact_f64")]
    pub sum: f64,
    /// Values summed.
    pub count: usize,
}

/// One row of the history: an epoch (1-based) and its logs.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochLogs {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Metric name → value (`loss`, `val_loss`, `learning_rate`, ...).
    pub logs: Logs,
}

/// The columns of a history's CSV: `epoch`, then every metric name of any row, sorted (as
/// Keras' `CSVLogger` sorts its keys).
pub fn csv_columns(history: &[EpochLogs]) -> Vec<String> {
    let mut names: Vec<String> = history
        .iter()
        .flat_map(|row| row.logs.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    std::iter::once("epoch".to_string()).chain(names).collect()
}

/// `history` as CSV text: a header ([`csv_columns`]) and one row an epoch, each value as the
/// shortest decimal that reads back to the same f64 (`NaN`, `inf` for non-finite values), an
/// empty field where a row lacks a metric.
pub fn csv_text(history: &[EpochLogs]) -> String {
    let columns = csv_columns(history);
    let mut text = columns.join(",");
    text.push('\n');
    for row in history {
        let fields: Vec<String> = std::iter::once(row.epoch.to_string())
            .chain(
                columns[1..]
                    .iter()
                    .map(|name| row.logs.get(name).map_or(String::new(), f64::to_string)),
            )
            .collect();
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    text
}

/// Writes `history` to `path` as [`csv_text`], atomically.
///
/// # Errors
/// The I/O error of writing or renaming.
pub fn write_csv(path: &Path, history: &[EpochLogs]) -> std::io::Result<()> {
    crate::fsutil::write_atomic(path, csv_text(history).as_bytes())
}

/// Writes `history` to `path` as JSON lines (`{"epoch": 1, "accuracy": ..., ...}`, names
/// sorted), atomically; non-finite values are `null` (JSON has no NaN).
///
/// # Errors
/// The I/O error of writing or renaming.
pub fn write_jsonl(path: &Path, history: &[EpochLogs]) -> std::io::Result<()> {
    let mut text = String::new();
    for row in history {
        let mut object = serde_json::Map::new();
        object.insert("epoch".into(), row.epoch.into());
        for (name, value) in &row.logs {
            object.insert(name.clone(), (*value).into());
        }
        text.push_str(&serde_json::Value::Object(object).to_string());
        text.push('\n');
    }
    crate::fsutil::write_atomic(path, text.as_bytes())
}

/// Reads a CSV written by [`write_csv`]: the values read back bit for bit.
///
/// # Errors
/// A one-line message naming the file and the line that does not parse.
pub fn read_csv(path: &Path) -> Result<Vec<EpochLogs>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    if header.first() != Some(&"epoch") {
        return Err(format!(
            "{}: the header does not start with 'epoch'",
            path.display()
        ));
    }
    lines
        .enumerate()
        .map(|(i, line)| {
            let bad = |what: String| format!("{} line {}: {what}", path.display(), i + 2);
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != header.len() {
                return Err(bad(format!(
                    "{} fields, the header has {}",
                    fields.len(),
                    header.len()
                )));
            }
            let epoch = fields[0]
                .parse::<usize>()
                .map_err(|e| bad(format!("epoch '{}': {e}", fields[0])))?;
            let mut logs = Logs::new();
            for (name, field) in header[1..].iter().zip(&fields[1..]) {
                if field.is_empty() {
                    continue;
                }
                let value = field
                    .parse::<f64>()
                    .map_err(|e| bad(format!("{name} '{field}': {e}")))?;
                logs.insert((*name).to_string(), value);
            }
            Ok(EpochLogs { epoch, logs })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips_bit_for_bit() {
        let history = vec![
            EpochLogs {
                epoch: 1,
                logs: Logs::from([
                    ("loss".to_string(), 0.1 + 0.2),
                    ("val_loss".to_string(), f64::NAN),
                    ("accuracy".to_string(), 1.0 / 3.0),
                ]),
            },
            EpochLogs {
                epoch: 2,
                logs: Logs::from([
                    ("loss".to_string(), f64::INFINITY),
                    ("accuracy".to_string(), 2.5e-5),
                ]),
            },
        ];
        let dir = std::env::temp_dir().join(format!("ember-engine-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.csv");
        write_csv(&path, &history).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "epoch,accuracy,loss,val_loss\n1,0.3333333333333333,0.30000000000000004,NaN\n2,0.000025,inf,\n"
        );
        let back = read_csv(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(back.len(), 2);
        for (a, b) in history.iter().zip(&back) {
            assert_eq!(a.epoch, b.epoch);
            assert_eq!(a.logs.len(), b.logs.len());
            for (name, v) in &a.logs {
                assert_eq!(v.to_bits(), b.logs[name].to_bits(), "{name}");
            }
        }
    }

    #[test]
    fn sums_restore_exactly() {
        let device = Device::flex();
        let mut sums = MetricSums::default();
        for v in [0.1f32, 0.2, 0.3] {
            sums.add(MetricSum {
                name: "loss".into(),
                sum: Tensor::from_data(TensorData::new(vec![v], [1]), &device),
                count: 2,
            });
        }
        let restored = MetricSums::restore(&sums.snapshot(), &device);
        assert_eq!(restored.snapshot(), sums.snapshot());
        assert_eq!(restored.count("loss"), 6);
        let mean = sums.logs("val_")["val_loss"];
        assert_eq!(mean, f64::from(0.1f32 + 0.2f32 + 0.3f32) / 6.0);
    }
}
