//! Command-line flags of the callbacks and of logging applied over a configuration (the
//! defaults, a `--config` file, or a resumed checkpoint's): a flag given wins, a flag absent
//! leaves the configured value. Any flag of a callback's group turns that callback on.

use crate::cli::{CallbackArgs, LoggingArgs};
use crate::config::{LogFormat, TrainConfig, callback_error, schedule_error};
use ember_engine::callbacks::early_stopping::EarlyStoppingConfig;
use ember_engine::callbacks::model_checkpoint::{ModelCheckpointConfig, SaveFreq};
use ember_engine::callbacks::monitor::Mode;
use ember_engine::callbacks::plateau::ReduceLrOnPlateauConfig;
use ember_engine::schedule::{LrSchedule, ScheduleUnit};

fn mode(flag: &str, value: &str) -> Result<Mode, String> {
    value.parse().map_err(|e| format!("{flag}: {e}"))
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

/// Applies the early-stopping, checkpoint-selection and learning-rate flags to `config`.
///
/// # Errors
/// A one-line message naming the flag whose value cannot be parsed.
pub fn apply_callback_args(config: &mut TrainConfig, a: &CallbackArgs) -> Result<(), String> {
    let es_flags = a.early_stopping
        || a.monitor.is_some()
        || a.mode.is_some()
        || a.min_delta.is_some()
        || a.patience.is_some()
        || a.baseline.is_some()
        || a.restore_best_weights
        || a.start_from_epoch.is_some()
        || a.check_finite.is_some()
        || a.stopping_threshold.is_some()
        || a.divergence_threshold.is_some();
    if es_flags {
        let es = config
            .early_stopping
            .get_or_insert_with(EarlyStoppingConfig::default);
        if let Some(m) = &a.monitor {
            es.monitor = m.clone();
        }
        if let Some(m) = &a.mode {
            es.mode = mode("--mode", m)?;
        }
        if let Some(d) = a.min_delta {
            es.min_delta = d;
        }
        if let Some(p) = a.patience {
            es.patience = p;
        }
        if a.baseline.is_some() {
            es.baseline = a.baseline;
        }
        if a.restore_best_weights {
            es.restore_best_weights = true;
        }
        if let Some(s) = a.start_from_epoch {
            es.start_from_epoch = s;
        }
        if let Some(c) = a.check_finite {
            es.check_finite = c;
        }
        if a.stopping_threshold.is_some() {
            es.stopping_threshold = a.stopping_threshold;
        }
        if a.divergence_threshold.is_some() {
            es.divergence_threshold = a.divergence_threshold;
        }
    }

    let mc_flags = a.checkpoint_filename.is_some()
        || a.checkpoint_monitor.is_some()
        || a.checkpoint_mode.is_some()
        || a.save_best_only
        || a.save_weights_only
        || a.save_freq.is_some()
        || a.save_top_k.is_some()
        || a.save_last;
    if mc_flags {
        let monitor_default = a.monitor.clone();
        let mc = config
            .model_checkpoint
            .get_or_insert_with(ModelCheckpointConfig::default);
        if let Some(f) = &a.checkpoint_filename {
            mc.filename = f.clone();
        }
        if let Some(m) = a.checkpoint_monitor.clone().or(monitor_default) {
            mc.monitor = Some(m);
        }
        if let Some(m) = &a.checkpoint_mode {
            mc.mode = mode("--checkpoint-mode", m)?;
        }
        if a.save_best_only {
            mc.save_best_only = true;
        }
        if a.save_weights_only {
            mc.save_weights_only = true;
        }
        if let Some(f) = &a.save_freq {
            mc.save_freq = f.parse().map_err(callback_error)?;
        }
        if a.save_top_k.is_some() {
            mc.save_top_k = a.save_top_k;
        }
        if a.save_last {
            mc.save_last = true;
        }
    }

    if let Some(spec) = &a.lr_schedule {
        config.lr_schedule = spec.parse::<LrSchedule>().map_err(|e| schedule_error(&e))?;
    }
    if let Some(unit) = &a.schedule_unit {
        config.schedule_unit = match unit.as_str() {
            "step" => ScheduleUnit::Step,
            _ => ScheduleUnit::Epoch,
        };
    }

    let plateau_flags = a.reduce_lr_on_plateau
        || a.plateau_monitor.is_some()
        || a.plateau_mode.is_some()
        || a.plateau_factor.is_some()
        || a.plateau_patience.is_some()
        || a.plateau_min_delta.is_some()
        || a.plateau_cooldown.is_some()
        || a.min_lr.is_some();
    if plateau_flags {
        let p = config
            .reduce_lr_on_plateau
            .get_or_insert_with(ReduceLrOnPlateauConfig::default);
        if let Some(m) = &a.plateau_monitor {
            p.monitor = m.clone();
        }
        if let Some(m) = &a.plateau_mode {
            p.mode = mode("--plateau-mode", m)?;
        }
        if let Some(f) = a.plateau_factor {
            p.factor = f;
        }
        if let Some(n) = a.plateau_patience {
            p.patience = n;
        }
        if let Some(d) = a.plateau_min_delta {
            p.min_delta = d;
        }
        if let Some(c) = a.plateau_cooldown {
            p.cooldown = c;
        }
        if let Some(m) = a.min_lr {
            p.min_lr = m;
        }
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
    if a.no_plots {
        config.logging.plots = false;
    }
    if quiet {
        config.logging.quiet = true;
    }
    Ok(())
}
