//! The training loop's knobs through the engine's public API, against values computed by hand
//! from the references' formulas: gradient clipping (PyTorch 2.x `clip_grad_norm_`,
//! `clip_grad_value_`, Burn's per-tensor norm), the L1/L2 penalty (Keras' `L1`/`L2`), gradient
//! accumulation (the mean of the window's gradients), the weights' moving average (Keras'
//! `ema_momentum` recurrence) and the loss reported to the optimizer (`report_loss`).

use std::cell::RefCell;
use std::rc::Rc;

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Tensor, TensorData};
use ember_engine::clip::GradientClip;
use ember_engine::penalty::{Penalized, Penalty};
use ember_engine::{Callback, Context, EpochSource, FitOutcome, Learner, LearnerConfig, TrainStep};

mod common;

use common::{Data, Line, Points, device, model as line, step};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec().unwrap()
}

/// A 2 -> 1 linear layer with weight [[1], [-2]] and bias [5], and gradients [[3], [0]], [4]
/// for them (global norm 5).
fn layer_and_grads() -> (Linear, GradientsParams) {
    let device = Device::flex();
    let mut layer = LinearConfig::new(2, 1).init(&device);
    layer.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(vec![1.0f32, -2.0], [2, 1]),
        &device,
    ));
    layer.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(vec![5.0f32], [1]),
        &device,
    )));
    let mut grads = GradientsParams::new();
    grads.register(
        layer.weight.id,
        Tensor::<2>::from_data(TensorData::new(vec![3.0f32, 0.0], [2, 1]), &device),
    );
    grads.register(
        layer.bias.as_ref().unwrap().id,
        Tensor::<1>::from_data(TensorData::new(vec![4.0f32], [1]), &device),
    );
    (layer, grads)
}

fn clipped(clip: GradientClip) -> (Vec<f32>, Vec<f32>) {
    let (layer, grads) = layer_and_grads();
    let mut grads = clip.apply(&layer, grads);
    let w = grads.remove::<2>(layer.weight.id).unwrap();
    let b = grads.remove::<1>(layer.bias.as_ref().unwrap().id).unwrap();
    (values(w), values(b))
}

fn close(got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((f64::from(*g) - w).abs() <= tol, "{got:?} != {want:?}");
    }
}

/// torch.nn.utils.clip_grad_norm_([w, b], max_norm=1.0): total norm 5, coefficient
/// 1 / (5 + 1e-6), so w.grad = [0.59999988, 0], b.grad = [0.79999984]; with max_norm 10 the
/// coefficient clamps to 1 and nothing changes.
#[test]
fn global_norm_clipping_is_torchs_clip_grad_norm() {
    let coef = 1.0 / (5.0 + 1e-6);
    let (w, b) = clipped(GradientClip::Norm(1.0));
    close(&w, &[3.0 * coef, 0.0], 1e-7);
    close(&b, &[4.0 * coef], 1e-7);
    let (w, b) = clipped(GradientClip::Norm(10.0));
    close(&w, &[3.0, 0.0], 0.0);
    close(&b, &[4.0], 0.0);
}

/// clip_grad_value_(3.5) clamps each component; Burn's per-tensor norm (Keras' clipnorm) at 3
/// leaves w (norm 3) and scales b from 4 to 3.
#[test]
fn value_and_per_tensor_clipping() {
    let (w, b) = clipped(GradientClip::Value(3.5));
    close(&w, &[3.0, 0.0], 0.0);
    close(&b, &[3.5], 0.0);
    let (w, b) = clipped(GradientClip::TensorNorm(3.0));
    close(&w, &[3.0, 0.0], 1e-6);
    close(&b, &[3.0], 1e-6);
}

/// l1 · Σ|w| + l2 · Σw² over the weight matrix only: 0.1 · 3 + 0.01 · 5 = 0.35 (the bias 5 is
/// left out).
#[test]
fn penalty_sums_the_weights_only() {
    let (layer, _) = layer_and_grads();
    let penalty = Penalty { l1: 0.1, l2: 0.01 };
    close(&values(penalty.of(&layer).unwrap()), &[0.35], 1e-6);
    assert!(Penalty::default().of(&layer).is_none());
}

/// In training the step's loss carries the penalty and logs it; in validation (no autodiff)
/// it is the data loss alone.
#[test]
fn penalized_step_adds_the_penalty_in_training_only() {
    let penalized = Penalized {
        step,
        penalty: Penalty { l1: 0.0, l2: 0.5 },
    };
    let model = line();
    let w = f64::from(values(model.linear.weight.val())[0]);
    let batch = |device: &Device| Points {
        x: Tensor::from_data(TensorData::new(vec![1.0f32], [1, 1]), device),
        y: Tensor::from_data(TensorData::new(vec![0.0f32], [1, 1]), device),
    };
    let plain = step(&model, batch(&device()));
    let train = penalized.step(&model, batch(&device()));
    let data_loss = f64::from(values(plain.loss)[0]);
    close(&values(train.loss), &[data_loss + 0.5 * w * w], 1e-6);
    assert_eq!(train.metrics.last().unwrap().name, "penalty");
    let valid = model.valid();
    let out = penalized.step(&valid, batch(&Device::flex()));
    close(&values(out.loss), &[data_loss], 1e-6);
    assert!(out.metrics.iter().all(|m| m.name != "penalty"));
}

/// The weights after `epochs` epochs with `batch_size` and `accumulate`, SGD at lr 0.1, data in
/// storage order; and the optimizer steps taken.
fn trained(batch_size: usize, accumulate: usize, epochs: usize) -> (Vec<f32>, usize) {
    let config = LearnerConfig {
        epochs,
        batch_size,
        learning_rate: 0.1,
        shuffle: false,
        accumulate_grad_batches: accumulate,
        ..Default::default()
    };
    let outcome = Learner::new(line(), SgdConfig::new().init(), step, device(), config)
        .fit(&Data, None::<&Data>)
        .unwrap();
    let FitOutcome::Finished(result) = outcome else {
        panic!("interrupted")
    };
    let mut w = values(result.model.linear.weight.val());
    w.extend(values(result.model.linear.bias.unwrap().val()));
    (w, result.global_step)
}

/// Two batches of 4 accumulated make the same SGD steps as one batch of 8 (the MSE is a mean,
/// so the mean of the two gradients is the 8-batch gradient).
#[test]
fn accumulation_takes_the_mean_of_the_windows_gradients() {
    let (one, steps_one) = trained(8, 1, 3);
    let (two, steps_two) = trained(4, 2, 3);
    assert_eq!((steps_one, steps_two), (6, 6));
    close(
        &two,
        &one.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
        1e-6,
    );
    // 4 batches of 4 in windows of 3: a full window and a last window of 1, two steps an epoch.
    let (_, steps) = trained(4, 3, 3);
    assert_eq!(steps, 6);
}

/// Records the raw weights after every step.
struct Record(Rc<RefCell<Vec<Vec<f32>>>>);

impl Callback<Line> for Record {
    fn name(&self) -> String {
        "record".into()
    }

    fn on_train_begin(&mut self, ctx: &mut Context<'_, Line>) -> Result<(), String> {
        self.on_step_end(ctx)
    }

    fn on_step_end(&mut self, ctx: &mut Context<'_, Line>) -> Result<(), String> {
        let mut w = values(ctx.model.linear.weight.val());
        w.extend(values(ctx.model.linear.bias.clone().unwrap().val()));
        self.0.borrow_mut().push(w);
        Ok(())
    }
}

/// The final model is the average a ← d·a + (1 − d)·w over every step's weights, started at
/// the initial weights (Keras' EMA), computed here from the recorded raw weights.
#[test]
fn the_final_model_is_the_moving_average() {
    let decay = 0.8;
    let seen = Rc::new(RefCell::new(Vec::new()));
    let config = LearnerConfig {
        epochs: 2,
        batch_size: 4,
        learning_rate: 0.1,
        ema_decay: Some(decay),
        ..Default::default()
    };
    let outcome = Learner::new(line(), SgdConfig::new().init(), step, device(), config)
        .callback(Record(Rc::clone(&seen)))
        .fit(&Data, None::<&Data>)
        .unwrap();
    let FitOutcome::Finished(result) = outcome else {
        panic!("interrupted")
    };
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1 + 8, "initial weights and 8 steps");
    let mut average: Vec<f64> = seen[0].iter().map(|&v| f64::from(v)).collect();
    for w in &seen[1..] {
        for (a, &v) in average.iter_mut().zip(w) {
            *a = decay * *a + (1.0 - decay) * f64::from(v);
        }
    }
    let mut got = values(result.model.linear.weight.val());
    got.extend(values(result.model.linear.bias.unwrap().val()));
    close(&got, &average, 1e-5);
    assert_ne!(got, seen[8], "the raw weights differ from their average");
}

/// Out-of-range settings are refused before training.
#[test]
fn bad_settings_are_refused() {
    for config in [
        LearnerConfig {
            accumulate_grad_batches: 0,
            ..Default::default()
        },
        LearnerConfig {
            gradient_clip: Some(GradientClip::Norm(0.0)),
            ..Default::default()
        },
        LearnerConfig {
            ema_decay: Some(1.0),
            ..Default::default()
        },
    ] {
        let err = Learner::new(line(), SgdConfig::new().init(), step, device(), config)
            .fit(&Data, None::<&Data>)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("must be"), "{err}");
    }
}

/// The losses `report_loss` gives, one per optimizer step, training with `batch_size` and
/// `accumulate` (SGD at lr 0.1, storage order, 2 epochs).
fn reported(batch_size: usize, accumulate: usize) -> Vec<f64> {
    let config = LearnerConfig {
        epochs: 2,
        batch_size,
        learning_rate: 0.1,
        shuffle: false,
        accumulate_grad_batches: accumulate,
        ..Default::default()
    };
    let losses = RefCell::new(Vec::new());
    let outcome = Learner::new(line(), SgdConfig::new().init(), step, device(), config)
        .report_loss(|loss| losses.borrow_mut().push(loss))
        .fit(&Data, None::<&Data>)
        .unwrap();
    let FitOutcome::Finished(result) = outcome else {
        panic!("interrupted")
    };
    let losses = losses.into_inner();
    assert_eq!(losses.len(), result.global_step);
    losses
}

/// `report_loss` gives each step's loss E(t) at the weights the step starts from (what
/// iRprop⁺ compares): the first is the initial model's MSE on the first batch, and a window of
/// two batches of 4 reports their mean, the MSE of the batch of 8 that makes the same step.
#[test]
fn reported_loss_is_the_steps_mean_loss() {
    let eight = reported(8, 1);
    let four_by_two = reported(4, 2);
    assert_eq!((eight.len(), four_by_two.len()), (4, 4));
    for (a, b) in eight.iter().zip(&four_by_two) {
        assert!(
            (a - b).abs() <= 1e-6 * a.abs().max(1.0),
            "{eight:?} vs {four_by_two:?}"
        );
    }
    let first = Data
        .batches(8, None, 0, &device())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let expected: f64 = step(&line(), first).loss.into_scalar();
    assert_eq!(eight[0], expected);
    // The steps move the line towards the data: the loss falls.
    assert!(eight[3] < eight[0], "{eight:?}");
}
