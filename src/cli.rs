//! The `train` command line (clap).
//!
//! `train [FLAGS]` trains; `train evaluate --checkpoint PATH` evaluates saved weights. Flags are
//! optional in the parsed form so that a resumed run can tell the flags a user gave from the
//! defaults (see [`crate::commands`]).

use std::path::PathBuf;
use std::str::FromStr;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{ArgAction, Args, Parser, Subcommand};
use ember_datasets::{DatasetKind, Preprocessing};
use ember_models::ModelKind;
use serde::Serialize;

use crate::backend::{BackendKind, DeviceChoice};
use crate::toy::{StartPoint, TestFunction};
use ember_engine::callbacks::model_checkpoint::SaveFreq;
use ember_engine::callbacks::target::Target;
use ember_optim::{OptimizerConfig, RpropVariant};

/// The model of `train` without `--model`.
pub const DEFAULT_MODEL: ModelKind = ModelKind::Lenet;

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
    /// Plot runs' training curves (loss and accuracy against epoch) as PNG and SVG.
    Plot(PlotArgs),
    /// Optimizer playground: run optimizers on a 2-D test function, write their paths as CSV
    /// and plot them over the function's contours.
    Toy(Box<ToyArgs>),
    /// Train the same job on several backends and compare speed, memory and results.
    Compare(Box<CompareArgs>),
    /// Write a PNG grid of training images (first column) beside augmentations of them, to
    /// look at an --augment recipe before training with it.
    AugmentPreview(AugmentPreviewArgs),
    /// Train a committee of networks that differ by seed and preprocessing (Ciresan et al.
    /// 2011), each a resumable run, and report each member's test error and the committee's.
    /// --preprocess takes one recipe per member (comma-separated, used in turn), --augment
    /// likewise with recipes separated by ';'; the same command with --run-dir continues a
    /// stopped committee.
    Committee(Box<CommitteeArgs>),
    /// Distill a trained teacher into a student (Hinton et al. 2015), and train the same
    /// student alone for comparison; report the three test accuracies.
    Distill(Box<DistillArgs>),
    /// Print a model's layers, output shapes and parameter counts, as Keras' model.summary().
    Summary(crate::summary::SummaryArgs),
    /// Learning-rate range test (Smith 2017; Lightning's Tuner.lr_find): ramp the learning
    /// rate exponentially over a short run and suggest the rate where the loss falls fastest.
    ///
    /// A fresh model (the run's seed) trains with the rate ramped exponentially from --min-lr
    /// to --max-lr over --steps steps, stopping when the smoothed loss (EMA, beta 0.98) exceeds
    /// 4x its best or the loss is NaN. The suggestion is the rate where the smoothed loss falls
    /// fastest against log lr (Lightning's rule, skipping the first 10 points and the last);
    /// fastai's minimum/10 is printed beside it. Writes lr_find.csv, lr_find.json and
    /// lr_find.png/.svg to runs/lr-find/<model>-<opt>/run-NNN (docs/lr-find.md).
    LrFind(Box<LrFindArgs>),
    /// Run a grid of training runs over any of train's flags (--opt adam,sgd --lr 1e-3,1e-2
    /// --seeds 3) and report them; `train sweep report DIR` reports a sweep's runs again.
    #[command(disable_help_flag = true, long_about = SWEEP_HELP)]
    Sweep(SweepArgs),
}

/// `train sweep --help`.
const SWEEP_HELP: &str = "Run a grid of training runs over any of train's flags, and report them.

Usage: train sweep [SWEEP FLAGS] [TRAIN FLAGS]
       train sweep report DIR [--sort-by METRIC]

Every train flag may be given; a value with several items is an axis of the grid, and the runs
are every combination: --opt adam,adagrad,rmsprop --lr 1e-3,1e-2 --seeds 3 is 18 runs. Items are
separated by commas, except for the flags whose own values hold commas (--lr-schedule, --augment,
--dropout, --etas, --step-sizes, --preprocess), separated by ';'. A switch is swept as
--batch-norm=true,false. Each run is an ordinary run directory DIR/NNN_key=value..., started,
continued from its checkpoint, or skipped when finished, so running the same sweep again (with
--run-dir DIR) continues a stopped one.

Sweep flags:
  --seeds N            Each point N times, with seeds --seed (default 42), +1, ...
  --jobs N             Runs at once on this machine [default: 1]
  --run-dir DIR        The sweep's directory [default: runs/sweep/run-NNN]
  --file FILE          A TOML sweep: seeds, jobs, sort_by; a [train] table of flags (arrays
                       are axes); [[runs]] entries, each a name and flags (a list of variants,
                       crossed with the grid). Flags on the command line override it.
  --print-commands     Write the sweep directory's sweep.json and print one train command per
                       run (for a scheduler: a Slurm array, GNU parallel, a shell loop), then
                       report with: train sweep report DIR
  --sort-by METRIC     The report's sort key: val_accuracy (default), val_loss, loss, accuracy,
                       best_val_accuracy, test_accuracy, test_loss, target_steps

The batch-size study: sweep --batch-size with a target, e.g.
  train sweep --model mlp --opt sgd --lr 0.1 --batch-size 16,32,64,256,1024,4096 --until loss<=0.1 --epochs 100
Each run stops at the first step where the mean training loss over the last --until-window images
reaches the target; the report gives the steps, epochs, images and seconds each batch size needed
and draws steps against batch size (steps.png, log-log).

The report: report.md (printed) and report.csv: each point's mean ± sample sd over seeds, sorted
by the monitored metric, and every run's final and best metrics; curves.png: the points' mean
curves overlaid.";

/// `train sweep`'s words: its own flags and train's, parsed by [`crate::sweep`] (train's flags
/// are not known to clap here, and a value may be a list).
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// The sweep's flags and train's flags (see train sweep --help).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "FLAGS")]
    pub words: Vec<String>,
}

/// `train augment-preview`.
#[derive(Debug, Clone, Args)]
pub struct AugmentPreviewArgs {
    /// The recipe, as --augment takes it (e.g. rotate=30,elastic=34:4).
    #[arg(long, value_name = "SPEC")]
    pub augment: String,
    /// Dataset [default: mnist].
    #[arg(long, value_parser = dataset_parser())]
    pub dataset: Option<DatasetKind>,
    /// Directory holding the dataset's IDX files (as for training).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Training images shown, one per row, from the first.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub images: u32,
    /// Augmentations beside each image.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub per_image: u32,
    /// Seed of the draws.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Pixels per image pixel.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub zoom: u32,
    /// The PNG to write.
    #[arg(long, value_name = "PNG", default_value = "augment-preview.png")]
    pub output: PathBuf,
}

pub(crate) fn model_parser() -> impl TypedValueParser<Value = ModelKind> {
    PossibleValuesParser::new(ModelKind::ALL.map(ModelKind::name))
        .try_map(|s| ModelKind::from_str(&s))
}

fn optimizer_parser() -> impl TypedValueParser<Value = OptimizerConfig> {
    PossibleValuesParser::new(OptimizerConfig::NAMES).try_map(|s| OptimizerConfig::from_str(&s))
}

fn toy_function_parser() -> impl TypedValueParser<Value = TestFunction> {
    PossibleValuesParser::new(TestFunction::ALL.map(TestFunction::name))
        .try_map(|s| TestFunction::from_str(&s))
}

fn variant_parser() -> impl TypedValueParser<Value = RpropVariant> {
    PossibleValuesParser::new(RpropVariant::ALL.map(RpropVariant::name))
        .try_map(|s| RpropVariant::from_str(&s))
}

fn parse_preprocess(s: &str) -> Result<Preprocessing, String> {
    s.parse()
        .map_err(|e: ember_datasets::preprocess::PreprocessError| e.to_string())
}

fn parse_target(s: &str) -> Result<Target, String> {
    s.parse()
}

/// A finite number: every number flag. `inf` and `NaN` parse as `f64` but are no setting's
/// value, and a configuration cannot store them (TOML merges go through JSON, which has no
/// NaN), so they are refused here, naming the flag.
fn finite(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("expected a finite number, got '{s}'")),
        Err(_) => Err(format!("expected a number, got '{s}'")),
    }
}

/// `A,B`: two finite numbers (for `--etas`, `--step-sizes`).
fn parse_pair(s: &str) -> Result<(f64, f64), String> {
    let numbers: Vec<&str> = s.split(',').map(str::trim).collect();
    match numbers[..] {
        [a, b] => match (finite(a), finite(b)) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            _ => Err(format!("expected two finite numbers A,B, got '{s}'")),
        },
        _ => Err(format!("expected two numbers A,B, got '{s}'")),
    }
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
        Ok(match count_or(s, "full", "images")? {
            None => BatchSize::Full,
            Some(n) => BatchSize::Images(n),
        })
    }
}

/// A positive count, or `word` for "no limit" (`None`).
fn count_or(s: &str, word: &str, unit: &str) -> Result<Option<usize>, String> {
    if s == word {
        return Ok(None);
    }
    match s.parse::<usize>() {
        Ok(0) | Err(_) => Err(format!(
            "expected a positive number of {unit} or '{word}', got '{s}'"
        )),
        Ok(n) => Ok(Some(n)),
    }
}

/// `--keep-checkpoints`: how many resume checkpoints a run keeps, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepCheckpoints(pub Option<usize>);

impl FromStr for KeepCheckpoints {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        count_or(s, "all", "checkpoints").map(KeepCheckpoints)
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
#[derive(Debug, Clone, Default, Args)]
pub struct DeviceArgs {
    /// Where to compute: cpu (default backend flex) or gpu (wgpu).
    #[arg(long, value_parser = device_parser())]
    pub device: Option<DeviceChoice>,
    /// Backend, overriding the device's default.
    #[arg(long, value_parser = backend_parser())]
    pub backend: Option<BackendKind>,
    /// With wgpu: the index of the adapter to use, in wgpu's enumeration order (default: the
    /// adapter wgpu prefers).
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub gpu_index: Option<usize>,
    /// CubeCL kernel autotuning effort for wgpu: minimal, balanced (CubeCL's default),
    /// extensive or full. Sets CUBECL_AUTOTUNE_LEVEL; ember uses minimal by itself on a
    /// software (CPU) adapter such as lavapipe.
    #[arg(long, value_name = "LEVEL", value_parser = ["minimal", "balanced", "extensive", "full"])]
    pub autotune: Option<String>,
}

/// Flags of a training run. Unset flags take the defaults of a new run, or the checkpoint's
/// values when resuming.
#[derive(Debug, Clone, Default, Args)]
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
    #[arg(long, allow_negative_numbers = true)]
    pub epochs: Option<usize>,
    /// Images per step, or 'full' for full-batch training [default: 64].
    #[arg(long, value_name = "N|full")]
    pub batch_size: Option<BatchSize>,
    /// Learning rate [default: the optimizer's reference default: adabelief/adam/adamw 1e-3,
    /// sgd/rprop/adagrad/rmsprop 1e-2, adamax/nadam 2e-3, adadelta 1.0].
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// The seed and the data.
    #[command(flatten)]
    pub data: DataArgs,
    /// Preprocessing of every split's images: none, deslant, width=W (bounding box scaled to
    /// W pixels wide, 1-28) or deslant+width=W; train committee takes a list, one per member
    /// [default: none].
    #[arg(long, value_name = "RECIPE[,RECIPE...]", value_delimiter = ',', value_parser = parse_preprocess)]
    pub preprocess: Option<Vec<Preprocessing>>,
    /// Run directory for config, metrics, checkpoints and the final model [default:
    /// runs/<model>-<opt>/run-NNN, a new one each run].
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Continue a run: 'latest' (the newest run of this model and optimizer, or --run-dir), a
    /// run directory, or a checkpoint directory; or 'auto' with --run-dir: start the run the
    /// flags describe there, continue it from its latest checkpoint, or leave it if it
    /// finished (a command a scheduler may run again).
    #[arg(long, value_name = "PATH|latest|auto")]
    pub resume: Option<String>,
    /// Also write a checkpoint every N optimizer steps (one is always written at each epoch
    /// end, and on Ctrl-C / SIGTERM / SIGHUP).
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Resume checkpoints to keep: after each one is written the oldest beyond N are removed,
    /// so a long run's disk use stays bounded ('all' keeps every one) [default: 3].
    #[arg(long, value_name = "N|all")]
    pub keep_checkpoints: Option<KeepCheckpoints>,
    /// Stop at the first step where a training target is reached: loss<=X or accuracy>=Y,
    /// checked after every step on the mean over the last --until-window training images;
    /// summary.json records the steps, epochs, images and seconds it took.
    #[arg(long, value_name = "METRIC<=X|METRIC>=Y", value_parser = parse_target)]
    pub until: Option<Target>,
    /// Training images the --until mean covers [default: 2048].
    #[arg(long, value_name = "IMAGES", allow_negative_numbers = true)]
    pub until_window: Option<usize>,
    /// Print only the per-epoch lines (no progress bar, no messages).
    #[arg(long)]
    pub quiet: bool,
    /// Read the run's settings from a TOML file in the format of a run's config.toml (every
    /// field optional); flags given on the command line override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The optimizer's hyperparameters (first in the help, next to --opt and --lr).
    #[command(flatten)]
    pub optimizer_args: OptimizerArgs,
    /// Callbacks: early stopping, checkpoint selection, learning-rate schedule.
    #[command(flatten)]
    pub callbacks: CallbackArgs,
    /// Metric logging.
    #[command(flatten)]
    pub logging: LoggingArgs,
    /// Regularization and the training loop's knobs.
    #[command(flatten)]
    pub regularization: RegularizationArgs,
}

/// The seed and the data of a run: what `train`, `train lr-find` and `train compare` train on,
/// in which order.
#[derive(Debug, Clone, Default, Args)]
pub struct DataArgs {
    /// Seed of weight initialization and shuffling [default: 42].
    #[arg(long, allow_negative_numbers = true)]
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
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub val_split: Option<f64>,
    /// Train on the first N training images only (quick runs, tests).
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub limit_train: Option<usize>,
}

/// Regularization flags, serialized as `RegularizationConfig`'s fields (flags not given left
/// out), so `crate::overrides` sets exactly those fields.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct RegularizationArgs {
    /// Dropout probability after each hidden fully connected layer's activation, in [0, 1);
    /// one value for all, or one per hidden layer (mlp 1, deep-mlp 4, lenet 2: fc1 and fc2).
    #[arg(long, value_name = "P[,P...]", value_delimiter = ',', value_parser = finite, allow_negative_numbers = true, help_heading = "Regularization")]
    pub dropout: Option<Vec<f64>>,
    /// bernoulli (torch.nn.Dropout) or gaussian (multiplicative N(1, p/(1-p)), Srivastava et al.
    /// 2014 section 10) [default: bernoulli].
    #[arg(long, value_parser = ["bernoulli", "gaussian"], help_heading = "Regularization")]
    pub dropout_kind: Option<String>,
    /// Batch normalization after each convolution and hidden linear layer, before its ReLU.
    #[arg(long, help_heading = "Regularization")]
    #[serde(skip_serializing_if = "is_off")]
    pub batch_norm: bool,
    /// L1 penalty on the weights (biases excluded): loss + l1 * sum|w| [default: 0].
    #[arg(long, value_name = "LAMBDA", value_parser = finite, allow_negative_numbers = true, help_heading = "Regularization")]
    pub l1: Option<f64>,
    /// L2 penalty on the weights (biases excluded): loss + l2 * sum w^2 (Keras' L2; not the
    /// optimizer's weight_decay) [default: 0].
    #[arg(long, value_name = "LAMBDA", value_parser = finite, allow_negative_numbers = true, help_heading = "Regularization")]
    pub l2: Option<f64>,
    /// Augment the training images: comma-separated rotate=D, affine=D:T:S0-S1[:SH],
    /// elastic=ALPHA:SIGMA, noise=SD, jitter=B:C (torchvision's meanings; docs/augmentation.md).
    #[arg(long, value_name = "SPEC", help_heading = "Regularization")]
    pub augment: Option<String>,
    /// Clip gradients at this threshold (Lightning's gradient_clip_val).
    #[arg(long, value_name = "X", value_parser = finite, allow_negative_numbers = true, help_heading = "Regularization")]
    pub gradient_clip_val: Option<f64>,
    /// norm: the global norm of all gradients (torch's clip_grad_norm_); value: each component;
    /// tensor-norm: each parameter's own norm (Burn's, Keras' clipnorm) [default: norm].
    #[arg(long, value_parser = ["norm", "value", "tensor-norm"], help_heading = "Regularization")]
    pub gradient_clip_algorithm: Option<String>,
    /// Batches whose mean gradient makes one optimizer step [default: 1].
    #[arg(
        long,
        value_name = "K",
        allow_negative_numbers = true,
        help_heading = "Regularization"
    )]
    pub accumulate_grad_batches: Option<usize>,
    /// Keep an exponential moving average of the weights with this decay, in [0, 1) (Keras'
    /// ema_momentum, e.g. 0.99).
    #[arg(long, value_name = "D", value_parser = finite, allow_negative_numbers = true, help_heading = "Regularization")]
    pub ema_decay: Option<f64>,
    /// With --ema-decay: validate, test and save the averaged weights [default: true].
    #[arg(long, value_name = "BOOL", action = ArgAction::Set, help_heading = "Regularization")]
    pub ema_eval: Option<bool>,
}

/// Early stopping, checkpoint selection and learning-rate flags (Keras/Lightning names). Any
/// flag of a group turns that callback on.
///
/// Each group's fields serialize (serde) under the names of its configuration's fields
/// (`EarlyStoppingConfig`, `ModelCheckpointConfig`, `ReduceLrOnPlateauConfig`), flags not
/// given left out, and `crate::overrides` sets exactly those fields: a setting is declared by
/// its configuration field and its flag here, and nowhere else.
#[derive(Debug, Clone, Default, Args)]
pub struct CallbackArgs {
    /// Learning-rate schedule: constant, step:step_size=N,gamma=G, exponential:gamma=G,
    /// inverse-time-decay:decay=D, cosine:max_update=N,final_lr=X,warmup_steps=N,warmup_begin_lr=X.
    #[arg(long, value_name = "SPEC", help_heading = "Learning rate")]
    pub lr_schedule: Option<String>,
    /// Whether the schedule counts epochs or optimizer steps [default: epoch]; epoch-end sets
    /// the rate at the end of each epoch as d2l's train_ch11 (the first epoch at --lr, the
    /// schedule one epoch behind).
    #[arg(long, value_parser = ["epoch", "step", "epoch-end"], help_heading = "Learning rate")]
    pub schedule_unit: Option<String>,
    /// ReduceLROnPlateau.
    #[command(flatten)]
    pub plateau: PlateauArgs,
    /// Early stopping.
    #[command(flatten)]
    pub stopping: EarlyStoppingArgs,
    /// Checkpoint selection.
    #[command(flatten)]
    pub selection: CheckpointArgs,
}

/// Whether a switch is off (serde leaves an off switch out: it was not given).
fn is_off(on: &bool) -> bool {
    !*on
}

/// The flags of a group that were given, serialized under the names of the settings they set
/// (the group's serde names): an unset `Option` (null) and an off switch are left out.
pub fn given_flags(flags: &impl Serialize) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(flags) {
        Ok(serde_json::Value::Object(fields)) => fields
            .into_iter()
            .filter(|(_, value)| !value.is_null())
            .collect(),
        // The groups are structs of numbers, strings, booleans, pairs and unit enums: always
        // objects.
        _ => serde_json::Map::new(),
    }
}

/// ReduceLROnPlateau's flags, serialized as `ReduceLrOnPlateauConfig`'s fields.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct PlateauArgs {
    /// Multiply the learning rate by --plateau-factor when --plateau-monitor stops improving
    /// (Keras' ReduceLROnPlateau).
    #[arg(long, help_heading = "Learning rate")]
    #[serde(skip)]
    pub reduce_lr_on_plateau: bool,
    /// Metric ReduceLROnPlateau watches [default: val_loss].
    #[arg(long, value_name = "METRIC", help_heading = "Learning rate")]
    #[serde(rename = "monitor")]
    pub plateau_monitor: Option<String>,
    /// Direction of --plateau-monitor: min, max or auto [default: auto].
    #[arg(long, value_parser = ["min", "max", "auto"], help_heading = "Learning rate")]
    #[serde(rename = "mode")]
    pub plateau_mode: Option<String>,
    /// Factor the learning rate is multiplied by, < 1 [default: 0.1].
    #[arg(long, value_parser = finite, allow_negative_numbers = true, help_heading = "Learning rate")]
    #[serde(rename = "factor")]
    pub plateau_factor: Option<f64>,
    /// Epochs without improvement before reducing [default: 10].
    #[arg(long, allow_negative_numbers = true, help_heading = "Learning rate")]
    #[serde(rename = "patience")]
    pub plateau_patience: Option<usize>,
    /// Smallest change that counts as an improvement [default: 1e-4].
    #[arg(long, value_parser = finite, allow_negative_numbers = true, help_heading = "Learning rate")]
    #[serde(rename = "min_delta")]
    pub plateau_min_delta: Option<f64>,
    /// Epochs to wait after a reduction before counting again [default: 0].
    #[arg(long, allow_negative_numbers = true, help_heading = "Learning rate")]
    #[serde(rename = "cooldown")]
    pub plateau_cooldown: Option<usize>,
    /// Lower bound of the learning rate [default: 0].
    #[arg(long, value_parser = finite, allow_negative_numbers = true, help_heading = "Learning rate")]
    pub min_lr: Option<f64>,
}

/// Early stopping's flags, serialized as `EarlyStoppingConfig`'s fields.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct EarlyStoppingArgs {
    /// Stop when the monitored metric stops improving (Keras' EarlyStopping).
    #[arg(long, help_heading = "Early stopping")]
    #[serde(skip)]
    pub early_stopping: bool,
    /// Metric early stopping watches: loss, accuracy, val_loss, val_accuracy, learning_rate
    /// [default: val_loss].
    #[arg(long, value_name = "METRIC", help_heading = "Early stopping")]
    pub monitor: Option<String>,
    /// min (lower is better), max, or auto (from the name: *loss* -> min, *acc* -> max)
    /// [default: auto].
    #[arg(long, value_parser = ["min", "max", "auto"], help_heading = "Early stopping")]
    pub mode: Option<String>,
    /// Smallest change that counts as an improvement (absolute value used) [default: 0].
    #[arg(long, value_parser = finite, allow_negative_numbers = true, help_heading = "Early stopping")]
    pub min_delta: Option<f64>,
    /// Epochs without improvement before stopping [default: 0].
    #[arg(long, allow_negative_numbers = true, help_heading = "Early stopping")]
    pub patience: Option<usize>,
    /// Value the metric must beat for the patience count to reset (does not seed the best).
    #[arg(long, value_parser = finite, allow_negative_numbers = true, help_heading = "Early stopping")]
    pub baseline: Option<f64>,
    /// At the end of training keep the weights of the best epoch (whether or not training
    /// stopped early, as Keras 3).
    #[arg(long, help_heading = "Early stopping")]
    #[serde(skip_serializing_if = "is_off")]
    pub restore_best_weights: bool,
    /// Epochs to wait before watching the metric [default: 0].
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "N",
        help_heading = "Early stopping"
    )]
    pub start_from_epoch: Option<usize>,
    /// Stop when the metric becomes NaN or infinite (Lightning) [default: true].
    #[arg(long, value_name = "BOOL", help_heading = "Early stopping")]
    pub check_finite: Option<bool>,
    /// Stop as soon as the metric reaches this value (Lightning).
    #[arg(long, value_parser = finite, allow_negative_numbers = true, help_heading = "Early stopping")]
    pub stopping_threshold: Option<f64>,
    /// Stop as soon as the metric is worse than this value (Lightning).
    #[arg(long, value_parser = finite, allow_negative_numbers = true, help_heading = "Early stopping")]
    pub divergence_threshold: Option<f64>,
}

/// `--save-freq`: `epoch` or a positive number of steps.
fn save_freq_parser(s: &str) -> Result<SaveFreq, String> {
    s.parse()
        .map_err(|_| format!("expected 'epoch' or a positive number of steps, got '{s}'"))
}

/// Checkpoint selection's flags, serialized as `ModelCheckpointConfig`'s fields.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct CheckpointArgs {
    /// File name template of selected checkpoints in <run>/models/, Keras/Lightning style, e.g.
    /// 'epoch{epoch:03}-{val_loss:.4f}' (epochs 1-based).
    #[arg(long, value_name = "TEMPLATE", help_heading = "Checkpoint selection")]
    #[serde(rename = "filename")]
    pub checkpoint_filename: Option<String>,
    /// Metric checkpoint selection ranks by [default: --monitor; --save-best-only falls back
    /// to val_loss, --save-top-k K > 1 needs one].
    #[arg(long, value_name = "METRIC", help_heading = "Checkpoint selection")]
    #[serde(rename = "monitor")]
    pub checkpoint_monitor: Option<String>,
    /// Direction of --checkpoint-monitor: min, max or auto [default: auto].
    #[arg(long, value_parser = ["min", "max", "auto"], help_heading = "Checkpoint selection")]
    #[serde(rename = "mode")]
    pub checkpoint_mode: Option<String>,
    /// Only save when the monitored metric improves (Keras).
    #[arg(long, help_heading = "Checkpoint selection")]
    #[serde(skip_serializing_if = "is_off")]
    pub save_best_only: bool,
    /// Save the weights only (a .bpk file), not the full training state.
    #[arg(long, help_heading = "Checkpoint selection")]
    #[serde(skip_serializing_if = "is_off")]
    pub save_weights_only: bool,
    /// When to save: 'epoch' or every N optimizer steps [default: epoch].
    #[arg(long, value_name = "epoch|N", value_parser = save_freq_parser, help_heading = "Checkpoint selection")]
    pub save_freq: Option<SaveFreq>,
    /// Keep the K best checkpoints by the monitored metric; -1 keeps all, 0 none (Lightning).
    #[arg(
        long,
        value_name = "K",
        allow_negative_numbers = true,
        help_heading = "Checkpoint selection"
    )]
    pub save_top_k: Option<i64>,
    /// Also keep a 'last' checkpoint, always the newest (Lightning).
    #[arg(long, help_heading = "Checkpoint selection")]
    #[serde(skip_serializing_if = "is_off")]
    pub save_last: bool,
}

/// Logging flags.
#[derive(Debug, Clone, Default, Args)]
pub struct LoggingArgs {
    /// Console output: text, or json (one JSON object per line on stdout, for scripts)
    /// [default: text].
    #[arg(long, value_parser = ["text", "json"], help_heading = "Logging")]
    pub log_format: Option<String>,
    /// Do not write TensorBoard event files (<run>/tensorboard/{train,validation}).
    #[arg(long, help_heading = "Logging")]
    pub no_tensorboard: bool,
    /// TensorBoard: 'epoch' summaries only, or also batch_loss/batch_accuracy every N steps
    /// [default: epoch].
    #[arg(long, value_name = "epoch|N", help_heading = "Logging")]
    pub update_freq: Option<String>,
    /// TensorBoard: weight and gradient histograms every N epochs, at epochs 1, 1+N, ...
    /// (Keras' histogram_freq) [default: 0, none].
    #[arg(long, value_name = "N", help_heading = "Logging")]
    pub histogram_freq: Option<usize>,
    /// TensorBoard: also the first convolution's filters as images, at the --histogram-freq
    /// epochs (Keras' write_images; a model with a convolution: lenet).
    #[arg(long, help_heading = "Logging")]
    pub write_images: bool,
    /// Do not draw <run>/plots/curves.png and .svg at the end of the run.
    #[arg(long, help_heading = "Logging")]
    pub no_plots: bool,
}

/// Optimizer hyperparameter flags. Each sets the parameter of the same name (`-` for `_`) of
/// the chosen optimizer; unset ones keep the reference defaults (docs/optimizers.md). A flag
/// the optimizer does not have is an error.
///
/// A field here is the flag of the `ember_optim` configuration field of the same name: the
/// given flags serialize (serde) to exactly the map of parameter names to values that
/// [`OptimizerConfig::with_parameters`] takes, and a test checks that every optimizer's
/// parameters have a flag and every flag is some optimizer's parameter.
#[derive(Debug, Clone, Default, Args, Serialize)]
#[command(next_help_heading = "Optimizer hyperparameters (defaults: the reference's)")]
pub struct OptimizerArgs {
    /// β1, decay of the first moment (adam, adamw, adamax, nadam, adabelief).
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub beta1: Option<f64>,
    /// β2, decay of the second moment (adam, adamw, adamax, nadam, adabelief).
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub beta2: Option<f64>,
    /// ε of the denominator (all but sgd and rprop).
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub eps: Option<f64>,
    /// ρ, decay of Adadelta's running averages.
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub rho: Option<f64>,
    /// Rprop's step-size factors η−,η+ (0 < η− < 1 < η+).
    #[arg(long, value_name = "A,B", value_parser = parse_pair, allow_negative_numbers = true)]
    pub etas: Option<(f64, f64)>,
    /// Rprop's smallest and largest step sizes Δmin,Δmax.
    #[arg(long, value_name = "A,B", value_parser = parse_pair, allow_negative_numbers = true)]
    pub step_sizes: Option<(f64, f64)>,
    /// Momentum factor (sgd, rmsprop).
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// SGD's momentum dampening.
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub dampening: Option<f64>,
    /// SGD with Nesterov momentum (needs --momentum > 0 and dampening 0).
    #[arg(long)]
    #[serde(skip_serializing_if = "is_off")]
    pub nesterov: bool,
    /// Weight decay (all but rprop): L2 on the gradient, or decoupled for adamw and with
    /// --decoupled-weight-decay / --weight-decouple.
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// AMSGrad's running maximum of the second moment (adam, adamw, adabelief).
    #[arg(long)]
    #[serde(skip_serializing_if = "is_off")]
    pub amsgrad: bool,
    /// AdaBelief's RAdam rectification.
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub rectify: Option<bool>,
    /// AdaBelief's decoupled (AdamW-style) weight decay.
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub weight_decouple: Option<bool>,
    /// AdaBelief: decoupled decay by weight_decay instead of lr·weight_decay.
    #[arg(long)]
    #[serde(skip_serializing_if = "is_off")]
    pub fixed_decay: bool,
    /// AdaBelief: SGD-with-momentum steps while the rectification is off.
    #[arg(long, value_name = "BOOL", action = ArgAction::Set)]
    pub degenerated_to_sgd: Option<bool>,
    /// RMSprop's smoothing constant α.
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub alpha: Option<f64>,
    /// Centered RMSprop.
    #[arg(long)]
    #[serde(skip_serializing_if = "is_off")]
    pub centered: bool,
    /// Adagrad's learning-rate decay.
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub lr_decay: Option<f64>,
    /// Adagrad's starting sum of squared gradients.
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub initial_accumulator_value: Option<f64>,
    /// NAdam's momentum decay ψ.
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub momentum_decay: Option<f64>,
    /// NAdam with decoupled (AdamW-style) weight decay.
    #[arg(long)]
    #[serde(skip_serializing_if = "is_off")]
    pub decoupled_weight_decay: bool,
    /// Rprop variant: irprop-minus (torch.optim.Rprop), rprop-plus (Riedmiller & Braun, with
    /// weight backtracking), rprop-minus (no backtracking; the step is taken after a sign
    /// change) or irprop-plus (Igel & Hüsken: backtracking only where the loss grew).
    #[arg(long, value_parser = variant_parser())]
    pub variant: Option<RpropVariant>,
}

impl OptimizerArgs {
    /// The flags given, as (parameter name, value), by name: the fields set (a switch only
    /// when on), serialized.
    pub fn values(&self) -> Vec<(String, serde_json::Value)> {
        given_flags(self).into_iter().collect()
    }

    /// Whether no optimizer flag was given.
    pub fn is_empty(&self) -> bool {
        self.values().is_empty()
    }

    /// Each of `configs` with the given flags it has set, validated: for several optimizers
    /// at once (`train toy --opt sgd,adam --momentum 0.9` sets SGD's momentum only).
    ///
    /// # Errors
    /// A flag that none of `configs` has, or a range check.
    pub fn apply_to_each(
        &self,
        configs: &[OptimizerConfig],
    ) -> Result<Vec<OptimizerConfig>, String> {
        let values = self.values();
        if let Some((name, _)) = values
            .iter()
            .find(|(name, _)| !configs.iter().any(|c| c.parameters().contains(name)))
        {
            let names: Vec<&str> = configs.iter().map(OptimizerConfig::name).collect();
            return Err(format!(
                "--{} is not a parameter of {}",
                name.replace('_', "-"),
                names.join(" or ")
            ));
        }
        configs
            .iter()
            .map(|config| {
                let own: Vec<(String, serde_json::Value)> = values
                    .iter()
                    .filter(|(name, _)| config.parameters().contains(name))
                    .cloned()
                    .collect();
                let config = config.with_parameters(&own).map_err(|e| e.to_string())?;
                config
                    .validate()
                    .map_err(|e| format!("{} optimizer: {e}", config.name()))?;
                Ok(config)
            })
            .collect()
    }

    /// `config` with the given flags set, validated.
    ///
    /// # Errors
    /// One line: "--rho is not a parameter of adam (its parameters: amsgrad, beta1, beta2, eps,
    /// weight_decay)" for a flag the optimizer lacks, or the optimizer's range check,
    /// e.g. "adadelta optimizer: rho must be in [0, 1], got 1.5".
    pub fn apply(&self, config: OptimizerConfig) -> Result<OptimizerConfig, String> {
        let values = self.values();
        let parameters = config.parameters();
        if let Some((name, _)) = values.iter().find(|(name, _)| !parameters.contains(name)) {
            return Err(format!(
                "--{} is not a parameter of {} (its parameters: {})",
                name.replace('_', "-"),
                config.name(),
                parameters.join(", ")
            ));
        }
        let config = config.with_parameters(&values).map_err(|e| e.to_string())?;
        config
            .validate()
            .map_err(|e| format!("{} optimizer: {e}", config.name()))?;
        Ok(config)
    }
}

/// Flags of `train evaluate`.
#[derive(Debug, Clone, Args)]
pub struct EvaluateArgs {
    /// A run directory, a checkpoint directory, or a .bpk weights file; several (each a run
    /// that train wrote) are evaluated as a committee: each alone, then their combination.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub checkpoint: Vec<PathBuf>,
    /// How several checkpoints are combined.
    #[command(flatten)]
    pub combine: CombineArgs,
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

/// How a committee's members are combined (`train committee`, `train evaluate` with several
/// checkpoints).
#[derive(Debug, Clone, Default, Args)]
pub struct CombineArgs {
    /// One non-negative weight per member for the weighted average of their softmax outputs
    /// (or of their votes with --vote) [default: equal].
    #[arg(long, value_name = "W,W,...", value_delimiter = ',', value_parser = finite, allow_negative_numbers = true, help_heading = "Committee")]
    pub weights: Option<Vec<f64>>,
    /// Majority vote of the members' predicted classes (ties go to the larger average softmax
    /// output) instead of the average of their softmax outputs.
    #[arg(long, help_heading = "Committee")]
    pub vote: bool,
}

/// Flags of `train committee`.
#[derive(Debug, Clone, Args)]
pub struct CommitteeArgs {
    /// Members to train, each an ordinary run (`<run-dir>/member-N`) differing by seed
    /// (--seed, then +1 per member) and by its --preprocess recipe.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100), help_heading = "Committee")]
    pub members: u32,
    /// How the members are combined.
    #[command(flatten)]
    pub combine: CombineArgs,
    /// Every flag of a training run, applied to each member; --preprocess takes a list, one
    /// recipe per member in turn [default: Ciresan et al.'s none,width=10,width=12,...,width=20],
    /// and so does --augment, its recipes separated by ';' (e.g. 'rotate=10;elastic=34:4').
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Flags of `train distill`.
#[derive(Debug, Clone, Args)]
pub struct DistillArgs {
    /// The teacher: a finished run directory (or a checkpoint, or a .bpk file in one).
    #[arg(long, value_name = "RUN", help_heading = "Distillation")]
    pub teacher: PathBuf,
    /// The student model: mlp, deep-mlp or lenet.
    #[arg(long, value_parser = model_parser(), help_heading = "Distillation")]
    pub student: ModelKind,
    /// Temperature T of both softmaxes (> 0; the distillation term is scaled by T², as in
    /// Hinton et al. 2015); the default is the best of docs/committees.md's grid.
    #[arg(long, default_value_t = 4.0, value_parser = finite, allow_negative_numbers = true, help_heading = "Distillation")]
    pub temperature: f64,
    /// Weight α of the cross-entropy with the labels, in [0, 1]; the distillation term gets
    /// 1 − α.
    #[arg(long, default_value_t = 0.5, value_parser = finite, allow_negative_numbers = true, help_heading = "Distillation")]
    pub alpha: f64,
    /// Every flag of a training run, for the student (trained twice: distilled, and alone with
    /// the same budget and seed).
    #[command(flatten)]
    pub train: TrainArgs,
}

/// Flags of `train lr-find`: the range test's ramp, and the training flags that shape the
/// steps it measures (model, optimizer and its hyperparameters, data, batch size, seed,
/// device, regularization), with `train`'s meanings and defaults.
#[derive(Debug, Clone, Args)]
pub struct LrFindArgs {
    /// Model: mlp, deep-mlp or lenet [default: lenet].
    #[arg(long, value_parser = model_parser())]
    pub model: Option<ModelKind>,
    /// Optimizer, at its reference defaults but for the ramped learning rate [default:
    /// adabelief].
    #[arg(long = "opt", value_name = "OPTIMIZER", value_parser = optimizer_parser())]
    pub optimizer: Option<OptimizerConfig>,
    /// The ramp's first learning rate, > 0 (fastai's start_lr).
    #[arg(long, value_name = "LR", default_value_t = crate::lr_find::DEFAULT_MIN_LR, value_parser = finite, allow_negative_numbers = true, help_heading = "Range test")]
    pub min_lr: f64,
    /// The ramp's last learning rate, > --min-lr (fastai's end_lr).
    #[arg(long, value_name = "LR", default_value_t = crate::lr_find::DEFAULT_MAX_LR, value_parser = finite, allow_negative_numbers = true, help_heading = "Range test")]
    pub max_lr: f64,
    /// Optimizer steps of the ramp, one learning rate each, at least 13 (the suggestion skips
    /// the first 10 and the last one); more steps put more points per decade and shorten
    /// the smoothing's lag in decades.
    #[arg(long, value_name = "N", default_value_t = crate::lr_find::DEFAULT_STEPS, help_heading = "Range test")]
    pub steps: usize,
    /// Device and backend.
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Images per step, or 'full' [default: 64].
    #[arg(long, value_name = "N|full")]
    pub batch_size: Option<BatchSize>,
    /// The seed and the data, as for training: the test trains on the images a train run
    /// with the same flags trains on (the validation split held out and unused).
    #[command(flatten)]
    pub data: DataArgs,
    /// Preprocessing of the images (as for training) [default: none].
    #[arg(long, value_name = "RECIPE", value_parser = parse_preprocess)]
    pub preprocess: Option<Preprocessing>,
    /// Directory for lr_find.csv, lr_find.json and lr_find.png/.svg [default:
    /// runs/lr-find/<model>-<opt>/run-NNN, a new one each run].
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// The optimizer's hyperparameters, as for training (e.g. --momentum 0.9).
    #[command(flatten)]
    pub optimizer_args: OptimizerArgs,
    /// Regularization and the training loop's knobs, as for training.
    #[command(flatten)]
    pub regularization: RegularizationArgs,
}

impl LrFindArgs {
    /// The same settings as `train` flags, for the training configuration they resolve to
    /// (`crate::training::new_config`); the rest at `train`'s defaults.
    pub fn train_args(&self) -> TrainArgs {
        TrainArgs {
            model: self.model,
            optimizer: self.optimizer,
            device: self.device.clone(),
            batch_size: self.batch_size,
            data: self.data.clone(),
            preprocess: self.preprocess.map(|p| vec![p]),
            run_dir: self.run_dir.clone(),
            optimizer_args: self.optimizer_args.clone(),
            regularization: self.regularization.clone(),
            ..TrainArgs::default()
        }
    }
}

/// Flags of `train plot`.
#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// Run directories, each holding the metrics.csv that training writes.
    #[arg(value_name = "RUN_DIR", required = true)]
    pub runs: Vec<PathBuf>,
    /// Output path without extension; writes PATH_STEM.png and PATH_STEM.svg [default:
    /// RUN_DIR/plots/curves for one run, ./plot for several].
    #[arg(long, value_name = "PATH_STEM")]
    pub out: Option<PathBuf>,
}

/// Flags of `train toy`.
#[derive(Debug, Clone, Args)]
pub struct ToyArgs {
    /// The 2-D test function.
    #[arg(long, value_parser = toy_function_parser())]
    pub function: TestFunction,
    /// Optimizers to run, comma-separated, each at its reference defaults.
    #[arg(long = "opt", value_name = "OPTIMIZER[,OPTIMIZER...]", value_delimiter = ',',
          value_parser = optimizer_parser(), default_value = "sgd")]
    pub optimizers: Vec<OptimizerConfig>,
    /// Learning rate for every optimizer [default: per function and optimizer: SGD below
    /// 2/curvature (rosenbrock 1e-3, beale 1e-2, booth 5e-2, quadratic 0.4, himmelblau 1e-2,
    /// rastrigin 2e-3), adam/rprop a step length (1e-2 to 1e-1), adabelief the smaller of the two
    /// (its first steps are SGD steps), adadelta 1.0].
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Start point [default: per function, e.g. -1.2,1 for rosenbrock].
    #[arg(long, value_name = "X,Y", allow_hyphen_values = true)]
    pub start: Option<StartPoint>,
    /// Optimizer steps.
    #[arg(long, allow_negative_numbers = true, default_value_t = 500)]
    pub steps: usize,
    /// CSV of every step: optimizer,step,x,y,f (step 0 is the start point).
    #[arg(long, value_name = "CSV")]
    pub out: PathBuf,
    /// Also draw the paths over the function's contours, as PNG or SVG (by extension).
    #[arg(long, value_name = "PNG|SVG")]
    pub plot: Option<PathBuf>,
    /// Where to compute: cpu (flex, default) or gpu (wgpu).
    #[arg(long, value_parser = device_parser())]
    pub device: Option<DeviceChoice>,
    /// The optimizers' hyperparameters: each flag applies to every listed optimizer that
    /// has the parameter.
    #[command(flatten)]
    pub optimizer_args: OptimizerArgs,
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
    #[arg(long, allow_negative_numbers = true)]
    pub epochs: Option<usize>,
    /// Optimizer steps to train instead of whole epochs.
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub steps: Option<usize>,
    /// Images per step, or 'full' [default: 64].
    #[arg(long, value_name = "N|full")]
    pub batch_size: Option<BatchSize>,
    /// Learning rate [default: the optimizer's reference default].
    #[arg(long, value_parser = finite, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// The seed and the data, as for training.
    #[command(flatten)]
    pub data: DataArgs,
    /// Directory for compare.json, compare.csv and compare.png [default:
    /// runs/compare/<model>-<opt>/run-NNN, a new one each run].
    #[arg(long, value_name = "DIR")]
    pub run_dir: Option<PathBuf>,
    /// Compare the loss trajectories over the first K steps.
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "K",
        default_value_t = 10
    )]
    pub divergence_steps: usize,
    /// Time the first N steps separately as warm-up (wgpu compiles and tunes kernels there).
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "N",
        default_value_t = 2
    )]
    pub warmup_steps: usize,
    /// With wgpu: the index of the adapter to use.
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub gpu_index: Option<usize>,
    /// CubeCL kernel autotuning effort for wgpu (see `train --help`).
    #[arg(long, value_name = "LEVEL", value_parser = ["minimal", "balanced", "extensive", "full"])]
    pub autotune: Option<String>,
    /// The optimizer's hyperparameters, as for training.
    #[command(flatten)]
    pub optimizer_args: OptimizerArgs,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::Args as _;
    use serde_json::json;

    use super::*;

    /// The optimizer flags are exactly the optimizers' parameters: each parameter of each
    /// optimizer has its flag, and each flag is a parameter of some optimizer.
    #[test]
    fn optimizer_flags_are_the_optimizers_parameters() {
        let command = OptimizerArgs::augment_args(clap::Command::new("flags"));
        let flags: BTreeSet<String> = command
            .get_arguments()
            .filter_map(|arg| arg.get_long())
            .map(|long| long.replace('-', "_"))
            .collect();
        let parameters: BTreeSet<String> = OptimizerConfig::NAMES
            .iter()
            .flat_map(|name| name.parse::<OptimizerConfig>().unwrap().parameters())
            .map(|parameter| parameter.to_string())
            .collect();
        assert_eq!(flags, parameters);
    }

    /// The flags given, and only those, come out under their parameters' names with the
    /// values the optimizer configurations read; a switch that is off is not given.
    #[test]
    fn given_flags_are_the_parameter_values() {
        let cli = Cli::try_parse_from([
            "train",
            "--beta1",
            "0.8",
            "--etas",
            "0.4,1.3",
            "--nesterov",
            "--rectify",
            "false",
            "--variant",
            "irprop-plus",
        ])
        .unwrap();
        let values = cli.train.optimizer_args.values();
        let expected = [
            ("beta1", json!(0.8)),
            ("etas", json!([0.4, 1.3])),
            ("nesterov", json!(true)),
            ("rectify", json!(false)),
            ("variant", json!("irprop-plus")),
        ];
        let expected: Vec<(String, serde_json::Value)> = expected
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        assert_eq!(values, expected);
        assert!(OptimizerArgs::default().is_empty());
        // Each value is one the configuration reads.
        let rprop: OptimizerConfig = "rprop".parse().unwrap();
        let etas: Vec<(String, serde_json::Value)> = values[1..2].to_vec();
        assert!(rprop.with_parameters(&etas).is_ok());
    }
}
