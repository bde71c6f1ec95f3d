//! Faster formulations of the zoo's layers on the CPU backends (flex and ndarray), as Burn
//! backend extensions.
//!
//! Why: profiling a LeNet train step on flex (burn-flex 0.22.1, 2-core machine; BENCHMARKS.md)
//! put half the step in the convolutions' backward passes, which Burn computes with general 3-D
//! convolution and transposed-convolution loops, and a large share in the 2x2 max pool, which
//! flex runs through its general 3-D pooling loop; the convolution's forward, as im2col + GEMM,
//! also measured faster than flex's. Formulations from tensor ops were tried first
//! and were slower (each stage of their backward allocates and scatters), so these are backend
//! extensions (`#[backend_extension(Flex, NdArray, Autodiff)]`): a kernel on the backend's f32
//! values, and for autodiff a backward node of our own. burn-ndarray's own convolution and pool
//! were slower still (a LeNet step 12-17x flex's), so ndarray runs the same kernels: they work
//! on `&[f32]`, and [`CpuBackend`] is all that differs between the two backends.
//!
//! Each layer's entry point (`pool::forward`, `conv::forward`, and `conv_pool::forward` for a
//! convolution, its ReLU and a pool fused into one operation) takes the Burn modules and falls
//! back to their own `forward` for any configuration, backend or dtype the kernel does not
//! cover (wgpu, f64, strides, ...), so a model written with them runs everywhere. Each kernel is
//! tested against Burn's op on both backends, values and gradients. ember's Rprop uses the same
//! mechanism for its update (`optim/src/rprop/flex.rs`, with its own copy of the flex checks,
//! since the optimizer crate depends on Burn alone).

// The kernels implement ndarray, one of ember's backends, which Burn deprecates in favour of
// flex; `backend_extension`'s generated dispatch names it, so the allowance is per module.
#[allow(deprecated)]
pub mod conv;
#[allow(deprecated)]
pub mod conv_pool;
#[allow(deprecated)]
pub mod linear;
#[allow(deprecated)]
pub mod pool;

mod gemm;

use burn::backend::flex::FlexTensor;
#[allow(deprecated)] // ndarray is one of ember's backends (Burn deprecates it for flex).
use burn::backend::ndarray::NdArrayTensor;
use burn::backend::tensor::FloatTensor;
#[allow(deprecated)]
use burn::backend::{Backend, DispatchTensor, DispatchTensorKind, Flex, NdArray, TensorMetadata};
use burn::tensor::{DType, Shape, TensorData};

/// Whether a tensor is one the kernels implement: f32 on flex or ndarray, tracked by autodiff or
/// not.
pub fn on_cpu_f32(x: &DispatchTensor) -> bool {
    let kind = match &x.kind {
        DispatchTensorKind::Autodiff(inner) => inner.as_ref(),
        kind => kind,
    };
    matches!(
        kind,
        DispatchTensorKind::Flex(_) | DispatchTensorKind::NdArray(_)
    ) && x.kind.dtype() == DType::F32
}

/// The CPU backends the kernels run on (flex and ndarray): how a kernel reads the values of an
/// f32 tensor and makes a tensor of its own results. The kernels themselves work on `&[f32]`,
/// so both backends run the same code.
pub trait CpuBackend: Backend {
    /// `x` (f32, any layout) with contiguous row-major values; no copy when it already is.
    ///
    /// # Panics
    /// If `x` is not f32: the callers check with [`on_cpu_f32`] first.
    fn contiguous(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The row-major values of a tensor made by [`contiguous`](Self::contiguous).
    ///
    /// # Panics
    /// For any other tensor: a bug in the caller, never user input.
    fn values(x: &FloatTensor<Self>) -> &[f32];

    /// A tensor of this backend holding `values` (row-major) of `shape`, without a copy.
    fn tensor(values: Vec<f32>, shape: Shape) -> FloatTensor<Self>;
}

impl CpuBackend for Flex {
    fn contiguous(x: FlexTensor) -> FlexTensor {
        assert_eq!(x.dtype(), DType::F32, "ember's kernels take f32 tensors");
        x.to_contiguous()
    }

    fn values(x: &FlexTensor) -> &[f32] {
        x.as_slice().expect("a contiguous f32 tensor has a slice")
    }

    fn tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values, shape))
    }
}

#[allow(deprecated)] // ndarray is one of ember's backends (Burn deprecates it for flex).
impl CpuBackend for NdArray {
    fn contiguous(x: NdArrayTensor) -> NdArrayTensor {
        let NdArrayTensor::F32(storage) = &x else {
            panic!("ember's kernels take f32 tensors, not {:?}", x.dtype());
        };
        let view = storage.view();
        if view.to_slice().is_some() {
            return x;
        }
        let values = view.iter().copied().collect();
        Self::tensor(values, x.shape())
    }

    fn values(x: &NdArrayTensor) -> &[f32] {
        match x {
            NdArrayTensor::F32(storage) => storage.view().to_slice(),
            _ => None,
        }
        .expect("a contiguous f32 tensor has a slice")
    }

    fn tensor(values: Vec<f32>, shape: Shape) -> NdArrayTensor {
        NdArrayTensor::from_data(TensorData::new(values, shape))
    }
}

/// burn-flex's ReLU of one value (`burn_flex::ops::activation`, 0.22.1): `x` if above 0 or NaN
/// (NaN propagates, as in PyTorch), else 0; the kernels that fuse a ReLU use it, so that they
/// give ReLU's bits.
fn relu_value(x: f32) -> f32 {
    if passes_relu(x) { x } else { 0.0 }
}

/// Whether ReLU passes `x`, and the gradient where its output is `x` (burn-flex's rule: above
/// 0, or NaN).
fn passes_relu(x: f32) -> bool {
    x.is_nan() || x > 0.0
}

/// The four dimensions of a rank-4 shape.
fn dims4(shape: &Shape) -> [usize; 4] {
    [shape[0], shape[1], shape[2], shape[3]]
}

/// Shared helpers of the kernel tests.
#[cfg(test)]
mod test_util {
    use burn::tensor::{DType, Device, Distribution, Tensor};

    /// The backends the kernels implement, without and with autodiff.
    pub fn cpu_devices() -> [Device; 4] {
        #[allow(deprecated)] // ndarray is one of ember's backends.
        let ndarray = Device::ndarray();
        [
            Device::flex(),
            Device::flex().autodiff(),
            ndarray.clone(),
            ndarray.autodiff(),
        ]
    }

    /// The largest difference relative to the largest magnitude of Burn's result.
    pub fn relative_difference<const D: usize>(ours: Tensor<D>, burns: Tensor<D>) -> f32 {
        let scale = burns.clone().abs().max().into_scalar::<f32>();
        (ours - burns).abs().max().into_scalar::<f32>() / scale
    }

    #[test]
    fn kernels_take_f32_on_flex_and_ndarray_only() {
        for device in cpu_devices() {
            let x = Tensor::<2>::random([2, 3], Distribution::Default, &device);
            assert!(super::on_cpu_f32(&x.clone().into_dispatch()), "{device:?}");
            let f64 = x.cast(DType::F64).into_dispatch();
            assert!(!super::on_cpu_f32(&f64), "{device:?}");
        }
    }

    /// The bit patterns of a tensor's values, to compare results exactly (NaN included).
    pub fn bits<const D: usize>(t: Tensor<D>) -> Vec<u32> {
        let values = t.into_data().try_to_vec::<f32>().unwrap();
        values.iter().map(|v| v.to_bits()).collect()
    }
}
