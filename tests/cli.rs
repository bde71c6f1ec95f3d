//! The `train` command as a user runs it: bad input gets one clean error line, runs write
//! their files, evaluation reads them back, and `--resume latest` continues an interrupted run.

mod common;

use std::time::Duration;

use common::*;
use ember::metrics::read_csv;

#[test]
fn unknown_model_and_optimizer_are_rejected() {
    let out = train(&["--model", "resnet"]);
    assert_clean_error(&out, &["resnet", "--model", "lenet"]);
    let out = train(&["--opt", "lbfgs"]);
    assert_clean_error(&out, &["lbfgs", "adabelief"]);
}

#[test]
fn bad_numbers_are_rejected() {
    let out = train(&["--lr", "-0.1"]);
    assert_clean_error(&out, &["--lr", "-0.1"]);
    let out = train(&["--val-split", "1.5"]);
    assert_clean_error(&out, &["--val-split"]);
    let out = train(&["--batch-size", "0"]);
    assert_clean_error(&out, &["--batch-size"]);
}

#[test]
fn missing_data_dir_names_the_place_and_the_fix() {
    let out = train(&["--data-dir", "/nonexistent/mnist", "--epochs", "1"]);
    assert_clean_error(&out, &["/nonexistent/mnist", "--data-dir"]);
    let out = train(&["--dataset", "fashion-mnist", "--data-dir", "/nonexistent/f"]);
    assert_clean_error(&out, &["apt-get install dataset-fashion-mnist"]);
}

/// A machine where wgpu finds no adapter (no Vulkan driver, no EGL vendor) gets one line that
/// says so and suggests the CPU.
#[test]
fn no_gpu_adapter_is_a_clean_error() {
    let out = train_bin()
        .args(["--device", "gpu", "--epochs", "1", "--limit-train", "128"])
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json")
        .output()
        .unwrap();
    assert_clean_error(&out, &["no GPU is available", "--device cpu"]);
}

#[test]
fn truncated_and_non_idx_files_are_rejected() {
    let tmp = TempDir::new("badidx");
    copy_mnist(tmp.path());
    // Without SHA256SUMS the IDX checks themselves must catch the damage.
    std::fs::remove_file(tmp.join("SHA256SUMS")).unwrap();
    let labels = tmp.join("train-labels-idx1-ubyte.gz");
    let raw = gunzip(&labels);
    std::fs::remove_file(&labels).unwrap();
    let raw_path = tmp.join("train-labels-idx1-ubyte");
    std::fs::write(&raw_path, &raw[..raw.len() / 2]).unwrap();
    let out = train(&["--data-dir", &tmp.str(""), "--epochs", "1"]);
    assert_clean_error(&out, &["truncated", "train-labels-idx1-ubyte"]);

    std::fs::write(&raw_path, b"<html>not found</html>").unwrap();
    let out = train(&["--data-dir", &tmp.str(""), "--epochs", "1"]);
    assert_clean_error(&out, &["not an IDX file", "train-labels-idx1-ubyte"]);
}

#[test]
fn corrupt_shipped_file_fails_its_checksum() {
    let tmp = TempDir::new("badsum");
    copy_mnist(tmp.path());
    let victim = tmp.join("t10k-images-idx3-ubyte.gz");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes.truncate(bytes.len() - 100);
    std::fs::write(&victim, bytes).unwrap();
    let out = train(&["--data-dir", &tmp.str(""), "--epochs", "1"]);
    assert_clean_error(&out, &["checksum", "t10k-images-idx3-ubyte.gz"]);
}

/// A short real run writes every file the run directory promises, `train evaluate` reads the
/// weights back in a fresh process, and a checkpoint of another model is refused.
#[test]
fn run_directory_evaluate_and_wrong_model() {
    let tmp = TempDir::new("run");
    let run = tmp.str("run");
    let out = train(&[
        "--model",
        "mlp",
        "--opt",
        "adam",
        "--epochs",
        "2",
        "--limit-train",
        "2000",
        "--run-dir",
        &run,
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("epoch 2/2"), "{text}");
    for file in ["config.toml", "metrics.csv", "model.bpk", "summary.json"] {
        assert!(tmp.join("run").join(file).is_file(), "{file} missing");
    }
    let saved = checkpoints(&tmp.join("run"));
    assert_eq!(saved.len(), 2, "one checkpoint an epoch: {saved:?}");
    for epoch in [1, 2] {
        let dir = checkpoint_of_epoch(&tmp.join("run"), epoch).expect("epoch checkpoint");
        for file in ["model.bpk", "optimizer.bpk", "state.json"] {
            assert!(dir.join(file).is_file(), "{}/{file} missing", dir.display());
        }
    }
    let rows = read_csv(&tmp.join("run/metrics.csv")).unwrap();
    assert_eq!(rows.iter().map(|r| r.epoch).collect::<Vec<_>>(), [1, 2]);
    assert!(rows[1].loss < rows[0].loss, "{rows:?}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.join("run/summary.json")).unwrap()).unwrap();
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.8, "{summary}");
    assert_eq!(summary["backend"], "flex");
    assert_eq!(summary["epochs"], 2);

    // A fresh process reads the final weights back and gets the same test accuracy.
    let out = train(&["evaluate", "--checkpoint", &run]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    let expected = format!("accuracy {:.2}%", accuracy * 100.0);
    assert!(report.contains(&expected), "{expected} not in {report}");
    assert!(
        report.contains("confusion matrix") && report.contains("class 9"),
        "{report}"
    );

    // Weights of an MLP are not a LeNet.
    let out = train(&["evaluate", "--checkpoint", &run, "--model", "lenet"]);
    assert_clean_error(&out, &["mlp", "lenet"]);
    let bare = tmp.str("run/model.bpk");
    let lone = tmp.join("lone.bpk");
    std::fs::copy(&bare, &lone).unwrap();
    let out = train(&[
        "evaluate",
        "--checkpoint",
        &lone.to_string_lossy(),
        "--model",
        "lenet",
    ]);
    assert_clean_error(&out, &["lone.bpk", "lenet"]);
    // Resuming the MLP run as LeNet is refused, and the checkpoints survive.
    let out = train(&["--resume", "latest", "--run-dir", &run, "--model", "lenet"]);
    assert_clean_error(&out, &["--model mlp", "lenet"]);
    assert!(
        checkpoint_of_epoch(&tmp.join("run"), 2)
            .unwrap()
            .join("model.bpk")
            .is_file()
    );
    // A new run into a directory with checkpoints is refused rather than overwriting them.
    let out = train(&["--model", "mlp", "--run-dir", &run]);
    assert_clean_error(&out, &["already holds checkpoints", "--resume latest"]);
}

#[test]
fn damaged_weights_are_reported() {
    let tmp = TempDir::new("damaged");
    let path = tmp.join("model.bpk");
    std::fs::write(&path, b"BPK? not really").unwrap();
    let out = train(&[
        "evaluate",
        "--checkpoint",
        &path.to_string_lossy(),
        "--model",
        "mlp",
    ]);
    assert_clean_error(&out, &["model.bpk"]);
    let out = train(&["evaluate", "--checkpoint", &tmp.str("nothing-here")]);
    assert_clean_error(&out, &["nothing-here"]);
}

/// `--resume latest` after a run killed with SIGKILL continues at the next epoch and ends with
/// the epoch count asked for; a damaged newest checkpoint (one flipped bit, or a truncated file)
/// is skipped for the one before it; and the resumed run's metrics and final weights equal the
/// uninterrupted run's exactly (resume is exact on flex).
#[test]
fn resume_latest_after_a_kill() {
    let tmp = TempDir::new("resume");
    let run = tmp.str("run");
    let args = [
        "--model",
        "lenet",
        "--opt",
        "adabelief",
        "--epochs",
        "4",
        "--limit-train",
        "3000",
        "--batch-size",
        "64",
        "--quiet",
    ];
    let mut child = train_bin()
        .args(args)
        .args(["--run-dir", &run])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_checkpoint(&tmp.join("run"), 2, &mut child);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !tmp.join("run/summary.json").exists(),
        "the run finished before the kill"
    );

    // Continue to epoch 3 from the newest checkpoint, epoch 2.
    let out = train(&["--resume", "latest", "--run-dir", &run, "--epochs", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("resuming from") && text.contains("epoch-0002"),
        "{text}"
    );
    assert!(
        text.contains("epoch 3/3") && !text.contains("epoch 2/3"),
        "{text}"
    );

    // Flip one byte of the newest checkpoint's weights: its checksum no longer matches, so
    // `latest` warns and falls back to epoch 2, and the run still ends where it should.
    let newest = checkpoint_of_epoch(&tmp.join("run"), 3).unwrap();
    let weights = newest.join("model.bpk");
    let mut bytes = std::fs::read(&weights).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&weights, bytes).unwrap();
    let out = train(&["--resume", "latest", "--run-dir", &run, "--epochs", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("skipped damaged checkpoint"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("epoch-0002"), "{}", stdout(&out));
    let resumed = read_csv(&tmp.join("run/metrics.csv")).unwrap();
    assert_eq!(
        resumed.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );

    let out = train_bin()
        .args(args)
        .args(["--run-dir", &tmp.str("reference")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let reference = Reference {
        dir: tmp.join("reference"),
        rows: read_csv(&tmp.join("reference/metrics.csv")).unwrap(),
        summary: read_summary(&tmp.join("reference")),
    };
    assert_matches_uninterrupted(&tmp.join("run"), &reference);

    // Truncate the newest checkpoint's optimizer state (a write cut short): skipped as damaged,
    // epoch 4 is trained again from epoch 3, and the run still ends where it should.
    let optimizer = checkpoint_of_epoch(&tmp.join("run"), 4)
        .unwrap()
        .join("optimizer.bpk");
    let bytes = std::fs::read(&optimizer).unwrap();
    std::fs::write(&optimizer, &bytes[..bytes.len() / 2]).unwrap();
    let out = train(&["--resume", "latest", "--run-dir", &run, "--epochs", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("optimizer.bpk"), "{}", stderr(&out));
    assert!(stdout(&out).contains("epoch-0003"), "{}", stdout(&out));
    assert_matches_uninterrupted(&tmp.join("run"), &reference);
}

/// Arguments of the short LeNet job the interruption tests run.
const SHORT_JOB: [&str; 10] = [
    "--model",
    "lenet",
    "--epochs",
    "3",
    "--limit-train",
    "3000",
    "--batch-size",
    "64",
    "--quiet",
    "--checkpoint-every",
];

/// An uninterrupted run of the short job: where it is, and what it ended with.
struct Reference {
    dir: std::path::PathBuf,
    rows: Vec<ember::metrics::EpochMetrics>,
    summary: serde_json::Value,
}

/// Runs the short job with `optimizer` uninterrupted into `dir`.
fn uninterrupted(optimizer: &str, dir: &str, every: &str) -> Reference {
    uninterrupted_with(optimizer, dir, every, &[])
}

/// Runs the short job with `optimizer` and the `extra` flags uninterrupted into `dir`.
fn uninterrupted_with(optimizer: &str, dir: &str, every: &str, extra: &[&str]) -> Reference {
    let out = train_bin()
        .args(["--opt", optimizer])
        .args(SHORT_JOB)
        .arg(every)
        .args(extra)
        .args(["--run-dir", dir])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = std::path::PathBuf::from(dir);
    Reference {
        rows: read_csv(&dir.join("metrics.csv")).unwrap(),
        summary: read_summary(&dir),
        dir,
    }
}

fn read_summary(run: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap()
}

/// The run in `run` ended exactly as the uninterrupted `reference`: same metrics, test loss and
/// final weights, bit for bit.
fn assert_matches_uninterrupted(run: &std::path::Path, reference: &Reference) {
    assert_same_training(
        &read_csv(&run.join("metrics.csv")).unwrap(),
        &reference.rows,
    );
    assert_eq!(
        read_summary(run)["test_loss"],
        reference.summary["test_loss"]
    );
    assert_eq!(
        weights(&run.join("model.bpk")),
        weights(&reference.dir.join("model.bpk"))
    );
}

/// Every float parameter of the LeNet weights in `path`, in module order. (The files themselves
/// differ: each run draws its own parameter ids.)
fn weights(path: &std::path::Path) -> Vec<burn::tensor::TensorData> {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::{Device, Tensor, TensorData};
    struct Collect(Vec<TensorData>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().into_data());
        }
    }
    // The run's layers (batch normalization) from its config.toml.
    let config = path.parent().unwrap().join("config.toml");
    let options = ember::config::TrainConfig::from_toml_file(&config)
        .unwrap()
        .regularization
        .model_options();
    let model = ember::learner::checkpoint::load_weights(
        path,
        ember_models::ModelKind::Lenet,
        &options,
        &Device::flex(),
    )
    .unwrap();
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    collect.0
}

fn assert_same_training(
    got: &[ember::metrics::EpochMetrics],
    want: &[ember::metrics::EpochMetrics],
) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (a, b) in got.iter().zip(want) {
        assert_eq!(
            (a.epoch, a.loss, a.accuracy, a.val_loss, a.val_accuracy),
            (b.epoch, b.loss, b.accuracy, b.val_loss, b.val_accuracy)
        );
    }
}

/// SIGKILL of a run that checkpoints every 7 steps: first right after a mid-epoch checkpoint,
/// then at up to four pseudo-random moments (mid-epoch, during validation, possibly
/// mid-checkpoint-write); each time `--resume latest` continues from the newest complete
/// checkpoint. The pieced-together run ends with the uninterrupted run's
/// metrics and test loss, exactly (flex is deterministic).
#[test]
fn killed_at_random_moments_resumes_exactly() {
    killed_at_random_moments("kills", "adabelief", &[]);
}

/// The same for ember's other stateful optimizers of the main job: Rprop's per-parameter step
/// sizes and previous gradients, Adadelta's two running averages.
#[test]
fn killed_rprop_and_adadelta_resume_exactly() {
    for optimizer in ["rprop", "adadelta"] {
        killed_at_random_moments(&format!("kills-{optimizer}"), optimizer, &[]);
    }
}

/// The same with every callback that keeps state: a per-step cosine schedule with warm-up,
/// early stopping keeping its best weights, checkpoint selection (top 2 by val_loss plus
/// `last`), TensorBoard batch summaries. The resumed run keeps the same selected checkpoints.
#[test]
fn killed_with_callbacks_resumes_exactly() {
    let run = killed_at_random_moments(
        "kills-callbacks",
        "adabelief",
        &[
            "--lr-schedule",
            "cosine:max_update=129,final_lr=0.0001,warmup_steps=20,warmup_begin_lr=0.0001",
            "--schedule-unit",
            "step",
            "--early-stopping",
            "--monitor",
            "val_accuracy",
            "--patience",
            "5",
            "--restore-best-weights",
            "--save-top-k",
            "2",
            "--checkpoint-monitor",
            "val_loss",
            "--save-last",
            "--update-freq",
            "10",
        ],
    );
    let listing = |dir: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("models"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let names = listing(&run.join("run"));
    assert_eq!(names, listing(&run.join("reference")));
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"last".to_string()), "{names:?}");
}

/// The same with every regularization on at once: dropout (masks keyed by the step), batch
/// normalization (running statistics in the weights), L1 and L2 penalties, every augmentation
/// (draws keyed by the image), global-norm clipping, accumulation over 2 batches (checkpoints at
/// window ends) and the weights' moving average (`ema.bpk` in each checkpoint, used for
/// validation and the final model).
#[test]
fn killed_with_regularization_resumes_exactly() {
    let run = killed_at_random_moments(
        "kills-regularization",
        "adabelief",
        &[
            "--dropout",
            "0.3",
            "--batch-norm",
            "--l1",
            "1e-5",
            "--l2",
            "1e-4",
            "--augment",
            "rotate=15,affine=10:0.1:0.9-1.1:5,elastic=20:4,noise=0.05,jitter=0.2:0.2",
            "--gradient-clip-val",
            "1.0",
            "--accumulate-grad-batches",
            "2",
            "--ema-decay",
            "0.9",
        ],
    );
    let newest = checkpoints(&run.join("run")).pop().unwrap();
    assert!(newest.join("ema.bpk").is_file(), "{}", newest.display());
    let config = std::fs::read_to_string(run.join("run/config.toml")).unwrap();
    assert!(config.contains("[regularization]"), "{config}");
    assert!(config.contains("accumulate_grad_batches = 2"), "{config}");
}

/// Kills the short job (with `optimizer` and the `extra` flags) at random moments and resumes it until it ends;
/// asserts it ends as the uninterrupted run. Returns the temporary directory holding
/// `reference/` and `run/`.
fn killed_at_random_moments(name: &str, optimizer: &str, extra: &[&str]) -> TempDir {
    let tmp = TempDir::new(name);
    let reference = uninterrupted_with(optimizer, &tmp.str("reference"), "7", extra);
    let run = tmp.str("run");
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut kills = 0;
    let mut resumed_mid_epoch = false;
    for attempt in 0..6 {
        let resume = !checkpoints(&tmp.join("run")).is_empty();
        let mut cmd = train_bin();
        if resume {
            let newest = checkpoints(&tmp.join("run")).pop().unwrap();
            let state = std::fs::read_to_string(newest.join("state.json")).unwrap();
            resumed_mid_epoch |= !state.contains("\"epoch_step\": 0");
            cmd.args(["--resume", "latest", "--run-dir", &run]);
        } else {
            cmd.args(["--opt", optimizer])
                .args(SHORT_JOB)
                .arg("7")
                .args(extra)
                .args(["--run-dir", &run]);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        if attempt == 0 {
            // The first kill lands mid-epoch for sure: right after the second checkpoint of
            // epoch 1 (step 14 of 43).
            while checkpoints(&tmp.join("run")).len() < 2 {
                assert!(child.try_wait().unwrap().is_none(), "run ended early");
                std::thread::sleep(Duration::from_millis(2));
            }
            child.kill().unwrap();
            kills += 1;
        } else if attempt < 5 {
            // xorshift: a delay between 0.2 and 1.2 s (the whole job trains in about 1.5 s)
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            std::thread::sleep(Duration::from_millis(200 + seed % 1000));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                kills += 1;
            }
        }
        child.wait().unwrap();
        if tmp.join("run/summary.json").is_file() {
            break;
        }
    }
    println!("killed {kills} times");
    assert!(
        resumed_mid_epoch,
        "no resume started from a mid-epoch checkpoint"
    );
    assert_matches_uninterrupted(&tmp.join("run"), &reference);
    tmp
}

/// Ctrl-C (SIGINT), and SIGHUP alike: the learner finishes the step, writes a checkpoint, says how to resume and
/// exits with status 130; the resumed run ends exactly like an uninterrupted one. For each of
/// ember's own optimizers, so that every optimizer state goes through a real stop.
#[test]
fn sigint_checkpoints_and_resume_continues() {
    // SIGHUP (the terminal closed) is handled as SIGINT is.
    for (optimizer, signal) in [("adabelief", "INT"), ("rprop", "INT"), ("adadelta", "HUP")] {
        signal_then_resume(optimizer, signal);
    }
}

fn signal_then_resume(optimizer: &str, signal: &str) {
    let tmp = TempDir::new(&format!("sigint-{optimizer}"));
    let reference = uninterrupted(optimizer, &tmp.str("reference"), "100000");
    let run = tmp.str("run");
    let mut child = train_bin()
        .args(["--opt", optimizer])
        .args(SHORT_JOB)
        .arg("100000")
        .args(["--run-dir", &run])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_checkpoint(&tmp.join("run"), 1, &mut child);
    // A few steps into epoch 2, so the signal lands mid-epoch; short, since the last two epochs
    // train in about 0.3 s on a 2-core machine (a 200 ms wait let runs finish before it).
    std::thread::sleep(Duration::from_millis(20));
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{optimizer}: {}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(&format!(
            "continue with: train --resume latest --run-dir {run}"
        )),
        "{}",
        stdout(&out)
    );
    assert!(!tmp.join("run/summary.json").exists());
    assert!(
        checkpoints(&tmp.join("run")).len() >= 2,
        "no checkpoint at the interruption"
    );

    let out = train(&["--resume", "latest", "--run-dir", &run]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_matches_uninterrupted(&tmp.join("run"), &reference);
}

/// Resuming on other data is refused even when every flag matches: the checkpoint records a
/// fingerprint of the training and validation data. The same data elsewhere resumes.
#[test]
fn resume_on_other_data_is_refused() {
    let tmp = TempDir::new("otherdata");
    let good = tmp.join("good");
    std::fs::create_dir_all(&good).unwrap();
    copy_mnist(&good);
    let run = tmp.str("run");
    let args = [
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--limit-train",
        "500",
        "--quiet",
    ];
    let good_dir = good.to_string_lossy().into_owned();
    let out = train_bin()
        .args(args)
        .args(["--data-dir", &good_dir, "--run-dir", &run])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    // The same files with one pixel of the first training image changed (raw IDX, no sums).
    let other = tmp.join("other");
    std::fs::create_dir_all(&other).unwrap();
    copy_mnist(&other);
    std::fs::remove_file(other.join("SHA256SUMS")).unwrap();
    let gz = other.join("train-images-idx3-ubyte.gz");
    let mut raw = gunzip(&gz);
    raw[16 + 14 * 28 + 14] ^= 0xff;
    std::fs::write(other.join("train-images-idx3-ubyte"), raw).unwrap();
    std::fs::remove_file(gz).unwrap();
    let resume_on = |data_dir: &std::path::Path| {
        train(&[
            "--resume",
            "latest",
            "--run-dir",
            &run,
            "--epochs",
            "2",
            "--data-dir",
            &data_dir.to_string_lossy(),
        ])
    };
    let out = resume_on(&other);
    assert_clean_error(&out, &["training data differs", "--data-dir"]);

    let moved = tmp.join("moved");
    std::fs::rename(&good, &moved).unwrap();
    let out = resume_on(&moved);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A checkpoint of an earlier layout (format version 2, which had no `state.json.sha256`) is
/// refused with one line naming its version and this ember's, and it is left as it was.
#[test]
fn a_checkpoint_of_another_format_version_is_refused() {
    let tmp = TempDir::new("oldformat");
    let run = tmp.str("run");
    let out = train(&[
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--limit-train",
        "300",
        "--quiet",
        "--run-dir",
        &run,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = common::checkpoints(std::path::Path::new(&run))
        .pop()
        .expect("a checkpoint");
    let state_path = dir.join("state.json");
    let text = std::fs::read_to_string(&state_path).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
    state["format_version"] = 2.into();
    let old = serde_json::to_vec_pretty(&state).unwrap();
    std::fs::write(&state_path, &old).unwrap();
    std::fs::remove_file(dir.join("state.json.sha256")).unwrap();
    let out = train(&["--resume", &run, "--epochs", "2"]);
    assert_clean_error(&out, &["format version 2", "reads version 3"]);
    assert_eq!(std::fs::read(&state_path).unwrap(), old);
    assert!(!dir.join("state.json.sha256").exists());
}

/// A misspelled key inside a `--config` table (optimizer, schedule, callbacks, logging) is an
/// error naming the key, not a setting silently ignored.
#[test]
fn config_file_unknown_keys_in_tables_are_rejected() {
    let tmp = TempDir::new("config-tables");
    let file = tmp.join("run.toml");
    for (toml, key) in [
        ("[optimizer]\nname = \"adam\"\nbeta3 = 0.5\n", "beta3"),
        ("[optimizer]\nname = \"sgd\"\nbeta1 = 0.5\n", "beta1"),
        (
            "[lr_schedule]\nkind = \"step\"\nstep_size = 2\ngama = 0.5\n",
            "gama",
        ),
        ("[early_stopping]\npatiense = 2\n", "patiense"),
        ("[model_checkpoint]\nsave_top = 2\n", "save_top"),
        ("[reduce_lr_on_plateau]\nfactr = 0.5\n", "factr"),
        ("[logging]\ntensorbord = false\n", "tensorbord"),
    ] {
        std::fs::write(&file, toml).unwrap();
        let out = train(&["--config", file.to_str().unwrap()]);
        assert_clean_error(&out, &["run.toml", key]);
    }
}

/// Each callback's configuration errors name that callback's own flags.
#[test]
fn callback_errors_name_their_own_flags() {
    let out = train(&["--reduce-lr-on-plateau", "--plateau-factor", "2"]);
    assert_clean_error(&out, &["--plateau-factor", "(0, 1)"]);
    let out = train(&["--reduce-lr-on-plateau", "--plateau-monitor", "lr"]);
    assert_clean_error(&out, &["'lr'", "--plateau-mode min"]);
    let out = train(&["--save-top-k", "1", "--checkpoint-monitor", "lr"]);
    assert_clean_error(&out, &["'lr'", "--checkpoint-mode min"]);
    let out = train(&["--save-top-k", "2"]);
    assert_clean_error(&out, &["--save-top-k 2", "--checkpoint-monitor"]);
    let out = train(&["--early-stopping", "--monitor", "lr"]);
    assert_clean_error(&out, &["'lr'", "--mode min"]);
    let out = train(&["--lr-schedule", "step:gamma=0.5"]);
    assert_clean_error(&out, &["--lr-schedule step needs step_size"]);
    assert!(!stderr(&out).contains("--lr-schedule: --lr-schedule"));
}

/// A monitored metric or checkpoint file-name field that no epoch logs is refused before
/// training, not after the first epoch.
#[test]
fn unknown_metric_names_fail_before_training() {
    let tmp = TempDir::new("unknown-metric");
    let run = tmp.str("run");
    let base = ["--model", "mlp", "--limit-train", "200", "--epochs", "1"];
    for (extra, needles) in [
        (
            &["--early-stopping", "--monitor", "val_los", "--mode", "min"][..],
            &["'val_los'", "--monitor", "val_loss"][..],
        ),
        (
            &[
                "--reduce-lr-on-plateau",
                "--plateau-monitor",
                "loss_val",
                "--plateau-mode",
                "min",
            ],
            &["'loss_val'", "--plateau-monitor"],
        ),
        (
            &[
                "--save-top-k",
                "2",
                "--checkpoint-monitor",
                "val_acc",
                "--checkpoint-mode",
                "max",
            ],
            &["'val_acc'", "--checkpoint-monitor", "val_accuracy"],
        ),
        (
            &["--checkpoint-filename", "e{val_los:.3f}"],
            &["{val_los}", "val_loss"],
        ),
        (
            &["--checkpoint-filename", "e{val_loss:03d}"],
            &["{val_loss}"],
        ),
        // Saves every N steps see only the epoch-so-far's loss and accuracy.
        (
            &[
                "--save-freq",
                "3",
                "--save-top-k",
                "2",
                "--checkpoint-monitor",
                "val_loss",
            ],
            &["'val_loss'", "--checkpoint-monitor", "accuracy, loss"],
        ),
        (
            &[
                "--save-freq",
                "3",
                "--checkpoint-filename",
                "s{step}-{val_loss:.3f}",
            ],
            &["{val_loss}", "accuracy, loss"],
        ),
        // A checkpoint name stays inside <run>/models/.
        (
            &[
                "--save-top-k",
                "-1",
                "--checkpoint-filename",
                "../../escape{epoch}",
            ],
            &["../../escape1", "not a file name"],
        ),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--run-dir", &run]);
        let out = train(&args);
        assert_clean_error(&out, needles);
        assert!(
            !tmp.join("run/metrics.csv").exists(),
            "{extra:?} trained an epoch before failing"
        );
    }
}

/// A negative number for a flag that takes a count or a non-negative value is an error naming
/// that flag, not clap's "unexpected argument '-1'".
#[test]
fn negative_values_name_their_flag() {
    for flag in [
        "--seed",
        "--patience",
        "--epochs",
        "--plateau-cooldown",
        "--min-lr",
    ] {
        let out = train(&[flag, "-1"]);
        assert_clean_error(&out, &[flag, "-1"]);
        assert!(!stderr(&out).contains("unexpected argument"), "{flag}");
    }
    let out = train(&[
        "toy",
        "--function",
        "booth",
        "--out",
        "x.csv",
        "--steps",
        "-1",
    ]);
    assert_clean_error(&out, &["--steps", "-1"]);
}

/// `train evaluate` on a weights-only selected checkpoint (`<run>/models/NAME.bpk`) finds the
/// model in the run's config.toml; on a one-epoch run those weights are the final ones.
#[test]
fn evaluate_a_selected_weights_file_without_model() {
    let tmp = TempDir::new("eval-selected");
    let run = tmp.str("run");
    let out = train(&[
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--limit-train",
        "500",
        "--quiet",
        "--no-plots",
        "--save-weights-only",
        "--save-top-k",
        "1",
        "--checkpoint-monitor",
        "val_loss",
        "--checkpoint-filename",
        "best",
        "--run-dir",
        &run,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let weights = tmp.join("run/models/best.bpk");
    let out = train(&["evaluate", "--checkpoint", weights.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let selected = stdout(&out);
    assert!(selected.contains("(mlp)"), "{selected}");
    let out = train(&["evaluate", "--checkpoint", &run]);
    assert!(out.status.success(), "{}", stderr(&out));
    let test_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("test loss"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no test line in {text}"))
    };
    assert_eq!(test_line(&selected), test_line(&stdout(&out)));
}

/// Flags that contradict each other are refused by name, before anything runs.
#[test]
fn conflicting_flags_are_refused() {
    let out = train(&["--save-best-only", "--save-top-k", "2"]);
    assert_clean_error(&out, &["--save-best-only", "--save-top-k"]);
    let tmp = TempDir::new("config-resume");
    let file = tmp.join("run.toml");
    std::fs::write(&file, "epochs = 2\n").unwrap();
    let out = train(&["--config", file.to_str().unwrap(), "--resume", "latest"]);
    assert_clean_error(&out, &["--config", "--resume"]);
}
