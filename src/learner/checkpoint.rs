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

use anyhow::Context as _;

use crate::config::TrainConfig;
use crate::run_files::{CONFIG_FILE, FINAL_MODEL_FILE};

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

/// The weights file that `path` names, and the configuration recorded beside it if any.
///
/// A `.bpk` file is used as is (configuration from `config.toml` or `state.json` in its
/// directory); a finished run directory gives its final `model.bpk`; a checkpoint or an
/// unfinished run directory gives the checkpoint's weights.
pub fn locate_weights(path: &Path) -> anyhow::Result<(PathBuf, Option<TrainConfig>)> {
    if path.is_file() {
        let dir = path.parent().unwrap_or(Path::new("."));
        let recorded = if dir.join(STATE_FILE).is_file() {
            Some(read(dir)?.config)
        } else if dir.ends_with(MODELS_DIR) && !dir.join(CONFIG_FILE).is_file() {
            // A weights-only selected checkpoint, <run>/models/NAME.bpk: the run's config.
            read_config(&dir.parent().unwrap_or(Path::new(".")).join(CONFIG_FILE))?
        } else {
            read_config(&dir.join(CONFIG_FILE))?
        };
        return Ok((path.to_path_buf(), recorded));
    }
    if path.join(FINAL_MODEL_FILE).is_file() && path.join(CONFIG_FILE).is_file() {
        let recorded = read_config(&path.join(CONFIG_FILE))?;
        return Ok((path.join(FINAL_MODEL_FILE), recorded));
    }
    let checkpoint = resolve(path)?;
    Ok((checkpoint.dir.join(MODEL_FILE), Some(checkpoint.config)))
}

/// The configuration in `path` (a run's `config.toml`), `None` when there is no such file.
///
/// # Errors
/// An unreadable or invalid file, named.
pub fn read_config(path: &Path) -> anyhow::Result<Option<TrainConfig>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let config = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{} is not a valid ember configuration: {e}", path.display())
    })?;
    Ok(Some(config))
}

/// The trained model that `path` names (as [`locate_weights`] reads it) with the configuration
/// it was trained with, on `device`: a teacher to distill, a committee member to evaluate.
///
/// # Errors
/// No configuration recorded beside the weights (`what` names the role, e.g. "--teacher"), or
/// the weights' own errors.
pub fn load_trained(
    path: &Path,
    what: &str,
    device: &Device,
) -> anyhow::Result<(Model, TrainConfig, PathBuf)> {
    let (weights, config) = locate_weights(path)?;
    let Some(config) = config else {
        anyhow::bail!(
            "{what} {}: no {CONFIG_FILE} or checkpoint state beside {} says which model it holds; give a run directory that train wrote",
            path.display(),
            weights.display()
        );
    };
    let model = load_weights(
        &weights,
        config.model,
        &config.regularization.model_options(),
        device,
    )
    .with_context(|| format!("{what} {}", path.display()))?;
    Ok((model, config, weights))
}
