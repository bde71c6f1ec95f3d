//! Durable file writes: write to a temporary name in the same directory, fsync, rename over the
//! final name, fsync the directory. A crash at any moment leaves either the old file or the new
//! one under the final name, never a mix.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` atomically and durably.
///
/// # Errors
/// The I/O error of any step; the final name is untouched on error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_atomically(path, |tmp| File::create(tmp)?.write_all(bytes))
}

/// Replaces `path` with what `write` puts at the temporary path it is given (a sibling of
/// `path`): the temporary file is fsynced, renamed over `path`, and the directory fsynced. For
/// writers that only take a path, such as Burn's burnpack writer.
///
/// # Errors
/// The error of `write` or of any step; the final name is untouched on error.
pub fn replace_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    write(&tmp)?;
    sync_file(&tmp)?;
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// Fsyncs a directory so that a rename inside it is durable.
///
/// # Errors
/// The I/O error of opening or syncing the directory.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Fsyncs a file that was written by another API (e.g. Burn's burnpack writer).
///
/// # Errors
/// The I/O error of opening or syncing the file.
pub fn sync_file(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
