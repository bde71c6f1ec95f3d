//! The splits a run trains, validates and tests on, loaded once into memory.

use burn::tensor::Device;
use ember_datasets::checksum::sha256_parts;
use ember_datasets::{
    BatchSource, DataError, DatasetKind, ImageBatcher, InMemoryDataset, MnistData, Split, load,
    locate,
};

use crate::backend::{Backend, BackendKind};
use crate::config::TrainConfig;
use ember_engine::text::format_bytes;

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
/// doubles as validation split. Every split is preprocessed with `config.preprocess`
/// (a member of a committee is tested on images prepared as it was trained on).
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
    let prepare = |split: MnistData| config.preprocess.apply_all(split);
    let train = prepare(train_full.slice(0..n_train));
    let test = InMemoryDataset::new(prepare(test));
    let val = if n_val == 0 {
        test.clone()
    } else {
        InMemoryDataset::new(prepare(train_full.slice(n_train..n)))
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
    /// Where `backend`'s batches of `split` (one of this run's splits) come from.
    ///
    /// On wgpu the split is uploaded to `device` once, as bytes, and each batch is cut there,
    /// provided its bytes fit in the device's largest buffer ([`Backend::max_buffer_bytes`]);
    /// the CPU backends, and a split too large for that buffer, get batches built by Burn's
    /// data loader on the host. Every source gives the same batches in the same order
    /// ([`BatchSource`]).
    pub fn source(
        &self,
        split: &InMemoryDataset,
        backend: &Backend,
        device: &Device,
    ) -> BatchSource {
        let batcher = ImageBatcher::new(self.kind);
        if resident(split, backend) {
            BatchSource::on_device(split, batcher, device)
        } else {
            BatchSource::on_host(split.clone(), batcher)
        }
    }

    /// The one line that says `split` (named `name`, e.g. "training") is built on the host
    /// although `backend` is a GPU, because it exceeds the device's largest buffer; `None`
    /// when nothing needs saying.
    pub fn host_fallback_note(
        &self,
        name: &str,
        split: &InMemoryDataset,
        backend: &Backend,
    ) -> Option<String> {
        let limit = backend
            .max_buffer_bytes
            .filter(|_| backend.kind == BackendKind::Wgpu)?;
        (!resident(split, backend)).then(|| {
            format!(
                "note: the {name} split ({} images, {} as bytes) exceeds the device's largest buffer ({}): its batches are built on the host and uploaded at every step",
                split.data().len(),
                format_bytes(BatchSource::device_bytes(split)),
                format_bytes(limit)
            )
        })
    }

    /// [`host_fallback_note`](Self::host_fallback_note) of the training and validation splits:
    /// what a run or a comparison prints before training.
    pub fn host_fallback_notes(&self, backend: &Backend) -> Vec<String> {
        [("training", &self.train), ("validation", &self.val)]
            .into_iter()
            .filter_map(|(name, split)| self.host_fallback_note(name, split, backend))
            .collect()
    }
}

/// Whether `backend` keeps `split` on its device: wgpu does, when the split's bytes fit in
/// one buffer.
fn resident(split: &InMemoryDataset, backend: &Backend) -> bool {
    backend.kind == BackendKind::Wgpu
        && backend
            .max_buffer_bytes
            .is_none_or(|limit| BatchSource::device_bytes(split) <= limit)
}
