//! The resolved configuration of a training run: every setting with its value, written to the
//! run directory as `config.toml` so that the run can be repeated and resumed.

use std::path::PathBuf;

use ember_datasets::DatasetKind;
use ember_models::ModelKind;
use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;
use crate::optim::OptimizerConfig;

/// Everything that determines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The model of the zoo.
    pub model: ModelKind,
    /// The optimizer and its hyperparameters.
    pub optimizer: OptimizerConfig,
    /// Learning rate (for Rprop: the initial step size).
    pub lr: f64,
    /// Number of epochs (full passes over the training split).
    pub epochs: usize,
    /// Images per optimizer step; `None` is full-batch (the whole training split in one step).
    pub batch_size: Option<usize>,
    /// Seed of the weight initialization and of each epoch's shuffle.
    pub seed: u64,
    /// The dataset.
    pub dataset: DatasetKind,
    /// Directory holding the dataset's IDX files; `None` searches the usual places.
    pub data_dir: Option<PathBuf>,
    /// Fraction of the (limited) training images held out, from the end, for validation
    /// (Keras' `validation_split`); 0 validates on the test split.
    pub val_split: f64,
    /// Use only the first N training images (before the validation split).
    pub limit_train: Option<usize>,
    /// Compute backend.
    pub backend: BackendKind,
    /// wgpu adapter index (see `train --help`); `None` lets wgpu choose.
    pub gpu_index: Option<usize>,
}

impl TrainConfig {
    /// The defaults of the main job: 5 epochs of batch 64 (PyTorch's MNIST example) on MNIST,
    /// the optimizer's reference learning rate, seed 42, 10% validation, flex backend.
    pub fn new(model: ModelKind, optimizer: OptimizerConfig) -> Self {
        Self {
            model,
            lr: optimizer.default_lr(),
            optimizer,
            epochs: 5,
            batch_size: Some(64),
            seed: 42,
            dataset: DatasetKind::Mnist,
            data_dir: None,
            val_split: 0.1,
            limit_train: None,
            backend: BackendKind::Flex,
            gpu_index: None,
        }
    }

    /// Checks every value's range.
    ///
    /// # Errors
    /// A one-line message naming the flag and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("--lr must be a positive number, got {}", self.lr));
        }
        if self.epochs == 0 {
            return Err("--epochs must be at least 1".into());
        }
        if self.batch_size == Some(0) {
            return Err("--batch-size must be at least 1 (or 'full')".into());
        }
        if !(0.0..1.0).contains(&self.val_split) {
            return Err(format!(
                "--val-split must be in [0, 1), got {}",
                self.val_split
            ));
        }
        if self.limit_train == Some(0) {
            return Err("--limit-train must be at least 1".into());
        }
        self.optimizer
            .validate()
            .map_err(|e| format!("{} optimizer: {e}", self.optimizer.name()))
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        // Serializing plain data to TOML cannot fail: every field is a number, string, bool or
        // table, and `None` fields are left out.
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# not serializable: {e}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trips() {
        let mut config = TrainConfig::new(ModelKind::Lenet, "rprop".parse().unwrap());
        config.limit_train = Some(1000);
        config.data_dir = Some("/tmp/x".into());
        let back: TrainConfig = toml::from_str(&config.to_toml()).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn rejects_bad_values() {
        let mut config = TrainConfig::new(ModelKind::Mlp, "sgd".parse().unwrap());
        config.lr = -0.1;
        assert!(config.validate().unwrap_err().contains("--lr"));
        config.lr = 0.1;
        config.val_split = 1.0;
        assert!(config.validate().unwrap_err().contains("--val-split"));
    }
}
