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

/// `t` as a contiguous tensor that owns its whole buffer alone, so that a kernel can overwrite
/// it: the tensor itself when it already is one (an optimizer's moments, which only its state
/// holds), otherwise a copy (a buffer shared with the module or the autodiff graph, a view).
pub(crate) fn writable(mut t: FlexTensor) -> FlexTensor {
    let len = t.layout().num_elements();
    let whole = t.layout().contiguous_offsets() == Some((0, len)) && t.bytes().len() == len * 4;
    // `try_storage_mut` is the test [`values_mut`] relies on (no other strong or weak handle).
    if whole && t.try_storage_mut::<f32>().is_some() {
        t
    } else {
        f32_tensor(
            f32_data(&t.to_contiguous()).to_vec(),
            t.layout().shape().clone(),
        )
    }
}

/// The values of a tensor from [`writable`], to overwrite.
pub(crate) fn values_mut(t: &mut FlexTensor) -> &mut [f32] {
    t.try_storage_mut()
        .expect("a writable tensor owns its buffer alone")
}
