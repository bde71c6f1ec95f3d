//! What the `train` subcommands do: dispatch to training ([`crate::training`]), committees,
//! distillation, the learning-rate range test, evaluation, comparison and previews.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ember_datasets::{DatasetKind, ImageBatcher, InMemoryDataset, Split, load, locate};

use crate::backend::{self, BackendKind};
use crate::cli::{AugmentPreviewArgs, Cli, Command, CompareArgs, EvaluateArgs};
use crate::committee::combine::Rule;
use crate::evaluation::evaluate_model;
use crate::learner::checkpoint;
use crate::run_files::CONFIG_FILE;

mod committee;
mod distill;
mod lr_find;
mod sweep;

pub use crate::training::{EXIT_INTERRUPTED, RUNS_DIR};
use crate::training::{apply_autotune, chosen_backend, create_command_run_dir, lock_run, train};

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
        Some(Command::Committee(args)) => committee::command(*args),
        Some(Command::Distill(args)) => distill::command(*args),
        Some(Command::Summary(args)) => crate::summary::command(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Sweep(args)) => sweep::command(&args.words),
        Some(Command::LrFind(args)) => lr_find::command(*args),
        None => train(&cli.train),
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
        None => create_command_run_dir("compare", job.config.model, &job.config.optimizer)?,
    };
    let _lock = lock_run(&run_dir)?;
    let exe = std::env::current_exe().context("cannot locate the train binary")?;
    crate::compare::run(&job, &args.backends, &run_dir, &exe).map(|_| ())
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
    let path = match args.checkpoint.as_slice() {
        [one] => one,
        several => return evaluate_committee(args, several),
    };
    if args.combine.weights.is_some() || args.combine.vote {
        bail!("--weights and --vote combine several checkpoints; give more than one --checkpoint");
    }
    let (weights, recorded) = checkpoint::locate_weights(path)?;
    let model = match (args.model, &recorded) {
        (Some(asked), Some(config)) if asked != config.model => bail!(
            "{} holds a {} model, not {asked}; omit --model or pass --model {}",
            path.display(),
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
    let preprocess = recorded.as_ref().map(|c| c.preprocess).unwrap_or_default();
    let test = InMemoryDataset::new(preprocess.apply_all(load(&dir, Split::Test)?));
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

/// `train evaluate` with several checkpoints: each run alone and their combination.
fn evaluate_committee(args: &EvaluateArgs, paths: &[PathBuf]) -> anyhow::Result<()> {
    if let Some(model) = args.model {
        bail!(
            "--model {model} does not apply to several checkpoints: each member's model is read from its run"
        );
    }
    if let Some(dataset) = args.dataset {
        bail!(
            "--dataset {dataset} does not apply to several checkpoints: each member is tested on the dataset it was trained on"
        );
    }
    let rule = Rule::new(
        paths.len(),
        args.combine.weights.as_deref(),
        args.combine.vote,
    )
    .map_err(anyhow::Error::msg)?;
    let backend_kind = chosen_backend(&args.device).unwrap_or(BackendKind::Flex);
    let backend = backend::select(backend_kind, args.device.gpu_index)?;
    let report =
        crate::committee::evaluate(paths, &rule, args.data_dir.as_deref(), &backend.device)?;
    ember_engine::console::out_text(&report.table());
    Ok(())
}
