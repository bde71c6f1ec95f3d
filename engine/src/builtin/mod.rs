//! The callbacks ember provides, each a [`Callback`](crate::Callback) on the decisions of
//! [`crate::callbacks`] and [`crate::schedule`]:
//!
//! | callback | what it does | Keras / Lightning |
//! |---|---|---|
//! | [`EarlyStopper`] | stops when a metric stops improving; keeps and restores the best weights | `EarlyStopping` |
//! | [`CheckpointSelector`] | keeps the top-k (or last, or best) checkpoints under `<run>/models/` | `ModelCheckpoint` |
//! | [`PlateauScheduler`] | divides the learning rate when a metric plateaus | `ReduceLROnPlateau` |
//! | [`Scheduler`] | sets the learning rate of every step from a schedule | `LearningRateScheduler` |
//! | [`CsvLogger`], [`JsonlLogger`] | the epoch history as `metrics.csv` / `metrics.jsonl` | `CSVLogger` |
//! | [`TensorBoard`] | event files under `<run>/tensorboard/` | `TensorBoard` |
//! | [`Timing`] | adds `epoch_seconds` and `<examples>_per_second` to the logs | |
//! | [`TargetStopper`] | stops at the step where a training metric's recent mean reaches a target | |
//! | [`ConsoleLogger`] | one line an epoch, and the callbacks' messages, on stderr | `ProgbarLogger` (verbose=2) |

mod decisions;
mod loggers;
mod target;

pub use decisions::{CheckpointSelector, EarlyStopper, PlateauScheduler, Scheduler};
pub use loggers::{ConsoleLogger, CsvLogger, JsonlLogger, TensorBoard, Timing};
pub use target::TargetStopper;

/// A callback's state as JSON, and back, with the message naming the callback.
fn to_state<T: serde::Serialize>(state: &T) -> Option<serde_json::Value> {
    serde_json::to_value(state).ok()
}

fn from_state<T: serde::de::DeserializeOwned>(
    who: &str,
    state: serde_json::Value,
) -> Result<T, String> {
    serde_json::from_value(state)
        .map_err(|e| format!("{who}: the checkpoint's state does not parse ({e})"))
}
