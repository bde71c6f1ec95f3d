//! What the optimizers' fused flex kernels (`adam/flex.rs`, `rprop/flex.rs`) share: the check
//! that a step's tensors are f32 on flex, and f32 views of flex tensors.
//!
//! Why fused kernels: written with tensor ops, an optimizer step is about ten element-wise ops
//! per parameter tensor, each reading and writing a whole buffer and most allocating a new one
//! in burn-flex 0.22.1; a kernel reads and writes every element once.

use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::{DispatchTensor, DispatchTensorKind, TensorMetadata};
use burn::tensor::{Bytes, DType, Shape, Tensor};

/// Whether every tensor is f32 on flex (tracked by autodiff or not), so a kernel applies. (The
/// zoo's flex kernels make the same check; this crate depends on Burn alone, so it has its own.)
pub(crate) fn all_on_flex_f32<'a, const D: usize>(
    tensors: impl IntoIterator<Item = &'a Tensor<D>>,
) -> bool {
    // `into_dispatch` takes the tensor; a clone is a reference count.
    tensors
        .into_iter()
        .all(|t| on_flex_f32(&t.clone().into_dispatch()))
}

fn on_flex_f32(x: &DispatchTensor) -> bool {
    let kind = match &x.kind {
        DispatchTensorKind::Autodiff(inner) => inner.as_ref(),
        kind => kind,
    };
    matches!(kind, DispatchTensorKind::Flex(_)) && x.kind.dtype() == DType::F32
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
