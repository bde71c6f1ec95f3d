//! Per-epoch metrics: accumulated on the device during an epoch, read once at its end, and
//! logged as rows of `metrics.csv`.

use std::path::Path;

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use ember_engine::callbacks::Logs;

/// Sums of loss and correct predictions over an epoch, kept on the device so the training loop
/// does not wait for the device at every step.
#[derive(Debug, Default)]
pub struct MetricSums {
    loss_sum: Option<Tensor<1>>,
    correct: Option<Tensor<1, Int>>,
    images: usize,
}

impl MetricSums {
    /// Adds a batch: its mean `loss` (shape `[1]`), `logits` `[batch, classes]` and `targets`
    /// `[batch]`. All tensors should be detached from the autodiff graph.
    pub fn add(&mut self, loss: Tensor<1>, logits: Tensor<2>, targets: Tensor<1, Int>) {
        let [batch, _] = logits.dims();
        let loss = loss.mul_scalar(batch as f64);
        let correct = logits.argmax(1).reshape([batch]).equal(targets).int().sum();
        self.loss_sum = Some(match self.loss_sum.take() {
            Some(sum) => sum.add(loss),
            None => loss,
        });
        self.correct = Some(match self.correct.take() {
            Some(sum) => sum.add(correct),
            None => correct,
        });
        self.images += batch;
    }

    /// The sums as plain numbers (waits for the device), for a mid-epoch checkpoint.
    pub fn snapshot(&self) -> PartialSums {
        PartialSums {
            loss_sum: self
                .loss_sum
                .as_ref()
                .map_or(0.0, |s| f64::from(s.clone().into_scalar::<f32>())),
            correct: self
                .correct
                .as_ref()
                .map_or(0, |s| s.clone().into_scalar::<i64>()),
            images: self.images,
        }
    }

    /// Sums that continue from a [`snapshot`](Self::snapshot), on `device`. The loss sum is kept
    /// in f32 on the device, so a restored sum adds up bit for bit like the original.
    pub fn restore(partial: &PartialSums, device: &Device) -> Self {
        if partial.images == 0 {
            return Self::default();
        }
        Self {
            loss_sum: Some(Tensor::from_data(
                TensorData::new(vec![partial.loss_sum as f32], [1]),
                device,
            )),
            correct: Some(Tensor::from_data(
                TensorData::new(vec![partial.correct], [1]),
                device,
            )),
            images: partial.images,
        }
    }

    /// Images added so far.
    pub fn images(&self) -> usize {
        self.images
    }

    /// Mean loss so far (waits for the device); NaN before the first batch.
    pub fn mean_loss(&self) -> f64 {
        match &self.loss_sum {
            Some(sum) => sum.clone().into_scalar::<f64>() / self.images as f64,
            None => f64::NAN,
        }
    }

    /// Fraction of correct predictions so far (waits for the device); NaN before the first
    /// batch.
    pub fn accuracy(&self) -> f64 {
        match &self.correct {
            Some(sum) => sum.clone().into_scalar::<i64>() as f64 / self.images as f64,
            None => f64::NAN,
        }
    }
}

/// [`MetricSums`] read back to the host: what a mid-epoch checkpoint stores of the epoch so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialSums {
    /// Sum over the images so far of their cross-entropy: the f32 sum on the device, held in
    /// an f64 (exactly) so that JSON's float parsing cannot move it to a neighbouring f32.
    pub loss_sum: f64,
    /// Correct predictions so far.
    pub correct: i64,
    /// Images so far.
    pub images: usize,
}

/// What one epoch measured. Metric names follow Keras (`loss`, `accuracy`, `val_loss`,
/// `val_accuracy`, `learning_rate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, 1-based.
    pub epoch: usize,
    /// Mean training cross-entropy over the epoch's batches (weights as they were at each step).
    pub loss: f64,
    /// Training accuracy over the epoch, in [0, 1].
    pub accuracy: f64,
    /// Validation cross-entropy at the end of the epoch.
    pub val_loss: f64,
    /// Validation accuracy at the end of the epoch, in [0, 1].
    pub val_accuracy: f64,
    /// Learning rate used during the epoch.
    pub learning_rate: f64,
    /// Wall-clock seconds of the epoch, training and validation.
    pub epoch_seconds: f64,
    /// Training images per second (training time only).
    pub images_per_second: f64,
}

/// Column names of `metrics.csv`: `epoch`, then the metric names sorted, as Keras' CSVLogger.
pub const CSV_COLUMNS: [&str; 8] = [
    "epoch",
    "accuracy",
    "epoch_seconds",
    "images_per_second",
    "learning_rate",
    "loss",
    "val_accuracy",
    "val_loss",
];

impl EpochMetrics {
    /// The epoch's metrics by name, as Keras passes `logs` to callbacks: `loss`, `accuracy`,
    /// `val_loss`, `val_accuracy`, `learning_rate`, `epoch_seconds`, `images_per_second`.
    pub fn logs(&self) -> Logs {
        Logs::from([
            ("loss".to_string(), self.loss),
            ("accuracy".to_string(), self.accuracy),
            ("val_loss".to_string(), self.val_loss),
            ("val_accuracy".to_string(), self.val_accuracy),
            ("learning_rate".to_string(), self.learning_rate),
            ("epoch_seconds".to_string(), self.epoch_seconds),
            ("images_per_second".to_string(), self.images_per_second),
        ])
    }

    fn csv_row(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{}",
            self.epoch,
            self.accuracy,
            self.epoch_seconds,
            self.images_per_second,
            self.learning_rate,
            self.loss,
            self.val_accuracy,
            self.val_loss
        )
    }
}

/// Writes `history` as `path` (header plus one row an epoch), replacing the file atomically so
/// a crash never leaves a half-written CSV.
///
/// # Errors
/// The I/O error of writing or renaming.
pub fn write_csv(path: &Path, history: &[EpochMetrics]) -> std::io::Result<()> {
    let mut text = CSV_COLUMNS.join(",");
    text.push('\n');
    for row in history {
        text.push_str(&row.csv_row());
        text.push('\n');
    }
    ember_engine::fsutil::write_atomic(path, text.as_bytes())
}

/// Writes `history` as JSON lines (one object an epoch, the fields of [`EpochMetrics`]),
/// replacing `path` atomically. Non-finite values are written as `null` (JSON has no NaN).
///
/// # Errors
/// The I/O error of writing or renaming.
pub fn write_jsonl(path: &Path, history: &[EpochMetrics]) -> std::io::Result<()> {
    let mut text = String::new();
    for row in history {
        text.push_str(&serde_json::to_string(row).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    ember_engine::fsutil::write_atomic(path, text.as_bytes())
}

/// Reads a `metrics.csv` written by [`write_csv`] (used by tests and tools).
///
/// # Errors
/// A message naming the file and the line that failed to parse.
pub fn read_csv(path: &Path) -> Result<Vec<EpochMetrics>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    if header != CSV_COLUMNS.join(",") {
        return Err(format!("{}: unexpected header '{header}'", path.display()));
    }
    lines
        .enumerate()
        .map(|(i, line)| {
            let v: Vec<f64> = line
                .split(',')
                .map(|x| x.parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{} line {}: {e}", path.display(), i + 2))?;
            if v.len() != CSV_COLUMNS.len() {
                return Err(format!(
                    "{} line {}: {} fields",
                    path.display(),
                    i + 2,
                    v.len()
                ));
            }
            Ok(EpochMetrics {
                epoch: v[0] as usize,
                accuracy: v[1],
                epoch_seconds: v[2],
                images_per_second: v[3],
                learning_rate: v[4],
                loss: v[5],
                val_accuracy: v[6],
                val_loss: v[7],
            })
        })
        .collect()
}
