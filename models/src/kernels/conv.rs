//! 2-D convolution with stride 1 as im2col + matrix products on the CPU backends (flex,
//! ndarray), forward and backward.
//!
//! Why: burn-flex 0.22.1 runs Burn's convolution backward (a convolution of the input by the
//! output gradient for the weight gradient, a transposed convolution for the input gradient)
//! through its general 3-D loops, which took half of a LeNet train step (BENCHMARKS.md); written
//! as matrix products on each image's unfolded input, the step took 9.9 → 5.5 ms at batch 64.
//! The forward pass written the same way measured faster than burn-flex's `conv2d` too (LeNet
//! step 5.75 → 4.34 ms at batch 64, 21.2 → 16.0 ms at batch 256, same sitting), so both are
//! ours. Per task t of g = 8 images (L = g * Ho * Wo; the images' unfolded matrices side by side,
//! one GEMM per task rather than per image: see `Window`):
//!
//! ```text
//! x: [N, C, H, W], weight W: [Co, C*Kh*Kw], bias b: [Co], dy: [N, Co, Ho, Wo]
//! cols_t  = im2col(x_t)              [C*Kh*Kw, L]   cols[(c,i,j), (k,oh,ow)] = x[k, c, oh+i-pt, ow+j-pl]
//! y_t     = b + W @ cols_t           [Co, L]        -> [g, Co, Ho, Wo]
//! dyt_t   = dy_t gathered            [Co, L]
//! dW      = sum_t dyt_t @ cols_t^T   [Co, C*Kh*Kw]  -> [Co, C, Kh, Kw]
//! db      = sum_t dyt_t's row sums   [Co]
//! dcols_t = W^T @ dyt_t              [C*Kh*Kw, L]
//! dx_t    = col2im(dcols_t)          [g, C, H, W]   (sums the overlapping windows)
//! ```
//!
//! The GEMMs are the `gemm` crate's (burn-flex's own), single-threaded, run in parallel over
//! the tasks; the per-task weight and bias gradients are added in task order, so results do
//! not depend on the thread count (they do depend on the batch size, as a GEMM's blocking
//! does). Against the per-image version, one sitting (2026-12-03, AMD EPYC, LeNet step median
//! at batch 256): 20.6-21.4 → 17.0-17.5 ms with the padded copies, thread-local scratch, AVX2
//! task bodies and the transposed first product (BENCHMARKS.md). Outputs and gradients equal Burn's up to float summation
//! order (tested to 1e-5 relative). Used for stride 1, dilation 1, one group, with bias, explicit
//! or no padding: every convolution of the zoo.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{AutodiffBackend, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{Shape, Tensor};
use rayon::prelude::*;

use super::gemm::{Matrix, Parallelism, gemm_into};
use super::{CpuBackend, dims4, on_cpu_f32};

/// [`Conv2d`]'s forward pass, differentiated with ember's backward pass where it applies.
///
/// - `x`: `[batch, channels_in, height, width]`, any backend and float dtype.
/// - returns: `[batch, channels_out, out_h, out_w]`, as `conv.forward(x)`.
///
/// ember's path runs when `conv` has stride 1, dilation 1, one group, a bias and `Valid` or
/// `Explicit` padding, and `x` is f32 on flex or ndarray; otherwise this is `conv.forward(x)`.
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let (Some(padding), Some(bias)) = (supported_padding(conv), conv.bias.as_ref()) else {
        return conv.forward(x);
    };
    let x = x.into_dispatch();
    if !on_cpu_f32(&x) {
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
pub(super) fn supported_padding(conv: &Conv2d) -> Option<[usize; 4]> {
    if conv.stride != [1, 1] || conv.dilation != [1, 1] || conv.groups != 1 {
        return None;
    }
    match conv.padding {
        PaddingConfig2d::Valid => Some([0; 4]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => Some([top, bottom, left, right]),
        PaddingConfig2d::Same => None,
    }
}

/// The backend extension behind [`forward`]; implemented for flex and ndarray, with autodiff or
/// without.
#[backend_extension(Flex, NdArray, Autodiff)]
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

/// Flex and ndarray: the kernel on the backend's own tensors.
impl<B: CpuBackend> Conv2dStride1 for B {
    fn conv2d_stride_1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: [usize; 4],
    ) -> FloatTensor<Self> {
        let [x, weight, bias] = [x, weight, bias].map(Self::contiguous);
        im2col_forward::<Self>(&x, &weight, &bias, padding)
    }
}

impl<B: CpuBackend, C: CheckpointStrategy> Conv2dStride1 for Autodiff<B, C> {
    fn conv2d_stride_1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: [usize; 4],
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        // Contiguous once, here: the backward pass reads the same values.
        let [x, weight, bias] = [x, weight, bias].map(|t| B::contiguous(Self::inner(t)));
        let output = im2col_forward::<B>(&x, &weight, &bias, padding);
        match Conv2dBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((x, weight, padding), output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }
}

/// The forward pass: per image, `bias + W @ im2col(x)`.
fn im2col_forward<B: CpuBackend>(
    x: &FloatTensor<B>,
    weight: &FloatTensor<B>,
    bias: &FloatTensor<B>,
    padding: [usize; 4],
) -> FloatTensor<B> {
    let window = Window::new(dims4(&x.shape()), dims4(&weight.shape()), padding);
    let [x, weight, bias] = [x, weight, bias].map(B::values);
    B::tensor(window.output(x, weight, bias), window.output_shape())
}

/// Backward node; its state is the input and the weight (both contiguous) and the padding.
#[derive(Debug)]
struct Conv2dBackward;

impl<B: CpuBackend> Backward<B, 3> for Conv2dBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, [usize; 4]);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let grad = B::contiguous(grads.consume::<B>(&ops.node));
        let (x, weight, padding) = ops.state;
        let window = Window::new(dims4(&x.shape()), dims4(&weight.shape()), padding);
        let (positions, image) = (window.positions(), window.out_image_len());
        let tasks = B::values(&grad).par_chunks(IMAGES_PER_TASK * image);
        // dy [k, Co, P] -> dyt [Co, (k, P)]
        let gather = |dy: &[f32], dyt: &mut [f32]| {
            let columns = dyt.len() / window.channels_out;
            for (k, dy) in dy.chunks_exact(image).enumerate() {
                for (co, plane) in dy.chunks_exact(positions).enumerate() {
                    let at = co * columns + k * positions;
                    dyt[at..at + positions].copy_from_slice(plane);
                }
            }
        };
        let want_dx = ops.parents[0].is_some();
        let partials = window.grads(B::values(&x), B::values(&weight), tasks, gather, want_dx);
        let parents = ops.parents.map(|node| node.map(|node| node.id));
        register_grads::<B>(grads, parents, &window, partials);
    }
}

/// Registers what [`Window::grads`] returned, `(dW, db, dx)`, as the gradients of the parents
/// `[x, weight, bias]` that are tracked.
pub(super) fn register_grads<B: CpuBackend>(
    grads: &mut Gradients,
    [x_node, weight_node, bias_node]: [Option<NodeId>; 3],
    window: &Window,
    (dw, db, dx): (Vec<f32>, Vec<f32>, Option<Vec<f32>>),
) {
    if let Some(node) = bias_node {
        grads.register::<B>(node, B::tensor(db, [window.channels_out].into()));
    }
    if let Some(node) = weight_node {
        let [kh, kw] = window.kernel;
        let shape = [window.channels_out, window.input[1], kh, kw];
        grads.register::<B>(node, B::tensor(dw, shape.into()));
    }
    if let (Some(node), Some(dx)) = (x_node, dx) {
        grads.register::<B>(node, B::tensor(dx, window.input.into()));
    }
}

/// Images per task of the batch-parallel loops. Fixed, so that the order of the float sums (and
/// thus the weight gradient, bit for bit) does not depend on the number of threads.
pub(super) const IMAGES_PER_TASK: usize = 8;

/// The geometry of one convolution and its passes over tasks of [`IMAGES_PER_TASK`] images.
///
/// A task unfolds its g images side by side into `cols [C*Kh*Kw, g*Ho*Wo]` (image k's columns
/// are `k*Ho*Wo..(k+1)*Ho*Wo`), so that each pass is one GEMM per task rather than one per
/// image: LeNet's per-image products are as small as `[16, 150] @ [150, 100]`, where the GEMM's
/// fixed costs outweigh its arithmetic. Each image is first copied into a zero-bordered
/// `[C, H+top+bottom, W+left+right]` buffer (the image itself when there is no padding), so
/// every row of `cols` is `Ho` runs of `Wo` adjacent values, with no bounds to test.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    /// Input `[N, C, H, W]`.
    pub(super) input: [usize; 4],
    /// Output channels.
    pub(super) channels_out: usize,
    /// Kernel height and width.
    kernel: [usize; 2],
    /// `[top, bottom, left, right]`.
    padding: [usize; 4],
    /// Padded input height and width.
    padded: [usize; 2],
    /// Output height and width.
    pub(super) out: [usize; 2],
}

impl Window {
    pub(super) fn new(input: [usize; 4], weight: [usize; 4], padding: [usize; 4]) -> Self {
        let [_, _, h, w] = input;
        let [channels_out, _, kh, kw] = weight;
        let [top, bottom, left, right] = padding;
        let padded = [h + top + bottom, w + left + right];
        Self {
            input,
            channels_out,
            kernel: [kh, kw],
            padding,
            padded,
            out: [padded[0] + 1 - kh, padded[1] + 1 - kw],
        }
    }

    /// Rows of an image's unfolded matrix: `C * Kh * Kw`.
    fn rows(&self) -> usize {
        self.input[1] * self.kernel[0] * self.kernel[1]
    }

    /// Output positions per image (an image's columns of the unfolded matrix): `Ho * Wo`.
    pub(super) fn positions(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// Elements of one input image: `C * H * W`.
    fn image_len(&self) -> usize {
        self.input[1] * self.input[2] * self.input[3]
    }

    /// Elements of one padded image: `C * Hp * Wp`; 0 without padding (the image is used).
    fn padded_len(&self) -> usize {
        if self.padding == [0; 4] {
            0
        } else {
            self.input[1] * self.padded[0] * self.padded[1]
        }
    }

    /// Elements of one output (or output-gradient) image: `Co * Ho * Wo`.
    pub(super) fn out_image_len(&self) -> usize {
        self.channels_out * self.positions()
    }

    /// The output's shape `[N, Co, Ho, Wo]`.
    fn output_shape(&self) -> Shape {
        let [out_h, out_w] = self.out;
        Shape::from(vec![self.input[0], self.channels_out, out_h, out_w])
    }

    /// Calls `run(row_start, image_start)` for each run of `Wo` adjacent values: row
    /// `(c, i, j)` of an image's unfolded matrix at columns `(oh, 0..Wo)`, which is
    /// `row_start = row * columns + oh * Wo` in a `cols` of `columns` columns, reads the padded
    /// image at `image_start = (c, oh + i, j)`.
    #[inline(always)]
    fn for_each_run(&self, columns: usize, mut run: impl FnMut(usize, usize)) {
        let [_, channels, _, _] = self.input;
        let [kh, kw] = self.kernel;
        let [padded_h, padded_w] = self.padded;
        let [out_h, out_w] = self.out;
        for c in 0..channels {
            for i in 0..kh {
                for j in 0..kw {
                    let row = (c * kh + i) * kw + j;
                    for oh in 0..out_h {
                        run(
                            row * columns + oh * out_w,
                            (c * padded_h + oh + i) * padded_w + j,
                        );
                    }
                }
            }
        }
    }

    /// `image [C, H, W]` into the interior of `padded [C, Hp, Wp]`, whose border is zeroed.
    #[inline(always)]
    fn pad(&self, image: &[f32], padded: &mut [f32]) {
        let [_, _, height, width] = self.input;
        let [top, _, left, _] = self.padding;
        let [padded_h, padded_w] = self.padded;
        padded.fill(0.0);
        for (plane, padded) in image
            .chunks_exact(height * width)
            .zip(padded.chunks_exact_mut(padded_h * padded_w))
        {
            for (row, padded) in plane
                .chunks_exact(width)
                .zip(padded.chunks_exact_mut(padded_w).skip(top))
            {
                padded[left..left + width].copy_from_slice(row);
            }
        }
    }

    /// The interior of `padded [C, Hp, Wp]` into `image [C, H, W]`.
    #[inline(always)]
    fn unpad(&self, padded: &[f32], image: &mut [f32]) {
        let [_, _, height, width] = self.input;
        let [top, _, left, _] = self.padding;
        let [padded_h, padded_w] = self.padded;
        for (plane, padded) in image
            .chunks_exact_mut(height * width)
            .zip(padded.chunks_exact(padded_h * padded_w))
        {
            for (row, padded) in plane
                .chunks_exact_mut(width)
                .zip(padded.chunks_exact(padded_w).skip(top))
            {
                row.copy_from_slice(&padded[left..left + width]);
            }
        }
    }

    /// The task's images `[g, C, H, W]` unfolded side by side into `cols [C*Kh*Kw, g*Ho*Wo]`
    /// (`padded`: scratch of [`Self::padded_len`]).
    #[inline(always)]
    fn im2col(&self, images: &[f32], cols: &mut [f32], padded: &mut [f32]) {
        let (positions, out_w) = (self.positions(), self.out[1]);
        let columns = self.columns(images);
        for (k, image) in images.chunks_exact(self.image_len()).enumerate() {
            let image = if padded.is_empty() {
                image
            } else {
                self.pad(image, padded);
                &*padded
            };
            let cols = &mut cols[k * positions..];
            self.for_each_run(columns, |at, from| {
                copy(&mut cols[at..at + out_w], &image[from..from + out_w]);
            });
        }
    }

    /// Adds the unfolded gradients `cols [C*Kh*Kw, g*Ho*Wo]` (laid out as [`Self::im2col`]'s)
    /// into `images [g, C, H, W]`, which start at zero.
    #[inline(always)]
    fn col2im(&self, cols: &[f32], images: &mut [f32], padded: &mut [f32]) {
        let (positions, out_w) = (self.positions(), self.out[1]);
        let columns = self.columns(images);
        for (k, image) in images.chunks_exact_mut(self.image_len()).enumerate() {
            let cols = &cols[k * positions..];
            let target = if padded.is_empty() {
                &mut *image
            } else {
                padded.fill(0.0);
                &mut *padded
            };
            self.for_each_run(columns, |at, to| {
                let target = &mut target[to..to + out_w];
                target
                    .iter_mut()
                    .zip(&cols[at..at + out_w])
                    .for_each(|(d, s)| *d += s);
            });
            if !padded.is_empty() {
                self.unpad(padded, image);
            }
        }
    }

    /// Columns of the unfolded matrix of the images `[g, C, H, W]`: `g * Ho * Wo`.
    fn columns(&self, images: &[f32]) -> usize {
        images.len() / self.image_len() * self.positions()
    }

    /// `y [N, Co, Ho, Wo]`: per task of g images, `W [Co, R] @ cols [R, g*Ho*Wo]`, then each
    /// image's `[Co, Ho*Wo]` block plus the bias copied to its place.
    fn output(&self, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
        let [batch, ..] = self.input;
        let (positions, image) = (self.positions(), self.out_image_len());
        let mut y = vec![0f32; batch * image];
        let tasks = y.par_chunks_mut(IMAGES_PER_TASK * image);
        self.for_each_product(x, weight, tasks, |out, product| {
            let columns = product.len() / self.channels_out;
            // product [Co, (k, P)] -> out [k, Co, P], plus the bias.
            for (k, image) in out.chunks_exact_mut(image).enumerate() {
                let planes = image.chunks_exact_mut(positions);
                for ((co, plane), &b) in planes.enumerate().zip(bias) {
                    let at = co * columns + k * positions;
                    plane
                        .iter_mut()
                        .zip(&product[at..at + positions])
                        .for_each(|(y, p)| *y = p + b);
                }
            }
        });
        y
    }

    /// Per task of g images of `x` (in parallel), `product = W [Co, R] @ im2col(images)`:
    /// `[Co, g*Ho*Wo]`, image k's columns at `k*Ho*Wo..`, without the bias; `finish` gets it
    /// with the task's item of `tasks` (one per task, in order: where its outputs go).
    pub(super) fn for_each_product<T: Send>(
        &self,
        x: &[f32],
        weight: &[f32],
        tasks: impl IndexedParallelIterator<Item = T>,
        finish: impl Fn(T, &[f32]) + Sync,
    ) {
        x.par_chunks(IMAGES_PER_TASK * self.image_len())
            .zip(tasks)
            .for_each(|(images, task)| {
                with_scratch(self.scratch_lens(), |scratch| {
                    let finish = |product: &[f32]| finish(task, product);
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2, just checked.
                        return unsafe { self.product_task_avx2(weight, images, scratch, finish) };
                    }
                    self.product_task(weight, images, scratch, finish)
                })
            });
    }

    /// The lengths of a task's three scratch buffers: `cols [R, g*P]`, the product or the
    /// gathered output gradient `[Co, g*P]`, and one padded image.
    fn scratch_lens(&self) -> [usize; 3] {
        let task_columns = IMAGES_PER_TASK * self.positions();
        [
            self.rows() * task_columns,
            self.channels_out * task_columns,
            self.padded_len(),
        ]
    }

    /// [`Self::product_task`] compiled for AVX2: the build's baseline is x86-64's SSE2, with
    /// which the short copies and sums of im2col and col2im ran four floats at a time (27% of a
    /// LeNet step). The same operations in the same order: the same bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn product_task_avx2(
        &self,
        weight: &[f32],
        images: &[f32],
        scratch: [&mut [f32]; 3],
        finish: impl FnOnce(&[f32]),
    ) {
        self.product_task(weight, images, scratch, finish)
    }

    /// One task of [`Self::for_each_product`]: the g images `[g, C, H, W]` unfolded and
    /// multiplied, the product handed to `finish`.
    #[inline(always)]
    fn product_task(
        &self,
        weight: &[f32],
        images: &[f32],
        [cols, product, padded]: [&mut [f32]; 3],
        finish: impl FnOnce(&[f32]),
    ) {
        let (rows, weights) = (self.rows(), self.channels_out);
        let columns = self.columns(images);
        let cols = &mut cols[..rows * columns];
        let product = &mut product[..weights * columns];
        self.im2col(images, cols, padded);
        let lhs = Matrix::row_major(weight, rows);
        let rhs = Matrix::row_major(cols, columns);
        gemm_into(
            product,
            columns,
            lhs,
            rhs,
            [weights, columns, rows],
            false,
            Parallelism::None,
        );
        finish(product);
    }

    /// The gradients of the weight `dW [Co, C, Kh, Kw]`, the bias `db [Co]` and, if `want_dx`,
    /// the input `dx [N, C, H, W]`, in one pass over tasks of g images ([`Self::grads_task`]).
    /// `gather(dy, dyt)` writes the output gradient of a task's images, from its item of `dys`
    /// (one per task, in order), into `dyt [Co, g*Ho*Wo]` (image k's columns at `k*Ho*Wo..`,
    /// as the product's). The per-task `dW` and `db` are summed in task order.
    pub(super) fn grads<T: Send>(
        &self,
        x: &[f32],
        weight: &[f32],
        dys: impl IndexedParallelIterator<Item = T>,
        gather: impl Fn(T, &mut [f32]) + Sync,
        want_dx: bool,
    ) -> (Vec<f32>, Vec<f32>, Option<Vec<f32>>) {
        // One task: its images, their output gradients, and where their dx goes (if wanted).
        let task = |images: &[f32], dy: T, dx: Option<&mut [f32]>| {
            with_scratch(self.scratch_lens(), |scratch| {
                let gather = |dyt: &mut [f32]| gather(dy, dyt);
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, just checked.
                    return unsafe { self.grads_task_avx2(weight, images, gather, dx, scratch) };
                }
                self.grads_task(weight, images, gather, dx, scratch)
            })
        };
        let x_tasks = x.par_chunks(IMAGES_PER_TASK * self.image_len());
        let (partials, dx): (Vec<(Vec<f32>, Vec<f32>)>, _) = if want_dx {
            let mut dx = vec![0f32; x.len()];
            let partials = dx
                .par_chunks_mut(IMAGES_PER_TASK * self.image_len())
                .zip(x_tasks.zip(dys))
                .map(|(dx, (images, dy))| task(images, dy, Some(dx)))
                .collect();
            (partials, Some(dx))
        } else {
            let partials = x_tasks
                .zip(dys)
                .map(|(images, dy)| task(images, dy, None))
                .collect();
            (partials, None)
        };
        // Summed in task order: the same bits whatever thread ran which task.
        let (dw, db) = partials
            .into_iter()
            .reduce(|(mut dw, mut db), (part_dw, part_db)| {
                dw.iter_mut().zip(part_dw).for_each(|(s, p)| *s += p);
                db.iter_mut().zip(part_db).for_each(|(s, p)| *s += p);
                (dw, db)
            })
            .expect("a batch has at least one image");
        (dw, db, dx)
    }

    /// [`Self::grads_task`] compiled for AVX2 (see [`Self::output_task_avx2`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn grads_task_avx2(
        &self,
        weight: &[f32],
        images: &[f32],
        gather: impl FnOnce(&mut [f32]),
        dx: Option<&mut [f32]>,
        scratch: [&mut [f32]; 3],
    ) -> (Vec<f32>, Vec<f32>) {
        self.grads_task(weight, images, gather, dx, scratch)
    }

    /// One task of [`Self::grads`]: the output gradients of g images written into
    /// `dyt [Co, g*Ho*Wo]` by `gather`, then this task's `dW = dyt @ cols^T` and `db` (`dyt`'s
    /// row sums), and, with `dx`, `dcols = W^T @ dyt` col2im'd into the images' `dx [g, C, H, W]`.
    #[inline(always)]
    fn grads_task(
        &self,
        weight: &[f32],
        images: &[f32],
        gather: impl FnOnce(&mut [f32]),
        dx: Option<&mut [f32]>,
        [cols, dyt, padded]: [&mut [f32]; 3],
    ) -> (Vec<f32>, Vec<f32>) {
        let (rows, weights) = (self.rows(), self.channels_out);
        let columns = self.columns(images);
        let cols = &mut cols[..rows * columns];
        let dyt = &mut dyt[..weights * columns];
        gather(dyt);
        let db = dyt.chunks_exact(columns).map(sum).collect();
        let mut dw = vec![0f32; weights * rows];
        self.im2col(images, cols, padded);
        // dw = dyt [Co, n] @ cols^T [n, R]
        let lhs = Matrix::row_major(dyt, columns);
        let rhs = Matrix::row_major(cols, columns).transposed();
        gemm_into(
            &mut dw,
            rows,
            lhs,
            rhs,
            [weights, rows, columns],
            false,
            Parallelism::None,
        );
        if let Some(dx) = dx {
            // dcols = W^T [R, Co] @ dyt [Co, n], into cols (its values are used).
            let lhs = Matrix::row_major(weight, rows).transposed();
            let rhs = Matrix::row_major(dyt, columns);
            gemm_into(
                cols,
                columns,
                lhs,
                rhs,
                [rows, columns, weights],
                false,
                Parallelism::None,
            );
            self.col2im(cols, dx, padded);
        }
        (dw, db)
    }
}

/// The sum of `values` in eight interleaved partial sums (lane l adds values l, l+8, ...), then
/// the lanes in order: a fixed order that the compiler can keep in one vector register, where a
/// plain left-to-right sum is one serial chain of scalar additions.
#[inline(always)]
fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        lanes.iter_mut().zip(chunk).for_each(|(l, v)| *l += v);
    }
    lanes
        .iter_mut()
        .zip(chunks.remainder())
        .for_each(|(l, v)| *l += v);
    lanes.iter().sum()
}

/// `dst = src` for the short runs of im2col (10 to 28 values in LeNet), in blocks of 8 that
/// the compiler keeps in registers; `copy_from_slice` calls `memmove` for a length it does not
/// know, whose call costs more than such a copy.
#[inline(always)]
fn copy(dst: &mut [f32], src: &[f32]) {
    let mut dst = dst.chunks_exact_mut(8);
    let mut src = src.chunks_exact(8);
    for (d, s) in (&mut dst).zip(&mut src) {
        d.copy_from_slice(s);
    }
    for (d, s) in dst.into_remainder().iter_mut().zip(src.remainder()) {
        *d = *s;
    }
}

thread_local! {
    /// Each thread's scratch memory for the convolution tasks, kept across calls and steps:
    /// fresh buffers of this size (hundreds of KiB) come from `mmap`, and the page faults of
    /// first touching them cost more than the copies into them.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with three scratch slices of the given lengths from this thread's [`SCRATCH`]
/// (their contents are whatever the last task left there).
fn with_scratch<R>(lens: [usize; 3], f: impl FnOnce([&mut [f32]; 3]) -> R) -> R {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let total = lens.iter().sum();
        if scratch.len() < total {
            scratch.resize(total, 0.0);
        }
        let (a, rest) = scratch.split_at_mut(lens[0]);
        let (b, rest) = rest.split_at_mut(lens[1]);
        f([a, b, &mut rest[..lens[2]]])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{bits, cpu_devices, relative_difference};
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
                [11, 6, 14, 14], // two tasks of images, the second short
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
            for device in cpu_devices() {
                let conv = conv.clone().to_device(&device);
                let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
                // The same values laid out transposed in memory: the kernel's copy to row-major.
                let [n, c, h, w] = shape;
                let strided =
                    Tensor::<4>::random([n, c, w, h], Distribution::Normal(0.0, 1.0), &device)
                        .swap_dims(2, 3);
                for x in [x, strided] {
                    let ours = forward(&conv, x.clone());
                    let burns = conv.forward(x);
                    assert_eq!(ours.dims(), burns.dims(), "{shape:?} {device:?}");
                    assert!(
                        relative_difference(ours, burns) < 1e-5,
                        "{shape:?} {device:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn gradients_equal_burns_conv() {
        for device in cpu_devices().into_iter().filter(Device::is_autodiff) {
            for (conv, shape) in cases() {
                let conv = conv.to_device(&device);
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
                let case = format!("{shape:?} {device:?}");
                assert!(relative_difference(ours.0, burns.0) < 1e-5, "dx {case}");
                assert!(relative_difference(ours.1, burns.1) < 1e-5, "dw {case}");
                assert!(relative_difference(ours.2, burns.2) < 1e-5, "db {case}");
            }
        }
    }

    #[test]
    fn other_cases_use_burns_conv() {
        let strided = Conv2dConfig::new([2, 3], [3, 3])
            .with_stride([2, 2])
            .init(&Device::flex());
        assert_eq!(supported_padding(&strided), None);
        let x = Tensor::<4>::random(
            [2, 2, 9, 9],
            Distribution::Normal(0.0, 1.0),
            &Device::flex(),
        );
        assert_eq!(bits(forward(&strided, x.clone())), bits(strided.forward(x)));
        let same = Conv2dConfig::new([2, 3], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(&Device::flex());
        assert_eq!(supported_padding(&same), None);
        let (lenet_conv1, _) = cases().remove(0);
        assert_eq!(supported_padding(&lenet_conv1), Some([2, 2, 2, 2]));
    }
}
