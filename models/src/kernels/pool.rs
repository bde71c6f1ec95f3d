//! 2x2 max pooling with stride 2, with a dedicated kernel on the CPU backends (flex, ndarray).
//!
//! Why: burn-flex 0.22.1 runs every 2-D max pool through its general 3-D loop, which computes
//! the window bounds of each output element; on LeNet's `[64,6,28,28]` that took 1.6-3.3 ms
//! forward on a 2-core machine, more than the convolution before it (BENCHMARKS.md). Five
//! rewrites from tensor ops were all slower (their backward passes scatter once per stage), so
//! the kernel below is a Burn backend extension: on flex and ndarray, with or without autodiff, it
//! walks two input rows at a time and records each window's argmax in one byte; the backward
//! pass writes each gradient to its argmax. Every other backend (wgpu) and every dtype other
//! than f32 keeps Burn's own `max_pool2d`.
//!
//! Semantics equal burn-flex's (and PyTorch's) `max_pool2d(kernel 2, stride 2, padding 0,
//! dilation 1, floor mode)` bit for bit, forward and backward, on both backends: windows are
//! scanned row-major, the first maximum wins a tie, a NaN wins over any number (the last NaN in
//! the window), and a trailing odd row or column is dropped and gets zero gradient. `tests`
//! below check this against `MaxPool2d` on flex, ties and NaN included. (burn-ndarray's own
//! pool does not propagate NaN; on ndarray the kernel gives flex's and PyTorch's answer.)

use std::sync::Arc;

use burn::backend::TensorMetadata;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::activation;
use burn::tensor::{Shape, Tensor};

use rayon::prelude::*;

use super::{CpuBackend, dims4, on_cpu_f32, passes_relu, relu_value};

/// [`MaxPool2d`]'s forward pass, through ember's kernel where that gives the same result.
///
/// - `x`: `[batch, channels, height, width]`, any backend and float dtype.
/// - returns: `[batch, channels, out_h, out_w]` as `pool.forward(x)` would; for a 2x2 pool with
///   stride 2, `[batch, channels, height / 2, width / 2]`.
///
/// ember's kernel runs when `pool` is 2x2, stride 2, no padding, dilation 1, floor mode, and `x`
/// is f32 on flex or ndarray (tracked or not); otherwise this is `pool.forward(x)`. Both give
/// the same values and gradients (module docs).
pub fn forward(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    forward_maybe_relu(pool, x, false)
}

/// `pool.forward(relu(x))` in one pass where ember's kernel applies (as [`forward`]), with the
/// same values and gradients bit for bit: ReLU is burn-flex's (`x` if `x > 0` or NaN, else 0;
/// its gradient passes where the output is above 0 or NaN), applied to each window's values
/// before the maximum. LeNet pools ReLU's output; fused, the ReLU costs no pass of its own
/// over the activations, forward or backward.
///
/// - `x`: `[batch, channels, height, width]`; returns `[batch, channels, out_h, out_w]`.
pub fn forward_relu(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    forward_maybe_relu(pool, x, true)
}

/// [`forward`], or [`forward_relu`] if `relu`.
fn forward_maybe_relu(pool: &MaxPool2d, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let x = x.into_dispatch();
    if is_2x2_stride_2(pool) && on_cpu_f32(&x) {
        let dispatch = <burn::backend::Dispatch as MaxPool2x2>::max_pool_2x2;
        Tensor::from_dispatch(dispatch(x, relu))
    } else {
        let x = Tensor::from_dispatch(x);
        pool.forward(if relu { activation::relu(x) } else { x })
    }
}

/// Whether `pool` is the one the kernel implements.
fn is_2x2_stride_2(pool: &MaxPool2d) -> bool {
    pool.kernel_size == [2, 2]
        && pool.stride == [2, 2]
        && matches!(
            pool.padding,
            PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
        )
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
}

/// The backend extension behind [`forward`]; implemented for flex and ndarray, with autodiff or
/// without (calling it on another backend panics, which [`forward`] never does).
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait MaxPool2x2: burn::backend::Backend {
    /// `[b, c, h, w]` -> `[b, c, h / 2, w / 2]`, f32; of `relu(x)` if `relu`.
    fn max_pool_2x2(x: FloatTensor<Self>, relu: bool) -> FloatTensor<Self>;
}

/// Flex and ndarray: the kernel on the backend's own tensors.
impl<B: CpuBackend> MaxPool2x2 for B {
    fn max_pool_2x2(x: FloatTensor<Self>, relu: bool) -> FloatTensor<Self> {
        kernel_forward::<Self>(x, relu).0
    }
}

impl<B: CpuBackend, C: CheckpointStrategy> MaxPool2x2 for Autodiff<B, C> {
    fn max_pool_2x2(x: FloatTensor<Self>, relu: bool) -> FloatTensor<Self> {
        match MaxPool2x2Backward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let input = Self::inner(x);
                let input_shape = input.shape();
                let (output, argmax) = kernel_forward::<B>(input, relu);
                prep.finish((argmax, input_shape), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(kernel_forward::<B>(Self::inner(x), relu).0),
        }
    }
}

/// Backward node: the argmax codes and the input shape are all it needs (not the input).
#[derive(Debug)]
struct MaxPool2x2Backward;

impl<B: CpuBackend> Backward<B, 1> for MaxPool2x2Backward {
    type State = (Arc<[u8]>, Shape);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        if let Some(parent) = parent {
            let grad = B::contiguous(grad);
            let (argmax, input_shape) = ops.state;
            let input_grad = kernel_backward(B::values(&grad), &argmax, &input_shape);
            grads.register::<B>(parent.id, B::tensor(input_grad, input_shape));
        }
    }
}

/// Output `[b,c,h/2,w/2]` and, per output, the argmax's place in its window (0..4, row-major),
/// plus [`BLOCKED`] where a fused ReLU stops the gradient.
fn kernel_forward<B: CpuBackend>(x: FloatTensor<B>, relu: bool) -> (FloatTensor<B>, Arc<[u8]>) {
    let x = B::contiguous(x);
    let [batch, channels, height, width] = dims4(&x.shape());
    let data = B::values(&x);
    let (out_h, out_w) = (height / 2, width / 2);
    let len = batch * channels * out_h * out_w;
    let mut output = vec![0f32; len];
    let mut argmax = vec![0u8; len];
    if len > 0 {
        // One task per channel plane; planes are independent, so the result does not depend on
        // the threads.
        data.par_chunks_exact(height * width)
            .zip(output.par_chunks_exact_mut(out_h * out_w))
            .zip(argmax.par_chunks_exact_mut(out_h * out_w))
            .with_min_len(PLANES_PER_TASK)
            .for_each(|((plane, out), places)| {
                let out_rows = out
                    .chunks_exact_mut(out_w)
                    .zip(places.chunks_exact_mut(out_w));
                for (rows, (out, places)) in plane.chunks_exact(2 * width).zip(out_rows) {
                    let (top, bottom) = rows.split_at(width);
                    let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
                    for ((t, b), (out, place)) in windows.zip(out.iter_mut().zip(places)) {
                        let window = [t[0], t[1], b[0], b[1]];
                        (*out, *place) = if relu {
                            let (max, place) = window_max(window.map(relu_value));
                            (max, if passes_relu(max) { place } else { BLOCKED })
                        } else {
                            window_max(window)
                        };
                    }
                }
            });
    }
    let shape = Shape::from(vec![batch, channels, out_h, out_w]);
    (B::tensor(output, shape), argmax.into())
}

/// Channel planes per parallel task: enough work to pay for a task (a LeNet plane is 196 or 25
/// outputs).
const PLANES_PER_TASK: usize = 16;

/// The argmax code of a window whose gradient a fused ReLU stops (its maximum is 0).
const BLOCKED: u8 = 4;

/// The maximum of one window in row-major order and its place, with burn-flex's rules: the first
/// maximum wins a tie, and a NaN replaces anything before it.
fn window_max(window: [f32; 4]) -> (f32, u8) {
    let mut best = (window[0], 0);
    for (place, &value) in (1u8..).zip(&window[1..]) {
        if value > best.0 || value.is_nan() {
            best = (value, place);
        }
    }
    best
}

/// Gradient of the input `[b,c,h,w]`: each output gradient lands on its window's argmax.
fn kernel_backward(grad: &[f32], places: &[u8], input_shape: &Shape) -> Vec<f32> {
    let (height, width) = (input_shape[2], input_shape[3]);
    let (out_h, out_w) = (height / 2, width / 2);
    let mut input_grad = vec![0f32; input_shape.num_elements()];
    if out_h * out_w > 0 {
        input_grad
            .par_chunks_exact_mut(height * width)
            .zip(grad.par_chunks_exact(out_h * out_w))
            .zip(places.par_chunks_exact(out_h * out_w))
            .with_min_len(PLANES_PER_TASK)
            .for_each(|((plane, grad), places)| {
                let out_rows = grad.chunks_exact(out_w).zip(places.chunks_exact(out_w));
                for (rows, (grad, places)) in plane.chunks_exact_mut(2 * width).zip(out_rows) {
                    for (col, (&g, &place)) in grad.iter().zip(places).enumerate() {
                        if place == BLOCKED {
                            continue;
                        }
                        let (dy, dx) = (usize::from(place >> 1), usize::from(place & 1));
                        rows[dy * width + 2 * col + dx] = g;
                    }
                }
            });
    }
    input_grad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{bits, cpu_devices};
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, Distribution, TensorData};

    /// Random values with many exact ties (ReLU zeros, repeated values) and, if asked, NaNs.
    fn input(shape: [usize; 4], nan: bool, device: &Device) -> Tensor<4> {
        let x = Tensor::<4>::random(shape, Distribution::Uniform(-1.0, 1.0), device);
        // Round to eighths and clamp at zero: most windows hold ties.
        let mut values = ((x * 8.0).round().clamp_min(0.0) / 8.0)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        if nan {
            values.iter_mut().step_by(37).for_each(|v| *v = f32::NAN);
        }
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    fn lenets_pool() -> MaxPool2d {
        burn::nn::pool::MaxPool2dConfig::new([2, 2]).init()
    }

    fn ours(x: Tensor<4>) -> Tensor<4> {
        forward(&lenets_pool(), x)
    }

    fn burns(x: Tensor<4>) -> Tensor<4> {
        lenets_pool().forward(x)
    }

    const SHAPES: [([usize; 4], bool); 4] = [
        ([3, 4, 28, 28], false),
        ([2, 16, 10, 10], true),
        ([2, 3, 7, 9], true), // odd sizes: the last row and column are dropped
        ([1, 1, 1, 5], false),
    ];

    /// `t` on flex, where Burn's own pool is the reference (burn-ndarray's pool does not
    /// propagate NaN as flex and PyTorch do; ember's kernel gives ndarray flex's semantics).
    fn on_flex<const D: usize>(t: Tensor<D>) -> Tensor<D> {
        t.to_device(&Device::flex())
    }

    #[test]
    fn forward_equals_burns_pool_bit_for_bit() {
        for device in cpu_devices() {
            for (shape, nan) in SHAPES {
                let x = input(shape, nan, &device);
                let (ours, theirs) = (ours(x.clone()), burns(on_flex(x)));
                assert_eq!(ours.dims(), theirs.dims(), "{shape:?} {device:?}");
                assert_eq!(bits(ours), bits(theirs), "{shape:?} {device:?}");
            }
        }
    }

    #[test]
    fn gradient_equals_burns_pool_bit_for_bit() {
        for device in cpu_devices().into_iter().filter(Device::is_autodiff) {
            for (shape, nan) in SHAPES {
                let x = input(shape, nan, &device);
                let out = [shape[0], shape[1], shape[2] / 2, shape[3] / 2];
                // A different weight per output, so a gradient at the wrong place shows.
                let weights = Tensor::<4>::random(out, Distribution::Normal(0.0, 1.0), &device);
                let gradient = |pool: fn(Tensor<4>) -> Tensor<4>, device: &Device| {
                    let x = x.clone().to_device(device).detach().require_grad();
                    let weights = weights.clone().to_device(device);
                    let grads = (pool(x.clone()) * weights).sum().backward();
                    on_flex(x.grad(&grads).unwrap())
                };
                let ours = gradient(ours, &device);
                let theirs = gradient(burns, &Device::flex().autodiff());
                assert_eq!(bits(ours), bits(theirs), "{shape:?} {device:?}");
            }
        }
    }

    /// Values in eighths from -0.5 to 0.5: negatives, exact zeros and ties, for the fused ReLU.
    fn signed_input(shape: [usize; 4], nan: bool, device: &Device) -> Tensor<4> {
        input(shape, nan, device) - 0.5
    }

    #[test]
    fn fused_relu_equals_burns_relu_then_pool_bit_for_bit() {
        let pool = lenets_pool();
        for device in cpu_devices() {
            for (shape, nan) in SHAPES {
                let x = signed_input(shape, nan, &device);
                let ours = forward_relu(&pool, x.clone());
                let theirs = pool.forward(relu(on_flex(x)));
                assert_eq!(bits(ours), bits(theirs), "{shape:?} {device:?}");
            }
        }
    }

    #[test]
    fn fused_relu_gradient_equals_burns_bit_for_bit() {
        let pool = lenets_pool();
        for device in cpu_devices().into_iter().filter(Device::is_autodiff) {
            for (shape, nan) in SHAPES {
                let x = signed_input(shape, nan, &device);
                let out = [shape[0], shape[1], shape[2] / 2, shape[3] / 2];
                let weights = Tensor::<4>::random(out, Distribution::Normal(0.0, 1.0), &device);
                let gradient = |layer: &dyn Fn(Tensor<4>) -> Tensor<4>, device: &Device| {
                    let x = x.clone().to_device(device).detach().require_grad();
                    let weights = weights.clone().to_device(device);
                    let grads = (layer(x.clone()) * weights).sum().backward();
                    on_flex(x.grad(&grads).unwrap())
                };
                let ours = gradient(&|x| forward_relu(&pool, x), &device);
                let theirs = gradient(&|x| pool.forward(relu(x)), &Device::flex().autodiff());
                assert_eq!(bits(ours), bits(theirs), "{shape:?} {device:?}");
            }
        }
    }

    #[test]
    fn other_pools_use_burns_pool() {
        assert!(is_2x2_stride_2(&lenets_pool()));
        let pool_3x3 = burn::nn::pool::MaxPool2dConfig::new([3, 3]).init();
        assert!(!is_2x2_stride_2(&pool_3x3));
        let x = input([2, 3, 9, 9], true, &Device::flex());
        assert_eq!(
            bits(forward(&pool_3x3, x.clone())),
            bits(pool_3x3.forward(x))
        );
    }
}
