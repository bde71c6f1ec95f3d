//! Keras 3 `ReduceLROnPlateau` (`keras/src/callbacks/reduce_lr_on_plateau.py`): multiply the
//! learning rate by `factor` when the monitored metric has not improved for `patience`
//! epochs, then wait `cooldown` epochs before counting again; never below `min_lr`.
//!
//! Per epoch, in Keras' order: the learning rate is added to the logs as `"learning_rate"`;
//! if in cooldown, the cooldown counter drops by one and `wait` resets; an improvement (by
//! more than `min_delta`) records the best value and resets `wait`; otherwise, outside
//! cooldown, `wait` grows, and at `wait >= patience` the learning rate becomes
//! `max(lr * factor, min_lr)` if it is above `min_lr`, which starts the cooldown and resets
//! `wait`. (Keras compares with `min_lr` rounded to float32 because its learning-rate
//! variable is float32; ember's learning rate is f64, so it compares in f64, and a rate within
//! rounding of `min_lr` ([`super::monitor::reached`]) has reached it and becomes `min_lr`.)

use serde::{Deserialize, Serialize};

use super::error::{CallbackError, CallbackKind, Setting};
use super::monitor::{Mode, Monitor, reached};
use super::{Logs, exact_f64, monitored_value};

/// Settings of [`ReduceLrOnPlateau`]; defaults are Keras'.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReduceLrOnPlateauConfig {
    /// Metric to watch (default `"val_loss"`).
    pub monitor: String,
    /// Factor of each reduction, in (0, 1) (default 0.1).
    pub factor: f64,
    /// Epochs without improvement before a reduction (default 10).
    pub patience: usize,
    /// Direction of improvement (default auto: from the metric's name).
    pub mode: Mode,
    /// Minimum change that counts as an improvement; its sign is ignored (default 1e-4).
    pub min_delta: f64,
    /// Epochs after a reduction during which no reduction happens (default 0).
    pub cooldown: usize,
    /// Lower bound of the learning rate (default 0).
    pub min_lr: f64,
}

impl Default for ReduceLrOnPlateauConfig {
    fn default() -> Self {
        Self {
            monitor: "val_loss".into(),
            factor: 0.1,
            patience: 10,
            mode: Mode::Auto,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
        }
    }
}

/// The mutable state of [`ReduceLrOnPlateau`], stored in checkpoints.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReduceLrOnPlateauState {
    /// Epochs since the last improvement (outside cooldown).
    pub wait: usize,
    /// Epochs of cooldown left.
    pub cooldown_counter: usize,
    /// Best monitored value so far.
    #[serde(with = "exact_f64::option")]
    pub best: Option<f64>,
    /// The learning rate after the last epoch (reduced or not); a resumed run sets it on the
    /// optimizer. None before the first epoch.
    #[serde(with = "exact_f64::option")]
    pub lr: Option<f64>,
}

/// Keras `ReduceLROnPlateau`; see the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceLrOnPlateau {
    /// The settings.
    pub config: ReduceLrOnPlateauConfig,
    /// The state a checkpoint stores.
    pub state: ReduceLrOnPlateauState,
    monitor: Monitor,
}

impl ReduceLrOnPlateau {
    /// A fresh callback (Keras' `on_train_begin` reset).
    ///
    /// # Errors
    /// See [`ReduceLrOnPlateau::with_state`].
    pub fn new(config: ReduceLrOnPlateauConfig) -> Result<Self, CallbackError> {
        Self::with_state(config, ReduceLrOnPlateauState::default())
    }

    /// A callback continuing from `state` (read from a checkpoint).
    ///
    /// # Errors
    /// `factor` not in (0, 1) (Keras refuses `factor >= 1`), a negative or non-finite
    /// `min_lr`, or a monitor auto mode cannot place.
    pub fn with_state(
        config: ReduceLrOnPlateauConfig,
        state: ReduceLrOnPlateauState,
    ) -> Result<Self, CallbackError> {
        if !(config.factor > 0.0 && config.factor < 1.0) {
            return Err(CallbackError::Invalid {
                setting: Setting::plateau("factor"),
                requirement: "in (0, 1) (the learning rate is multiplied by it)",
                value: config.factor.to_string(),
            });
        }
        if !(config.min_lr.is_finite() && config.min_lr >= 0.0) {
            return Err(CallbackError::Invalid {
                setting: Setting::plateau("min_lr"),
                requirement: "a non-negative number",
                value: config.min_lr.to_string(),
            });
        }
        let monitor = Monitor::new(
            CallbackKind::ReduceLrOnPlateau,
            &config.monitor,
            config.mode,
            config.min_delta,
        )?;
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

    /// Checks the end of `epoch` (1-based; Keras uses it only in its verbose message) trained
    /// with `current_lr`;
    /// returns the new learning rate when it is reduced.
    ///
    /// # Errors
    /// The monitored metric is in neither `logs` nor `"learning_rate"` (the message lists the
    /// available metrics).
    pub fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        current_lr: f64,
    ) -> Result<Option<f64>, CallbackError> {
        let _ = epoch; // Kept for symmetry with the other callbacks and future messages.
        let mut logs = logs.clone();
        logs.insert("learning_rate".into(), current_lr);
        let current = monitored_value(
            "ReduceLROnPlateau",
            Setting::plateau("monitor"),
            &self.monitor.monitor,
            &logs,
        )?;
        let state = &mut self.state;
        let mut reduced = None;
        if state.cooldown_counter > 0 {
            state.cooldown_counter -= 1;
            state.wait = 0;
        }
        if self.monitor.is_improvement(current, state.best) {
            state.best = Some(current);
            state.wait = 0;
        } else if state.cooldown_counter == 0 {
            state.wait += 1;
            // A rate within rounding of min_lr has reached it: 0.1 -> 0.01 -> 0.001 with factor
            // 0.1 is 0.0010000000000000002 in f64, and a further no-op "reduction" to 0.001
            // would print a message and restart the cooldown.
            if state.wait >= self.config.patience && !reached(current_lr, self.config.min_lr) {
                let scaled = current_lr * self.config.factor;
                let new_lr = if reached(scaled, self.config.min_lr) {
                    self.config.min_lr
                } else {
                    scaled
                };
                state.cooldown_counter = self.config.cooldown;
                state.wait = 0;
                reduced = Some(new_lr);
            }
        }
        state.lr = Some(reduced.unwrap_or(current_lr));
        Ok(reduced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        name: &'static str,
        config: ReduceLrOnPlateauConfig,
        values: &'static [f64],
        /// The learning rate each epoch trains with (the first is the run's lr, 1.0).
        lr: &'static [f64],
    }

    fn cfg(patience: usize, cooldown: usize) -> ReduceLrOnPlateauConfig {
        ReduceLrOnPlateauConfig {
            patience,
            cooldown,
            factor: 0.5,
            min_delta: 0.0,
            ..Default::default()
        }
    }

    /// Traced by hand through Keras' `on_epoch_end`.
    fn cases() -> Vec<Case> {
        vec![
            Case {
                // wait reaches 2 at epochs 3 and 5: reductions after them.
                name: "patience 2",
                config: cfg(2, 0),
                values: &[1.0, 0.9, 0.95, 0.91, 0.92, 0.93],
                lr: &[1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25],
            },
            Case {
                // The reduction after epoch 2 sets the cooldown counter to 2; epoch 3 lowers it
                // to 1 and does not count; epoch 4 lowers it to 0 and, in the same epoch (Keras
                // decrements before it tests), counts and reduces again (patience 1).
                name: "cooldown 2",
                config: cfg(1, 2),
                values: &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
                lr: &[1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125],
            },
            Case {
                // The epoch that ends the cooldown records an improvement as usual.
                name: "improvement as the cooldown ends",
                config: cfg(1, 1),
                values: &[1.0, 1.0, 0.5, 0.6, 0.4],
                lr: &[1.0, 1.0, 0.5, 0.5, 0.25, 0.25],
            },
            Case {
                // min_lr 0.3: 1 -> 0.5 -> max(0.25, 0.3) = 0.3, then no more reductions.
                name: "min_lr floor",
                config: ReduceLrOnPlateauConfig {
                    min_lr: 0.3,
                    ..cfg(1, 0)
                },
                values: &[1.0, 1.0, 1.0, 1.0, 1.0],
                lr: &[1.0, 1.0, 0.5, 0.3, 0.3, 0.3],
            },
            Case {
                // Keras' default min_delta 1e-4: 0.99995 is no improvement on 1.0.
                name: "min_delta",
                config: ReduceLrOnPlateauConfig {
                    factor: 0.5,
                    patience: 1,
                    ..Default::default()
                },
                values: &[1.0, 0.99995, 0.9],
                lr: &[1.0, 1.0, 0.5, 0.5],
            },
            Case {
                // Maximizing accuracy (auto mode).
                name: "max mode",
                config: ReduceLrOnPlateauConfig {
                    monitor: "val_accuracy".into(),
                    ..cfg(1, 0)
                },
                values: &[0.5, 0.6, 0.6, 0.7],
                lr: &[1.0, 1.0, 1.0, 0.5, 0.5],
            },
        ]
    }

    fn run(
        rop: &mut ReduceLrOnPlateau,
        monitor: &str,
        values: &[f64],
        first: usize,
        mut lr: f64,
    ) -> Vec<f64> {
        let mut lrs = vec![lr];
        for (i, &v) in values.iter().enumerate() {
            let logs: Logs = [(monitor.to_string(), v)].into();
            if let Some(new) = rop.on_epoch_end(first + i, &logs, lr).unwrap() {
                lr = new;
            }
            assert_eq!(rop.state.lr, Some(lr));
            lrs.push(lr);
        }
        lrs
    }

    /// 0.1 -> 0.01 -> 0.001 with factor 0.1 and min_lr 1e-3: the second reduction lands within
    /// rounding of min_lr (0.0010000000000000002 in f64) and becomes min_lr, and no third,
    /// no-op reduction follows (it would print a message and restart the cooldown).
    #[test]
    fn a_rate_within_rounding_of_min_lr_has_reached_it() {
        let mut rop = ReduceLrOnPlateau::new(ReduceLrOnPlateauConfig {
            factor: 0.1,
            min_lr: 1e-3,
            ..cfg(1, 0)
        })
        .unwrap();
        let mut lr = 0.1;
        let mut reductions = Vec::new();
        for epoch in 1..=5 {
            let logs: Logs = [("val_loss".to_string(), 1.0)].into();
            if let Some(new) = rop.on_epoch_end(epoch, &logs, lr).unwrap() {
                reductions.push(new);
                lr = new;
            }
        }
        assert_eq!(reductions, [0.1 * 0.1, 1e-3]);
        // A rate that starts within rounding of min_lr is not reduced at all.
        let mut at_floor = ReduceLrOnPlateau::new(ReduceLrOnPlateauConfig {
            factor: 0.1,
            min_lr: 1e-3,
            ..cfg(1, 0)
        })
        .unwrap();
        for epoch in 1..=3 {
            let logs: Logs = [("val_loss".to_string(), 1.0)].into();
            assert_eq!(
                at_floor
                    .on_epoch_end(epoch, &logs, 0.1 * 0.1 * 0.1)
                    .unwrap(),
                None
            );
        }
    }

    #[test]
    fn scripted_runs_follow_keras() {
        for case in cases() {
            let mut rop = ReduceLrOnPlateau::new(case.config.clone()).unwrap();
            let lrs = run(&mut rop, &case.config.monitor, case.values, 1, 1.0);
            assert_eq!(lrs, case.lr, "{}", case.name);
        }
    }

    #[test]
    fn resumed_state_continues_identically() {
        for case in cases() {
            let mut whole = ReduceLrOnPlateau::new(case.config.clone()).unwrap();
            let all = run(&mut whole, &case.config.monitor, case.values, 1, 1.0);
            for cut in 0..case.values.len() {
                let mut first = ReduceLrOnPlateau::new(case.config.clone()).unwrap();
                run(
                    &mut first,
                    &case.config.monitor,
                    &case.values[..cut],
                    1,
                    1.0,
                );
                let state: ReduceLrOnPlateauState =
                    serde_json::from_str(&serde_json::to_string(&first.state).unwrap()).unwrap();
                let lr = state.lr.unwrap_or(1.0);
                let mut resumed =
                    ReduceLrOnPlateau::with_state(case.config.clone(), state).unwrap();
                let rest = run(
                    &mut resumed,
                    &case.config.monitor,
                    &case.values[cut..],
                    cut + 1,
                    lr,
                );
                assert_eq!(rest, all[cut..], "{}: cut {cut}", case.name);
                assert_eq!(resumed.state, whole.state, "{}: cut {cut}", case.name);
            }
        }
    }

    #[test]
    fn learning_rate_is_a_metric_and_errors_are_one_line() {
        // Keras puts the learning rate into the logs before reading the monitor.
        let mut on_lr = ReduceLrOnPlateau::new(ReduceLrOnPlateauConfig {
            monitor: "learning_rate".into(),
            mode: Mode::Min,
            patience: 1,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(on_lr.on_epoch_end(1, &Logs::new(), 0.1).unwrap(), None);
        assert_eq!(on_lr.state.best, Some(0.1));
        let mut rop = ReduceLrOnPlateau::new(ReduceLrOnPlateauConfig::default()).unwrap();
        assert_eq!(
            rop.on_epoch_end(1, &[("loss".to_string(), 1.0)].into(), 0.1)
                .unwrap_err()
                .to_string(),
            "ReduceLROnPlateau monitors 'val_loss', which is not among the metrics (learning_rate, loss); pass ReduceLrOnPlateauConfig.monitor with one of them"
        );
        for (factor, min_lr, part) in [
            (1.0, 0.0, "ReduceLrOnPlateauConfig.factor must be in (0, 1)"),
            (0.0, 0.0, "ReduceLrOnPlateauConfig.factor must be in (0, 1)"),
            (
                f64::NAN,
                0.0,
                "ReduceLrOnPlateauConfig.factor must be in (0, 1)",
            ),
            (
                0.5,
                -1.0,
                "ReduceLrOnPlateauConfig.min_lr must be a non-negative number, got -1",
            ),
        ] {
            let err = ReduceLrOnPlateau::new(ReduceLrOnPlateauConfig {
                factor,
                min_lr,
                ..Default::default()
            })
            .unwrap_err()
            .to_string();
            assert!(err.starts_with(part), "{err}");
        }
    }
}
