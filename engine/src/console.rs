//! Lines for the user on stdout and stderr that never stop training.
//!
//! `println!` panics when stdout is closed (`train | head -1`: a broken pipe) or full (stdout
//! redirected to a full disk); a panic in the middle of an epoch would lose it. These functions
//! write the line and, on the first failure, stop writing to that stream for the rest of the
//! process: the run goes on, its files and checkpoints are the record.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `line` and a newline to stdout; does nothing once a write to stdout has failed.
pub fn out(line: &str) {
    write_line(&STDOUT_GONE, &mut std::io::stdout().lock(), line);
}

/// Writes `text` to stdout without a newline (a report that ends in its own newline).
pub fn out_text(text: &str) {
    write_text(&STDOUT_GONE, &mut std::io::stdout().lock(), text);
}

/// Writes `line` and a newline to stderr; does nothing once a write to stderr has failed.
pub fn err(line: &str) {
    write_line(&STDERR_GONE, &mut std::io::stderr().lock(), line);
}

/// Whether a write to stdout has failed (so nothing more is shown there).
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(Ordering::Relaxed)
}

fn write_line(gone: &AtomicBool, stream: &mut impl Write, line: &str) {
    write_text(gone, stream, &format!("{line}\n"));
}

fn write_text(gone: &AtomicBool, stream: &mut impl Write, text: &str) {
    if gone.load(Ordering::Relaxed) {
        return;
    }
    if stream
        .write_all(text.as_bytes())
        .and_then(|()| stream.flush())
        .is_err()
    {
        gone.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that accepts `room` bytes, then fails as a full disk does.
    struct Full {
        room: usize,
        written: Vec<u8>,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_stream_is_given_up_without_a_panic() {
        let gone = AtomicBool::new(false);
        let mut stream = Full {
            room: 9,
            written: Vec::new(),
        };
        write_line(&gone, &mut stream, "epoch 1");
        assert!(!gone.load(Ordering::Relaxed));
        write_line(&gone, &mut stream, "epoch 2");
        assert!(gone.load(Ordering::Relaxed));
        stream.room = 100;
        write_line(&gone, &mut stream, "epoch 3");
        assert_eq!(stream.written, b"epoch 1\ne");
    }
}
