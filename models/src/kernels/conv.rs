//! 2-D convolution with stride 1 as im2col + matrix products on flex, forward and backward.
//!
//! Why: burn-flex 0.22.1 runs Burn's convolution backward (a convolution of the input by the
//! output gradient for the weight gradient, a transposed convolution for the input gradient)
//! through its general 3-D loops, which took half of a LeNet train step (BENCHMARKS.md); written
//! as matrix products on each image's unfolded input, the step took 9.9 → 5.5 ms at batch 64.
//! The forward pass written the same way measured faster than burn-flex's `conv2d` too (LeNet
//! step 5.75 → 4.34 ms at batch 64, 21.2 → 16.0 ms at batch 256, same sitting), so both are
//! ours. Per image n (L = Ho * Wo):
//!
//! ```text
//! x: [N, C, H, W], weight W: [Co, C*Kh*Kw], bias b: [Co], dy: [N, Co, Ho, Wo]
//! cols_n  = im2col(x_n)              [C*Kh*Kw, L]   cols[(c,i,j), (oh,ow)] = x[n, c, oh+i-pt, ow+j-pl]
//! y_n     = b + W @ cols_n           [Co, L]
//! dW      = sum_n dy_n @ cols_n^T    [Co, C*Kh*Kw]  -> [Co, C, Kh, Kw]
//! db      = dy summed over n and L   [Co]
//! dcols_n = W^T @ dy_n               [C*Kh*Kw, L]
//! dx_n    = col2im(dcols_n)          [C, H, W]      (sums the overlapping windows)
//! ```
//!
//! The GEMMs are the `gemm` crate's (burn-flex's own), single-threaded, run in parallel over
//! tasks of images; the weight gradient's per-task sums are added in task order, so results do
//! not depend on the thread count. Outputs and gradients equal Burn's up to float summation
//! order (tested to 1e-5 relative). Used for stride 1, dilation 1, one group, with bias, explicit
//! or no padding: every convolution of the zoo.

use burn::backend::Flex;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{Shape, Tensor};
use rayon::prelude::*;

use super::{dims4, f32_data, f32_tensor, on_flex_f32};

/// [`Conv2d`]'s forward pass, differentiated with ember's backward pass where it applies.
///
/// - `x`: `[batch, channels_in, height, width]`, any backend and float dtype.
/// - returns: `[batch, channels_out, out_h, out_w]`, as `conv.forward(x)`.
///
/// ember's path runs when `conv` has stride 1, dilation 1, one group, a bias and `Valid` or
/// `Explicit` padding, and `x` is f32 on flex; otherwise this is `conv.forward(x)`.
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let (Some(padding), Some(bias)) = (supported_padding(conv), conv.bias.as_ref()) else {
        return conv.forward(x);
    };
    let x = x.into_dispatch();
    if !on_flex_f32(&x) {
        return conv.forward(Tensor::from_dispatch(x));
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as Conv2dStride1>::conv2d_stride_1(
        x,
        conv.weight.val().into_dispatch(),
        bias.val().into_dispatch(),
        padding,
    ))
}

/// `[top, bottom, left, right]` padding when `conv` is a case the kernel covers.
fn supported_padding(conv: &Conv2d) -> Option<[usize; 4]> {
    if conv.stride != [1, 1] || conv.dilation != [1, 1] || conv.groups != 1 {
        return None;
    }
    match conv.padding {
        PaddingConfig2d::Valid => Some([0; 4]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => Some([top, bottom, left, right]),
        PaddingConfig2d::Same => None,
    }
}

/// The backend extension behind [`forward`]; implemented for flex and autodiff-on-flex only.
#[backend_extension(Flex, Autodiff)]
pub trait Conv2dStride1: burn::backend::Backend {
    /// `x [N,C,H,W]`, `weight [Co,C,Kh,Kw]`, `bias [Co]`, padding `[top, bottom, left, right]`
    /// -> `[N, Co, H+top+bottom-Kh+1, W+left+right-Kw+1]`, f32.
    fn conv2d_stride_1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: [usize; 4],
    ) -> FloatTensor<Self>;
}

impl Conv2dStride1 for Flex {
    fn conv2d_stride_1(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        padding: [usize; 4],
    ) -> FlexTensor {
        im2col_forward(&x, &weight, &bias, padding)
    }
}

impl<C: CheckpointStrategy> Conv2dStride1 for Autodiff<Flex, C> {
    fn conv2d_stride_1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: [usize; 4],
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        let (x, weight, bias) = (Self::inner(x), Self::inner(weight), Self::inner(bias));
        match Conv2dBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                // Contiguous once, here: the backward pass reads the same copies.
                let [x, weight] = [&x, &weight].map(FlexTensor::to_contiguous);
                let output = im2col_forward(&x, &weight, &bias, padding);
                prep.finish((x, weight, padding), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(im2col_forward(&x, &weight, &bias, padding)),
        }
    }
}

/// The forward pass: per image, `bias + W @ im2col(x)`.
fn im2col_forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    padding: [usize; 4],
) -> FlexTensor {
    let window = Window::new(dims4(x), dims4(weight), padding);
    let [x, weight, bias] = [x, weight, bias].map(FlexTensor::to_contiguous);
    window.output(f32_data(&x), f32_data(&weight), f32_data(&bias))
}

/// Backward node; its state is the input and the weight (both contiguous) and the padding.
#[derive(Debug)]
struct Conv2dBackward;

impl Backward<Flex, 3> for Conv2dBackward {
    type State = (FlexTensor, FlexTensor, [usize; 4]);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [x_node, weight_node, bias_node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x, weight, padding) = ops.state;
        let window = Window::new(dims4(&x), dims4(&weight), padding);
        let dy = f32_data(&grad);
        if let Some(node) = bias_node {
            grads.register::<Flex>(node.id, window.bias_grad(dy));
        }
        if let Some(node) = weight_node {
            grads.register::<Flex>(node.id, window.weight_grad(f32_data(&x), dy));
        }
        if let Some(node) = x_node {
            grads.register::<Flex>(node.id, window.input_grad(f32_data(&weight), dy));
        }
    }
}

/// Images per task of the batch-parallel loops. Fixed, so that the order of the float sums (and
/// thus the weight gradient, bit for bit) does not depend on the number of threads.
const IMAGES_PER_TASK: usize = 8;

/// The geometry of one convolution and its per-image backward steps.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Input `[N, C, H, W]`.
    input: [usize; 4],
    /// Output channels.
    channels_out: usize,
    /// Kernel height and width.
    kernel: [usize; 2],
    /// `[top, bottom, left, right]`.
    padding: [usize; 4],
    /// Output height and width.
    out: [usize; 2],
}

impl Window {
    fn new(input: [usize; 4], weight: [usize; 4], padding: [usize; 4]) -> Self {
        let [_, _, h, w] = input;
        let [channels_out, _, kh, kw] = weight;
        let [top, bottom, left, right] = padding;
        Self {
            input,
            channels_out,
            kernel: [kh, kw],
            padding,
            out: [h + top + bottom + 1 - kh, w + left + right + 1 - kw],
        }
    }

    /// Rows of an image's unfolded matrix: `C * Kh * Kw`.
    fn rows(&self) -> usize {
        self.input[1] * self.kernel[0] * self.kernel[1]
    }

    /// Output positions per image (the unfolded matrix's columns): `Ho * Wo`.
    fn positions(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// Elements of one input image: `C * H * W`.
    fn image_len(&self) -> usize {
        self.input[1] * self.input[2] * self.input[3]
    }

    /// Elements of one output-gradient image: `Co * Ho * Wo`.
    fn out_image_len(&self) -> usize {
        self.channels_out * self.positions()
    }

    /// Calls `run(col_start, input_start, len)` for every run of adjacent elements where row
    /// `(c, i, j)` of an image's unfolded matrix, at columns `(oh, ow..ow+len)`, reads the image
    /// at `[c, oh+i-top, ...]`. Positions in the padding are not visited (they are zero).
    fn for_each_run(&self, mut run: impl FnMut(usize, usize, usize)) {
        let [_, channels, height, width] = self.input;
        let [kh, kw] = self.kernel;
        let [top, _, left, _] = self.padding;
        let [out_h, out_w] = self.out;
        for c in 0..channels {
            for i in 0..kh {
                for j in 0..kw {
                    let row = ((c * kh + i) * kw + j) * self.positions();
                    // Output columns whose input column ow + j - left lies inside [0, width).
                    let first = left.saturating_sub(j);
                    let end = (width + left).saturating_sub(j).min(out_w);
                    if end <= first {
                        continue;
                    }
                    for oh in 0..out_h {
                        let Some(ih) = (oh + i).checked_sub(top).filter(|&ih| ih < height) else {
                            continue;
                        };
                        let input = (c * height + ih) * width;
                        run(
                            row + oh * out_w + first,
                            input + first + j - left,
                            end - first,
                        );
                    }
                }
            }
        }
    }

    /// One image `[C, H, W]` unfolded into `cols` `[C*Kh*Kw, Ho*Wo]`.
    fn im2col(&self, image: &[f32], cols: &mut [f32]) {
        if self.padding.iter().any(|&p| p > 0) {
            cols.fill(0.0);
        }
        self.for_each_run(|col, input, len| {
            cols[col..col + len].copy_from_slice(&image[input..input + len]);
        });
    }

    /// Adds the unfolded gradient `cols` `[C*Kh*Kw, Ho*Wo]` of one image into `image` `[C, H, W]`.
    fn col2im(&self, cols: &[f32], image: &mut [f32]) {
        self.for_each_run(|col, input, len| {
            let dst = &mut image[input..input + len];
            dst.iter_mut()
                .zip(&cols[col..col + len])
                .for_each(|(d, s)| *d += s);
        });
    }

    /// `db [Co]`: the output gradient summed over images and positions.
    fn bias_grad(&self, dy: &[f32]) -> FlexTensor {
        let mut db = vec![0f32; self.channels_out];
        for image in dy.chunks_exact(self.out_image_len()) {
            for (d, plane) in db.iter_mut().zip(image.chunks_exact(self.positions())) {
                *d += plane.iter().sum::<f32>();
            }
        }
        f32_tensor(db, Shape::from(vec![self.channels_out]))
    }

    /// `dW [Co, C, Kh, Kw]` = sum over images of `dy_n [Co, Ho*Wo] @ cols_n^T`.
    fn weight_grad(&self, x: &[f32], dy: &[f32]) -> FlexTensor {
        let (rows, positions, weights) = (self.rows(), self.positions(), self.channels_out);
        let partials: Vec<Vec<f32>> = x
            .par_chunks(IMAGES_PER_TASK * self.image_len())
            .zip(dy.par_chunks(IMAGES_PER_TASK * self.out_image_len()))
            .map(|(images, grads)| {
                let mut dw = vec![0f32; weights * rows];
                let mut cols = vec![0f32; rows * positions];
                let images = images.chunks_exact(self.image_len());
                for (image, grad) in images.zip(grads.chunks_exact(self.out_image_len())) {
                    self.im2col(image, &mut cols);
                    // dw += grad [Co, P] @ cols^T [P, R]
                    let lhs = Matrix::row_major(grad, positions);
                    let rhs = Matrix::row_major(&cols, positions).transposed();
                    gemm_into(&mut dw, rows, lhs, rhs, [weights, rows, positions], true);
                }
                dw
            })
            .collect();
        // Summed in task order: the same bits whatever thread ran which task.
        let dw = partials
            .into_iter()
            .reduce(|mut sum, part| {
                sum.iter_mut().zip(part).for_each(|(s, p)| *s += p);
                sum
            })
            .expect("a batch has at least one image");
        let [_, channels, _, _] = self.input;
        let [kh, kw] = self.kernel;
        f32_tensor(dw, Shape::from(vec![weights, channels, kh, kw]))
    }

    /// `y [N, Co, Ho, Wo]`: per image, `bias + W [Co, R] @ cols_n [R, Ho*Wo]`.
    fn output(&self, x: &[f32], weight: &[f32], bias: &[f32]) -> FlexTensor {
        let (rows, positions, weights) = (self.rows(), self.positions(), self.channels_out);
        let [batch, ..] = self.input;
        let mut y = vec![0f32; batch * self.out_image_len()];
        y.par_chunks_mut(self.out_image_len())
            .zip(x.par_chunks(self.image_len()))
            .for_each_init(
                || vec![0f32; rows * positions],
                |cols, (out, image)| {
                    for (plane, &b) in out.chunks_exact_mut(positions).zip(bias) {
                        plane.fill(b);
                    }
                    self.im2col(image, cols);
                    let lhs = Matrix::row_major(weight, rows);
                    let rhs = Matrix::row_major(cols, positions);
                    gemm_into(out, positions, lhs, rhs, [weights, positions, rows], true);
                },
            );
        let [out_h, out_w] = self.out;
        f32_tensor(y, Shape::from(vec![batch, weights, out_h, out_w]))
    }

    /// `dx [N, C, H, W]`: per image, `col2im(W^T [R, Co] @ dy_n [Co, Ho*Wo])`.
    fn input_grad(&self, weight: &[f32], dy: &[f32]) -> FlexTensor {
        let (rows, positions, weights) = (self.rows(), self.positions(), self.channels_out);
        let mut dx = vec![0f32; self.input.iter().product()];
        dx.par_chunks_mut(self.image_len())
            .zip(dy.par_chunks(self.out_image_len()))
            .for_each_init(
                || vec![0f32; rows * positions],
                |dcols, (image, grad)| {
                    // dcols = weight^T [R, Co] @ grad [Co, P]
                    let lhs = Matrix::row_major(weight, rows).transposed();
                    let rhs = Matrix::row_major(grad, positions);
                    gemm_into(
                        dcols,
                        positions,
                        lhs,
                        rhs,
                        [rows, positions, weights],
                        false,
                    );
                    self.col2im(dcols, image);
                },
            );
        f32_tensor(dx, Shape::from(self.input.to_vec()))
    }
}

/// A read-only matrix view: data with a row stride and a column stride (in elements).
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    row_stride: isize,
    col_stride: isize,
}

impl<'a> Matrix<'a> {
    /// A row-major matrix with `columns` columns.
    fn row_major(data: &'a [f32], columns: usize) -> Self {
        Self {
            data,
            row_stride: columns as isize,
            col_stride: 1,
        }
    }

    fn transposed(self) -> Self {
        Self {
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// The largest element index reached by an `rows x columns` view.
    fn last_index(&self, rows: usize, columns: usize) -> usize {
        (rows - 1) * self.row_stride as usize + (columns - 1) * self.col_stride as usize
    }
}

/// `dst [m, n]` (row-major, row stride `dst_columns`) `= lhs [m, k] @ rhs [k, n]`, plus the old
/// `dst` if `accumulate`; single-threaded (the callers parallelize over images).
fn gemm_into(
    dst: &mut [f32],
    dst_columns: usize,
    lhs: Matrix,
    rhs: Matrix,
    [m, n, k]: [usize; 3],
    accumulate: bool,
) {
    assert!(m > 0 && n > 0 && k > 0 && n <= dst_columns);
    assert!(lhs.last_index(m, k) < lhs.data.len() && rhs.last_index(k, n) < rhs.data.len());
    assert!((m - 1) * dst_columns + n <= dst.len());
    // SAFETY: the asserts above keep every element gemm reads or writes inside the slices, and
    // `dst` is a unique borrow that does not alias `lhs` or `rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_columns as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride,
            lhs.row_stride,
            rhs.data.as_ptr(),
            rhs.col_stride,
            rhs.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::bits;
    use burn::module::Module;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, Distribution};

    fn conv(channels: [usize; 2], kernel: [usize; 2], padding: PaddingConfig2d) -> Conv2d {
        Conv2dConfig::new(channels, kernel)
            .with_padding(padding)
            .init(&Device::flex().autodiff())
    }

    /// LeNet's two convolutions plus asymmetric padding and a non-square kernel and input.
    fn cases() -> Vec<(Conv2d, [usize; 4])> {
        vec![
            (
                conv([1, 6], [5, 5], PaddingConfig2d::Explicit(2, 2, 2, 2)),
                [3, 1, 28, 28],
            ),
            (
                conv([6, 16], [5, 5], PaddingConfig2d::Valid),
                [4, 6, 14, 14],
            ),
            (
                conv([3, 4], [3, 2], PaddingConfig2d::Explicit(1, 0, 2, 3)),
                [2, 3, 7, 5],
            ),
        ]
    }

    #[test]
    fn forward_equals_burns_conv() {
        for (conv, shape) in cases() {
            for device in [Device::flex(), Device::flex().autodiff()] {
                let conv = conv.clone().to_device(&device);
                let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
                let ours = forward(&conv, x.clone());
                let burns = conv.forward(x);
                assert_eq!(ours.dims(), burns.dims(), "{shape:?}");
                assert!(relative_difference(ours, burns) < 1e-5, "{shape:?}");
            }
        }
    }

    /// The largest difference relative to the largest magnitude of Burn's result.
    fn relative_difference<const D: usize>(ours: Tensor<D>, burns: Tensor<D>) -> f32 {
        let scale = burns.clone().abs().max().into_scalar::<f32>();
        (ours - burns).abs().max().into_scalar::<f32>() / scale
    }

    #[test]
    fn gradients_equal_burns_conv() {
        let device = Device::flex().autodiff();
        for (conv, shape) in cases() {
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let out = conv.forward(x.clone()).dims();
            // A different weight per output, so a misplaced gradient shows.
            let weights = Tensor::<4>::random(out, Distribution::Normal(0.0, 1.0), &device);
            let gradients = |layer: fn(&Conv2d, Tensor<4>) -> Tensor<4>| {
                let x = x.clone().detach().require_grad();
                let grads = (layer(&conv, x.clone()) * weights.clone()).sum().backward();
                let bias = conv.bias.as_ref().unwrap().val();
                (
                    x.grad(&grads).unwrap(),
                    conv.weight.val().grad(&grads).unwrap(),
                    bias.grad(&grads).unwrap(),
                )
            };
            let (ours, burns) = (gradients(forward), gradients(Conv2d::forward));
            assert!(relative_difference(ours.0, burns.0) < 1e-5, "dx {shape:?}");
            assert!(relative_difference(ours.1, burns.1) < 1e-5, "dw {shape:?}");
            assert!(relative_difference(ours.2, burns.2) < 1e-5, "db {shape:?}");
        }
    }

    #[test]
    fn other_cases_use_burns_conv() {
        let strided = Conv2dConfig::new([2, 3], [3, 3])
            .with_stride([2, 2])
            .init(&Device::flex());
        assert_eq!(supported_padding(&strided), None);
        let same = Conv2dConfig::new([2, 3], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(&Device::flex());
        assert_eq!(supported_padding(&same), None);
        let (lenet_conv1, shape) = cases().remove(0);
        assert_eq!(supported_padding(&lenet_conv1), Some([2, 2, 2, 2]));
        #[allow(deprecated)] // ndarray is one of ember's backends.
        let ndarray = Device::ndarray();
        let lenet_conv1 = lenet_conv1.to_device(&ndarray);
        let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &ndarray);
        assert_eq!(
            bits(forward(&lenet_conv1, x.clone())),
            bits(lenet_conv1.forward(x))
        );
    }
}
