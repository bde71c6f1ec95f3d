//! GPU failures reported as one line: what failed, how large, on which adapter, and the fix.
//!
//! CubeCL (under Burn's wgpu backend) runs kernels asynchronously and reports a failed buffer
//! allocation, a lost device or a failed kernel at the next read from the device; Burn's
//! reading methods (`into_scalar`, `into_data`) then panic with the error's text, backtrace
//! included. A panic elsewhere in ember is a bug, but these are the GPU's limits meeting the
//! user's settings, so they get an error of their own:
//!
//! - [`classify`] recognizes such a panic's text (CubeCL 0.11's `IoError` and Burn 0.22's
//!   `ExecutionError` messages) as a [`GpuFailure`];
//! - the `train` binary's panic hook calls [`remember`] instead of printing "internal error",
//!   and [`catch`] turns the unwinding panic into an ordinary error, so the command exits with
//!   status 1 and one line. Checkpoints are written to a temporary directory and renamed, so a
//!   failure while one is written leaves the previous one as it was.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Mutex;

use ember_engine::text::format_bytes;

/// The adapter the process brought up last, recorded by [`crate::backend::select`].
static ADAPTER: Mutex<Option<Adapter>> = Mutex::new(None);
/// The first GPU failure seen by the panic hook (later ones are consequences of it).
static FIRST: Mutex<Option<GpuFailure>> = Mutex::new(None);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Adapter {
    name: String,
    max_buffer_bytes: u64,
}

/// Records the wgpu adapter in use, so that failures can name it and its buffer limit.
pub fn record_adapter(name: &str, max_buffer_bytes: u64) {
    if let Ok(mut slot) = ADAPTER.lock() {
        *slot = Some(Adapter {
            name: name.to_string(),
            max_buffer_bytes,
        });
    }
}

/// What went wrong on the GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// A buffer larger than the device can bind at all (CubeCL's `BufferTooBig`).
    BufferTooBig {
        /// Bytes asked for.
        size: u64,
    },
    /// The device had no memory left for a buffer (CubeCL's `OutOfMemory`).
    OutOfMemory {
        /// Bytes asked for.
        size: u64,
    },
    /// The device is lost or poisoned (a kernel fault, a driver reset): every later operation
    /// fails.
    DeviceLost {
        /// The driver's or runtime's words, on one line.
        reason: String,
    },
    /// A kernel or another device operation failed.
    Execution {
        /// The runtime's words, on one line.
        reason: String,
    },
}

/// A GPU failure, ready to print as one line ([`fmt::Display`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuFailure {
    /// What failed.
    pub kind: FailureKind,
    /// The adapter's name, when known.
    pub adapter: Option<String>,
    /// The adapter's largest buffer in bytes, when known.
    pub max_buffer_bytes: Option<u64>,
}

impl std::error::Error for GpuFailure {}

impl fmt::Display for GpuFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = self
            .adapter
            .as_ref()
            .map_or_else(String::new, |a| format!(" on {a}"));
        let fix = "use a smaller --batch-size, or --device cpu";
        match &self.kind {
            FailureKind::BufferTooBig { size } => {
                let limit = self.max_buffer_bytes.map_or_else(String::new, |l| {
                    format!(" (its largest buffer is {})", format_bytes(l))
                });
                write!(
                    f,
                    "the GPU cannot allocate a buffer of {} ({size} bytes){on}{limit}: a batch's images and each of its activations must fit in one buffer; {fix}",
                    format_bytes(*size)
                )
            }
            FailureKind::OutOfMemory { size } => write!(
                f,
                "the GPU ran out of memory allocating {} ({size} bytes){on}; {fix}",
                format_bytes(*size)
            ),
            FailureKind::DeviceLost { reason } => write!(
                f,
                "the GPU device was lost{on} ({reason}); run again (--resume latest continues from the last checkpoint), or use --device cpu"
            ),
            FailureKind::Execution { reason } => {
                write!(f, "a GPU operation failed{on} ({reason}); {fix}")
            }
        }
    }
}

/// The [`GpuFailure`] a panic message describes, or `None` for any other panic.
///
/// Recognized: CubeCL's allocation errors (`can't allocate buffer of size: N`, `out of device
/// memory allocating N bytes`, and their `Debug` forms `BufferTooBig { size: N` and
/// `OutOfMemory { size: N`), a poisoned or lost device, Burn's failed reads (`Error while
/// reading data`, `An error happened during execution`) and CubeCL's failed autotune plans.
pub fn classify(message: &str) -> Option<GpuFailure> {
    let size_after = |marker: &str| {
        message.find(marker).and_then(|at| {
            let digits: String = message[at + marker.len()..]
                .chars()
                .skip_while(|c| c.is_whitespace())
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u64>().ok()
        })
    };
    let kind = if let Some(size) =
        size_after("can't allocate buffer of size:").or_else(|| size_after("BufferTooBig { size:"))
    {
        FailureKind::BufferTooBig { size }
    } else if let Some(size) =
        size_after("out of device memory allocating").or_else(|| size_after("OutOfMemory { size:"))
    {
        FailureKind::OutOfMemory { size }
    } else if [
        "poisoned",
        "Poisoned",
        "Device lost",
        "device lost",
        "DeviceLost",
    ]
    .iter()
    .any(|m| message.contains(m))
    {
        FailureKind::DeviceLost {
            reason: reason(message),
        }
    } else if [
        "Error while reading data",
        "An error happened during execution",
        "Can't execute the autotune plan",
        "Should run when selected by autotune",
        "Unable to launch",
    ]
    .iter()
    .any(|m| message.contains(m))
    {
        FailureKind::Execution {
            reason: reason(message),
        }
    } else {
        return None;
    };
    let adapter = ADAPTER.lock().ok().and_then(|a| a.clone());
    Some(GpuFailure {
        kind,
        adapter: adapter.as_ref().map(|a| a.name.clone()),
        max_buffer_bytes: adapter.map(|a| a.max_buffer_bytes),
    })
}

/// The substance of a runtime message: its cause (after Burn's "Caused by:" or the read
/// panic's preamble), first line only, without the backtrace, shortened.
fn reason(message: &str) -> String {
    let cause = message
        .rsplit_once("Caused by:")
        .map_or(message, |(_, cause)| cause);
    let first = cause
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message");
    ember_engine::text::shorten(first, 200)
}

/// Keeps `failure` if it is the first one of the process, or the first allocation failure
/// after other failures (called by the panic hook). One oversized batch can make a kernel
/// launch fail (CubeCL's "Cube count too big") before the buffer it needed is refused: the
/// allocation names the cause and its size.
pub fn remember(failure: GpuFailure) {
    let allocation = |f: &GpuFailure| {
        matches!(
            f.kind,
            FailureKind::BufferTooBig { .. } | FailureKind::OutOfMemory { .. }
        )
    };
    if let Ok(mut first) = FIRST.lock() {
        let replace = match first.as_ref() {
            None => true,
            Some(kept) => !allocation(kept) && allocation(&failure),
        };
        if replace {
            *first = Some(failure);
        }
    }
}

/// The panic payload's text, for `&str` and `String` payloads.
pub fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Runs `f`; a panic that is a GPU failure (the first one [`remember`]ed, else the panic's
/// own) becomes `Err(GpuFailure)`. Any other panic continues to unwind.
///
/// # Errors
/// `f`'s own errors, and the GPU failure.
pub fn catch<R>(f: impl FnOnce() -> anyhow::Result<R>) -> anyhow::Result<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let first = FIRST.lock().ok().and_then(|mut f| f.take());
            match first.or_else(|| classify(&payload_text(payload.as_ref()))) {
                Some(failure) => Err(failure.into()),
                None => resume_unwind(payload),
            }
        }
    }
}

#[cfg(test)]
mod tests;
