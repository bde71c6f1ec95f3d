//! The in-memory image dataset and its batcher, on Burn's data API
//! (`burn::data::dataset::Dataset`, `burn::data::dataloader::batcher::Batcher`).

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rayon::prelude::*;

use crate::mnist::{DatasetKind, IMAGE_PIXELS, IMAGE_SIDE, MnistData};

/// One image and its label, as the dataset hands it to the batcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageItem {
    /// 28x28 pixels in row-major order, values 0-255.
    pub image: [u8; IMAGE_PIXELS],
    /// Class index 0-9.
    pub label: u8,
}

/// A split held in memory, shared cheaply between data loaders (one per epoch).
#[derive(Debug, Clone)]
pub struct InMemoryDataset {
    data: Arc<MnistData>,
}

impl InMemoryDataset {
    /// Wraps a loaded split.
    pub fn new(data: MnistData) -> Self {
        Self {
            data: Arc::new(data),
        }
    }

    /// The underlying split.
    pub fn data(&self) -> &MnistData {
        &self.data
    }
}

impl Dataset<ImageItem> for InMemoryDataset {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        if index >= self.data.len() {
            return Err(out_of_range(index, self.data.len()));
        }
        let mut image = [0u8; IMAGE_PIXELS];
        image.copy_from_slice(self.data.image(index));
        Ok(ImageItem {
            image,
            label: self.data.labels[index],
        })
    }

    fn len(&self) -> usize {
        self.data.len()
    }
}

/// The error for an image index at or beyond a split's `len`.
fn out_of_range(index: usize, len: usize) -> DatasetError {
    DatasetError::new(std::io::Error::other(format!(
        "image index {index} out of range for {len} images"
    )))
}

/// Asks the CPU to bring `bytes` into its caches ahead of their use: a hint, which reads nothing
/// and cannot fault (and does nothing on other architectures than x86-64).
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // Every cache line of the range: one address per 64 bytes, and the last byte's.
        let lines = (0..bytes.len())
            .step_by(64)
            .chain(bytes.len().checked_sub(1));
        for offset in lines {
            // SAFETY: `offset` is inside `bytes`; a prefetch does not access memory anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().add(offset).cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Images per parallel task of the batcher's normalization: 50,176 table lookups, enough to pay
/// for a task.
const IMAGES_PER_TASK: usize = 64;

/// A batch ready for a model.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// Normalized images, shape `[batch, 1, 28, 28]`, float.
    pub images: Tensor<4>,
    /// Class indices, shape `[batch]`, int.
    pub targets: Tensor<1, Int>,
    /// A teacher's logits for these images, `[batch, classes]`, when a source has them cached
    /// (knowledge distillation computes a frozen teacher's outputs for the training split
    /// once, rather than at every step); `None` from the dataset's own sources.
    pub soft_targets: Option<Tensor<2>>,
}

/// Turns items into an [`ImageBatch`]: pixels scaled to [0, 1], then normalized with the
/// dataset's mean and standard deviation (`(p / 255 - mean) / std`, as torchvision's
/// `ToTensor` + `Normalize`).
#[derive(Debug, Clone, Copy)]
pub struct ImageBatcher {
    mean: f32,
    std: f32,
}

impl ImageBatcher {
    /// A batcher with `kind`'s normalization constants.
    pub fn new(kind: DatasetKind) -> Self {
        Self {
            mean: kind.mean(),
            std: kind.std(),
        }
    }

    /// The normalized value of each pixel value 0-255: `(p / 255 - mean) / std` in f32.
    ///
    /// Every batch, built on the host ([`batch_raw`](Self::batch_raw)) or cut on a device from
    /// the split's bytes ([`crate::BatchSource::on_device`]), takes its values from this table,
    /// so both give the same bits on every backend.
    pub fn table(&self) -> [f32; 256] {
        // Divide then subtract, as torchvision does, so values match its float32 pipeline.
        std::array::from_fn(|p| (p as f32 / 255.0 - self.mean) / self.std)
    }

    /// The normalized value of a pixel value `v` in `[0, 1]` (an augmented pixel):
    /// `(v - mean) / std`, the [`table`](Self::table)'s value when `v = p / 255`.
    pub fn normalize(&self, v: f32) -> f32 {
        (v - self.mean) / self.std
    }

    /// Builds a batch from raw pixels (`n * 784` bytes) and labels (`n` bytes) on `device`.
    pub fn batch_raw(&self, pixels: &[u8], labels: &[u8], device: &Device) -> ImageBatch {
        let n = labels.len();
        debug_assert_eq!(pixels.len(), n * IMAGE_PIXELS);
        let values = self.normalized(n, |k| &pixels[k * IMAGE_PIXELS..(k + 1) * IMAGE_PIXELS]);
        self.batch_values(values, labels.iter().copied(), device)
    }

    /// The batch of `data`'s images at `indices`, in that order, on `device`: the values
    /// [`batch_raw`](Self::batch_raw) gives for the same images (the same bits), normalized
    /// straight from the split's bytes in one pass, images in parallel, without the per-item
    /// copies of Burn's `Dataset::get` and `Batcher::batch` (a training epoch's batches on the
    /// CPU backends; `BatchSource`).
    ///
    /// # Errors
    /// An index at or beyond `data.len()`, named in the message.
    pub fn batch_of(
        &self,
        data: &MnistData,
        indices: &[usize],
        device: &Device,
    ) -> Result<ImageBatch, DatasetError> {
        if let Some(&index) = indices.iter().find(|&&i| i >= data.len()) {
            return Err(out_of_range(index, data.len()));
        }
        let values = self.normalized(indices.len(), |k| data.image(indices[k]));
        let labels = indices.iter().map(|&i| data.labels[i]);
        Ok(self.batch_values(values, labels, device))
    }

    /// The [`table`](Self::table)'s values of the `n` images `image(0..n)` (784 bytes each),
    /// image after image, images in parallel.
    fn normalized<'a>(&self, n: usize, image: impl Fn(usize) -> &'a [u8] + Sync) -> Vec<f32> {
        let table = self.table();
        let mut values = vec![0f32; n * IMAGE_PIXELS];
        values
            .par_chunks_exact_mut(IMAGE_PIXELS)
            .enumerate()
            .with_min_len(IMAGES_PER_TASK)
            .for_each(|(k, out)| {
                // A training batch's images lie at random places in the split (42 MB for
                // MNIST's 54,000), mostly outside the caches: fetch the next one while this one
                // is converted. MLP epoch at batch 64 on the test machine (fastest of six,
                // interleaved): 0.366 s -> 0.336 s.
                if k + 1 < n {
                    prefetch(image(k + 1));
                }
                for (v, &p) in out.iter_mut().zip(image(k)) {
                    *v = table[usize::from(p)];
                }
            });
        values
    }

    /// The batch of normalized `values` (`n * 784`) and `labels` (`n`) on `device`.
    fn batch_values(
        &self,
        values: Vec<f32>,
        labels: impl ExactSizeIterator<Item = u8>,
        device: &Device,
    ) -> ImageBatch {
        let n = labels.len();
        let targets: Vec<i64> = labels.map(i64::from).collect();
        ImageBatch {
            images: Tensor::from_data(
                TensorData::new(values, [n, 1, IMAGE_SIDE, IMAGE_SIDE]),
                device,
            ),
            targets: Tensor::from_data(TensorData::new(targets, [n]), device),
            soft_targets: None,
        }
    }
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let mut pixels = Vec::with_capacity(items.len() * IMAGE_PIXELS);
        let mut labels = Vec::with_capacity(items.len());
        for item in &items {
            pixels.extend_from_slice(&item.image);
            labels.push(item.label);
        }
        self.batch_raw(&pixels, &labels, device)
    }
}
