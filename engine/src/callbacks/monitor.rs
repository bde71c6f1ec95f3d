//! Keras' `MonitorCallback` mechanism (`keras/src/callbacks/monitor_callback.py`, Keras 3):
//! which metric a callback watches, in which direction it improves, and by how much it must
//! change to count as an improvement. Shared by early stopping, model checkpoints and
//! ReduceLROnPlateau.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Logs;
use super::error::{CallbackError, CallbackKind, Setting};

/// The direction in which the monitored metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Lower is better (losses).
    Min,
    /// Higher is better (accuracies).
    Max,
    /// Inferred from the metric's name by [`Monitor::new`] (the default, as in Keras).
    #[default]
    Auto,
}

impl FromStr for Mode {
    type Err = String;

    /// `"min"`, `"max"` or `"auto"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "min" => Ok(Mode::Min),
            "max" => Ok(Mode::Max),
            "auto" => Ok(Mode::Auto),
            other => Err(format!(
                "unknown mode '{other}' (expected one of: min, max, auto)"
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Min => "min",
            Mode::Max => "max",
            Mode::Auto => "auto",
        })
    }
}

/// A monitored metric with its resolved direction and minimum improvement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// Name of the metric in the logs, e.g. `"val_loss"`.
    pub monitor: String,
    /// The resolved direction: [`Mode::Min`] or [`Mode::Max`], never [`Mode::Auto`].
    pub mode: Mode,
    /// Minimum change that counts as an improvement, stored as `|min_delta|` (Keras takes the
    /// absolute value; the sign comes from the mode).
    pub min_delta: f64,
}

impl Monitor {
    /// Resolves `mode` for `monitor`.
    ///
    /// [`Mode::Auto`] looks at the name without its `"val_"` prefix: one containing `"loss"`
    /// is minimized, one containing `"acc"` (`"accuracy"`) is maximized. Keras 3 asks the
    /// compiled metric objects for their direction instead; ember's metrics are the loss and the
    /// accuracy, so the name decides.
    ///
    /// `callback` names the settings in its errors (its `monitor`, `mode` and `min_delta`
    /// fields).
    ///
    /// # Errors
    /// An empty monitor name, a non-finite `min_delta`, or a name auto mode cannot place.
    pub fn new(
        callback: CallbackKind,
        monitor: &str,
        mode: Mode,
        min_delta: f64,
    ) -> Result<Self, CallbackError> {
        let setting = |field| Setting { callback, field };
        if monitor.is_empty() {
            return Err(CallbackError::EmptyMonitor {
                setting: setting("monitor"),
            });
        }
        if !min_delta.is_finite() {
            return Err(CallbackError::Invalid {
                setting: setting("min_delta"),
                requirement: "a finite number",
                value: min_delta.to_string(),
            });
        }
        let mode = match mode {
            Mode::Auto => {
                let name = monitor.strip_prefix("val_").unwrap_or(monitor);
                if name.contains("loss") {
                    Mode::Min
                } else if name.contains("acc") {
                    Mode::Max
                } else {
                    return Err(CallbackError::UnknownDirection {
                        setting: setting("mode"),
                        monitor: monitor.to_string(),
                    });
                }
            }
            resolved => resolved,
        };
        Ok(Self {
            monitor: monitor.to_string(),
            mode,
            min_delta: min_delta.abs(),
        })
    }

    /// Keras' `_is_improvement`: true when there is no reference yet; otherwise the change
    /// towards the mode's direction (`reference - current` in min mode, `current - reference` in
    /// max mode) must exceed `|min_delta|`. Keras writes this `current - min_delta < reference`
    /// (min, with `min_delta` negated) and `current - min_delta > reference` (max).
    ///
    /// Strict, as Keras intends: an equal value is no improvement, a change of exactly
    /// `min_delta` is none either, and NaN never improves on a number. "Exactly" means within
    /// [`ROUNDING`] of the values' magnitude, so that the decimal a user writes decides, not the
    /// binary rounding of the subtraction: with `min_delta` 0.1, 0.8 -> 0.7 and 1.0 -> 0.9 are both
    /// no improvement (Keras' f64 arithmetic counts the first, 0.7 + 0.1 = 0.7999999999999999 <
    /// 0.8, and not the second). With `min_delta` 0 the comparison is exact, as Keras'.
    pub fn is_improvement(&self, current: f64, reference: Option<f64>) -> bool {
        let Some(reference) = reference else {
            return true;
        };
        let change = match self.mode {
            Mode::Max => current - reference,
            _ => reference - current,
        };
        exceeds(change, self.min_delta, current.abs().max(reference.abs()))
    }

    /// Keras' `monitor_op` without `min_delta`: whether `a` is strictly better than `b`
    /// (`a < b` in min mode, `a > b` in max mode). Lightning compares thresholds and top-k
    /// scores this way.
    pub fn better(&self, a: f64, b: f64) -> bool {
        match self.mode {
            Mode::Max => a > b,
            _ => a < b,
        }
    }

    /// The monitored value in `logs`, if logged.
    pub fn value(&self, logs: &Logs) -> Option<f64> {
        logs.get(&self.monitor).copied()
    }
}

/// The relative rounding allowance of [`Monitor::is_improvement`] and of ReduceLROnPlateau's
/// `min_lr`: 8 f64 ulps of the largest magnitude compared. A decimal such as 0.7 is stored within
/// half an ulp, and one subtraction or multiplication adds at most another, so two values a user
/// would call equal differ by less; a real difference of a metric or a learning rate is many
/// orders of magnitude larger.
pub const ROUNDING: f64 = 8.0 * f64::EPSILON;

/// Whether `change` exceeds `threshold` by more than rounding at `scale` (see [`ROUNDING`]);
/// `change > threshold` exactly when `threshold` is 0 or a value is infinite. False for NaN.
fn exceeds(change: f64, threshold: f64, scale: f64) -> bool {
    let allowance = ROUNDING * scale.max(threshold.abs());
    if threshold == 0.0 || !allowance.is_finite() {
        change > threshold
    } else {
        change - threshold > allowance
    }
}

/// Whether `value` has come down to `floor`: at or below it, or above by no more than rounding
/// (see [`ROUNDING`]). ReduceLROnPlateau's test of the learning rate against `min_lr`, so that
/// 0.1 · 0.1 · 0.1 = 0.0010000000000000002 counts as `min_lr` 1e-3 reached.
pub fn reached(value: f64, floor: f64) -> bool {
    value <= floor || (value - floor) <= ROUNDING * floor.abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ES: CallbackKind = CallbackKind::EarlyStopping;

    #[test]
    fn auto_mode_reads_the_name() {
        for (name, mode) in [
            ("loss", Mode::Min),
            ("val_loss", Mode::Min),
            ("train_loss", Mode::Min),
            ("accuracy", Mode::Max),
            ("val_accuracy", Mode::Max),
            ("val_acc", Mode::Max),
        ] {
            assert_eq!(
                Monitor::new(ES, name, Mode::Auto, 0.0).unwrap().mode,
                mode,
                "{name}"
            );
        }
        assert_eq!(
            Monitor::new(ES, "learning_rate", Mode::Auto, 0.0)
                .unwrap_err()
                .to_string(),
            "EarlyStoppingConfig.mode auto cannot tell whether 'learning_rate' should go up or down; pass EarlyStoppingConfig.mode min or EarlyStoppingConfig.mode max"
        );
        // An explicit mode wins over the name.
        assert_eq!(
            Monitor::new(ES, "val_loss", Mode::Max, 0.0).unwrap().mode,
            Mode::Max
        );
        assert_eq!(
            Monitor::new(ES, "learning_rate", Mode::Min, 0.0)
                .unwrap()
                .mode,
            Mode::Min
        );
        assert!(Monitor::new(ES, "", Mode::Min, 0.0).is_err());
        assert!(Monitor::new(ES, "loss", Mode::Min, f64::NAN).is_err());
    }

    #[test]
    fn mode_parses_and_prints() {
        for mode in [Mode::Min, Mode::Max, Mode::Auto] {
            assert_eq!(mode.to_string().parse::<Mode>(), Ok(mode));
        }
        assert_eq!(
            "down".parse::<Mode>().unwrap_err(),
            "unknown mode 'down' (expected one of: min, max, auto)"
        );
        assert_eq!(Mode::default(), Mode::Auto);
    }

    /// A change of exactly `min_delta`, as the decimals read, is no improvement whatever the
    /// binary rounding of the subtraction; a change by more than `min_delta` by a little more
    /// than rounding is one. The first row of each pair is what Keras' plain f64 comparison gets
    /// "wrong" (0.7 + 0.1 < 0.8 in f64; 0.3 - 0.1 > 0.19999999999999998 ...).
    #[test]
    fn a_change_of_exactly_min_delta_is_no_improvement() {
        // (mode, min_delta, current, reference)
        let exact = [
            (Mode::Min, 0.1, 0.7, 0.8),
            (Mode::Min, 0.1, 0.9, 1.0),
            (Mode::Min, 0.1, 0.2, 0.3),
            (Mode::Min, 0.01, 0.06, 0.07),
            (Mode::Min, 0.3, 0.3, 0.6),
            (Mode::Min, 1e-4, 0.1233, 0.1234),
            (Mode::Max, 0.1, 0.8, 0.7),
            (Mode::Max, 0.1, 1.0, 0.9),
            (Mode::Max, 0.1, 0.3, 0.2),
            (Mode::Max, 0.01, 0.97, 0.96),
            (Mode::Max, 1e-4, 0.9901, 0.99),
            (Mode::Min, 100.0, 1100.0, 1200.0),
        ];
        for (mode, min_delta, current, reference) in exact {
            let monitor = Monitor::new(ES, "m", mode, min_delta).unwrap();
            assert!(
                !monitor.is_improvement(current, Some(reference)),
                "{mode} min_delta={min_delta}: {reference} -> {current} is exactly min_delta"
            );
            // A hundred-millionth more than min_delta is a real improvement.
            let beyond = min_delta * 1e-8;
            let better = if mode == Mode::Min {
                current - beyond
            } else {
                current + beyond
            };
            assert!(
                monitor.is_improvement(better, Some(reference)),
                "{mode} min_delta={min_delta}: {reference} -> {better}"
            );
        }
        // Every decimal pair 0.00..=1.00 a tenth apart, both ways round.
        let tenth = Monitor::new(ES, "m", Mode::Min, 0.1).unwrap();
        for i in 0..=90 {
            let current = f64::from(i) / 100.0;
            let reference = f64::from(i + 10) / 100.0;
            assert!(
                !tenth.is_improvement(current, Some(reference)),
                "{reference} -> {current}"
            );
        }
    }

    #[test]
    fn reached_allows_rounding_only() {
        // 0.1 · 0.1 · 0.1 in f64 is 0.0010000000000000002.
        assert!(reached(0.1 * 0.1 * 0.1, 1e-3));
        assert!(reached(1e-3, 1e-3));
        assert!(reached(5e-4, 1e-3));
        assert!(!reached(1.0000001e-3, 1e-3));
        assert!(reached(0.0, 0.0));
        assert!(!reached(1e-300, 0.0));
    }

    /// Keras' `_is_improvement`, case by case: the sign of min_delta does not matter, the
    /// comparison is strict, and no reference is always an improvement.
    #[test]
    fn improvement_follows_keras() {
        // (mode, min_delta, current, reference, improvement)
        let cases = [
            (Mode::Min, 0.0, 0.5, None, true),
            (Mode::Min, 0.0, f64::NAN, None, true),
            (Mode::Min, 0.0, 0.5, Some(0.6), true),
            (Mode::Min, 0.0, 0.6, Some(0.6), false),
            (Mode::Min, 0.1, 0.55, Some(0.6), false),
            (Mode::Min, -0.1, 0.55, Some(0.6), false),
            (Mode::Min, 0.1, 0.45, Some(0.6), true),
            (Mode::Min, -0.1, 0.45, Some(0.6), true),
            (Mode::Min, 0.0, f64::NAN, Some(0.6), false),
            (Mode::Min, 0.0, 0.5, Some(f64::NAN), false),
            (Mode::Max, 0.0, 0.9, Some(0.8), true),
            (Mode::Max, 0.0, 0.8, Some(0.8), false),
            (Mode::Max, 0.05, 0.84, Some(0.8), false),
            (Mode::Max, -0.05, 0.86, Some(0.8), true),
            (Mode::Min, 0.0, f64::NEG_INFINITY, Some(0.6), true),
            (Mode::Min, 0.1, 0.5, Some(f64::INFINITY), true),
            (Mode::Max, 0.1, f64::INFINITY, Some(f64::INFINITY), false),
        ];
        for (mode, min_delta, current, reference, expected) in cases {
            let monitor = Monitor::new(ES, "m", mode, min_delta).unwrap();
            assert_eq!(monitor.min_delta, min_delta.abs());
            assert_eq!(
                monitor.is_improvement(current, reference),
                expected,
                "{mode} min_delta={min_delta} current={current} reference={reference:?}"
            );
        }
    }
}
