//! Dropout whose masks are functions of the training step ([`ember_engine::noise`]), so that a
//! resumed run draws the masks the uninterrupted run drew.
//!
//! - Bernoulli ("inverted") dropout, Srivastava, Hinton, Krizhevsky, Sutskever and
//!   Salakhutdinov 2014, "Dropout: a simple way to prevent neural networks from overfitting"
//!   (JMLR 15), as `torch.nn.Dropout(p)` computes it: each unit is kept with probability
//!   `1 − p` and scaled by `1 / (1 − p)` in training, so evaluation is the identity.
//! - Gaussian dropout (the same paper, section 10, "Multiplicative Gaussian noise"; Keras'
//!   `GaussianDropout(rate)`): each unit is multiplied by a draw of `N(1, σ²)` with
//!   `σ² = p / (1 − p)`, the variance of the Bernoulli version's factor.
//!
//! Both are the identity in evaluation ([`burn::module::Module::valid`], or a device without
//! autodiff) and for `p = 0`. The noise is drawn on the host and uploaded (one `f32` a unit):
//! the fully connected layers it is used on are small beside the step's other work.

use burn::module::{Flag, Module, Param};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Which noise a [`Dropout`] multiplies by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropoutKind {
    /// Zero with probability `p`, else `1 / (1 − p)`.
    #[default]
    Bernoulli,
    /// `N(1, p / (1 − p))`.
    Gaussian,
}

/// A dropout layer; see the module documentation.
#[derive(Module, Debug)]
pub struct Dropout {
    /// The drop probability `p`, in `[0, 1)`.
    pub prob: f64,
    /// Gaussian instead of Bernoulli noise.
    pub gaussian: bool,
    /// Whether training behaviour is on (Burn's flag: [`Module::valid`] turns it off).
    pub training: Param<Flag>,
}

impl Dropout {
    /// A layer dropping with probability `prob`.
    ///
    /// # Panics
    /// If `prob` is not in `[0, 1)` (the application checks its flags before building).
    pub fn new(prob: f64, kind: DropoutKind) -> Self {
        assert!(
            (0.0..1.0).contains(&prob),
            "dropout probability must be in [0, 1), got {prob}"
        );
        Self {
            prob,
            gaussian: kind == DropoutKind::Gaussian,
            training: Param::from_bool(true),
        }
    }

    /// The input times the step's noise in training; the input itself otherwise.
    ///
    /// - `input`: any shape; returns the same shape.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        if !self.training.is_enabled() || !input.device().is_autodiff() || self.prob == 0.0 {
            return input;
        }
        let shape = input.shape();
        let n = shape.num_elements();
        let mut rng = ember_engine::noise::rng();
        let keep = 1.0 - self.prob;
        let noise: Vec<f32> = if self.gaussian {
            let sigma = (self.prob / keep).sqrt();
            (0..n)
                .map(|_| (1.0 + sigma * rng.normal()) as f32)
                .collect()
        } else {
            let scale = (1.0 / keep) as f32;
            let keep = keep as f32;
            (0..n)
                .map(|_| if rng.uniform_f32() < keep { scale } else { 0.0 })
                .collect()
        };
        let noise = Tensor::<D>::from_data(TensorData::new(noise, shape), &input.device());
        input.mul(noise)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;

    fn draw(kind: DropoutKind, p: f64, key: u64) -> Vec<f32> {
        let device = Device::flex().autodiff();
        let layer = Dropout::new(p, kind);
        let ones = Tensor::<2>::ones([200, 500], &device);
        ember_engine::noise::scope(key, || layer.forward(ones))
            .into_data()
            .try_to_vec()
            .unwrap()
    }

    /// Keep rate 1 − p and scale 1 / (1 − p), as torch.nn.Dropout(p) in training.
    #[test]
    fn bernoulli_keeps_one_minus_p_scaled() {
        let p = 0.3;
        let out = draw(DropoutKind::Bernoulli, p, 1);
        let scale = (1.0 / (1.0 - p)) as f32;
        assert!(out.iter().all(|&v| v == 0.0 || v == scale));
        let kept = out.iter().filter(|&&v| v != 0.0).count() as f64 / out.len() as f64;
        // 100,000 draws: the standard error of the rate is 0.0015.
        assert!((kept - (1.0 - p)).abs() < 0.006, "kept {kept}");
        let mean = out.iter().map(|&v| f64::from(v)).sum::<f64>() / out.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
    }

    #[test]
    fn gaussian_has_mean_one_and_variance_p_over_one_minus_p() {
        let p = 0.5;
        let out = draw(DropoutKind::Gaussian, p, 2);
        let n = out.len() as f64;
        let mean = out.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = out
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
        assert!((var - p / (1.0 - p)).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn masks_are_functions_of_the_step_and_off_in_evaluation() {
        assert_eq!(
            draw(DropoutKind::Bernoulli, 0.5, 9),
            draw(DropoutKind::Bernoulli, 0.5, 9)
        );
        assert_ne!(
            draw(DropoutKind::Bernoulli, 0.5, 9),
            draw(DropoutKind::Bernoulli, 0.5, 10)
        );
        let layer = Dropout::new(0.5, DropoutKind::Bernoulli).valid();
        let x = Tensor::<2>::ones([3, 4], &Device::flex().autodiff());
        assert_eq!(
            layer.forward(x.clone()).into_data(),
            x.clone().into_data(),
            "valid() turns dropout off"
        );
        let plain = Dropout::new(0.5, DropoutKind::Bernoulli);
        let x = Tensor::<2>::ones([3, 4], &Device::flex());
        assert_eq!(plain.forward(x.clone()).into_data(), x.into_data());
    }
}
