//! Early stopping: Keras 3 `EarlyStopping` (`keras/src/callbacks/early_stopping.py`) with
//! Lightning 2.6's extra stopping criteria (`check_finite`, `stopping_threshold`,
//! `divergence_threshold`, from `lightning/pytorch/callbacks/early_stopping.py`).
//!
//! Per monitored epoch, in this order:
//! 1. `check_finite` (Lightning, checked first): a NaN or infinite value stops training at
//!    once, warm-up included (a non-finite loss does not recover), and is never recorded as
//!    the best value.
//! 2. Epochs before `start_from_epoch` are skipped (Keras' warm-up).
//! 3. Keras' bookkeeping: `wait` grows by one; an improvement on `best` (by more than
//!    `min_delta`) records the new best value and epoch, and resets `wait` only if it also
//!    improves on `baseline`. `baseline` never seeds `best`, so the first monitored epoch is
//!    always the best so far.
//! 4. Lightning's thresholds, in Lightning's order: the value is strictly better than
//!    `stopping_threshold` (the goal is reached), or strictly worse than
//!    `divergence_threshold` (training diverged).
//! 5. Keras' patience: no improvement this epoch, `wait >= patience`, and not the first epoch.
//!
//! Lightning evaluates its thresholds before (and instead of) its improvement test; ember runs
//! Keras' bookkeeping first so that an epoch that reaches `stopping_threshold` is also recorded
//! as the best one (with `restore_best_weights`, the weights that reached the goal are kept).
//! The stop reason still follows Lightning's precedence: non-finite, stopping threshold,
//! divergence threshold, patience.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{CallbackError, CallbackKind, Setting};
use super::monitor::{Mode, Monitor};
use super::{Logs, exact_f64, monitored_value, short};

/// Settings of [`EarlyStopping`]; defaults are Keras 3's (plus Lightning's `check_finite`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EarlyStoppingConfig {
    /// Metric to watch (default `"val_loss"`).
    pub monitor: String,
    /// Minimum change that counts as an improvement; its sign is ignored (default 0).
    pub min_delta: f64,
    /// Epochs without improvement after which training stops (default 0: stop at the first
    /// epoch, after the first, that does not improve).
    pub patience: usize,
    /// Direction of improvement (default auto: from the metric's name).
    pub mode: Mode,
    /// A value to beat: `wait` only resets on epochs that improve on it too (default none).
    pub baseline: Option<f64>,
    /// Restore the weights of the best epoch at the end of training, whether or not it stopped
    /// early (the learner does it, from [`EarlyStoppingState::best_epoch`]; default false).
    pub restore_best_weights: bool,
    /// Number of epochs (counted from the first) not monitored, a warm-up (default 0).
    pub start_from_epoch: usize,
    /// Stop as soon as the monitored value is NaN or infinite (Lightning; default true).
    pub check_finite: bool,
    /// Stop as soon as the monitored value is strictly better than this (Lightning; default
    /// none).
    pub stopping_threshold: Option<f64>,
    /// Stop as soon as the monitored value is strictly worse than this (Lightning; default
    /// none).
    pub divergence_threshold: Option<f64>,
}

impl Default for EarlyStoppingConfig {
    fn default() -> Self {
        Self {
            monitor: "val_loss".into(),
            min_delta: 0.0,
            patience: 0,
            mode: Mode::Auto,
            baseline: None,
            restore_best_weights: false,
            start_from_epoch: 0,
            check_finite: true,
            stopping_threshold: None,
            divergence_threshold: None,
        }
    }
}

/// Why training stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// Keras: `patience` epochs without improvement.
    Patience {
        /// The metric.
        monitor: String,
        /// Epochs since the last improvement (that also beat the baseline).
        wait: usize,
        /// The configured patience.
        patience: usize,
        /// Best value seen.
        #[serde(with = "exact_f64::option")]
        best: Option<f64>,
        /// The configured baseline.
        #[serde(with = "exact_f64::option")]
        baseline: Option<f64>,
    },
    /// Lightning `check_finite`: the value was NaN or infinite.
    NotFinite {
        /// The metric.
        monitor: String,
        /// The value.
        #[serde(with = "exact_f64")]
        value: f64,
        /// Best value seen before.
        #[serde(with = "exact_f64::option")]
        best: Option<f64>,
    },
    /// Lightning `stopping_threshold`: the value got strictly better than the threshold.
    StoppingThreshold {
        /// The metric.
        monitor: String,
        /// The value.
        #[serde(with = "exact_f64")]
        value: f64,
        /// The threshold.
        #[serde(with = "exact_f64")]
        threshold: f64,
        /// The resolved direction.
        mode: Mode,
    },
    /// Lightning `divergence_threshold`: the value got strictly worse than the threshold.
    DivergenceThreshold {
        /// The metric.
        monitor: String,
        /// The value.
        #[serde(with = "exact_f64")]
        value: f64,
        /// The threshold.
        #[serde(with = "exact_f64")]
        threshold: f64,
        /// The resolved direction.
        mode: Mode,
    },
}

/// `"below"` for the side of a threshold that is better in `mode`, `"above"` otherwise.
fn side(mode: Mode, better: bool) -> &'static str {
    match (mode == Mode::Max, better) {
        (false, true) | (true, false) => "below",
        _ => "above",
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Patience {
                monitor,
                wait,
                patience,
                best,
                baseline,
            } => {
                let epochs = if *wait == 1 { "epoch" } else { "epochs" };
                write!(
                    f,
                    "{monitor} did not improve for {wait} {epochs} (patience {patience})"
                )?;
                if let Some(best) = best {
                    write!(f, "; best {}", short(*best))?;
                }
                if let Some(baseline) = baseline {
                    write!(f, "; baseline {baseline}")?;
                }
                f.write_str(".")
            }
            StopReason::NotFinite {
                monitor,
                value,
                best,
            } => {
                write!(f, "{monitor} is {value}, which is not finite")?;
                if let Some(best) = best {
                    write!(f, "; best before was {best}")?;
                }
                f.write_str(".")
            }
            StopReason::StoppingThreshold {
                monitor,
                value,
                threshold,
                mode,
            } => write!(
                f,
                "{monitor} = {value} is {} the stopping threshold {threshold}.",
                side(*mode, true)
            ),
            StopReason::DivergenceThreshold {
                monitor,
                value,
                threshold,
                mode,
            } => write!(
                f,
                "{monitor} = {value} is {} the divergence threshold {threshold}; training diverged.",
                side(*mode, false)
            ),
        }
    }
}

/// The mutable state of [`EarlyStopping`], stored in checkpoints. Epochs are 1-based.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EarlyStoppingState {
    /// Monitored epochs since the last improvement that also beat the baseline.
    pub wait: usize,
    /// Best monitored value so far.
    #[serde(with = "exact_f64::option")]
    pub best: Option<f64>,
    /// The epoch of `best` (1-based): the weights `restore_best_weights` restores.
    pub best_epoch: Option<usize>,
    /// The epoch at which training was told to stop (1-based).
    pub stopped_epoch: Option<usize>,
    /// Why it was told to stop.
    pub stop_reason: Option<StopReason>,
}

/// What the learner does after an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStoppingDecision {
    /// This epoch is the best so far: with `restore_best_weights`, snapshot the weights now.
    pub new_best: bool,
    /// Stop training after this epoch, and why.
    pub stop: Option<StopReason>,
}

/// Keras 3 `EarlyStopping` with Lightning's stopping criteria; see the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopping {
    /// The settings.
    pub config: EarlyStoppingConfig,
    /// The state a checkpoint stores.
    pub state: EarlyStoppingState,
    monitor: Monitor,
}

impl EarlyStopping {
    /// A fresh callback (Keras' `on_train_begin` state).
    ///
    /// # Errors
    /// A monitor auto mode cannot place, or a non-finite `min_delta`, `baseline` or threshold.
    pub fn new(config: EarlyStoppingConfig) -> Result<Self, CallbackError> {
        Self::with_state(config, EarlyStoppingState::default())
    }

    /// A callback continuing from `state` (read from a checkpoint).
    ///
    /// # Errors
    /// As [`EarlyStopping::new`].
    pub fn with_state(
        config: EarlyStoppingConfig,
        state: EarlyStoppingState,
    ) -> Result<Self, CallbackError> {
        let monitor = Monitor::new(
            CallbackKind::EarlyStopping,
            &config.monitor,
            config.mode,
            config.min_delta,
        )?;
        for (field, value) in [
            ("baseline", config.baseline),
            ("stopping_threshold", config.stopping_threshold),
            ("divergence_threshold", config.divergence_threshold),
        ] {
            if let Some(v) = value
                && !v.is_finite()
            {
                return Err(CallbackError::Invalid {
                    setting: Setting::early_stopping(field),
                    requirement: "a finite number",
                    value: v.to_string(),
                });
            }
        }
        Ok(Self {
            config,
            state,
            monitor,
        })
    }

    /// The monitored metric with its resolved mode.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Checks the end of `epoch` (1-based); see the module documentation for the order.
    ///
    /// # Errors
    /// The monitored metric is not in `logs` (the message lists those that are).
    pub fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
    ) -> Result<EarlyStoppingDecision, CallbackError> {
        let current = monitored_value(
            "early stopping",
            Setting::early_stopping("monitor"),
            &self.monitor.monitor,
            logs,
        )?;
        let mut decision = EarlyStoppingDecision {
            new_best: false,
            stop: None,
        };
        let monitor = &self.monitor.monitor;
        let stop = if self.config.check_finite && !current.is_finite() {
            Some(StopReason::NotFinite {
                monitor: monitor.clone(),
                value: current,
                best: self.state.best,
            })
        } else if epoch.saturating_sub(1) < self.config.start_from_epoch {
            // Keras' warm-up: `epoch < start_from_epoch` with 0-based epochs.
            None
        } else {
            // Keras counts first and resets on improvement.
            self.state.wait += 1;
            if self.monitor.is_improvement(current, self.state.best) {
                self.state.best = Some(current);
                self.state.best_epoch = Some(epoch);
                decision.new_best = true;
                if self
                    .config
                    .baseline
                    .is_none_or(|baseline| self.monitor.is_improvement(current, Some(baseline)))
                {
                    self.state.wait = 0;
                }
            }
            if let Some(threshold) = self.config.stopping_threshold
                && self.monitor.better(current, threshold)
            {
                Some(StopReason::StoppingThreshold {
                    monitor: monitor.clone(),
                    value: current,
                    threshold,
                    mode: self.monitor.mode,
                })
            } else if let Some(threshold) = self.config.divergence_threshold
                && self.monitor.better(-current, -threshold)
            {
                // Lightning: `monitor_op(-current, -divergence_threshold)`.
                Some(StopReason::DivergenceThreshold {
                    monitor: monitor.clone(),
                    value: current,
                    threshold,
                    mode: self.monitor.mode,
                })
            } else if !decision.new_best && self.state.wait >= self.config.patience && epoch > 1 {
                // Keras returns right after an improvement, so only a non-improving epoch
                // (and never the first: Keras' `epoch > 0`) stops on patience.
                Some(StopReason::Patience {
                    monitor: monitor.clone(),
                    wait: self.state.wait,
                    patience: self.config.patience,
                    best: self.state.best,
                    baseline: self.config.baseline,
                })
            } else {
                None
            }
        };
        if let Some(reason) = &stop {
            self.state.stopped_epoch = Some(epoch);
            self.state.stop_reason = Some(reason.clone());
        }
        decision.stop = stop;
        Ok(decision)
    }

    /// The epoch whose weights the learner restores at the end of training: the best epoch
    /// when `restore_best_weights` is set and an epoch was monitored (Keras restores whether
    /// or not training stopped early), otherwise none (the last weights are kept).
    pub fn restore_epoch(&self) -> Option<usize> {
        if self.config.restore_best_weights {
            self.state.best_epoch
        } else {
            None
        }
    }

    /// One line for the end of training: why it stopped (or that it did not), the best epoch,
    /// and which weights are kept.
    pub fn summary(&self) -> String {
        let monitor = &self.monitor.monitor;
        let mut out = match (&self.state.stopped_epoch, &self.state.stop_reason) {
            (Some(epoch), Some(reason)) => format!("Early stopping at epoch {epoch}: {reason}"),
            _ => "Early stopping did not stop training.".to_string(),
        };
        match (self.state.best, self.state.best_epoch) {
            (Some(best), Some(epoch)) => {
                // Six significant digits: the full value is in metrics.csv.
                out.push_str(&format!(" Best {monitor} {} at epoch {epoch}", short(best)));
            }
            _ => out.push_str(&format!(" No epoch had {monitor} monitored")),
        }
        match self.restore_epoch() {
            Some(epoch) => out.push_str(&format!("; restoring the weights of epoch {epoch}.")),
            None => out.push_str("; keeping the weights of the last epoch."),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(monitor: &str, value: f64) -> Logs {
        [(monitor.to_string(), value), ("loss".to_string(), 1.0)].into()
    }

    /// One scripted run: the monitored values of epochs 1, 2, ... and what must happen.
    struct Case {
        name: &'static str,
        config: EarlyStoppingConfig,
        values: &'static [f64],
        /// Epochs (1-based) at which `new_best` is set.
        new_best: &'static [usize],
        /// `wait` after each epoch.
        wait: &'static [usize],
        /// The epoch at which it says stop (the run ends there), and the reason's variant.
        stop: Option<(usize, &'static str)>,
        best_epoch: Option<usize>,
    }

    fn val_loss(patience: usize) -> EarlyStoppingConfig {
        EarlyStoppingConfig {
            patience,
            ..Default::default()
        }
    }

    fn variant(reason: &StopReason) -> &'static str {
        match reason {
            StopReason::Patience { .. } => "patience",
            StopReason::NotFinite { .. } => "not_finite",
            StopReason::StoppingThreshold { .. } => "stopping_threshold",
            StopReason::DivergenceThreshold { .. } => "divergence_threshold",
        }
    }

    /// Each case traced by hand through Keras 3's `on_epoch_end` (and Lightning's
    /// `_evaluate_stopping_criteria` for the thresholds).
    fn cases() -> Vec<Case> {
        vec![
            Case {
                // Keras' docstring example: patience 3 on a loss that never improves after
                // the first epoch stops after 4 epochs.
                name: "patience 3, flat",
                config: val_loss(3),
                values: &[1.0, 1.0, 1.0, 1.0, 1.0],
                new_best: &[1],
                wait: &[0, 1, 2, 3],
                stop: Some((4, "patience")),
                best_epoch: Some(1),
            },
            Case {
                name: "patience 0 stops at the first non-improving epoch after the first",
                config: val_loss(0),
                values: &[1.0, 0.9, 0.95, 0.8],
                new_best: &[1, 2],
                wait: &[0, 0, 1],
                stop: Some((3, "patience")),
                best_epoch: Some(2),
            },
            Case {
                name: "improvements reset wait",
                config: val_loss(2),
                values: &[1.0, 1.1, 0.9, 0.95, 0.92, 0.5],
                new_best: &[1, 3],
                wait: &[0, 1, 0, 1, 2],
                stop: Some((5, "patience")),
                best_epoch: Some(3),
            },
            Case {
                name: "never stops while improving",
                config: val_loss(1),
                values: &[1.0, 0.9, 0.8, 0.7],
                new_best: &[1, 2, 3, 4],
                wait: &[0, 0, 0, 0],
                stop: None,
                best_epoch: Some(4),
            },
            Case {
                // 0.95 improves by 0.05, not more than min_delta 0.1; 0.85 does (by 0.15).
                name: "min_delta",
                config: EarlyStoppingConfig {
                    min_delta: 0.1,
                    patience: 3,
                    ..Default::default()
                },
                values: &[1.0, 0.95, 0.85, 0.8, 0.79, 0.76],
                new_best: &[1, 3],
                wait: &[0, 1, 0, 1, 2, 3],
                stop: Some((6, "patience")),
                best_epoch: Some(3),
            },
            Case {
                name: "negative min_delta is the same as positive",
                config: EarlyStoppingConfig {
                    min_delta: -0.1,
                    patience: 3,
                    ..Default::default()
                },
                values: &[1.0, 0.95, 0.85, 0.8, 0.79, 0.76],
                new_best: &[1, 3],
                wait: &[0, 1, 0, 1, 2, 3],
                stop: Some((6, "patience")),
                best_epoch: Some(3),
            },
            Case {
                // Auto mode maximizes accuracy; min_delta 0.01 needs > 0.01 of gain.
                name: "auto mode on accuracy",
                config: EarlyStoppingConfig {
                    monitor: "val_accuracy".into(),
                    min_delta: 0.01,
                    patience: 2,
                    ..Default::default()
                },
                values: &[0.5, 0.8, 0.805, 0.9, 0.9, 0.95],
                new_best: &[1, 2, 4, 6],
                wait: &[0, 0, 1, 0, 1, 0],
                stop: None,
                best_epoch: Some(6),
            },
            Case {
                // The baseline 0.5 is never beaten: the first epoch is still the best (baseline
                // does not seed `best`), improvements are recorded but never reset wait, and
                // (Keras returns right after an improvement) only a non-improving epoch stops.
                name: "baseline not beaten",
                config: EarlyStoppingConfig {
                    baseline: Some(0.5),
                    patience: 3,
                    ..Default::default()
                },
                values: &[1.0, 0.9, 0.8, 0.7, 0.75],
                new_best: &[1, 2, 3, 4],
                wait: &[1, 2, 3, 4, 5],
                stop: Some((5, "patience")),
                best_epoch: Some(4),
            },
            Case {
                name: "baseline beaten resets wait",
                config: EarlyStoppingConfig {
                    baseline: Some(0.5),
                    patience: 2,
                    ..Default::default()
                },
                values: &[1.0, 0.9, 0.4, 0.45, 0.3, 0.35, 0.36],
                new_best: &[1, 2, 3, 5],
                wait: &[1, 2, 0, 1, 0, 1, 2],
                stop: Some((7, "patience")),
                best_epoch: Some(5),
            },
            Case {
                // Epochs 1 and 2 are not monitored (start_from_epoch 2 with Keras' 0-based
                // epochs 0 and 1); epoch 3 is the first best despite the better epoch 1.
                name: "start_from_epoch",
                config: EarlyStoppingConfig {
                    start_from_epoch: 2,
                    patience: 1,
                    ..Default::default()
                },
                values: &[0.1, 5.0, 1.0, 1.0, 1.0],
                new_best: &[3],
                wait: &[0, 0, 0, 1],
                stop: Some((4, "patience")),
                best_epoch: Some(3),
            },
            Case {
                name: "NaN stops with check_finite",
                config: val_loss(5),
                values: &[1.0, 0.9, f64::NAN],
                new_best: &[1, 2],
                wait: &[0, 0, 0],
                stop: Some((3, "not_finite")),
                best_epoch: Some(2),
            },
            Case {
                name: "check_finite applies during the warm-up",
                config: EarlyStoppingConfig {
                    start_from_epoch: 3,
                    ..Default::default()
                },
                values: &[1.0, f64::INFINITY],
                new_best: &[],
                wait: &[0, 0],
                stop: Some((2, "not_finite")),
                best_epoch: None,
            },
            Case {
                // Keras without check_finite: NaN is never an improvement (comparisons with
                // NaN are false), so it counts toward patience.
                name: "NaN without check_finite counts as no improvement",
                config: EarlyStoppingConfig {
                    patience: 2,
                    check_finite: false,
                    ..Default::default()
                },
                values: &[1.0, f64::NAN, f64::NAN],
                new_best: &[1],
                wait: &[0, 1, 2],
                stop: Some((3, "patience")),
                best_epoch: Some(1),
            },
            Case {
                // Strictly below 0.5 stops; the epoch is still recorded as the best.
                name: "stopping_threshold",
                config: EarlyStoppingConfig {
                    patience: 10,
                    stopping_threshold: Some(0.5),
                    ..Default::default()
                },
                values: &[1.0, 0.5, 0.49, 0.1],
                new_best: &[1, 2, 3],
                wait: &[0, 0, 0],
                stop: Some((3, "stopping_threshold")),
                best_epoch: Some(3),
            },
            Case {
                name: "divergence_threshold",
                config: EarlyStoppingConfig {
                    patience: 10,
                    divergence_threshold: Some(3.0),
                    ..Default::default()
                },
                values: &[2.0, 3.0, 3.5, 1.0],
                new_best: &[1],
                wait: &[0, 1, 2],
                stop: Some((3, "divergence_threshold")),
                best_epoch: Some(1),
            },
            Case {
                // In max mode the thresholds flip: above 0.99 is the goal, below 0.2 diverges.
                name: "thresholds in max mode",
                config: EarlyStoppingConfig {
                    monitor: "val_accuracy".into(),
                    patience: 10,
                    stopping_threshold: Some(0.99),
                    divergence_threshold: Some(0.2),
                    ..Default::default()
                },
                values: &[0.5, 0.99, 0.3, 0.1],
                new_best: &[1, 2],
                wait: &[0, 0, 1, 2],
                stop: Some((4, "divergence_threshold")),
                best_epoch: Some(2),
            },
            Case {
                // Both thresholds hold: Lightning checks stopping_threshold first.
                name: "stopping_threshold before divergence_threshold",
                config: EarlyStoppingConfig {
                    patience: 10,
                    mode: Mode::Min,
                    stopping_threshold: Some(0.5),
                    divergence_threshold: Some(0.1),
                    ..Default::default()
                },
                values: &[0.3],
                new_best: &[1],
                wait: &[0],
                stop: Some((1, "stopping_threshold")),
                best_epoch: Some(1),
            },
        ]
    }

    #[test]
    fn scripted_runs_follow_keras_and_lightning() {
        for case in cases() {
            let mut es = EarlyStopping::new(case.config.clone()).unwrap();
            let mut stopped = None;
            let mut new_best = vec![];
            let mut wait = vec![];
            for (i, &value) in case.values.iter().enumerate() {
                let epoch = i + 1;
                let d = es
                    .on_epoch_end(epoch, &logs(&case.config.monitor, value))
                    .unwrap();
                if d.new_best {
                    new_best.push(epoch);
                }
                wait.push(es.state.wait);
                if let Some(reason) = d.stop {
                    stopped = Some((epoch, variant(&reason)));
                    break;
                }
            }
            assert_eq!(stopped, case.stop, "{}: stop", case.name);
            assert_eq!(new_best, case.new_best, "{}: new_best", case.name);
            assert_eq!(wait, case.wait, "{}: wait", case.name);
            assert_eq!(
                es.state.best_epoch, case.best_epoch,
                "{}: best_epoch",
                case.name
            );
            assert_eq!(
                es.state.stopped_epoch,
                case.stop.map(|s| s.0),
                "{}",
                case.name
            );
            if let Some(epoch) = case.best_epoch {
                assert_eq!(es.state.best, Some(case.values[epoch - 1]), "{}", case.name);
            }
        }
    }

    /// Stopping after any epoch, serializing the state to JSON and continuing with a rebuilt
    /// callback gives the same decisions and final state as the run that never stopped.
    #[test]
    fn resumed_state_continues_identically() {
        for case in cases() {
            let mut whole = EarlyStopping::new(case.config.clone()).unwrap();
            let all: Vec<_> = case
                .values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    whole
                        .on_epoch_end(i + 1, &logs(&case.config.monitor, v))
                        .unwrap()
                })
                .collect();
            for cut in 0..case.values.len() {
                let mut first = EarlyStopping::new(case.config.clone()).unwrap();
                for (i, &v) in case.values[..cut].iter().enumerate() {
                    first
                        .on_epoch_end(i + 1, &logs(&case.config.monitor, v))
                        .unwrap();
                }
                let json = serde_json::to_string(&first.state).unwrap();
                let state: EarlyStoppingState = serde_json::from_str(&json).unwrap();
                let mut resumed = EarlyStopping::with_state(case.config.clone(), state).unwrap();
                for (i, &v) in case.values.iter().enumerate().skip(cut) {
                    let d = resumed
                        .on_epoch_end(i + 1, &logs(&case.config.monitor, v))
                        .unwrap();
                    // Compared as text: NaN values are not equal to themselves.
                    assert_eq!(
                        format!("{d:?}"),
                        format!("{:?}", all[i]),
                        "{}: cut {cut}, epoch {}",
                        case.name,
                        i + 1
                    );
                }
                assert_eq!(
                    serde_json::to_string(&resumed.state).unwrap(),
                    serde_json::to_string(&whole.state).unwrap(),
                    "{}: cut {cut}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn restore_bookkeeping_and_summary() {
        let config = EarlyStoppingConfig {
            patience: 2,
            restore_best_weights: true,
            ..Default::default()
        };
        let mut es = EarlyStopping::new(config.clone()).unwrap();
        assert_eq!(es.restore_epoch(), None);
        assert_eq!(
            es.summary(),
            "Early stopping did not stop training. No epoch had val_loss monitored; keeping the weights of the last epoch."
        );
        for (i, v) in [0.5, 0.25, 0.3].into_iter().enumerate() {
            es.on_epoch_end(i + 1, &logs("val_loss", v)).unwrap();
        }
        // Not stopped, yet Keras restores the best epoch at the end of training.
        assert_eq!(es.restore_epoch(), Some(2));
        assert_eq!(
            es.summary(),
            "Early stopping did not stop training. Best val_loss 0.25 at epoch 2; restoring the weights of epoch 2."
        );
        let d = es.on_epoch_end(4, &logs("val_loss", 0.4)).unwrap();
        assert_eq!(
            d.stop.as_ref().unwrap().to_string(),
            "val_loss did not improve for 2 epochs (patience 2); best 0.25."
        );
        assert_eq!(
            es.summary(),
            "Early stopping at epoch 4: val_loss did not improve for 2 epochs (patience 2); best 0.25. Best val_loss 0.25 at epoch 2; restoring the weights of epoch 2."
        );
        let no_restore = EarlyStopping::with_state(
            EarlyStoppingConfig {
                restore_best_weights: false,
                ..config
            },
            es.state.clone(),
        )
        .unwrap();
        assert_eq!(no_restore.restore_epoch(), None);
        assert!(
            no_restore
                .summary()
                .ends_with("keeping the weights of the last epoch.")
        );
    }

    #[test]
    fn reasons_read_as_sentences() {
        let reasons = [
            (
                StopReason::NotFinite {
                    monitor: "val_loss".into(),
                    value: f64::NAN,
                    best: Some(0.5),
                },
                "val_loss is NaN, which is not finite; best before was 0.5.",
            ),
            (
                StopReason::StoppingThreshold {
                    monitor: "val_loss".into(),
                    value: 0.04,
                    threshold: 0.05,
                    mode: Mode::Min,
                },
                "val_loss = 0.04 is below the stopping threshold 0.05.",
            ),
            (
                StopReason::StoppingThreshold {
                    monitor: "val_accuracy".into(),
                    value: 0.995,
                    threshold: 0.99,
                    mode: Mode::Max,
                },
                "val_accuracy = 0.995 is above the stopping threshold 0.99.",
            ),
            (
                StopReason::DivergenceThreshold {
                    monitor: "val_loss".into(),
                    value: 12.0,
                    threshold: 10.0,
                    mode: Mode::Min,
                },
                "val_loss = 12 is above the divergence threshold 10; training diverged.",
            ),
            (
                StopReason::Patience {
                    monitor: "loss".into(),
                    wait: 1,
                    patience: 1,
                    best: None,
                    baseline: Some(0.3),
                },
                "loss did not improve for 1 epoch (patience 1); baseline 0.3.",
            ),
        ];
        for (reason, text) in reasons {
            assert_eq!(reason.to_string(), text);
            let back: StopReason =
                serde_json::from_str(&serde_json::to_string(&reason).unwrap()).unwrap();
            assert_eq!(back.to_string(), text);
        }
    }

    #[test]
    fn errors_are_one_line() {
        let mut es = EarlyStopping::new(EarlyStoppingConfig::default()).unwrap();
        let err = es.on_epoch_end(1, &logs("loss", 0.1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "early stopping monitors 'val_loss', which is not among the metrics (loss); pass EarlyStoppingConfig.monitor with one of them"
        );
        let err = EarlyStopping::new(EarlyStoppingConfig {
            monitor: "lr".into(),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("EarlyStoppingConfig.mode auto cannot tell whether 'lr'"),
            "{err}"
        );
        let err = EarlyStopping::new(EarlyStoppingConfig {
            baseline: Some(f64::NAN),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "EarlyStoppingConfig.baseline must be a finite number, got NaN"
        );
        // An application names the setting its own way.
        let flag = |s: Setting| format!("--{}", s.field.replace('_', "-"));
        assert_eq!(
            err.message(&flag),
            "--baseline must be a finite number, got NaN"
        );
    }

    #[test]
    fn config_reads_with_defaults() {
        let config: EarlyStoppingConfig = serde_json::from_str(r#"{"patience": 3}"#).unwrap();
        assert_eq!(
            config,
            EarlyStoppingConfig {
                patience: 3,
                ..Default::default()
            }
        );
        assert!(config.check_finite);
        assert_eq!(config.monitor, "val_loss");
    }
}
