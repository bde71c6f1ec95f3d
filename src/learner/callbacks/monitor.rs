//! Keras' `MonitorCallback` mechanism (`keras/src/callbacks/monitor_callback.py`, Keras 3):
//! which metric a callback watches, in which direction it improves, and by how much it must
//! change to count as an improvement. Shared by early stopping, model checkpoints and
//! ReduceLROnPlateau.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Logs;

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

/// The command-line flags that set a monitoring callback's metric, mode and `min_delta`, so
/// that its errors name the flag to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonitorFlags {
    /// The flag naming the metric, e.g. `--monitor`.
    pub monitor: &'static str,
    /// The flag of the direction, e.g. `--mode`.
    pub mode: &'static str,
    /// The flag of the smallest improvement, e.g. `--min-delta`.
    pub min_delta: &'static str,
}

impl MonitorFlags {
    /// Early stopping's flags.
    pub const EARLY_STOPPING: Self = Self {
        monitor: "--monitor",
        mode: "--mode",
        min_delta: "--min-delta",
    };
    /// Checkpoint selection's flags (it has no `min_delta`; --monitor also sets its metric).
    pub const CHECKPOINT: Self = Self {
        monitor: "--checkpoint-monitor",
        mode: "--checkpoint-mode",
        min_delta: "--min-delta",
    };
    /// ReduceLROnPlateau's flags.
    pub const PLATEAU: Self = Self {
        monitor: "--plateau-monitor",
        mode: "--plateau-mode",
        min_delta: "--plateau-min-delta",
    };
}

impl Monitor {
    /// Resolves `mode` for `monitor`.
    ///
    /// [`Mode::Auto`] looks at the name without its `"val_"` prefix: one containing `"loss"`
    /// is minimized, one containing `"acc"` (`"accuracy"`) is maximized. Keras 3 asks the
    /// compiled metric objects for their direction instead; ember's metrics are the loss and the
    /// accuracy, so the name decides.
    ///
    /// # Errors
    /// An empty monitor name, a non-finite `min_delta`, or a name auto mode cannot place.
    pub fn new(monitor: &str, mode: Mode, min_delta: f64) -> Result<Self, String> {
        Self::with_flags(monitor, mode, min_delta, &MonitorFlags::EARLY_STOPPING)
    }

    /// [`Monitor::new`] for a callback configured by `flags`, which its errors name.
    ///
    /// # Errors
    /// As [`Monitor::new`].
    pub fn with_flags(
        monitor: &str,
        mode: Mode,
        min_delta: f64,
        flags: &MonitorFlags,
    ) -> Result<Self, String> {
        if monitor.is_empty() {
            return Err(format!(
                "{} must name a metric, e.g. val_loss",
                flags.monitor
            ));
        }
        if !min_delta.is_finite() {
            return Err(format!(
                "{} must be a finite number, got {min_delta}",
                flags.min_delta
            ));
        }
        let mode = match mode {
            Mode::Auto => {
                let name = monitor.strip_prefix("val_").unwrap_or(monitor);
                if name.contains("loss") {
                    Mode::Min
                } else if name.contains("acc") {
                    Mode::Max
                } else {
                    return Err(format!(
                        "{m} auto cannot tell whether '{monitor}' should go up or down; pass {m} min or {m} max",
                        m = flags.mode
                    ));
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

    /// Keras' `_is_improvement`: true when there is no reference yet; otherwise
    /// `current - min_delta < reference` in min mode (with Keras' negated `min_delta`, i.e.
    /// `current + |min_delta| < reference`) and `current - |min_delta| > reference` in max mode.
    /// Strict comparisons: an equal value is no improvement, and NaN never improves on a number.
    pub fn is_improvement(&self, current: f64, reference: Option<f64>) -> bool {
        let Some(reference) = reference else {
            return true;
        };
        match self.mode {
            Mode::Max => current - self.min_delta > reference,
            // Keras flips the sign of min_delta for `ops.less`: current - (-|d|).
            _ => current - -self.min_delta < reference,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
                Monitor::new(name, Mode::Auto, 0.0).unwrap().mode,
                mode,
                "{name}"
            );
        }
        assert_eq!(
            Monitor::new("learning_rate", Mode::Auto, 0.0).unwrap_err(),
            "--mode auto cannot tell whether 'learning_rate' should go up or down; pass --mode min or --mode max"
        );
        // An explicit mode wins over the name.
        assert_eq!(
            Monitor::new("val_loss", Mode::Max, 0.0).unwrap().mode,
            Mode::Max
        );
        assert_eq!(
            Monitor::new("learning_rate", Mode::Min, 0.0).unwrap().mode,
            Mode::Min
        );
        assert!(Monitor::new("", Mode::Min, 0.0).is_err());
        assert!(Monitor::new("loss", Mode::Min, f64::NAN).is_err());
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
        ];
        for (mode, min_delta, current, reference, expected) in cases {
            let monitor = Monitor::new("m", mode, min_delta).unwrap();
            assert_eq!(monitor.min_delta, min_delta.abs());
            assert_eq!(
                monitor.is_improvement(current, reference),
                expected,
                "{mode} min_delta={min_delta} current={current} reference={reference:?}"
            );
        }
    }
}
