//! Training metrics as TensorBoard scalars, laid out like Keras 3's `keras.callbacks.TensorBoard`.
//!
//! Source: `keras/src/callbacks/tensorboard.py` (keras-team/keras, Keras 3, commit 3422977a):
//!
//! - writers in `<log_dir>/train` and `<log_dir>/validation` (`set_model`);
//! - `on_epoch_end(epoch, logs)` (`_log_epoch_metrics`): the training logs plus the optimizer's
//!   `learning_rate` go to the train writer as `epoch_<name>`, the `val_` logs to the validation
//!   writer as `epoch_<name without val_>`, all at `step = epoch`, the **0-based** epoch index
//!   Keras passes to callbacks;
//! - `on_train_batch_end` writes every log as `batch_<name>` at `step = _global_train_batch`,
//!   a counter incremented at every batch's start, so the first batch is step **1** and steps
//!   keep counting across epochs. The summaries are only recorded when
//!   `update_freq` is an integer N and `step % N == 0` (`_push_writer`'s `record_if`); with
//!   `update_freq="epoch"` (the default) no batch summaries are written. The batch logs Keras
//!   passes are its metrics' running values: the mean loss and accuracy over the epoch's batches
//!   so far, not the single batch's;
//! - `on_test_end(logs)` writes `evaluation_<name>_vs_iterations` to the validation writer at
//!   `step = optimizer.iterations` (the optimizer steps taken so far); `fit` runs the validation
//!   through `evaluate` with the same callbacks, so these appear once per epoch.
//!
//! Differences, on purpose: Keras resets `_global_train_batch` to 0 in `on_train_begin`, so a
//! second `fit(initial_epoch=...)` restarts its batch steps at 1 and overdraws the first run's
//! curves; the caller passes ember's global step instead, which continues across a resumed run.
//! Keras' `record_if` also gates `evaluation_*` with the last validation batch counter when
//! `update_freq` is an integer (a side effect of its summary contexts); they are always written
//! here. The model summary text (`write_graph`) and profiling are not written.
//!
//! Histograms and images (Keras' `histogram_freq` and `write_images`, `_log_weights`): at the
//! end of every epoch whose 0-based index is a multiple of `histogram_freq`, each weight as
//! the histogram `<weight>/histogram` in the train writer at `step = epoch`, and with
//! `write_images` the weight drawn as `<weight>/image`. Keras names a weight by its variable
//! name (`kernel`, `bias`); ember by its module path (`conv1/weight`), which is unique and
//! groups a layer's tensors under one TensorBoard section. Beyond Keras 3 (which dropped
//! TensorFlow 1's `write_grads`), the gradients of the epoch's last step are written as
//! `<weight>/gradient`. Histograms are TensorFlow 1's legacy `histo` values with TensorFlow's
//! default buckets ([`super::histogram`]); images are legacy `Summary.Image` PNGs, one value per
//! filter tagged `<weight>/image/<i>` as TensorFlow 1's `tf.summary.image` tags several images
//! (Keras 3 writes them as one TensorFlow 2 image tensor under `<weight>/image`).

use std::io;
use std::path::Path;

use super::histogram::histogram;
use super::image::filter_images;
use super::proto::Value;
use super::weights::NamedTensor;
use super::writer::EventWriter;
use crate::callbacks::Logs;

/// Last component of a weight histogram's tag: `<weight path>/histogram` (Keras 3's suffix).
pub const HISTOGRAM_SUFFIX: &str = "histogram";
/// Last component of a gradient histogram's tag: `<weight path>/gradient`.
pub const GRADIENT_SUFFIX: &str = "gradient";
/// Component of an image's tag before the filter index: `<weight path>/image/<i>`.
pub const IMAGE_SUFFIX: &str = "image";

/// The histogram of each of `tensors` ([`histogram`]), tagged `<path>/<suffix>`
/// ([`HISTOGRAM_SUFFIX`] for weights, [`GRADIENT_SUFFIX`] for gradients).
pub fn histogram_values(tensors: &[NamedTensor], suffix: &str) -> Vec<Value> {
    tensors
        .iter()
        .map(|t| Value::histogram(&format!("{}/{suffix}", t.path), histogram(&t.values)))
        .collect()
}

/// The filters of each of `weights` that can be drawn ([`filter_images`]: single-channel
/// convolution weights), tagged `<path>/image/<i>` for filter `i` (0-based); none for a model
/// without such a weight.
pub fn image_values(weights: &[NamedTensor]) -> Vec<Value> {
    weights
        .iter()
        .filter_map(|w| Some((&w.path, filter_images(&w.shape, &w.values)?)))
        .flat_map(|(path, images)| {
            images
                .into_iter()
                .enumerate()
                .map(move |(i, image)| Value::image(&format!("{path}/{IMAGE_SUFFIX}/{i}"), image))
        })
        .collect()
}

/// How often batch-level scalars are written, as Keras' `update_freq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateFreq {
    /// Only epoch-level scalars (Keras' default `update_freq="epoch"`).
    #[default]
    Epoch,
    /// Also `batch_loss` and `batch_accuracy` at every global step that is a multiple of `n`
    /// (Keras' integer `update_freq`; `Batches(1)` is Keras' `"batch"`). `n` must be at least 1.
    Batches(usize),
}

/// Writes a run's TensorBoard event files under `<run_dir>/tensorboard/{train,validation}`.
///
/// Tags, as Keras 3 writes them (see the module documentation for the source):
///
/// | directory    | tag                                  | step                            |
/// |--------------|--------------------------------------|---------------------------------|
/// | `train`      | `epoch_loss`, `epoch_accuracy`, `epoch_learning_rate` | epoch index, 0-based |
/// | `validation` | `epoch_loss`, `epoch_accuracy`       | epoch index, 0-based            |
/// | `validation` | `evaluation_loss_vs_iterations`, `evaluation_accuracy_vs_iterations` | optimizer steps taken |
/// | `train`      | `batch_loss`, `batch_accuracy` (with [`UpdateFreq::Batches`]) | global step, 1-based |
/// | `train`      | `<weight>/histogram`, `<weight>/gradient`, `<weight>/image/<i>` ([`on_weights`](Self::on_weights)) | epoch index, 0-based |
///
/// (for logs `loss`, `accuracy`, `learning_rate`, `val_loss`, `val_accuracy`; any other metric
/// name is laid out the same way).
///
/// Run `tensorboard --logdir <run_dir>/tensorboard` to see them (runs `train` and `validation`).
///
/// Each logger opens new event files. A resumed run therefore adds files next to those of the
/// interrupted run; TensorBoard reads every event file of a directory in name (= creation) order
/// and merges them into one run, so the curves continue. Steps the interrupted run had already
/// logged after its last checkpoint are logged again by the resumed run, and TensorBoard then
/// shows both points at that step.
#[derive(Debug)]
pub struct TensorBoardLogger {
    train: EventWriter,
    validation: EventWriter,
    update_freq: UpdateFreq,
}

impl TensorBoardLogger {
    /// The subdirectory of a run directory that holds the event files.
    pub const DIR: &'static str = crate::layout::TENSORBOARD_DIR;

    /// Opens new event files in `<run_dir>/tensorboard/train` and
    /// `<run_dir>/tensorboard/validation`, creating the directories.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] for `UpdateFreq::Batches(0)`; the I/O error of creating
    /// a directory or file, naming the path.
    pub fn create(run_dir: &Path, update_freq: UpdateFreq) -> io::Result<Self> {
        if update_freq == UpdateFreq::Batches(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TensorBoard update frequency of 0 batches: use at least 1, or epoch-only logging",
            ));
        }
        let dir = run_dir.join(Self::DIR);
        Ok(Self {
            train: EventWriter::create(&dir.join("train"))?,
            validation: EventWriter::create(&dir.join("validation"))?,
            update_freq,
        })
    }

    /// Whether [`on_batch_end`](Self::on_batch_end) writes at `global_step`, so the caller can
    /// skip reading metrics off the device when it does not.
    pub fn batch_due(&self, global_step: usize) -> bool {
        match self.update_freq {
            UpdateFreq::Epoch => false,
            UpdateFreq::Batches(n) => n > 0 && global_step.is_multiple_of(n),
        }
    }

    /// Logs every entry of `logs` as `batch_<name>` at `global_step` (optimizer steps taken
    /// including this batch's, so the first batch of a run is 1) if
    /// [`batch_due`](Self::batch_due). The logs are meant to be the running means over the epoch
    /// so far (`loss`, `accuracy`, ...), as Keras logs them. Buffered until the epoch ends.
    ///
    /// # Errors
    /// The I/O error of writing.
    pub fn on_batch_end(&mut self, global_step: usize, logs: &Logs) -> io::Result<()> {
        if !self.batch_due(global_step) {
            return Ok(());
        }
        let step = step(global_step);
        for (name, value) in logs {
            self.train
                .add_scalar(&format!("batch_{name}"), step, *value as f32)?;
        }
        Ok(())
    }

    /// Logs the validation results as Keras' `on_test_end` does: each `val_<name>` of `logs`
    /// as `evaluation_<name>_vs_iterations` in the validation writer at `iterations`, the
    /// optimizer steps taken so far (other entries are not validation results and are skipped).
    ///
    /// # Errors
    /// The I/O error of writing.
    pub fn on_validation_end(&mut self, iterations: usize, logs: &Logs) -> io::Result<()> {
        let step = step(iterations);
        for (name, value) in logs {
            if let Some(name) = name.strip_prefix("val_") {
                let tag = format!("evaluation_{name}_vs_iterations");
                self.validation.add_scalar(&tag, step, *value as f32)?;
            }
        }
        Ok(())
    }

    /// Logs an epoch's `logs` at step `epoch_index0` (0-based: the epoch number - 1, as Keras
    /// passes `epoch` to callbacks) and flushes both files to disk: `<name>` as `epoch_<name>`
    /// in the train writer, `val_<name>` as `epoch_<name>` in the validation writer.
    ///
    /// # Errors
    /// The I/O error of writing or flushing.
    pub fn on_epoch_end(&mut self, epoch_index0: usize, logs: &Logs) -> io::Result<()> {
        let step = step(epoch_index0);
        for (name, value) in logs {
            let (writer, name) = match name.strip_prefix("val_") {
                Some(name) => (&mut self.validation, name),
                None => (&mut self.train, name.as_str()),
            };
            writer.add_scalar(&format!("epoch_{name}"), step, *value as f32)?;
        }
        self.flush()
    }

    /// Writes `values` (from [`histogram_values`] and [`image_values`]) to the train writer as
    /// one event at step `epoch_index0` (0-based, as [`on_epoch_end`](Self::on_epoch_end)),
    /// buffered until the next flush.
    ///
    /// # Errors
    /// The I/O error of writing.
    pub fn on_weights(&mut self, epoch_index0: usize, values: Vec<Value>) -> io::Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        self.train.add_values(step(epoch_index0), values)
    }

    /// Writes buffered scalars to both files and fsyncs them.
    ///
    /// # Errors
    /// The I/O error of writing or syncing.
    pub fn flush(&mut self) -> io::Result<()> {
        self.train.flush()?;
        self.validation.flush()
    }

    /// The train and validation writers' files.
    pub fn paths(&self) -> [&Path; 2] {
        [self.train.path(), self.validation.path()]
    }
}

/// A count as an event step (`int64`); counts beyond `i64::MAX` cannot occur in training.
fn step(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
