//! A convolution, its ReLU and a 2x2 max pool as one operation on the CPU backends (flex,
//! ndarray), forward and backward: LeNet's `max_pool(relu(conv(x)))`, twice a step.
//!
//! Why: run as two operations ([`conv::forward`], then [`pool::forward_relu`]), the convolution
//! writes its whole output `[N, Co, Ho, Wo]` (each value plus the bias) and the pool reads it
//! back; backward, the pool writes a zeroed input gradient of that size and the convolution
//! then gathers it into the layout of its products. Fused, each of the convolution's tasks
//! pools its product `[Co, g*Ho*Wo]` while that is in cache, adding the bias on the way, and
//! backward scatters the pooled gradient straight into that layout: the full-size output and
//! its gradient are never made, and the step has two fewer parallel regions per block.
//!
//! The same f32 operations as the two, in the same order: the same bits, forward and backward
//! (`tests` below compare with them bit for bit, and the forward pass with Burn's `conv2d`,
//! `relu` and `max_pool2d` within 1e-5; the two parts are each tested against Burn in their
//! own modules).

use std::sync::Arc;

use burn::backend::TensorMetadata;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, backend_extension};
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::{Shape, Tensor};
use rayon::prelude::*;

use super::conv::{self, IMAGES_PER_TASK, Window};
use super::pool::{self, pool_plane, unpool_plane};
use super::{CpuBackend, dims4, on_cpu_f32};

/// `pool.forward(relu(conv.forward(x)))`, in one pass where ember's kernel applies, with the
/// same values and gradients bit for bit as [`pool::forward_relu`] of [`conv::forward`].
///
/// - `x`: `[batch, channels_in, height, width]`, any backend and float dtype.
/// - returns: `[batch, channels_out, out_h / 2, out_w / 2]` for a 2x2 pool with stride 2, where
///   `[out_h, out_w]` is the convolution's output size; in general what the three layers give.
///
/// The fused kernel runs where both parts' kernels would (the convolution: stride 1, dilation
/// 1, one group, a bias, `Valid` or `Explicit` padding; the pool: 2x2, stride 2, no padding),
/// the convolution's output is at least 2x2, and `x` is f32 on flex or ndarray; otherwise this
/// is the two calls.
pub fn forward(conv: &Conv2d, pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let x = x.into_dispatch();
    let padding = conv::supported_padding(conv);
    if let (Some(padding), Some(bias)) = (padding, conv.bias.as_ref())
        && pool::is_2x2_stride_2(pool)
        && pools(dims4(&x.shape()), conv.weight.val().dims(), padding)
        && on_cpu_f32(&x)
    {
        let fused = <burn::backend::Dispatch as Conv2dReluPool2x2>::conv2d_relu_pool_2x2;
        return Tensor::from_dispatch(fused(
            x,
            conv.weight.val().into_dispatch(),
            bias.val().into_dispatch(),
            padding,
        ));
    }
    pool::forward_relu(pool, conv::forward(conv, Tensor::from_dispatch(x)))
}

/// Whether the convolution of an `x [N, C, H, W]` by a `weight [Co, C, Kh, Kw]` with `padding`
/// has an output of at least 2x2 (one pooling window); false for mismatched channels or no
/// output (Burn's own layers then report the error).
fn pools(x: [usize; 4], weight: [usize; 4], [top, bottom, left, right]: [usize; 4]) -> bool {
    let ([_, channels, height, width], [_, weight_channels, kh, kw]) = (x, weight);
    if channels != weight_channels {
        return false;
    }
    let out = |size: usize, kernel: usize| (size + 1).checked_sub(kernel);
    let out_h = out(height + top + bottom, kh);
    let out_w = out(width + left + right, kw);
    matches!((out_h, out_w), (Some(h), Some(w)) if h >= 2 && w >= 2)
}

/// The backend extension behind [`forward`]; implemented for flex and ndarray, with autodiff or
/// without (calling it on another backend panics, which [`forward`] never does).
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait Conv2dReluPool2x2: burn::backend::Backend {
    /// `x [N,C,H,W]`, `weight [Co,C,Kh,Kw]`, `bias [Co]`, padding `[top, bottom, left, right]`
    /// -> the 2x2 max pool (stride 2) of the ReLU of the stride-1 convolution:
    /// `[N, Co, Ho / 2, Wo / 2]`, f32, where `Ho = H + top + bottom - Kh + 1` (and `Wo`) is at
    /// least 2.
    fn conv2d_relu_pool_2x2(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: [usize; 4],
    ) -> FloatTensor<Self>;
}

/// Flex and ndarray: the kernel on the backend's own tensors.
impl<B: CpuBackend> Conv2dReluPool2x2 for B {
    fn conv2d_relu_pool_2x2(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: [usize; 4],
    ) -> FloatTensor<Self> {
        let [x, weight, bias] = [x, weight, bias].map(Self::contiguous);
        fused_forward::<Self>(&x, &weight, &bias, padding).0
    }
}

impl<B: CpuBackend, C: CheckpointStrategy> Conv2dReluPool2x2 for Autodiff<B, C> {
    fn conv2d_relu_pool_2x2(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: [usize; 4],
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        // Contiguous once, here: the backward pass reads the same values.
        let [x, weight, bias] = [x, weight, bias].map(|t| B::contiguous(Self::inner(t)));
        let (output, places) = fused_forward::<B>(&x, &weight, &bias, padding);
        match ConvReluPoolBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((x, weight, padding, places), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }
}

/// The pooled output's sizes: elements of one channel plane `[Ho/2, Wo/2]`, of one image
/// `[Co, Ho/2, Wo/2]`, and the output's shape.
fn pooled(window: &Window) -> (usize, usize, Shape) {
    let [batch, ..] = window.input;
    let [out_h, out_w] = window.out;
    let plane = (out_h / 2) * (out_w / 2);
    let shape = Shape::from(vec![batch, window.channels_out, out_h / 2, out_w / 2]);
    (plane, window.channels_out * plane, shape)
}

/// The pooled output `[N, Co, Ho/2, Wo/2]` and its argmax codes (as [`pool`]'s), per task of
/// the convolution: its product `[Co, g*Ho*Wo]` pooled plane by plane, each value plus its
/// channel's bias before the ReLU.
fn fused_forward<B: CpuBackend>(
    x: &FloatTensor<B>,
    weight: &FloatTensor<B>,
    bias: &FloatTensor<B>,
    padding: [usize; 4],
) -> (FloatTensor<B>, Arc<[u8]>) {
    let window = Window::new(dims4(&x.shape()), dims4(&weight.shape()), padding);
    let [x, weight, bias] = [x, weight, bias].map(B::values);
    let (plane, image, shape) = pooled(&window);
    let (positions, out_w) = (window.positions(), window.out[1]);
    let mut output = vec![0f32; shape.num_elements()];
    let mut places = vec![0u8; shape.num_elements()];
    let tasks = output
        .par_chunks_mut(IMAGES_PER_TASK * image)
        .zip(places.par_chunks_mut(IMAGES_PER_TASK * image));
    window.for_each_product(x, weight, tasks, |(output, places), product| {
        let columns = product.len() / window.channels_out;
        let images = output
            .chunks_exact_mut(image)
            .zip(places.chunks_exact_mut(image));
        for (k, (output, places)) in images.enumerate() {
            let planes = output
                .chunks_exact_mut(plane)
                .zip(places.chunks_exact_mut(plane));
            for (co, ((output, places), &b)) in planes.zip(bias).enumerate() {
                let at = co * columns + k * positions;
                let product = &product[at..at + positions];
                pool_plane(product, out_w, output, places, true, Some(b));
            }
        }
    });
    (B::tensor(output, shape), places.into())
}

/// Backward node; its state is the input and the weight (both contiguous), the padding and the
/// pool's argmax codes.
#[derive(Debug)]
struct ConvReluPoolBackward;

impl<B: CpuBackend> Backward<B, 3> for ConvReluPoolBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, [usize; 4], Arc<[u8]>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let grad = B::contiguous(grads.consume::<B>(&ops.node));
        let (x, weight, padding, places) = ops.state;
        let window = Window::new(dims4(&x.shape()), dims4(&weight.shape()), padding);
        let (plane, image, _) = pooled(&window);
        let (positions, out_w) = (window.positions(), window.out[1]);
        let tasks = B::values(&grad)
            .par_chunks(IMAGES_PER_TASK * image)
            .zip(places.par_chunks(IMAGES_PER_TASK * image));
        // The pooled gradient of a task's images, scattered to the argmaxes of dyt [Co, g*P];
        // the pool writes every place of its windows, and only an odd last row or column of
        // outputs, which no window covers, needs zeros first.
        let odd = window.out.iter().any(|size| size % 2 == 1);
        let scatter = |(dy, places): (&[f32], &[u8]), dyt: &mut [f32]| {
            if odd {
                dyt.fill(0.0);
            }
            let columns = dyt.len() / window.channels_out;
            let images = dy.chunks_exact(image).zip(places.chunks_exact(image));
            for (k, (dy, places)) in images.enumerate() {
                let planes = dy.chunks_exact(plane).zip(places.chunks_exact(plane));
                for (co, (dy, places)) in planes.enumerate() {
                    let at = co * columns + k * positions;
                    unpool_plane(dy, places, out_w, &mut dyt[at..at + positions]);
                }
            }
        };
        let x_values = B::values(&x);
        let want_dx = ops.parents[0].is_some();
        let partials = window.grads(x_values, B::values(&weight), tasks, scatter, want_dx);
        let parents = ops.parents.map(|node| node.map(|node| node.id));
        conv::register_grads::<B>(grads, parents, &window, partials);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{bits, cpu_devices, relative_difference};
    use burn::module::Module;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, Distribution};

    fn conv(channels: [usize; 2], kernel: [usize; 2], padding: PaddingConfig2d) -> Conv2d {
        Conv2dConfig::new(channels, kernel)
            .with_padding(padding)
            .init(&Device::flex().autodiff())
    }

    fn lenets_pool() -> MaxPool2d {
        MaxPool2dConfig::new([2, 2]).init()
    }

    /// LeNet's two blocks, one with a short last task, and odd output sizes (9x8: the last row
    /// of outputs is dropped by the pool and gets no gradient) from a non-square kernel with
    /// asymmetric padding.
    fn cases() -> Vec<(Conv2d, [usize; 4])> {
        vec![
            (
                conv([1, 6], [5, 5], PaddingConfig2d::Explicit(2, 2, 2, 2)),
                [3, 1, 28, 28],
            ),
            (
                conv([6, 16], [5, 5], PaddingConfig2d::Valid),
                [11, 6, 14, 14],
            ),
            (
                conv([3, 4], [3, 2], PaddingConfig2d::Explicit(1, 0, 2, 3)),
                [2, 3, 8, 6],
            ),
        ]
    }

    /// The two kernels unfused: ember's convolution, then ember's pool with its ReLU.
    fn unfused(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        pool::forward_relu(&lenets_pool(), conv::forward(conv, x))
    }

    /// Normal values, with a NaN in one image when `nan` (it must propagate through all three).
    fn input(shape: [usize; 4], nan: bool, device: &Device) -> Tensor<4> {
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), device);
        if nan {
            x.slice_assign(
                [0..1, 0..1, 3..4, 3..4],
                Tensor::full([1, 1, 1, 1], f32::NAN, device),
            )
        } else {
            x
        }
    }

    #[test]
    fn forward_equals_the_unfused_kernels_bit_for_bit_and_burns_layers() {
        for (conv, shape) in cases() {
            for device in cpu_devices() {
                let conv = conv.clone().to_device(&device);
                for nan in [false, true] {
                    let x = input(shape, nan, &device);
                    let ours = forward(&conv, &lenets_pool(), x.clone());
                    let case = format!("{shape:?} {device:?} nan {nan}");
                    assert_eq!(
                        bits(ours.clone()),
                        bits(unfused(&conv, x.clone())),
                        "{case}"
                    );
                    if !nan {
                        let burns = lenets_pool().forward(relu(conv.forward(x)));
                        assert_eq!(ours.dims(), burns.dims(), "{case}");
                        assert!(relative_difference(ours, burns) < 1e-5, "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn gradients_equal_the_unfused_kernels_bit_for_bit() {
        for device in cpu_devices().into_iter().filter(Device::is_autodiff) {
            for (conv, shape) in cases() {
                let conv = conv.to_device(&device);
                let x = input(shape, false, &device);
                let out = forward(&conv, &lenets_pool(), x.clone()).dims();
                // A different weight per output, so a misplaced gradient shows.
                let weights = Tensor::<4>::random(out, Distribution::Normal(0.0, 1.0), &device);
                // The bits of dx, dw and db.
                let gradients = |layers: &dyn Fn(Tensor<4>) -> Tensor<4>| {
                    let x = x.clone().detach().require_grad();
                    let grads = (layers(x.clone()) * weights.clone()).sum().backward();
                    let bias = conv.bias.as_ref().unwrap().val();
                    [
                        bits(x.grad(&grads).unwrap()),
                        bits(conv.weight.val().grad(&grads).unwrap()),
                        bits(bias.grad(&grads).unwrap()),
                    ]
                };
                let ours = gradients(&|x| forward(&conv, &lenets_pool(), x));
                let theirs = gradients(&|x| unfused(&conv, x));
                for ((ours, theirs), name) in ours.into_iter().zip(theirs).zip(["dx", "dw", "db"]) {
                    assert_eq!(ours, theirs, "{name} {shape:?} {device:?}");
                }
            }
        }
    }

    #[test]
    fn other_layers_and_small_outputs_use_the_unfused_path() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 2, 9, 9], Distribution::Normal(0.0, 1.0), &device);
        let strided = Conv2dConfig::new([2, 3], [3, 3])
            .with_stride([2, 2])
            .init(&device);
        let pool_3x3 = MaxPool2dConfig::new([3, 3]).init();
        let small = Conv2dConfig::new([2, 3], [9, 8]).init(&device); // a 1x2 output
        let lenets = Conv2dConfig::new([2, 3], [3, 3]).init(&device);
        for (conv, pool) in [
            (&strided, lenets_pool()),
            (&lenets, pool_3x3),
            (&small, lenets_pool()),
        ] {
            let unfused = pool::forward_relu(&pool, conv::forward(conv, x.clone()));
            assert_eq!(bits(forward(conv, &pool, x.clone())), bits(unfused));
        }
        let (padding, x) = ([0; 4], x.dims());
        assert!(pools(x, lenets.weight.val().dims(), padding));
        assert!(!pools(x, small.weight.val().dims(), padding));
        assert!(!pools(x, [3, 2, 10, 3], padding)); // a kernel larger than the input
        assert!(!pools(x, [3, 4, 3, 3], padding)); // channels that do not match
    }
}
