//! Learning-rate schedules: the learning rate as a pure function of the run's counters (the
//! epoch and the optimizer steps done), so a resumed run continues on exactly the same curve
//! without any schedule state in its checkpoint.
//!
//! | CLI string | schedule | reference |
//! |---|---|---|
//! | `constant` | `lr` | |
//! | `step:step_size=S,gamma=G` | `lr · G^⌊t/S⌋` (G defaults to 0.1) | `torch.optim.lr_scheduler.StepLR` (closed form) |
//! | `exponential:gamma=G` | `lr · G^t` | `torch.optim.lr_scheduler.ExponentialLR` (closed form) |
//! | `inverse_time_decay:decay=D` | `lr · 1 / (1 + D·t)` | Keras 2 optimizers' legacy `decay` argument |
//! | `cosine:max_update=T,final_lr=F,warmup_steps=W,warmup_begin_lr=B` | linear warm-up from B to `lr` over W, then cosine from `lr` to F at T, then F | d2l.ai `CosineScheduler` (§12.11) |
//!
//! `t` counts epochs (0-based) or optimizer steps done, by [`ScheduleUnit`]. PyTorch's
//! schedulers update by multiplication (`lr *= gamma`), which can drift from the closed form by
//! an ulp; ember uses the closed form (PyTorch's `_get_closed_form_lr`), which resumes exactly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A schedule the engine cannot run. The messages name the schedule and its parameter, not
/// how the application spells its setting (the `train` command prefixes `--lr-schedule`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A name that is not one of [`LrSchedule::NAMES`].
    #[error("unknown learning-rate schedule '{name}' (expected one of: {expected})")]
    Unknown {
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        expected: String,
    },
    /// A parameter that is missing, malformed or out of range, e.g. "step needs step_size,
    /// e.g. step:step_size=10" or "cosine: max_update must be at least 1" (the message starts
    /// with the schedule's name).
    #[error("{0}")]
    Parameter(String),
}

impl ScheduleError {
    fn parameter(message: impl Into<String>) -> Self {
        Self::Parameter(message.into())
    }
}

/// A learning-rate schedule; see the module documentation for the formulas.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// The run's learning rate throughout (the default).
    #[default]
    Constant,
    /// Multiply by `gamma` every `step_size` units (PyTorch `StepLR`).
    Step {
        /// Units between decays, at least 1.
        step_size: usize,
        /// Decay factor, positive (PyTorch's default 0.1).
        #[serde(default = "default_step_gamma")]
        gamma: f64,
    },
    /// Multiply by `gamma` every unit (PyTorch `ExponentialLR`).
    Exponential {
        /// Decay factor, positive.
        gamma: f64,
    },
    /// `lr / (1 + decay · t)`, Keras 2's `decay` argument of its optimizers (applied per step
    /// there: use it with [`ScheduleUnit::Step`] to match).
    InverseTimeDecay {
        /// Decay rate, non-negative.
        decay: f64,
    },
    /// d2l.ai's `CosineScheduler` with the run's learning rate as `base_lr`: for `t <
    /// warmup_steps`, `warmup_begin_lr + (lr - warmup_begin_lr) · t / warmup_steps`; for
    /// `t <= max_update`, `final_lr + (lr - final_lr) · (1 + cos(π (t - warmup_steps) /
    /// (max_update - warmup_steps))) / 2`; after that `final_lr`.
    Cosine {
        /// The unit at which the cosine reaches `final_lr` (d2l's `max_update`).
        max_update: usize,
        /// The learning rate at and after `max_update` (default 0).
        #[serde(default)]
        final_lr: f64,
        /// Units of linear warm-up, below `max_update` (default 0).
        #[serde(default)]
        warmup_steps: usize,
        /// The learning rate at `t = 0` of the warm-up (default 0).
        #[serde(default)]
        warmup_begin_lr: f64,
    },
}

fn default_step_gamma() -> f64 {
    0.1
}

/// What the schedule's `t` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleUnit {
    /// Completed epochs: constant within an epoch (the default).
    #[default]
    Epoch,
    /// Optimizer steps done: updated before every step.
    Step,
    /// Completed epochs, the rate set at the end of each epoch as d2l's `train_ch11` (and the
    /// seeds' code after it) does: the first epoch runs at the base rate, epoch `e + 1` at the
    /// schedule's value for `t = e − 1`. The schedule lags one epoch behind [`Self::Epoch`].
    #[serde(rename = "epoch-end")]
    EpochEnd,
}

impl FromStr for ScheduleUnit {
    type Err = String;

    /// `"epoch"` or `"step"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "epoch" => Ok(ScheduleUnit::Epoch),
            "step" => Ok(ScheduleUnit::Step),
            "epoch-end" => Ok(ScheduleUnit::EpochEnd),
            other => Err(format!(
                "unknown schedule unit '{other}' (expected epoch, step or epoch-end)"
            )),
        }
    }
}

impl fmt::Display for ScheduleUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScheduleUnit::Epoch => "epoch",
            ScheduleUnit::Step => "step",
            ScheduleUnit::EpochEnd => "epoch-end",
        })
    }
}

impl LrSchedule {
    /// Names accepted by [`FromStr`].
    pub const NAMES: [&'static str; 5] = [
        "constant",
        "step",
        "exponential",
        "inverse_time_decay",
        "cosine",
    ];

    /// The learning rate for the step after `iterations` optimizer steps, in `epoch`
    /// (0-based), for a run whose learning rate is `base_lr`.
    pub fn learning_rate(
        &self,
        base_lr: f64,
        epoch: usize,
        iterations: usize,
        unit: ScheduleUnit,
    ) -> f64 {
        let t = match unit {
            ScheduleUnit::Epoch => epoch,
            ScheduleUnit::Step => iterations,
            // Nothing was set before the first epoch ended: the optimizer's own rate.
            ScheduleUnit::EpochEnd if epoch == 0 => return base_lr,
            ScheduleUnit::EpochEnd => epoch - 1,
        };
        match *self {
            LrSchedule::Constant => base_lr,
            LrSchedule::Step { step_size, gamma } => {
                // `max(1)`: an unvalidated step_size of 0 must not divide by zero.
                base_lr * gamma.powf((t / step_size.max(1)) as f64)
            }
            LrSchedule::Exponential { gamma } => base_lr * gamma.powf(t as f64),
            LrSchedule::InverseTimeDecay { decay } => {
                // Keras 2: lr * (1. / (1. + decay * iterations)), in that order.
                base_lr * (1.0 / (1.0 + decay * t as f64))
            }
            LrSchedule::Cosine {
                max_update,
                final_lr,
                warmup_steps,
                warmup_begin_lr,
            } => {
                // d2l's operations in d2l's order, so the values match to the bit.
                if t < warmup_steps {
                    let increase = (base_lr - warmup_begin_lr) * t as f64 / warmup_steps as f64;
                    warmup_begin_lr + increase
                } else if t <= max_update && max_update > warmup_steps {
                    let max_steps = (max_update - warmup_steps) as f64;
                    final_lr
                        + (base_lr - final_lr)
                            * (1.0
                                + (std::f64::consts::PI * (t - warmup_steps) as f64 / max_steps)
                                    .cos())
                            / 2.0
                } else {
                    // d2l returns the value of its last update, which is final_lr at
                    // t = max_update (cos π = -1 exactly). (An unvalidated warmup_steps >=
                    // max_update, where d2l divides by zero, also lands here.)
                    final_lr
                }
            }
        }
    }

    /// Checks every parameter's range.
    ///
    /// # Errors
    /// [`ScheduleError::Parameter`], naming the schedule, the parameter and the allowed range.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(ScheduleError::parameter(format!(
                    "{}: {name} must be a positive number, got {v}",
                    self.name()
                )))
            }
        };
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(ScheduleError::parameter(format!(
                    "{}: {name} must be a non-negative number, got {v}",
                    self.name()
                )))
            }
        };
        match *self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Step { step_size, gamma } => {
                if step_size == 0 {
                    return Err(ScheduleError::parameter(
                        "step: step_size must be at least 1",
                    ));
                }
                positive("gamma", gamma)
            }
            LrSchedule::Exponential { gamma } => positive("gamma", gamma),
            LrSchedule::InverseTimeDecay { decay } => non_negative("decay", decay),
            LrSchedule::Cosine {
                max_update,
                final_lr,
                warmup_steps,
                warmup_begin_lr,
            } => {
                if max_update == 0 {
                    return Err(ScheduleError::parameter(
                        "cosine: max_update must be at least 1",
                    ));
                }
                if warmup_steps >= max_update {
                    return Err(ScheduleError::parameter(format!(
                        "cosine: warmup_steps ({warmup_steps}) must be below max_update ({max_update})"
                    )));
                }
                non_negative("final_lr", final_lr)?;
                non_negative("warmup_begin_lr", warmup_begin_lr)
            }
        }
    }

    /// The schedule's name, as in [`LrSchedule::NAMES`].
    pub fn name(&self) -> &'static str {
        match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Step { .. } => "step",
            LrSchedule::Exponential { .. } => "exponential",
            LrSchedule::InverseTimeDecay { .. } => "inverse_time_decay",
            LrSchedule::Cosine { .. } => "cosine",
        }
    }
}

/// The CLI string that [`FromStr`] reads back, e.g. `step:step_size=2,gamma=0.5`.
impl fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::Step { step_size, gamma } => {
                write!(f, ":step_size={step_size},gamma={gamma:?}")
            }
            LrSchedule::Exponential { gamma } => write!(f, ":gamma={gamma:?}"),
            LrSchedule::InverseTimeDecay { decay } => write!(f, ":decay={decay:?}"),
            LrSchedule::Cosine {
                max_update,
                final_lr,
                warmup_steps,
                warmup_begin_lr,
            } => write!(
                f,
                ":max_update={max_update},final_lr={final_lr:?},warmup_steps={warmup_steps},warmup_begin_lr={warmup_begin_lr:?}"
            ),
        }
    }
}

impl FromStr for LrSchedule {
    type Err = ScheduleError;

    /// `name` or `name:key=value,key=value`, e.g. `cosine:max_update=20,warmup_steps=5`;
    /// parameters left out take their defaults (see [`LrSchedule`]); the result is validated.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, params) = match s.split_once(':') {
            Some((name, params)) => (name.trim(), params),
            None => (s.trim(), ""),
        };
        let name = name.replace('-', "_");
        let allowed: &[&str] = match name.as_str() {
            "constant" => &[],
            "step" => &["step_size", "gamma"],
            "exponential" => &["gamma"],
            "inverse_time_decay" => &["decay"],
            "cosine" => &["max_update", "final_lr", "warmup_steps", "warmup_begin_lr"],
            _ => {
                // As the CLI spells them (either spelling is accepted).
                let names = Self::NAMES.map(|n| n.replace('_', "-"));
                return Err(ScheduleError::Unknown {
                    name,
                    expected: names.join(", "),
                });
            }
        };
        let mut values: Vec<(&str, &str)> = vec![];
        for pair in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(ScheduleError::parameter(format!(
                    "{name}: '{pair}' is not key=value (e.g. {name}:{}=...)",
                    allowed.first().unwrap_or(&"key")
                )));
            };
            let (key, value) = (key.trim(), value.trim());
            if !allowed.contains(&key) {
                return Err(ScheduleError::parameter(format!(
                    "{name} has no parameter '{key}' ({})",
                    if allowed.is_empty() {
                        "it takes none".to_string()
                    } else {
                        format!("its parameters: {}", allowed.join(", "))
                    }
                )));
            }
            if values.iter().any(|(k, _)| *k == key) {
                return Err(ScheduleError::parameter(format!(
                    "{name}: '{key}' is given twice"
                )));
            }
            values.push((key, value));
        }
        let get = |key: &str| values.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let float = |key: &str, default: Option<f64>| -> Result<f64, ScheduleError> {
            match get(key) {
                Some(v) => v.parse().map_err(|_| {
                    ScheduleError::parameter(format!("{name}: {key} must be a number, got '{v}'"))
                }),
                None => default.ok_or_else(|| {
                    ScheduleError::parameter(format!("{name} needs {key}, e.g. {name}:{key}=0.5"))
                }),
            }
        };
        let int = |key: &str, default: Option<usize>| -> Result<usize, ScheduleError> {
            match get(key) {
                Some(v) => v.parse().map_err(|_| {
                    ScheduleError::parameter(format!(
                        "{name}: {key} must be a whole number, got '{v}'"
                    ))
                }),
                None => default.ok_or_else(|| {
                    ScheduleError::parameter(format!("{name} needs {key}, e.g. {name}:{key}=10"))
                }),
            }
        };
        let schedule = match name.as_str() {
            "constant" => LrSchedule::Constant,
            "step" => LrSchedule::Step {
                step_size: int("step_size", None)?,
                gamma: float("gamma", Some(default_step_gamma()))?,
            },
            "exponential" => LrSchedule::Exponential {
                gamma: float("gamma", None)?,
            },
            "inverse_time_decay" => LrSchedule::InverseTimeDecay {
                decay: float("decay", None)?,
            },
            _ => LrSchedule::Cosine {
                max_update: int("max_update", None)?,
                final_lr: float("final_lr", Some(0.0))?,
                warmup_steps: int("warmup_steps", Some(0))?,
                warmup_begin_lr: float("warmup_begin_lr", Some(0.0))?,
            },
        };
        schedule.validate()?;
        Ok(schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal to within 2 ulps (libm's `cos`/`pow` may differ by an ulp across platforms).
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 2.0 * f64::EPSILON * a.abs().max(b.abs())
    }

    fn curve(schedule: &LrSchedule, base_lr: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|t| schedule.learning_rate(base_lr, t, 0, ScheduleUnit::Epoch))
            .collect()
    }

    fn assert_curve(schedule: &str, base_lr: f64, expected: &[f64]) {
        let schedule: LrSchedule = schedule.parse().unwrap();
        let got = curve(&schedule, base_lr, expected.len());
        for (t, (g, e)) in got.iter().zip(expected).enumerate() {
            assert!(close(*g, *e), "{schedule} t={t}: got {g}, expected {e}");
        }
    }

    /// d2l.ai §12.11's two plotted schedules (max_update 20, base_lr 0.3, final_lr 0.01, without
    /// and with 5 warm-up steps), as printed by d2l's `CosineScheduler` run in CPython 3.11.
    /// By hand: warm-up t = 1 is 0.3 · 1/5 = 0.06; without warm-up t = 10 is
    /// 0.01 + 0.29 · (1 + cos π/2)/2 = 0.155; with warm-up t = 10 is
    /// 0.01 + 0.29 · (1 + cos π/3)/2 = 0.2275 and t = 15 is 0.01 + 0.29 · (1 + cos 2π/3)/2 = 0.0825.
    #[test]
    fn cosine_matches_d2l() {
        assert_curve(
            "cosine:max_update=20,final_lr=0.01",
            0.3,
            &[
                0.3,
                0.29821480938629497,
                0.29290319486279726,
                0.2841959460073133,
                0.27230746418436735,
                0.25753048327204936,
                0.2402288615824086,
                0.22082862246223428,
                0.19980746418436737,
                0.1776829974308335,
                0.155,
                0.13231700256916656,
                0.11019253581563263,
                0.08917137753776572,
                0.0697711384175914,
                0.05246951672795062,
                0.03769253581563264,
                0.02580405399268667,
                0.01709680513720274,
                0.011785190613705039,
                0.01,
                0.01,
                0.01,
                0.01,
            ],
        );
        assert_curve(
            "cosine:max_update=20,final_lr=0.01,warmup_steps=5,warmup_begin_lr=0",
            0.3,
            &[
                0.0,
                0.06,
                0.12,
                0.18,
                0.24,
                0.3,
                0.2968314021064018,
                0.2874640913581771,
                0.27230746418436735,
                0.2520239379220344,
                0.22749999999999998,
                0.19980746418436737,
                0.17015662717380975,
                0.13984337282619028,
                0.11019253581563263,
                0.08250000000000002,
                0.0579760620779656,
                0.03769253581563264,
                0.02253590864182286,
                0.013168597893598175,
                0.01,
                0.01,
                0.01,
            ],
        );
        // The hand-derived values above, to 1e-15.
        let warm: LrSchedule = "cosine:max_update=20,final_lr=0.01,warmup_steps=5"
            .parse()
            .unwrap();
        let plain: LrSchedule = "cosine:max_update=20,final_lr=0.01".parse().unwrap();
        for (schedule, t, expected) in [
            (&warm, 1, 0.06),
            (&plain, 10, 0.155),
            (&warm, 10, 0.2275),
            (&warm, 15, 0.0825),
            (&warm, 20, 0.01),
            (&warm, 99, 0.01),
        ] {
            let got = schedule.learning_rate(0.3, 0, t, ScheduleUnit::Step);
            assert!((got - expected).abs() < 1e-15, "{schedule} t={t}: {got}");
        }
        // A warm-up that starts above zero and decays to 0: 0.1 → 0.5 over 4, then 0.25 at
        // the cosine's midpoint t = 7.
        assert_curve(
            "cosine:max_update=10,warmup_steps=4,warmup_begin_lr=0.1",
            0.5,
            &[
                0.1,
                0.2,
                0.30000000000000004,
                0.4,
                0.5,
                0.4665063509461097,
                0.375,
                0.25,
                0.12500000000000006,
                0.03349364905389032,
                0.0,
                0.0,
            ],
        );
    }

    #[test]
    fn closed_forms_match_pytorch_and_keras() {
        // StepLR(step_size=2, gamma=0.5): halves every 2 epochs.
        assert_curve(
            "step:step_size=2,gamma=0.5",
            0.3,
            &[0.3, 0.3, 0.15, 0.15, 0.075, 0.075, 0.0375],
        );
        // StepLR's default gamma 0.1.
        assert_curve("step:step_size=1", 1.0, &[1.0, 0.1, 0.01]);
        // ExponentialLR(gamma=0.9) and Keras' decay=0.01 (CPython: 0.1 * 0.9 ** t and
        // 0.1 * (1. / (1. + 0.01 * t))).
        assert_curve(
            "exponential:gamma=0.9",
            0.1,
            &[0.1, 0.09000000000000001, 0.08100000000000002, 0.0729],
        );
        let keras = LrSchedule::InverseTimeDecay { decay: 0.01 };
        let got: Vec<f64> = [0, 1, 100, 1000]
            .iter()
            .map(|&i| keras.learning_rate(0.1, 7, i, ScheduleUnit::Step))
            .collect();
        assert_eq!(got, [0.1, 0.09900990099009901, 0.05, 0.009090909090909092]);
        assert_curve("constant", 0.02, &[0.02, 0.02]);
    }

    #[test]
    fn the_unit_picks_the_counter() {
        let s: LrSchedule = "step:step_size=10,gamma=0.5".parse().unwrap();
        assert_eq!(s.learning_rate(1.0, 3, 25, ScheduleUnit::Epoch), 1.0);
        assert_eq!(s.learning_rate(1.0, 3, 25, ScheduleUnit::Step), 0.25);
        assert_eq!("step".parse::<ScheduleUnit>(), Ok(ScheduleUnit::Step));
        assert_eq!("epoch".parse::<ScheduleUnit>(), Ok(ScheduleUnit::Epoch));
        assert!(
            "batch"
                .parse::<ScheduleUnit>()
                .unwrap_err()
                .contains("expected epoch, step or epoch-end")
        );
        assert_eq!(ScheduleUnit::Step.to_string(), "step");
    }

    /// d2l's `train_ch11` sets the rate after each epoch: CosineScheduler(20, warmup_steps=5,
    /// base_lr=0.3, final_lr=0.01) gives epochs 1, 2, 3, ... the rates 0.3 (the trainer's),
    /// scheduler(0) = 0, scheduler(1) = 0.06, ...; ember's epoch unit gives 0, 0.06, ...
    #[test]
    fn epoch_end_lags_one_epoch_behind_with_the_base_rate_first() {
        let s: LrSchedule = "cosine:max_update=20,final_lr=0.01,warmup_steps=5"
            .parse()
            .unwrap();
        let rates = |unit| -> Vec<f64> {
            (0..4)
                .map(|completed| s.learning_rate(0.3, completed, 0, unit))
                .collect()
        };
        let epoch = rates(ScheduleUnit::Epoch);
        let end = rates(ScheduleUnit::EpochEnd);
        assert_eq!(end[0], 0.3);
        assert_eq!(end[1..], epoch[..3]);
        assert_eq!(epoch[0], 0.0);
        assert!((epoch[1] - 0.06).abs() < 1e-12);
        assert_eq!(
            "epoch-end".parse::<ScheduleUnit>(),
            Ok(ScheduleUnit::EpochEnd)
        );
    }

    #[test]
    fn parses_prints_and_round_trips() {
        for text in [
            "constant",
            "step:step_size=2,gamma=0.5",
            "exponential:gamma=0.95",
            "inverse_time_decay:decay=0.001",
            "cosine:max_update=20,final_lr=0.0,warmup_steps=5,warmup_begin_lr=0.0",
        ] {
            let s: LrSchedule = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
            let toml_like = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<LrSchedule>(&toml_like).unwrap(), s);
        }
        assert_eq!(
            "cosine:max_update=20".parse::<LrSchedule>().unwrap(),
            LrSchedule::Cosine {
                max_update: 20,
                final_lr: 0.0,
                warmup_steps: 0,
                warmup_begin_lr: 0.0
            }
        );
        assert_eq!(
            "inverse-time-decay: decay = 0.5"
                .parse::<LrSchedule>()
                .unwrap(),
            LrSchedule::InverseTimeDecay { decay: 0.5 }
        );
        assert_eq!(
            serde_json::to_string(&LrSchedule::Step {
                step_size: 3,
                gamma: 0.5
            })
            .unwrap(),
            r#"{"kind":"step","step_size":3,"gamma":0.5}"#
        );
        assert_eq!(
            serde_json::from_str::<LrSchedule>(r#"{"kind":"step","step_size":3}"#).unwrap(),
            LrSchedule::Step {
                step_size: 3,
                gamma: 0.1
            }
        );
        assert_eq!(LrSchedule::default(), LrSchedule::Constant);
    }

    #[test]
    fn bad_strings_give_one_line_errors() {
        for (text, expected) in [
            (
                "warm",
                "unknown learning-rate schedule 'warm' (expected one of: constant, step, exponential, inverse-time-decay, cosine)",
            ),
            ("step", "step needs step_size, e.g. step:step_size=10"),
            ("step:step_size=0", "step: step_size must be at least 1"),
            (
                "step:step_size=2.5",
                "step: step_size must be a whole number, got '2.5'",
            ),
            (
                "step:step_size=2,gamma=x",
                "step: gamma must be a number, got 'x'",
            ),
            (
                "step:step_size=2,gamma=0",
                "step: gamma must be a positive number, got 0",
            ),
            (
                "step:step_size=2,step_size=3",
                "step: 'step_size' is given twice",
            ),
            (
                "step:size=2",
                "step has no parameter 'size' (its parameters: step_size, gamma)",
            ),
            (
                "constant:gamma=1",
                "constant has no parameter 'gamma' (it takes none)",
            ),
            (
                "exponential:0.9",
                "exponential: '0.9' is not key=value (e.g. exponential:gamma=...)",
            ),
            (
                "exponential:gamma=inf",
                "exponential: gamma must be a positive number, got inf",
            ),
            (
                "inverse_time_decay:decay=-1",
                "inverse_time_decay: decay must be a non-negative number, got -1",
            ),
            (
                "cosine:final_lr=0",
                "cosine needs max_update, e.g. cosine:max_update=10",
            ),
            (
                "cosine:max_update=5,warmup_steps=5",
                "cosine: warmup_steps (5) must be below max_update (5)",
            ),
            (
                "cosine:max_update=0",
                "cosine: max_update must be at least 1",
            ),
            (
                "cosine:max_update=5,final_lr=-0.1",
                "cosine: final_lr must be a non-negative number, got -0.1",
            ),
        ] {
            assert_eq!(
                text.parse::<LrSchedule>().unwrap_err().to_string(),
                expected,
                "{text}"
            );
        }
    }
}
