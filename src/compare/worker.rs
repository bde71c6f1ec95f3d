//! Each backend of a comparison runs in a child process of the same binary, so that its peak
//! memory (`VmHWM`) is its own and one backend's allocator, threads and kernel caches cannot
//! slow down the next.
//!
//! Protocol: the parent runs `<exe> compare --worker-job JSON --worker-backend NAME
//! --worker-result FILE` (hidden flags); the child runs the [`CompareJob`] and writes a
//! [`WorkerOutcome`] as JSON to FILE. A child that dies without writing it is reported as failed
//! with the last line it printed to stderr.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;
use crate::compare::job::{BackendRun, CompareJob, JobError, run_job};
use ember_engine::fsutil::write_atomic;

/// The hidden flag of `train compare` carrying the job (JSON).
pub const JOB_FLAG: &str = "--worker-job";
/// The hidden flag naming the backend the worker runs.
pub const BACKEND_FLAG: &str = "--worker-backend";
/// The hidden flag naming the file the worker writes its [`WorkerOutcome`] to.
pub const RESULT_FLAG: &str = "--worker-result";

/// How one backend's run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum WorkerOutcome {
    /// It ran; the measurements.
    Ran(Box<BackendRun>),
    /// The backend is not available on this machine (e.g. no wgpu adapter).
    Unavailable {
        /// Why, as the backend reported it.
        reason: String,
    },
    /// The run failed.
    Failed {
        /// The error.
        reason: String,
    },
}

/// The child's side: runs `job` on `backend` and writes the outcome to `result`.
///
/// # Errors
/// Only failure to write `result`; a failed or unavailable backend is an outcome.
pub fn worker_main(job: &str, backend: BackendKind, result: &Path) -> anyhow::Result<()> {
    let outcome = match serde_json::from_str::<CompareJob>(job) {
        Err(e) => WorkerOutcome::Failed {
            reason: format!("unreadable job description: {e}"),
        },
        Ok(job) => match run_job(&job, backend) {
            Ok(run) => WorkerOutcome::Ran(Box::new(run)),
            Err(JobError::Unavailable(e)) => WorkerOutcome::Unavailable {
                reason: e.to_string(),
            },
            Err(e @ JobError::Other(_)) => WorkerOutcome::Failed {
                reason: e.to_string(),
            },
        },
    };
    write_atomic(result, &serde_json::to_vec_pretty(&outcome)?)
        .with_context(|| format!("cannot write {}", result.display()))
}

/// The parent's side: runs `job` on `backend` in a child process of `exe` (the `train`
/// binary), with `scratch` as the result file (removed afterwards), and returns its outcome.
///
/// # Errors
/// Failure to start the child or to serialize the job.
pub fn run_in_child(
    exe: &Path,
    job: &CompareJob,
    backend: BackendKind,
    scratch: &Path,
) -> anyhow::Result<WorkerOutcome> {
    let _ = std::fs::remove_file(scratch);
    let output = Command::new(exe)
        .arg("compare")
        .arg(JOB_FLAG)
        .arg(serde_json::to_string(job)?)
        .arg(BACKEND_FLAG)
        .arg(backend.name())
        .arg(RESULT_FLAG)
        .arg(scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot start {} for the {backend} run", exe.display()))?;
    let read = std::fs::read(scratch);
    let _ = std::fs::remove_file(scratch);
    match read {
        Ok(bytes) if output.status.success() => serde_json::from_slice(&bytes)
            .with_context(|| format!("the {backend} worker wrote an unreadable result")),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message");
            Ok(WorkerOutcome::Failed {
                reason: format!("worker exited with {}: {}", output.status, last.trim()),
            })
        }
    }
}
