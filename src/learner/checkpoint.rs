//! The `train` command's checkpoints: the engine's ([`ember_engine::checkpoint`], layout in
//! [`ember_engine::layout`]) with the run's configuration and data fingerprint stored as the
//! application's part of `state.json` ([`RunRecord`]), so that `--resume` can refuse flags that
//! would change what is trained and data that differs.
//!
//! Layout of a run directory:
//!
//! ```text
//! <run>/config.toml                  resolved configuration
//! <run>/metrics.csv                  one row an epoch
//! <run>/checkpoints/epoch-0003-step-000001266/   (every epoch end, and every N steps with
//!                                    --checkpoint-every), complete or absent: model.bpk,
//!                                    optimizer.bpk, metrics.csv, state.json, best_model.bpk
//! <run>/model.bpk                    final weights
//! <run>/summary.json                 final metrics, wall time, backend, device
//! ```

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use ember_models::{Model, ModelKind, ModelOptions};
use serde::{Deserialize, Serialize};

pub use ember_engine::checkpoint::{
    CheckpointError, CheckpointState, FORMAT_VERSION, has_checkpoints, save_weights,
};
pub use ember_engine::layout::{
    BEST_MODEL_FILE, CHECKPOINTS_DIR, HISTORY_FILE, MODEL_FILE, MODELS_DIR, OPTIMIZER_FILE,
    STATE_FILE,
};

use crate::config::TrainConfig;

/// What `train` stores in each checkpoint besides the engine's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's configuration.
    pub config: TrainConfig,
    /// SHA-256 of the training and validation data ([`crate::data::RunData::fingerprint`]).
    pub data_fingerprint: String,
}

/// A checkpoint of a `train` run found on disk.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Its directory.
    pub dir: PathBuf,
    /// The engine's training state (counters, history, callbacks' states).
    pub state: CheckpointState,
    /// The run's configuration.
    pub config: TrainConfig,
    /// The fingerprint of the data it was trained on.
    pub data_fingerprint: String,
}

impl Checkpoint {
    fn from_engine(
        checkpoint: ember_engine::checkpoint::Checkpoint,
    ) -> Result<Self, CheckpointError> {
        let record: RunRecord =
            serde_json::from_value(checkpoint.state.app.clone()).map_err(|e| {
                CheckpointError::Damaged {
                    path: checkpoint.dir.join(STATE_FILE),
                    reason: format!("no train configuration in it ({e})"),
                }
            })?;
        Ok(Self {
            dir: checkpoint.dir,
            state: checkpoint.state,
            config: record.config,
            data_fingerprint: record.data_fingerprint,
        })
    }

    /// The checkpoint as the engine resumes it.
    pub fn into_engine(self) -> ember_engine::checkpoint::Checkpoint {
        ember_engine::checkpoint::Checkpoint {
            dir: self.dir,
            state: self.state,
        }
    }
}

/// Reads the checkpoint in `dir`, its files checked against their SHA-256.
///
/// # Errors
/// As [`ember_engine::checkpoint::read`], or a state without a `train` configuration.
pub fn read(dir: &Path) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::from_engine(ember_engine::checkpoint::read(dir)?)
}

/// The newest valid checkpoint of a run directory; damaged newer ones are skipped with a
/// warning on stderr.
///
/// # Errors
/// As [`ember_engine::checkpoint::latest`].
pub fn latest(run_dir: &Path) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::from_engine(ember_engine::checkpoint::latest(run_dir)?)
}

/// Resolves what `--resume` or `--checkpoint` names: a checkpoint directory as is, a run
/// directory to its latest valid checkpoint.
///
/// # Errors
/// As [`read`] and [`latest`].
pub fn resolve(path: &Path) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::from_engine(ember_engine::checkpoint::resolve(path)?)
}

/// Loads weights from a `.bpk` file into a fresh `kind` model with `options` (its batch
/// normalization layers, whose running statistics the file holds) on `device`.
///
/// # Errors
/// [`CheckpointError::WrongModel`] (naming `kind`) when the tensors' names or shapes do not
/// fit, [`CheckpointError::Damaged`] when the file cannot be read as burnpack.
pub fn load_weights(
    path: &Path,
    kind: ModelKind,
    options: &ModelOptions,
    device: &Device,
) -> Result<Model, CheckpointError> {
    ember_engine::checkpoint::load_weights_as(kind.init_with(options, device), path, kind.name())
}
