//! Seed 000 Q5: the polynomial model `y = w1·x1² + w2·x2² + w3·x1·x2 + b`, four scalar
//! parameters, trained with SGD (torch's momentum, 0.9, at lr 0.1) on the seed's first batch
//! `x1 = [1, 2]`, `x2 = [-1, 0]`, `y = [10, 13]` from `w1 = 1, w2 = -1, w3 = -1, b = 1`.
//!
//! The loss is **half the sum** of the squared errors, `L = ½ Σ (ŷ − y)²`: the seed's
//! gradients (`∂L/∂w1 = Σ (ŷ − y)·x1² = −40`, then −8, 8, −16) are those of this loss. On
//! this batch the predictions are 2 and 5, both errors −8, so `L = 64`, which is also the
//! mean squared error. torch's SGD sets the momentum buffer to the gradient at the first step
//! (`b = g`, no dampening), so the first update is plain `w ← w − lr·g`: `w1 = 5`, `w2 = −0.2`,
//! `w3 = −1.8`, `b = 2.6`; ember's `SgdConfig` is torch's (`ember_optim::SgdConfig`).
//!
//! The model is a `#[derive(Module)]` of four `Param<Tensor<1>>` of shape `[1]`; the step is a
//! function of the engine's `TrainStep` kind, run once by `ember_engine::optimize` (forward,
//! backward, update) and for several steps by the `Learner` (one full-batch epoch a step),
//! whose callback reads the weights after each step.
//!
//! ```text
//! cargo run --release --example polynomial
//! ```

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use ember_engine::data::{EpochSource, TensorSource, Xy};
use ember_engine::{
    Callback, Context, EngineError, FitOutcome, Learner, LearnerConfig, StepOutput, optimize,
};
use ember_optim::SgdConfig;

/// The seed's inputs, one row per example: `(x1, x2)`.
pub const INPUTS: [[f32; 2]; 2] = [[1.0, -1.0], [2.0, 0.0]];
/// The seed's targets.
pub const TARGETS: [f32; 2] = [10.0, 13.0];
/// The seed's initial `[w1, w2, w3, b]`.
pub const INITIAL: [f32; 4] = [1.0, -1.0, -1.0, 1.0];
/// The seed's learning rate.
pub const LEARNING_RATE: f64 = 0.1;
/// The seed's momentum (torch's convention).
pub const MOMENTUM: f64 = 0.9;

/// `y = w1·x1² + w2·x2² + w3·x1·x2 + b`.
#[derive(Module, Debug)]
pub struct Polynomial {
    /// Coefficient of `x1²`, shape `[1]`.
    pub w1: Param<Tensor<1>>,
    /// Coefficient of `x2²`, shape `[1]`.
    pub w2: Param<Tensor<1>>,
    /// Coefficient of `x1·x2`, shape `[1]`.
    pub w3: Param<Tensor<1>>,
    /// The constant, shape `[1]`.
    pub b: Param<Tensor<1>>,
}

impl Polynomial {
    /// The model with `[w1, w2, w3, b]` on `device`.
    pub fn new(weights: [f32; 4], device: &Device) -> Self {
        let param = |w: f32| Param::from_tensor(Tensor::from_data([w], device));
        Self {
            w1: param(weights[0]),
            w2: param(weights[1]),
            w3: param(weights[2]),
            b: param(weights[3]),
        }
    }

    /// `[batch, 2]` rows `(x1, x2)` to `[batch, 1]` predictions.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [batch, _] = x.dims();
        let x1 = x.clone().slice([0..batch, 0..1]);
        let x2 = x.slice([0..batch, 1..2]);
        let coefficient = |p: &Param<Tensor<1>>| p.val().reshape([1, 1]);
        x1.clone().square().mul(coefficient(&self.w1))
            + x2.clone().square().mul(coefficient(&self.w2))
            + x1.mul(x2).mul(coefficient(&self.w3))
            + coefficient(&self.b)
    }

    /// `[w1, w2, w3, b]`.
    pub fn weights(&self) -> [f32; 4] {
        [&self.w1, &self.w2, &self.w3, &self.b].map(|p| p.val().into_scalar::<f32>())
    }

    /// The four gradients in `grads`, in the order of [`weights`](Self::weights).
    pub fn gradients(&self, grads: &GradientsParams) -> [f32; 4] {
        [&self.w1, &self.w2, &self.w3, &self.b].map(|p| {
            grads
                .get::<1>(p.id)
                .expect("every parameter takes part in the loss")
                .into_scalar::<f32>()
        })
    }
}

/// The step: `loss = ½ Σ (ŷ − y)²` over the batch (the seed's loss; see the module
/// documentation).
pub fn half_sum_of_squares(model: &Polynomial, batch: Xy) -> StepOutput {
    let [batch_size, _] = batch.x.dims();
    let loss = model
        .forward(batch.x)
        .sub(batch.y)
        .square()
        .sum()
        .mul_scalar(0.5);
    StepOutput {
        loss,
        batch_size,
        metrics: Vec::new(),
    }
}

/// The seed's batch as a source (in storage order, one batch of two).
pub fn seed_batch() -> TensorSource {
    TensorSource::new(
        TensorData::new(INPUTS.concat(), [INPUTS.len(), 2]),
        TensorData::new(TARGETS.to_vec(), [TARGETS.len(), 1]),
    )
    .expect("two rows of inputs and of targets")
}

/// The first step, as the seed works it by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstStep {
    /// The loss at the initial weights.
    pub loss: f32,
    /// `∂L/∂[w1, w2, w3, b]` at the initial weights.
    pub gradients: [f32; 4],
    /// `[w1, w2, w3, b]` after one SGD step with momentum.
    pub weights: [f32; 4],
}

/// The seed's SGD: torch's, lr 0.1, momentum 0.9.
pub fn optimizer() -> burn::optim::ModuleOptimizer {
    SgdConfig {
        momentum: MOMENTUM,
        ..Default::default()
    }
    .init()
}

/// One step from the seed's initial weights: the loss and gradients (from the step's own
/// backward pass), then the weights after `ember_engine::optimize` on the same batch.
pub fn first_step() -> FirstStep {
    let device = Device::flex().autodiff();
    let batch = || {
        seed_batch()
            .batches(INPUTS.len(), None, 0, &device)
            .expect("an in-memory source")
            .next()
            .expect("one batch")
            .expect("an in-memory batch")
    };
    let model = Polynomial::new(INITIAL, &device);
    let out = half_sum_of_squares(&model, batch());
    let gradients = model.gradients(&GradientsParams::from_grads(out.loss.backward(), &model));
    let loss = out.loss.into_scalar::<f32>();
    let (model, _) = optimize(
        &half_sum_of_squares,
        model,
        &mut optimizer(),
        batch(),
        LEARNING_RATE,
    );
    FirstStep {
        loss,
        gradients,
        weights: model.weights(),
    }
}

/// `steps` full-batch steps with the learner (one epoch a step, in storage order): for each,
/// the loss logged (computed before its update) and the weights after it.
///
/// # Errors
/// The learner's.
pub fn train(steps: usize) -> Result<Vec<(f64, [f32; 4])>, EngineError> {
    let device = Device::flex().autodiff();
    let config = LearnerConfig {
        epochs: steps,
        batch_size: INPUTS.len(),
        learning_rate: LEARNING_RATE,
        shuffle: false,
        ..Default::default()
    };
    let mut weights = Vec::new();
    let learner = Learner::new(
        Polynomial::new(INITIAL, &device),
        optimizer(),
        half_sum_of_squares,
        device,
        config,
    )
    .callback(Weights(&mut weights));
    let FitOutcome::Finished(result) = learner.fit(&seed_batch(), None::<&TensorSource>)? else {
        unreachable!("no stop flag was given")
    };
    let losses = result.history.iter().map(|epoch| epoch.logs["loss"]);
    Ok(losses.zip(weights).collect())
}

/// Keeps the weights after every step.
struct Weights<'a>(&'a mut Vec<[f32; 4]>);

impl Callback<Polynomial> for Weights<'_> {
    fn name(&self) -> String {
        "weights".into()
    }

    fn on_step_end(&mut self, ctx: &mut Context<'_, Polynomial>) -> Result<(), String> {
        self.0.push(ctx.model.weights());
        Ok(())
    }
}

fn main() -> Result<(), EngineError> {
    let first = first_step();
    println!(
        "step 1: loss {}, gradients {:?}, weights after {:?}",
        first.loss, first.gradients, first.weights
    );
    for (i, (loss, weights)) in train(5)?.into_iter().enumerate() {
        println!("step {}: loss {loss:.4}, weights after {weights:?}", i + 1);
    }
    Ok(())
}
