//! A step: what turns a batch into the loss to minimize and the metrics to log. The learner
//! runs it with gradients on the training batches (then `backward` and the optimizer step)
//! and without on the validation batches ([`burn::module::Module::valid`]).
//!
//! A step is any `Fn(&M, B) -> StepOutput`, or a type implementing [`TrainStep`]. ember
//! provides the outputs of the usual tasks, in the field's terms:
//!
//! - [`Classification`]: mean cross-entropy of logits `[batch, classes]` against class indices
//!   `[batch]` (log-softmax + negative log-likelihood, as `torch.nn.CrossEntropyLoss` and Keras'
//!   `SparseCategoricalCrossentropy(from_logits=True)`), with `accuracy` and, on request,
//!   `top{k}_accuracy` (Keras' `SparseTopKCategoricalAccuracy`).
//! - [`Regression`]: mean squared error of predictions against targets of the same shape
//!   (`torch.nn.MSELoss`, Keras' `MeanSquaredError`), with `mae`, the mean absolute error.
//!
//! (burn-train 0.22.1's `TrainStep` is implemented by the model and returns the gradients
//! itself; ember's step returns the loss, so the learner owns backward, the optimizer step and
//! the metrics' accumulation, and one step serves training and validation.)

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor};

use crate::metrics::MetricSum;

/// What a step computed on one batch.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// The batch's mean loss, shape `[1]`, still attached to the autodiff graph in training
    /// (the learner calls `backward` on it). Logged as `loss`, weighted by `batch_size`.
    pub loss: Tensor<1>,
    /// Examples in the batch.
    pub batch_size: usize,
    /// Further metrics, each a sum and a count ([`MetricSum`]); detached.
    pub metrics: Vec<MetricSum>,
}

/// A batch of type `B` through model `M` to a [`StepOutput`].
pub trait TrainStep<M, B> {
    /// Forward pass on `batch`. In training `model` is on an autodiff device and the loss must
    /// depend on its parameters; in validation it is its [`valid`](burn::module::Module::valid)
    /// copy and `batch` lives on the device without autodiff.
    fn step(&self, model: &M, batch: B) -> StepOutput;
}

impl<M, B, F: Fn(&M, B) -> StepOutput> TrainStep<M, B> for F {
    fn step(&self, model: &M, batch: B) -> StepOutput {
        self(model, batch)
    }
}

/// Classification: cross-entropy loss, `accuracy` and optional top-k accuracies.
#[derive(Debug, Clone, Default)]
pub struct Classification {
    top_k: Vec<usize>,
}

impl Classification {
    /// Loss and `accuracy` only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also logs `top{k}_accuracy`: the fraction of examples whose class is among the `k`
    /// largest logits (`k` ≥ 1, at most the number of classes).
    pub fn top_k(mut self, k: usize) -> Self {
        self.top_k.push(k);
        self
    }

    /// The output for `logits` `[batch, classes]` and class indices `targets` `[batch]`.
    ///
    /// # Panics
    /// If the shapes disagree, or a top-k exceeds the number of classes (Burn's own checks).
    pub fn output(&self, logits: Tensor<2>, targets: Tensor<1, Int>) -> StepOutput {
        let [batch, _] = logits.dims();
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), targets.clone());
        let logits = logits.detach();
        let correct = logits
            .clone()
            .argmax(1)
            .reshape([batch])
            .equal(targets.clone())
            .float()
            .sum();
        let mut metrics = vec![MetricSum {
            name: "accuracy".into(),
            sum: correct,
            count: batch,
        }];
        for &k in &self.top_k {
            let hits = logits
                .clone()
                .argtopk(k, 1)
                .equal(targets.clone().reshape([batch, 1]))
                .any_dim(1)
                .float()
                .sum();
            metrics.push(MetricSum {
                name: format!("top{k}_accuracy"),
                sum: hits,
                count: batch,
            });
        }
        StepOutput {
            loss,
            batch_size: batch,
            metrics,
        }
    }
}

/// Regression: mean squared error loss and `mae`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Regression;

impl Regression {
    /// The output for `predictions` and `targets` of the same shape `[batch, outputs]`: `loss`
    /// is the mean of the squared errors over every element, `mae` the mean absolute error.
    ///
    /// # Panics
    /// If the shapes differ (Burn's check).
    pub fn output(&self, predictions: Tensor<2>, targets: Tensor<2>) -> StepOutput {
        let [batch, outputs] = predictions.dims();
        let error = predictions.sub(targets);
        let loss = error.clone().square().mean();
        let mae = error.detach().abs().sum();
        StepOutput {
            loss,
            batch_size: batch,
            metrics: vec![MetricSum {
                name: "mae".into(),
                sum: mae,
                count: batch * outputs,
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn scalar(t: &Tensor<1>) -> f32 {
        t.clone().into_scalar::<f32>()
    }

    /// Against values computed by hand (and by `torch.nn.functional.cross_entropy`): logits
    /// [[2, 1, 0], [0, 0, 3]], classes [1, 2].
    #[test]
    fn classification_matches_the_definitions() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![2.0f32, 1.0, 0.0, 0.0, 0.0, 3.0], [2, 3]),
            &device,
        );
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 2], [2]), &device);
        let out = Classification::new().top_k(2).output(logits, targets);
        // -log softmax: row 1 at class 1: log(e^2 + e + 1) - 1; row 2 at class 2:
        // log(2 + e^3) - 3.
        let e = std::f64::consts::E;
        let expected = (((e * e + e + 1.0).ln() - 1.0) + ((2.0 + e.powi(3)).ln() - 3.0)) / 2.0;
        assert!((f64::from(scalar(&out.loss)) - expected).abs() < 1e-6);
        assert_eq!(out.batch_size, 2);
        let names: Vec<&str> = out.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["accuracy", "top2_accuracy"]);
        // Row 1 predicts 0 (wrong, but 1 is second), row 2 predicts 2 (right).
        assert_eq!(scalar(&out.metrics[0].sum), 1.0);
        assert_eq!(scalar(&out.metrics[1].sum), 2.0);
    }

    #[test]
    fn regression_matches_the_definitions() {
        let device = Device::flex();
        let predictions = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 5.0], [2, 2]),
            &device,
        );
        let targets = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 4.0, 2.0], [2, 2]),
            &device,
        );
        let out = Regression.output(predictions, targets);
        // errors 0, 2, -1, 3: MSE (0 + 4 + 1 + 9) / 4 = 3.5; MAE sum 6 over 4 elements.
        assert_eq!(scalar(&out.loss), 3.5);
        assert_eq!(scalar(&out.metrics[0].sum), 6.0);
        assert_eq!(out.metrics[0].count, 4);
    }
}
