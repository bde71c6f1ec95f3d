//! Test-set evaluation of trained weights: loss, accuracy, per-class accuracy and the
//! confusion matrix (`train evaluate`).

use std::fmt::Write as _;

use std::path::Path;

use burn::tensor::Device;
use burn::tensor::activation::softmax;
use ember_datasets::{
    BatchSource, ImageBatcher, InMemoryDataset, NUM_CLASSES, Split, load, locate,
};
use ember_models::Model;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::learner::EVAL_BATCH_SIZE;
use crate::learner::checkpoint::load_trained;
use crate::learner::step::evaluate;

/// The result of evaluating a model on a labelled split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction of correct predictions, in [0, 1].
    pub accuracy: f64,
    /// `confusion[true][predicted]` counts, 10 x 10.
    pub confusion: Vec<Vec<u64>>,
}

impl Evaluation {
    /// Images evaluated.
    pub fn images(&self) -> u64 {
        self.confusion.iter().flatten().sum()
    }

    /// Accuracy of each true class (recall), NaN for a class with no image.
    pub fn per_class_accuracy(&self) -> Vec<f64> {
        self.confusion
            .iter()
            .enumerate()
            .map(|(c, row)| row[c] as f64 / row.iter().sum::<u64>() as f64)
            .collect()
    }

    /// A human-readable report: totals, per-class accuracy and the confusion matrix.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "test loss {:.4}  accuracy {:.2}% ({} images)",
            self.loss,
            self.accuracy * 100.0,
            self.images()
        );
        let _ = writeln!(out, "per-class accuracy:");
        for (c, acc) in self.per_class_accuracy().iter().enumerate() {
            let _ = writeln!(out, "  class {c}: {:.2}%", acc * 100.0);
        }
        let _ = writeln!(
            out,
            "confusion matrix (rows: true class, columns: predicted):"
        );
        let _ = write!(out, "     ");
        for c in 0..NUM_CLASSES {
            let _ = write!(out, "{c:>6}");
        }
        let _ = writeln!(out);
        for (c, row) in self.confusion.iter().enumerate() {
            let _ = write!(out, "  {c:>2} ");
            for n in row {
                let _ = write!(out, "{n:>6}");
            }
            let _ = writeln!(out);
        }
        out
    }
}

/// Evaluates `model` on `dataset`.
pub fn evaluate_model(
    model: &Model,
    dataset: &InMemoryDataset,
    batcher: ImageBatcher,
    device: &Device,
) -> Evaluation {
    let mut confusion = vec![vec![0u64; NUM_CLASSES]; NUM_CLASSES];
    let source = BatchSource::on_host(dataset.clone(), batcher);
    let sums = evaluate(model, &source, EVAL_BATCH_SIZE, device, |batch, logits| {
        // One read per batch: evaluation is not the hot path.
        let predicted: Vec<i64> = logits
            .clone()
            .argmax(1)
            .try_into_vec_as()
            .unwrap_or_default();
        let truth: Vec<i64> = batch.targets.clone().try_into_vec_as().unwrap_or_default();
        for (t, p) in truth.iter().zip(&predicted) {
            confusion[*t as usize][*p as usize] += 1;
        }
    });
    Evaluation {
        loss: sums.mean_loss(),
        accuracy: sums.accuracy(),
        confusion,
    }
}

/// The class probabilities (softmax of the logits, `images × 10` row-major) of the trained run
/// at `path` (a run directory, checkpoint or `.bpk` file beside its configuration, as
/// [`load_trained`] reads it) on its dataset's test split prepared with its preprocessing,
/// with the run's configuration and the split's labels. `what` names the run's role in errors
/// (e.g. "--teacher"); `data_dir` overrides where the data is found.
///
/// # Errors
/// The run or the data cannot be read.
pub fn test_outputs(
    path: &Path,
    what: &str,
    data_dir: Option<&Path>,
    device: &Device,
) -> anyhow::Result<(TrainConfig, Vec<f32>, Vec<u8>)> {
    let (model, config, _) = load_trained(path, what, device)?;
    let dir = locate(config.dataset, data_dir.or(config.data_dir.as_deref()))?;
    let test = config.preprocess.apply_all(load(&dir, Split::Test)?);
    let labels = test.labels.clone();
    let mut probabilities = Vec::with_capacity(labels.len() * NUM_CLASSES);
    let source = BatchSource::on_host(
        InMemoryDataset::new(test),
        ImageBatcher::new(config.dataset),
    );
    evaluate(&model, &source, EVAL_BATCH_SIZE, device, |_, logits| {
        let p: Vec<f32> = softmax(logits.clone(), 1)
            .try_into_vec_as()
            .unwrap_or_default();
        probabilities.extend(p);
    });
    anyhow::ensure!(
        probabilities.len() == labels.len() * NUM_CLASSES,
        "{what} {}: the evaluation returned {} outputs for {} images",
        path.display(),
        probabilities.len() / NUM_CLASSES,
        labels.len()
    );
    Ok((config, probabilities, labels))
}

/// The fraction of `probabilities` rows (`labels.len() × 10`) whose largest entry is the label.
pub fn accuracy(probabilities: &[f32], labels: &[u8]) -> f64 {
    let correct = probabilities
        .chunks(NUM_CLASSES)
        .zip(labels)
        .filter(|(row, label)| argmax(row) == usize::from(**label))
        .count();
    correct as f64 / labels.len().max(1) as f64
}

/// Index of the largest value (the first on ties, as `torch.argmax`); 0 for an empty slice.
pub fn argmax<T: PartialOrd>(values: &[T]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}
