//! The one error type of `ember-datasets`.
//!
//! Every variant renders as a single line that names the file or directory at fault and says how
//! to fix it, because these messages reach the user of the `train` command verbatim.

use std::path::PathBuf;

/// Why a data file or data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },

    /// The bytes are not an IDX file (bad magic number, unsupported element type, bad gzip).
    #[error("{path} is not an IDX file ({reason}); replace it with the original dataset file")]
    NotIdx {
        /// The file that failed.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },

    /// The header promises more bytes than the file holds.
    #[error(
        "{path} is truncated: the IDX header announces {expected} data bytes but the file holds {found}; replace it with the original dataset file"
    )]
    Truncated {
        /// The file that failed.
        path: PathBuf,
        /// Data bytes the header announced.
        expected: usize,
        /// Data bytes actually present.
        found: usize,
    },

    /// The file's SHA-256 differs from the one recorded in the directory's `SHA256SUMS`.
    #[error(
        "{path} does not match its checksum in SHA256SUMS (expected {expected}, found {found}); the file is corrupt, replace it with the original"
    )]
    Checksum {
        /// The file that failed.
        path: PathBuf,
        /// Hex digest from `SHA256SUMS`.
        expected: String,
        /// Hex digest of the file on disk.
        found: String,
    },

    /// The file is a valid IDX file but not the one expected (wrong rank, image size, count,
    /// or label values out of range).
    #[error("{path} has unexpected contents: {reason}")]
    Contents {
        /// The file that failed.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },

    /// The requested subset of the training split is empty.
    #[error("{reason}; raise --limit-train or lower --val-split")]
    EmptySplit {
        /// Which settings leave it empty.
        reason: String,
    },

    /// The data directory exists but lacks some of the dataset's files.
    #[error("{dir} holds only part of dataset {dataset}: {missing} missing (raw or .gz); {hint}")]
    Incomplete {
        /// The directory.
        dir: PathBuf,
        /// Dataset name.
        dataset: String,
        /// The missing files' names, comma separated.
        missing: String,
        /// How to get the data.
        hint: String,
    },

    /// No directory holding the dataset was found.
    #[error("dataset {dataset} not found (looked in: {searched}); {hint}")]
    NotFound {
        /// Dataset name (`mnist`, `fashion-mnist`).
        dataset: String,
        /// Every place looked at, comma separated.
        searched: String,
        /// How to get the data.
        hint: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, DataError>;
