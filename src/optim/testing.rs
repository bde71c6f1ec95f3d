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
