//! What a finished `train` run writes to `summary.json`.

use ember_engine::callbacks::target::TargetOutcome;
use ember_models::ModelKind;
use serde::{Deserialize, Serialize};

use crate::metrics::EpochMetrics;

/// The end of a run, as written to `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Model name.
    pub model: ModelKind,
    /// Optimizer name.
    pub optimizer: String,
    /// Dataset name.
    pub dataset: String,
    /// Backend name.
    pub backend: String,
    /// Device the backend ran on.
    pub device: String,
    /// Epochs completed.
    pub epochs: usize,
    /// Optimizer steps taken.
    pub global_step: usize,
    /// Metrics of the last epoch (absent if no epoch ran).
    pub last_epoch: Option<EpochMetrics>,
    /// Why early stopping ended the run, if it did.
    pub stopped_early: Option<String>,
    /// The epoch whose weights were kept by `restore_best_weights`, if any.
    pub restored_epoch: Option<usize>,
    /// Cross-entropy on the test split.
    pub test_loss: f64,
    /// Accuracy on the test split, in [0, 1].
    pub test_accuracy: f64,
    /// Images in the test split.
    pub test_images: usize,
    /// Wall-clock seconds of this process's part of the run (training and evaluation).
    pub wall_seconds: f64,
    /// With `--until`: the step, epochs, images and seconds at which the target was reached,
    /// or the run's end if it was not.
    #[serde(default)]
    pub target: Option<TargetOutcome>,
}
