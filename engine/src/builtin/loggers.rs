//! The callbacks that record: CSV and JSON-lines histories, TensorBoard, timing, the console.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use serde::{Deserialize, Serialize};

use super::{from_state, to_state};
use crate::callback::{Callback, Context};
use crate::callbacks::{Logs, exact_f64};
use crate::layout::{METRICS_FILE, METRICS_JSONL_FILE};
use crate::metrics::{EpochLogs, write_csv, write_jsonl};
use crate::tensorboard::logger::{
    GRADIENT_SUFFIX, HISTOGRAM_SUFFIX, histogram_values, image_values,
};
use crate::tensorboard::{TensorBoardLogger, UpdateFreq, Value, weights};

/// The history so far plus this epoch's row.
fn rows<M>(ctx: &Context<'_, M>, logs: &Logs) -> Vec<EpochLogs> {
    let mut rows = ctx.history.to_vec();
    rows.push(EpochLogs {
        epoch: ctx.epoch,
        logs: logs.clone(),
    });
    rows
}

fn in_run_dir<M>(
    ctx: &Context<'_, M>,
    path: &Option<PathBuf>,
    file: &str,
) -> Result<PathBuf, String> {
    match (path, ctx.run_dir) {
        (Some(path), _) => Ok(path.clone()),
        (None, Some(dir)) => Ok(dir.join(file)),
        (None, None) => Err(format!(
            "the {file} logger needs a path or the learner's run directory"
        )),
    }
}

/// Keras' `CSVLogger`: after every epoch, rewrites the history as CSV (header `epoch` and the
/// metric names sorted; exact decimals), atomically, so a resumed run never shows the rows of
/// epochs it is about to redo. Default file `<run>/metrics.csv`. Name `csv_logger`.
#[derive(Debug, Clone, Default)]
pub struct CsvLogger {
    /// Where to write; default `<run>/metrics.csv`.
    pub path: Option<PathBuf>,
}

impl<M> Callback<M> for CsvLogger {
    fn name(&self) -> String {
        "csv_logger".into()
    }

    fn on_epoch_end(&mut self, ctx: &mut Context<'_, M>, logs: &mut Logs) -> Result<(), String> {
        let path = in_run_dir(ctx, &self.path, METRICS_FILE)?;
        write_csv(&path, &rows(ctx, logs))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// The history as JSON lines, one object an epoch (`null` for non-finite values), rewritten
/// after every epoch. Default file `<run>/metrics.jsonl`. Name `jsonl_logger`.
#[derive(Debug, Clone, Default)]
pub struct JsonlLogger {
    /// Where to write; default `<run>/metrics.jsonl`.
    pub path: Option<PathBuf>,
}

impl<M> Callback<M> for JsonlLogger {
    fn name(&self) -> String {
        "jsonl_logger".into()
    }

    fn on_epoch_end(&mut self, ctx: &mut Context<'_, M>, logs: &mut Logs) -> Result<(), String> {
        let path = in_run_dir(ctx, &self.path, METRICS_JSONL_FILE)?;
        write_jsonl(&path, &rows(ctx, logs))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// Keras' `TensorBoard` callback ([`TensorBoardLogger`]): event files under
/// `<run>/tensorboard/{train,validation}`, opened at the start of `fit` (a resumed run adds
/// files, which TensorBoard merges). Every epoch log is written (`val_` ones to the validation
/// writer, also as `evaluation_<name>_vs_iterations`); the running training metrics every
/// `update_freq` steps; with [`histograms`](Self::histograms), weight and gradient histograms
/// and filter images. Name `tensorboard`.
pub struct TensorBoard {
    update_freq: UpdateFreq,
    /// Only these epoch logs, when set (default: all).
    metrics: Option<Vec<String>>,
    /// Keras' `histogram_freq`: 0 for none.
    histogram_freq: usize,
    /// Keras' `write_images`, at the histogram epochs.
    write_images: bool,
    /// The gradient histograms of the current epoch's last step, written at its end.
    gradients: Vec<Value>,
    logger: Option<TensorBoardLogger>,
}

impl TensorBoard {
    /// Epoch summaries, and batch summaries as `update_freq` says.
    pub fn new(update_freq: UpdateFreq) -> Self {
        Self {
            update_freq,
            metrics: None,
            histogram_freq: 0,
            write_images: false,
            gradients: Vec::new(),
            logger: None,
        }
    }

    /// Writes only the named epoch logs (e.g. not the timing).
    pub fn only(mut self, metrics: &[&str]) -> Self {
        self.metrics = Some(metrics.iter().map(|m| (*m).to_string()).collect());
        self
    }

    /// Keras' `histogram_freq` and `write_images`: at the end of every epoch whose 0-based
    /// index is a multiple of `freq` (epochs 1, 1 + freq, ...; `freq` 0, the default, for
    /// none), a histogram of each float parameter (`<path>/histogram`) and of the gradient
    /// of each trainable one at the epoch's last step (`<path>/gradient`), and with `images`
    /// each single-channel convolution weight's filters as images (`<path>/image/<i>`); see
    /// [`TensorBoardLogger`] for the tags and formats. Histogram epochs read every parameter
    /// and gradient off the device once; other epochs cost nothing. With EMA evaluation the
    /// weights are the averaged ones that were validated, the gradients the trained model's.
    pub fn histograms(mut self, freq: usize, images: bool) -> Self {
        self.histogram_freq = freq;
        self.write_images = images;
        self
    }

    /// Whether `epoch` (1-based) writes histograms: Keras' `epoch % histogram_freq == 0` on
    /// its 0-based epoch index.
    fn histograms_due(&self, epoch: usize) -> bool {
        self.histogram_freq > 0 && (epoch - 1).is_multiple_of(self.histogram_freq)
    }

    fn logger(&mut self) -> Result<&mut TensorBoardLogger, String> {
        self.logger
            .as_mut()
            .ok_or_else(|| "TensorBoard: no event files open".to_string())
    }
}

impl<M: Module> Callback<M> for TensorBoard {
    fn name(&self) -> String {
        "tensorboard".into()
    }

    fn on_train_begin(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        let dir: &Path = ctx
            .run_dir
            .ok_or("TensorBoard needs the learner's run directory")?;
        self.logger = Some(
            TensorBoardLogger::create(dir, self.update_freq).map_err(|e| {
                format!("cannot create TensorBoard files in {}: {e}", dir.display())
            })?,
        );
        Ok(())
    }

    fn on_epoch_begin(&mut self, _ctx: &mut Context<'_, M>) -> Result<(), String> {
        // An epoch ended early by a stop has no last-step gradients: none from an older one.
        self.gradients.clear();
        Ok(())
    }

    fn on_last_step_gradients(
        &mut self,
        ctx: &mut Context<'_, M>,
        grads: &GradientsParams,
    ) -> Result<(), String> {
        if self.histograms_due(ctx.epoch) {
            let tensors = weights::gradients(ctx.model, grads)?;
            self.gradients = histogram_values(&tensors, GRADIENT_SUFFIX);
        }
        Ok(())
    }

    fn on_step_end(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        let step = ctx.global_step;
        if !self.logger()?.batch_due(step) {
            return Ok(());
        }
        let logs = ctx.running_logs();
        self.logger()?
            .on_batch_end(step, &logs)
            .map_err(|e| format!("cannot write TensorBoard events: {e}"))
    }

    fn on_epoch_end(&mut self, ctx: &mut Context<'_, M>, logs: &mut Logs) -> Result<(), String> {
        let logs: Logs = match &self.metrics {
            Some(names) => logs
                .iter()
                .filter(|(name, _)| names.contains(name))
                .map(|(n, v)| (n.clone(), *v))
                .collect(),
            None => logs.clone(),
        };
        let (step, epoch) = (ctx.global_step, ctx.epoch);
        if self.histograms_due(epoch) {
            let params = weights::parameters(ctx.model)?;
            let mut values = histogram_values(&params, HISTOGRAM_SUFFIX);
            values.append(&mut self.gradients);
            if self.write_images {
                values.extend(image_values(&params));
            }
            self.logger()?
                .on_weights(epoch - 1, values)
                .map_err(|e| format!("cannot write TensorBoard events: {e}"))?;
        }
        let logger = self.logger()?;
        logger
            .on_validation_end(step, &logs)
            .and_then(|()| logger.on_epoch_end(epoch - 1, &logs))
            .map_err(|e| format!("cannot write TensorBoard events: {e}"))
    }

    fn on_train_end(&mut self, _ctx: &mut Context<'_, M>) -> Result<(), String> {
        self.logger()?
            .flush()
            .map_err(|e| format!("cannot write TensorBoard events: {e}"))
    }

    fn on_interrupt(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        Callback::<M>::on_train_end(self, ctx)
    }
}

/// What [`Timing`] keeps across a checkpoint.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct TimingState {
    /// Seconds of the unfinished epoch before the checkpoint.
    #[serde(with = "exact_f64")]
    seconds: f64,
}

/// Adds `epoch_seconds` (training and validation, wall clock) and `<unit>_per_second`
/// (training examples per second of training time) to each epoch's logs. A resumed epoch
/// counts the seconds before the checkpoint too. Name `timing`.
pub struct Timing {
    unit: String,
    before: f64,
    started: Option<Instant>,
    train_seconds: f64,
    examples: usize,
}

impl Timing {
    /// Rates in `<unit>_per_second`, e.g. `Timing::new("images")` for `images_per_second`.
    pub fn new(unit: &str) -> Self {
        Self {
            unit: unit.to_string(),
            before: 0.0,
            started: None,
            train_seconds: 0.0,
            examples: 0,
        }
    }

    fn elapsed(&self) -> f64 {
        self.before + self.started.map_or(0.0, |s| s.elapsed().as_secs_f64())
    }
}

impl<M> Callback<M> for Timing {
    fn name(&self) -> String {
        "timing".into()
    }

    fn on_epoch_begin(&mut self, _ctx: &mut Context<'_, M>) -> Result<(), String> {
        self.started = Some(Instant::now());
        Ok(())
    }

    fn on_validation_begin(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        // Reading the sums waits for the device: the training time ends here.
        self.examples = ctx.examples();
        self.train_seconds = self.elapsed();
        Ok(())
    }

    fn on_epoch_end(&mut self, _ctx: &mut Context<'_, M>, logs: &mut Logs) -> Result<(), String> {
        logs.insert("epoch_seconds".into(), self.elapsed());
        logs.insert(
            format!("{}_per_second", self.unit),
            self.examples as f64 / self.train_seconds,
        );
        self.before = 0.0;
        self.started = None;
        Ok(())
    }

    fn state(&self) -> Option<serde_json::Value> {
        to_state(&TimingState {
            seconds: self.elapsed(),
        })
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<(), String> {
        let state: TimingState = from_state("timing", state)?;
        self.before = state.seconds;
        Ok(())
    }
}

/// One line an epoch (`epoch 3/10: loss 0.2310, accuracy 0.9312, ...`) and every message of
/// the learner and the callbacks, on stderr. Name `console`.
#[derive(Debug, Clone, Default)]
pub struct ConsoleLogger;

impl<M> Callback<M> for ConsoleLogger {
    fn name(&self) -> String {
        "console".into()
    }

    fn on_epoch_end(&mut self, ctx: &mut Context<'_, M>, logs: &mut Logs) -> Result<(), String> {
        let metrics: Vec<String> = logs.iter().map(|(n, v)| format!("{n} {v:.4}")).collect();
        crate::console::err(&format!(
            "epoch {}/{}: {}",
            ctx.epoch,
            ctx.epochs,
            metrics.join(", ")
        ));
        Ok(())
    }

    fn on_message(&mut self, text: &str) {
        crate::console::err(text);
    }
}
