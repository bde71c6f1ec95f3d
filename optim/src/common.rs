//! Update pieces shared by the optimizers, each written once in the floating-point order of
//! PyTorch's CPU kernels so that results agree with the references to the last bit where the
//! backend allows.
//!
//! PyTorch evaluates `a.addcmul_(t1, t2, value=v)` as `a + v * t1 * t2` and
//! `a.addcdiv_(t1, t2, value=v)` as `a + v * t1 / t2`, left to right
//! (`aten/src/ATen/native/cpu/PointwiseOpsKernel.cpp`), and `a.add_(b, alpha=v)` as `a + v * b`.
//! Python scalars are computed in f64 and rounded to the tensor's f32 when an op uses them.
//! PyTorch's vectorized CPU kernels fuse some of these multiply-adds (`add_` with `alpha`,
//! `lerp_`) into one FMA; Burn's element-wise ops round after every operation, so results can
//! differ from PyTorch's in the last bit of single elements.

use burn::optim::decay::WeightDecayConfig;
use burn::tensor::{Bool, Tensor};

use crate::OptimizerError;

/// Exponential moving average `avg * beta + (1 - beta) * x`, PyTorch's
/// `avg.mul_(beta).add_(x, alpha=1 - beta)`.
pub(crate) fn ema<const D: usize>(avg: Tensor<D>, x: Tensor<D>, beta: f64) -> Tensor<D> {
    avg.mul_scalar(beta).add(x.mul_scalar(1.0 - beta))
}

/// `start + weight * (end - start)`, PyTorch's `start.lerp_(end, weight)` (2.x's form of the
/// moving averages in Adam, AdamW, Adamax, NAdam and centered RMSprop): for `|weight| < 0.5`
/// `start + weight * (end - start)`, otherwise `end - (end - start) * (1 - weight)`, with the
/// weight rounded to f32 first (`aten/src/ATen/native/Lerp.h`).
pub(crate) fn lerp<const D: usize>(start: Tensor<D>, end: Tensor<D>, weight: f64) -> Tensor<D> {
    let weight = weight as f32;
    if weight.abs() < 0.5 {
        let diff = end.sub(start.clone());
        start.add(diff.mul_scalar(weight))
    } else {
        let diff = end.clone().sub(start);
        end.sub(diff.mul_scalar(1.0f32 - weight))
    }
}

/// `1 − β^t` in f64, as Python evaluates `1 - beta ** step` (C `pow`, not repeated
/// multiplication, so that the last bit agrees).
pub(crate) fn bias_correction(beta: f64, step: usize) -> f64 {
    1.0 - beta.powf(step as f64)
}

/// Decoupled weight decay (Loshchilov & Hutter 2019), PyTorch's
/// `param.mul_(1 - lr * weight_decay)`; the identity when `weight_decay` is 0.
pub(crate) fn decoupled_weight_decay<const D: usize>(
    param: Tensor<D>,
    lr: f64,
    weight_decay: f64,
) -> Tensor<D> {
    if weight_decay == 0.0 {
        param
    } else {
        param.mul_scalar(1.0 - lr * weight_decay)
    }
}

/// Exponential moving average of a product, `avg * beta + (1 - beta) * a * b`, PyTorch's
/// `avg.mul_(beta).addcmul_(a, b, value=1 - beta)`.
pub(crate) fn ema_product<const D: usize>(
    avg: Tensor<D>,
    a: Tensor<D>,
    b: Tensor<D>,
    beta: f64,
) -> Tensor<D> {
    avg.mul_scalar(beta).add(a.mul_scalar(1.0 - beta).mul(b))
}

/// `base + value * num / den`, PyTorch's `base.addcdiv_(num, den, value=value)`.
pub(crate) fn addcdiv<const D: usize>(
    base: Tensor<D>,
    num: Tensor<D>,
    den: Tensor<D>,
    value: f64,
) -> Tensor<D> {
    base.add(num.mul_scalar(value).div(den))
}

/// `if_true` where `mask` holds, `otherwise` elsewhere (`otherwise.mask_where(mask, if_true)`).
///
/// Both operands are borrowed on purpose: flex 0.22.1 runs a mask op in place, one element
/// at a time, when it owns its operands alone, but through SIMD into a new buffer when they are
/// shared, which on LeNet-sized tensors is some 50 times faster. Holding the caller's handle
/// during the call picks the fast path; the values are the same either way.
pub(crate) fn select<const D: usize>(
    mask: Tensor<D, Bool>,
    if_true: &Tensor<D>,
    otherwise: &Tensor<D>,
) -> Tensor<D> {
    otherwise.clone().mask_where(mask, if_true.clone())
}

/// `tensor` with `value` where `mask` holds (`mask_fill`), borrowed for the reason given at
/// [`select`].
pub(crate) fn fill<const D: usize>(
    tensor: &Tensor<D>,
    mask: Tensor<D, Bool>,
    value: f64,
) -> Tensor<D> {
    tensor.clone().mask_fill(mask, value)
}

/// Classic (coupled) L2 weight decay: `grad + weight_decay * param`, PyTorch's
/// `grad.add(param, alpha=weight_decay)`; the identity when `weight_decay` is 0.
pub(crate) fn l2_weight_decay<const D: usize>(
    grad: Tensor<D>,
    param: &Tensor<D>,
    weight_decay: f64,
) -> Tensor<D> {
    if weight_decay == 0.0 {
        grad
    } else {
        grad.add(param.clone().mul_scalar(weight_decay))
    }
}

/// Checks a hyperparameter: [`OptimizerError::OutOfRange`] unless `ok`, whose message reads
/// "{name} must {rule}, got {value}", e.g. "rho must be in [0, 1], got 1.5". PyTorch's own checks decide `ok`; NaN fails every range.
pub(crate) fn check(
    ok: bool,
    name: &'static str,
    value: impl std::fmt::Display,
    rule: &'static str,
) -> Result<(), OptimizerError> {
    if ok {
        Ok(())
    } else {
        Err(OptimizerError::OutOfRange {
            parameter: name,
            rule,
            value: value.to_string(),
        })
    }
}

/// `name` ≥ 0 (PyTorch's `if not 0.0 <= value: raise ValueError`).
pub(crate) fn check_non_negative(name: &'static str, value: f64) -> Result<(), OptimizerError> {
    check(value >= 0.0, name, value, "be >= 0")
}

/// The range checks torch.optim.Adam, AdamW, Adamax, NAdam and adabelief-pytorch share:
/// 0 ≤ eps, 0 ≤ β1 < 1, 0 ≤ β2 < 1, 0 ≤ weight_decay.
pub(crate) fn check_moments(
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
) -> Result<(), OptimizerError> {
    check_non_negative("eps", eps)?;
    check((0.0..1.0).contains(&beta1), "beta1", beta1, "be in [0, 1)")?;
    check((0.0..1.0).contains(&beta2), "beta2", beta2, "be in [0, 1)")?;
    check_non_negative("weight_decay", weight_decay)
}

/// Burn's L2 weight-decay setting for a torch-style `weight_decay` (none for 0).
pub(crate) fn burn_weight_decay(weight_decay: f64) -> Option<WeightDecayConfig> {
    (weight_decay > 0.0).then_some(WeightDecayConfig {
        penalty: weight_decay as f32,
    })
}
