//! A fully connected layer, `y = x W + b`, as three strided GEMMs on the CPU backends (flex,
//! ndarray), forward and backward.
//!
//! Why: the MLPs' steps are their linear layers, and Burn runs each as a matrix product and a
//! broadcast bias addition (a second pass over the output, a fresh buffer), differentiated as
//! products of transposed views and a reduction; burn-flex 0.22.1 runs a product below 192³
//! multiply-adds on one thread (the MLP's `[64, 784] @ [784, 100]` is 5.0 million), and
//! burn-ndarray's ops cost twice flex's at batch 64 (BENCHMARKS.md). Here (x `[B, K]`, weight
//! W `[K, N]` as Burn's `Linear` stores it, bias b `[N]`, dy `[B, N]`):
//!
//! ```text
//! y  = b + x @ W        rows of y filled with b, then one accumulating GEMM
//! dW = x^T @ dy         [K, N], x read transposed in place (no copy)
//! db = dy summed over rows, in row order
//! dx = dy @ W^T         [B, K], W read transposed in place
//! ```
//!
//! Each GEMM runs on all threads from 192³ multiply-adds (gemm splits the output, never a sum,
//! so results do not depend on the thread count). Outputs and gradients equal Burn's up to
//! float summation order (tested to 1e-5 relative). Used for 2-D inputs and layers with a bias:
//! every linear layer of the zoo. [`forward_relu`] fuses the ReLU that follows a hidden layer
//! (bit for bit the same as the layer then ReLU); measured, one sitting on 2 cores: an MLP step
//! at batch 256 1.62 → 1.42 ms, the deep MLP's 2.30 → 1.88 ms, on ndarray 2.84 → 1.84 ms.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, backend_extension};
use burn::nn::Linear;
use burn::tensor::{Shape, Tensor, activation};

use super::gemm::{Matrix, Parallelism, gemm_into};
use super::{CpuBackend, on_cpu_f32, passes_relu, relu_value};

/// [`Linear`]'s forward pass on a batch of rows, differentiated with ember's backward pass where
/// it applies.
///
/// - `x`: `[batch, d_input]`, any backend and float dtype.
/// - returns: `[batch, d_output]`, as `linear.forward(x)`.
///
/// ember's path runs when `linear` has a bias and `x` is f32 on flex or ndarray; otherwise this
/// is `linear.forward(x)`.
pub fn forward(linear: &Linear, x: Tensor<2>) -> Tensor<2> {
    forward_maybe_relu(linear, x, false)
}

/// `relu(linear.forward(x))` in one pass where ember's kernel applies (as [`forward`]), with the
/// same values and gradients bit for bit as the kernel followed by Burn's ReLU (burn-flex's
/// rule: `x` if above 0 or NaN, else 0): the ReLU is applied to the output in place, and its
/// gradient masks the output gradient before the three products, without passes of its own.
///
/// - `x`: `[batch, d_input]`; returns `[batch, d_output]`.
pub fn forward_relu(linear: &Linear, x: Tensor<2>) -> Tensor<2> {
    forward_maybe_relu(linear, x, true)
}

/// [`forward`], or [`forward_relu`] if `relu`.
fn forward_maybe_relu(linear: &Linear, x: Tensor<2>, relu: bool) -> Tensor<2> {
    let burns = |x| {
        let y = linear.forward(x);
        if relu { activation::relu(y) } else { y }
    };
    let Some(bias) = linear.bias.as_ref() else {
        return burns(x);
    };
    let x = x.into_dispatch();
    if !on_cpu_f32(&x) {
        return burns(Tensor::from_dispatch(x));
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as LinearBias>::linear_bias(
        x,
        linear.weight.val().into_dispatch(),
        bias.val().into_dispatch(),
        relu,
    ))
}

/// The backend extension behind [`forward`]; implemented for flex and ndarray, with autodiff or
/// without.
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait LinearBias: burn::backend::Backend {
    /// `x [B, K]`, `weight [K, N]`, `bias [N]` -> `x @ weight + bias` `[B, N]`, f32; its ReLU
    /// if `relu`.
    fn linear_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self>;
}

/// Flex and ndarray: the kernel on the backend's own tensors.
impl<B: CpuBackend> LinearBias for B {
    fn linear_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let [x, weight, bias] = [x, weight, bias].map(Self::contiguous);
        output::<Self>(&x, &weight, &bias, relu)
    }
}

impl<B: CpuBackend, C: CheckpointStrategy> LinearBias for Autodiff<B, C> {
    fn linear_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        // Contiguous once, here: the backward pass reads the same values.
        let [x, weight, bias] = [x, weight, bias].map(|t| B::contiguous(Self::inner(t)));
        let y = output::<B>(&x, &weight, &bias, relu);
        match LinearBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let relu_output = relu.then(|| y.clone());
                prep.finish((x, weight, relu_output), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

/// Multiply-adds from which a product runs on all of rayon's threads (gemm's own split of the
/// output): burn-flex's threshold, 192³. Measured: from 2²⁰, which put the MLP's
/// `[64, 784] @ [784, 100]` (5.0 million) on both cores, its epoch at batch 64 took 1.2 s
/// against 0.7 s, the time going to waking and parking the threads around each product.
const PARALLEL_FROM: usize = 192 * 192 * 192;

/// gemm's threads for a product of `m x k` by `k x n`.
fn parallelism([m, n, k]: [usize; 3]) -> Parallelism {
    if m * n * k >= PARALLEL_FROM {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    }
}

/// The forward pass, `x @ weight + bias`: rows of the output filled with the bias, then one
/// accumulating GEMM; then its ReLU in place if `relu`.
fn output<B: CpuBackend>(
    x: &FloatTensor<B>,
    weight: &FloatTensor<B>,
    bias: &FloatTensor<B>,
    relu: bool,
) -> FloatTensor<B> {
    let [k, n] = dims2(&weight.shape());
    let batch = x.shape().num_elements() / k;
    let (x, weight, bias) = (B::values(x), B::values(weight), B::values(bias));
    let mut y = bias.repeat(batch);
    let (lhs, rhs) = (Matrix::row_major(x, k), Matrix::row_major(weight, n));
    let dims = [batch, n, k];
    gemm_into(&mut y, n, lhs, rhs, dims, true, parallelism(dims));
    if relu {
        y.iter_mut().for_each(|v| *v = relu_value(*v));
    }
    B::tensor(y, Shape::from(vec![batch, n]))
}

/// Backward node; its state is the input and the weight, both contiguous, and the output if a
/// ReLU was fused (its gradient passes where the output passes [`passes_relu`]).
#[derive(Debug)]
struct LinearBackward;

impl<B: CpuBackend> Backward<B, 3> for LinearBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, Option<FloatTensor<B>>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [x_node, weight_node, bias_node] = ops.parents;
        let dy = B::contiguous(grads.consume::<B>(&ops.node));
        let (x, weight, relu_output) = ops.state;
        let [k, n] = dims2(&weight.shape());
        let masked: Vec<f32>;
        let dy = match &relu_output {
            Some(y) => {
                let y = B::values(y);
                masked = (B::values(&dy).iter().zip(y))
                    .map(|(&g, &y)| if passes_relu(y) { g } else { 0.0 })
                    .collect();
                &masked[..]
            }
            None => B::values(&dy),
        };
        let (x_values, weight_values) = (B::values(&x), B::values(&weight));
        let batch = dy.len() / n;
        if let Some(node) = bias_node {
            let mut db = vec![0f32; n];
            for row in dy.chunks_exact(n) {
                db.iter_mut().zip(row).for_each(|(d, g)| *d += g);
            }
            grads.register::<B>(node.id, B::tensor(db, Shape::from(vec![n])));
        }
        if let Some(node) = weight_node {
            // dW [K, N] = x^T [K, B] @ dy [B, N], x read transposed.
            let mut dw = vec![0f32; k * n];
            let lhs = Matrix::row_major(x_values, k).transposed();
            let dims = [k, n, batch];
            let rhs = Matrix::row_major(dy, n);
            gemm_into(&mut dw, n, lhs, rhs, dims, false, parallelism(dims));
            grads.register::<B>(node.id, B::tensor(dw, weight.shape()));
        }
        if let Some(node) = x_node {
            // dx [B, K] = dy [B, N] @ W^T [N, K], W read transposed.
            let mut dx = vec![0f32; batch * k];
            let lhs = Matrix::row_major(dy, n);
            let rhs = Matrix::row_major(weight_values, n).transposed();
            let dims = [batch, k, n];
            gemm_into(&mut dx, k, lhs, rhs, dims, false, parallelism(dims));
            grads.register::<B>(node.id, B::tensor(dx, x.shape()));
        }
    }
}

/// The two dimensions of a rank-2 shape.
fn dims2(shape: &Shape) -> [usize; 2] {
    [shape[0], shape[1]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{bits, cpu_devices, relative_difference};
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, Distribution, TensorData};

    /// The zoo's shapes `[batch, d_input, d_output]`, on one thread and on several (the first).
    const CASES: [[usize; 3]; 4] = [[64, 784, 100], [37, 100, 10], [5, 400, 120], [16, 16, 10]];

    fn layer(d_input: usize, d_output: usize, device: &Device) -> Linear {
        LinearConfig::new(d_input, d_output).init(device)
    }

    #[test]
    fn forward_equals_burns_linear() {
        for device in cpu_devices() {
            for [batch, d_input, d_output] in CASES {
                let linear = layer(d_input, d_output, &device);
                let x = Tensor::<2>::random([batch, d_input], Distribution::Default, &device);
                // The same shape laid out transposed in memory: the kernel's copy to row-major.
                let strided = Tensor::<2>::random([d_input, batch], Distribution::Default, &device)
                    .transpose();
                for x in [x, strided] {
                    let (ours, burns) = (forward(&linear, x.clone()), linear.forward(x));
                    assert_eq!(ours.dims(), burns.dims());
                    let case = format!("{batch}x{d_input}x{d_output} {device:?}");
                    assert!(relative_difference(ours, burns) < 1e-5, "{case}");
                }
            }
        }
    }

    #[test]
    fn gradients_equal_burns_linear() {
        for device in cpu_devices().into_iter().filter(Device::is_autodiff) {
            for [batch, d_input, d_output] in CASES {
                let linear = layer(d_input, d_output, &device);
                let x = Tensor::<2>::random([batch, d_input], Distribution::Default, &device);
                // A different weight per output, so a misplaced gradient shows.
                let weights =
                    Tensor::<2>::random([batch, d_output], Distribution::Normal(0.0, 1.0), &device);
                let gradients = |layer: fn(&Linear, Tensor<2>) -> Tensor<2>| {
                    let x = x.clone().detach().require_grad();
                    let grads = (layer(&linear, x.clone()) * weights.clone())
                        .sum()
                        .backward();
                    let bias = linear.bias.as_ref().unwrap().val();
                    (
                        x.grad(&grads).unwrap(),
                        linear.weight.val().grad(&grads).unwrap(),
                        bias.grad(&grads).unwrap(),
                    )
                };
                let (ours, burns) = (gradients(forward), gradients(Linear::forward));
                let case = format!("{batch}x{d_input}x{d_output} {device:?}");
                assert!(relative_difference(ours.0, burns.0) < 1e-5, "dx {case}");
                assert!(relative_difference(ours.1, burns.1) < 1e-5, "dw {case}");
                assert!(relative_difference(ours.2, burns.2) < 1e-5, "db {case}");
            }
        }
    }

    /// `x` with exact zeros, and NaNs in some rows, so the fused ReLU meets both of its edges.
    fn with_zeros_and_nan(x: Tensor<2>, nan: bool) -> Tensor<2> {
        let [rows, columns] = x.dims();
        let mut values = x.into_data().try_to_vec::<f32>().unwrap();
        values.iter_mut().step_by(7).for_each(|v| *v = 0.0);
        if nan {
            values.iter_mut().step_by(101).for_each(|v| *v = f32::NAN);
        }
        Tensor::from_data(TensorData::new(values, [rows, columns]), &Device::flex())
    }

    #[test]
    fn fused_relu_equals_the_layer_then_burns_relu_bit_for_bit() {
        for device in cpu_devices() {
            for [batch, d_input, d_output] in CASES {
                let linear = layer(d_input, d_output, &device);
                for nan in [false, true] {
                    let x = Tensor::<2>::random([batch, d_input], Distribution::Default, &device);
                    let x = with_zeros_and_nan(x, nan).to_device(&device);
                    let ours = forward_relu(&linear, x.clone());
                    let theirs = activation::relu(forward(&linear, x));
                    let case = format!("{batch}x{d_input}x{d_output} {device:?} nan {nan}");
                    assert_eq!(bits(ours), bits(theirs), "{case}");
                }
            }
        }
    }

    #[test]
    fn fused_relu_gradients_equal_the_layer_then_burns_relu_bit_for_bit() {
        for device in cpu_devices().into_iter().filter(Device::is_autodiff) {
            for [batch, d_input, d_output] in CASES {
                let linear = layer(d_input, d_output, &device);
                let x =
                    Tensor::<2>::random([batch, d_input], Distribution::Normal(0.0, 1.0), &device);
                let weights =
                    Tensor::<2>::random([batch, d_output], Distribution::Normal(0.0, 1.0), &device);
                let gradients = |layer: &dyn Fn(&Linear, Tensor<2>) -> Tensor<2>| {
                    let x = x.clone().detach().require_grad();
                    let grads = (layer(&linear, x.clone()) * weights.clone())
                        .sum()
                        .backward();
                    let bias = linear.bias.as_ref().unwrap().val();
                    [
                        bits(x.grad(&grads).unwrap()),
                        bits(linear.weight.val().grad(&grads).unwrap()),
                        bits(bias.grad(&grads).unwrap()),
                    ]
                };
                let ours = gradients(&forward_relu);
                let theirs = gradients(&|linear, x| activation::relu(forward(linear, x)));
                assert_eq!(ours, theirs, "{batch}x{d_input}x{d_output} {device:?}");
            }
        }
    }

    #[test]
    fn layers_without_bias_use_burns_linear() {
        let device = Device::flex();
        let linear = LinearConfig::new(8, 3).with_bias(false).init(&device);
        let x = Tensor::<2>::random([4, 8], Distribution::Default, &device);
        assert_eq!(bits(forward(&linear, x.clone())), bits(linear.forward(x)));
    }
}
