//! The `train` command line (clap).
//!
//! `train [FLAGS]` trains; `train evaluate --checkpoint PATH` evaluates saved weights. Flags are
//! optional in the parsed form so that a resumed run can tell the flags a user gave from the
//! defaults (see [`crate::commands`]).

use std::path::PathBuf;
use std::str::FromStr;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use ember_datasets::DatasetKind;
use ember_models::ModelKind;

use crate::backend::{BackendKind, DeviceChoice};
use crate::optim::OptimizerConfig;

/// ember: train MNIST-family models on Burn, CPU or GPU.
#[derive(Debug, Parser)]
#[command(
    name = "train",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  train --model lenet --opt adabelief --epochs 3\n  train --model lenet --opt adabelief --device gpu\n  train --model lenet --opt adabelief --resume latest\n  train evaluate --checkpoint runs/lenet-adabelief/run-001"
)]
pub struct Cli {
    /// A subcommand; without one, `train` trains.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Training flags.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Subcommands of `train`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate saved weights on the test split: loss, accuracy, per-class accuracy, confusion
    /// matrix.
    Evaluate(EvaluateArgs),
    /// Train the same job on several backends and compare speed, memory and results.
    Compare(Box<CompareArgs>),
}

fn model_parser() -> impl TypedValueParser<Value = ModelKind> {
    PossibleValuesParser::new(ModelKind::ALL.map(ModelKind::name))
        .try_map(|s| ModelKind::from_str(&s))
}

fn optimizer_parser() -> impl TypedValueParser<Value = OptimizerConfig> {
    PossibleValuesParser::new(OptimizerConfig::NAMES).try_map(|s| OptimizerConfig::from_str(&s))
}

fn dataset_parser() -> impl TypedValueParser<Value = DatasetKind> {
    PossibleValuesParser::new(DatasetKind::ALL.map(DatasetKind::name))
        .try_map(|s| DatasetKind::from_str(&s))
}

fn backend_parser() -> impl TypedValueParser<Value = BackendKind> {
    PossibleValuesParser::new(BackendKind::ALL.map(BackendKind::name))
        .try_map(|s| BackendKind::from_str(&s))
}

fn device_parser() -> impl TypedValueParser<Value = DeviceChoice> {
    PossibleValuesParser::new(["cpu", "gpu"]).try_map(|s| DeviceChoice::from_str(&s))
}

/// `--batch-size`: a number of images, or `full` for full-batch training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// The whole training split in one step (what Rprop is designed for).
    Full,
    /// This many images per step.
    Images(usize),
}

impl FromStr for BatchSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "full" {
            return Ok(BatchSize::Full);
        }
        match s.parse::<usize>() {
            Ok(0) | Err(_) => Err(format!(
                "expected a positive number of images or 'full', got '{s}'"
            )),
            Ok(n) => Ok(BatchSize::Images(n)),
        }
    }
}

impl BatchSize {
    /// As stored in the configuration: `None` for full batch.
    pub fn images(self) -> Option<usize> {
        match self {
            BatchSize::Full => None,
            BatchSize::Images(n) => Some(n),
        }
    }
}

/// Device and backend flags, shared by training and evaluation.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    /// Where to compute: cpu (default backend flex) or gpu (wgpu).
    #[arg(long, value_parser = device_parser())]
    pub device: Option<DeviceChoice>,
    /// Backend, overriding the device's default.
    #[arg(long, value_parser = backend_parser())]
    pub backend: Option<BackendKind>,
    /// With wgpu: the index of the adapter to use, in wgpu's enumeration order (default: the
    /// adapter wgpu prefers).
    #[arg(long, value_name = "N")]
    pub gpu_index: Option<usize>,
    /// CubeCL kernel autotuning effort for wgpu: minimal, balanced (CubeCL's default),
    /// extensive or full. Sets CUBECL_AUTOTUNE_LEVEL; ember uses minimal by itself on a
    /// software (CPU) adapter such as lavapipe.
    #[arg(long, value_name = "LEVEL", value_parser = ["minimal", "balanced", "extensive", "full"])]
    pub autotune: Option<String>,
}

/// Flags of a training run. Unset flags take the defaults of a new run, or the checkpoint's
/// values when resuming.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Model: mlp (784-100-10), deep-mlp (784-128-64-32-16-10) or lenet (LeNet-5) [default: lenet].
    #[arg(long, value_parser = model_parser())]
    pub model: Option<ModelKind>,
    /// Optimizer, at its reference defaults [default: adabelief].
    #[arg(long = "opt", value_name = "OPTIMIZER", value_parser = optimizer_parser())]
    pub optimizer: Option<OptimizerConfig>,
    /// Device and backend.
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Epochs to train (in total, when resuming) [default: 5].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per step, or 'full' for full-batch training [default: 64].
    #[arg(long, value_name = "N|full")]
    pub batch_size: Option<BatchSize>,
    /// Learning rate [default: the optimizer's reference default: adabelief/adam 1e-3,
    /// sgd/rprop 1e-2, adadelta 1.0].
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Seed of weight initialization and shuffling [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Dataset [default: mnist].
    #[arg(long, value_parser = dataset_parser())]
    pub dataset: Option<DatasetKind>,
    /// Directory holding the dataset's four IDX files (raw or .gz) [default: datasets/<name>
    /// in the repository, then /usr/share/datasets/<name>].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Fraction of the training images held out (from the end) for validation, as Keras'
    /// validation_split; 0 validates on the test split [default: 0.1].
    #[arg(long, allow_negative_numbers = true)]
    pub val_split: Option<f64>,
    /// Train on the first N training images only (quick runs, tests).
    #[arg(long, value_name = "N")]
    pub limit_train: Option<usize>,
    /// Run directory for config, metrics, checkpoints and the final model [default:
    /// runs/<model>-<opt>/run-NNN, a new one each run].
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Continue a run: 'latest' (the newest run of this model and optimizer, or --run-dir), a
    /// run directory, or a checkpoint directory.
    #[arg(long, value_name = "PATH|latest")]
    pub resume: Option<String>,
    /// Also write a checkpoint every N optimizer steps (one is always written at each epoch
    /// end, and on Ctrl-C / SIGTERM).
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Print only the per-epoch lines (no progress bar, no messages).
    #[arg(long)]
    pub quiet: bool,
}

/// Flags of `train evaluate`.
#[derive(Debug, Clone, Args)]
pub struct EvaluateArgs {
    /// A run directory, a checkpoint directory, or a .bpk weights file.
    #[arg(long, value_name = "PATH")]
    pub checkpoint: PathBuf,
    /// The model the weights belong to (default: as recorded next to the weights).
    #[arg(long, value_parser = model_parser())]
    pub model: Option<ModelKind>,
    /// Dataset whose test split to use (default: as recorded, else mnist).
    #[arg(long, value_parser = dataset_parser())]
    pub dataset: Option<DatasetKind>,
    /// Directory holding the dataset's IDX files.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Device and backend.
    #[command(flatten)]
    pub device: DeviceArgs,
}

/// Flags of `train compare`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("length").args(["epochs", "steps"])))]
pub struct CompareArgs {
    /// Model [default: lenet].
    #[arg(long, value_parser = model_parser())]
    pub model: Option<ModelKind>,
    /// Optimizer, at its reference defaults [default: adabelief].
    #[arg(long = "opt", value_name = "OPTIMIZER", value_parser = optimizer_parser())]
    pub optimizer: Option<OptimizerConfig>,
    /// Backends to compare, in order; the first one that runs is the reference of the loss
    /// divergence, the first CPU one (flex, ndarray) the reference of the speedup.
    #[arg(long, value_delimiter = ',', value_parser = backend_parser(), default_value = "flex,ndarray,wgpu")]
    pub backends: Vec<BackendKind>,
    /// Epochs to train [default: 1 unless --steps].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Optimizer steps to train instead of whole epochs.
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// Images per step, or 'full' [default: 64].
    #[arg(long, value_name = "N|full")]
    pub batch_size: Option<BatchSize>,
    /// Learning rate [default: the optimizer's reference default].
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Seed of weight initialization and shuffling [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Dataset [default: mnist].
    #[arg(long, value_parser = dataset_parser())]
    pub dataset: Option<DatasetKind>,
    /// Directory holding the dataset's IDX files.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Fraction of the training images held out for validation [default: 0.1].
    #[arg(long, allow_negative_numbers = true)]
    pub val_split: Option<f64>,
    /// Train on the first N training images only.
    #[arg(long, value_name = "N")]
    pub limit_train: Option<usize>,
    /// Directory for compare.json, compare.csv and compare.png [default:
    /// runs/compare/<model>-<opt>/run-NNN, a new one each run].
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Compare the loss trajectories over the first K steps.
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub divergence_steps: usize,
    /// Time the first N steps separately as warm-up (wgpu compiles and tunes kernels there).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub warmup_steps: usize,
    /// With wgpu: the index of the adapter to use.
    #[arg(long, value_name = "N")]
    pub gpu_index: Option<usize>,
    /// CubeCL kernel autotuning effort for wgpu (see `train --help`).
    #[arg(long, value_name = "LEVEL", value_parser = ["minimal", "balanced", "extensive", "full"])]
    pub autotune: Option<String>,
    /// Internal: run one backend's job (JSON) in this process (the comparison's child).
    #[arg(long, hide = true, requires_all = ["worker_backend", "worker_result"])]
    pub worker_job: Option<String>,
    /// Internal: the backend of `--worker-job`.
    #[arg(long, hide = true, value_parser = backend_parser())]
    pub worker_backend: Option<BackendKind>,
    /// Internal: where the worker writes its outcome.
    #[arg(long, hide = true)]
    pub worker_result: Option<PathBuf>,
}
