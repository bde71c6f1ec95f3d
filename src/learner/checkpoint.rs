//! Epoch checkpoints: the full training state at the end of an epoch, enough to resume.
//!
//! Layout of a run directory:
//!
//! ```text
//! <run>/config.toml                  resolved configuration
//! <run>/metrics.csv                  one row an epoch
//! <run>/checkpoints/epoch-0003-step-000001266/
//!                                    one directory a checkpoint (every epoch end, and every N
//!                                    steps with --checkpoint-every), complete or absent:
//!     model.bpk                      model weights (burnpack, with parameter ids)
//!     optimizer.bpk                  optimizer state, keyed by parameter id (burnpack)
//!     metrics.csv                    metric history (exact decimals; see HISTORY_FILE)
//!     state.json                     epochs done, global step, steps and metric sums of the
//!                                    unfinished epoch, config, metric history, format version,
//!                                    SHA-256 of the three other files (checked on read)
//! <run>/model.bpk                    final weights
//! <run>/summary.json                 final metrics, wall time, backend, device
//! ```
//!
//! A checkpoint is written into a temporary directory next to its final name, every file is
//! fsynced, and the directory is renamed into place: a crash leaves either no checkpoint directory or a
//! complete one, and never touches the checkpoints before it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use ember_datasets::checksum::sha256_file;
use ember_models::Model;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::learner::hooks::CallbackStates;
use crate::learner::metrics::{EpochMetrics, PartialSums, read_csv, write_csv};
use ember_engine::fsutil::{sync_dir, sync_file, write_atomic};
use ember_engine::text::shorten;

/// Version of the checkpoint layout; bumped when it changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
/// Sub-directory of a run holding the checkpoints.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// Model weights file name.
pub const MODEL_FILE: &str = "model.bpk";
/// Optimizer state file name.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// Training state file name.
pub const STATE_FILE: &str = "state.json";
/// The metric history of the checkpoint, in the format of the run's `metrics.csv`.
///
/// Kept out of `state.json` because serde_json's default float parser is not correctly rounded
/// (it can be one ulp off), while the CSV's shortest round-trip decimals read back exactly with
/// Rust's parser: a resumed run's metrics must equal the uninterrupted run's bit for bit.
pub const HISTORY_FILE: &str = "metrics.csv";
/// Weights of early stopping's best epoch, present when `restore_best_weights` keeps some.
pub const BEST_MODEL_FILE: &str = "best_model.bpk";
/// The files every checkpoint has, whose SHA-256 `state.json` records (as it records
/// [`BEST_MODEL_FILE`]'s when present).
const HASHED_FILES: [&str; 3] = [MODEL_FILE, OPTIMIZER_FILE, HISTORY_FILE];

/// Why a checkpoint could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The path holds no checkpoint.
    #[error(
        "{path} is not a checkpoint ({reason}); pass a run directory or one of its checkpoints/epoch-* directories"
    )]
    NotACheckpoint {
        /// The path given.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A file of the checkpoint is unreadable or damaged.
    #[error("checkpoint {path} is damaged ({reason})")]
    Damaged {
        /// The file at fault.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The run directory has no valid checkpoint.
    #[error("no checkpoint to resume from in {run_dir}{skipped}; start a new run without --resume")]
    NoneValid {
        /// The run directory searched.
        run_dir: PathBuf,
        /// Damaged checkpoints that were skipped, if any.
        skipped: String,
    },
    /// The weights do not fit the model.
    #[error("{path} does not hold {model} weights ({reason}); use the model it was trained with")]
    WrongModel {
        /// The weights file.
        path: PathBuf,
        /// The model asked for.
        model: String,
        /// Burn's description of the mismatch.
        reason: String,
    },
    /// Writing a checkpoint failed.
    #[error("cannot write checkpoint {path}: {source}")]
    Write {
        /// Where.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The training state stored next to the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    /// [`FORMAT_VERSION`] at writing time.
    pub format_version: u32,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps taken since the start of the run.
    pub global_step: usize,
    /// Steps already taken in the next, unfinished epoch (0 at an epoch boundary).
    #[serde(default)]
    pub epoch_step: usize,
    /// Training metric sums of those steps.
    #[serde(default)]
    pub partial: PartialSums,
    /// Training seconds those steps took.
    #[serde(default)]
    pub partial_seconds: f64,
    /// SHA-256 of the training and validation data ([`crate::data::RunData::fingerprint`]).
    #[serde(default)]
    pub data_fingerprint: String,
    /// The run's configuration.
    pub config: TrainConfig,
    /// Every callback's state (early stopping, checkpoint selection, ReduceLROnPlateau).
    #[serde(default)]
    pub callbacks: CallbackStates,
    /// Metrics of every completed epoch (stored in the checkpoint's [`HISTORY_FILE`]).
    #[serde(skip)]
    pub history: Vec<EpochMetrics>,
}

/// What `state.json` holds: the training state and the SHA-256 of every other file of the
/// checkpoint, checked when the checkpoint is read.
#[derive(Serialize, Deserialize)]
struct StateFile {
    #[serde(flatten)]
    state: CheckpointState,
    /// File name -> SHA-256 (lowercase hex).
    sha256: BTreeMap<String, String>,
}

/// A checkpoint found on disk.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Its directory (`<run>/checkpoints/epoch-EEEE-step-SSSSSSSSS`).
    pub dir: PathBuf,
    /// Its training state.
    pub state: CheckpointState,
}

impl CheckpointState {
    /// The checkpoint's directory name, `epoch-EEEE-step-SSSSSSSSS`: the epoch the last step
    /// belongs to and the global step, so names sort in training order.
    pub fn dir_name(&self) -> String {
        let epoch = self.epoch + usize::from(self.epoch_step > 0);
        format!("epoch-{epoch:04}-step-{:09}", self.global_step)
    }
}

/// Writes `state`'s checkpoint under `run_dir/checkpoints/`, durably; `best` is early
/// stopping's best weights, if it keeps any.
///
/// # Errors
/// [`CheckpointError::Write`] on any I/O or serialization failure; earlier checkpoints are
/// untouched.
pub fn save(
    run_dir: &Path,
    state: &CheckpointState,
    model: &Model,
    optimizer: &ModuleOptimizer,
    best: Option<&Model>,
) -> Result<PathBuf, CheckpointError> {
    let final_dir = run_dir.join(CHECKPOINTS_DIR).join(state.dir_name());
    save_as(&final_dir, state, model, optimizer, best)
}

/// Writes a checkpoint into the directory `final_dir` (replacing one already there only once
/// the new one is complete), durably: a temporary sibling directory, every file fsynced, a
/// rename, the parent directory fsynced.
///
/// # Errors
/// As [`save`].
pub fn save_as(
    final_dir: &Path,
    state: &CheckpointState,
    model: &Model,
    optimizer: &ModuleOptimizer,
    best: Option<&Model>,
) -> Result<PathBuf, CheckpointError> {
    let root = final_dir.parent().unwrap_or(Path::new("."));
    let name = final_dir
        .file_name()
        .map_or_else(|| "checkpoint".into(), |n| n.to_string_lossy().into_owned());
    let tmp = root.join(format!(".{name}.tmp-{}", std::process::id()));
    let write_err = |source: std::io::Error| CheckpointError::Write {
        path: final_dir.to_path_buf(),
        source,
    };
    let record_err = |e: burn::store::RecordError| write_err(std::io::Error::other(e.to_string()));

    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(write_err)?;
    }
    std::fs::create_dir_all(&tmp).map_err(write_err)?;
    model
        .clone()
        .save_file(tmp.join(MODEL_FILE))
        .map_err(record_err)?;
    optimizer
        .save(tmp.join(OPTIMIZER_FILE))
        .map_err(record_err)?;
    write_csv(&tmp.join(HISTORY_FILE), &state.history).map_err(write_err)?;
    let mut files = HASHED_FILES.to_vec();
    if let Some(best) = best {
        best.clone()
            .save_file(tmp.join(BEST_MODEL_FILE))
            .map_err(record_err)?;
        files.push(BEST_MODEL_FILE);
    }
    let mut sha256 = BTreeMap::new();
    for file in files {
        sync_file(&tmp.join(file)).map_err(write_err)?;
        sha256.insert(
            file.to_string(),
            sha256_file(&tmp.join(file)).map_err(write_err)?,
        );
    }
    let json = serde_json::to_vec_pretty(&StateFile {
        state: state.clone(),
        sha256,
    })
    .map_err(|e| write_err(e.into()))?;
    write_atomic(&tmp.join(STATE_FILE), &json).map_err(write_err)?;
    if final_dir.exists() {
        // Re-writing the same checkpoint (a run resumed from an earlier one, or `last`): the
        // new copy is complete, so the old one can go.
        std::fs::remove_dir_all(final_dir).map_err(write_err)?;
    }
    std::fs::rename(&tmp, final_dir).map_err(write_err)?;
    sync_dir(root).map_err(write_err)?;
    Ok(final_dir.to_path_buf())
}

/// Reads the checkpoint in `dir` (a `checkpoints/epoch-*` directory), checking its files are present,
/// its state parses and every file matches the SHA-256 recorded in `state.json`.
///
/// # Errors
/// [`CheckpointError::NotACheckpoint`] or [`CheckpointError::Damaged`].
pub fn read(dir: &Path) -> Result<Checkpoint, CheckpointError> {
    let state_path = dir.join(STATE_FILE);
    if !state_path.is_file() {
        return Err(CheckpointError::NotACheckpoint {
            path: dir.to_path_buf(),
            reason: format!("no {STATE_FILE}"),
        });
    }
    let bytes = std::fs::read(&state_path).map_err(|e| CheckpointError::Damaged {
        path: state_path.clone(),
        reason: e.to_string(),
    })?;
    let StateFile { mut state, sha256 } =
        serde_json::from_slice(&bytes).map_err(|e| CheckpointError::Damaged {
            path: state_path.clone(),
            reason: e.to_string(),
        })?;
    if state.format_version != FORMAT_VERSION {
        return Err(CheckpointError::Damaged {
            path: state_path,
            reason: format!(
                "format version {}, this ember reads {FORMAT_VERSION}",
                state.format_version
            ),
        });
    }
    let optional = sha256
        .contains_key(BEST_MODEL_FILE)
        .then_some(BEST_MODEL_FILE);
    for file in HASHED_FILES.into_iter().chain(optional) {
        let path = dir.join(file);
        let found = sha256_file(&path).map_err(|e| CheckpointError::Damaged {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if sha256.get(file) != Some(&found) {
            return Err(CheckpointError::Damaged {
                path,
                reason: "its SHA-256 differs from the one recorded in state.json".into(),
            });
        }
    }
    state.history =
        read_csv(&dir.join(HISTORY_FILE)).map_err(|reason| CheckpointError::Damaged {
            path: dir.join(HISTORY_FILE),
            reason,
        })?;
    Ok(Checkpoint {
        dir: dir.to_path_buf(),
        state,
    })
}

/// The newest valid checkpoint of a run directory; damaged newer ones are skipped with a
/// warning on stderr.
///
/// # Errors
/// [`CheckpointError::NoneValid`] when there is none.
pub fn latest(run_dir: &Path) -> Result<Checkpoint, CheckpointError> {
    let mut dirs = epoch_dirs(run_dir);
    dirs.sort();
    let mut skipped: Vec<CheckpointError> = Vec::new();
    for dir in dirs.iter().rev() {
        match read(dir) {
            Ok(checkpoint) => {
                for err in &skipped {
                    eprintln!("warning: skipped damaged checkpoint: {err}");
                }
                return Ok(checkpoint);
            }
            Err(e) => skipped.push(e),
        }
    }
    Err(CheckpointError::NoneValid {
        run_dir: run_dir.to_path_buf(),
        skipped: if skipped.is_empty() {
            String::new()
        } else {
            format!(
                " (damaged: {})",
                skipped
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
    })
}

/// Removes the temporary directories of checkpoint writes that a killed process left behind
/// (`checkpoints/.epoch-*.tmp-PID`, `models/.NAME.tmp-PID`); complete checkpoints are never
/// touched.
///
/// # Errors
/// The I/O error of removing one.
pub fn remove_partial_writes(run_dir: &Path) -> std::io::Result<()> {
    for sub in [CHECKPOINTS_DIR, crate::learner::hooks::MODELS_DIR] {
        let Ok(entries) = std::fs::read_dir(run_dir.join(sub)) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                let path = entry.path();
                if path.is_dir() {
                    std::fs::remove_dir_all(path)?;
                } else {
                    std::fs::remove_file(path)?;
                }
            }
        }
    }
    Ok(())
}

/// Whether `run_dir` already holds any checkpoint.
pub fn has_checkpoints(run_dir: &Path) -> bool {
    !epoch_dirs(run_dir).is_empty()
}

fn epoch_dirs(run_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(run_dir.join(CHECKPOINTS_DIR)) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("epoch-"))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

/// Resolves what `--resume` or `--checkpoint` names: a checkpoint directory as is, a run
/// directory to its latest valid checkpoint.
///
/// # Errors
/// As [`read`] and [`latest`].
pub fn resolve(path: &Path) -> Result<Checkpoint, CheckpointError> {
    if path.join(STATE_FILE).is_file() {
        read(path)
    } else if path.join(CHECKPOINTS_DIR).is_dir() {
        latest(path)
    } else {
        Err(CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            reason: if path.exists() {
                format!("no {STATE_FILE} and no {CHECKPOINTS_DIR}/ inside")
            } else {
                "no such file or directory".into()
            },
        })
    }
}

/// Writes `model`'s weights to `path` (burnpack) through a temporary file, fsync and rename
/// ([`ember_engine::fsutil::replace_atomically`]): the final run model and weights-only selected
/// checkpoints.
///
/// # Errors
/// The I/O error (Burn's store errors wrapped as I/O errors).
pub fn save_weights(model: &Model, path: &Path) -> std::io::Result<()> {
    ember_engine::fsutil::replace_atomically(path, |tmp| {
        model
            .clone()
            .save_file(tmp)
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
}

/// Loads weights from a `.bpk` file into a fresh `kind` model on `device`.
///
/// # Errors
/// [`CheckpointError::WrongModel`] when the tensors' names or shapes do not fit the model,
/// [`CheckpointError::Damaged`] when the file cannot be read as burnpack.
pub fn load_weights(
    path: &Path,
    kind: ember_models::ModelKind,
    device: &Device,
) -> Result<Model, CheckpointError> {
    let record = burn::store::ModuleRecord::load(path).map_err(|e| CheckpointError::Damaged {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    kind.init(device)
        .try_load_record(record)
        .map_err(|e| CheckpointError::WrongModel {
            path: path.to_path_buf(),
            model: kind.name().to_string(),
            reason: shorten(&e.to_string(), 200),
        })
}

/// Early stopping's best weights stored in `checkpoint`, if it has them, on `device`.
///
/// # Errors
/// As [`load_weights`].
pub fn load_best_weights(
    checkpoint: &Checkpoint,
    device: &Device,
) -> Result<Option<Model>, CheckpointError> {
    let path = checkpoint.dir.join(BEST_MODEL_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    load_weights(&path, checkpoint.state.config.model, device).map(Some)
}

/// Loads the optimizer state of `checkpoint` into a fresh optimizer of its configuration.
///
/// # Errors
/// [`CheckpointError::Damaged`] when the file cannot be read.
pub fn load_optimizer(checkpoint: &Checkpoint) -> Result<ModuleOptimizer, CheckpointError> {
    let path = checkpoint.dir.join(OPTIMIZER_FILE);
    checkpoint
        .state
        .config
        .optimizer
        .init()
        .load(&path)
        .map_err(|e| CheckpointError::Damaged {
            path,
            reason: e.to_string(),
        })
}
