//! The `[regularization]` table of a run's configuration: what fights overfitting (dropout,
//! batch normalization, L1/L2 penalties, data augmentation) and the training loop's knobs that
//! Keras and Lightning users expect next to them (gradient clipping and accumulation, an
//! exponential moving average of the weights). Each key is also a flag (`train --help`,
//! heading "Regularization"); docs/regularization.md gives the formulas and references.

use ember_datasets::Augmentation;
use ember_engine::clip::GradientClip;
use ember_engine::penalty::Penalty;
use ember_models::{DropoutKind, ModelKind, ModelOptions};
use serde::{Deserialize, Serialize};

/// The regularization settings; the default is none of them (the plain zoo run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegularizationConfig {
    /// Dropout probabilities after the hidden fully connected layers: none (empty), one for
    /// every layer, or one per hidden layer (`dropout = [0.2, 0.5]`). `--dropout P[,P...]`.
    #[serde(deserialize_with = "one_or_many")]
    pub dropout: Vec<f64>,
    /// `bernoulli` (default) or `gaussian` (Srivastava et al. 2014, section 10).
    pub dropout_kind: DropoutKind,
    /// Batch normalization before each hidden activation. `--batch-norm`.
    pub batch_norm: bool,
    /// L1 penalty coefficient on the weights (`l1 · Σ|w|`); default 0.
    pub l1: f64,
    /// L2 penalty coefficient on the weights (`l2 · Σw²`, Keras' `L2`); default 0.
    pub l2: f64,
    /// Data augmentation of the training images (docs/augmentation.md), e.g.
    /// `"rotate=30,affine=20:0.1:0.9-1.1"`; default none.
    pub augment: Augmentation,
    /// Clip gradients at this threshold (Lightning's `gradient_clip_val`); default none.
    pub gradient_clip_val: Option<f64>,
    /// How: `norm` (the global norm, default, as Lightning and torch's `clip_grad_norm_`),
    /// `value` (each component), or `tensor-norm` (each parameter's own norm, Burn's and
    /// Keras' `clipnorm`).
    pub gradient_clip_algorithm: ClipAlgorithm,
    /// Batches per optimizer step (Lightning's `accumulate_grad_batches`); default 1.
    pub accumulate_grad_batches: usize,
    /// Decay of an exponential moving average of the weights (Keras' `ema_momentum`); default
    /// none.
    pub ema_decay: Option<f64>,
    /// With `ema_decay`: validate, test and save as model.bpk the averaged weights; default
    /// true.
    pub ema_eval: bool,
}

impl Default for RegularizationConfig {
    fn default() -> Self {
        Self {
            dropout: Vec::new(),
            dropout_kind: DropoutKind::Bernoulli,
            batch_norm: false,
            l1: 0.0,
            l2: 0.0,
            augment: Augmentation::default(),
            gradient_clip_val: None,
            gradient_clip_algorithm: ClipAlgorithm::Norm,
            accumulate_grad_batches: 1,
            ema_decay: None,
            ema_eval: true,
        }
    }
}

/// `gradient_clip_algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClipAlgorithm {
    /// The global norm of all gradients.
    #[default]
    Norm,
    /// Each component.
    Value,
    /// Each parameter's gradient on its own.
    TensorNorm,
}

/// `dropout`: a number or a list of numbers.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(f64),
        Many(Vec<f64>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::One(p) => vec![p],
        Raw::Many(ps) => ps,
    })
}

impl RegularizationConfig {
    /// Checks every value's range for `model`.
    ///
    /// # Errors
    /// A one-line message naming the flag and the allowed range.
    pub fn validate(&self, model: ModelKind) -> Result<(), String> {
        self.model_options().check(model)?;
        for (flag, v) in [("--l1", self.l1), ("--l2", self.l2)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{flag} must be a finite number >= 0, got {v}"));
            }
        }
        if let Some(v) = self.gradient_clip_val
            && !(v.is_finite() && v > 0.0)
        {
            return Err(format!(
                "--gradient-clip-val must be a positive number, got {v}"
            ));
        }
        if self.accumulate_grad_batches == 0 {
            return Err("--accumulate-grad-batches must be at least 1".into());
        }
        if let Some(d) = self.ema_decay
            && !(0.0..1.0).contains(&d)
        {
            return Err(format!("--ema-decay must be in [0, 1), got {d}"));
        }
        Ok(())
    }

    /// The model's regularizing layers.
    pub fn model_options(&self) -> ModelOptions {
        ModelOptions {
            dropout: self.dropout.clone(),
            dropout_kind: self.dropout_kind,
            batch_norm: self.batch_norm,
        }
    }

    /// The loss penalty.
    pub fn penalty(&self) -> Penalty {
        Penalty {
            l1: self.l1,
            l2: self.l2,
        }
    }

    /// The learner's gradient clipping.
    pub fn gradient_clip(&self) -> Option<GradientClip> {
        self.gradient_clip_val
            .map(|v| match self.gradient_clip_algorithm {
                ClipAlgorithm::Norm => GradientClip::Norm(v),
                ClipAlgorithm::Value => GradientClip::Value(v),
                ClipAlgorithm::TensorNorm => GradientClip::TensorNorm(v),
            })
    }
}
