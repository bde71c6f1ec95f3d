//! Appending events to a new event file, named and started the way TensorFlow's
//! `tf.summary.create_file_writer` does it.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use super::proto::{Event, Value};
use super::record::encode_record;

/// Event files created by this process so far; part of the file name, as TensorFlow's
/// process-wide `file_id_counter`, so two writers created in the same second never collide.
static FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes one event file: a new file in a directory, records appended, never rewritten.
///
/// The file is named `events.out.tfevents.<unix seconds, 10 digits>.<hostname>.<pid>.<counter>.v2`
/// like the files of TensorFlow 2's `tf.summary.create_file_writer` (which Keras' TensorBoard
/// callback uses): `EventsWriter::InitIfNeeded` in `tensorflow/core/util/events_writer.cc`
/// formats `%s.out.tfevents.%010lld.%s%s` with the prefix `<dir>/events`, and
/// `SummaryFileWriter::Initialize` in `tensorflow/core/summary/summary_file_writer.cc` makes the
/// suffix `.<pid>.<counter>.v2`. TensorBoard reads every file whose name contains `tfevents`
/// and orders them by name; so that this is creation order, a file's timestamp is moved one
/// second past the newest event file already in the directory when it would not sort after it.
///
/// Records are buffered; [`flush`](Self::flush) makes them visible to TensorBoard and durable.
/// Dropping the writer flushes the buffer but ignores errors: call `flush` to see them.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    file: BufWriter<File>,
    /// One record's bytes, reused between events.
    buffer: Vec<u8>,
}

impl EventWriter {
    /// Creates `dir` (and its parents) if needed and a new event file in it, whose first record
    /// is the file-version event (`"brain.Event:2"`), as TensorFlow writes it.
    ///
    /// # Errors
    /// The I/O error of creating the directory or the file (with the path in the message); a
    /// file of the same name already existing is an error, never overwritten.
    pub fn create(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| with_path(e, "creating directory", dir))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let name = format!(
            "{FILE_PREFIX}{:010}.{}.{}.{}.v2",
            file_timestamp(dir, now.as_secs())?,
            hostname(),
            std::process::id(),
            FILE_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| with_path(e, "creating event file", &path))?;
        let mut writer = Self {
            path,
            file: BufWriter::new(file),
            buffer: Vec::new(),
        };
        writer.add_event(&Event::file_version_event(now.as_secs_f64()))?;
        Ok(writer)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a scalar `value` for `tag` at `step` (the x axis in TensorBoard), stamped with
    /// the current wall-clock time. The value is float32, TensorBoard's scalar type.
    ///
    /// # Errors
    /// The I/O error of writing to the file.
    pub fn add_scalar(&mut self, tag: &str, step: i64, value: f32) -> io::Result<()> {
        self.add_event(&Event::scalar(wall_time(), step, tag, value))
    }

    /// Appends `values` (histograms, images) as one event at `step`, stamped with the current
    /// wall-clock time.
    ///
    /// # Errors
    /// The I/O error of writing to the file.
    pub fn add_values(&mut self, step: i64, values: Vec<Value>) -> io::Result<()> {
        self.add_event(&Event::summary(wall_time(), step, values))
    }

    /// Appends `event` as one record.
    ///
    /// # Errors
    /// The I/O error of writing to the file.
    pub fn add_event(&mut self, event: &Event) -> io::Result<()> {
        self.buffer.clear();
        encode_record(&event.encode_to_vec(), &mut self.buffer);
        self.file
            .write_all(&self.buffer)
            .map_err(|e| with_path(e, "writing event file", &self.path))
    }

    /// Writes buffered records to the file and fsyncs it, so that TensorBoard sees them and
    /// they survive a crash.
    ///
    /// # Errors
    /// The I/O error of writing or syncing.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file
            .flush()
            .and_then(|()| self.file.get_ref().sync_data())
            .map_err(|e| with_path(e, "flushing event file", &self.path))
    }
}

/// Start of every event file name.
const FILE_PREFIX: &str = "events.out.tfevents.";

/// The creation time to put in a new file's name: `now_secs`, or one second after the newest
/// event file already in `dir` if that is not earlier. TensorBoard (like [`super::scalars`])
/// reads a directory's files in name order; a file created in the same second as an earlier
/// one (a run resumed within a second, or tests) would otherwise sort by pid and counter, whose
/// decimal digits do not sort numerically.
fn file_timestamp(dir: &Path, now_secs: u64) -> io::Result<u64> {
    let mut timestamp = now_secs;
    for entry in std::fs::read_dir(dir).map_err(|e| with_path(e, "listing", dir))? {
        let name = entry.map_err(|e| with_path(e, "listing", dir))?.file_name();
        let existing = name
            .to_str()
            .and_then(|n| n.strip_prefix(FILE_PREFIX))
            .and_then(|rest| rest.split('.').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if let Some(existing) = existing {
            timestamp = timestamp.max(existing + 1);
        }
    }
    Ok(timestamp)
}

/// Seconds since the Unix epoch, the unit of `Event.wall_time`.
fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The host name, as TensorFlow's `port::Hostname()` (`gethostname`): the kernel's, else
/// `$HOSTNAME`, else `localhost`. Path separators are replaced so the name stays one file name.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned());
    name.replace(['/', '\\'], "_")
}

/// Adds what was being done and the path to an I/O error, keeping its kind.
fn with_path(error: io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{doing} {}: {error}", path.display()))
}
