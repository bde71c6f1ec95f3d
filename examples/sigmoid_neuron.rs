//! Seeds 002 Q3 and 004 Q3: one sigmoid neuron `y = σ(z)`, `z = w·x + b`, with the squared
//! error and an L2 term on the weights (not the bias),
//!
//! ```text
//! L = ½ (y − t)² + (λ/2)·‖w‖²,   ∂L/∂w = (y − t)·σ'(z)·x + λ·w,   ∂L/∂b = (y − t)·σ'(z)
//! ```
//!
//! with `σ'(z) = σ(z)·(1 − σ(z))`, averaged over a batch. The squared error is the step's own
//! loss; the L2 term is the engine's `Penalized` step with `Penalty { l2: λ/2 }` (the engine's
//! penalty is `l2·Σw²` over parameters of rank ≥ 2: the weight matrix, not the bias). Trained
//! with SGD (ember's torch-style `SgdConfig`) by the `Learner`, full batch, on eight points of
//! the plane that the line `x1 + x2 = 1.25` separates.
//!
//! ```text
//! cargo run --release --example sigmoid_neuron
//! ```

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use ember_engine::data::{TensorSource, Xy};
use ember_engine::penalty::{Penalized, Penalty};
use ember_engine::{
    EngineError, EpochLogs, FitOutcome, Learner, LearnerConfig, MetricSum, StepOutput, TrainStep,
};
use ember_optim::SgdConfig;

/// Eight points `(x1, x2)`: the first four have `x1 + x2 ≥ 3` (class 1), the last four
/// `x1 + x2 ≤ 0` (class 0).
pub const POINTS: [[f32; 2]; 8] = [
    [2.0, 1.0],
    [1.0, 2.0],
    [2.0, 2.0],
    [3.0, 0.5],
    [0.0, 0.0],
    [-1.0, 0.5],
    [0.5, -1.0],
    [-1.0, -1.0],
];
/// Their classes.
pub const CLASSES: [f32; 8] = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];

/// One sigmoid neuron on `[batch, inputs]`.
#[derive(Module, Debug)]
pub struct Neuron {
    /// `w` (`[inputs, 1]`) and `b` (`[1]`).
    pub linear: Linear,
}

impl Neuron {
    /// A neuron with weights drawn from `seed` (Burn's `Linear` default) on `device`.
    pub fn seeded(inputs: usize, seed: u64, device: &Device) -> Self {
        let neuron = ember_engine::init::seeded(seed, |cpu| Self {
            linear: LinearConfig::new(inputs, 1).init(cpu),
        });
        neuron.to_device(device).train()
    }

    /// A neuron with the given `w` and `b` on `device`.
    pub fn with_weights(w: &[f32], b: f32, device: &Device) -> Self {
        let mut linear = LinearConfig::new(w.len(), 1).init(device);
        linear.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(w.to_vec(), [w.len(), 1]),
            device,
        ));
        linear.bias = Some(Param::from_tensor(Tensor::from_data([b], device)));
        Self { linear }
    }

    /// `[batch, inputs]` to outputs in (0, 1), `[batch, 1]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        sigmoid(self.linear.forward(x))
    }

    /// `(w, b)`.
    pub fn weights(&self) -> (Vec<f32>, f32) {
        let w = self
            .linear
            .weight
            .val()
            .into_data()
            .try_to_vec()
            .expect("f32 weights");
        let b = self
            .linear
            .bias
            .as_ref()
            .expect("a bias")
            .val()
            .into_scalar::<f32>();
        (w, b)
    }
}

/// The data loss: the mean over the batch of `½ (y − t)²`, and `accuracy` (`y > ½` for class
/// 1).
pub fn squared_error(neuron: &Neuron, batch: Xy) -> StepOutput {
    let [batch_size, _] = batch.x.dims();
    let y = neuron.forward(batch.x);
    let loss = y
        .clone()
        .sub(batch.y.clone())
        .square()
        .mean()
        .mul_scalar(0.5);
    let correct = y
        .detach()
        .greater_elem(0.5)
        .float()
        .equal(batch.y)
        .float()
        .sum();
    StepOutput {
        loss,
        batch_size,
        metrics: vec![MetricSum {
            name: "accuracy".into(),
            sum: correct,
            count: batch_size,
        }],
    }
}

/// The training step: [`squared_error`] plus `(λ/2)·‖w‖²`.
pub fn regularized(lambda: f64) -> Penalized<fn(&Neuron, Xy) -> StepOutput> {
    Penalized {
        step: squared_error,
        penalty: Penalty {
            l1: 0.0,
            l2: lambda / 2.0,
        },
    }
}

/// `(∂L/∂w, ∂L/∂b)` at `(w, b)` for the rows `x` with classes `t`, by Burn's autodiff through
/// the training step.
pub fn gradient_by_autodiff(
    w: &[f32],
    b: f32,
    lambda: f64,
    x: &[Vec<f32>],
    t: &[f32],
) -> (Vec<f32>, f32) {
    let device = Device::flex().autodiff();
    let neuron = Neuron::with_weights(w, b, &device);
    let batch = Xy {
        x: Tensor::from_data(TensorData::new(x.concat(), [x.len(), w.len()]), &device),
        y: Tensor::from_data(TensorData::new(t.to_vec(), [t.len(), 1]), &device),
    };
    let out = regularized(lambda).step(&neuron, batch);
    let grads = GradientsParams::from_grads(out.loss.backward(), &neuron);
    let dw: Vec<f32> = grads
        .get::<2>(neuron.linear.weight.id)
        .expect("w is in the loss")
        .into_data()
        .try_to_vec()
        .expect("f32 gradients");
    let bias = neuron.linear.bias.as_ref().expect("a bias");
    let db = grads
        .get::<1>(bias.id)
        .expect("b is in the loss")
        .into_scalar::<f32>();
    (dw, db)
}

/// The same by the formula of the module documentation, in `f64`, without Burn: the mean
/// over the rows of `(y − t)·σ'(z)·x`, plus `λ·w`; and the mean of `(y − t)·σ'(z)`.
pub fn gradient_by_hand(
    w: &[f64],
    b: f64,
    lambda: f64,
    x: &[Vec<f64>],
    t: &[f64],
) -> (Vec<f64>, f64) {
    let n = x.len() as f64;
    let mut dw: Vec<f64> = w.iter().map(|w| lambda * w).collect();
    let mut db = 0.0;
    for (row, &t) in x.iter().zip(t) {
        let z = row.iter().zip(w).map(|(x, w)| x * w).sum::<f64>() + b;
        let y = 1.0 / (1.0 + (-z).exp());
        let delta = (y - t) * y * (1.0 - y);
        for (d, x) in dw.iter_mut().zip(row) {
            *d += delta * x / n;
        }
        db += delta / n;
    }
    (dw, db)
}

/// A trained neuron.
pub struct Trained {
    /// Every epoch's logs (`loss`, `penalty`, `accuracy`, `val_loss`, `val_accuracy`).
    pub history: Vec<EpochLogs>,
    /// The final weights.
    pub w: Vec<f32>,
    /// The final bias.
    pub b: f32,
}

/// Trains a neuron (weights from `seed`) on [`POINTS`] with SGD at `lr`, L2 `lambda`, full
/// batch, for `epochs` epochs, validating on the same points.
///
/// # Errors
/// The learner's.
pub fn train(epochs: usize, lr: f64, lambda: f64, seed: u64) -> Result<Trained, EngineError> {
    let device = Device::flex().autodiff();
    let points = TensorSource::new(
        TensorData::new(POINTS.concat(), [POINTS.len(), 2]),
        TensorData::new(CLASSES.to_vec(), [CLASSES.len(), 1]),
    )
    .expect("as many classes as points");
    let config = LearnerConfig {
        epochs,
        batch_size: POINTS.len(),
        learning_rate: lr,
        seed,
        ..Default::default()
    };
    let learner = Learner::new(
        Neuron::seeded(2, seed, &device),
        SgdConfig::default().init(),
        regularized(lambda),
        device,
        config,
    );
    let FitOutcome::Finished(result) = learner.fit(&points, Some(&points))? else {
        unreachable!("no stop flag was given")
    };
    let (w, b) = result.model.weights();
    Ok(Trained {
        history: result.history,
        w,
        b,
    })
}

fn main() -> Result<(), EngineError> {
    let Trained { history, w, b } = train(200, 1.0, 0.01, 1)?;
    let last = history.last().expect("200 epochs");
    println!(
        "after {} epochs: loss {:.4}, accuracy {}, w = {w:?}, b = {b}",
        last.epoch, last.logs["val_loss"], last.logs["val_accuracy"]
    );
    Ok(())
}
