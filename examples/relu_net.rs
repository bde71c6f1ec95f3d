//! Seed 003 Q4: a 3-3-1 ReLU regression net (3 inputs, 3 hidden ReLU units, 1 linear output;
//! ember's dense `Mlp`, 16 parameters) on five samples labelled
//! `y = 0.8·x3³ + 0.1·x2² + 0.5·x1 + 4`, full batch, mean squared error, trained until the
//! loss is below 0.1 or for 1,000 steps, at lr 1, 0.1, 0.01 and 0.001, with plain SGD and with
//! SGD with momentum `1 − lr` (so lr 1 has momentum 0: the same run as plain SGD), each from
//! a few seeded initializations (the seed's numbers come from unseeded weights).
//!
//! The samples `(x1, x2, x3)` are small integers chosen to give labels of different sizes
//! (the cube makes the last one large): (1, 0, −1) → 3.7, (0, 1, 1) → 4.9, (−1, 2, 0) → 3.9,
//! (2, −1, 1) → 5.9, (1, 1, 2) → 11.0.
//!
//! "Steps needed" is the number of optimizer steps after which the loss on the five samples
//! is below 0.1: the learner validates on the same samples after every step (one full-batch
//! epoch), and the engine's `EarlyStopping` stops the run there (`stopping_threshold` 0.1 on
//! `val_loss`), or when the loss is no longer finite or above 10⁶ (`check_finite`,
//! `divergence_threshold`): "diverged".
//!
//! ```text
//! cargo run --release --example relu_net            # table on stdout, docs/images/seed003-q4-loss.png
//! cargo run --release --example relu_net -- OUT.png
//! ```

use std::fmt;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, TensorData};
use ember::plot::curves::finite_segments;
use ember::plot::{Figure, draw_legend, drawing_error, font, save, series_color};
use ember_engine::callbacks::early_stopping::{EarlyStopping, EarlyStoppingConfig};
use ember_engine::data::{TensorSource, Xy};
use ember_engine::{EarlyStopper, EngineError, FitOutcome, Learner, LearnerConfig, Regression};
use ember_models::mlp::{Mlp, MlpConfig};
use ember_optim::SgdConfig;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The five samples `(x1, x2, x3)`.
pub const SAMPLES: [[f32; 3]; 5] = [
    [1.0, 0.0, -1.0],
    [0.0, 1.0, 1.0],
    [-1.0, 2.0, 0.0],
    [2.0, -1.0, 1.0],
    [1.0, 1.0, 2.0],
];
/// The net's widths: 3 inputs, 3 hidden ReLU units, 1 output.
pub const WIDTHS: [usize; 3] = [3, 3, 1];
/// The learning rates of the seed.
pub const LEARNING_RATES: [f64; 4] = [1.0, 0.1, 0.01, 0.001];
/// The loss to reach.
pub const TARGET_LOSS: f64 = 0.1;
/// A loss above this is divergence.
pub const DIVERGED_LOSS: f64 = 1e6;
/// The step budget.
pub const MAX_STEPS: usize = 1000;
/// The seeds of the table and the plot's runs (the first).
pub const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

/// The seed's label: `0.8·x3³ + 0.1·x2² + 0.5·x1 + 4`.
pub fn label([x1, x2, x3]: [f32; 3]) -> f32 {
    0.8 * x3.powi(3) + 0.1 * x2.powi(2) + 0.5 * x1 + 4.0
}

/// The samples and their labels.
pub fn data() -> TensorSource {
    TensorSource::new(
        TensorData::new(SAMPLES.concat(), [SAMPLES.len(), 3]),
        TensorData::new(SAMPLES.map(label).to_vec(), [SAMPLES.len(), 1]),
    )
    .expect("one label per sample")
}

/// The 3-3-1 net with weights drawn from `seed` (Burn's `Linear` default, PyTorch's), on
/// `device`.
pub fn net(seed: u64, device: &Device) -> Mlp {
    let config = MlpConfig::dense(&WIDTHS, "WIDTHS").expect("3-3-1 is a valid net");
    ember_engine::init::seeded(seed, |cpu| config.init(cpu))
        .to_device(device)
        .train()
}

/// The seed's momentum for `lr`: `1 − lr` (0 at lr 1).
pub fn momentum_for(lr: f64) -> f64 {
    1.0 - lr
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// The loss was below [`TARGET_LOSS`] after this many steps.
    Reached(usize),
    /// Still at or above it after the step budget; the last loss.
    NotReached(f64),
    /// Not finite, or above [`DIVERGED_LOSS`], after this many steps.
    Diverged(usize),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Reached(steps) => write!(f, "{steps}"),
            Outcome::NotReached(loss) => write!(f, "not reached (loss {loss:.2})"),
            Outcome::Diverged(step) => write!(f, "diverged (step {step})"),
        }
    }
}

/// One training run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Learning rate.
    pub lr: f64,
    /// SGD momentum (0: plain SGD).
    pub momentum: f64,
    /// Seed of the initial weights.
    pub seed: u64,
    /// The loss (MSE) on the five samples after each step.
    pub losses: Vec<f64>,
    /// How it ended.
    pub outcome: Outcome,
}

/// Trains the net from `seed` with SGD at `lr` and `momentum` for at most `max_steps` steps.
///
/// # Errors
/// The learner's.
pub fn run(lr: f64, momentum: f64, seed: u64, max_steps: usize) -> Result<Run, EngineError> {
    let device = Device::flex().autodiff();
    let source = data();
    let config = LearnerConfig {
        epochs: max_steps,
        batch_size: SAMPLES.len(),
        learning_rate: lr,
        seed,
        ..Default::default()
    };
    let stopping = EarlyStopping::new(EarlyStoppingConfig {
        monitor: "val_loss".into(),
        // Only the thresholds and non-finite values end a run, never a lack of progress.
        patience: usize::MAX,
        stopping_threshold: Some(TARGET_LOSS),
        divergence_threshold: Some(DIVERGED_LOSS),
        check_finite: true,
        ..Default::default()
    })?;
    let step = |net: &Mlp, batch: Xy| Regression.output(net.forward_features(batch.x), batch.y);
    let optimizer = SgdConfig {
        momentum,
        ..Default::default()
    }
    .init();
    let learner = Learner::new(net(seed, &device), optimizer, step, device, config)
        .callback(EarlyStopper::new(stopping));
    let FitOutcome::Finished(result) = learner.fit(&source, Some(&source))? else {
        unreachable!("no stop flag was given")
    };
    let losses: Vec<f64> = result.history.iter().map(|e| e.logs["val_loss"]).collect();
    let last = *losses.last().expect("at least one step");
    let outcome = if !last.is_finite() || last > DIVERGED_LOSS {
        Outcome::Diverged(losses.len())
    } else if last < TARGET_LOSS {
        Outcome::Reached(losses.len())
    } else {
        Outcome::NotReached(last)
    };
    Ok(Run {
        lr,
        momentum,
        seed,
        losses,
        outcome,
    })
}

/// Every learning rate, plain and with momentum `1 − lr`, for each seed.
///
/// # Errors
/// The learner's.
pub fn all_runs(seeds: &[u64], max_steps: usize) -> Result<Vec<Run>, EngineError> {
    let mut runs = Vec::new();
    for &lr in &LEARNING_RATES {
        for momentum in [0.0, momentum_for(lr)] {
            for &seed in seeds {
                runs.push(run(lr, momentum, seed, max_steps)?);
            }
        }
    }
    Ok(runs)
}

/// A Markdown table: one row per learning rate and optimizer, one column per seed.
pub fn markdown(runs: &[Run], seeds: &[u64]) -> String {
    let mut out = String::from("| lr | optimizer |");
    for seed in seeds {
        out.push_str(&format!(" seed {seed} |"));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(seeds.len()));
    for &lr in &LEARNING_RATES {
        for (name, momentum) in [
            ("SGD".to_string(), 0.0),
            (
                format!("SGD, momentum {}", momentum_for(lr)),
                momentum_for(lr),
            ),
        ] {
            out.push_str(&format!("\n| {lr} | {name} |"));
            for &seed in seeds {
                let cell = runs
                    .iter()
                    .find(|r| r.lr == lr && r.momentum == momentum && r.seed == seed)
                    .map_or("-".to_string(), |r| r.outcome.to_string());
                out.push_str(&format!(" {cell} |"));
            }
        }
    }
    out.push('\n');
    out
}

/// Loss (log scale) against step: one panel for plain SGD, one for momentum `1 − lr`, one
/// curve per learning rate, for the runs of one seed.
pub struct LossPlot<'a> {
    /// The runs to draw (those of one seed).
    pub runs: &'a [Run],
}

impl Figure for LossPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(drawing_error)?;
        let seed = self.runs.first().map_or(0, |r| r.seed);
        let body = root
            .titled(
                &format!("Seed 003 Q4: 3-3-1 ReLU net, MSE on 5 samples (weights seed {seed})"),
                (font::FAMILY, 24),
            )
            .map_err(drawing_error)?;
        let panels = body.split_evenly((1, 2));
        self.panel(&panels[0], "SGD", false)?;
        self.panel(&panels[1], "SGD, momentum 1 - lr", true)
    }
}

impl LossPlot<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        caption: &str,
        momentum: bool,
    ) -> anyhow::Result<()> {
        let runs: Vec<&Run> = self
            .runs
            .iter()
            .filter(|r| (r.momentum != 0.0) == momentum || (momentum && r.lr == 1.0))
            .collect();
        let steps = runs
            .iter()
            .map(|r| r.losses.len())
            .max()
            .unwrap_or(1)
            .max(2);
        let shown = |v: f64| v.is_finite() && v > 0.0 && v <= DIVERGED_LOSS;
        let values = runs
            .iter()
            .flat_map(|r| r.losses.iter().copied())
            .filter(|&v| shown(v));
        let lo = values
            .clone()
            .fold(f64::INFINITY, f64::min)
            .min(TARGET_LOSS);
        let hi = values.fold(0.0, f64::max).max(1.0);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (font::FAMILY, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(1.0..steps as f64, (lo / 2.0..hi * 2.0).log_scale())
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("loss (MSE, log scale)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .label_style((font::FAMILY, 14))
            .axis_desc_style((font::FAMILY, 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(drawing_error)?;
        chart
            .draw_series(LineSeries::new(
                [(1.0, TARGET_LOSS), (steps as f64, TARGET_LOSS)],
                BLACK.mix(0.4),
            ))
            .map_err(drawing_error)?
            .label(format!("target {TARGET_LOSS}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.4)));
        for (i, lr) in LEARNING_RATES.iter().enumerate() {
            let Some(run) = runs.iter().find(|r| r.lr == *lr) else {
                continue;
            };
            let style = series_color(i).stroke_width(2);
            let points: Vec<(f64, f64)> = run
                .losses
                .iter()
                .enumerate()
                .map(|(s, &v)| ((s + 1) as f64, if shown(v) { v } else { f64::NAN }))
                .collect();
            for (n, segment) in finite_segments(&points).into_iter().enumerate() {
                let drawn = chart
                    .draw_series(LineSeries::new(segment, style))
                    .map_err(drawing_error)?;
                if n == 0 {
                    drawn
                        .label(format!("lr {lr}: {}", run.outcome))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
                }
            }
        }
        draw_legend(&mut chart)?;
        Ok(())
    }
}

/// Draws [`LossPlot`] for the runs of `seed` into `path` (PNG or SVG by extension).
///
/// # Errors
/// A one-line message naming the file.
pub fn plot(runs: &[Run], seed: u64, path: &Path) -> anyhow::Result<()> {
    let runs: Vec<Run> = runs.iter().filter(|r| r.seed == seed).cloned().collect();
    save(&LossPlot { runs: &runs }, path)
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/images/seed003-q4-loss.png".into());
    let runs = all_runs(&SEEDS, MAX_STEPS)?;
    print!("{}", markdown(&runs, &SEEDS));
    plot(&runs, SEEDS[0], Path::new(&path))?;
    println!("wrote {path}");
    Ok(())
}
