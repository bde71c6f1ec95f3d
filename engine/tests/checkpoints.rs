//! The run directory's promises, through the engine's public API: one writer per run directory,
//! every byte of a checkpoint checked, checkpoints ordered by number, a bounded number kept,
//! and only dead writers' temporaries removed.

use std::path::{Path, PathBuf};

use burn::optim::SgdConfig;
use ember_engine::checkpoint::{self, CheckpointState, FORMAT_VERSION};
use ember_engine::lock::RunLock;
use ember_engine::{EngineError, Learner, LearnerConfig};

mod common;

use common::{Data, device, model, step};

/// Trains `epochs` epochs of 2 steps into `run_dir`, keeping `keep` checkpoints.
fn fit(run_dir: &Path, epochs: usize, keep: Option<usize>) -> Result<(), EngineError> {
    let config = LearnerConfig {
        epochs,
        batch_size: 8,
        learning_rate: 0.1,
        run_dir: Some(run_dir.to_path_buf()),
        keep_checkpoints: keep,
        ..Default::default()
    };
    Learner::new(model(), SgdConfig::new().init(), step, device(), config)
        .fit(&Data, None::<&Data>)
        .map(|_| ())
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ember-ck-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names(run_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run_dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Acceptance: flipping any byte of any file of the newest checkpoint makes `latest` fall back
/// to the one before it. Every byte of `state.json`, its checksum file and `metrics.csv`, and
/// every 7th byte of the weights and the optimizer state.
#[test]
fn any_flipped_byte_of_the_newest_checkpoint_falls_back_to_the_one_before() {
    let tmp = Scratch::new("flip");
    fit(&tmp.0, 2, None).unwrap();
    let latest = checkpoint::latest(&tmp.0).unwrap();
    assert_eq!(latest.state.epoch, 2);
    let newest = latest.dir;
    let files: Vec<(&str, usize)> = vec![
        ("state.json", 1),
        ("state.json.sha256", 1),
        ("metrics.csv", 1),
        ("model.bpk", 7),
        ("optimizer.bpk", 7),
    ];
    let mut flips = 0;
    for (file, stride) in files {
        let path = newest.join(file);
        let original = std::fs::read(&path).unwrap();
        for i in (0..original.len()).step_by(stride) {
            let mut bytes = original.clone();
            bytes[i] ^= 0x01;
            std::fs::write(&path, &bytes).unwrap();
            let found = checkpoint::latest(&tmp.0).unwrap();
            assert_eq!(found.state.epoch, 1, "{file}, byte {i}: not detected");
            flips += 1;
        }
        std::fs::write(&path, &original).unwrap();
    }
    assert!(flips > 500, "{flips}");
    assert_eq!(checkpoint::latest(&tmp.0).unwrap().state.epoch, 2);
}

/// A checkpoint of epoch 10000 is newer than one of epoch 9999, though its name sorts before it
/// as text; pruning keeps the numerically newest.
#[test]
fn checkpoints_are_ordered_by_their_numbers_not_their_names() {
    let tmp = Scratch::new("order");
    fit(&tmp.0, 1, None).unwrap();
    let first = checkpoint::latest(&tmp.0).unwrap();
    let line = model();
    let optimizer = SgdConfig::new().init();
    let mut saved = Vec::new();
    for epoch in [9_998, 9_999, 10_000, 10_001] {
        let state = CheckpointState {
            epoch,
            global_step: 2 * epoch,
            ..first.state.clone()
        };
        let dir = tmp.0.join("checkpoints").join(state.dir_name());
        saved.push(checkpoint::save_as(&dir, &state, &line, &optimizer, |_| Ok(())).unwrap());
    }
    assert_eq!(
        names(&tmp.0).last().unwrap(),
        "epoch-9999-step-000019998",
        "as text, epoch 9999 sorts last"
    );
    let latest = checkpoint::latest(&tmp.0).unwrap();
    assert_eq!(latest.state.epoch, 10_001);
    assert_eq!(latest.state.format_version, FORMAT_VERSION);
    checkpoint::prune(&tmp.0, 2, &saved[3]).unwrap();
    assert_eq!(
        names(&tmp.0),
        ["epoch-10000-step-000020000", "epoch-10001-step-000020002"]
    );
}

/// `keep_checkpoints` bounds a run's checkpoints to the newest N; `None` keeps all.
#[test]
fn a_run_keeps_only_its_newest_checkpoints() {
    let tmp = Scratch::new("keep");
    fit(&tmp.0.join("three"), 6, Some(3)).unwrap();
    assert_eq!(
        names(&tmp.0.join("three")),
        [
            "epoch-0004-step-000000008",
            "epoch-0005-step-000000010",
            "epoch-0006-step-000000012"
        ]
    );
    fit(&tmp.0.join("all"), 6, None).unwrap();
    assert_eq!(names(&tmp.0.join("all")).len(), 6);
    let err = fit(&tmp.0.join("zero"), 1, Some(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("keep_checkpoints must be at least 1"), "{err}");
}

/// While another holder has the run directory's lock, `fit` is refused before it writes
/// anything, naming the holder's process id; once the lock is released, it runs.
#[test]
fn a_locked_run_directory_is_refused() {
    let tmp = Scratch::new("lock");
    let lock = RunLock::acquire(&tmp.0).unwrap();
    let err = fit(&tmp.0, 1, None).unwrap_err();
    assert!(matches!(err, EngineError::Lock(_)), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("(pid {})", std::process::id())),
        "{err}"
    );
    assert!(!tmp.0.join("checkpoints").exists());
    drop(lock);
    fit(&tmp.0, 1, None).unwrap();
    assert_eq!(names(&tmp.0).len(), 1);
}

/// Under the lock, the temporaries of a dead writer (`.NAME.tmp-PID`) are removed; other
/// hidden files and complete checkpoints are kept.
#[test]
fn only_temporaries_are_cleaned_up() {
    let tmp = Scratch::new("tmp");
    fit(&tmp.0, 1, None).unwrap();
    let checkpoints = tmp.0.join("checkpoints");
    let models = tmp.0.join("models");
    std::fs::create_dir_all(checkpoints.join(".epoch-0002-step-000000004.tmp-999999")).unwrap();
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join(".best.bpk.tmp-12"), b"partial").unwrap();
    std::fs::write(models.join(".notes"), b"mine").unwrap();
    std::fs::write(models.join(".x.tmp-abc"), b"mine too").unwrap();
    // A resume of this run directory cleans it.
    let resume = checkpoint::latest(&tmp.0).unwrap();
    let config = LearnerConfig {
        epochs: 2,
        batch_size: 8,
        run_dir: Some(tmp.0.clone()),
        ..Default::default()
    };
    Learner::new(model(), SgdConfig::new().init(), step, device(), config)
        .resume(resume)
        .unwrap()
        .fit(&Data, None::<&Data>)
        .unwrap();
    assert!(
        !checkpoints
            .join(".epoch-0002-step-000000004.tmp-999999")
            .exists()
    );
    assert!(!models.join(".best.bpk.tmp-12").exists());
    assert!(models.join(".notes").exists());
    assert!(models.join(".x.tmp-abc").exists());
    assert_eq!(names(&tmp.0).len(), 2);
}
