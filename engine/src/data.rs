//! Where the learner's batches come from: an [`EpochSource`] yields an epoch's batches in an
//! order fixed by a seed, and can leave out the first batches, so that a run resumed in the
//! middle of an epoch sees exactly the batches the interrupted run had not yet taken.
//!
//! [`DatasetSource`] makes one from Burn's `Dataset` and `Batcher`; [`TensorSource`] from
//! inputs and targets held in memory (Keras' `fit(x, y)`, torch's `TensorDataset`); a source
//! that builds its batches some other way (on the device, from a file) implements the trait
//! itself.

use std::marker::PhantomData;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// An error reading or batching data, boxed (the sources' own error types differ).
pub type DataError = Box<dyn std::error::Error + Send + Sync>;

/// The batches of one epoch.
pub type Batches<'a, B> = Box<dyn Iterator<Item = Result<B, DataError>> + 'a>;

/// A dataset as the learner reads it, one epoch at a time.
pub trait EpochSource {
    /// The batch type a step takes.
    type Batch;

    /// Examples per epoch.
    fn len(&self) -> usize;

    /// Whether the source has no examples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The epoch's batches of `batch_size` examples (the last one smaller if they do not
    /// divide), on `device`: in the order `shuffle` fixes (the same seed gives the same order,
    /// on any machine), or in storage order for `None`. The first `skip` batches are left out
    /// without being built.
    ///
    /// # Errors
    /// The source's own failure to start the epoch.
    fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        skip: usize,
        device: &Device,
    ) -> Result<Batches<'_, Self::Batch>, DataError>;
}

/// A Burn [`Dataset`] of items `I` batched by a Burn [`Batcher`] into `O`.
pub struct DatasetSource<I, O, D, T> {
    dataset: D,
    batcher: T,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O, D: Dataset<I>, T: Batcher<I, O>> DatasetSource<I, O, D, T> {
    /// `dataset`'s items, `batcher` making the batches.
    pub fn new(dataset: D, batcher: T) -> Self {
        Self {
            dataset,
            batcher,
            _types: PhantomData,
        }
    }
}

impl<I, O, D: Dataset<I>, T: Batcher<I, O>> EpochSource for DatasetSource<I, O, D, T> {
    type Batch = O;

    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        skip: usize,
        device: &Device,
    ) -> Result<Batches<'_, O>, DataError> {
        let device = device.clone();
        let chunks = batch_order(self.dataset.len(), batch_size, shuffle);
        Ok(Box::new(chunks.into_iter().skip(skip).map(
            move |indices| {
                let items = indices
                    .into_iter()
                    .map(|i| self.dataset.get(i).map_err(|e| Box::new(e) as DataError))
                    .collect::<Result<Vec<I>, DataError>>()?;
                Ok(self.batcher.batch(items, &device))
            },
        )))
    }
}

/// Inputs and targets in memory, one example per row: Keras' `fit(x, y)` on arrays, torch's
/// `TensorDataset`. Batches are [`Xy`] pairs, the rows of an epoch's order cut from the whole
/// set uploaded once per epoch (small data sets: the toy problems, a regression curve).
#[derive(Debug, Clone)]
pub struct TensorSource {
    x: TensorData,
    y: TensorData,
}

/// A batch of a [`TensorSource`]: inputs `x` `[batch, features]` and targets `y`
/// `[batch, outputs]`, row `i` of each the same example.
#[derive(Debug, Clone)]
pub struct Xy {
    /// Inputs, `[batch, features]`.
    pub x: Tensor<2>,
    /// Targets, `[batch, outputs]`.
    pub y: Tensor<2>,
}

impl TensorSource {
    /// Inputs `x` of shape `[n, features]` and targets `y` of shape `[n, outputs]` (floats of
    /// any precision, kept as `f32`).
    ///
    /// ```
    /// use burn::tensor::TensorData;
    /// use ember_engine::data::TensorSource;
    /// let x = TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]);
    /// let y = TensorData::new(vec![0.5f32, 1.5], [2, 1]);
    /// let source = TensorSource::new(x, y).unwrap();
    /// ```
    ///
    /// # Errors
    /// A one-line message: `x` or `y` not of rank 2, or their numbers of rows differ.
    pub fn new(x: TensorData, y: TensorData) -> Result<Self, DataError> {
        for (name, data) in [("inputs x", &x), ("targets y", &y)] {
            if data.shape().len() != 2 {
                return Err(format!(
                    "TensorSource {name} must be [examples, values], got shape {:?}",
                    data.shape().as_slice()
                )
                .into());
            }
        }
        if x.shape()[0] != y.shape()[0] {
            return Err(format!(
                "TensorSource has {} inputs but {} targets: give one target row per input row",
                x.shape()[0],
                y.shape()[0]
            )
            .into());
        }
        Ok(Self {
            x: x.convert::<f32>(),
            y: y.convert::<f32>(),
        })
    }
}

impl EpochSource for TensorSource {
    type Batch = Xy;

    fn len(&self) -> usize {
        self.x.shape()[0]
    }

    fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        skip: usize,
        device: &Device,
    ) -> Result<Batches<'_, Xy>, DataError> {
        let x = Tensor::<2>::from_data(self.x.clone(), device);
        let y = Tensor::<2>::from_data(self.y.clone(), device);
        let device = device.clone();
        let chunks = batch_order(self.len(), batch_size, shuffle);
        Ok(Box::new(chunks.into_iter().skip(skip).map(move |rows| {
            let rows = index_tensor(&rows, &device);
            Ok(Xy {
                x: x.clone().select(0, rows.clone()),
                y: y.clone().select(0, rows),
            })
        })))
    }
}

/// `indices` as an int tensor `[indices.len()]` on `device`: the argument of `select` that
/// gathers a batch's rows from a tensor holding the whole split.
pub fn index_tensor(indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(values, [indices.len()]), device)
}

/// The example indices of each batch of an epoch over `len` examples: `0..len` in the order
/// [`permutation`] gives for `shuffle` (storage order for `None`), cut into batches of
/// `batch_size` (the last one shorter). What [`DatasetSource`] uses; a source of its own can too.
pub fn batch_order(len: usize, batch_size: usize, shuffle: Option<u64>) -> Vec<Vec<usize>> {
    let order = match shuffle {
        Some(seed) => permutation(len, seed),
        None => (0..len).collect(),
    };
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// A uniformly random permutation of `0..n` fixed by `seed`: Fisher-Yates driven by SplitMix64
/// (Steele, Lea & Flood 2014), with Lemire's multiply-shift to map to a range. Defined here,
/// not by a random-number crate, so that an order never changes with a dependency's version.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = ((u128::from(next()) * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataset::InMemDataset;

    struct Sum;

    impl Batcher<u32, u32> for Sum {
        fn batch(&self, items: Vec<u32>, _device: &Device) -> u32 {
            items.iter().sum::<u32>() * 1000 + items.len() as u32
        }
    }

    /// Rows stay paired through the shuffle; bad shapes are refused on one line.
    #[test]
    fn tensor_source_keeps_rows_together() {
        let x = TensorData::new((0..10).map(|i| i as f32).collect::<Vec<_>>(), [5, 2]);
        let y = TensorData::new((0..5).map(|i| 100.0 + i as f32).collect::<Vec<_>>(), [5, 1]);
        let source = TensorSource::new(x, y).unwrap();
        assert_eq!(source.len(), 5);
        let device = Device::flex();
        let batches: Vec<Xy> = source
            .batches(2, Some(3), 0, &device)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            batches.iter().map(|b| b.x.dims()[0]).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let mut seen = Vec::new();
        for batch in batches {
            let x: Vec<f32> = batch.x.into_data().try_to_vec().unwrap();
            let y: Vec<f32> = batch.y.into_data().try_to_vec().unwrap();
            for (row, target) in x.chunks(2).zip(y) {
                // Row i is (2i, 2i + 1) with target 100 + i.
                assert_eq!(row[1], row[0] + 1.0);
                assert_eq!(target, 100.0 + row[0] / 2.0);
                seen.push(target);
            }
        }
        seen.sort_by(f32::total_cmp);
        assert_eq!(seen, [100.0, 101.0, 102.0, 103.0, 104.0]);

        let err = TensorSource::new(
            TensorData::new(vec![0.0f32; 4], [2, 2]),
            TensorData::new(vec![0.0f32; 3], [3, 1]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("2 inputs but 3 targets"), "{err}");
        let err = TensorSource::new(
            TensorData::new(vec![0.0f32; 4], [4]),
            TensorData::new(vec![0.0f32; 4], [4, 1]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("inputs x must be [examples, values]"), "{err}");
    }

    #[test]
    fn permutation_is_a_fixed_shuffle() {
        let order = permutation(10, 7);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_eq!(order, permutation(10, 7));
        assert_ne!(order, permutation(10, 8));
        assert_ne!(order, sorted);
        assert!(permutation(0, 1).is_empty());
    }

    #[test]
    fn skipped_batches_are_the_first_ones() {
        let source = DatasetSource::new(InMemDataset::new((0..10u32).collect()), Sum);
        let device = Device::flex();
        let all: Vec<u32> = source
            .batches(3, Some(5), 0, &device)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(all.len(), 4);
        assert_eq!(all.iter().map(|b| b % 1000).sum::<u32>(), 10);
        let rest: Vec<u32> = source
            .batches(3, Some(5), 2, &device)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rest, all[2..]);
        let in_order: Vec<u32> = source
            .batches(4, None, 0, &device)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(in_order, [6004, 22004, 17002]);
    }
}
