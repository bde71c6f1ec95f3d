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
pub(super) fn is_2x2_stride_2(pool: &MaxPool2d) -> bool {
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
            .for_each(|((plane, out), places)| pool_plane(plane, width, out, places, relu, None));
    }
    let shape = Shape::from(vec![batch, channels, out_h, out_w]);
    (B::tensor(output, shape), argmax.into())
}

/// One plane `[h, w]` pooled into `out [h / 2, w / 2]` (`w >= 2`): each 2x2 window's maximum
/// of `x + bias` (`x` without a bias; of its ReLU if `relu`) by [`window_max`]'s rules, and its
/// argmax code in `places` (or [`BLOCKED`]). The fused convolution (`conv_pool`) pools its
/// products with it, adding the bias there.
///
/// Eight windows at a time with AVX2 where the CPU has it ([`avx2::pool_row`]: the same f32
/// operations and comparisons, the same bits), one at a time otherwise.
#[inline(always)]
pub(super) fn pool_plane(
    plane: &[f32],
    width: usize,
    out: &mut [f32],
    places: &mut [u8],
    relu: bool,
    bias: Option<f32>,
) {
    let out_w = width / 2;
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::arch::is_x86_feature_detected!("avx2");
    let out_rows = out
        .chunks_exact_mut(out_w)
        .zip(places.chunks_exact_mut(out_w));
    for (rows, (out, places)) in plane.chunks_exact(2 * width).zip(out_rows) {
        let (top, bottom) = rows.split_at(width);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU has AVX2, checked above.
            unsafe { avx2::pool_row(top, bottom, out, places, relu, bias) };
            continue;
        }
        let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
        for ((t, b), (out, place)) in windows.zip(out.iter_mut().zip(places)) {
            let window = [t[0], t[1], b[0], b[1]].map(|x| bias.map_or(x, |b| x + b));
            (*out, *place) = if relu {
                let (max, place) = window_max(window.map(relu_value));
                (max, if passes_relu(max) { place } else { BLOCKED })
            } else {
                window_max(window)
            };
        }
    }
}

/// [`pool_plane`]'s and [`unpool_plane`]'s rows with AVX2 intrinsics, eight windows at a time.
/// A row's last group of fewer than eight goes through zero-padded copies rather than masked
/// loads and stores (`vmaskmovps` stores are microcoded and slow on AMD's cores).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::BLOCKED;

    /// The windows of one pair of rows (`top`, `bottom`: `w` values each; `out`, `places`:
    /// `w / 2`): `x + bias` (if any), ReLU's `x > 0 || x is NaN ? x : +0` (if `relu`), then
    /// the row-major scan of `window_max` as blends: a later value replaces the best if it is
    /// greater (an ordered comparison) or NaN. The same operations on the same values as the
    /// scalar loop: the same bits.
    ///
    /// # Panics
    /// If `top` or `bottom` holds fewer than `2 * out.len()` values or `places` fewer than
    /// `out.len()`.
    #[target_feature(enable = "avx2")]
    pub(super) fn pool_row(
        top: &[f32],
        bottom: &[f32],
        out: &mut [f32],
        places: &mut [u8],
        relu: bool,
        bias: Option<f32>,
    ) {
        let windows = out.len();
        let full = windows / 8 * 8;
        for start in (0..full).step_by(8) {
            let inputs = 2 * start..2 * start + 16;
            let (max, codes) = pool_8(&top[inputs.clone()], &bottom[inputs], relu, bias);
            store(&mut out[start..start + 8], max);
            places[start..start + 8].copy_from_slice(&codes);
        }
        let rest = windows - full;
        if rest > 0 {
            let inputs = 2 * full..2 * windows;
            let (mut t, mut b) = ([0f32; 16], [0f32; 16]);
            t[..2 * rest].copy_from_slice(&top[inputs.clone()]);
            b[..2 * rest].copy_from_slice(&bottom[inputs]);
            let (max, codes) = pool_8(&t, &b, relu, bias);
            let mut m = [0f32; 8];
            store(&mut m, max);
            out[full..].copy_from_slice(&m[..rest]);
            places[full..windows].copy_from_slice(&codes[..rest]);
        }
    }

    /// Eight windows: their maxima and argmax codes (see [`pool_row`]); `top` and `bottom` hold
    /// at least 16 values.
    #[target_feature(enable = "avx2")]
    fn pool_8(top: &[f32], bottom: &[f32], relu: bool, bias: Option<f32>) -> (__m256, [u8; 8]) {
        let (t0, t1) = deinterleave(load(&top[..8]), load(&top[8..16]));
        let (b0, b1) = deinterleave(load(&bottom[..8]), load(&bottom[8..16]));
        let mut best = value(t0, bias, relu);
        let mut place = _mm256_setzero_si256();
        for (code, x) in [(1, t1), (2, b0), (3, b1)] {
            let x = value(x, bias, relu);
            let replace = _mm256_or_ps(
                _mm256_cmp_ps::<_CMP_GT_OQ>(x, best),
                _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x),
            );
            best = _mm256_blendv_ps(best, x, replace);
            let code = _mm256_set1_epi32(code);
            place = _mm256_blendv_epi8(place, code, _mm256_castps_si256(replace));
        }
        if relu {
            let blocked = _mm256_set1_epi32(i32::from(BLOCKED));
            let passes = _mm256_castps_si256(passes_relu(best));
            place = _mm256_blendv_epi8(blocked, place, passes);
        }
        // The eight codes (0..=4) narrowed to bytes: i32 -> i16 -> u8.
        let words = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(place, place));
        let bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm_setzero_si128());
        (best, (_mm_cvtsi128_si64(bytes) as u64).to_le_bytes())
    }

    /// The gradient of one pair of rows (`top`, `bottom`: `w` values each) from `grad` and
    /// `places` (`w / 2` each): per window, `g` where the code is the place and +0 elsewhere,
    /// the places interleaved back into the rows.
    ///
    /// # Panics
    /// If `top` or `bottom` holds fewer than `2 * grad.len()` values or `places` fewer than
    /// `grad.len()`.
    #[target_feature(enable = "avx2")]
    pub(super) fn unpool_row(grad: &[f32], places: &[u8], top: &mut [f32], bottom: &mut [f32]) {
        let windows = grad.len();
        let full = windows / 8 * 8;
        for start in (0..full).step_by(8) {
            let codes = places[start..start + 8].try_into().expect("eight codes");
            let [t0, t1, b0, b1] = unpool_8(load(&grad[start..start + 8]), codes);
            let outputs = 2 * start..2 * start + 16;
            let (top, bottom) = (&mut top[outputs.clone()], &mut bottom[outputs]);
            store(&mut top[..8], t0);
            store(&mut top[8..], t1);
            store(&mut bottom[..8], b0);
            store(&mut bottom[8..], b1);
        }
        let rest = windows - full;
        if rest > 0 {
            let (mut g, mut codes) = ([0f32; 8], [BLOCKED; 8]);
            g[..rest].copy_from_slice(&grad[full..]);
            codes[..rest].copy_from_slice(&places[full..windows]);
            let [t0, t1, b0, b1] = unpool_8(load(&g), codes);
            let (mut t, mut b) = ([0f32; 16], [0f32; 16]);
            store(&mut t[..8], t0);
            store(&mut t[8..], t1);
            store(&mut b[..8], b0);
            store(&mut b[8..], b1);
            let outputs = 2 * full..2 * windows;
            top[outputs.clone()].copy_from_slice(&t[..2 * rest]);
            bottom[outputs].copy_from_slice(&b[..2 * rest]);
        }
    }

    /// Eight windows' gradients `g` and codes: the top row's 16 values (two registers), then
    /// the bottom row's.
    #[target_feature(enable = "avx2")]
    fn unpool_8(g: __m256, codes: [u8; 8]) -> [__m256; 4] {
        let codes = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(i64::from_le_bytes(codes)));
        let at = |code: i32| {
            let here = _mm256_cmpeq_epi32(codes, _mm256_set1_epi32(code));
            _mm256_and_ps(g, _mm256_castsi256_ps(here))
        };
        let (top, bottom) = (interleave(at(0), at(1)), interleave(at(2), at(3)));
        [top.0, top.1, bottom.0, bottom.1]
    }

    /// `[e0, o0, e1, o1, ...]` of eight even and eight odd values, in two registers.
    #[target_feature(enable = "avx2")]
    fn interleave(even: __m256, odd: __m256) -> (__m256, __m256) {
        // Per 128-bit half: [e0 o0 e1 o1 | e4 o4 e5 o5] and [e2 o2 e3 o3 | e6 o6 e7 o7].
        let (a, b) = (_mm256_unpacklo_ps(even, odd), _mm256_unpackhi_ps(even, odd));
        (
            _mm256_permute2f128_ps::<0x20>(a, b),
            _mm256_permute2f128_ps::<0x31>(a, b),
        )
    }

    /// The even and the odd elements of the 16 values `a ++ b`, each in order.
    #[target_feature(enable = "avx2")]
    fn deinterleave(a: __m256, b: __m256) -> (__m256, __m256) {
        // Per 128-bit half: [a0 a2 b0 b2 | a4 a6 b4 b6]; the 64-bit blocks reordered to
        // [a0 a2 a4 a6 b0 b2 b4 b6].
        let even = _mm256_castps_pd(_mm256_shuffle_ps::<0b10_00_10_00>(a, b));
        let odd = _mm256_castps_pd(_mm256_shuffle_ps::<0b11_01_11_01>(a, b));
        (
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(even)),
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(odd)),
        )
    }

    /// `x + bias` (if any), then ReLU (if `relu`): `x` where it passes, +0 elsewhere.
    #[target_feature(enable = "avx2")]
    fn value(x: __m256, bias: Option<f32>, relu: bool) -> __m256 {
        let x = match bias {
            Some(b) => _mm256_add_ps(x, _mm256_set1_ps(b)),
            None => x,
        };
        if relu {
            _mm256_and_ps(x, passes_relu(x))
        } else {
            x
        }
    }

    /// All ones in the lanes that ReLU passes (`x > 0` or NaN), else zero.
    #[target_feature(enable = "avx2")]
    fn passes_relu(x: __m256) -> __m256 {
        _mm256_or_ps(
            _mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_setzero_ps()),
            _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x),
        )
    }

    /// The first eight values of `values`.
    #[target_feature(enable = "avx2")]
    fn load(values: &[f32]) -> __m256 {
        let values: &[f32; 8] = values[..8].try_into().expect("eight values");
        // SAFETY: `values` is eight f32s, read unaligned.
        unsafe { _mm256_loadu_ps(values.as_ptr()) }
    }

    /// `values[..8] = x`.
    #[target_feature(enable = "avx2")]
    fn store(values: &mut [f32], x: __m256) {
        let values: &mut [f32; 8] = (&mut values[..8]).try_into().expect("eight values");
        // SAFETY: `values` is eight f32s, written unaligned.
        unsafe { _mm256_storeu_ps(values.as_mut_ptr(), x) }
    }
}

/// The gradient of [`pool_plane`] into `plane [h, w]`: each value of `grad [h / 2, w / 2]` at
/// its window's argmax and +0 at the window's other places (at all four where the code is
/// [`BLOCKED`]). Every window's four values are written, in order, so the plane needs no
/// zeroing first except for a trailing odd row or column, which no window covers and which is
/// left as it is.
///
/// Eight windows at a time with AVX2 where the CPU has it ([`avx2::unpool_row`]), one at a time
/// otherwise; the same values.
#[inline(always)]
pub(super) fn unpool_plane(grad: &[f32], places: &[u8], width: usize, plane: &mut [f32]) {
    let out_w = width / 2;
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::arch::is_x86_feature_detected!("avx2");
    let out_rows = grad.chunks_exact(out_w).zip(places.chunks_exact(out_w));
    for (rows, (grad, places)) in plane.chunks_exact_mut(2 * width).zip(out_rows) {
        let (top, bottom) = rows.split_at_mut(width);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU has AVX2, checked above.
            unsafe { avx2::unpool_row(grad, places, top, bottom) };
            continue;
        }
        let windows = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
        for ((t, b), (&g, &place)) in windows.zip(grad.iter().zip(places)) {
            let at = |code: u8| if place == code { g } else { 0.0 };
            [t[0], t[1], b[0], b[1]] = [at(0), at(1), at(2), at(3)];
        }
    }
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
            .for_each(|((plane, grad), places)| unpool_plane(grad, places, width, plane));
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

    const SHAPES: [([usize; 4], bool); 5] = [
        ([3, 4, 28, 28], false),
        ([1, 2, 6, 35], true), // 17 windows a row: two full groups of 8 (AVX2) and one masked
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
