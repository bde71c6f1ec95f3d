//! What the learner tells the user while it runs: an indicatif progress bar per epoch on
//! stderr (hidden when stderr is not a terminal) and one summary line per epoch on stdout.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::learner::summary::Summary;
use crate::metrics::EpochMetrics;

/// Receives the learner's progress events.
pub trait Progress {
    /// A free-form line (run start, resume, end).
    fn message(&mut self, text: &str);
    /// An epoch of `steps` optimizer steps begins.
    fn epoch_start(&mut self, epoch: usize, epochs: usize, steps: usize);
    /// Step `step` (1-based within the epoch) is done; `running` reads the epoch's running
    /// loss, accuracy and images so far (it waits for the device: call it only to show them).
    fn step(&mut self, step: usize, running: &dyn Fn() -> (f64, f64, usize));
    /// The epoch's metrics are final.
    fn epoch_end(&mut self, metrics: &EpochMetrics, epochs: usize);
    /// The run is over: final weights saved and evaluated on the test split.
    fn run_end(&mut self, summary: &Summary) {
        self.message(&format!(
            "test: loss {:.4}  accuracy {:.2}% ({} images)  wall time {:.1}s",
            summary.test_loss,
            summary.test_accuracy * 100.0,
            summary.test_images,
            summary.wall_seconds
        ));
    }
}

/// Prints nothing (library use, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn message(&mut self, _: &str) {}
    fn epoch_start(&mut self, _: usize, _: usize, _: usize) {}
    fn step(&mut self, _: usize, _: &dyn Fn() -> (f64, f64, usize)) {}
    fn epoch_end(&mut self, _: &EpochMetrics, _: usize) {}
}

/// The terminal: a progress bar while an epoch runs, a line when it ends.
#[derive(Debug, Default)]
pub struct Console {
    bar: Option<ProgressBar>,
    quiet: bool,
}

/// Steps between two reads of the running loss for the bar (each read waits for the device).
const BAR_METRICS_EVERY: usize = 20;

impl Console {
    /// A console reporter; `quiet` drops the progress bar and the free-form messages and keeps
    /// the per-epoch lines.
    pub fn new(quiet: bool) -> Self {
        Self { bar: None, quiet }
    }
}

impl Progress for Console {
    fn message(&mut self, text: &str) {
        if !self.quiet {
            ember_engine::console::out(text);
        }
    }

    fn epoch_start(&mut self, epoch: usize, epochs: usize, steps: usize) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(steps as u64);
        let style = ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} steps {msg} ({elapsed}, eta {eta})",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(format!("{epoch}/{epochs}"));
        bar.enable_steady_tick(Duration::from_millis(250));
        self.bar = Some(bar);
    }

    fn step(&mut self, step: usize, running: &dyn Fn() -> (f64, f64, usize)) {
        let Some(bar) = &self.bar else { return };
        bar.set_position(step as u64);
        // Reading the loss makes the host wait for the device: only do it for a visible bar.
        if !bar.is_hidden() && step.is_multiple_of(BAR_METRICS_EVERY) {
            let secs = bar.elapsed().as_secs_f64().max(1e-9);
            let (loss, accuracy, images) = running();
            bar.set_message(format!(
                "loss {loss:.4} accuracy {accuracy:.4} {:.0} img/s",
                images as f64 / secs
            ));
        }
    }

    fn epoch_end(&mut self, m: &EpochMetrics, epochs: usize) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        ember_engine::console::out(&format!(
            "epoch {}/{epochs}  loss {:.4}  accuracy {:.4}  val_loss {:.4}  val_accuracy {:.4}  lr {:.3e}  {:.1}s  {:.0} img/s",
            m.epoch,
            m.loss,
            m.accuracy,
            m.val_loss,
            m.val_accuracy,
            m.learning_rate,
            m.epoch_seconds,
            m.images_per_second
        ));
    }
}

/// `--log-format json`: one JSON object per line on stdout, for scripts. Each has an `event`
/// field: `message` (with `text`), `epoch_end` (the fields of [`EpochMetrics`]) or `run_end`
/// (the fields of [`Summary`]). Non-finite numbers are written as `null`.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

impl JsonLines {
    fn emit(event: &str, body: serde_json::Value) {
        let mut object = match body {
            serde_json::Value::Object(map) => map,
            other => {
                let mut map = serde_json::Map::new();
                map.insert("value".into(), other);
                map
            }
        };
        object.insert("event".into(), event.into());
        ember_engine::console::out(&serde_json::Value::Object(object).to_string());
    }
}

impl Progress for JsonLines {
    fn message(&mut self, text: &str) {
        Self::emit("message", serde_json::json!({ "text": text }));
    }
    fn epoch_start(&mut self, _: usize, _: usize, _: usize) {}
    fn step(&mut self, _: usize, _: &dyn Fn() -> (f64, f64, usize)) {}
    fn epoch_end(&mut self, metrics: &EpochMetrics, _: usize) {
        Self::emit(
            "epoch_end",
            serde_json::to_value(metrics).unwrap_or(serde_json::Value::Null),
        );
    }
    fn run_end(&mut self, summary: &Summary) {
        Self::emit(
            "run_end",
            serde_json::to_value(summary).unwrap_or(serde_json::Value::Null),
        );
    }
}
