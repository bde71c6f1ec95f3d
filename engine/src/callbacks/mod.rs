//! The decision logic of the learner's callbacks, as plain data and pure functions (no tensors,
//! no files): the learner feeds each epoch's (or step's) metrics in and acts on the decisions
//! that come out (stop, snapshot or restore weights, write or delete a checkpoint file, set a
//! new learning rate).
//!
//! - [`error`]: their typed errors, naming the setting to change.
//! - [`monitor`]: Keras' `MonitorCallback` mechanism (monitor, mode, min_delta), shared by all.
//! - [`early_stopping`]: Keras 3 `EarlyStopping` plus Lightning's `check_finite`,
//!   `stopping_threshold` and `divergence_threshold`.
//! - [`model_checkpoint`]: Keras `ModelCheckpoint` (`save_best_only`, `save_freq`) plus
//!   Lightning's `save_top_k` and `save_last` selection policy.
//! - [`plateau`]: Keras `ReduceLROnPlateau`.
//! - [`template`]: the Python `str.format` subset of checkpoint file-name templates.
//!
//! Every callback keeps its mutable state in one serde struct (`*State`) that a checkpoint
//! stores; a callback rebuilt with `with_state(config, state)` continues exactly as the one that
//! never stopped. Floats in those states serialize as shortest round-trip decimal strings
//! ([`exact_f64`]) so they read back bit for bit (serde_json's default float parser can be one
//! ulp off) and so NaN and ±inf survive JSON.
//!
//! Reference versions: Keras 3 at commit 3422977a (`keras/src/callbacks/`, the same files as
//! the 3.15.1 release), PyTorch Lightning 2.6 at commit 7f0c3436
//! (`src/lightning/pytorch/callbacks/`). `tests/reference/callbacks/` replays the unit tests'
//! tables through both.
//!
//! How a training loop drives them (epochs are 1-based here, as in Keras' messages):
//!
//! ```
//! use ember_engine::callbacks::Logs;
//! use ember_engine::callbacks::early_stopping::{EarlyStopping, EarlyStoppingConfig};
//! use ember_engine::callbacks::model_checkpoint::{ModelCheckpoint, ModelCheckpointConfig};
//! use ember_engine::callbacks::plateau::{ReduceLrOnPlateau, ReduceLrOnPlateauConfig};
//!
//! let mut early = EarlyStopping::new(EarlyStoppingConfig {
//!     patience: 2,
//!     restore_best_weights: true,
//!     ..Default::default()
//! })?;
//! let mut checkpoints = ModelCheckpoint::new(ModelCheckpointConfig {
//!     filename: "epoch{epoch:02d}-{val_loss:.2f}".into(),
//!     monitor: Some("val_loss".into()),
//!     save_top_k: Some(1),
//!     ..Default::default()
//! })?;
//! let mut plateau = ReduceLrOnPlateau::new(ReduceLrOnPlateauConfig {
//!     patience: 1,
//!     ..Default::default()
//! })?;
//! let (mut lr, mut step) = (0.1, 0);
//! for (epoch, val_loss) in [(1, 0.9), (2, 0.5), (3, 0.6), (4, 0.55), (5, 0.7)] {
//!     step += 100; // ... train one epoch at `lr`, validate ...
//!     let logs: Logs = [("val_loss".to_string(), val_loss)].into();
//!     if checkpoints.on_epoch() {
//!         let save = checkpoints.on_save_point(epoch, step, &logs)?;
//!         // ... write `save.save_as`, delete `save.remove` ...
//!         if epoch == 2 {
//!             assert_eq!(save.save_as.as_deref(), Some("epoch02-0.50"));
//!             assert_eq!(save.remove, ["epoch01-0.90"]);
//!         }
//!     }
//!     if let Some(new_lr) = plateau.on_epoch_end(epoch, &logs, lr)? {
//!         lr = new_lr; // 0.1 → 0.01 after epoch 3, 0.001 after epoch 4
//!     }
//!     let decision = early.on_epoch_end(epoch, &logs)?;
//!     // ... if decision.new_best, keep a copy of the weights ...
//!     if decision.stop.is_some() {
//!         break;
//!     }
//! }
//! assert_eq!(early.state.stopped_epoch, Some(4));
//! assert_eq!(early.restore_epoch(), Some(2));
//! assert!((lr - 0.001).abs() < 1e-12);
//! assert_eq!(
//!     early.summary(),
//!     "Early stopping at epoch 4: val_loss did not improve for 2 epochs (patience 2); best 0.5. \
//!      Best val_loss 0.5 at epoch 2; restoring the weights of epoch 2."
//! );
//! # Ok::<(), ember_engine::callbacks::CallbackError>(())
//! ```

pub mod early_stopping;
pub mod error;
pub mod model_checkpoint;
pub mod monitor;
pub mod plateau;
pub mod target;
pub mod template;

use std::collections::BTreeMap;

pub use error::{CallbackError, CallbackKind, Setting};

/// The metrics of one epoch (or one step): metric name → value, e.g. `"loss"`, `"accuracy"`,
/// `"val_loss"`, `"val_accuracy"`, `"learning_rate"` (Keras' `logs` dict).
pub type Logs = BTreeMap<String, f64>;

/// The value of `monitor` in `logs`, or [`CallbackError::MissingMetric`] naming the missing
/// metric, the callback that needs it (`who`, e.g. "early stopping"), the `setting` that chose
/// it, and the metrics that are available.
///
/// Keras warns and skips the epoch; ember refuses instead, as Lightning does with its default
/// `strict=True`, since a callback that silently never acts is a misconfiguration.
///
/// # Errors
/// `monitor` is not in `logs`.
pub fn monitored_value(
    who: &'static str,
    setting: Setting,
    monitor: &str,
    logs: &Logs,
) -> Result<f64, CallbackError> {
    logs.get(monitor)
        .copied()
        .ok_or_else(|| CallbackError::MissingMetric {
            setting,
            who,
            monitor: monitor.to_string(),
            available: logs.keys().cloned().collect(),
        })
}

/// Serde for `f64` fields of callback states: written as the shortest decimal string that reads
/// back to the same bits (`"0.1"`, `"1e-7"`, `"NaN"`, `"inf"`, `"-inf"`), read from such a
/// string or from a plain number.
///
/// Use with `#[serde(with = "exact_f64")]`; [`exact_f64::option`] does the same for
/// `Option<f64>` (`None` is `null`).
pub mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }

    fn from_repr<E: serde::de::Error>(repr: Repr) -> Result<f64, E> {
        match repr {
            Repr::Number(v) => Ok(v),
            Repr::Text(s) => s
                .parse()
                .map_err(|_| E::custom(format!("'{s}' is not a number"))),
        }
    }

    /// Writes `v` as its shortest round-trip decimal string.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:?}"))
    }

    /// Reads a string written by [`serialize`] or a plain number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        from_repr(Repr::deserialize(d)?)
    }

    /// The same for `Option<f64>`.
    pub mod option {
        use super::*;

        /// Writes `Some(v)` as [`super::serialize`] does, `None` as null.
        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => super::serialize(v, s),
                None => s.serialize_none(),
            }
        }

        /// Reads null, a string written by [`serialize`] or a plain number.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<Repr>::deserialize(d)?.map(from_repr).transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Floats {
        #[serde(with = "exact_f64")]
        x: f64,
        #[serde(with = "exact_f64::option", default)]
        y: Option<f64>,
    }

    /// Values serde_json's default parser misreads, and the non-finite ones JSON cannot hold,
    /// come back bit for bit.
    #[test]
    fn exact_f64_round_trips_every_bit() {
        for x in [
            0.1,
            2.0f64.sqrt(),
            1e-7,
            f64::MIN_POSITIVE,
            5e-324,
            1.7976931348623157e308,
            0.30000000000000004,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
        ] {
            let json = serde_json::to_string(&Floats { x, y: Some(x) }).unwrap();
            let back: Floats = serde_json::from_str(&json).unwrap();
            assert_eq!(back.x.to_bits(), x.to_bits(), "{json}");
            assert_eq!(back.y.unwrap().to_bits(), x.to_bits(), "{json}");
        }
        let json = serde_json::to_string(&Floats {
            x: f64::NAN,
            y: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"x":"NaN","y":null}"#);
        let back: Floats = serde_json::from_str(&json).unwrap();
        assert!(back.x.is_nan() && back.y.is_none());
        // Hand-written numbers and a missing optional field are read too.
        let back: Floats = serde_json::from_str(r#"{"x":0.25}"#).unwrap();
        assert_eq!((back.x, back.y), (0.25, None));
        let err = serde_json::from_str::<Floats>(r#"{"x":"abc"}"#).unwrap_err();
        assert!(err.to_string().contains("'abc' is not a number"), "{err}");
    }

    #[test]
    fn missing_metric_error_lists_the_available_ones() {
        let logs: Logs = [("loss".to_string(), 0.5), ("accuracy".to_string(), 0.9)].into();
        let monitor = Setting::early_stopping("monitor");
        assert_eq!(
            monitored_value("early stopping", monitor, "loss", &logs),
            Ok(0.5)
        );
        assert_eq!(
            monitored_value("early stopping", monitor, "val_loss", &logs)
                .unwrap_err()
                .to_string(),
            "early stopping monitors 'val_loss', which is not among the metrics (accuracy, loss); pass EarlyStoppingConfig.monitor with one of them"
        );
        assert!(
            monitored_value(
                "ReduceLROnPlateau",
                Setting::plateau("monitor"),
                "val_loss",
                &Logs::new()
            )
            .unwrap_err()
            .to_string()
            .contains("(none logged)")
        );
    }
}

/// `v` for messages, as Python's `format(v, 'g')`: six significant digits, trailing zeros
/// dropped (`0.22016952514648438` -> `0.22017`, `1.5e-7` -> `1.5e-07`); the same formatter as
/// checkpoint file-name templates.
pub(crate) fn short(v: f64) -> String {
    template::format_general(v)
}

#[cfg(test)]
mod short_tests {
    #[test]
    fn six_significant_digits_as_python() {
        assert_eq!(super::short(0.22016952514648438), "0.22017");
        assert_eq!(super::short(0.25), "0.25");
        assert_eq!(super::short(1.5e-7), "1.5e-07");
        assert_eq!(super::short(123456.7), "123457");
        assert_eq!(super::short(1234567.0), "1.23457e+06");
        assert_eq!(super::short(42.0), "42");
        assert_eq!(super::short(-0.001234567), "-0.00123457");
    }
}
