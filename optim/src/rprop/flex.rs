//! Rprop's update as one pass over each parameter tensor on flex, as a Burn backend extension.
//!
//! Why: written with tensor ops (`super`), one Rprop step is about ten element-wise ops, each
//! allocating a buffer in burn-flex 0.22.1 (its masks and selects cannot run in place); on
//! LeNet's parameters that was 1.2-1.46x Burn's Adam step (BENCHMARKS.md). Here every element
//! is read and written once.
//!
//! The arithmetic is the tensor-op formulation's, operation for operation and in f32 (`g·g_prev`,
//! `Δ·η±`, flex's NaN-propagating clamps, `θ ∓ Δ`), so both paths give the same bits; `tests`
//! check it on gradients with zeros, sign flips, clamped step sizes and NaN. `super` calls it
//! when every tensor of the step is f32 on flex and keeps the tensor ops elsewhere (wgpu,
//! ndarray). All four variants run here: the two flags of `OnFlip` (freeze the gradient, undo
//! the previous update) are arguments of the kernel, and loop-invariant, so the selects they
//! feed still vectorize.

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::tensor::Tensor;

use super::{Inputs, OnFlip, Stepped};
use crate::flex::{all_on_flex_f32, f32_data, f32_tensor};

/// The hyperparameters as the f32 values the tensor ops use: `[η−, η+, Δmin, Δmax]`.
type Scalars = [f32; 4];

/// Whether the kernel applies: every tensor of the step is f32 on flex.
pub(super) fn applies<const D: usize>(inputs: &Inputs<D>, prev_update: Option<&Tensor<D>>) -> bool {
    let tensors = [&inputs.param, &inputs.grad, &inputs.prev, &inputs.step_size];
    all_on_flex_f32(tensors.into_iter().chain(prev_update))
}

/// The step with the kernel; only where [`applies`] (the extension panics on other backends).
pub(super) fn step<const D: usize>(
    inputs: Inputs<D>,
    prev_update: Option<Tensor<D>>,
    scalars: Scalars,
    on_flip: OnFlip,
) -> Stepped<D> {
    let Inputs {
        param,
        grad,
        prev,
        step_size,
    } = inputs;
    let [param, grad, prev, step_size] = [param, grad, prev, step_size].map(|t| t.into_dispatch());
    let wrap = Tensor::<D>::from_dispatch;
    let OnFlip { freeze, undo } = on_flip;
    match prev_update {
        None => {
            let (param, prev, step_size) =
                Dispatch::rprop_step(param, grad, prev, step_size, scalars, freeze);
            (wrap(param), wrap(prev), wrap(step_size), None)
        }
        Some(prev_update) => {
            let prev_update = prev_update.into_dispatch();
            let (param, prev, step_size, update) = Dispatch::rprop_backtracking_step(
                param,
                grad,
                prev,
                step_size,
                prev_update,
                scalars,
                undo,
            );
            (wrap(param), wrap(prev), wrap(step_size), Some(wrap(update)))
        }
    }
}

/// The backend extension; flex only.
#[backend_extension(Flex)]
pub trait RpropStep: burn::backend::Backend {
    /// iRprop⁻ (`freeze`: g ← 0 where the sign flipped) or Rprop⁻ (not), on same-shape f32
    /// tensors: returns `(param, prev, step_size)`.
    fn rprop_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        prev: FloatTensor<Self>,
        step_size: FloatTensor<Self>,
        scalars: Scalars,
        freeze: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// Rprop⁺ (`undo` always) or iRprop⁺ (`undo` when the loss grew) on same-shape f32
    /// tensors, freezing g where the sign flipped: returns `(param, prev, step_size,
    /// prev_update)`.
    fn rprop_backtracking_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        prev: FloatTensor<Self>,
        step_size: FloatTensor<Self>,
        prev_update: FloatTensor<Self>,
        scalars: Scalars,
        undo: bool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

impl RpropStep for Flex {
    fn rprop_step(
        param: FlexTensor,
        grad: FlexTensor,
        prev: FlexTensor,
        step_size: FlexTensor,
        scalars: Scalars,
        freeze: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let on_flip = OnFlip {
            freeze,
            undo: false,
        };
        let ([param, prev, step_size], _) =
            run(param, grad, prev, step_size, None, scalars, on_flip);
        (param, prev, step_size)
    }

    fn rprop_backtracking_step(
        param: FlexTensor,
        grad: FlexTensor,
        prev: FlexTensor,
        step_size: FlexTensor,
        prev_update: FlexTensor,
        scalars: Scalars,
        undo: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
        let on_flip = OnFlip { freeze: true, undo };
        let ([param, prev, step_size], update) = run(
            param,
            grad,
            prev,
            step_size,
            Some(prev_update),
            scalars,
            on_flip,
        );
        let update = update.expect("a backtracking step returns its update");
        (param, prev, step_size, update)
    }
}

/// The loop over elements; `prev_update` chooses the backtracking variants (Rprop⁺, iRprop⁺),
/// `on_flip` the rule at sign flips. Returns `[param, prev, step_size]` and, when backtracking,
/// the new `prev_update`.
fn run(
    param: FlexTensor,
    grad: FlexTensor,
    prev: FlexTensor,
    step_size: FlexTensor,
    prev_update: Option<FlexTensor>,
    scalars: Scalars,
    OnFlip { freeze, undo }: OnFlip,
) -> ([FlexTensor; 3], Option<FlexTensor>) {
    let shape = param.layout().shape().clone();
    let len = shape.num_elements();
    let tensors = [&param, &grad, &prev, &step_size].map(FlexTensor::to_contiguous);
    // Slices of exactly `len` elements: the loops below then have no bounds checks.
    let [param, grad, prev, step_size] = tensors.each_ref().map(|t| &f32_data(t)[..len]);
    let prev_update = prev_update.map(|t| t.to_contiguous());
    // New buffers: the inputs are shared with the module and the optimizer state.
    let mut new_param = vec![0f32; len];
    let mut new_prev = vec![0f32; len];
    let mut new_step_size = vec![0f32; len];
    let mut new_update = Vec::new();
    // Branch-free bodies (selects), so that the loops vectorize: the signs are random, and
    // mispredicted branches made a first, branching version slower than the tensor ops.
    for i in 0..len {
        let product = grad[i] * prev[i];
        new_step_size[i] = next_step_size(product, step_size[i], scalars);
        // Rprop⁻ (`!freeze`) keeps g where the sign flipped, and steps with it below.
        new_prev[i] = if freeze && product < 0.0 {
            0.0
        } else {
            grad[i]
        };
    }
    match &prev_update {
        None => {
            for i in 0..len {
                let (g, s, p) = (new_prev[i], new_step_size[i], param[i]);
                // θ − sign(g)·Δ; unchanged where g is 0 or NaN.
                new_param[i] = if g > 0.0 {
                    p - s
                } else if g < 0.0 {
                    p + s
                } else {
                    p
                };
            }
        }
        Some(prev_update) => {
            let prev_update = &f32_data(prev_update)[..len];
            new_update = vec![0f32; len];
            for i in 0..len {
                let (g, s) = (new_prev[i], new_step_size[i]);
                let shrank = grad[i] * prev[i] < 0.0;
                // Loaded whether used or not: a load inside the select would be a branch.
                let previous = -prev_update[i];
                // Without `undo` (iRprop⁺ when the loss did not grow), g is 0 where the sign
                // flipped, so the decrement there is 0: the element stays.
                let decrement = if undo && shrank {
                    previous
                } else if g < 0.0 {
                    -s
                } else if g > 0.0 {
                    s
                } else {
                    0.0
                };
                new_update[i] = decrement;
                new_param[i] = param[i] - decrement;
            }
        }
    }
    let update = prev_update.map(|_| f32_tensor(new_update, shape.clone()));
    let tensors = [
        f32_tensor(new_param, shape.clone()),
        f32_tensor(new_prev, shape.clone()),
        f32_tensor(new_step_size, shape),
    ];
    (tensors, update)
}

/// `Δ·η+` where `g·g_prev > 0`, `Δ·η−` where `< 0`, `Δ` otherwise (`Δ·1` is `Δ`, bit for bit),
/// then flex's `clamp_min(Δmin)` and `clamp_max(Δmax)`, which let NaN through.
#[inline(always)]
fn next_step_size(product: f32, step_size: f32, [eta_minus, eta_plus, min, max]: Scalars) -> f32 {
    let factor = if product > 0.0 {
        eta_plus
    } else if product < 0.0 {
        eta_minus
    } else {
        1.0
    };
    let step_size = step_size * factor;
    let step_size = if step_size.is_nan() || step_size > min {
        step_size
    } else {
        min
    };
    if step_size.is_nan() || step_size < max {
        step_size
    } else {
        max
    }
}

#[cfg(test)]
mod tests {
    use super::super::{OnFlip, RpropConfig, RpropVariant, tensor_ops_step};
    use super::*;
    use burn::tensor::{Device, Distribution, TensorData};

    /// Values in {-2,-1,0,1,2}/4 (zeros and sign flips), a few NaN, and step sizes near the
    /// narrow bounds used below, so that both clamps act.
    fn tensors(seed: u64, device: &Device) -> [Tensor<2>; 5] {
        burn::tensor::Device::seed(device, seed);
        let shape = [37, 29];
        let signs = |nan: bool| {
            let t =
                Tensor::<2>::random(shape, Distribution::Uniform(-2.5, 2.5), device).round() / 4.0;
            let mut values = t.into_data().try_to_vec::<f32>().unwrap();
            if nan {
                values.iter_mut().step_by(53).for_each(|v| *v = f32::NAN);
            }
            Tensor::<2>::from_data(TensorData::new(values, shape), device)
        };
        let step_size = Tensor::<2>::random(shape, Distribution::Uniform(0.008, 0.1), device);
        let param = Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), device);
        let prev_update = Tensor::<2>::random(shape, Distribution::Normal(0.0, 0.1), device);
        [param, signs(true), signs(false), step_size, prev_update]
    }

    fn bits(t: Tensor<2>) -> Vec<u32> {
        let values = t.into_data().try_to_vec::<f32>().unwrap();
        values.iter().map(|v| v.to_bits()).collect()
    }

    /// Every variant, and iRprop⁺ both when the loss grew (undo) and when it did not.
    #[test]
    fn kernel_equals_the_tensor_ops_bit_for_bit() {
        let device = Device::flex();
        let cases = RpropVariant::ALL
            .into_iter()
            .flat_map(|v| [(v, false), (v, true)])
            .filter(|&(v, increased)| v == RpropVariant::IrpropPlus || !increased);
        for (variant, increased) in cases {
            let on_flip = OnFlip::of(variant, increased);
            let config = RpropConfig {
                etas: (0.4, 1.3),
                step_sizes: (0.01, 0.09),
                variant,
            };
            for seed in 0..3 {
                let [param, grad, prev, step_size, prev_update] = tensors(seed, &device);
                let prev_update = variant.backtracks().then_some(prev_update);
                let inputs = || Inputs {
                    param: param.clone(),
                    grad: grad.clone(),
                    prev: prev.clone(),
                    step_size: step_size.clone(),
                };
                assert!(applies(&inputs(), prev_update.as_ref()));
                let ours = step(inputs(), prev_update.clone(), config.scalars(), on_flip);
                let theirs = tensor_ops_step(&config, inputs(), prev_update, on_flip);
                let case = format!("{variant:?} {on_flip:?} seed {seed}");
                assert_eq!(bits(ours.0), bits(theirs.0), "param {case}");
                assert_eq!(bits(ours.1), bits(theirs.1), "prev {case}");
                assert_eq!(bits(ours.2), bits(theirs.2), "step_size {case}");
                assert_eq!(ours.3.map(bits), theirs.3.map(bits), "prev_update {case}");
            }
        }
    }

    #[test]
    fn other_backends_take_the_tensor_ops() {
        #[allow(deprecated)] // ndarray is one of ember's backends.
        let device = Device::ndarray();
        let [param, grad, prev, step_size, _] = tensors(0, &device);
        let inputs = Inputs {
            param,
            grad,
            prev,
            step_size,
        };
        assert!(!applies(&inputs, None));
    }
}
