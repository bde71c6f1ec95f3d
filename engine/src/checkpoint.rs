//! Resume checkpoints: the whole training state at a step, enough to continue exactly.
//!
//! A checkpoint is a directory (names in [`crate::layout`]):
//!
//! ```text
//! <run>/checkpoints/epoch-0003-step-000001266/
//!     model.bpk        model weights (burnpack)
//!     optimizer.bpk    optimizer state, keyed by parameter id (burnpack)
//!     metrics.csv      the epoch history, as exact decimals
//!     state.json       counters, the unfinished epoch's metric sums, the learning rate, each
//!                      callback's state under its name, the application's own state, the
//!                      format version and the SHA-256 of every other file (checked on read)
//!     state.json.sha256  the SHA-256 of state.json, in `sha256sum`'s format (checked first)
//!     ...              files callbacks add (early stopping's best weights)
//! ```
//!
//! So every byte of every file is covered by a hash: a change anywhere makes the checkpoint
//! [`CheckpointError::Damaged`], and [`latest`] falls back to the one before it.
//!
//! It is written into a temporary sibling directory, every file fsynced, and renamed into
//! place: a crash leaves either no checkpoint or a complete one, and never touches older ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use crate::callbacks::exact_f64;
use crate::checksum::{sha256_file, sha256_parts};
use crate::fsutil::{replace_atomically, sync_dir, sync_file, write_atomic};
use crate::layout::{
    CHECKPOINTS_DIR, HISTORY_FILE, MODEL_FILE, MODELS_DIR, OPTIMIZER_FILE, STATE_FILE,
    STATE_SUM_FILE,
};
use crate::metrics::{EpochLogs, PartialSums, read_csv, write_csv};
use crate::text::shorten;

/// Version of the checkpoint layout written by this engine. Version 1 was the `train`
/// application's own layout before the engine (fixed metrics, one set of callbacks); version 2
/// did not hash `state.json` itself. Both are refused with a message naming both versions.
pub const FORMAT_VERSION: u32 = 3;

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
    /// A checkpoint of another layout version.
    #[error(
        "checkpoint {path} has format version {found}, this ember reads version {FORMAT_VERSION}; resume it with the ember that wrote it, or start a new run"
    )]
    Version {
        /// Its `state.json`.
        path: PathBuf,
        /// The version it records.
        found: u32,
    },
    /// The run directory has no valid checkpoint.
    #[error(
        "no checkpoint to resume from in {run_dir}{skipped}; start a new run instead of resuming"
    )]
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
        /// The model's name.
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
    pub epoch_step: usize,
    /// Metric sums of those steps.
    pub partial: PartialSums,
    /// The learning rate of the last step.
    #[serde(with = "exact_f64")]
    pub learning_rate: f64,
    /// Each callback's state, under its name.
    pub callbacks: BTreeMap<String, serde_json::Value>,
    /// What the application stores with the run (the `train` command: its configuration and
    /// the data's fingerprint); `null` when it stores nothing.
    #[serde(default)]
    pub app: serde_json::Value,
    /// Why a callback ended training (early stopping, a target reached), when one did at the
    /// epoch this checkpoint ends: a run resumed from it trains no further, as it would not
    /// have had it not been stopped before its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Every completed epoch's logs (stored in the checkpoint's [`HISTORY_FILE`]).
    #[serde(skip)]
    pub history: Vec<EpochLogs>,
}

impl CheckpointState {
    /// The checkpoint's directory name, `epoch-EEEE-step-SSSSSSSSS`: the epoch the last step
    /// belongs to and the global step, so names sort in training order.
    pub fn dir_name(&self) -> String {
        let epoch = self.epoch + usize::from(self.epoch_step > 0);
        format!("epoch-{epoch:04}-step-{:09}", self.global_step)
    }
}

/// The (epoch, global step) a checkpoint directory's name carries, `None` for a name that is
/// not `epoch-E-step-S`. Checkpoints are ordered by these numbers, not by the names' text: from
/// epoch 10000 on the names are wider than the four digits they are padded to.
pub fn dir_order(name: &str) -> Option<(u64, u64)> {
    let (epoch, step) = name.strip_prefix("epoch-")?.split_once("-step-")?;
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    Some((number(epoch)?, number(step)?))
}

/// What `state.json` holds: the state and the SHA-256 of every other file.
#[derive(Serialize, Deserialize)]
struct StateFile {
    #[serde(flatten)]
    state: CheckpointState,
    /// File name -> SHA-256 (lowercase hex).
    sha256: BTreeMap<String, String>,
}

/// Only the version, read first so that another layout is refused by its number.
#[derive(Deserialize)]
struct VersionOnly {
    format_version: u32,
}

/// A checkpoint found on disk.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Its directory.
    pub dir: PathBuf,
    /// Its training state.
    pub state: CheckpointState,
}

/// Writes a checkpoint into `final_dir` (replacing one already there only once the new one is
/// complete), durably. `extra` writes further files into the directory it is given (the
/// callbacks' files); every file is hashed into `state.json`.
///
/// # Errors
/// [`CheckpointError::Write`] on any I/O or serialization failure; earlier checkpoints are
/// untouched.
pub fn save_as<M: Module>(
    final_dir: &Path,
    state: &CheckpointState,
    model: &M,
    optimizer: &ModuleOptimizer,
    extra: impl FnOnce(&Path) -> std::io::Result<()>,
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
    extra(&tmp).map_err(write_err)?;
    let mut sha256 = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .map_err(write_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for path in files {
        sync_file(&path).map_err(write_err)?;
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        sha256.insert(file.into_owned(), sha256_file(&path).map_err(write_err)?);
    }
    let json = serde_json::to_vec_pretty(&StateFile {
        state: state.clone(),
        sha256,
    })
    .map_err(|e| write_err(e.into()))?;
    write_atomic(&tmp.join(STATE_FILE), &json).map_err(write_err)?;
    write_atomic(&tmp.join(STATE_SUM_FILE), state_sum_line(&json).as_bytes()).map_err(write_err)?;
    if final_dir.exists() {
        // Re-writing the same checkpoint (a run resumed from an earlier one, or `last`): the
        // new copy is complete, so the old one can go.
        std::fs::remove_dir_all(final_dir).map_err(write_err)?;
    }
    std::fs::rename(&tmp, final_dir).map_err(write_err)?;
    sync_dir(root).map_err(write_err)?;
    Ok(final_dir.to_path_buf())
}

/// Reads the checkpoint in `dir`, checking its version, its state and that every file matches
/// the SHA-256 recorded in `state.json`.
///
/// # Errors
/// [`CheckpointError::NotACheckpoint`], [`CheckpointError::Version`] or
/// [`CheckpointError::Damaged`].
pub fn read(dir: &Path) -> Result<Checkpoint, CheckpointError> {
    let state_path = dir.join(STATE_FILE);
    if !state_path.is_file() {
        return Err(CheckpointError::NotACheckpoint {
            path: dir.to_path_buf(),
            reason: format!("no {STATE_FILE}"),
        });
    }
    let damaged = |reason: String| CheckpointError::Damaged {
        path: state_path.clone(),
        reason,
    };
    let bytes = std::fs::read(&state_path).map_err(|e| damaged(e.to_string()))?;
    let version = || -> Result<u32, CheckpointError> {
        let version: VersionOnly =
            serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
        Ok(version.format_version)
    };
    match std::fs::read(dir.join(STATE_SUM_FILE)) {
        Ok(line) if line == state_sum_line(&bytes).as_bytes() => {}
        Ok(_) => {
            return Err(damaged(format!(
                "its SHA-256 differs from the one recorded in {STATE_SUM_FILE}"
            )));
        }
        // Versions before 3 have no such file: refuse them by their number.
        Err(e) if version()? == FORMAT_VERSION => {
            return Err(damaged(format!("cannot read {STATE_SUM_FILE}: {e}")));
        }
        Err(_) => {}
    }
    let found = version()?;
    if found != FORMAT_VERSION {
        return Err(CheckpointError::Version {
            path: state_path,
            found,
        });
    }
    let StateFile { mut state, sha256 } =
        serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
    for required in [MODEL_FILE, OPTIMIZER_FILE, HISTORY_FILE] {
        if !sha256.contains_key(required) {
            return Err(damaged(format!("no SHA-256 recorded for {required}")));
        }
    }
    for (file, recorded) in &sha256 {
        let path = dir.join(file);
        let found = sha256_file(&path).map_err(|e| CheckpointError::Damaged {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if &found != recorded {
            return Err(CheckpointError::Damaged {
                path,
                reason: format!("its SHA-256 differs from the one recorded in {STATE_FILE}"),
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
/// [`CheckpointError::NoneValid`] when there is none; [`CheckpointError::Version`] when the
/// newest readable one has another layout version.
pub fn latest(run_dir: &Path) -> Result<Checkpoint, CheckpointError> {
    let dirs = epoch_dirs(run_dir);
    let mut skipped: Vec<CheckpointError> = Vec::new();
    for dir in dirs.iter().rev() {
        match read(dir) {
            Ok(checkpoint) => {
                for err in &skipped {
                    crate::console::err(&format!("warning: skipped damaged checkpoint: {err}"));
                }
                return Ok(checkpoint);
            }
            Err(e @ CheckpointError::Version { .. }) => return Err(e),
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

/// Resolves a checkpoint directory as is, a run directory to its latest valid checkpoint.
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

/// Removes the temporary directories of checkpoint writes that a killed process left behind
/// (`checkpoints/.epoch-*.tmp-PID`, `models/.NAME.tmp-PID`); complete checkpoints are never
/// touched.
///
/// # Errors
/// The I/O error of removing one.
pub fn remove_partial_writes(run_dir: &Path) -> std::io::Result<()> {
    for sub in [CHECKPOINTS_DIR, MODELS_DIR] {
        let Ok(entries) = std::fs::read_dir(run_dir.join(sub)) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_temporary(&name) {
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

/// Whether `name` is a temporary of [`crate::fsutil`] or [`save_as`]: `.NAME.tmp-PID`.
pub fn is_temporary(name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.rsplit_once(".tmp-"))
        .is_some_and(|(stem, pid)| {
            !stem.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The run's checkpoint directories, oldest first by [`dir_order`].
fn epoch_dirs(run_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(run_dir.join(CHECKPOINTS_DIR)) else {
        return Vec::new();
    };
    let mut dirs: Vec<((u64, u64), PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((dir_order(e.file_name().to_str()?)?, e.path())))
        .filter(|(_, p)| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter().map(|(_, p)| p).collect()
}

/// Removes the run's oldest resume checkpoints so that `keep` remain up to and including
/// `newest` (the one just written); checkpoints ordered after it (left by a run that was
/// resumed from an earlier one) are not touched.
///
/// # Errors
/// The I/O error of removing one.
pub fn prune(run_dir: &Path, keep: usize, newest: &Path) -> std::io::Result<()> {
    let dirs = epoch_dirs(run_dir);
    let Some(at) = dirs.iter().position(|d| d == newest) else {
        return Ok(());
    };
    let older = (at + 1).saturating_sub(keep.max(1));
    for dir in &dirs[..older] {
        std::fs::remove_dir_all(dir)?;
    }
    Ok(())
}

/// The line of [`STATE_SUM_FILE`]: `<sha256>  state.json`, as `sha256sum` writes it.
fn state_sum_line(state_json: &[u8]) -> String {
    format!("{}  {STATE_FILE}\n", sha256_parts(&[state_json]))
}

/// Writes `model`'s weights to `path` (burnpack) through a temporary file, fsync and rename.
///
/// # Errors
/// The I/O error (Burn's store errors wrapped as I/O errors).
pub fn save_weights<M: Module>(model: &M, path: &Path) -> std::io::Result<()> {
    replace_atomically(path, |tmp| {
        model
            .clone()
            .save_file(tmp)
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
}

/// Loads the weights in the `.bpk` file `path` into `model` (a module of the same structure,
/// on the device the weights should live on).
///
/// # Errors
/// [`CheckpointError::WrongModel`] when the tensors' names or shapes do not fit the model
/// (naming its type), [`CheckpointError::Damaged`] when the file cannot be read as burnpack.
pub fn load_weights<M: Module>(model: M, path: &Path) -> Result<M, CheckpointError> {
    let name = std::any::type_name::<M>();
    load_weights_as(model, path, name.rsplit("::").next().unwrap_or(name))
}

/// [`load_weights`], naming the model `name` in the error (`lenet`, ...).
///
/// # Errors
/// As [`load_weights`].
pub fn load_weights_as<M: Module>(model: M, path: &Path, name: &str) -> Result<M, CheckpointError> {
    let record = burn::store::ModuleRecord::load(path).map_err(|e| CheckpointError::Damaged {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    model
        .try_load_record(record)
        .map_err(|e| CheckpointError::WrongModel {
            path: path.to_path_buf(),
            model: name.to_string(),
            reason: shorten(&e.to_string(), 200),
        })
}

/// Loads `checkpoint`'s optimizer state into `optimizer` (a fresh one of the same kind).
///
/// # Errors
/// [`CheckpointError::Damaged`] when the file cannot be read.
pub fn load_optimizer(
    optimizer: ModuleOptimizer,
    checkpoint: &Checkpoint,
) -> Result<ModuleOptimizer, CheckpointError> {
    let path = checkpoint.dir.join(OPTIMIZER_FILE);
    optimizer.load(&path).map_err(|e| CheckpointError::Damaged {
        path,
        reason: e.to_string(),
    })
}
