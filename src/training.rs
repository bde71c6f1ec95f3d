//! One training run from the command line: flags (or a `--config` file, or a checkpoint to
//! resume) resolved into a configuration, a locked run directory, and the learner's fit, with
//! the one-line errors that say how to continue. `train` itself, and each member of
//! `train committee` and each student of `train distill`, run through [`execute`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use ember_models::ModelKind;

use crate::backend::{self, BackendKind, DeviceChoice};
use crate::cli::DEFAULT_MODEL;
use crate::cli::{DeviceArgs, TrainArgs};
use crate::config::LogFormat;
use crate::config::TrainConfig;
use crate::data::{RunData, load_run_data};
use crate::learner::checkpoint::{self, Checkpoint};
use crate::learner::progress::{Console, JsonLines, Progress};
use crate::learner::{FitOptions, FitOutcome, fit};
use crate::overrides::{
    apply_callback_args, apply_data_args, apply_logging_args, apply_regularization_args,
};
use crate::run_files::{CONFIG_FILE, FINAL_MODEL_FILE, SUMMARY_FILE};
use ember_engine::lock::{LockError, RunLock};
use ember_optim::OptimizerConfig;

/// Root of the default run directories.
pub const RUNS_DIR: &str = "runs";

/// Exit status of a run stopped by SIGINT/SIGTERM after writing its checkpoint (128 + SIGINT,
/// the shell's convention).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A flag that SIGINT, SIGTERM and SIGHUP (the terminal closed) set, so the learner stops
/// after the current step with a checkpoint; a second signal while the flag is set ends the
/// process at once.
pub(crate) fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register_conditional_shutdown(
            signal,
            i32::from(EXIT_INTERRUPTED),
            Arc::clone(&stop),
        )?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    Ok(stop)
}

fn default_optimizer() -> OptimizerConfig {
    OptimizerConfig::AdaBelief(Default::default())
}

pub(crate) fn apply_autotune(args: &DeviceArgs) {
    if let Some(level) = &args.autotune {
        backend::apply_autotune_level(level);
    }
}

pub(crate) fn chosen_backend(args: &DeviceArgs) -> Option<BackendKind> {
    args.backend
        .or(args.device.map(DeviceChoice::default_backend))
}

/// `train [FLAGS]`: a new run, or the continuation of one with `--resume`.
pub(crate) fn train(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    apply_autotune(&args.device);
    if args.resume.as_deref() == Some(RESUME_AUTO) {
        return start_or_continue(args);
    }
    // A run directory this command creates is removed again if the run is refused before
    // writing into it (a batch size the data cannot take, say), so that refusals leave no
    // empty run-NNN behind.
    let created = args.resume.is_none() && args.run_dir.as_ref().is_none_or(|d| !d.exists());
    let mut _unused_run_dir = RemoveIfUnused(None);
    // The run directory is locked before anything in it is read or written: a second process
    // on the same run is refused here, naming the first.
    let (config, run_dir, lock, resume, changes) = match &args.resume {
        None => {
            let config = new_config(args)?;
            config.validate().map_err(anyhow::Error::msg)?;
            let (run_dir, lock) = new_run_dir(args, &config)?;
            if created {
                _unused_run_dir = RemoveIfUnused(Some(run_dir.clone()));
            }
            (config, run_dir, lock, None, Vec::new())
        }
        Some(target) => {
            if let Some(file) = &args.config {
                bail!(
                    "--config {} cannot be combined with --resume: a resumed run continues with its checkpoint's configuration (flags such as --epochs or --patience may still change it)",
                    file.display()
                );
            }
            let (run_dir, lock, checkpoint) = find_resume(args, target)?;
            let (config, changes) = resumed_config(args, &checkpoint)?;
            config.validate().map_err(anyhow::Error::msg)?;
            (config, run_dir, lock, Some(checkpoint), changes)
        }
    };
    let stop = stop_on_signals()?;
    let outcome = execute(&config, &run_dir, lock, resume, &changes, stop)?;
    match outcome {
        FitOutcome::Finished(_) => Ok(ExitCode::SUCCESS),
        FitOutcome::Interrupted { .. } => {
            ember_engine::console::out(&format!(
                "stopped; continue with: train --resume latest --run-dir {}",
                run_dir.display()
            ));
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
    }
}

/// `--resume auto`: what a scheduler runs, perhaps more than once (`train sweep
/// --print-commands`).
pub const RESUME_AUTO: &str = "auto";

/// `train --resume auto --run-dir DIR [FLAGS]`: the run these flags describe, brought to its
/// end in DIR ([`complete_run`]): started, continued from its latest checkpoint, or left as it
/// is when it finished before.
fn start_or_continue(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    let Some(run_dir) = &args.run_dir else {
        bail!("--resume auto needs --run-dir: the directory the run starts in or continues in");
    };
    let config = new_config(args)?;
    config.validate().map_err(anyhow::Error::msg)?;
    let stop = stop_on_signals()?;
    let label = run_dir.display().to_string();
    match complete_run(&config, run_dir, &label, &stop)? {
        RunState::Interrupted => {
            ember_engine::console::out("stopped; the same command continues the run");
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
        RunState::Finished | RunState::FinishedBefore => Ok(ExitCode::SUCCESS),
    }
}

/// Trains `config` in `run_dir` (locked by `lock`), afresh or from `resume`, stopping with a
/// checkpoint when `stop` is set: the data and the backend are loaded and checked, the console
/// chosen, `changes` (a resume's changed settings) shown, and a GPU failure turned into the
/// one line that says how to continue.
pub(crate) fn execute(
    config: &TrainConfig,
    run_dir: &Path,
    lock: RunLock,
    resume: Option<Checkpoint>,
    changes: &[String],
    stop: Arc<AtomicBool>,
) -> anyhow::Result<FitOutcome> {
    let data = load_run_data(config)?;
    check_batch_size(config, &data)?;
    if let Some(checkpoint) = &resume {
        let recorded = &checkpoint.data_fingerprint;
        if !recorded.is_empty() && *recorded != data.fingerprint {
            bail!(
                "cannot resume {}: its training data differs from the data found now (fingerprint {} (checkpoint) vs {}); point --data-dir at the data it was trained on",
                checkpoint.dir.display(),
                &recorded[..12.min(recorded.len())],
                &data.fingerprint[..12]
            );
        }
    }
    let backend = backend::select(config.backend, config.gpu_index)?;
    let mut console: Box<dyn Progress> = match config.logging.format {
        LogFormat::Text => Box::new(Console::new(config.logging.quiet)),
        LogFormat::Json => Box::new(JsonLines),
    };
    if !changes.is_empty() {
        console.message(&format!(
            "resuming with changed settings: {}",
            changes.join(", ")
        ));
    }
    let options = FitOptions {
        run_dir: run_dir.to_path_buf(),
        resume,
        stop: Some(stop),
        lock: Some(lock),
    };
    crate::gpu_error::catch(|| fit(config, &backend, &data, options, console.as_mut()))
        .map_err(|e| {
            if !e.is::<crate::gpu_error::GpuFailure>() {
                return e;
            }
            let batch = config
                .batch_size
                .map_or_else(|| "full".to_string(), |n| n.to_string());
            // A GPU failure leaves the run's checkpoints as they were: say how to continue.
            let resume = if checkpoint::has_checkpoints(run_dir) {
                format!(
                    "; the last checkpoint of {} is intact: continue with train --resume latest --run-dir {} (add --device cpu to continue on the CPU)",
                    run_dir.display(),
                    run_dir.display()
                )
            } else {
                String::new()
            };
            anyhow::anyhow!("{e:#} (this run: --batch-size {batch}){resume}")
        })
}

/// A batch no larger than the training split.
///
/// # Errors
/// One line naming `--batch-size`, the split's size and the fix.
pub(crate) fn check_batch_size(config: &TrainConfig, data: &RunData) -> anyhow::Result<()> {
    let train_images = data.train.data().len();
    if let Some(batch) = config.batch_size.filter(|&b| b > train_images) {
        bail!(
            "--batch-size {batch} is larger than the training split ({train_images} images); use at most {train_images}, or --batch-size full"
        );
    }
    Ok(())
}

/// The configuration of a new run: the defaults, or the `--config` file, overridden by the
/// flags given.
pub(crate) fn new_config(args: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let mut config = match &args.config {
        Some(file) => {
            let mut config = TrainConfig::from_toml_file(file).map_err(anyhow::Error::msg)?;
            if let Some(model) = args.model {
                config.model = model;
            }
            if let Some(optimizer) = args.optimizer
                && optimizer.name() != config.optimizer.name()
            {
                // Another optimizer: its own reference defaults, not the file's values.
                config.lr = optimizer.default_lr();
                config.optimizer = optimizer;
            }
            config
        }
        None => TrainConfig::new(
            args.model.unwrap_or(DEFAULT_MODEL),
            args.optimizer.unwrap_or_else(default_optimizer),
        ),
    };
    config.optimizer = args
        .optimizer_args
        .apply(config.optimizer)
        .map_err(anyhow::Error::msg)?;
    apply_flags(&mut config, args)?;
    Ok(config)
}

/// Every flag given, except the optimizer's, over `config` (a new run's defaults or file, or a
/// resumed checkpoint's configuration).
fn apply_flags(config: &mut TrainConfig, args: &TrainArgs) -> anyhow::Result<()> {
    if let Some(model) = args.model {
        config.model = model;
    }
    if let Some(lr) = args.lr {
        config.lr = lr;
    }
    if let Some(epochs) = args.epochs {
        config.epochs = epochs;
    }
    if let Some(batch) = args.batch_size {
        config.batch_size = batch.images();
    }
    apply_data_args(config, &args.data);
    if args.until.is_some() {
        config.until.clone_from(&args.until);
    }
    if let Some(window) = args.until_window {
        config.until_window = window;
    }
    if let Some(recipes) = &args.preprocess {
        let [recipe] = recipes.as_slice() else {
            let list: Vec<String> = recipes.iter().map(ToString::to_string).collect();
            bail!(
                "--preprocess takes one recipe for a run, got {}; a list (one recipe per member) is for train committee",
                list.join(",")
            );
        };
        config.preprocess = *recipe;
    }
    if let Some(b) = chosen_backend(&args.device) {
        config.backend = b;
    }
    if args.device.gpu_index.is_some() {
        config.gpu_index = args.device.gpu_index;
    }
    apply_regularization_args(config, &args.regularization).map_err(anyhow::Error::msg)?;
    apply_run_flags(config, args)
}

/// The flags that may also change on resume: checkpoint frequency, callbacks, logging.
fn apply_run_flags(config: &mut TrainConfig, args: &TrainArgs) -> anyhow::Result<()> {
    if args.checkpoint_every.is_some() {
        config.checkpoint_every = args.checkpoint_every;
    }
    if let Some(keep) = args.keep_checkpoints {
        config.keep_checkpoints = keep.0;
    }
    apply_callback_args(config, &args.callbacks).map_err(anyhow::Error::msg)?;
    apply_logging_args(config, &args.logging, args.quiet).map_err(anyhow::Error::msg)?;
    Ok(())
}

/// The directory of runs of this model and optimizer: `runs/<model>-<optimizer>`.
pub(crate) fn runs_of(model: ModelKind, optimizer: &OptimizerConfig) -> PathBuf {
    Path::new(RUNS_DIR).join(format!("{}-{}", model.name(), optimizer.name()))
}

/// A new `runs/<command>/<model>-<optimizer>/run-NNN`: the default directory of a command's
/// job (`compare`, `committee`, `lr-find`), beside the plain runs of [`runs_of`].
pub(crate) fn create_command_run_dir(
    command: &str,
    model: ModelKind,
    optimizer: &OptimizerConfig,
) -> anyhow::Result<PathBuf> {
    let group = runs_of(model, optimizer);
    let group = group.file_name().unwrap_or_default();
    create_next_run_dir(&Path::new(RUNS_DIR).join(command).join(group))
}

/// `--run-dir`, locked, refusing one that already holds checkpoints; or a new
/// `runs/<model>-<opt>/run-NNN`, locked.
fn new_run_dir(args: &TrainArgs, config: &TrainConfig) -> anyhow::Result<(PathBuf, RunLock)> {
    let dir = match &args.run_dir {
        Some(dir) => dir.clone(),
        None => create_next_run_dir(&runs_of(config.model, &config.optimizer))?,
    };
    let lock = lock_run(&dir)?;
    if checkpoint::has_checkpoints(&dir) {
        bail!(
            "run directory {} already holds checkpoints; continue it with --resume latest, or choose another --run-dir",
            dir.display()
        );
    }
    Ok((dir, lock))
}

/// Removes its directory, when set, if the lock file is all it holds.
struct RemoveIfUnused(Option<PathBuf>);

impl Drop for RemoveIfUnused {
    fn drop(&mut self) {
        let Some(dir) = &self.0 else { return };
        let only_lock = std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .all(|e| e.file_name() == ember_engine::layout::LOCK_FILE)
        });
        if only_lock {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The run directory's lock, or the one-line refusal naming the process that holds it.
pub(crate) fn lock_run(dir: &Path) -> anyhow::Result<RunLock> {
    RunLock::acquire(dir).map_err(|e| match e {
        LockError::Busy { dir, holder } => anyhow::anyhow!(
            "run directory {} is in use by another train process{holder}; wait for it to end, or choose another --run-dir",
            dir.display()
        ),
        other => other.into(),
    })
}

/// Creates the next free `parent/run-NNN` and returns it. The directory is created
/// exclusively, so two processes starting together get two directories: the one that loses a
/// number to the other takes the next.
pub(crate) fn create_next_run_dir(parent: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let mut next = numbered_runs(parent).last().map_or(1, |(n, _)| n + 1);
    loop {
        let dir = parent.join(format!("run-{next:03}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
}

/// `run-NNN` directories under `parent`, sorted by number.
fn numbered_runs(parent: &Path) -> Vec<(u32, PathBuf)> {
    let mut runs: Vec<(u32, PathBuf)> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_prefix("run-")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    runs.sort();
    runs
}

/// The run directory that `--resume TARGET` names, locked, and the checkpoint to resume, read
/// under the lock (so that no other writer changes it meanwhile).
fn find_resume(args: &TrainArgs, target: &str) -> anyhow::Result<(PathBuf, RunLock, Checkpoint)> {
    let (run_dir, _) = find_resume_unlocked(args, target)?;
    let lock = lock_run(&run_dir)?;
    // Read again under the lock: the process that held the run may have written a newer one.
    let checkpoint = if target == "latest" {
        checkpoint::latest(&run_dir)?
    } else {
        checkpoint::resolve(Path::new(target))?
    };
    Ok((run_dir, lock, checkpoint))
}

/// [`find_resume`] before the lock: the run directory and the checkpoint `TARGET` names.
fn find_resume_unlocked(args: &TrainArgs, target: &str) -> anyhow::Result<(PathBuf, Checkpoint)> {
    if target != "latest" {
        let checkpoint = checkpoint::resolve(Path::new(target))?;
        let run_dir = match &args.run_dir {
            Some(dir) => dir.clone(),
            // <run>/checkpoints/epoch-* -> <run>
            None => checkpoint
                .dir
                .parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
        };
        return Ok((run_dir, checkpoint));
    }
    if let Some(dir) = &args.run_dir {
        return Ok((dir.clone(), checkpoint::latest(dir)?));
    }
    let model = args.model.unwrap_or(DEFAULT_MODEL);
    let optimizer = args.optimizer.unwrap_or_else(default_optimizer);
    let parent = runs_of(model, &optimizer);
    let runs = numbered_runs(&parent);
    for (_, dir) in runs.iter().rev() {
        if checkpoint::has_checkpoints(dir) {
            return Ok((dir.clone(), checkpoint::latest(dir)?));
        }
    }
    bail!(
        "--resume latest: no run of {} with {} holds a checkpoint under {}; start one without --resume, or pass --run-dir DIR",
        model,
        optimizer.name(),
        parent.display()
    )
}

/// The top-level settings of a run's configuration (`config.toml`'s keys) that a resume may
/// change: how long it runs, where it computes and finds its data, how often it checkpoints,
/// its callbacks and its logging. Every other setting (the model, the optimizer and its
/// hyperparameters, the learning rate, batch size, seed, dataset, validation split and training
/// subset) fixes what is being trained, so a flag that changes one is refused; a setting added
/// to [`TrainConfig`] later is fixed unless it is listed here.
const MAY_CHANGE_ON_RESUME: [&str; 12] = [
    "epochs",
    "backend",
    "gpu_index",
    "data_dir",
    "checkpoint_every",
    "keep_checkpoints",
    "lr_schedule",
    "schedule_unit",
    "reduce_lr_on_plateau",
    "early_stopping",
    "model_checkpoint",
    "logging",
];

/// The checkpoint's configuration with the flags applied, as a new run applies them over its
/// defaults. A flag that changes a setting outside [`MAY_CHANGE_ON_RESUME`] is refused with
/// the list of differences. Also returns the settings that changed (as `key: old -> new`), to
/// be shown once the resume is accepted.
fn resumed_config(
    args: &TrainArgs,
    checkpoint: &Checkpoint,
) -> anyhow::Result<(TrainConfig, Vec<String>)> {
    // Console settings belong to this invocation, not to the checkpoint.
    let mut before = checkpoint.config.clone();
    before.logging.quiet = false;
    before.logging.format = LogFormat::Text;
    let mut config = before.clone();
    // Optimizer flags describe the whole optimizer: `--opt` (or the checkpoint's optimizer)
    // at its reference defaults with the flags set.
    if args.optimizer.is_some() || !args.optimizer_args.is_empty() {
        config.optimizer = args
            .optimizer_args
            .apply(args.optimizer.unwrap_or(config.optimizer))
            .map_err(anyhow::Error::msg)?;
    }
    apply_flags(&mut config, args)?;
    let (refused, changes) = resume_differences(&before, &config);
    if !refused.is_empty() {
        bail!(
            "cannot resume {}: it was trained differently ({}); drop those flags or start a new run",
            checkpoint.dir.display(),
            refused.join(", ")
        );
    }
    Ok((config, changes))
}

/// What differs between a run as recorded (`before`) and as asked now (`after`): the settings
/// a resume may not change, each as `--flag old (checkpoint) vs new`, and the ones it may, each
/// as `key: old -> new` ([`MAY_CHANGE_ON_RESUME`]).
pub(crate) fn resume_differences(
    before: &TrainConfig,
    after: &TrainConfig,
) -> (Vec<String>, Vec<String>) {
    let (fixed, changes): (Vec<Difference>, Vec<Difference>) =
        differences(before, after).into_iter().partition(|d| {
            let top = d.key.split('.').next().unwrap_or_default();
            !MAY_CHANGE_ON_RESUME.contains(&top)
        });
    // Another optimizer differs in every hyperparameter; its name says enough.
    let other_optimizer = fixed.iter().any(|d| d.key == "optimizer.name");
    let refused = fixed
        .iter()
        .filter(|d| {
            !(other_optimizer && d.key.starts_with("optimizer.") && d.key != "optimizer.name")
        })
        .map(|d| {
            format!(
                "{} {} (checkpoint) vs {}",
                resume_flag(&d.key),
                d.was,
                d.now
            )
        })
        .collect();
    let changes = changes
        .iter()
        .map(|d| format!("{}: {} -> {}", d.key, d.was, d.now))
        .collect();
    (refused, changes)
}

/// The flag of `train` that sets a configuration key: `--opt` for the optimizer's name, the
/// hyperparameter's flag for the optimizer's other keys, `--` and the key otherwise.
fn resume_flag(key: &str) -> String {
    match key.strip_prefix("optimizer.") {
        Some("name") => "--opt".into(),
        Some(parameter) => format!("--{}", parameter.replace('_', "-")),
        None => format!("--{}", key.replace('_', "-")),
    }
}

/// One setting that differs between two configurations.
struct Difference {
    /// The dotted key (`early_stopping.patience`, `optimizer.beta1`).
    key: String,
    /// The value before, as TOML writes it (strings unquoted); `none` when unset (`full` for
    /// the batch size).
    was: String,
    /// The value after.
    now: String,
}

/// The settings that differ between two configurations, by dotted key.
fn differences(before: &TrainConfig, after: &TrainConfig) -> Vec<Difference> {
    fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
        match value {
            toml::Value::Table(table) => {
                for (k, v) in table {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten(&key, v, out);
                }
            }
            toml::Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let flat = |c: &TrainConfig| {
        let mut out = BTreeMap::new();
        if let Ok(value) = toml::Value::try_from(c) {
            flatten("", &value, &mut out);
        }
        out
    };
    let (old, new) = (flat(before), flat(after));
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| {
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "none".into());
            Difference {
                key: k.clone(),
                was: show(old.get(k)),
                now: show(new.get(k)),
            }
        })
        .collect()
}

/// How [`complete_run`] left a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    /// The run had finished before; nothing was trained.
    FinishedBefore,
    /// The run trained to its end now.
    Finished,
    /// Stopped by a signal with a checkpoint.
    Interrupted,
}

/// Brings the run of `config` in `run_dir` to its end, as part of a larger job (a committee's
/// member, a distillation's student): a finished run (`summary.json` beside `model.bpk`) is
/// left as it is, a run with checkpoints resumes from its latest, and an empty directory
/// starts one. `label` names the run in the lines printed. A run whose recorded settings
/// differ from `config` in anything a resume may not change is refused.
///
/// # Errors
/// The refusal, or the run's own errors.
pub(crate) fn complete_run(
    config: &TrainConfig,
    run_dir: &Path,
    label: &str,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<RunState> {
    let out = |line: String| ember_engine::console::out(&line);
    if run_dir.join(SUMMARY_FILE).is_file() && run_dir.join(FINAL_MODEL_FILE).is_file() {
        let recorded = checkpoint::read_config(&run_dir.join(CONFIG_FILE))?
            .with_context(|| format!("{} has no {CONFIG_FILE}", run_dir.display()))?;
        check_recorded(run_dir, &recorded, config)?;
        out(format!("{label}: finished before, skipped"));
        return Ok(RunState::FinishedBefore);
    }
    let lock = lock_run(run_dir)?;
    let resume = if checkpoint::has_checkpoints(run_dir) {
        let latest = checkpoint::latest(run_dir)?;
        check_recorded(run_dir, &latest.config, config)?;
        out(format!("{label}: resuming from {}", latest.dir.display()));
        Some(latest)
    } else {
        out(format!("{label}: training in {}", run_dir.display()));
        None
    };
    Ok(
        match execute(config, run_dir, lock, resume, &[], Arc::clone(stop))? {
            FitOutcome::Finished(_) => RunState::Finished,
            FitOutcome::Interrupted { .. } => RunState::Interrupted,
        },
    )
}

/// A run already in a directory must be the one asked for now.
fn check_recorded(
    run_dir: &Path,
    recorded: &TrainConfig,
    asked: &TrainConfig,
) -> anyhow::Result<()> {
    let (refused, _) = resume_differences(recorded, asked);
    if !refused.is_empty() {
        bail!(
            "{} was trained with other settings ({}); repeat the flags it was started with, or choose another --run-dir",
            run_dir.display(),
            refused.join(", ").replace("(checkpoint)", "(recorded)")
        );
    }
    Ok(())
}

/// This command line with `--run-dir DIR` (added when it was not given): what continues a
/// stopped committee or distillation.
pub(crate) fn continuation(dir: &Path) -> String {
    let mut words: Vec<String> = std::env::args().skip(1).collect();
    if !words
        .iter()
        .any(|w| w == "--run-dir" || w.starts_with("--run-dir="))
    {
        words.push("--run-dir".into());
        words.push(dir.display().to_string());
    }
    format!("train {}", shell_line(&words))
}

/// `words` as one POSIX shell command line: a word with spaces, quotes or shell characters
/// single-quoted.
pub(crate) fn shell_line(words: &[String]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| {
            if w.is_empty()
                || w.contains(|c: char| c.is_whitespace() || "'\"$`\\;&|<>()*?[]{}!#~".contains(c))
            {
                format!("'{}'", w.replace('\'', r"'\''"))
            } else {
                w.clone()
            }
        })
        .collect();
    quoted.join(" ")
}
