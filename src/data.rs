//! The splits a run trains, validates and tests on, loaded once into memory.

use burn::tensor::Device;
use ember_datasets::checksum::sha256_parts;
use ember_datasets::{
    BatchSource, DataError, DatasetKind, ImageBatcher, InMemoryDataset, Split, load, locate,
};

use crate::backend::BackendKind;
use crate::config::TrainConfig;

/// The three splits of a run.
#[derive(Debug, Clone)]
pub struct RunData {
    /// Images the optimizer sees.
    pub train: InMemoryDataset,
    /// Images for the per-epoch validation metrics (`val_loss`, `val_accuracy`).
    pub val: InMemoryDataset,
    /// The standard 10,000-image test split, evaluated at the end.
    pub test: InMemoryDataset,
    /// Which dataset, for normalization.
    pub kind: DatasetKind,
    /// SHA-256 of the training and validation images and labels, in order: what a checkpoint
    /// records so that a resume on other data is refused.
    pub fingerprint: String,
}

/// Loads the dataset of `config` and cuts the splits: the first `limit_train` training images
/// (all by default), of which the last `val_split` fraction validates, as Keras'
/// `validation_split` does (no shuffle before the cut). With `val_split = 0` the test split
/// doubles as validation split.
///
/// # Errors
/// Any [`DataError`] from locating or reading the files, or [`DataError::EmptySplit`] when the
/// limit and the validation split leave no training image.
pub fn load_run_data(config: &TrainConfig) -> Result<RunData, DataError> {
    let dir = locate(config.dataset, config.data_dir.as_deref())?;
    let train_full = load(&dir, Split::Train)?;
    let test = load(&dir, Split::Test)?;
    let n = config
        .limit_train
        .map_or(train_full.len(), |l| l.min(train_full.len()));
    let n_val = (n as f64 * config.val_split).round() as usize;
    let n_train = n - n_val;
    if n_train == 0 {
        return Err(DataError::EmptySplit {
            reason: format!(
                "--limit-train {n} with --val-split {} leaves no training image",
                config.val_split
            ),
        });
    }
    let train = train_full.slice(0..n_train);
    let test = InMemoryDataset::new(test);
    let val = if n_val == 0 {
        test.clone()
    } else {
        InMemoryDataset::new(train_full.slice(n_train..n))
    };
    let fingerprint = sha256_parts(&[
        &train.images,
        &train.labels,
        &val.data().images,
        &val.data().labels,
    ]);
    Ok(RunData {
        train: InMemoryDataset::new(train),
        val,
        test,
        kind: config.dataset,
        fingerprint,
    })
}

impl RunData {
    /// Where `backend`'s batches of `split` (one of this run's splits) come from: on wgpu the
    /// split is uploaded to `device` once and each batch is cut there; the CPU backends build
    /// batches with Burn's data loader. Both give the same batches in the same order
    /// ([`BatchSource`]).
    pub fn source(
        &self,
        split: &InMemoryDataset,
        backend: BackendKind,
        device: &Device,
    ) -> BatchSource {
        let batcher = ImageBatcher::new(self.kind);
        match backend {
            BackendKind::Wgpu => BatchSource::on_device(split, batcher, device),
            BackendKind::Flex | BackendKind::Ndarray => {
                BatchSource::on_host(split.clone(), batcher)
            }
        }
    }
}
