//! TensorBoard event files: written by ember, readable by TensorBoard itself.
//!
//! - [`record`]: TFRecord framing with masked CRC32C checksums.
//! - [`proto`]: the `Event` / `Summary` protocol buffers (scalars, histograms, images).
//! - [`histogram`]: histograms with TensorFlow's default buckets.
//! - [`image`]: convolution filters as PNG images.
//! - [`weights`]: a module's parameters and gradients on the host, by path.
//! - [`writer`]: [`EventWriter`], one append-only event file named like TensorFlow's.
//! - [`reader`]: [`read_events`], [`scalars`] and [`summary_values`], reading files back with
//!   every CRC checked.
//! - [`logger`]: [`TensorBoardLogger`], a run's epoch and batch metrics laid out like Keras 3's
//!   TensorBoard callback (`<run>/tensorboard/{train,validation}`).
//!
//! Scalars are stored as `Summary.Value.simple_value` (float32), the form TensorFlow 1's
//! `tf.summary.scalar` and PyTorch's `SummaryWriter.add_scalar` write; TensorBoard's
//! `EventAccumulator` reads it directly and its `data_compat.migrate_value` converts it to the
//! tensor form TensorFlow 2 writes.

pub mod histogram;
pub mod image;
pub mod logger;
pub mod proto;
pub mod reader;
pub mod record;
pub mod weights;
pub mod writer;

pub use logger::{TensorBoardLogger, UpdateFreq};
pub use proto::{Event, HistogramProto, Image, Summary, Value};
pub use reader::{TbError, event_files, read_events, scalars, summary_values};
pub use writer::EventWriter;
