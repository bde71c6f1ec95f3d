//! The metrics `train` logs: an evaluation's sums ([`MetricSums`], for `train evaluate` and
//! the test split) and an epoch's row of the engine's history as a typed record
//! ([`EpochMetrics`], for `summary.json`, the console and the plots).

use std::path::Path;

use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Serialize};

use ember_engine::EpochLogs;
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

    /// The typed row of an engine history row.
    ///
    /// # Errors
    /// A one-line message naming a metric `train` logs that the row lacks.
    pub fn from_logs(row: &EpochLogs) -> Result<Self, String> {
        let get = |name: &str| {
            row.logs
                .get(name)
                .copied()
                .ok_or_else(|| format!("epoch {} has no {name} in its logs", row.epoch))
        };
        Ok(Self {
            epoch: row.epoch,
            loss: get("loss")?,
            accuracy: get("accuracy")?,
            val_loss: get("val_loss")?,
            val_accuracy: get("val_accuracy")?,
            learning_rate: get("learning_rate")?,
            epoch_seconds: get("epoch_seconds")?,
            images_per_second: get("images_per_second")?,
        })
    }
}

/// Reads a run's `metrics.csv` (the engine's [`ember_engine::CsvLogger`] writes it; used by
/// `train plot`, the tests and tools).
///
/// # Errors
/// A message naming the file and the line that failed to parse, or a missing column.
pub fn read_csv(path: &Path) -> Result<Vec<EpochMetrics>, String> {
    ember_engine::metrics::read_csv(path)?
        .iter()
        .map(|row| EpochMetrics::from_logs(row).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}
