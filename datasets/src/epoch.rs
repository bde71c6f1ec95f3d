//! An epoch's training batches, built on the host by Burn's data loader or cut on the device
//! from a split uploaded once.
//!
//! On a GPU every host-built batch is an upload per step; [`BatchSource::on_device`] uploads
//! the split once and cuts each batch on the device. The split stays there as its bytes, four
//! pixels to a 32-bit word (MNIST's 54,000 training images: 42 MB, where f32 pixels would take
//! 169 MB, more than the 128 MiB that WebGPU's default limits and Mesa's lavapipe allow one
//! buffer); a batch is selected as words, unpacked with shifts and masks, and normalized by
//! looking each byte up in the batcher's 256-entry table ([`ImageBatcher::table`]), so its
//! values are the host batcher's to the bit. Both sources give the same batches in the same
//! order: the device source takes its order from Burn's data loader run over the image indices
//! with the same batch size and shuffle seed, so a run, a resume or a `train compare` sees the
//! same data whichever source its backend uses (test `device_batches_equal_the_data_loaders`).

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::{DatasetError, InMemDataset};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::batcher::{ImageBatch, ImageBatcher, InMemoryDataset};
use crate::mnist::{IMAGE_PIXELS, IMAGE_SIDE};

/// Pixels packed into one 32-bit word of a device-resident split.
const PIXELS_PER_WORD: usize = 4;
/// Words per image of a device-resident split (784 / 4).
const WORDS_PER_IMAGE: usize = IMAGE_PIXELS / PIXELS_PER_WORD;

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
        /// The split's bytes, labels and normalization table.
        split: Box<DeviceSplit>,
    },
}

/// A split resident on a device: its pixels as bytes packed four to a word, its labels, and
/// the normalization table.
#[derive(Debug, Clone)]
pub struct DeviceSplit {
    /// Pixel `4j + k` of an image is byte `k` (little-endian) of its word `j`: `[n, 196]`, int.
    words: Tensor<2, Int>,
    /// Class indices, `[n]`, int.
    labels: Tensor<1, Int>,
    /// The normalized value of each byte value, `[256]`, float ([`ImageBatcher::table`]).
    table: Tensor<1>,
    /// The shift of each byte in a word, `[1, 1, 4]` = 0, 8, 16, 24, int.
    shifts: Tensor<3, Int>,
}

impl BatchSource {
    /// Batches built on the host by Burn's data loader.
    pub fn on_host(dataset: InMemoryDataset, batcher: ImageBatcher) -> Self {
        Self::Host { dataset, batcher }
    }

    /// The size in bytes of the largest buffer [`on_device`](Self::on_device) allocates for
    /// `dataset`: its pixels, one byte each (`n * 784`). Compare it with the device's largest
    /// buffer (wgpu's `max_storage_buffer_binding_size` and `max_buffer_size`, the smaller).
    pub fn device_bytes(dataset: &InMemoryDataset) -> u64 {
        dataset.data().images.len() as u64
    }

    /// Uploads the whole split to `device` once, as bytes ([`device_bytes`](Self::device_bytes)
    /// in the largest buffer), to be normalized batch by batch as `batcher` does.
    pub fn on_device(dataset: &InMemoryDataset, batcher: ImageBatcher, device: &Device) -> Self {
        let data = dataset.data();
        let n = data.len();
        let words: Vec<i32> = data
            .images
            .chunks_exact(PIXELS_PER_WORD)
            .map(|bytes| i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            .collect();
        let labels: Vec<i64> = data.labels.iter().map(|&l| i64::from(l)).collect();
        Self::Device {
            split: Box::new(DeviceSplit {
                words: Tensor::from_data(TensorData::new(words, [n, WORDS_PER_IMAGE]), device),
                labels: Tensor::from_data(TensorData::new(labels, [n]), device),
                table: Tensor::from_data(TensorData::new(batcher.table().to_vec(), [256]), device),
                shifts: Tensor::from_data(
                    TensorData::new(vec![0i64, 8, 16, 24], [1, 1, PIXELS_PER_WORD]),
                    device,
                ),
            }),
        }
    }

    /// Whether the split is resident on a device ([`on_device`](Self::on_device)).
    pub fn is_on_device(&self) -> bool {
        matches!(self, Self::Device { .. })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        match self {
            Self::Host { dataset, .. } => dataset.data().len(),
            Self::Device { split } => split.labels.dims()[0],
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
            Self::Device { split } => EpochBatches::Device {
                split: split.clone(),
                order: self.order(batch_size, shuffle, device)?,
            },
        })
    }

    /// Each batch's image indices, in the order Burn's data loader gives the images for this
    /// batch size and seed (its loader over the indices 0..n gives the order it gives the
    /// images): the order of [`epoch`](Self::epoch)'s batches, so that a wrapper can attach
    /// per-image data (cached teacher outputs) to each batch.
    ///
    /// # Errors
    /// The data loader's.
    pub fn order(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        device: &Device,
    ) -> Result<Vec<Vec<usize>>, DatasetError> {
        let indices = InMemDataset::new((0..self.len()).collect::<Vec<usize>>());
        let loader = builder(IndexBatcher, batch_size, shuffle, device).build(indices);
        loader.iter().collect()
    }

    /// The batch of the images at `indices`, on `device`: built on the host, or cut on the
    /// device.
    fn batch_at(&self, indices: &[usize], device: &Device) -> Result<ImageBatch, DatasetError> {
        match self {
            Self::Host { dataset, batcher } => batcher.batch_of(dataset.data(), indices, device),
            Self::Device { split } => Ok(split.cut(indices)),
        }
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
    /// The indices of each batch, cut from `split` on the device as they are read.
    Device {
        /// The whole split.
        split: Box<DeviceSplit>,
        /// Each batch's indices.
        order: Vec<Vec<usize>>,
    },
}

impl EpochBatches {
    /// The batches, in order. Errors are the data loader's.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Result<ImageBatch, DatasetError>> + '_> {
        match self {
            Self::Host(loader) => Box::new(loader.iter()),
            Self::Device { split, order } => {
                Box::new(order.iter().map(|indices| Ok(split.cut(indices))))
            }
        }
    }
}

impl DeviceSplit {
    /// The images and labels at `indices`, selected, unpacked and normalized on their device:
    /// images `[n, 1, 28, 28]` float, targets `[n]` int.
    fn cut(&self, indices: &[usize]) -> ImageBatch {
        let device = self.labels.device();
        let n = indices.len();
        let indices = ember_engine::data::index_tensor(indices, &device);
        // Byte k of every word, as [n, 196, 4]: pixel 4j + k of each image. One broadcast shift
        // ([n, 196, 1] by [1, 1, 4]) and one mask, which fusion runs as one kernel.
        let bytes = self
            .words
            .clone()
            .select(0, indices.clone())
            .unsqueeze_dim::<3>(2)
            .bitwise_right_shift(self.shifts.clone())
            .bitwise_and_scalar(0xFF)
            .reshape([n * IMAGE_PIXELS]);
        ImageBatch {
            images: self
                .table
                .clone()
                .select(0, bytes)
                .reshape([n, 1, IMAGE_SIDE, IMAGE_SIDE]),
            targets: self.labels.clone().select(0, indices),
            soft_targets: None,
        }
    }
}

/// The engine's view of a split: the batches of [`BatchSource::epoch`], in the same order
/// (Burn's data loader's for the seed), built one by one as the learner reads them; the
/// batches a resumed epoch already took are left out without being built.
impl ember_engine::EpochSource for BatchSource {
    type Batch = ImageBatch;

    fn len(&self) -> usize {
        BatchSource::len(self)
    }

    fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        skip: usize,
        device: &Device,
    ) -> Result<ember_engine::data::Batches<'_, ImageBatch>, ember_engine::DataError> {
        let order = self.order(batch_size, shuffle, device)?;
        let device = device.clone();
        Ok(Box::new(order.into_iter().skip(skip).map(move |indices| {
            self.batch_at(&indices, &device)
                .map_err(|e| Box::new(e) as ember_engine::DataError)
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mnist::{DatasetKind, MnistData};

    /// 10 distinct images and labels.
    fn dataset() -> InMemoryDataset {
        let n = 10;
        // Every byte value, 0-255 (those from 128 on set a packed word's sign bit).
        let images = (0..n * 784).map(|i| (i * 7 % 256) as u8).collect();
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

    #[test]
    fn host_batches_equal_burns_data_loader_and_batch_raw() {
        let device = Device::flex();
        let batcher = ImageBatcher::new(DatasetKind::Mnist);
        let host = BatchSource::on_host(dataset(), batcher);
        for shuffle in [None, Some(7)] {
            let loader = host.epoch(4, shuffle, &device).unwrap();
            let loader: Vec<_> = loader.iter().map(|b| values(&b.unwrap())).collect();
            let ours = ember_engine::EpochSource::batches(&host, 4, shuffle, 0, &device).unwrap();
            let ours: Vec<_> = ours.map(|b| values(&b.unwrap())).collect();
            assert_eq!(ours, loader, "shuffle {shuffle:?}");
        }
        // Enough images for several parallel tasks, indices repeated and out of order.
        let data = dataset();
        let indices: Vec<usize> = (0..300).map(|i| (i * 7 + 3) % 10).collect();
        let pixels: Vec<u8> = indices
            .iter()
            .flat_map(|&i| data.data().image(i).to_vec())
            .collect();
        let labels: Vec<u8> = indices.iter().map(|&i| data.data().labels[i]).collect();
        let direct = batcher.batch_of(data.data(), &indices, &device).unwrap();
        let raw = batcher.batch_raw(&pixels, &labels, &device);
        assert_eq!(values(&direct), values(&raw));
        assert_eq!(direct.images.dims(), [300, 1, 28, 28]);
    }

    #[test]
    fn an_index_past_the_split_is_an_error_naming_it() {
        let batcher = ImageBatcher::new(DatasetKind::Mnist);
        let error = batcher
            .batch_of(dataset().data(), &[0, 10], &Device::flex())
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("image index 10 out of range for 10 images"),
            "{error}"
        );
    }
}
