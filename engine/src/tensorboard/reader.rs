//! Reading event files back, checking every record's CRCs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;

use super::proto::{Event, Value};
use super::record::{RecordError, decode_records};

/// Why an event file or directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TbError {
    /// The file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record is truncated or fails a CRC check.
    #[error("{}: {source}", path.display())]
    Record {
        /// The event file.
        path: PathBuf,
        /// The damaged record, with its byte offset.
        source: RecordError,
    },
    /// A record's CRCs match but its data is not an `Event` protocol buffer.
    #[error("{}: record at byte offset {offset} is not an Event protocol buffer: {source}", path.display())]
    Decode {
        /// The event file.
        path: PathBuf,
        /// Byte offset of the record in the file.
        offset: u64,
        /// The protocol-buffer decoding error.
        source: prost::DecodeError,
    },
}

/// Reads all events of the event file at `path`, in file order, checking the masked CRC32C of
/// every record's length and data.
///
/// # Errors
/// [`TbError::Io`] if the file cannot be read; [`TbError::Record`] naming the file and the
/// record's byte offset if a record is truncated (a writer was interrupted mid-record) or a CRC
/// does not match; [`TbError::Decode`] if a record is not an `Event`.
pub fn read_events(path: &Path) -> Result<Vec<Event>, TbError> {
    let bytes = std::fs::read(path).map_err(|source| TbError::Io {
        path: path.to_owned(),
        source,
    })?;
    let records = decode_records(&bytes).map_err(|source| TbError::Record {
        path: path.to_owned(),
        source,
    })?;
    records
        .into_iter()
        .map(|(offset, data)| {
            Event::decode(data).map_err(|source| TbError::Decode {
                path: path.to_owned(),
                offset,
                source,
            })
        })
        .collect()
}

/// The event files of `dir` (names containing `tfevents`, TensorBoard's
/// `io_wrapper.IsTensorFlowEventsFile`), sorted by file name, which is creation order since the
/// name starts with the zero-padded creation time.
///
/// # Errors
/// [`TbError::Io`] if the directory cannot be listed.
pub fn event_files(dir: &Path) -> Result<Vec<PathBuf>, TbError> {
    let io_error = |source| TbError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        if entry.file_name().to_string_lossy().contains("tfevents")
            && entry.file_type().map_err(io_error)?.is_file()
        {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Every summary value in the event files of `dir` with its event's step, in file-name order,
/// then record order within a file (scalars, histograms, images alike).
///
/// # Errors
/// The first error of [`event_files`] or [`read_events`].
pub fn summary_values(dir: &Path) -> Result<Vec<(i64, Value)>, TbError> {
    let mut values = Vec::new();
    for file in event_files(dir)? {
        for event in read_events(&file)? {
            let step = event.step;
            values.extend(
                event
                    .summary
                    .into_iter()
                    .flat_map(|s| s.value)
                    .map(|v| (step, v)),
            );
        }
    }
    Ok(values)
}

/// Every scalar (`simple_value`) in the event files of `dir`, by tag: `(step, value)` pairs in
/// file-name order, then record order within a file.
///
/// Like TensorBoard's `EventAccumulator` for `brain.Event:2` files, nothing is dropped or
/// merged: a step logged again by a resumed run appears twice.
///
/// # Errors
/// The first error of [`event_files`] or [`read_events`].
pub fn scalars(dir: &Path) -> Result<BTreeMap<String, Vec<(i64, f32)>>, TbError> {
    let mut series: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for (step, value) in summary_values(dir)? {
        if let Some(simple_value) = value.simple_value {
            series
                .entry(value.tag)
                .or_default()
                .push((step, simple_value));
        }
    }
    Ok(series)
}
