//! What the optimizers' fused CPU kernels (`adam/fused.rs` on flex and ndarray, `rprop/flex.rs`
//! on flex) share: the check that a step's tensors are f32 on one backend, and f32 views of flex
//! tensors.
//!
//! Why fused kernels: written with tensor ops, an optimizer step is about ten element-wise ops
//! per parameter tensor, each reading and writing a whole buffer and most allocating a new one
//! in burn-flex 0.22.1; a kernel reads and writes every element once.

use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::{DispatchTensorKind, TensorMetadata};
use burn::tensor::{Bytes, DType, Shape, Tensor};

/// Whether every tensor is f32 on flex (tracked by autodiff or not), so a kernel applies. (The
/// zoo's flex kernels make the same check; this crate depends on Burn alone, so it has its own.)
pub(crate) fn all_on_flex_f32<'a, const D: usize>(
    tensors: impl IntoIterator<Item = &'a Tensor<D>>,
) -> bool {
    all_f32_on(tensors, |kind| matches!(kind, DispatchTensorKind::Flex(_)))
}

/// Whether every tensor is f32 on ndarray (tracked by autodiff or not).
pub(crate) fn all_on_ndarray_f32<'a, const D: usize>(
    tensors: impl IntoIterator<Item = &'a Tensor<D>>,
) -> bool {
    all_f32_on(tensors, |kind| {
        matches!(kind, DispatchTensorKind::NdArray(_))
    })
}

/// Whether every tensor is f32 on the backend that `backend` accepts.
fn all_f32_on<'a, const D: usize>(
    tensors: impl IntoIterator<Item = &'a Tensor<D>>,
    backend: impl Fn(&DispatchTensorKind) -> bool,
) -> bool {
    tensors.into_iter().all(|t| {
        // `into_dispatch` takes the tensor; a clone is a reference count.
        let x = t.clone().into_dispatch();
        let kind = match &x.kind {
            DispatchTensorKind::Autodiff(inner) => inner.as_ref(),
            kind => kind,
        };
        backend(kind) && x.kind.dtype() == DType::F32
    })
}

/// The values of a contiguous f32 flex tensor (as `FlexTensor::to_contiguous` makes them).
pub(crate) fn f32_data(t: &FlexTensor) -> &[f32] {
    t.as_slice().expect("a contiguous f32 tensor has a slice")
}

/// A contiguous f32 flex tensor of `shape` holding `values` (row-major), without a copy.
pub(crate) fn f32_tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(shape),
        DType::F32,
    )
}
