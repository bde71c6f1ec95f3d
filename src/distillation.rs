//! The `[distillation]` table of a run's configuration and the step that trains a zoo student
//! on a frozen zoo teacher's softened outputs ([`ember_engine::distill::Distillation`], Hinton,
//! Vinyals and Dean 2015). `train distill` writes it; a distilled run resumes like any other,
//! loading its teacher again.

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use ember_datasets::{BatchSource, ImageBatch};
use ember_engine::data::{Batches, DataError, index_tensor};
use ember_engine::distill::Distillation;
use ember_engine::{Classification, EpochSource, StepOutput, TrainStep};
use ember_models::Model;
use serde::{Deserialize, Serialize};

/// Where the teacher is and how its outputs are weighted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillationConfig {
    /// The teacher: a finished run directory, a checkpoint, or a `.bpk` file beside its
    /// run's `config.toml` (an absolute path, so that a resume from elsewhere finds it).
    pub teacher: PathBuf,
    /// `T` > 0; `train distill`'s default 4 (docs/committees.md: Keras' example's 10 gained
    /// nothing here).
    pub temperature: f64,
    /// `α` in [0, 1], the weight of the labels' cross-entropy; `train distill`'s default 0.5
    /// (Keras' example: 0.1).
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
/// same images (cached for the split by [`SoftTargets`], else computed for the batch without
/// autodiff); in validation the plain cross-entropy
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
        // The teacher's logits cached for the split ([`SoftTargets`]), else computed now.
        let teacher = match batch.soft_targets {
            Some(logits) => logits,
            None => self
                .teacher
                .forward(batch.images.clone().without_autodiff()),
        };
        self.loss
            .output(model.forward(batch.images), teacher, batch.targets)
    }
}

/// A split's batches with the teacher's logits for their images attached
/// ([`ImageBatch::soft_targets`]), cut from logits computed once for the whole split: the
/// teacher runs once per run instead of once per training step. Only for a split whose images
/// do not change between epochs (no augmentation).
pub struct SoftTargets {
    source: BatchSource,
    /// `[images, classes]`, in the split's order, on the device without autodiff.
    logits: Tensor<2>,
}

impl SoftTargets {
    /// `logits` are the teacher's for every image of `source`, in its order.
    ///
    /// # Panics
    /// If the counts differ.
    pub fn new(source: BatchSource, logits: Tensor<2>) -> Self {
        assert_eq!(
            logits.dims()[0],
            source.len(),
            "one row of logits per image"
        );
        Self { source, logits }
    }
}

impl EpochSource for SoftTargets {
    type Batch = ImageBatch;

    fn len(&self) -> usize {
        self.source.len()
    }

    fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        skip: usize,
        device: &Device,
    ) -> Result<Batches<'_, ImageBatch>, DataError> {
        // The same order the source's batches come in (`BatchSource::order` documents it).
        let order = self
            .source
            .order(batch_size, shuffle, device)
            .map_err(|e| Box::new(e) as DataError)?;
        let batches = self.source.batches(batch_size, shuffle, skip, device)?;
        let logits_device = self.logits.device();
        Ok(Box::new(batches.zip(order.into_iter().skip(skip)).map(
            move |(batch, indices)| {
                let mut batch = batch?;
                let rows = index_tensor(&indices, &logits_device);
                batch.soft_targets = Some(self.logits.clone().select(0, rows));
                Ok(batch)
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_datasets::{DatasetKind, ImageBatcher, InMemoryDataset, MnistData};
    use ember_models::ModelKind;

    /// The rows each batch takes from the cached logits are its own images' logits: for
    /// shuffled epochs, a skipped start (a resumed epoch) and a short last batch, the attached
    /// soft targets equal the model's output for the batch's images.
    #[test]
    fn cached_rows_follow_the_batches_images() {
        let device = Device::flex();
        let n = 203;
        let images = (0..n * 784)
            .map(|i| ((i * 31 + i / 784 * 7) % 256) as u8)
            .collect();
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        let split = InMemoryDataset::new(MnistData { images, labels });
        let batcher = ImageBatcher::new(DatasetKind::Mnist);
        let model = ModelKind::Mlp.init(&device);
        let all = BatchSource::on_host(split.clone(), batcher);
        let everything = all
            .batches(n, None, 0, &device)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let logits = model.forward(everything.images);
        let cached = SoftTargets::new(BatchSource::on_host(split, batcher), logits);
        for (shuffle, skip) in [(None, 0), (Some(11), 0), (Some(12), 3)] {
            let mut seen = 0;
            for batch in cached.batches(32, shuffle, skip, &device).unwrap() {
                let batch = batch.unwrap();
                let soft = batch.soft_targets.clone().expect("attached");
                let direct = model.forward(batch.images);
                let diff: f32 = (soft - direct).abs().max().into_scalar();
                assert!(diff < 1e-5, "shuffle {shuffle:?} skip {skip}: {diff}");
                seen += 1;
            }
            assert_eq!(seen, n.div_ceil(32) - skip);
        }
    }
}
