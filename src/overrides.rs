//! Command-line flags of the data, the callbacks and logging applied over a configuration (the
//! defaults, a `--config` file, or a resumed checkpoint's): a flag given wins, a flag absent
//! leaves the configured value. Any flag of a callback's group turns that callback on.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cli::{CallbackArgs, DataArgs, LoggingArgs, RegularizationArgs, given_flags};
use crate::config::{LogFormat, TrainConfig, schedule_error};
use ember_engine::callbacks::model_checkpoint::SaveFreq;
use ember_engine::schedule::{LrSchedule, ScheduleUnit};

/// The seed and data flags given (`train`, `train lr-find`, `train compare`) over `config`.
pub fn apply_data_args(config: &mut TrainConfig, args: &DataArgs) {
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(dataset) = args.dataset {
        config.dataset = dataset;
    }
    if args.data_dir.is_some() {
        config.data_dir = args.data_dir.clone();
    }
    if let Some(v) = args.val_split {
        config.val_split = v;
    }
    if args.limit_train.is_some() {
        config.limit_train = args.limit_train;
    }
}

/// `--update-freq`: `epoch` (None) or a positive number of steps, parsed as `--save-freq` is.
fn update_freq(value: &str) -> Result<Option<usize>, String> {
    match value.parse::<SaveFreq>() {
        Ok(SaveFreq::Epoch) => Ok(None),
        Ok(SaveFreq::Steps(n)) => Ok(Some(n)),
        Err(_) => Err(format!(
            "--update-freq must be 'epoch' or a positive number of steps, got '{value}'"
        )),
    }
}

/// `config` (or the callback's defaults, when it is off) with the `given` fields set; `None`
/// when it is off and nothing is given.
///
/// # Errors
/// A value the configuration does not read (clap has checked each value's form already).
fn with_given<C: Default + Serialize + DeserializeOwned>(
    config: Option<&C>,
    turned_on: bool,
    given: serde_json::Map<String, serde_json::Value>,
) -> Result<Option<C>, String> {
    if !turned_on && given.is_empty() {
        return Ok(None);
    }
    let base = match config {
        Some(config) => serde_json::to_value(config),
        None => serde_json::to_value(C::default()),
    }
    .map_err(|e| e.to_string())?;
    let serde_json::Value::Object(mut fields) = base else {
        return Err("a callback configuration is not a table".into());
    };
    fields.extend(given);
    serde_json::from_value(serde_json::Value::Object(fields))
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Applies the early-stopping, checkpoint-selection and learning-rate flags to `config`: each
/// callback's group sets the fields of the same names in its configuration, and any flag of a
/// group turns that callback on. `--monitor` also chooses checkpoint selection's metric when
/// `--checkpoint-monitor` is not given.
///
/// # Errors
/// A one-line message naming the flag whose value cannot be used.
pub fn apply_callback_args(config: &mut TrainConfig, a: &CallbackArgs) -> Result<(), String> {
    if let Some(es) = with_given(
        config.early_stopping.as_ref(),
        a.stopping.early_stopping,
        given_flags(&a.stopping),
    )? {
        config.early_stopping = Some(es);
    }
    let mut selection = given_flags(&a.selection);
    if !selection.is_empty()
        && !selection.contains_key("monitor")
        && let Some(monitor) = &a.stopping.monitor
    {
        selection.insert("monitor".into(), monitor.clone().into());
    }
    if let Some(mc) = with_given(config.model_checkpoint.as_ref(), false, selection)? {
        config.model_checkpoint = Some(mc);
    }
    if let Some(plateau) = with_given(
        config.reduce_lr_on_plateau.as_ref(),
        a.plateau.reduce_lr_on_plateau,
        given_flags(&a.plateau),
    )? {
        config.reduce_lr_on_plateau = Some(plateau);
    }
    if let Some(spec) = &a.lr_schedule {
        config.lr_schedule = spec.parse::<LrSchedule>().map_err(|e| schedule_error(&e))?;
    }
    if let Some(unit) = &a.schedule_unit {
        // clap allows only the unit names, which all parse.
        config.schedule_unit = unit.parse::<ScheduleUnit>().unwrap_or_default();
    }
    Ok(())
}

/// Applies the regularization flags to `config`: each sets the field of its name.
///
/// # Errors
/// A one-line message naming the flag whose value cannot be used.
pub fn apply_regularization_args(
    config: &mut TrainConfig,
    a: &RegularizationArgs,
) -> Result<(), String> {
    // The other values' forms clap has checked; a recipe's is checked here, by its flag.
    if let Some(spec) = &a.augment {
        spec.parse::<ember_datasets::Augmentation>()
            .map_err(|e| format!("--augment: {e}"))?;
    }
    if let Some(r) = with_given(Some(&config.regularization), true, given_flags(a))? {
        config.regularization = r;
    }
    Ok(())
}

/// Applies the logging flags (and `--quiet`) to `config`.
///
/// # Errors
/// A one-line message naming the flag whose value cannot be parsed.
pub fn apply_logging_args(
    config: &mut TrainConfig,
    a: &LoggingArgs,
    quiet: bool,
) -> Result<(), String> {
    if let Some(f) = &a.log_format {
        config.logging.format = f.parse::<LogFormat>()?;
    }
    if a.no_tensorboard {
        config.logging.tensorboard = false;
    }
    if let Some(f) = &a.update_freq {
        config.logging.update_freq = update_freq(f)?;
    }
    if let Some(n) = a.histogram_freq {
        config.logging.histogram_freq = n;
    }
    if a.write_images {
        config.logging.write_images = true;
    }
    if a.no_plots {
        config.logging.plots = false;
    }
    if quiet {
        config.logging.quiet = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use ember_engine::callbacks::early_stopping::EarlyStoppingConfig;
    use ember_engine::callbacks::model_checkpoint::ModelCheckpointConfig;
    use ember_engine::callbacks::monitor::Mode;
    use ember_engine::callbacks::plateau::ReduceLrOnPlateauConfig;
    use ember_models::ModelKind;

    use super::*;
    use crate::cli::Cli;

    fn applied(flags: &[&str]) -> TrainConfig {
        let cli =
            Cli::try_parse_from(std::iter::once("train").chain(flags.iter().copied())).unwrap();
        let mut config = TrainConfig::new(ModelKind::Mlp, "adam".parse().unwrap());
        apply_callback_args(&mut config, &cli.train.callbacks).unwrap();
        config
    }

    /// Every callback flag sets its configuration's field, and only its own.
    #[test]
    fn every_callback_flag_reaches_its_setting() {
        let config = applied(&[
            "--monitor=val_accuracy",
            "--mode=max",
            "--min-delta=0.01",
            "--patience=4",
            "--baseline=0.5",
            "--restore-best-weights",
            "--start-from-epoch=2",
            "--check-finite=false",
            "--stopping-threshold=0.99",
            "--divergence-threshold=0.1",
            "--checkpoint-filename=e{epoch}",
            "--checkpoint-monitor=val_loss",
            "--checkpoint-mode=min",
            "--save-weights-only",
            "--save-freq=50",
            "--save-top-k=3",
            "--save-last",
            "--plateau-monitor=loss",
            "--plateau-mode=min",
            "--plateau-factor=0.5",
            "--plateau-patience=2",
            "--plateau-min-delta=0.001",
            "--plateau-cooldown=1",
            "--min-lr=1e-5",
        ]);
        assert_eq!(
            config.early_stopping,
            Some(EarlyStoppingConfig {
                monitor: "val_accuracy".into(),
                mode: Mode::Max,
                min_delta: 0.01,
                patience: 4,
                baseline: Some(0.5),
                restore_best_weights: true,
                start_from_epoch: 2,
                check_finite: false,
                stopping_threshold: Some(0.99),
                divergence_threshold: Some(0.1),
            })
        );
        assert_eq!(
            config.model_checkpoint,
            Some(ModelCheckpointConfig {
                filename: "e{epoch}".into(),
                monitor: Some("val_loss".into()),
                mode: Mode::Min,
                save_weights_only: true,
                save_freq: SaveFreq::Steps(50),
                save_top_k: Some(3),
                save_last: true,
                ..Default::default()
            })
        );
        assert_eq!(
            config.reduce_lr_on_plateau,
            Some(ReduceLrOnPlateauConfig {
                monitor: "loss".into(),
                mode: Mode::Min,
                factor: 0.5,
                patience: 2,
                min_delta: 0.001,
                cooldown: 1,
                min_lr: 1e-5,
            })
        );
    }

    /// No flag, no callback; a group's switch alone turns it on at its defaults; `--monitor`
    /// chooses checkpoint selection's metric when `--checkpoint-monitor` is not given.
    #[test]
    fn a_group_is_on_when_any_of_its_flags_is_given() {
        let config = applied(&[]);
        assert_eq!(
            (
                config.early_stopping,
                config.model_checkpoint,
                config.reduce_lr_on_plateau
            ),
            (None, None, None)
        );
        let config = applied(&["--early-stopping", "--reduce-lr-on-plateau"]);
        assert_eq!(config.early_stopping, Some(EarlyStoppingConfig::default()));
        assert_eq!(
            config.reduce_lr_on_plateau,
            Some(ReduceLrOnPlateauConfig::default())
        );
        assert_eq!(config.model_checkpoint, None);
        let config = applied(&["--monitor", "val_accuracy", "--save-best-only"]);
        let selection = config.model_checkpoint.unwrap();
        assert_eq!(selection.monitor.as_deref(), Some("val_accuracy"));
        assert!(selection.save_best_only);
        assert_eq!(config.early_stopping.unwrap().monitor, "val_accuracy");
    }
}
