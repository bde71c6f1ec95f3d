//! The subset of TensorFlow's event protocol buffers that scalar logging needs, as `prost`
//! messages (no build script: the field numbers are written out here).
//!
//! Source: `tensorflow/core/util/event.proto` (`Event`) and
//! `tensorflow/core/framework/summary.proto` (`Summary`, `Summary.Value`), also vendored by
//! TensorBoard as `tensorboard/compat/proto/{event,summary}.proto`. Fields this module does not
//! declare (graphs, histograms, session logs, ...) are skipped when decoding.

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
/// `simple_value` is a member of the `oneof value` in `summary.proto`, so it has presence: it
/// is written even when it is `0.0` (a plain proto3 `float` would drop a zero, and TensorBoard
/// would then not see the scalar at all).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// Name of the time series, e.g. `epoch_loss` (field 1, `string`).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// A scalar, float32 (field 2, `float`); `None` for other kinds of values.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
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
                }],
            }),
            ..Self::default()
        }
    }
}

/// The `file_version` of the event format TensorFlow writes: `EventsWriter::kVersionPrefix`
/// (`"brain.Event:"`) followed by `kCurrentVersion` (2), `tensorflow/core/util/events_writer.h`.
pub const FILE_VERSION: &str = "brain.Event:2";
