//! The learner's errors.

use std::path::PathBuf;

use crate::callbacks::CallbackError;
use crate::checkpoint::CheckpointError;
use crate::data::DataError;

/// Why [`crate::Learner::fit`] (or resuming) failed. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A setting the learner cannot run with, e.g. a batch size of 0.
    #[error("{0}")]
    Config(String),
    /// A callback refused (a monitored metric that is not logged, a bad state).
    #[error("{0}")]
    Callback(String),
    /// A built-in callback's setting out of its range (its message names the setting's field).
    #[error(transparent)]
    CallbackSetting(#[from] CallbackError),
    /// Another process holds the run directory, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    /// Reading a checkpoint, or writing one.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Writing a file of the run directory.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A data source failed.
    #[error("reading the {split} data: {source}")]
    Data {
        /// `training` or `validation`.
        split: &'static str,
        /// The source's error.
        source: DataError,
    },
}
