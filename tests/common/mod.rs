//! Helpers shared by the integration tests: running the `train` binary.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `train` binary built for this test run.
pub fn train_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_train"));
    // Run from the repository root so that `datasets/mnist` is found as a user would find it.
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env("CUBECL_AUTOTUNE_LEVEL", "minimal");
    cmd
}

/// Whether a missing wgpu adapter is an error rather than a skip: on CI (lavapipe is
/// installed there) and with `EMBER_REQUIRE_WGPU` set.
pub fn wgpu_required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("EMBER_REQUIRE_WGPU").is_some()
}

/// Runs `train ARGS` and returns its output.
pub fn train(args: &[&str]) -> Output {
    train_bin().args(args).output().expect("spawn train")
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts `train` failed cleanly: non-zero exit, a single non-empty stderr line, no panic,
/// and the line mentions every one of `needles`.
pub fn assert_clean_error(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure, got success: {err}"
    );
    assert_ne!(out.status.code(), Some(101), "panicked: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "'{needle}' missing from: {err}");
    }
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "ember-test-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }

    pub fn str(&self, p: &str) -> String {
        self.join(p).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The checkpoint directories of a run, oldest first.
pub fn checkpoints(run: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(run.join("checkpoints"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("epoch-"))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// The newest checkpoint of `epoch` (`checkpoints/epoch-EEEE-step-*`), if any.
pub fn checkpoint_of_epoch(run: &Path, epoch: usize) -> Option<PathBuf> {
    let prefix = format!("epoch-{epoch:04}-");
    checkpoints(run).into_iter().rfind(|d| {
        d.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&prefix)
    })
}

/// Waits (up to 300 s) until `epoch`'s checkpoint of the run in `run` exists, asserting that
/// `child`, the process writing it, is still running. Checkpoint directories appear complete,
/// by a rename, so existence means a usable checkpoint.
pub fn wait_for_checkpoint(run: &Path, epoch: usize, child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while checkpoint_of_epoch(run, epoch).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint after 300 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its checkpoint"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The decompressed bytes of the gzip file at `path`.
pub fn gunzip(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The shipped MNIST directory.
pub fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/mnist")
}

/// Copies the shipped MNIST files into `dir`.
pub fn copy_mnist(dir: &Path) {
    for entry in std::fs::read_dir(mnist_dir()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
}
