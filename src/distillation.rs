//! The `[distillation]` table of a run's configuration and the step that trains a zoo student
//! on a frozen zoo teacher's softened outputs ([`ember_engine::distill::Distillation`], Hinton,
//! Vinyals and Dean 2015). `train distill` writes it; a distilled run resumes like any other,
//! loading its teacher again.

use std::path::PathBuf;

use burn::module::Module;
use ember_datasets::ImageBatch;
use ember_engine::distill::Distillation;
use ember_engine::{Classification, StepOutput, TrainStep};
use ember_models::Model;
use serde::{Deserialize, Serialize};

/// Where the teacher is and how its outputs are weighted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillationConfig {
    /// The teacher: a finished run directory, a checkpoint, or a `.bpk` file beside its
    /// run's `config.toml` (an absolute path, so that a resume from elsewhere finds it).
    pub teacher: PathBuf,
    /// `T` > 0; `train distill`'s default 10 (Keras' distillation example).
    pub temperature: f64,
    /// `α` in [0, 1], the weight of the labels' cross-entropy; `train distill`'s default 0.1
    /// (Keras' example).
    pub alpha: f64,
}

impl DistillationConfig {
    /// The loss's settings, checked.
    ///
    /// # Errors
    /// A one-line message naming `--temperature` or `--alpha`.
    pub fn loss(&self) -> Result<Distillation, String> {
        Distillation::new(self.temperature, self.alpha)
    }
}

/// The student's step: in training the distillation loss against the teacher's logits for the
/// same images (computed per batch, without autodiff); in validation the plain cross-entropy
/// (as `train`'s own step), so that `val_loss` compares with a student trained alone.
pub struct DistillStep {
    /// The teacher on the device without autodiff: evaluation mode (no dropout, batch
    /// normalization from its running statistics), no graph recorded.
    teacher: Model,
    loss: Distillation,
}

impl DistillStep {
    /// The step with `teacher` (loaded on the device without autodiff, e.g. by
    /// [`crate::learner::checkpoint::load_trained`]) and the loss's settings.
    pub fn new(teacher: Model, loss: Distillation) -> Self {
        Self {
            teacher: teacher.valid(),
            loss,
        }
    }
}

impl TrainStep<Model, ImageBatch> for DistillStep {
    fn step(&self, model: &Model, batch: ImageBatch) -> StepOutput {
        if !batch.images.device().is_autodiff() {
            return Classification::new().output(model.forward(batch.images), batch.targets);
        }
        let teacher = self
            .teacher
            .forward(batch.images.clone().without_autodiff());
        self.loss
            .output(model.forward(batch.images), teacher, batch.targets)
    }
}
