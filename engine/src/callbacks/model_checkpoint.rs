//! Which checkpoints to write and which to delete: Keras 3 `ModelCheckpoint`
//! (`keras/src/callbacks/model_checkpoint.py`: `save_best_only`, `save_freq`, file-name
//! templates) with Lightning 2.6's selection policy (`lightning/pytorch/callbacks/
//! model_checkpoint.py`: `save_top_k`, `save_last`). The learner writes and deletes the files;
//! this module only decides.
//!
//! Policies, by configuration:
//! - neither `save_best_only` nor `save_top_k` (Keras' default): save at every save point
//!   under the formatted name (a repeated name overwrites); nothing is deleted.
//! - `save_best_only` (Keras): save only when the monitored value improves on the best so far
//!   (strictly; `initial_value_threshold` seeds the best); nothing is deleted, so a template
//!   without `{epoch}` keeps one file that is always the best. When the metric is missing,
//!   Keras warns and saves anyway; so does ember ([`SaveDecision::warning`]).
//! - `save_top_k = k` with a monitor (Lightning): keep the k best (-1: all) checkpoints; a new
//!   value enters when fewer than k are kept or when it is strictly better than the worst kept
//!   one, which is then deleted. NaN ranks as the worst value. A missing metric is an error
//!   (Lightning raises once validation has run).
//! - `save_top_k` without a monitor (Lightning): -1 keeps every checkpoint, 1 keeps only the
//!   latest, 0 none; other values are refused, as in Lightning.
//! - `save_top_k = 0`: nothing is saved (besides `last` at the end of training, below).
//!
//! Lightning's name versioning applies to the top-k policies: a name already kept (other than
//! the one about to be deleted) gets `-v1`, `-v2`, ... appended. `save_last` (Lightning 2.6):
//! a copy named [`LAST_NAME`] is written whenever a checkpoint is saved, and at the end of
//! training if none ever was ([`ModelCheckpoint::save_last_at_train_end`]). As in Lightning,
//! a second save point at the same global step is ignored.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{CallbackError, CallbackKind, Setting};
use super::monitor::{Mode, Monitor};
use super::template::check_template;
pub use super::template::format_filename;
use super::{Logs, exact_f64, monitored_value};

/// Name of the checkpoint `save_last` writes (Lightning's `CHECKPOINT_NAME_LAST`).
pub const LAST_NAME: &str = "last";

/// When checkpoints are considered (Keras' `save_freq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SaveFreq {
    /// At the end of every epoch (the default).
    #[default]
    Epoch,
    /// After every N optimizer steps, counted over the whole run (Keras counts batches across
    /// epochs the same way), and not at epoch ends.
    Steps(usize),
}

/// What `save_freq` must be, in its error.
const SAVE_FREQ_RANGE: &str = "'epoch' or a positive number of steps";

impl FromStr for SaveFreq {
    type Err = CallbackError;

    /// `"epoch"` or a positive number of steps.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "epoch" {
            return Ok(SaveFreq::Epoch);
        }
        match s.parse::<usize>() {
            Ok(n) if n > 0 => Ok(SaveFreq::Steps(n)),
            _ => Err(CallbackError::Invalid {
                setting: Setting::model_checkpoint("save_freq"),
                requirement: SAVE_FREQ_RANGE,
                value: format!("'{s}'"),
            }),
        }
    }
}

impl fmt::Display for SaveFreq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaveFreq::Epoch => f.write_str("epoch"),
            SaveFreq::Steps(n) => write!(f, "{n}"),
        }
    }
}

/// Serialized as Keras writes it: the string `"epoch"` or the number of steps.
impl Serialize for SaveFreq {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SaveFreq::Epoch => s.serialize_str("epoch"),
            SaveFreq::Steps(n) => s.serialize_u64(*n as u64),
        }
    }
}

impl<'de> Deserialize<'de> for SaveFreq {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Steps(u64),
            Text(String),
        }
        let text = match Repr::deserialize(d)? {
            Repr::Steps(n) => n.to_string(),
            Repr::Text(s) => s,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Settings of [`ModelCheckpoint`]. Defaults: Keras' (save every epoch, keep all), with
/// `filename` `"epoch{epoch:03d}"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelCheckpointConfig {
    /// File (or directory) name template, without extension; see [`format_filename`].
    pub filename: String,
    /// Metric that ranks checkpoints. `save_best_only` defaults it to `"val_loss"` (Keras'
    /// default); `save_top_k` above 1 requires it; otherwise it is unused.
    pub monitor: Option<String>,
    /// Direction of the monitored metric (default auto: from its name).
    pub mode: Mode,
    /// Keras: save only checkpoints that improve on the best so far.
    pub save_best_only: bool,
    /// Keras/Lightning: save only the weights, not the optimizer state (the learner acts on it).
    pub save_weights_only: bool,
    /// When checkpoints are considered.
    pub save_freq: SaveFreq,
    /// Lightning: keep the k best checkpoints (-1 all, 0 none); exclusive with
    /// `save_best_only`.
    pub save_top_k: Option<i64>,
    /// Lightning: also write [`LAST_NAME`] whenever a checkpoint is saved.
    pub save_last: bool,
    /// Keras: the value `save_best_only` must beat first (default none).
    pub initial_value_threshold: Option<f64>,
}

impl Default for ModelCheckpointConfig {
    fn default() -> Self {
        Self {
            filename: "epoch{epoch:03d}".into(),
            monitor: None,
            mode: Mode::Auto,
            save_best_only: false,
            save_weights_only: false,
            save_freq: SaveFreq::Epoch,
            save_top_k: None,
            save_last: false,
            initial_value_threshold: None,
        }
    }
}

/// A checkpoint the callback saved and still keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    /// Its name (formatted template, maybe with a `-vN` version), without extension.
    pub name: String,
    /// The monitored value it was ranked by (NaN stored as the worst value, as Lightning);
    /// none without a monitor.
    #[serde(with = "exact_f64::option", default)]
    pub value: Option<f64>,
    /// Epoch (1-based) in which it was saved.
    pub epoch: usize,
    /// Optimizer steps done when it was saved.
    pub step: usize,
}

/// The mutable state of [`ModelCheckpoint`], stored in checkpoints.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelCheckpointState {
    /// Keras `save_best_only`: the best monitored value so far.
    #[serde(with = "exact_f64::option")]
    pub best: Option<f64>,
    /// The checkpoints saved and not deleted, in the order they were saved (Lightning's
    /// `best_k_models`; its order breaks ties when choosing which to delete).
    pub kept: Vec<Kept>,
    /// The global step of the last save (Lightning's `_last_global_step_saved`).
    pub last_saved_step: Option<usize>,
}

/// What the learner does at a save point.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SaveDecision {
    /// Save a checkpoint under this name (no extension), overwriting one of the same name.
    pub save_as: Option<String>,
    /// Delete these previously saved checkpoints (they left the top k).
    pub remove: Vec<String>,
    /// Also save (overwrite) the checkpoint named [`LAST_NAME`].
    pub save_last: bool,
    /// A warning to show the user (Keras warns instead of failing in some cases).
    pub warning: Option<String>,
}

/// The selection policy, resolved from the configuration.
#[derive(Clone, Debug, PartialEq)]
enum Policy {
    /// Save at every save point.
    Every,
    /// Keras `save_best_only`.
    BestOnly(Monitor),
    /// Lightning `save_top_k` with a monitor; -1 keeps all.
    TopK(i64, Monitor),
    /// Lightning `save_top_k` without a monitor: -1 all, 1 the latest, 0 none.
    Latest(i64),
}

/// Keras `ModelCheckpoint` with Lightning's `save_top_k` and `save_last`; see the module
/// documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelCheckpoint {
    /// The settings.
    pub config: ModelCheckpointConfig,
    /// The state a checkpoint stores.
    pub state: ModelCheckpointState,
    policy: Policy,
}

impl ModelCheckpoint {
    /// A fresh callback; the best value starts at `initial_value_threshold`.
    ///
    /// # Errors
    /// See [`ModelCheckpoint::with_state`].
    pub fn new(config: ModelCheckpointConfig) -> Result<Self, CallbackError> {
        let state = ModelCheckpointState {
            best: config.initial_value_threshold,
            ..Default::default()
        };
        Self::with_state(config, state)
    }

    /// A callback continuing from `state` (read from a checkpoint).
    ///
    /// # Errors
    /// A malformed template, `save_freq` of 0 steps, `save_top_k` below -1, `save_best_only`
    /// together with `save_top_k`, `save_top_k` above 1 without a monitor, a monitor auto
    /// mode cannot place, or a non-finite `initial_value_threshold`.
    pub fn with_state(
        config: ModelCheckpointConfig,
        state: ModelCheckpointState,
    ) -> Result<Self, CallbackError> {
        check_template(&config.filename)?;
        if config.save_freq == SaveFreq::Steps(0) {
            return Err(CallbackError::Invalid {
                setting: Setting::model_checkpoint("save_freq"),
                requirement: SAVE_FREQ_RANGE,
                value: "0".into(),
            });
        }
        if let Some(v) = config.initial_value_threshold
            && !v.is_finite()
        {
            return Err(CallbackError::Invalid {
                setting: Setting::model_checkpoint("initial_value_threshold"),
                requirement: "a finite number",
                value: v.to_string(),
            });
        }
        let monitor =
            |name: &str| Monitor::new(CallbackKind::ModelCheckpoint, name, config.mode, 0.0);
        let policy = match (config.save_top_k, config.save_best_only) {
            (Some(_), true) => {
                return Err(CallbackError::Exclusive {
                    first: Setting::model_checkpoint("save_best_only"),
                    second: Setting::model_checkpoint("save_top_k"),
                    why: "both choose which checkpoints to keep",
                });
            }
            (Some(k), false) if k < -1 => {
                return Err(CallbackError::Invalid {
                    setting: Setting::model_checkpoint("save_top_k"),
                    requirement: "-1 (keep all), 0 (none) or a positive count",
                    value: k.to_string(),
                });
            }
            (Some(k), false) => match &config.monitor {
                Some(name) => Policy::TopK(k, monitor(name)?),
                None if matches!(k, -1..=1) => Policy::Latest(k),
                None => return Err(CallbackError::TopKWithoutMonitor { k }),
            },
            (None, true) => {
                Policy::BestOnly(monitor(config.monitor.as_deref().unwrap_or("val_loss"))?)
            }
            (None, false) => Policy::Every,
        };
        Ok(Self {
            config,
            state,
            policy,
        })
    }

    /// The monitored metric, if the policy ranks checkpoints.
    pub fn monitor(&self) -> Option<&Monitor> {
        match &self.policy {
            Policy::BestOnly(m) | Policy::TopK(_, m) => Some(m),
            Policy::Every | Policy::Latest(_) => None,
        }
    }

    /// Whether the learner calls [`ModelCheckpoint::on_save_point`] at epoch ends.
    pub fn on_epoch(&self) -> bool {
        self.config.save_freq == SaveFreq::Epoch
    }

    /// Whether the learner calls [`ModelCheckpoint::on_save_point`] after the step that
    /// brought the run's step count to `global_step` (every N steps over the whole run).
    pub fn should_save_at_step(&self, global_step: usize) -> bool {
        match self.config.save_freq {
            SaveFreq::Steps(n) => global_step > 0 && global_step.is_multiple_of(n),
            SaveFreq::Epoch => false,
        }
    }

    /// Whether to write [`LAST_NAME`] at the end of training: `save_last` is on and no
    /// checkpoint was ever saved (Lightning's `on_train_end`).
    pub fn save_last_at_train_end(&self) -> bool {
        self.config.save_last && self.state.last_saved_step.is_none()
    }

    /// Decides a save point in `epoch` (1-based) after `step` optimizer steps, with the
    /// metrics `logs` (the epoch's at epoch ends; the running training metrics at step save
    /// points). Updates the kept table as if the learner carries the decision out.
    ///
    /// # Errors
    /// The template names a value that is not available, or the top-k monitor is missing
    /// from `logs`.
    pub fn on_save_point(
        &mut self,
        epoch: usize,
        step: usize,
        logs: &Logs,
    ) -> Result<SaveDecision, CallbackError> {
        let mut decision = SaveDecision::default();
        if self.state.last_saved_step == Some(step) {
            return Ok(decision);
        }
        let formatted = format_filename(&self.config.filename, epoch, step, logs)?;
        let kept = |name: String, value: Option<f64>| Kept {
            name,
            value,
            epoch,
            step,
        };
        match &self.policy {
            Policy::Every => {
                self.state.kept.retain(|k| k.name != formatted);
                self.state.kept.push(kept(formatted.clone(), None));
                decision.save_as = Some(formatted);
            }
            Policy::BestOnly(monitor) => match monitor.value(logs) {
                None => {
                    let available: Vec<&str> = logs.keys().map(String::as_str).collect();
                    decision.warning = Some(format!(
                        "can save the best checkpoint only with '{}' available (the metrics are: {}); saving this one anyway, as Keras does",
                        monitor.monitor,
                        available.join(", ")
                    ));
                    self.state.kept.retain(|k| k.name != formatted);
                    self.state.kept.push(kept(formatted.clone(), None));
                    decision.save_as = Some(formatted);
                }
                Some(current) => {
                    if monitor.is_improvement(current, self.state.best) {
                        self.state.best = Some(current);
                        self.state.kept.retain(|k| k.name != formatted);
                        self.state.kept.push(kept(formatted.clone(), Some(current)));
                        decision.save_as = Some(formatted);
                    }
                }
            },
            Policy::TopK(0, _) | Policy::Latest(0) => {}
            Policy::TopK(k, monitor) => {
                let k = *k;
                let current = monitored_value(
                    "the checkpoint top-k ranking",
                    Setting::model_checkpoint("monitor"),
                    &monitor.monitor,
                    logs,
                )?;
                let worst = self.worst_kept(monitor);
                let enters = k == -1
                    || (self.state.kept.len() as i64) < k
                    || worst.is_some_and(|i| {
                        let kth = self.state.kept[i]
                            .value
                            .expect("ranked checkpoints have values");
                        monitor.better(current, kth)
                    });
                if enters {
                    // Lightning's `_update_best_and_save`.
                    let mut deleted = None;
                    if k != -1 && self.state.kept.len() as i64 == k {
                        let i = worst.expect("a full table has a worst entry");
                        deleted = Some(self.state.kept.remove(i).name);
                    }
                    let value = if current.is_nan() {
                        Some(if monitor.mode == Mode::Max {
                            f64::NEG_INFINITY
                        } else {
                            f64::INFINITY
                        })
                    } else {
                        Some(current)
                    };
                    let name = self.versioned(formatted, deleted.as_deref());
                    self.state.kept.push(kept(name.clone(), value));
                    if let Some(deleted) = deleted
                        && deleted != name
                    {
                        decision.remove.push(deleted);
                    }
                    decision.save_as = Some(name);
                }
            }
            Policy::Latest(k) => {
                // Lightning's `_save_none_monitor_checkpoint`: the previous save may be
                // overwritten, and with k = 1 it is deleted.
                let previous = self.state.kept.last().map(|p| p.name.clone());
                let name = self.versioned(formatted, previous.as_deref());
                if *k == 1 {
                    self.state.kept.clear();
                    if let Some(previous) = previous
                        && previous != name
                    {
                        decision.remove.push(previous);
                    }
                } else {
                    self.state.kept.retain(|k| k.name != name);
                }
                self.state.kept.push(kept(name.clone(), None));
                decision.save_as = Some(name);
            }
        }
        if decision.save_as.is_some() {
            self.state.last_saved_step = Some(step);
            decision.save_last = self.config.save_last;
        }
        Ok(decision)
    }

    /// Index of the worst kept checkpoint: the first (in saving order) of the largest values
    /// in min mode, of the smallest in max mode (Python's `max`/`min` over Lightning's
    /// insertion-ordered `best_k_models`).
    fn worst_kept(&self, monitor: &Monitor) -> Option<usize> {
        let mut worst: Option<(usize, f64)> = None;
        for (i, k) in self.state.kept.iter().enumerate() {
            let v = k.value.expect("ranked checkpoints have values");
            if worst.is_none_or(|(_, w)| monitor.better(w, v)) {
                worst = Some((i, v));
            }
        }
        worst.map(|(i, _)| i)
    }

    /// Lightning's version counter: `name`, or `name-v1`, `name-v2`, ... if a kept checkpoint
    /// other than `replaced` already has that name.
    fn versioned(&self, name: String, replaced: Option<&str>) -> String {
        let taken = |candidate: &str| {
            Some(candidate) != replaced && self.state.kept.iter().any(|k| k.name == candidate)
        };
        if !taken(&name) {
            return name;
        }
        (1..)
            .map(|v| format!("{name}-v{v}"))
            .find(|candidate| !taken(candidate))
            .expect("some version is free")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted run: save points `(epoch, step, monitored value)` and, per point, the
    /// expected `(save_as, remove)`; then the names kept at the end.
    struct Case {
        name: &'static str,
        config: ModelCheckpointConfig,
        metric: &'static str,
        points: Vec<(usize, usize, f64)>,
        expected: Vec<(Option<&'static str>, Vec<&'static str>)>,
        kept: Vec<&'static str>,
    }

    fn config(filename: &str) -> ModelCheckpointConfig {
        ModelCheckpointConfig {
            filename: filename.into(),
            ..Default::default()
        }
    }

    fn top_k(filename: &str, k: i64, monitor: Option<&str>) -> ModelCheckpointConfig {
        ModelCheckpointConfig {
            save_top_k: Some(k),
            monitor: monitor.map(String::from),
            ..config(filename)
        }
    }

    fn epochs(values: &[f64]) -> Vec<(usize, usize, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i + 1, (i + 1) * 100, v))
            .collect()
    }

    fn saves(names: &[Option<&'static str>]) -> Vec<(Option<&'static str>, Vec<&'static str>)> {
        names.iter().map(|&n| (n, vec![])).collect()
    }

    /// Each case traced by hand through Keras' `_save_model` / Lightning's
    /// `_save_topk_checkpoint`.
    fn cases() -> Vec<Case> {
        vec![
            Case {
                name: "Keras default: every epoch, nothing deleted",
                config: ModelCheckpointConfig::default(),
                metric: "val_loss",
                points: epochs(&[0.5, 0.6, 0.4]),
                expected: saves(&[Some("epoch001"), Some("epoch002"), Some("epoch003")]),
                kept: vec!["epoch001", "epoch002", "epoch003"],
            },
            Case {
                name: "Keras save_best_only: strict improvements overwrite one file",
                config: ModelCheckpointConfig {
                    save_best_only: true,
                    ..config("best")
                },
                metric: "val_loss",
                points: epochs(&[0.5, 0.6, 0.4, 0.4, 0.3]),
                expected: saves(&[Some("best"), None, Some("best"), None, Some("best")]),
                kept: vec!["best"],
            },
            Case {
                name: "Keras save_best_only on accuracy with {epoch} keeps every improvement",
                config: ModelCheckpointConfig {
                    save_best_only: true,
                    monitor: Some("val_accuracy".into()),
                    ..config("e{epoch}-{val_accuracy:.2f}")
                },
                metric: "val_accuracy",
                points: epochs(&[0.8, 0.9, 0.85, 0.95]),
                expected: saves(&[Some("e1-0.80"), Some("e2-0.90"), None, Some("e4-0.95")]),
                kept: vec!["e1-0.80", "e2-0.90", "e4-0.95"],
            },
            Case {
                name: "Keras initial_value_threshold seeds the best",
                config: ModelCheckpointConfig {
                    save_best_only: true,
                    initial_value_threshold: Some(0.45),
                    ..config("e{epoch}")
                },
                metric: "val_loss",
                points: epochs(&[0.5, 0.45, 0.4]),
                expected: saves(&[None, None, Some("e3")]),
                kept: vec!["e3"],
            },
            Case {
                // e3 (0.45) beats the worst kept (e1, 0.5), which goes; e4 (0.3) pushes out
                // e3; 0.6 does not enter; e6 (0.35) pushes out e2 (0.4).
                name: "Lightning top-2 by val_loss",
                config: top_k("e{epoch}", 2, Some("val_loss")),
                metric: "val_loss",
                points: epochs(&[0.5, 0.4, 0.45, 0.3, 0.6, 0.35]),
                expected: vec![
                    (Some("e1"), vec![]),
                    (Some("e2"), vec![]),
                    (Some("e3"), vec!["e1"]),
                    (Some("e4"), vec!["e3"]),
                    (None, vec![]),
                    (Some("e6"), vec!["e2"]),
                ],
                kept: vec!["e4", "e6"],
            },
            Case {
                // An equal value does not enter; among equal worst values the first saved
                // goes (Python's max over an insertion-ordered dict).
                name: "top-k ties",
                config: top_k("e{epoch}", 2, Some("val_loss")),
                metric: "val_loss",
                points: epochs(&[0.5, 0.5, 0.5, 0.4]),
                expected: vec![
                    (Some("e1"), vec![]),
                    (Some("e2"), vec![]),
                    (None, vec![]),
                    (Some("e4"), vec!["e1"]),
                ],
                kept: vec!["e2", "e4"],
            },
            Case {
                name: "top-1 in max mode, NaN never enters a full table",
                config: top_k("e{epoch}", 1, Some("val_accuracy")),
                metric: "val_accuracy",
                points: epochs(&[0.8, 0.9, 0.85, f64::NAN]),
                expected: vec![
                    (Some("e1"), vec![]),
                    (Some("e2"), vec!["e1"]),
                    (None, vec![]),
                    (None, vec![]),
                ],
                kept: vec!["e2"],
            },
            Case {
                // NaN enters while the table has room, ranked worst (+inf in min mode).
                name: "NaN ranks worst",
                config: top_k("e{epoch}", 2, Some("val_loss")),
                metric: "val_loss",
                points: epochs(&[f64::NAN, 0.5, 0.6]),
                expected: vec![
                    (Some("e1"), vec![]),
                    (Some("e2"), vec![]),
                    (Some("e3"), vec!["e1"]),
                ],
                kept: vec!["e2", "e3"],
            },
            Case {
                name: "top-k -1 keeps all",
                config: top_k("e{epoch}", -1, Some("val_loss")),
                metric: "val_loss",
                points: epochs(&[0.5, 0.6, 0.4]),
                expected: saves(&[Some("e1"), Some("e2"), Some("e3")]),
                kept: vec!["e1", "e2", "e3"],
            },
            Case {
                name: "top-k 0 saves nothing",
                config: top_k("e{epoch}", 0, Some("val_loss")),
                metric: "val_loss",
                points: epochs(&[0.5, 0.4]),
                expected: saves(&[None, None]),
                kept: vec![],
            },
            Case {
                name: "top-1 without monitor keeps the latest",
                config: top_k("e{epoch}", 1, None),
                metric: "val_loss",
                points: epochs(&[0.5, 0.4, 0.6]),
                expected: vec![
                    (Some("e1"), vec![]),
                    (Some("e2"), vec!["e1"]),
                    (Some("e3"), vec!["e2"]),
                ],
                kept: vec!["e3"],
            },
            Case {
                name: "top-1 without monitor and a fixed name overwrites",
                config: top_k("model", 1, None),
                metric: "val_loss",
                points: epochs(&[0.5, 0.4]),
                expected: saves(&[Some("model"), Some("model")]),
                kept: vec!["model"],
            },
            Case {
                // Every 2 steps within epoch 1, then epoch 2: the previous save's name may be
                // overwritten, an older one gets a version.
                name: "top -1 without monitor: step saves reuse the previous name",
                config: ModelCheckpointConfig {
                    save_freq: SaveFreq::Steps(2),
                    ..top_k("e{epoch}", -1, None)
                },
                metric: "loss",
                points: vec![(1, 2, 0.9), (1, 4, 0.8), (2, 6, 0.7)],
                expected: saves(&[Some("e1"), Some("e1"), Some("e2")]),
                kept: vec!["e1", "e2"],
            },
            Case {
                name: "top-k versions repeated names",
                config: ModelCheckpointConfig {
                    save_freq: SaveFreq::Steps(2),
                    ..top_k("e{epoch}", 3, Some("loss"))
                },
                metric: "loss",
                points: vec![(1, 2, 0.9), (1, 4, 0.8), (1, 6, 0.7), (1, 8, 0.6)],
                expected: vec![
                    (Some("e1"), vec![]),
                    (Some("e1-v1"), vec![]),
                    (Some("e1-v2"), vec![]),
                    // The worst (e1, 0.9) leaves, so its name is free again.
                    (Some("e1"), vec![]),
                ],
                kept: vec!["e1-v1", "e1-v2", "e1"],
            },
            Case {
                name: "a second save point at the same step is ignored",
                config: ModelCheckpointConfig::default(),
                metric: "loss",
                points: vec![(1, 100, 0.5), (1, 100, 0.5), (2, 200, 0.4)],
                expected: saves(&[Some("epoch001"), None, Some("epoch002")]),
                kept: vec!["epoch001", "epoch002"],
            },
        ]
    }

    fn logs(metric: &str, value: f64) -> Logs {
        [(metric.to_string(), value), ("loss_other".to_string(), 1.0)].into()
    }

    #[test]
    fn scripted_runs_follow_keras_and_lightning() {
        for case in cases() {
            let mut mc = ModelCheckpoint::new(case.config.clone()).unwrap();
            for (i, &(epoch, step, value)) in case.points.iter().enumerate() {
                let d = mc
                    .on_save_point(epoch, step, &logs(case.metric, value))
                    .unwrap();
                let (save_as, remove) = &case.expected[i];
                assert_eq!(d.save_as.as_deref(), *save_as, "{}: point {i}", case.name);
                assert_eq!(d.remove, *remove, "{}: point {i}", case.name);
                assert!(!d.save_last, "{}", case.name);
                assert_eq!(d.warning, None, "{}", case.name);
            }
            let kept: Vec<&str> = mc.state.kept.iter().map(|k| k.name.as_str()).collect();
            assert_eq!(kept, case.kept, "{}: kept", case.name);
        }
    }

    /// Cut anywhere, serialize the state to JSON, continue with a rebuilt callback: the same
    /// decisions and the same final state as the uninterrupted run.
    #[test]
    fn resumed_state_continues_identically() {
        for case in cases() {
            let run =
                |mc: &mut ModelCheckpoint, points: &[(usize, usize, f64)]| -> Vec<SaveDecision> {
                    points
                        .iter()
                        .map(|&(e, s, v)| mc.on_save_point(e, s, &logs(case.metric, v)).unwrap())
                        .collect()
                };
            let mut whole = ModelCheckpoint::new(case.config.clone()).unwrap();
            let all = run(&mut whole, &case.points);
            for cut in 0..=case.points.len() {
                let mut first = ModelCheckpoint::new(case.config.clone()).unwrap();
                run(&mut first, &case.points[..cut]);
                let json = serde_json::to_string(&first.state).unwrap();
                let config_json = serde_json::to_string(&case.config).unwrap();
                let mut resumed = ModelCheckpoint::with_state(
                    serde_json::from_str(&config_json).unwrap(),
                    serde_json::from_str(&json).unwrap(),
                )
                .unwrap();
                assert_eq!(
                    run(&mut resumed, &case.points[cut..]),
                    all[cut..],
                    "{}: cut {cut}",
                    case.name
                );
                assert_eq!(resumed.state, whole.state, "{}: cut {cut}", case.name);
            }
        }
    }

    #[test]
    fn save_last_follows_lightning_2_6() {
        let mut mc = ModelCheckpoint::new(ModelCheckpointConfig {
            save_last: true,
            ..top_k("e{epoch}", 1, Some("val_loss"))
        })
        .unwrap();
        assert!(mc.save_last_at_train_end());
        // `last` is written only together with a saved checkpoint.
        let flags: Vec<bool> = [0.5, 0.6, 0.4]
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                mc.on_save_point(i + 1, i + 1, &logs("val_loss", v))
                    .unwrap()
                    .save_last
            })
            .collect();
        assert_eq!(flags, [true, false, true]);
        assert!(!mc.save_last_at_train_end());
        // With top-k 0 nothing is saved, so `last` is written at the end of training.
        let mut none = ModelCheckpoint::new(ModelCheckpointConfig {
            save_last: true,
            ..top_k("e{epoch}", 0, None)
        })
        .unwrap();
        assert_eq!(
            none.on_save_point(1, 1, &logs("val_loss", 0.5)).unwrap(),
            SaveDecision::default()
        );
        assert!(none.save_last_at_train_end());
        let off = ModelCheckpoint::new(ModelCheckpointConfig::default()).unwrap();
        assert!(!off.save_last_at_train_end());
    }

    #[test]
    fn missing_monitor_warns_for_keras_and_fails_for_top_k() {
        let mut keras = ModelCheckpoint::new(ModelCheckpointConfig {
            save_best_only: true,
            save_freq: SaveFreq::Steps(10),
            ..config("s{step}")
        })
        .unwrap();
        assert_eq!(keras.monitor().unwrap().monitor, "val_loss");
        let d = keras.on_save_point(1, 10, &logs("loss", 0.5)).unwrap();
        assert_eq!(d.save_as.as_deref(), Some("s10"));
        assert_eq!(
            d.warning.as_deref(),
            Some(
                "can save the best checkpoint only with 'val_loss' available (the metrics are: loss, loss_other); saving this one anyway, as Keras does"
            )
        );
        let mut lightning = ModelCheckpoint::new(top_k("e{epoch}", 2, Some("val_loss"))).unwrap();
        assert_eq!(
            lightning
                .on_save_point(1, 10, &logs("loss", 0.5))
                .unwrap_err()
                .to_string(),
            "the checkpoint top-k ranking monitors 'val_loss', which is not among the metrics (loss, loss_other); pass ModelCheckpointConfig.monitor with one of them"
        );
        let err = lightning.on_save_point(1, 10, &logs("val_loss", 0.5));
        assert!(err.is_ok());
        let mut bad_template = ModelCheckpoint::new(config("{val_acc:.2f}")).unwrap();
        assert!(
            bad_template
                .on_save_point(1, 1, &logs("val_loss", 0.5))
                .unwrap_err()
                .to_string()
                .contains("{val_acc}")
        );
    }

    #[test]
    fn configuration_errors_are_one_line() {
        let cases = [
            (
                top_k("e", 2, None),
                "ModelCheckpointConfig.save_top_k 2 needs ModelCheckpointConfig.monitor to rank checkpoints (without one only -1, 0 or 1 are valid, as in Lightning)",
            ),
            (
                top_k("e", -2, Some("val_loss")),
                "ModelCheckpointConfig.save_top_k must be -1 (keep all), 0 (none) or a positive count, got -2",
            ),
            (
                ModelCheckpointConfig {
                    save_best_only: true,
                    ..top_k("e", 1, Some("val_loss"))
                },
                "ModelCheckpointConfig.save_best_only and ModelCheckpointConfig.save_top_k both choose which checkpoints to keep; pass only one",
            ),
            (
                ModelCheckpointConfig {
                    save_freq: SaveFreq::Steps(0),
                    ..Default::default()
                },
                "ModelCheckpointConfig.save_freq must be 'epoch' or a positive number of steps, got 0",
            ),
            (
                ModelCheckpointConfig {
                    initial_value_threshold: Some(f64::INFINITY),
                    ..Default::default()
                },
                "ModelCheckpointConfig.initial_value_threshold must be a finite number, got inf",
            ),
            (
                top_k("e", 1, Some("learning_rate")),
                "ModelCheckpointConfig.mode auto cannot tell whether 'learning_rate' should go up or down; pass ModelCheckpointConfig.mode min or ModelCheckpointConfig.mode max",
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(
                ModelCheckpoint::new(config).unwrap_err().to_string(),
                expected
            );
        }
        assert!(
            ModelCheckpoint::new(config("e}"))
                .unwrap_err()
                .to_string()
                .contains("single '}'")
        );
        assert!(ModelCheckpoint::new(config("")).is_err());
    }

    #[test]
    fn save_freq_parses_schedules_and_serializes_like_keras() {
        assert_eq!("epoch".parse(), Ok(SaveFreq::Epoch));
        assert_eq!("250".parse(), Ok(SaveFreq::Steps(250)));
        for bad in ["0", "-1", "epochs", ""] {
            assert!(
                bad.parse::<SaveFreq>()
                    .unwrap_err()
                    .to_string()
                    .starts_with("ModelCheckpointConfig.save_freq must be"),
                "{bad}"
            );
        }
        assert_eq!(
            serde_json::to_string(&SaveFreq::Epoch).unwrap(),
            r#""epoch""#
        );
        assert_eq!(serde_json::to_string(&SaveFreq::Steps(5)).unwrap(), "5");
        assert_eq!(
            serde_json::from_str::<SaveFreq>("5").unwrap(),
            SaveFreq::Steps(5)
        );
        assert_eq!(
            serde_json::from_str::<SaveFreq>(r#""7""#).unwrap(),
            SaveFreq::Steps(7)
        );
        assert!(serde_json::from_str::<SaveFreq>("0").is_err());
        assert_eq!(SaveFreq::Steps(3).to_string(), "3");

        let every_3 = ModelCheckpoint::new(ModelCheckpointConfig {
            save_freq: SaveFreq::Steps(3),
            ..Default::default()
        })
        .unwrap();
        let steps: Vec<usize> = (0..=10)
            .filter(|&s| every_3.should_save_at_step(s))
            .collect();
        assert_eq!(steps, [3, 6, 9]);
        assert!(!every_3.on_epoch());
        let per_epoch = ModelCheckpoint::new(ModelCheckpointConfig::default()).unwrap();
        assert!(per_epoch.on_epoch() && !per_epoch.should_save_at_step(3));

        let config: ModelCheckpointConfig =
            serde_json::from_str(r#"{"save_top_k": 3, "monitor": "val_loss", "save_freq": 100}"#)
                .unwrap();
        assert_eq!(config.save_freq, SaveFreq::Steps(100));
        assert_eq!(config.filename, "epoch{epoch:03d}");
    }
}
