//! Update pieces shared by the optimizers, each written once in the floating-point order of
//! PyTorch's CPU kernels so that results agree with the references to the last bit where the
//! backend allows.
//!
//! PyTorch evaluates `a.addcmul_(t1, t2, value=v)` as `a + v * t1 * t2` and
//! `a.addcdiv_(t1, t2, value=v)` as `a + v * t1 / t2`, left to right
//! (`aten/src/ATen/native/cpu/PointwiseOpsKernel.cpp`), and `a.add_(b, alpha=v)` as `a + v * b`.
//! Python scalars are computed in f64 and rounded to the tensor's f32 when an op uses them.

use burn::optim::decay::WeightDecayConfig;
use burn::tensor::Tensor;

/// Exponential moving average `avg * beta + (1 - beta) * x`, PyTorch's
/// `avg.mul_(beta).add_(x, alpha=1 - beta)`.
pub(crate) fn ema<const D: usize>(avg: Tensor<D>, x: Tensor<D>, beta: f64) -> Tensor<D> {
    avg.mul_scalar(beta).add(x.mul_scalar(1.0 - beta))
}

/// Exponential moving average by linear interpolation, PyTorch's `avg.lerp_(x, weight)`
/// (`aten/src/ATen/native/Lerp.h`): `avg + weight·(x − avg)` for weight < 0.5, else
/// `x − (x − avg)·(1 − weight)`. Same value as [`ema`] with β = 1 − weight, rounded differently.
pub(crate) fn lerp<const D: usize>(avg: Tensor<D>, x: Tensor<D>, weight: f64) -> Tensor<D> {
    if weight < 0.5 {
        avg.clone().add(x.sub(avg).mul_scalar(weight))
    } else {
        x.clone().sub(x.sub(avg).mul_scalar(1.0 - weight))
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

/// Checks a hyperparameter against a range, with PyTorch's wording of the error.
pub(crate) fn check(
    ok: bool,
    name: &str,
    value: impl std::fmt::Display,
    rule: &str,
) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("invalid {name} {value}: must be {rule}"))
    }
}

/// The range checks torch.optim.Adam and adabelief-pytorch share: 0 ≤ eps, 0 ≤ β1 < 1,
/// 0 ≤ β2 < 1, 0 ≤ weight_decay.
pub(crate) fn check_moments(
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
) -> Result<(), String> {
    check(eps >= 0.0, "eps", eps, ">= 0")?;
    check((0.0..1.0).contains(&beta1), "beta1", beta1, "in [0, 1)")?;
    check((0.0..1.0).contains(&beta2), "beta2", beta2, "in [0, 1)")?;
    check(weight_decay >= 0.0, "weight_decay", weight_decay, ">= 0")
}

/// Burn's L2 weight-decay setting for a torch-style `weight_decay` (none for 0).
pub(crate) fn burn_weight_decay(weight_decay: f64) -> Option<WeightDecayConfig> {
    (weight_decay > 0.0).then_some(WeightDecayConfig {
        penalty: weight_decay as f32,
    })
}
