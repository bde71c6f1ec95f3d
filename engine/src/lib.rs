#![warn(missing_docs)]
//! ember's training engine on Burn 0.22: what a training loop needs besides the model, the data
//! and the optimizer.
//!
//! - [`callbacks`]: the decisions of Keras 3's `EarlyStopping`, `ModelCheckpoint` and
//!   `ReduceLROnPlateau` with Lightning's additions (top-k, `save_last`, thresholds), as plain
//!   data and pure functions over a [`callbacks::Logs`] map of metric names to values.
//! - [`schedule`]: learning-rate schedules (torch's StepLR and ExponentialLR, Keras' inverse
//!   time decay, d2l's cosine with warm-up).
//! - [`tensorboard`]: TensorBoard event files, written and read back, laid out like Keras'.
//! - [`init`]: seeded weight initialization that holds under threads.
//! - [`summary`]: a model summary like Keras' `model.summary()` (layers, shapes, parameters).
//! - [`threads`]: the training thread as a worker of the CPU kernels' thread pool.
//! - [`fsutil`]: atomic writes (temporary file, fsync, rename); [`text`]: one-line messages.
//!
//! The crate has no command-line parsing and no plotting; the `train` application (the `ember`
//! crate) builds on it.

pub mod builtin;
pub mod callback;
pub mod callbacks;
pub mod checkpoint;
pub mod checksum;
pub mod clip;
pub mod console;
pub mod data;
pub mod distill;
pub mod ema;
pub mod error;
pub mod fsutil;
pub mod init;
pub mod layout;
pub mod learner;
pub mod lock;
pub mod metrics;
pub mod noise;
pub mod penalty;
pub mod rng;
pub mod schedule;
pub mod step;
pub mod summary;
pub mod tensorboard;
pub mod text;
pub mod threads;

pub use builtin::{
    CheckpointSelector, ConsoleLogger, CsvLogger, EarlyStopper, JsonlLogger, PlateauScheduler,
    Scheduler, TargetStopper, TensorBoard, Timing,
};
pub use callback::{Callback, Context};
pub use data::{DataError, DatasetSource, EpochSource, TensorSource, Xy};
pub use error::EngineError;
pub use learner::{FitOutcome, FitResult, Learner, LearnerConfig, epoch_seed, evaluate, optimize};
pub use metrics::{EpochLogs, MetricSum};
pub use step::{Classification, Regression, StepOutput, TrainStep};
