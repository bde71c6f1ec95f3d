//! A training split whose images are augmented as the batches are built ([`crate::augment`]).
//!
//! The batches come in the order of the split's [`BatchSource`] for the same batch size and
//! shuffle seed; image `i` of the epoch whose shuffle seed is `s` is augmented with the draws
//! of [`image_key`]`(s, i)`, a function of (run seed, epoch, image index), so a resumed epoch
//! builds the images the interrupted one built, bit for bit. Batches are built on the host
//! and uploaded, on every backend. Validation and test splits are never augmented.

use burn::data::dataset::DatasetError;
use burn::tensor::{Device, Int, Tensor, TensorData};
use ember_engine::rng::{Rng, key};
use rayon::prelude::*;

use crate::augment::Augmentation;
use crate::batcher::{ImageBatch, ImageBatcher, InMemoryDataset};
use crate::epoch::BatchSource;
use crate::mnist::{IMAGE_PIXELS, IMAGE_SIDE};

/// The key of image `index`'s draws in the epoch shuffled with `shuffle` (the learner's
/// [`ember_engine::epoch_seed`]); an unshuffled epoch uses 0.
pub fn image_key(shuffle: Option<u64>, index: usize) -> u64 {
    key(&[shuffle.unwrap_or(0), index as u64])
}

/// A split with an augmentation; see the module documentation.
#[derive(Debug, Clone)]
pub struct AugmentedSource {
    order: BatchSource,
    dataset: InMemoryDataset,
    batcher: ImageBatcher,
    augmentation: Augmentation,
}

impl AugmentedSource {
    /// `dataset`'s images augmented by `augmentation`, then normalized as `batcher` does.
    pub fn new(
        dataset: InMemoryDataset,
        batcher: ImageBatcher,
        augmentation: Augmentation,
    ) -> Self {
        Self {
            order: BatchSource::on_host(dataset.clone(), batcher),
            dataset,
            batcher,
            augmentation,
        }
    }

    /// The batch of the images at `indices`, augmented with the keys of `shuffle`.
    fn batch_at(&self, indices: &[usize], shuffle: Option<u64>, device: &Device) -> ImageBatch {
        let data = self.dataset.data();
        // Images in parallel (rayon, the pool Burn's flex backend uses between steps): each
        // image's draws are its own key's, so the order of the work does not matter.
        let images: Vec<Vec<f32>> = indices
            .par_iter()
            .map(|&i| {
                let mut rng = Rng::new(image_key(shuffle, i));
                self.augmentation.apply(data.image(i), IMAGE_SIDE, &mut rng)
            })
            .collect();
        let mut values = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
        for pixels in images {
            values.extend(pixels.into_iter().map(|v| self.batcher.normalize(v)));
        }
        let targets: Vec<i64> = indices.iter().map(|&i| i64::from(data.labels[i])).collect();
        let n = indices.len();
        ImageBatch {
            images: Tensor::from_data(
                TensorData::new(values, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
                device,
            ),
            targets: Tensor::<1, Int>::from_data(TensorData::new(targets, [n]), device),
            soft_targets: None,
        }
    }
}

impl ember_engine::EpochSource for AugmentedSource {
    type Batch = ImageBatch;

    fn len(&self) -> usize {
        self.dataset.data().len()
    }

    fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        skip: usize,
        device: &Device,
    ) -> Result<ember_engine::data::Batches<'_, ImageBatch>, ember_engine::DataError> {
        let order = self
            .order
            .order(batch_size, shuffle, device)
            .map_err(|e: DatasetError| Box::new(e) as ember_engine::DataError)?;
        let device = device.clone();
        Ok(Box::new(order.into_iter().skip(skip).map(move |indices| {
            Ok(self.batch_at(&indices, shuffle, &device))
        })))
    }
}
