#![warn(missing_docs)]
//! `ember-datasets`: the data side of ember.
//!
//! - [`idx`]: the IDX file reader (raw or gzip).
//! - [`mnist`]: where MNIST and Fashion-MNIST live, and loading a split into memory.
//! - [`batcher`]: an in-memory [`burn::data::dataset::Dataset`] and a
//!   [`burn::data::dataloader::batcher::Batcher`] that normalizes images into tensors.
//!
//! ```no_run
//! use ember_datasets::{DatasetKind, Split, locate, load};
//! let dir = locate(DatasetKind::Mnist, None)?;
//! let test = load(&dir, Split::Test)?;
//! assert_eq!(test.len(), 10_000);
//! # Ok::<(), ember_datasets::DataError>(())
//! ```

pub mod augment;
pub mod augmented;
pub mod batcher;
// SHA-256 of files: the engine's (its checkpoints use it too).
pub use ember_engine::checksum;
pub mod epoch;
pub mod error;
pub mod idx;
pub mod mnist;
pub mod preprocess;

pub use augment::Augmentation;
pub use augmented::AugmentedSource;
pub use batcher::{ImageBatch, ImageBatcher, ImageItem, InMemoryDataset};
pub use epoch::{BatchSource, EpochBatches};
pub use error::DataError;
pub use mnist::{
    DatasetKind, IMAGE_PIXELS, IMAGE_SIDE, MnistData, NUM_CLASSES, Split, load, locate,
};
pub use preprocess::Preprocessing;
