//! Test helpers: run an optimizer on plain 1-D parameters with given gradients.

use burn::optim::Optimizer;
use burn::tensor::{Device, Tensor, TensorData};

fn tensor(values: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

fn values(t: &Tensor<1>) -> Vec<f32> {
    t.clone().try_into_vec_as().expect("f32 tensor") // ok: test-only module
}

/// Applies `steps` updates with a constant gradient to each `(initial, gradient)` parameter and
/// returns the final values.
pub(crate) fn run_constant_gradients<O: Optimizer>(
    optimizer: O,
    lr: f64,
    params: &[(&[f32], &[f32])],
    steps: usize,
) -> Vec<Vec<f32>> {
    let device = Device::flex();
    params
        .iter()
        .map(|(init, grad)| {
            let grad = tensor(grad, &device);
            let mut param = tensor(init, &device);
            let mut state = None;
            for _ in 0..steps {
                (param, state) = optimizer.step(lr, param, grad.clone(), state);
            }
            values(&param)
        })
        .collect()
}

/// Applies one update per gradient in `grads` and returns the parameter after each.
pub(crate) fn run_gradient_sequence<O: Optimizer>(
    optimizer: O,
    lr: f64,
    init: &[f32],
    grads: &[&[f32]],
) -> Vec<Vec<f32>> {
    let device = Device::flex();
    let mut param = tensor(init, &device);
    let mut state = None;
    grads
        .iter()
        .map(|g| {
            (param, state) = optimizer.step(lr, param.clone(), tensor(g, &device), state.clone());
            values(&param)
        })
        .collect()
}

/// A module holding one 1-D parameter, for optimizers that only exist as `ModuleOptimizer`.
#[derive(burn::module::Module, Debug)]
struct Weights {
    w: burn::module::Param<Tensor<1>>,
}

/// Applies one `ModuleOptimizer` step per gradient in `grads` (through autodiff: the loss
/// `sum(w * g)` has gradient `g`) and returns the parameter after each.
pub(crate) fn run_module_optimizer(
    mut optimizer: burn::optim::ModuleOptimizer,
    lr: f64,
    init: &[f32],
    grads: &[&[f32]],
) -> Vec<Vec<f32>> {
    let device = Device::flex().autodiff();
    let mut module = Weights {
        w: burn::module::Param::from_tensor(tensor(init, &device).require_grad()),
    };
    let mut trajectory = Vec::with_capacity(grads.len());
    for g in grads {
        let loss = module.w.val().mul(tensor(g, &device)).sum();
        let gradients = burn::optim::GradientsParams::from_grads(loss.backward(), &module);
        module = optimizer.step(lr, module, gradients);
        trajectory.push(values(&module.w.val()));
    }
    trajectory
}

/// The linear model `y = x·w + b` with two inputs, for the regression below.
#[derive(burn::module::Module, Debug)]
struct Regression {
    w: burn::module::Param<Tensor<2>>,
    b: burn::module::Param<Tensor<1>>,
}

/// The linear regression candle-optimisers checks its optimizers on against PyTorch
/// (`tests/*_tests.rs` there): data `y = 3·x1 + x2 − 2` at the four points (2, 1), (7, 4),
/// (−4, 12), (5, 8), a `Linear(2, 1)` starting at zero, loss `Σ (y − ŷ)²`, `steps` optimizer
/// steps. Asserts the final weights and bias against PyTorch's, printed to 4 decimals there
/// (so within 5e-5, plus f32 noise).
pub(crate) fn assert_regression(
    mut optimizer: burn::optim::ModuleOptimizer,
    lr: f64,
    steps: usize,
    weights: [f32; 2],
    bias: f32,
) {
    let device = Device::flex().autodiff();
    let xs = Tensor::<2>::from_data(
        TensorData::new(vec![2.0f32, 1.0, 7.0, 4.0, -4.0, 12.0, 5.0, 8.0], [4, 2]),
        &device,
    );
    let ys = Tensor::<2>::from_data(
        TensorData::new(vec![5.0f32, 23.0, -2.0, 21.0], [4, 1]),
        &device,
    );
    let mut model = Regression {
        w: burn::module::Param::from_tensor(Tensor::zeros([2, 1], &device).require_grad()),
        b: burn::module::Param::from_tensor(Tensor::zeros([1], &device).require_grad()),
    };
    for _ in 0..steps {
        let predicted = xs
            .clone()
            .matmul(model.w.val())
            .add(model.b.val().unsqueeze::<2>());
        let loss = predicted.sub(ys.clone()).powf_scalar(2.0).sum();
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(lr, model, grads);
    }
    let w: Vec<f32> = model.w.val().try_into_vec_as().expect("f32 weights"); // ok: test-only
    let b: Vec<f32> = model.b.val().try_into_vec_as().expect("f32 bias"); // ok: test-only
    let close = |got: f32, want: f32| (got - want).abs() <= 6e-5;
    assert!(
        close(w[0], weights[0]) && close(w[1], weights[1]) && close(b[0], bias),
        "w {w:?} b {b:?}, PyTorch: w {weights:?} b {bias}"
    );
}
