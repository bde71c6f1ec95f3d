//! The subset of TensorFlow's event protocol buffers that ember writes (scalars, histograms,
//! images), as `prost` messages (no build script: the field numbers are written out here).
//!
//! Source: `tensorflow/core/util/event.proto` (`Event`) and
//! `tensorflow/core/framework/summary.proto` (`Summary`, `Summary.Value`), also vendored by
//! TensorBoard as `tensorboard/compat/proto/{event,summary}.proto`; `HistogramProto` from
//! `tensorflow/core/framework/summary.proto` too. Fields this module does not declare (graphs,
//! audio, tensors, session logs, ...) are skipped when decoding.

/// One entry of an event file (`tensorflow.Event`).
///
/// In `event.proto`, `file_version` and `summary` belong to the `oneof what`; they are modelled
/// as optional fields, which is the same wire format: a writer sets at most one of them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Wall-clock time of the event, seconds since the Unix epoch (field 1, `double`).
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// Global step the event belongs to: the x axis of TensorBoard's scalar charts
    /// (field 2, `int64`).
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// Version of the event file format, `"brain.Event:2"` in the first record of a file
    /// (field 3, `string`).
    #[prost(string, optional, tag = "3")]
    pub file_version: Option<String>,
    /// Summary values logged at `step` (field 5, `Summary`).
    #[prost(message, optional, tag = "5")]
    pub summary: Option<Summary>,
}

/// A set of values logged together (`tensorflow.Summary`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values (field 1, repeated `Summary.Value`).
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<Value>,
}

/// One tagged value (`tensorflow.Summary.Value`).
///
/// `simple_value`, `image` and `histo` are members of the `oneof value` in `summary.proto`,
/// modelled as optional fields (the same wire format; a writer sets exactly one). Being in a
/// `oneof`, `simple_value` has presence: it is written even when it is `0.0` (a plain proto3
/// `float` would drop a zero, and TensorBoard would then not see the scalar at all).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// Name of the time series, e.g. `epoch_loss` (field 1, `string`).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// A scalar, float32 (field 2, `float`); `None` for other kinds of values.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
    /// An encoded image (field 4, `Summary.Image`); `None` for other kinds of values.
    #[prost(message, optional, tag = "4")]
    pub image: Option<Image>,
    /// A histogram (field 5, `HistogramProto`): TensorBoard's legacy `histo` value, which its
    /// histogram and distribution dashboards read; `None` for other kinds of values.
    #[prost(message, optional, tag = "5")]
    pub histo: Option<HistogramProto>,
}

/// An encoded image (`tensorflow.Summary.Image`), as TensorFlow 1's `tf.summary.image` writes
/// one value per image.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    /// Height in pixels (field 1, `int32`).
    #[prost(int32, tag = "1")]
    pub height: i32,
    /// Width in pixels (field 2, `int32`).
    #[prost(int32, tag = "2")]
    pub width: i32,
    /// Channels: 1 grayscale, 2 grayscale + alpha, 3 RGB, 4 RGBA (field 3, `int32`).
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    /// The image as a PNG (or JPEG) file's bytes (field 4, `bytes`).
    #[prost(bytes = "vec", tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

/// A histogram of a tensor's values (`tensorflow.HistogramProto`).
///
/// Bucket `i` counts the values in `[bucket_limit[i - 1], bucket_limit[i])` (the first from
/// `-DBL_MAX`); see [`super::histogram`] for the buckets ember writes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramProto {
    /// The smallest value (field 1, `double`).
    #[prost(double, tag = "1")]
    pub min: f64,
    /// The largest value (field 2, `double`).
    #[prost(double, tag = "2")]
    pub max: f64,
    /// How many values (field 3, `double`).
    #[prost(double, tag = "3")]
    pub num: f64,
    /// Their sum (field 4, `double`).
    #[prost(double, tag = "4")]
    pub sum: f64,
    /// The sum of their squares (field 5, `double`).
    #[prost(double, tag = "5")]
    pub sum_squares: f64,
    /// Each bucket's right edge (exclusive), ascending (field 6, packed `repeated double`).
    #[prost(double, repeated, tag = "6")]
    pub bucket_limit: Vec<f64>,
    /// Each bucket's count (field 7, packed `repeated double`).
    #[prost(double, repeated, tag = "7")]
    pub bucket: Vec<f64>,
}

impl Value {
    /// A histogram value for `tag`.
    pub fn histogram(tag: &str, histo: HistogramProto) -> Self {
        Self {
            tag: tag.to_owned(),
            histo: Some(histo),
            ..Self::default()
        }
    }

    /// An image value for `tag`.
    pub fn image(tag: &str, image: Image) -> Self {
        Self {
            tag: tag.to_owned(),
            image: Some(image),
            ..Self::default()
        }
    }
}

impl Event {
    /// The file-version event (`file_version` = [`FILE_VERSION`]) TensorFlow writes as the first record of every event file.
    pub fn file_version_event(wall_time: f64) -> Self {
        Self {
            wall_time,
            file_version: Some(FILE_VERSION.to_owned()),
            ..Self::default()
        }
    }

    /// An event carrying one scalar `value` for `tag` at `step`.
    pub fn scalar(wall_time: f64, step: i64, tag: &str, value: f32) -> Self {
        Self {
            wall_time,
            step,
            summary: Some(Summary {
                value: vec![Value {
                    tag: tag.to_owned(),
                    simple_value: Some(value),
                    ..Value::default()
                }],
            }),
            ..Self::default()
        }
    }

    /// An event carrying `values` (histograms, images, ...) at `step`.
    pub fn summary(wall_time: f64, step: i64, values: Vec<Value>) -> Self {
        Self {
            wall_time,
            step,
            summary: Some(Summary { value: values }),
            ..Self::default()
        }
    }
}

/// The `file_version` of the event format TensorFlow writes: `EventsWriter::kVersionPrefix`
/// (`"brain.Event:"`) followed by `kCurrentVersion` (2), `tensorflow/core/util/events_writer.h`.
pub const FILE_VERSION: &str = "brain.Event:2";
