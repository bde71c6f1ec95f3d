//! 2x2 max pooling with stride 2, with a dedicated kernel on the flex CPU backend.
//!
//! Why: burn-flex 0.22.1 runs every 2-D max pool through its general 3-D loop, which computes
//! the window bounds of each output element; on LeNet's `[64,6,28,28]` that took 1.6-3.3 ms
//! forward on a 2-core machine, more than the convolution before it (BENCHMARKS.md). Five
//! rewrites from tensor ops were all slower (their backward passes scatter once per stage), so
//! the kernel below is a Burn backend extension: on flex, with or without autodiff, it walks two
//! input rows at a time and records each window's argmax in one byte; the backward pass writes
//! each gradient to its argmax. Every other backend (ndarray, wgpu) and every dtype other than
//! f32 keeps Burn's own `max_pool2d`.
//!
//! Semantics equal Burn's (and PyTorch's) `max_pool2d(kernel 2, stride 2, padding 0,
//! dilation 1, floor mode)` bit for bit, forward and backward: windows are scanned row-major,
//! the first maximum wins a tie, a NaN wins over any number (the last NaN in the window), and a
//! trailing odd row or column is dropped and gets zero gradient. `tests` below check this
//! against `MaxPool2d` on flex, ties and NaN included.

use burn::backend::Flex;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::{Bytes, DType, Shape, Tensor};

use rayon::prelude::*;

use super::{dims4, f32_data, f32_tensor, on_flex_f32};

/// [`MaxPool2d`]'s forward pass, through ember's kernel where that gives the same result.
///
/// - `x`: `[batch, channels, height, width]`, any backend and float dtype.
/// - returns: `[batch, channels, out_h, out_w]` as `pool.forward(x)` would; for a 2x2 pool with
///   stride 2, `[batch, channels, height / 2, width / 2]`.
///
/// ember's kernel runs when `pool` is 2x2, stride 2, no padding, dilation 1, floor mode, and `x`
/// is f32 on flex (tracked or not); otherwise this is `pool.forward(x)`. Both give the same values
/// and gradients (module docs).
pub fn forward(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let x = x.into_dispatch();
    if is_2x2_stride_2(pool) && on_flex_f32(&x) {
        Tensor::from_dispatch(<burn::backend::Dispatch as MaxPool2x2>::max_pool_2x2(x))
    } else {
        pool.forward(Tensor::from_dispatch(x))
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

/// The backend extension behind [`forward`]; implemented for flex and autodiff-on-flex only
/// (calling it on another backend panics, which [`forward`] never does).
#[backend_extension(Flex, Autodiff)]
pub trait MaxPool2x2: burn::backend::Backend {
    /// `[b, c, h, w]` -> `[b, c, h / 2, w / 2]`, f32.
    fn max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl MaxPool2x2 for Flex {
    fn max_pool_2x2(x: FlexTensor) -> FlexTensor {
        kernel_forward(&x).0
    }
}

impl<C: CheckpointStrategy> MaxPool2x2 for Autodiff<Flex, C> {
    fn max_pool_2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match MaxPool2x2Backward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let input = Self::inner(x);
                let input_shape = input.layout().shape().clone();
                let (output, argmax) = kernel_forward(&input);
                prep.finish((argmax, input_shape), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(kernel_forward(&Self::inner(x)).0),
        }
    }
}

/// Backward node: the argmax codes and the input shape are all it needs (not the input).
#[derive(Debug)]
struct MaxPool2x2Backward;

impl Backward<Flex, 1> for MaxPool2x2Backward {
    type State = (FlexTensor, Shape);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [parent] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(parent) = parent {
            let (argmax, input_shape) = ops.state;
            grads.register::<Flex>(parent.id, kernel_backward(&grad, &argmax, input_shape));
        }
    }
}

/// Output `[b,c,h/2,w/2]` and, per output, the argmax's place in its window (0..4, row-major).
fn kernel_forward(x: &FlexTensor) -> (FlexTensor, FlexTensor) {
    let x = x.to_contiguous();
    let [batch, channels, height, width] = dims4(&x);
    let data = f32_data(&x);
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
                        (*out, *place) = window_max([t[0], t[1], b[0], b[1]]);
                    }
                }
            });
    }
    let shape = Shape::from(vec![batch, channels, out_h, out_w]);
    (
        f32_tensor(output, shape.clone()),
        FlexTensor::new(
            Bytes::from_elems(argmax),
            Layout::contiguous(shape),
            DType::U8,
        ),
    )
}

/// Channel planes per parallel task: enough work to pay for a task (a LeNet plane is 196 or 25
/// outputs).
const PLANES_PER_TASK: usize = 16;

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
fn kernel_backward(grad: &FlexTensor, argmax: &FlexTensor, input_shape: Shape) -> FlexTensor {
    let grad = grad.to_contiguous();
    let grad = f32_data(&grad);
    let places: &[u8] = argmax.as_slice().expect("argmax is built contiguous");
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
                        let (dy, dx) = (usize::from(place >> 1), usize::from(place & 1));
                        rows[dy * width + 2 * col + dx] = g;
                    }
                }
            });
    }
    f32_tensor(input_grad, input_shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::bits;
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

    #[test]
    fn forward_equals_burns_pool_bit_for_bit() {
        for device in [Device::flex(), Device::flex().autodiff()] {
            for (shape, nan) in SHAPES {
                let x = input(shape, nan, &device);
                let (ours, theirs) = (ours(x.clone()), burns(x));
                assert_eq!(ours.dims(), theirs.dims(), "{shape:?}");
                assert_eq!(bits(ours), bits(theirs), "{shape:?}");
            }
        }
    }

    #[test]
    fn gradient_equals_burns_pool_bit_for_bit() {
        let device = Device::flex().autodiff();
        for (shape, nan) in SHAPES {
            let x = input(shape, nan, &device);
            let out = [shape[0], shape[1], shape[2] / 2, shape[3] / 2];
            // A different weight per output, so a gradient at the wrong place shows.
            let weights = Tensor::<4>::random(out, Distribution::Normal(0.0, 1.0), &device);
            let gradient = |pool: fn(Tensor<4>) -> Tensor<4>| {
                let x = x.clone().detach().require_grad();
                let grads = (pool(x.clone()) * weights.clone()).sum().backward();
                x.grad(&grads).unwrap()
            };
            let (ours, theirs) = (gradient(ours), gradient(burns));
            assert_eq!(bits(ours), bits(theirs), "{shape:?}");
        }
    }

    #[test]
    fn other_backends_use_burns_pool() {
        // No NaN: burn-ndarray's pool does not propagate it as flex and PyTorch do.
        let x = input([2, 3, 8, 6], false, &Device::flex());
        #[allow(deprecated)] // ndarray is one of ember's backends.
        let on_ndarray = x.clone().to_device(&Device::ndarray());
        assert!(!on_flex_f32(&on_ndarray.clone().into_dispatch()));
        assert!(on_flex_f32(&x.clone().into_dispatch()));
        assert!(is_2x2_stride_2(&lenets_pool()));
        assert_eq!(bits(ours(on_ndarray)), bits(ours(x)));
    }
}
