//! What the `train` subcommands do: resolve flags into a configuration and a run directory,
//! then call the learner.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use ember_datasets::{DatasetKind, ImageBatcher, InMemoryDataset, Split, load, locate};
use ember_models::ModelKind;

use crate::backend::{self, BackendKind, DeviceChoice};
use crate::cli::DEFAULT_MODEL;
use crate::cli::{
    AugmentPreviewArgs, Cli, Command, CompareArgs, DeviceArgs, EvaluateArgs, TrainArgs,
};
use crate::config::LogFormat;
use crate::config::TrainConfig;
use crate::data::load_run_data;
use crate::evaluation::evaluate_model;
use crate::learner::checkpoint::{self, Checkpoint};
use crate::learner::progress::{Console, JsonLines, Progress};
use crate::learner::{FitOptions, FitOutcome, fit};
use crate::overrides::{apply_callback_args, apply_logging_args, apply_regularization_args};
use crate::run_files::{CONFIG_FILE, FINAL_MODEL_FILE};
use ember_engine::lock::{LockError, RunLock};
use ember_optim::OptimizerConfig;

/// Root of the default run directories.
pub const RUNS_DIR: &str = "runs";

/// Exit status of a run stopped by SIGINT/SIGTERM after writing its checkpoint (128 + SIGINT,
/// the shell's convention).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Runs the parsed command line; returns the process's exit status.
///
/// # Errors
/// Any failure, as an error whose `{:#}` rendering is one line naming the cause and the fix.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Evaluate(args)) => evaluate(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Plot(args)) => crate::plot::runs::command(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Toy(args)) => crate::toy::command::command(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Compare(args)) => compare(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::AugmentPreview(args)) => augment_preview(&args).map(|()| ExitCode::SUCCESS),
        None => train(&cli.train),
    }
}

/// A flag that SIGINT, SIGTERM and SIGHUP (the terminal closed) set, so the learner stops
/// after the current step with a checkpoint; a second signal while the flag is set ends the
/// process at once.
fn stop_on_signals() -> anyhow::Result<Arc<AtomicBool>> {
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

fn apply_autotune(args: &DeviceArgs) {
    if let Some(level) = &args.autotune {
        backend::apply_autotune_level(level);
    }
}

fn chosen_backend(args: &DeviceArgs) -> Option<BackendKind> {
    args.backend
        .or(args.device.map(DeviceChoice::default_backend))
}

/// `train [FLAGS]`: a new run, or the continuation of one with `--resume`.
fn train(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    apply_autotune(&args.device);
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
    let data = load_run_data(&config)?;
    let train_images = data.train.data().len();
    if let Some(batch) = config.batch_size.filter(|&b| b > train_images) {
        bail!(
            "--batch-size {batch} is larger than the training split ({train_images} images); use at most {train_images}, or --batch-size full"
        );
    }
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
        run_dir: run_dir.clone(),
        resume,
        stop: Some(stop_on_signals()?),
        lock: Some(lock),
    };
    let outcome = crate::gpu_error::catch(|| fit(&config, &backend, &data, options, console.as_mut()))
        .map_err(|e| {
            if !e.is::<crate::gpu_error::GpuFailure>() {
                return e;
            }
            let batch = config
                .batch_size
                .map_or_else(|| "full".to_string(), |n| n.to_string());
            // A GPU failure leaves the run's checkpoints as they were: say how to continue.
            let resume = if checkpoint::has_checkpoints(&run_dir) {
                format!(
                    "; the last checkpoint of {} is intact: continue with train --resume latest --run-dir {} (add --device cpu to continue on the CPU)",
                    run_dir.display(),
                    run_dir.display()
                )
            } else {
                String::new()
            };
            anyhow::anyhow!("{e:#} (this run: --batch-size {batch}){resume}")
        })?;
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

/// The configuration of a new run: the defaults, or the `--config` file, overridden by the
/// flags given.
fn new_config(args: &TrainArgs) -> anyhow::Result<TrainConfig> {
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
fn runs_of(model: ModelKind, optimizer: &OptimizerConfig) -> PathBuf {
    Path::new(RUNS_DIR).join(format!("{}-{}", model.name(), optimizer.name()))
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
fn lock_run(dir: &Path) -> anyhow::Result<RunLock> {
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
fn create_next_run_dir(parent: &Path) -> anyhow::Result<PathBuf> {
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

/// `train compare`: the comparison, or (with the hidden worker flags) one backend's part of it.
fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    if let (Some(job), Some(backend), Some(result)) =
        (&args.worker_job, args.worker_backend, &args.worker_result)
    {
        return crate::compare::worker::worker_main(job, backend, result);
    }
    if let Some(level) = &args.autotune {
        backend::apply_autotune_level(level);
    }
    let job = crate::compare::job_from_args(args)?;
    let run_dir = match &args.run_dir {
        Some(dir) => dir.clone(),
        // runs/compare/<model>-<opt>/run-NNN
        None => create_next_run_dir(&Path::new(RUNS_DIR).join("compare").join(format!(
            "{}-{}",
            job.config.model.name(),
            job.config.optimizer.name()
        )))?,
    };
    let _lock = lock_run(&run_dir)?;
    let exe = std::env::current_exe().context("cannot locate the train binary")?;
    crate::compare::run(&job, &args.backends, &run_dir, &exe).map(|_| ())
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
    let (fixed, changes): (Vec<Difference>, Vec<Difference>) =
        differences(&before, &config).into_iter().partition(|d| {
            let top = d.key.split('.').next().unwrap_or_default();
            !MAY_CHANGE_ON_RESUME.contains(&top)
        });
    // Another optimizer differs in every hyperparameter; its name says enough.
    let other_optimizer = fixed.iter().any(|d| d.key == "optimizer.name");
    let refused: Vec<String> = fixed
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
    if !refused.is_empty() {
        bail!(
            "cannot resume {}: it was trained differently ({}); drop those flags or start a new run",
            checkpoint.dir.display(),
            refused.join(", ")
        );
    }
    let changes = changes
        .iter()
        .map(|d| format!("{}: {} -> {}", d.key, d.was, d.now))
        .collect();
    Ok((config, changes))
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

/// `train augment-preview`: the first training images beside augmentations of them, as a PNG.
fn augment_preview(args: &AugmentPreviewArgs) -> anyhow::Result<()> {
    let augmentation: ember_datasets::Augmentation = args
        .augment
        .parse()
        .map_err(|e| anyhow::anyhow!("--augment: {e}"))?;
    let dataset = args.dataset.unwrap_or(DatasetKind::Mnist);
    let dir = locate(dataset, args.data_dir.as_deref())?;
    let train = load(&dir, Split::Train)?;
    let n = (args.images as usize).min(train.len());
    let images: Vec<&[u8]> = (0..n).map(|i| train.image(i)).collect();
    let grid = ember_datasets::augment::preview_grid(
        &images,
        ember_datasets::IMAGE_SIDE,
        &augmentation,
        args.per_image as usize,
        args.seed,
        args.zoom,
    );
    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    grid.save(&args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    ember_engine::console::out(&format!(
        "wrote {} ({n} {dataset} training images, each beside {} augmentations by '{augmentation}')",
        args.output.display(),
        args.per_image
    ));
    Ok(())
}

/// `train evaluate`.
fn evaluate(args: &EvaluateArgs) -> anyhow::Result<()> {
    apply_autotune(&args.device);
    let (weights, recorded) = locate_weights(&args.checkpoint)?;
    let model = match (args.model, &recorded) {
        (Some(asked), Some(config)) if asked != config.model => bail!(
            "{} holds a {} model, not {asked}; omit --model or pass --model {}",
            args.checkpoint.display(),
            config.model,
            config.model
        ),
        (Some(asked), _) => asked,
        (None, Some(config)) => config.model,
        (None, None) => bail!(
            "cannot tell which model {} holds (no {CONFIG_FILE} or checkpoint state beside it); pass --model",
            weights.display()
        ),
    };
    let dataset = args
        .dataset
        .or(recorded.as_ref().map(|c| c.dataset))
        .unwrap_or(DatasetKind::Mnist);
    let data_dir = args
        .data_dir
        .clone()
        .or(recorded.as_ref().and_then(|c| c.data_dir.clone()));
    let backend_kind = chosen_backend(&args.device).unwrap_or(BackendKind::Flex);
    let backend = backend::select(backend_kind, args.device.gpu_index)?;
    // The recorded run's layers (batch normalization); --model alone means the plain model.
    let options = recorded
        .as_ref()
        .map(|c| c.regularization.model_options())
        .unwrap_or_default();
    let trained = checkpoint::load_weights(&weights, model, &options, &backend.device)?;
    let dir = locate(dataset, data_dir.as_deref())?;
    let test = InMemoryDataset::new(load(&dir, Split::Test)?);
    let evaluation = evaluate_model(&trained, &test, ImageBatcher::new(dataset), &backend.device);
    ember_engine::console::out(&format!(
        "{} ({model}) on the {dataset} test split, {} [{}]",
        weights.display(),
        backend.kind,
        backend.device_name
    ));
    ember_engine::console::out_text(&evaluation.report());
    Ok(())
}

/// The weights file that `path` names, and the configuration recorded beside it if any.
///
/// A `.bpk` file is used as is (configuration from `config.toml` or `state.json` in its
/// directory); a finished run directory gives its final `model.bpk`; a checkpoint or an
/// unfinished run directory gives the checkpoint's weights.
fn locate_weights(path: &Path) -> anyhow::Result<(PathBuf, Option<TrainConfig>)> {
    if path.is_file() {
        let dir = path.parent().unwrap_or(Path::new("."));
        let recorded = if dir.join(checkpoint::STATE_FILE).is_file() {
            Some(checkpoint::read(dir)?.config)
        } else if dir.ends_with(checkpoint::MODELS_DIR) && !dir.join(CONFIG_FILE).is_file() {
            // A weights-only selected checkpoint, <run>/models/NAME.bpk: the run's config.
            read_config(&dir.parent().unwrap_or(Path::new(".")).join(CONFIG_FILE))?
        } else {
            read_config(&dir.join(CONFIG_FILE))?
        };
        return Ok((path.to_path_buf(), recorded));
    }
    if path.join(FINAL_MODEL_FILE).is_file() && path.join(CONFIG_FILE).is_file() {
        let recorded = read_config(&path.join(CONFIG_FILE))?;
        return Ok((path.join(FINAL_MODEL_FILE), recorded));
    }
    let checkpoint = checkpoint::resolve(path)?;
    Ok((
        checkpoint.dir.join(checkpoint::MODEL_FILE),
        Some(checkpoint.config),
    ))
}

fn read_config(path: &Path) -> anyhow::Result<Option<TrainConfig>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let config = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{} is not a valid ember configuration: {e}", path.display())
    })?;
    Ok(Some(config))
}
