//! The resolved configuration of a training run: every setting with its value, written to the
//! run directory as `config.toml` so that the run can be repeated and resumed.

use std::path::PathBuf;

use ember_datasets::{DatasetKind, Preprocessing};
use ember_models::ModelKind;
use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;
use crate::distillation::DistillationConfig;
use crate::metrics::CSV_COLUMNS;
use crate::regularization::RegularizationConfig;
use ember_engine::callbacks::early_stopping::{EarlyStopping, EarlyStoppingConfig};
use ember_engine::callbacks::model_checkpoint::{ModelCheckpoint, ModelCheckpointConfig, SaveFreq};
use ember_engine::callbacks::plateau::{ReduceLrOnPlateau, ReduceLrOnPlateauConfig};
use ember_engine::callbacks::target::{DEFAULT_WINDOW, Target};
use ember_engine::callbacks::template::format_filename;
use ember_engine::callbacks::{CallbackError, CallbackKind, Logs, Setting, monitored_value};
use ember_engine::learner::DEFAULT_KEEP_CHECKPOINTS;
use ember_engine::schedule::{LrSchedule, ScheduleError, ScheduleUnit};
use ember_engine::text::one_line;
use ember_optim::OptimizerConfig;

/// The most epochs a run may ask for: far beyond any real run, and small enough that every
/// count derived from it (steps, checkpoint names) stays exact.
pub const MAX_EPOCHS: usize = 1_000_000_000;

/// Everything that determines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The model of the zoo.
    pub model: ModelKind,
    /// The optimizer and its hyperparameters.
    pub optimizer: OptimizerConfig,
    /// Learning rate (for Rprop: the initial step size).
    pub lr: f64,
    /// Number of epochs (full passes over the training split).
    pub epochs: usize,
    /// Images per optimizer step; `None` is full-batch (the whole training split in one step),
    /// written `"full"` so that the file repeats it.
    #[serde(with = "full_batch")]
    pub batch_size: Option<usize>,
    /// Seed of the weight initialization and of each epoch's shuffle.
    pub seed: u64,
    /// The dataset.
    pub dataset: DatasetKind,
    /// Directory holding the dataset's IDX files; `None` searches the usual places.
    pub data_dir: Option<PathBuf>,
    /// Fraction of the (limited) training images held out, from the end, for validation
    /// (Keras' `validation_split`); 0 validates on the test split.
    pub val_split: f64,
    /// Use only the first N training images (before the validation split).
    pub limit_train: Option<usize>,
    /// Deslanting and width normalization of every split's images (`none` by default;
    /// [`Preprocessing`]), the recipe a committee member differs by.
    #[serde(default)]
    pub preprocess: Preprocessing,
    /// Compute backend.
    pub backend: BackendKind,
    /// wgpu adapter index (see `train --help`); `None` lets wgpu choose.
    pub gpu_index: Option<usize>,
    /// Also write a resume checkpoint every N optimizer steps (one is always written at each
    /// epoch end and on SIGINT/SIGTERM).
    #[serde(default)]
    pub checkpoint_every: Option<usize>,
    /// Resume checkpoints kept (the newest); `None` keeps all, written `"all"`. Default
    /// [`DEFAULT_KEEP_CHECKPOINTS`].
    #[serde(default = "default_keep", with = "all_checkpoints")]
    pub keep_checkpoints: Option<usize>,
    /// Stop at the first step where this training target is reached (`loss<=0.1`,
    /// `accuracy>=0.99`; [`Target`]), checked after every step on the mean over the last
    /// `until_window` training images; `None` (default) trains every epoch. Where it stopped is
    /// in `summary.json` (`target`).
    #[serde(default)]
    pub until: Option<Target>,
    /// Training images the `until` target's mean covers (the newest steps holding at least
    /// this many; default [`DEFAULT_WINDOW`]).
    #[serde(default = "default_window")]
    pub until_window: usize,
    /// Learning-rate schedule (default constant).
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Whether the schedule counts epochs or optimizer steps (default epochs).
    #[serde(default)]
    pub schedule_unit: ScheduleUnit,
    /// Keras' ReduceLROnPlateau; exclusive with a non-constant `lr_schedule`.
    #[serde(default)]
    pub reduce_lr_on_plateau: Option<ReduceLrOnPlateauConfig>,
    /// Early stopping (Keras 3 EarlyStopping plus Lightning's thresholds).
    #[serde(default)]
    pub early_stopping: Option<EarlyStoppingConfig>,
    /// Model checkpoint selection (Keras/Lightning ModelCheckpoint) into `<run>/models/`.
    #[serde(default)]
    pub model_checkpoint: Option<ModelCheckpointConfig>,
    /// Metric logging: TensorBoard, plots, console format.
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Dropout, batch normalization, penalties, augmentation, gradient clipping and
    /// accumulation, weight averaging (all off by default).
    #[serde(default)]
    pub regularization: RegularizationConfig,
    /// Knowledge distillation from a trained teacher (`train distill`); `None` (default) trains
    /// on the labels alone.
    #[serde(default)]
    pub distillation: Option<DistillationConfig>,
}

fn default_window() -> usize {
    DEFAULT_WINDOW
}

fn default_keep() -> Option<usize> {
    Some(DEFAULT_KEEP_CHECKPOINTS)
}

/// Serde for a count whose `None` is a word (`"full"`, `"all"`) rather than a missing key:
/// TOML has no null, and a left-out key would read back as the default, not as `None`.
mod count_or_word {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<usize>,
        word: &str,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(n) => s.serialize_u64(*n as u64),
            None => s.serialize_str(word),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        word: &str,
        d: D,
    ) -> Result<Option<usize>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(usize),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Count(n) => Ok(Some(n)),
            Raw::Word(w) if w == word => Ok(None),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected a number or \"{word}\", got \"{w}\""
            ))),
        }
    }
}

/// `batch_size`: a number, or `"full"`.
mod full_batch {
    pub fn serialize<S: serde::Serializer>(v: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
        super::count_or_word::serialize(v, "full", s)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        super::count_or_word::deserialize("full", d)
    }
}

/// `keep_checkpoints`: a number, or `"all"`.
mod all_checkpoints {
    pub fn serialize<S: serde::Serializer>(v: &Option<usize>, s: S) -> Result<S::Ok, S::Error> {
        super::count_or_word::serialize(v, "all", s)
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        super::count_or_word::deserialize("all", d)
    }
}

/// The first float of `table` (searched depth first, in key order) that is `inf` or `nan`, with
/// its dotted key: TOML allows them, no setting takes them.
fn non_finite(table: &toml::Table, prefix: &str) -> Option<(String, f64)> {
    fn walk(value: &toml::Value, key: String) -> Option<(String, f64)> {
        match value {
            toml::Value::Float(v) if !v.is_finite() => Some((key, *v)),
            toml::Value::Table(t) => non_finite(t, &key),
            toml::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, format!("{key}[{i}]"))),
            _ => None,
        }
    }
    table.iter().find_map(|(k, v)| {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        walk(v, key)
    })
}

/// The training metrics the zoo's step logs at every step: what `until` may watch.
pub const STEP_METRICS: [&str; 2] = ["loss", "accuracy"];

/// How a run reports its metrics besides `metrics.csv` and `metrics.jsonl` (always written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    /// Write TensorBoard event files under `<run>/tensorboard/{train,validation}`; default true.
    pub tensorboard: bool,
    /// TensorBoard batch summaries (`batch_loss`, `batch_accuracy`) every this many steps;
    /// `None` (default) writes epoch summaries only, as Keras' `update_freq="epoch"`.
    pub update_freq: Option<usize>,
    /// TensorBoard weight and gradient histograms every this many epochs, at epochs 1, 1 + N,
    /// ... (Keras' `histogram_freq` on its 0-based epoch index); 0 (default) for none.
    pub histogram_freq: usize,
    /// With `histogram_freq`: the first convolution's filters as TensorBoard images at the
    /// histogram epochs (Keras' `write_images`); default false. Needs a model with a
    /// single-channel convolution (lenet).
    pub write_images: bool,
    /// Draw `<run>/plots/curves.png` and `.svg` at the end of the run; default true.
    pub plots: bool,
    /// Console output: `text` (progress bar and one line per epoch) or `json` (one JSON
    /// object per line on stdout, for scripts); default text.
    pub format: LogFormat,
    /// Text console without the progress bar and messages; default false.
    pub quiet: bool,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            tensorboard: true,
            update_freq: None,
            histogram_freq: 0,
            write_images: false,
            plots: true,
            format: LogFormat::Text,
            quiet: false,
        }
    }
}

impl LoggingConfig {
    /// Refuses histograms and images that would not be written: either without TensorBoard,
    /// images without histograms (Keras writes them only at its `histogram_freq` epochs), or
    /// images of a model without a single-channel convolution to draw (the MLPs; Keras skips
    /// a weight it cannot draw, which would leave an empty image dashboard).
    ///
    /// # Errors
    /// A one-line message naming the flag and the fix.
    pub fn validate_histograms(&self, model: ModelKind) -> Result<(), String> {
        if !self.tensorboard && (self.histogram_freq > 0 || self.write_images) {
            let flag = if self.write_images {
                "--write-images"
            } else {
                "--histogram-freq"
            };
            return Err(format!(
                "{flag} writes to TensorBoard: drop --no-tensorboard (or {flag})"
            ));
        }
        if !self.write_images {
            return Ok(());
        }
        if self.histogram_freq == 0 {
            return Err(
                "--write-images draws at the histogram epochs: add --histogram-freq N (1 for every epoch)"
                    .into(),
            );
        }
        match model {
            ModelKind::Lenet => Ok(()),
            ModelKind::Mlp | ModelKind::DeepMlp => Err(format!(
                "--write-images draws the first convolution's filters and {} has none: use --model lenet, or drop --write-images",
                model.name()
            )),
        }
    }
}

/// Console output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Progress bar and human-readable lines.
    #[default]
    Text,
    /// JSON lines on stdout.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("unknown log format '{s}' (expected text or json)")),
        }
    }
}

impl TrainConfig {
    /// The defaults of the main job: 5 epochs of batch 64 (PyTorch's MNIST example) on MNIST,
    /// the optimizer's reference learning rate, seed 42, 10% validation, flex backend.
    pub fn new(model: ModelKind, optimizer: OptimizerConfig) -> Self {
        Self {
            model,
            lr: optimizer.default_lr(),
            optimizer,
            epochs: 5,
            batch_size: Some(64),
            seed: 42,
            dataset: DatasetKind::Mnist,
            data_dir: None,
            val_split: 0.1,
            limit_train: None,
            preprocess: Preprocessing::NONE,
            backend: BackendKind::Flex,
            gpu_index: None,
            checkpoint_every: None,
            keep_checkpoints: default_keep(),
            until: None,
            until_window: DEFAULT_WINDOW,
            lr_schedule: LrSchedule::default(),
            schedule_unit: ScheduleUnit::default(),
            reduce_lr_on_plateau: None,
            early_stopping: None,
            model_checkpoint: None,
            logging: LoggingConfig::default(),
            regularization: RegularizationConfig::default(),
            distillation: None,
        }
    }

    /// Reads a configuration file (`train --config run.toml`): the format of the `config.toml`
    /// every run writes, with every field optional. Missing fields take the defaults of
    /// [`TrainConfig::new`] (model lenet, optimizer adabelief); a missing `lr` is the optimizer's
    /// reference default.
    ///
    /// # Errors
    /// A one-line message naming the file and the TOML error (unknown keys are errors).
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| {
            format!(
                "{} is not valid TOML: {}",
                path.display(),
                one_line(&e.to_string())
            )
        })?;
        if let Some((key, value)) = non_finite(&table, "") {
            return Err(format!(
                "{}: {key} = {value} is not a finite number; give a finite value or leave the key out",
                path.display()
            ));
        }
        let has_lr = table.contains_key("lr");
        let defaults = Self::new(
            ModelKind::Lenet,
            OptimizerConfig::AdaBelief(Default::default()),
        );
        let mut merged = match toml::Value::try_from(&defaults) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        for (key, value) in table {
            merged.insert(key, value);
        }
        let mut config: Self =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    format!("{}: {}", path.display(), one_line(&e.to_string()))
                })?;
        if !has_lr {
            config.lr = config.optimizer.default_lr();
        }
        Ok(config)
    }

    /// Checks every value's range.
    ///
    /// # Errors
    /// A one-line message naming the flag and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("--lr must be a positive number, got {}", self.lr));
        }
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return Err(format!(
                "--epochs must be in [1, {MAX_EPOCHS}], got {}",
                self.epochs
            ));
        }
        if let Some(dir) = self.data_dir.as_ref().filter(|d| d.to_str().is_none()) {
            return Err(format!(
                "--data-dir {} is not valid UTF-8, which config.toml cannot record; rename the directory or link to it from a UTF-8 path",
                dir.display()
            ));
        }
        if self.batch_size == Some(0) {
            return Err("--batch-size must be at least 1 (or 'full')".into());
        }
        if !(0.0..1.0).contains(&self.val_split) {
            return Err(format!(
                "--val-split must be in [0, 1), got {}",
                self.val_split
            ));
        }
        if self.limit_train == Some(0) {
            return Err("--limit-train must be at least 1".into());
        }
        if self.checkpoint_every == Some(0) {
            return Err("--checkpoint-every must be at least 1".into());
        }
        if self.keep_checkpoints == Some(0) {
            return Err("--keep-checkpoints must be at least 1 (or 'all')".into());
        }
        if let Some(target) = self
            .until
            .as_ref()
            .filter(|t| !STEP_METRICS.contains(&t.metric.as_str()))
        {
            return Err(format!(
                "--until {target}: no run logs '{}' at each step; use {}",
                target.metric,
                STEP_METRICS.join(" or ")
            ));
        }
        if self.until_window == 0 {
            return Err("--until-window must be at least 1 image".into());
        }
        self.lr_schedule
            .validate()
            .map_err(|e| schedule_error(&e))?;
        // Every metric an epoch logs, with placeholder values: metric names and the checkpoint
        // file-name template are checked now, not after the first epoch has trained.
        let epoch_logs: Logs = CSV_COLUMNS[1..]
            .iter()
            .map(|name| (name.to_string(), 0.0))
            .collect();
        if let Some(plateau) = &self.reduce_lr_on_plateau {
            if self.lr_schedule != LrSchedule::Constant {
                return Err("--reduce-lr-on-plateau cannot be combined with --lr-schedule (both set the learning rate); use one".into());
            }
            ReduceLrOnPlateau::new(plateau.clone()).map_err(callback_error)?;
            monitored_value(
                "ReduceLROnPlateau",
                Setting::plateau("monitor"),
                &plateau.monitor,
                &epoch_logs,
            )
            .map_err(callback_error)?;
        }
        if let Some(es) = &self.early_stopping {
            EarlyStopping::new(es.clone()).map_err(callback_error)?;
            monitored_value(
                "early stopping",
                Setting::early_stopping("monitor"),
                &es.monitor,
                &epoch_logs,
            )
            .map_err(callback_error)?;
        }
        if let Some(mc) = &self.model_checkpoint {
            let checkpoint = ModelCheckpoint::new(mc.clone()).map_err(callback_error)?;
            // Saves every N steps see the epoch-so-far's loss and accuracy only.
            let save_logs = match mc.save_freq {
                SaveFreq::Epoch => epoch_logs.clone(),
                SaveFreq::Steps(_) => epoch_logs
                    .iter()
                    .filter(|(name, _)| *name == "loss" || *name == "accuracy")
                    .map(|(name, value)| (name.clone(), *value))
                    .collect(),
            };
            if let Some(monitor) = checkpoint.monitor() {
                // Keras' save_best_only warns and saves when its metric is missing at a save;
                // a top-k ranking cannot.
                let logs = if mc.save_top_k.is_some() {
                    &save_logs
                } else {
                    &epoch_logs
                };
                monitored_value(
                    "checkpoint selection",
                    Setting::model_checkpoint("monitor"),
                    &monitor.monitor,
                    logs,
                )
                .map_err(callback_error)?;
            }
            format_filename(&mc.filename, 1, 1, &save_logs).map_err(callback_error)?;
        }
        if self.logging.update_freq == Some(0) {
            return Err("--update-freq must be 'epoch' or at least 1".into());
        }
        self.logging.validate_histograms(self.model)?;
        self.regularization.validate(self.model)?;
        self.optimizer
            .validate()
            .map_err(|e| format!("{} optimizer: {e}", self.optimizer.name()))
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> String {
        // Serializing plain data to TOML cannot fail: every field is a number, string, bool or
        // table, and `None` fields are left out.
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# not serializable: {e}\n"))
    }
}

/// A schedule error as `train` says it: after the flag ("--lr-schedule step needs step_size,
/// ..."; "--lr-schedule: unknown learning-rate schedule ...").
pub fn schedule_error(e: &ScheduleError) -> String {
    match e {
        ScheduleError::Unknown { .. } => format!("--lr-schedule: {e}"),
        ScheduleError::Parameter(_) => format!("--lr-schedule {e}"),
    }
}

/// The flag of `train` that sets a callback's setting: `--plateau-` and the field for
/// ReduceLROnPlateau's (`--min-lr` for its floor), `--checkpoint-` and the field for the
/// checkpoint selection's metric, mode and template, `--` and the field otherwise (`_` as `-`).
/// A test checks that each setting's flag is one `train` has.
pub fn callback_flag(setting: Setting) -> String {
    let field = setting.field.replace('_', "-");
    match (setting.callback, setting.field) {
        (CallbackKind::ReduceLrOnPlateau, "min_lr") => "--min-lr".into(),
        (CallbackKind::ReduceLrOnPlateau, _) => format!("--plateau-{field}"),
        (CallbackKind::ModelCheckpoint, "monitor" | "mode" | "filename") => {
            format!("--checkpoint-{field}")
        }
        _ => format!("--{field}"),
    }
}

/// A callback's error as `train` says it: naming the flag ([`callback_flag`]).
pub fn callback_error(e: CallbackError) -> String {
    e.message(&callback_flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trips() {
        let mut config = TrainConfig::new(ModelKind::Lenet, "rprop".parse().unwrap());
        config.limit_train = Some(1000);
        config.data_dir = Some("/tmp/x".into());
        let back: TrainConfig = toml::from_str(&config.to_toml()).unwrap();
        assert_eq!(back, config);
    }

    /// A run's `config.toml`, read back with `--config`, repeats the run: every setting comes
    /// back, those whose `None` differs from the default (full batch, keep all checkpoints)
    /// included, for each model, optimizer and callback.
    #[test]
    fn config_files_repeat_the_run() {
        let dir = std::env::temp_dir().join(format!("ember-config-rt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut configs = Vec::new();
        for (model, optimizer) in [
            (ModelKind::Mlp, "rprop"),
            (ModelKind::DeepMlp, "sgd"),
            (ModelKind::Lenet, "adam"),
        ] {
            let mut config = TrainConfig::new(model, optimizer.parse().unwrap());
            configs.push(config.clone());
            config.batch_size = None;
            config.keep_checkpoints = None;
            config.limit_train = Some(1000);
            config.checkpoint_every = Some(7);
            config.lr = 0.1 + 0.2;
            configs.push(config.clone());
            config.early_stopping = Some(EarlyStoppingConfig {
                baseline: Some(0.5),
                ..Default::default()
            });
            config.model_checkpoint = Some(ModelCheckpointConfig::default());
            config.reduce_lr_on_plateau = Some(ReduceLrOnPlateauConfig::default());
            config.logging.update_freq = Some(3);
            config.logging.histogram_freq = 2;
            config.keep_checkpoints = Some(1);
            configs.push(config.clone());
            config.reduce_lr_on_plateau = None;
            config.lr_schedule = "cosine:max_update=20,final_lr=0.01,warmup_steps=5"
                .parse()
                .unwrap();
            config.logging.format = LogFormat::Json;
            configs.push(config);
        }
        for (i, config) in configs.iter().enumerate() {
            let path = dir.join(format!("{i}.toml"));
            std::fs::write(&path, config.to_toml()).unwrap();
            let back = TrainConfig::from_toml_file(&path).unwrap();
            assert_eq!(&back, config, "{}", config.to_toml());
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Every field of the three callbacks' configurations is named by a flag `train` has (the
    /// checkpoint's starting threshold is set in a config file only).
    #[test]
    fn every_callback_setting_has_its_flag() {
        use clap::CommandFactory;
        let command = crate::cli::Cli::command();
        let flags: Vec<String> = command
            .get_arguments()
            .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
            .collect();
        let fields = |config: serde_json::Value| -> Vec<String> {
            config.as_object().unwrap().keys().cloned().collect()
        };
        let settings = [
            (
                CallbackKind::EarlyStopping,
                fields(serde_json::to_value(EarlyStoppingConfig::default()).unwrap()),
            ),
            (
                CallbackKind::ModelCheckpoint,
                fields(serde_json::to_value(ModelCheckpointConfig::default()).unwrap()),
            ),
            (
                CallbackKind::ReduceLrOnPlateau,
                fields(serde_json::to_value(ReduceLrOnPlateauConfig::default()).unwrap()),
            ),
        ];
        let mut checked = 0;
        for (callback, names) in settings {
            for name in names {
                if name == "initial_value_threshold" {
                    continue;
                }
                let field: &'static str = Box::leak(name.into_boxed_str());
                let flag = callback_flag(Setting { callback, field });
                assert!(
                    flags.contains(&flag),
                    "{callback:?}.{field}: no flag {flag}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 10 + 8 + 7);
    }

    #[test]
    fn rejects_bad_values() {
        let mut config = TrainConfig::new(ModelKind::Mlp, "sgd".parse().unwrap());
        config.lr = -0.1;
        assert!(config.validate().unwrap_err().contains("--lr"));
        config.lr = 0.1;
        config.val_split = 1.0;
        assert!(config.validate().unwrap_err().contains("--val-split"));
    }
}
