//! An epoch's training batches, built on the host by Burn's data loader or cut on the device
//! from a split uploaded once.
//!
//! On a GPU every host-built batch is an upload per step; [`BatchSource::on_device`] uploads
//! the normalized split once (MNIST's 60,000 training images: 188 MB of f32) and cuts each batch
//! with `select` on the device. Both sources give the same batches in the same order: the device
//! source takes its order from Burn's data loader run over the image indices with the same batch
//! size and shuffle seed, so a run, a resume or a `train compare` sees the same data whichever
//! source its backend uses (test `device_batches_equal_the_data_loaders`).

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::{DatasetError, InMemDataset};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::batcher::{ImageBatch, ImageBatcher, InMemoryDataset};

/// Where an epoch's batches come from.
#[derive(Debug, Clone)]
pub enum BatchSource {
    /// Built on the host, batch by batch, by Burn's data loader (the CPU backends).
    Host {
        /// The split.
        dataset: InMemoryDataset,
        /// Its normalization.
        batcher: ImageBatcher,
    },
    /// The whole split on the device; batches are cut there (the GPU backend).
    Device {
        /// All images, `[n, 1, 28, 28]`, normalized, and all labels, `[n]`.
        all: Box<ImageBatch>,
    },
}

impl BatchSource {
    /// Batches built on the host by Burn's data loader.
    pub fn on_host(dataset: InMemoryDataset, batcher: ImageBatcher) -> Self {
        Self::Host { dataset, batcher }
    }

    /// Uploads the whole split to `device` once (normalized as `batcher` does).
    pub fn on_device(dataset: &InMemoryDataset, batcher: ImageBatcher, device: &Device) -> Self {
        let data = dataset.data();
        Self::Device {
            all: Box::new(batcher.batch_raw(&data.images, &data.labels, device)),
        }
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        match self {
            Self::Host { dataset, .. } => dataset.data().len(),
            Self::Device { all } => all.targets.dims()[0],
        }
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One epoch: batches of `batch_size` (the last one shorter), shuffled with `shuffle`'s seed
    /// as Burn's data loader does, or in order without one, on `device`.
    ///
    /// # Errors
    /// The data loader's, when it cannot read the index dataset (device source only).
    pub fn epoch(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        device: &Device,
    ) -> Result<EpochBatches, DatasetError> {
        Ok(match self {
            Self::Host { dataset, batcher } => {
                let loader = builder(*batcher, batch_size, shuffle, device).build(dataset.clone());
                EpochBatches::Host(loader)
            }
            Self::Device { all } => {
                // Burn's loader over the indices 0..n gives the order it gives the images.
                let indices = InMemDataset::new((0..self.len()).collect::<Vec<usize>>());
                let loader = builder(IndexBatcher, batch_size, shuffle, device).build(indices);
                EpochBatches::Device {
                    all: all.clone(),
                    order: loader.iter().collect::<Result<_, _>>()?,
                }
            }
        })
    }
}

fn builder<I, O>(
    batcher: impl Batcher<I, O> + 'static,
    batch_size: usize,
    shuffle: Option<u64>,
    device: &Device,
) -> DataLoaderBuilder<I, O>
where
    I: Send + Sync + Clone + std::fmt::Debug + 'static,
    O: Send + Clone + std::fmt::Debug + 'static,
{
    let builder = DataLoaderBuilder::new(batcher)
        .batch_size(batch_size)
        .set_device(device.clone());
    match shuffle {
        Some(seed) => builder.shuffle(seed),
        None => builder,
    }
}

/// A batch of image indices, in the loader's order.
#[derive(Debug, Clone, Copy)]
struct IndexBatcher;

impl Batcher<usize, Vec<usize>> for IndexBatcher {
    fn batch(&self, items: Vec<usize>, _device: &Device) -> Vec<usize> {
        items
    }
}

/// The batches of one epoch; iterate with [`EpochBatches::iter`].
pub enum EpochBatches {
    /// Burn's data loader.
    Host(Arc<dyn DataLoader<ImageBatch>>),
    /// The indices of each batch, cut from `all` on the device as they are read.
    Device {
        /// The whole split.
        all: Box<ImageBatch>,
        /// Each batch's indices.
        order: Vec<Vec<usize>>,
    },
}

impl EpochBatches {
    /// The batches, in order. Errors are the data loader's.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Result<ImageBatch, DatasetError>> + '_> {
        match self {
            Self::Host(loader) => Box::new(loader.iter()),
            Self::Device { all, order } => {
                Box::new(order.iter().map(|indices| Ok(cut(all, indices))))
            }
        }
    }
}

/// The images and labels at `indices`, selected on their device.
fn cut(all: &ImageBatch, indices: &[usize]) -> ImageBatch {
    let device = all.targets.device();
    let indices: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    let n = indices.len();
    let indices = Tensor::<1, Int>::from_data(TensorData::new(indices, [n]), &device);
    ImageBatch {
        images: all.images.clone().select(0, indices.clone()),
        targets: all.targets.clone().select(0, indices),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mnist::{DatasetKind, MnistData};

    /// 10 distinct images and labels.
    fn dataset() -> InMemoryDataset {
        let n = 10;
        let images = (0..n * 784).map(|i| (i * 7 % 251) as u8).collect();
        let labels = (0..n).map(|i| (i * 3 % 10) as u8).collect();
        InMemoryDataset::new(MnistData { images, labels })
    }

    fn values(batch: &ImageBatch) -> (Vec<f32>, Vec<i64>) {
        (
            batch.images.clone().into_data().try_to_vec().unwrap(),
            batch
                .targets
                .clone()
                .into_data()
                .convert::<i64>()
                .try_to_vec()
                .unwrap(),
        )
    }

    #[test]
    fn device_batches_equal_the_data_loaders() {
        let device = Device::flex();
        let batcher = ImageBatcher::new(DatasetKind::Mnist);
        let host = BatchSource::on_host(dataset(), batcher);
        let on_device = BatchSource::on_device(&dataset(), batcher, &device);
        assert_eq!((host.len(), on_device.len()), (10, 10));
        for shuffle in [None, Some(7), Some(8)] {
            let a = host.epoch(4, shuffle, &device).unwrap();
            let b = on_device.epoch(4, shuffle, &device).unwrap();
            let a: Vec<_> = a.iter().map(|b| values(&b.unwrap())).collect();
            let b: Vec<_> = b.iter().map(|b| values(&b.unwrap())).collect();
            assert_eq!(a.len(), 3, "batches of 4, 4 and 2");
            assert_eq!(a, b, "shuffle {shuffle:?}");
        }
        // A seed does shuffle (so the test above compares shuffled orders).
        let first = |seed| {
            let epoch = on_device.epoch(10, seed, &device).unwrap();
            values(&epoch.iter().next().unwrap().unwrap()).1
        };
        assert_ne!(first(None), first(Some(7)));
    }
}
