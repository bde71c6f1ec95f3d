//! Every file name the engine writes in a run directory, in one place.
//!
//! ```text
//! <run>/metrics.csv            the epoch history (CsvLogger)
//! <run>/metrics.jsonl          the same as JSON lines (JsonlLogger)
//! <run>/tensorboard/{train,validation}/events.out.tfevents.*   (TensorBoard)
//! <run>/checkpoints/epoch-EEEE-step-SSSSSSSSS/   resume checkpoints (crate::checkpoint):
//!     model.bpk, optimizer.bpk, metrics.csv, state.json, state.json.sha256,
//!     best_model.bpk (EarlyStopping), ema.bpk (the weights' moving average)
//! <run>/models/NAME.bpk or NAME/   checkpoints selected by ModelCheckpoint
//! <run>/.lock                  the run's lock (crate::lock), holding the writer's process id
//! ```

/// The epoch history as CSV, in the run directory and in each checkpoint.
pub const METRICS_FILE: &str = "metrics.csv";
/// The epoch history as JSON lines.
pub const METRICS_JSONL_FILE: &str = "metrics.jsonl";
/// Sub-directory of a run holding the TensorBoard event files.
pub const TENSORBOARD_DIR: &str = "tensorboard";
/// Sub-directory of a run holding the resume checkpoints.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// Sub-directory of a run holding the checkpoints that ModelCheckpoint selects.
pub const MODELS_DIR: &str = "models";
/// The run directory's lock file ([`crate::lock::RunLock`]).
pub const LOCK_FILE: &str = ".lock";
/// Model weights in a checkpoint (burnpack).
pub const MODEL_FILE: &str = "model.bpk";
/// Optimizer state in a checkpoint (burnpack).
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// Training state and file hashes in a checkpoint.
pub const STATE_FILE: &str = "state.json";
/// The SHA-256 of [`STATE_FILE`] in a checkpoint, as a `sha256sum` line.
pub const STATE_SUM_FILE: &str = "state.json.sha256";
/// The metric history in a checkpoint: CSV rather than JSON because its shortest round-trip
/// decimals read back exactly with Rust's parser, while serde_json's default float parser can
/// be one ulp off.
pub const HISTORY_FILE: &str = METRICS_FILE;
/// The exponential moving average of the weights in a checkpoint, when the run keeps one
/// ([`crate::ema`]).
pub const EMA_FILE: &str = "ema.bpk";
/// Early stopping's best weights in a checkpoint, when `restore_best_weights` keeps some.
pub const BEST_MODEL_FILE: &str = "best_model.bpk";
