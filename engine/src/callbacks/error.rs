//! The callbacks' errors, typed: each names the setting to change as a [`Setting`] (the
//! callback and its configuration field), not as any application spells it.
//!
//! [`CallbackError`]'s `Display` names a setting by its Rust path
//! (`ModelCheckpointConfig.save_top_k must be ...`); an application that sets these fields from
//! flags or a file renders the same error with its own names through
//! [`CallbackError::message`] (the `train` command: `--save-top-k must be ...`).

use std::fmt;

/// The callback a setting belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallbackKind {
    /// [`super::early_stopping::EarlyStopping`].
    EarlyStopping,
    /// [`super::model_checkpoint::ModelCheckpoint`].
    ModelCheckpoint,
    /// [`super::plateau::ReduceLrOnPlateau`].
    ReduceLrOnPlateau,
}

impl CallbackKind {
    /// The name of its configuration struct, e.g. `EarlyStoppingConfig`.
    pub fn config_name(self) -> &'static str {
        match self {
            Self::EarlyStopping => "EarlyStoppingConfig",
            Self::ModelCheckpoint => "ModelCheckpointConfig",
            Self::ReduceLrOnPlateau => "ReduceLrOnPlateauConfig",
        }
    }
}

/// One setting of a callback: its configuration struct's field `field` (e.g. `save_top_k`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Setting {
    /// The callback.
    pub callback: CallbackKind,
    /// The field of its configuration struct.
    pub field: &'static str,
}

impl Setting {
    /// [`CallbackKind::EarlyStopping`]'s `field`.
    pub const fn early_stopping(field: &'static str) -> Self {
        Self {
            callback: CallbackKind::EarlyStopping,
            field,
        }
    }

    /// [`CallbackKind::ModelCheckpoint`]'s `field`.
    pub const fn model_checkpoint(field: &'static str) -> Self {
        Self {
            callback: CallbackKind::ModelCheckpoint,
            field,
        }
    }

    /// [`CallbackKind::ReduceLrOnPlateau`]'s `field`.
    pub const fn plateau(field: &'static str) -> Self {
        Self {
            callback: CallbackKind::ReduceLrOnPlateau,
            field,
        }
    }

    /// The setting's Rust path, e.g. `ModelCheckpointConfig.save_top_k`: how [`CallbackError`]'s
    /// `Display` names it.
    pub fn path(self) -> String {
        format!("{}.{}", self.callback.config_name(), self.field)
    }
}

/// Why a callback cannot be built from its configuration or cannot act on an epoch's metrics.
/// Each message is one line.
#[derive(Clone, Debug, PartialEq)]
pub enum CallbackError {
    /// A value outside its range: "`setting` must be `requirement`, got `value`".
    Invalid {
        /// The setting.
        setting: Setting,
        /// What it must be, e.g. "a finite number".
        requirement: &'static str,
        /// The value given, as written in the message.
        value: String,
    },
    /// Two settings that do the same job, both given.
    Exclusive {
        /// The first.
        first: Setting,
        /// The second.
        second: Setting,
        /// What both do, e.g. "both choose which checkpoints to keep".
        why: &'static str,
    },
    /// `save_top_k` above 1 with no metric to rank by (Lightning's rule).
    TopKWithoutMonitor {
        /// The `save_top_k` given.
        k: i64,
    },
    /// An empty metric name.
    EmptyMonitor {
        /// The `monitor` setting.
        setting: Setting,
    },
    /// Mode `auto` cannot tell the direction of the metric from its name.
    UnknownDirection {
        /// The `mode` setting.
        setting: Setting,
        /// The metric.
        monitor: String,
    },
    /// The monitored metric is not among those logged (Lightning's `strict=True`).
    MissingMetric {
        /// The `monitor` setting.
        setting: Setting,
        /// The callback, as its messages name it (e.g. "the checkpoint top-k ranking").
        who: &'static str,
        /// The metric.
        monitor: String,
        /// The metrics that are logged, sorted.
        available: Vec<String>,
    },
    /// An empty checkpoint file-name template.
    EmptyTemplate {
        /// The `filename` setting.
        setting: Setting,
    },
    /// A template that does not parse or cannot be filled (the message says which part).
    Template(String),
}

impl CallbackError {
    /// The message, with each setting named by `name` (an application's flag or key).
    pub fn message(&self, name: &dyn Fn(Setting) -> String) -> String {
        match self {
            Self::Invalid {
                setting,
                requirement,
                value,
            } => format!("{} must be {requirement}, got {value}", name(*setting)),
            Self::Exclusive { first, second, why } => {
                format!(
                    "{} and {} {why}; pass only one",
                    name(*first),
                    name(*second)
                )
            }
            Self::TopKWithoutMonitor { k } => format!(
                "{} {k} needs {} to rank checkpoints (without one only -1, 0 or 1 are valid, as in Lightning)",
                name(Setting::model_checkpoint("save_top_k")),
                name(Setting::model_checkpoint("monitor"))
            ),
            Self::EmptyMonitor { setting } => {
                format!("{} must name a metric, e.g. val_loss", name(*setting))
            }
            Self::UnknownDirection { setting, monitor } => format!(
                "{m} auto cannot tell whether '{monitor}' should go up or down; pass {m} min or {m} max",
                m = name(*setting)
            ),
            Self::MissingMetric {
                setting,
                who,
                monitor,
                available,
            } => format!(
                "{who} monitors '{monitor}', which is not among the metrics ({}); pass {} with one of them",
                if available.is_empty() {
                    "none logged".to_string()
                } else {
                    available.join(", ")
                },
                name(*setting)
            ),
            Self::EmptyTemplate { setting } => format!(
                "the checkpoint file name template is empty; pass e.g. {} 'epoch{{epoch:03d}}'",
                name(*setting)
            ),
            Self::Template(message) => message.clone(),
        }
    }
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(&|setting| setting.path()))
    }
}

impl std::error::Error for CallbackError {}

impl From<CallbackError> for String {
    /// The message with the settings' Rust paths, for the callbacks' `Result<_, String>` hooks.
    fn from(e: CallbackError) -> Self {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_is_named_by_its_path_or_by_the_application() {
        let e = CallbackError::Invalid {
            setting: Setting::plateau("factor"),
            requirement: "in (0, 1)",
            value: "2".into(),
        };
        assert_eq!(
            e.to_string(),
            "ReduceLrOnPlateauConfig.factor must be in (0, 1), got 2"
        );
        let flag = |s: Setting| format!("--plateau-{}", s.field);
        assert_eq!(
            e.message(&flag),
            "--plateau-factor must be in (0, 1), got 2"
        );
        assert_eq!(
            CallbackError::TopKWithoutMonitor { k: 2 }.to_string(),
            "ModelCheckpointConfig.save_top_k 2 needs ModelCheckpointConfig.monitor to rank checkpoints (without one only -1, 0 or 1 are valid, as in Lightning)"
        );
    }
}
