//! One writer per run directory: an advisory lock on `<run>/.lock`, held for the run's life.
//!
//! The lock is the operating system's (`flock` on Unix, `LockFileEx` on Windows, through the
//! standard library's `File::try_lock`), so it is released when the process ends, however it
//! ends: a killed run never leaves a stale lock behind. The file holds the holder's process id,
//! which the refusal names. Whoever holds the lock may remove the temporaries of checkpoint
//! writes it finds: their writer is gone.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::layout::LOCK_FILE;

/// Why a run directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "run directory {dir} is in use by another process{holder}; wait for it to end, or use another run directory"
    )]
    Busy {
        /// The run directory.
        dir: PathBuf,
        /// " (pid N)" when the holder's process id could be read, else empty.
        holder: String,
    },
    /// The directory or its lock file could not be created or locked.
    #[error("cannot lock run directory {dir}: {source}")]
    Io {
        /// The run directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The exclusive lock of a run directory; released when dropped or when the process ends.
#[derive(Debug)]
pub struct RunLock {
    dir: PathBuf,
    _file: File,
}

impl RunLock {
    /// Creates `dir` if needed and takes its lock without waiting.
    ///
    /// # Errors
    /// [`LockError::Busy`] naming the holder's process id when another process (or another
    /// `RunLock` of this process) holds it; [`LockError::Io`] when the directory or the lock
    /// file cannot be created.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                // The holder may not have written its id yet: then the message has none.
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(LockError::Busy {
                    dir: dir.to_path_buf(),
                    holder: if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
                        String::new()
                    } else {
                        format!(" (pid {pid})")
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            _file: file,
        })
    }

    /// The locked run directory, as given to [`RunLock::acquire`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = std::env::temp_dir().join(format!("ember-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = RunLock::acquire(&dir).unwrap();
        let err = RunLock::acquire(&dir).unwrap_err().to_string();
        assert!(
            err.contains(&format!("(pid {})", std::process::id())) && err.contains("in use"),
            "{err}"
        );
        drop(first);
        let again = RunLock::acquire(&dir).unwrap();
        assert_eq!(again.dir(), dir.as_path());
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
