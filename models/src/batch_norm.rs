//! Batch normalization with PyTorch's running statistics (Ioffe and Szegedy 2015, "Batch
//! normalization: accelerating deep network training by reducing internal covariate shift";
//! `torch.nn.BatchNorm1d`/`BatchNorm2d`, PyTorch 2.x).
//!
//! In training a batch is normalized by its own mean and biased variance over every axis but
//! the channels (axis 1), then scaled by `gamma` and shifted by `beta`; the running statistics
//! move by `running ← (1 − momentum) · running + momentum · statistic`, where the variance's
//! statistic is the **unbiased** batch variance (`n / (n − 1)` times the biased one, `n` the
//! values per channel), as PyTorch does. Burn 0.22's `nn::BatchNorm` moves them by the biased
//! variance, so evaluation after training would differ from PyTorch's by that factor (1.6% of
//! the variance at batch 64 for a linear layer); this module is Burn's with that one change, and
//! computes the batch statistics with Burn's own `batch_norm_train`. Evaluation (a
//! [`Module::valid`] copy, or a device without autodiff) normalizes by the running statistics.
//! The fields and record paths are Burn's (`gamma`, `beta`, `running_mean`, `running_var`).

use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::module::{batch_norm, batch_norm_train};
use burn::tensor::{Device, Tensor};

/// PyTorch's default momentum of the running statistics.
pub const MOMENTUM: f64 = 0.1;
/// PyTorch's default epsilon added to the variance.
pub const EPSILON: f64 = 1e-5;

/// A batch normalization layer over axis 1 of its input; see the module documentation.
#[derive(Module, Debug)]
pub struct BatchNorm {
    /// Scale, `[channels]`, initially 1.
    pub gamma: Param<Tensor<1>>,
    /// Shift, `[channels]`, initially 0.
    pub beta: Param<Tensor<1>>,
    /// Whether training behaviour is on (Burn's flag: [`Module::valid`] turns it off).
    pub training: Param<Flag>,
    /// Running mean, `[channels]`, initially 0.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running (unbiased) variance, `[channels]`, initially 1.
    pub running_var: RunningState<Tensor<1>>,
    /// Weight of the new batch in the running statistics ([`MOMENTUM`]).
    pub momentum: f64,
    /// Added to the variance ([`EPSILON`]).
    pub epsilon: f64,
}

impl BatchNorm {
    /// A layer over `channels` channels on `device`, with PyTorch's defaults.
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
            training: Param::from_bool(true),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            momentum: MOMENTUM,
            epsilon: EPSILON,
        }
    }

    /// Normalizes `input` (`[batch, channels, ...]`, rank >= 2; same shape out).
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let device = input.device();
        if !(device.is_autodiff() && self.training.is_enabled()) {
            return batch_norm(
                input,
                self.gamma.val(),
                self.beta.val(),
                self.running_mean.value().to_device(&device),
                self.running_var.value().to_device(&device),
                self.epsilon,
            );
        }
        let dims = input.dims();
        let n = dims.iter().product::<usize>() / dims[1];
        let result = batch_norm_train(input, self.gamma.val(), self.beta.val(), self.epsilon);
        // PyTorch's running variance is the unbiased one; one value per channel has none.
        let unbiased = if n > 1 {
            n as f64 / (n - 1) as f64
        } else {
            1.0
        };
        let m = self.momentum;
        let mean = self.running_mean.value_sync().to_device(&device);
        let var = self.running_var.value_sync().to_device(&device);
        self.running_mean.update(
            mean.mul_scalar(1.0 - m)
                .add(result.mean.detach().mul_scalar(m))
                .detach(),
        );
        self.running_var.update(
            var.mul_scalar(1.0 - m)
                .add(result.variance.detach().mul_scalar(m * unbiased))
                .detach(),
        );
        result.output
    }
}
