//! Faster formulations of the zoo's layers on the flex CPU backend, as Burn backend extensions.
//!
//! Why: profiling a LeNet train step on flex (burn-flex 0.22.1, 2-core machine; BENCHMARKS.md)
//! put half the step in the convolutions' backward passes, which Burn computes with general 3-D
//! convolution and transposed-convolution loops, and a large share in the 2x2 max pool, which
//! flex runs through its general 3-D pooling loop; the convolution's forward, as im2col + GEMM,
//! also measured faster than flex's. Formulations from tensor ops were tried first
//! and were slower (each stage of their backward allocates and scatters), so these are backend
//! extensions (`#[backend_extension(Flex, Autodiff)]`): a kernel on flex's tensors, and for
//! autodiff a backward node of our own.
//!
//! Each layer's entry point (`pool::forward`, `conv::forward`) takes the Burn module and falls
//! back to the module's own `forward` for any configuration, backend or dtype the kernel does not
//! cover (ndarray, wgpu, f64, ...), so a model written with them runs everywhere. Each kernel is
//! tested against Burn's op on flex, values and gradients. ember's Rprop uses the same mechanism
//! for its update (`optim/src/rprop/flex.rs`, with its own copy of the flex checks, since the
//! optimizer crate depends on Burn alone).

pub mod conv;
pub mod pool;

use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::{DispatchTensor, DispatchTensorKind, TensorMetadata};
use burn::tensor::{Bytes, DType, Shape};

/// Whether a tensor is one the kernels implement: f32 on flex, tracked by autodiff or not.
pub fn on_flex_f32(x: &DispatchTensor) -> bool {
    let kind = match &x.kind {
        DispatchTensorKind::Autodiff(inner) => inner.as_ref(),
        kind => kind,
    };
    matches!(kind, DispatchTensorKind::Flex(_)) && x.kind.dtype() == DType::F32
}

/// A contiguous f32 flex tensor of `shape` holding `values` (row-major).
pub fn f32_tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(shape),
        DType::F32,
    )
}

/// The values of a contiguous f32 flex tensor (as made by `FlexTensor::to_contiguous`).
///
/// # Panics
/// If `t` is not contiguous or not f32: a bug in the caller, never user input.
pub fn f32_data(t: &FlexTensor) -> &[f32] {
    t.as_slice().expect("a contiguous f32 tensor has a slice")
}

/// The four dimensions of a rank-4 tensor.
fn dims4(x: &FlexTensor) -> [usize; 4] {
    let shape = x.layout().shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

/// Shared helpers of the kernel tests.
#[cfg(test)]
mod test_util {
    use burn::tensor::Tensor;

    /// The bit patterns of a tensor's values, to compare results exactly (NaN included).
    pub fn bits<const D: usize>(t: Tensor<D>) -> Vec<u32> {
        let values = t.into_data().try_to_vec::<f32>().unwrap();
        values.iter().map(|v| v.to_bits()).collect()
    }
}
