//! Adam's and AdamW's update as one pass over each parameter tensor on flex and ndarray, as a
//! Burn backend extension, written into the moments' own buffers (and the parameter's, when
//! nothing else holds it).
//!
//! Why: with tensor ops (`super::tensor_ops_step`) one step is ten to twelve element-wise ops
//! per parameter tensor, each a pass over the tensor and most a fresh buffer; on the MLP at
//! batch 64 that was about a fifth of a training step (BENCHMARKS.md). Here each element is read
//! and written once, as `torch.optim.Adam(fused=True)` does on GPUs.
//!
//! The arithmetic is the tensor ops', operation for operation and in f32, with their scalars
//! rounded to f32 as the backends round them ([`Scalars`]): `lerp`'s two forms,
//! `v·β2 + (g·(1−β2))·g`, Burn's `max_pair` (`v̂ < v ? v : v̂`), `√v / √(1−β2^t) + ε`,
//! `θ + (m·(−lr/(1−β1^t))) / denom`; no multiply-add is fused, since the backends round after
//! every op. So both paths give the same bits on both backends (`tests` check every variant,
//! NaN and infinities included). The variants (L2 or decoupled weight decay, AMSGrad, `lerp`'s
//! form) are const parameters of the loop, so each compiles to a branch-free body that
//! vectorizes.

use burn::backend::flex::FlexTensor;
use burn::backend::ndarray::{NdArrayTensor, SharedArray};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, NdArray, backend_extension};
use burn::tensor::Tensor;

use super::AdamState;
use crate::flex::{all_on_flex_f32, all_on_ndarray_f32, f32_data};

/// One step's constants, rounded to f32 as the tensor ops round them (flex and ndarray cast
/// each f64 scalar of `mul_scalar`, `div_scalar` and `add_scalar` to f32).
#[derive(Debug, Clone, Copy)]
pub(super) struct Scalars {
    /// The weight decay, `None` for 0.
    pub weight_decay: WeightDecay,
    /// `lerp`'s weight `1 − β1` in f32 and its form: `m + (g − m)·w` when `|w| < 0.5`,
    /// otherwise `g − (g − m)·(1 − w)` (`crate::common::lerp`).
    pub lerp_weight: f32,
    /// β2.
    pub beta2: f32,
    /// 1 − β2 (rounded from f64).
    pub one_minus_beta2: f32,
    /// √(1 − β2^t).
    pub bias_correction2_sqrt: f32,
    /// ε.
    pub eps: f32,
    /// −lr / (1 − β1^t).
    pub neg_step_size: f32,
}

/// Weight decay in its two forms, as the f32 scalar the tensor ops use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum WeightDecay {
    /// None (`weight_decay` 0).
    None,
    /// Adam's L2 term: `g + θ·wd`, with `wd`.
    L2(f32),
    /// AdamW's decoupled decay before the step: `θ·(1 − lr·wd)`, with that factor.
    Decoupled(f32),
}

/// [`WeightDecay`]'s variants as `update`'s const parameter.
const NO_DECAY: u8 = 0;
const L2: u8 = 1;
const DECOUPLED: u8 = 2;

/// Whether the kernel applies: every tensor of the step is f32 on flex, or every one on ndarray.
pub(super) fn applies<const D: usize>(
    param: &Tensor<D>,
    grad: &Tensor<D>,
    state: &AdamState<D>,
) -> bool {
    let tensors = [param, grad, &state.exp_avg, &state.exp_avg_sq];
    let tensors = || tensors.into_iter().chain(&state.max_exp_avg_sq);
    all_on_flex_f32(tensors()) || all_on_ndarray_f32(tensors())
}

/// The step with the kernel; only where [`applies`] (the extension panics on other backends).
/// `state.step` is the step being taken, as `scalars` are its constants.
pub(super) fn step<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    state: AdamState<D>,
    scalars: Scalars,
) -> (Tensor<D>, AdamState<D>) {
    let [param, grad, exp_avg, exp_avg_sq] =
        [param, grad, state.exp_avg, state.exp_avg_sq].map(|t| t.into_dispatch());
    let wrap = Tensor::<D>::from_dispatch;
    let (param, exp_avg, exp_avg_sq, max_exp_avg_sq) = match state.max_exp_avg_sq {
        None => {
            let (param, exp_avg, exp_avg_sq) =
                Dispatch::adam_step(param, grad, exp_avg, exp_avg_sq, scalars);
            (param, exp_avg, exp_avg_sq, None)
        }
        Some(max) => {
            let max = max.into_dispatch();
            let (param, exp_avg, exp_avg_sq, max) =
                Dispatch::amsgrad_step(param, grad, exp_avg, exp_avg_sq, max, scalars);
            (param, exp_avg, exp_avg_sq, Some(max))
        }
    };
    let state = AdamState {
        step: state.step,
        exp_avg: wrap(exp_avg),
        exp_avg_sq: wrap(exp_avg_sq),
        max_exp_avg_sq: max_exp_avg_sq.map(wrap),
    };
    (wrap(param), state)
}

/// The backend extension; flex and ndarray.
#[backend_extension(Flex, NdArray)]
pub trait AdamStep: burn::backend::Backend {
    /// Adam or AdamW on same-shape f32 tensors: returns `(param, exp_avg, exp_avg_sq)`.
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        exp_avg: FloatTensor<Self>,
        exp_avg_sq: FloatTensor<Self>,
        scalars: Scalars,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// AMSGrad (with L2 or decoupled weight decay) on same-shape f32 tensors: returns `(param,
    /// exp_avg, exp_avg_sq, max_exp_avg_sq)`.
    fn amsgrad_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        exp_avg: FloatTensor<Self>,
        exp_avg_sq: FloatTensor<Self>,
        max_exp_avg_sq: FloatTensor<Self>,
        scalars: Scalars,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

/// Flex and ndarray: the kernel on each backend's own f32 buffers.
impl<B: CpuF32> AdamStep for B {
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        exp_avg: FloatTensor<Self>,
        exp_avg_sq: FloatTensor<Self>,
        scalars: Scalars,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [param, grad, exp_avg, exp_avg_sq] =
            [param, grad, exp_avg, exp_avg_sq].map(B::Buffer::from_tensor);
        let (param, exp_avg, exp_avg_sq, _) = run(param, grad, exp_avg, exp_avg_sq, None, scalars);
        [param, exp_avg, exp_avg_sq].map(Buffer::into_tensor).into()
    }

    fn amsgrad_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        exp_avg: FloatTensor<Self>,
        exp_avg_sq: FloatTensor<Self>,
        max_exp_avg_sq: FloatTensor<Self>,
        scalars: Scalars,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let [param, grad, exp_avg, exp_avg_sq, max] =
            [param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq].map(B::Buffer::from_tensor);
        let (param, exp_avg, exp_avg_sq, max) =
            run(param, grad, exp_avg, exp_avg_sq, Some(max), scalars);
        let max = max.expect("an AMSGrad step returns its running maximum");
        [param, exp_avg, exp_avg_sq, max]
            .map(Buffer::into_tensor)
            .into()
    }
}

/// A backend whose f32 tensors the kernel reads and writes as a [`Buffer`].
pub trait CpuF32: burn::backend::Backend {
    /// The f32 buffer of one of the backend's float tensors.
    type Buffer: Buffer<Tensor = FloatTensor<Self>>;
}

impl CpuF32 for Flex {
    type Buffer = FlexTensor;
}

impl CpuF32 for NdArray {
    type Buffer = SharedArray<f32>;
}

/// A CPU backend's f32 tensor as the kernel reads and writes it.
pub trait Buffer: Sized {
    /// The backend's float tensor.
    type Tensor;
    /// The buffer of an f32 tensor (the kernel runs only where [`applies`] says so).
    ///
    /// # Panics
    /// If the tensor is not f32.
    fn from_tensor(t: Self::Tensor) -> Self;
    /// The tensor again.
    fn into_tensor(self) -> Self::Tensor;
    /// The same values, contiguous and row-major: no copy when they already are.
    fn contiguous(self) -> Self;
    /// Elements.
    fn len(&self) -> usize;
    /// The values of a [`contiguous`](Self::contiguous) tensor.
    fn values(&self) -> &[f32];
    /// The same, writable: copied first if something else holds the buffer.
    fn values_mut(&mut self) -> &mut [f32];
}

impl Buffer for FlexTensor {
    type Tensor = FlexTensor;

    fn from_tensor(t: FlexTensor) -> Self {
        t
    }

    fn into_tensor(self) -> FlexTensor {
        self
    }

    fn contiguous(self) -> Self {
        self.to_contiguous()
    }

    fn len(&self) -> usize {
        self.layout().num_elements()
    }

    fn values(&self) -> &[f32] {
        f32_data(self)
    }

    fn values_mut(&mut self) -> &mut [f32] {
        self.storage_mut()
    }
}

impl Buffer for SharedArray<f32> {
    type Tensor = NdArrayTensor;

    /// A copy only if the tensor's storage is borrowed, as a loaded record's may be.
    fn from_tensor(t: NdArrayTensor) -> Self {
        match t {
            NdArrayTensor::F32(storage) => storage.into_shared(),
            _ => panic!("Adam's fused kernel takes f32 tensors"),
        }
    }

    fn into_tensor(self) -> NdArrayTensor {
        self.into()
    }

    fn contiguous(self) -> Self {
        if self.is_standard_layout() {
            self
        } else {
            self.as_standard_layout().into_owned().into_shared()
        }
    }

    fn len(&self) -> usize {
        // ndarray's own `len` (inherent methods come before trait methods).
        self.len()
    }

    fn values(&self) -> &[f32] {
        self.as_slice()
            .expect("a standard-layout array has a slice")
    }

    fn values_mut(&mut self) -> &mut [f32] {
        // `ArcArray::as_slice_mut` makes the array unique first (a copy if it is shared).
        self.as_slice_mut()
            .expect("a standard-layout array has a slice")
    }
}

/// Overwrites the parameter and the moments (or copies of those something else holds) with their
/// updated values.
fn run<T: Buffer>(
    param: T,
    grad: T,
    exp_avg: T,
    exp_avg_sq: T,
    max_exp_avg_sq: Option<T>,
    scalars: Scalars,
) -> (T, T, T, Option<T>) {
    let grad = grad.contiguous();
    let len = grad.len();
    let grad = &grad.values()[..len];
    // Written in place: `contiguous` keeps a contiguous tensor's buffer (the argument, moved in,
    // is dropped), and `values_mut` copies it first only if something else holds it (the module
    // or the autodiff graph may hold the parameter; only the state holds the moments).
    let [mut param, mut exp_avg, mut exp_avg_sq] =
        [param, exp_avg, exp_avg_sq].map(Buffer::contiguous);
    let mut max = max_exp_avg_sq.map(Buffer::contiguous);
    {
        // Slices of exactly `len` elements: the loop then has no bounds checks.
        let slices = Slices {
            param: &mut param.values_mut()[..len],
            grad,
            exp_avg: &mut exp_avg.values_mut()[..len],
            exp_avg_sq: &mut exp_avg_sq.values_mut()[..len],
            max: max.as_mut().map(|t| &mut t.values_mut()[..len]),
        };
        // Each combination of the variants is a loop of its own, without branches on them.
        // One thread: split across the two cores of the test machine, in tasks of 16,384
        // elements, the MLP's epoch at batch 64 took 0.420 s instead of 0.383 s.
        match scalars.weight_decay {
            WeightDecay::None => by_amsgrad::<NO_DECAY>(slices, scalars),
            WeightDecay::L2(_) => by_amsgrad::<L2>(slices, scalars),
            WeightDecay::Decoupled(_) => by_amsgrad::<DECOUPLED>(slices, scalars),
        }
    }
    (param, exp_avg, exp_avg_sq, max)
}

/// The tensors of one step, `len` elements each.
struct Slices<'a> {
    param: &'a mut [f32],
    grad: &'a [f32],
    exp_avg: &'a mut [f32],
    exp_avg_sq: &'a mut [f32],
    max: Option<&'a mut [f32]>,
}

fn by_amsgrad<const DECAY: u8>(s: Slices<'_>, c: Scalars) {
    if s.max.is_some() {
        by_lerp::<DECAY, true>(s, c)
    } else {
        by_lerp::<DECAY, false>(s, c)
    }
}

fn by_lerp<const DECAY: u8, const AMSGRAD: bool>(s: Slices<'_>, c: Scalars) {
    if c.lerp_weight.abs() < 0.5 {
        update::<DECAY, AMSGRAD, true>(s, c)
    } else {
        update::<DECAY, AMSGRAD, false>(s, c)
    }
}

/// The update of every element, in the widest vectors the CPU has: the loop is bound by its
/// square root and two divisions, which compiled for the x86-64 baseline run four lanes at a
/// time (the MLP's 79,510 parameters took 17% of a batch-64 training step so); AVX-512 runs
/// sixteen. Same bits at every width (IEEE's `√` and `/` are correctly rounded).
fn update<const DECAY: u8, const AMSGRAD: bool, const SMALL: bool>(s: Slices<'_>, c: Scalars) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { update_avx512::<DECAY, AMSGRAD, SMALL>(s, c) };
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX (checked above).
            return unsafe { update_avx::<DECAY, AMSGRAD, SMALL>(s, c) };
        }
    }
    update_elements::<DECAY, AMSGRAD, SMALL>(s, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn update_avx512<const DECAY: u8, const AMSGRAD: bool, const SMALL: bool>(
    s: Slices<'_>,
    c: Scalars,
) {
    update_elements::<DECAY, AMSGRAD, SMALL>(s, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn update_avx<const DECAY: u8, const AMSGRAD: bool, const SMALL: bool>(s: Slices<'_>, c: Scalars) {
    update_elements::<DECAY, AMSGRAD, SMALL>(s, c)
}

/// The update of every element. `DECAY`: none, `g + θ·wd` ([`L2`]) or `θ·(1 − lr·wd)` first
/// ([`DECOUPLED`]); `AMSGRAD`: the running maximum `v̂` (then `max` is present) in place of `v`;
/// `SMALL`: `lerp`'s form for `|1 − β1| < 0.5`.
#[inline(always)]
fn update_elements<const DECAY: u8, const AMSGRAD: bool, const SMALL: bool>(
    s: Slices<'_>,
    c: Scalars,
) {
    let len = s.grad.len();
    let (weight_decay, decay) = match c.weight_decay {
        WeightDecay::L2(wd) => (wd, 1.0),
        WeightDecay::Decoupled(factor) => (0.0, factor),
        WeightDecay::None => (0.0, 1.0),
    };
    let w = c.lerp_weight;
    let one_minus_w = 1.0f32 - w;
    // An empty slice without AMSGrad: never indexed then.
    let max = s.max.unwrap_or_default();
    let max = if AMSGRAD { &mut max[..len] } else { max };
    // One index into five slices of `len` elements (no bounds checks); zipping five iterators
    // reads worse and compiles to the same loop.
    #[allow(clippy::needless_range_loop)]
    for i in 0..len {
        let mut p = s.param[i];
        if DECAY == DECOUPLED {
            p *= decay;
        }
        let g = if DECAY == L2 {
            s.grad[i] + p * weight_decay
        } else {
            s.grad[i]
        };
        let m = s.exp_avg[i];
        let m = if SMALL {
            m + (g - m) * w
        } else {
            g - (g - m) * one_minus_w
        };
        let v = s.exp_avg_sq[i] * c.beta2 + (g * c.one_minus_beta2) * g;
        let second = if AMSGRAD {
            // Burn's `max_pair`: the old maximum unless it is lower (so NaN in v is ignored).
            let old = max[i];
            let new = if old < v { v } else { old };
            max[i] = new;
            new
        } else {
            v
        };
        let denom = second.sqrt() / c.bias_correction2_sqrt + c.eps;
        s.param[i] = p + (m * c.neg_step_size) / denom;
        s.exp_avg[i] = m;
        s.exp_avg_sq[i] = v;
    }
}

#[cfg(test)]
mod tests;
