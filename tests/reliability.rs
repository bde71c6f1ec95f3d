//! What `train` promises when used carelessly or in parallel (docs/reliability.md): one process
//! per run directory, output that never stops training, and numbers refused before training
//! when the machine or the data cannot take them.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::*;
use ember::metrics::read_csv;
use ember_engine::lock::RunLock;

/// A short MLP job: about a second of training.
const JOB: [&str; 8] = [
    "--model",
    "mlp",
    "--epochs",
    "3",
    "--limit-train",
    "2000",
    "--quiet",
    "--batch-size",
];

fn epochs_csv(run: &std::path::Path) -> Vec<(usize, f64, f64)> {
    read_csv(&run.join("metrics.csv"))
        .unwrap()
        .iter()
        .map(|r| (r.epoch, r.loss, r.val_loss))
        .collect()
}

/// A run directory held by another process (here: this test, through the same lock `train`
/// takes) is refused for a new run and for a resume, in one line naming the holder's pid;
/// nothing in it is touched. Once the holder is gone, the same commands run.
#[test]
fn a_run_directory_in_use_is_refused_naming_the_holder() {
    let tmp = TempDir::new("inuse");
    let run = tmp.str("run");
    let lock = RunLock::acquire(&tmp.join("run")).unwrap();
    let pid = format!("(pid {})", std::process::id());
    let out = train_bin()
        .args(JOB)
        .arg("64")
        .args(["--run-dir", &run])
        .output()
        .unwrap();
    assert_clean_error(
        &out,
        &["is in use by another train process", &pid, "--run-dir"],
    );
    assert!(!tmp.join("run/config.toml").exists());
    drop(lock);

    let out = train_bin()
        .args(JOB)
        .arg("64")
        .args(["--run-dir", &run])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let before = epochs_csv(&tmp.join("run"));
    let lock = RunLock::acquire(&tmp.join("run")).unwrap();
    let out = train(&["--resume", "latest", "--run-dir", &run, "--epochs", "4"]);
    assert_clean_error(&out, &["is in use by another train process", &pid]);
    assert_eq!(epochs_csv(&tmp.join("run")), before);
    drop(lock);
    let out = train(&["--resume", "latest", "--run-dir", &run, "--epochs", "4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(epochs_csv(&tmp.join("run")).len(), 4);
}

/// Two processes on one run directory for real: the second, started while the first trains, is
/// refused; the first finishes with the results of a lone run.
#[test]
fn a_second_process_on_a_running_run_is_refused_and_the_first_is_unharmed() {
    let tmp = TempDir::new("second");
    let run = tmp.str("run");
    let lone = tmp.str("lone");
    let args = [
        "--model",
        "lenet",
        "--epochs",
        "3",
        "--limit-train",
        "3000",
        "--quiet",
    ];
    let out = train_bin()
        .args(args)
        .args(["--run-dir", &lone])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut first = train_bin()
        .args(args)
        .args(["--run-dir", &run])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_checkpoint(&tmp.join("run"), 1, &mut first);
    let second = train_bin()
        .args(args)
        .args(["--run-dir", &run])
        .output()
        .unwrap();
    let resume = train(&["--resume", "latest", "--run-dir", &run]);
    let first_out = first.wait_with_output().unwrap();
    assert!(first_out.status.success(), "{}", stderr(&first_out));
    for out in [&second, &resume] {
        assert_clean_error(out, &["is in use by another train process (pid"]);
    }
    assert_eq!(epochs_csv(&tmp.join("run")), epochs_csv(&tmp.join("lone")));
}

/// Two new runs started together without `--run-dir` get two run directories (run-001 and
/// run-002), each with its own complete results, equal to each other's (same seed).
#[test]
fn two_new_runs_started_together_get_their_own_directories() {
    let tmp = TempDir::new("together");
    let spawn = || {
        train_bin()
            .current_dir(tmp.path())
            .args(JOB)
            .arg("64")
            .args(["--data-dir", &mnist_dir().to_string_lossy()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let parent = tmp.join("runs/mlp-adabelief");
    let one = epochs_csv(&parent.join("run-001"));
    let two = epochs_csv(&parent.join("run-002"));
    assert_eq!(one.len(), 3);
    assert_eq!(one, two);
    for run in ["run-001", "run-002"] {
        assert!(parent.join(run).join("summary.json").is_file(), "{run}");
    }
}

/// `train | head -1` and stdout on a full device: output stops, training goes on to the end
/// (final model, summary), and no panic text reaches stderr.
#[test]
fn a_closed_or_full_stdout_does_not_stop_training() {
    let tmp = TempDir::new("stdout");
    // Closed after the first line, as `| head -1` closes it.
    let run = tmp.str("closed");
    let mut child = train_bin()
        .args(["--model", "mlp", "--epochs", "3", "--limit-train", "2000"])
        .args(["--run-dir", &run])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("training mlp"), "{first}");
    // The reader is dropped here: the pipe is closed.
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
    assert!(tmp.join("closed/summary.json").is_file());
    assert_eq!(epochs_csv(&tmp.join("closed")).len(), 3);

    // stdout on a full device: every write fails with ENOSPC.
    if let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") {
        let run = tmp.str("full");
        let out = train_bin()
            .args(["--model", "mlp", "--epochs", "2", "--limit-train", "2000"])
            .args(["--run-dir", &run])
            .stdout(full)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
        assert!(tmp.join("full/summary.json").is_file());
    }
}

/// The oversized and non-finite values the reliability probes found are each refused before
/// training, in one line naming the flag, with no run directory contents written.
#[test]
fn oversized_and_non_finite_values_are_refused_before_training() {
    let tmp = TempDir::new("bounds");
    let run = tmp.str("run");
    let long = "x".repeat(300);
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--batch-size", "1000000000"],
            vec![
                "--batch-size 1000000000",
                "54000 images",
                "--batch-size full",
            ],
        ),
        (
            vec!["--batch-size", "18446744073709551615"],
            vec!["--batch-size 18446744073709551615", "at most 54000"],
        ),
        (
            vec!["--epochs", "18446744073709551615"],
            vec!["--epochs must be in [1, 1000000000]"],
        ),
        (vec!["--beta1", "inf"], vec!["--beta1", "finite"]),
        (vec!["--lr", "NaN"], vec!["--lr", "finite"]),
        (
            vec!["--opt", "rprop", "--etas", "nan,1.2"],
            vec!["--etas", "finite"],
        ),
        (
            vec!["--checkpoint-filename", "{epoch:0100000000000d}"],
            vec!["width", "200 bytes"],
        ),
        (
            vec!["--checkpoint-filename", "{val_loss:.18446744073709551615f}"],
            vec!["precision", "200 bytes"],
        ),
        (
            vec!["--checkpoint-filename", &long],
            vec!["300 bytes", "change the template"],
        ),
        (
            vec!["--checkpoint-filename", ".{epoch}.tmp-1"],
            vec!["starts with '.'", "change the template"],
        ),
        (vec!["--keep-checkpoints", "0"], vec!["--keep-checkpoints"]),
    ];
    for (flags, needles) in cases {
        let out = train_bin()
            .args(["--model", "mlp"])
            .args(&flags)
            .args(["--run-dir", &run])
            .output()
            .unwrap();
        assert_clean_error(&out, &needles);
        assert!(
            !tmp.join("run").exists(),
            "{flags:?} left the run directory it created"
        );
    }
}

/// A full-batch run's `config.toml` repeats it: `--config` of it trains full batch again
/// (was: batch 64, since `None` was left out of the file).
#[test]
fn a_full_batch_config_repeats_full_batch() {
    let tmp = TempDir::new("fullbatch");
    let base = [
        "--model",
        "mlp",
        "--opt",
        "rprop",
        "--epochs",
        "2",
        "--limit-train",
        "500",
    ];
    let out = train_bin()
        .args(base)
        .args([
            "--batch-size",
            "full",
            "--quiet",
            "--run-dir",
            &tmp.str("a"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let config = tmp.join("a/config.toml");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("batch_size = \"full\"")
    );
    let out = train(&[
        "--config",
        &config.to_string_lossy(),
        "--quiet",
        "--run-dir",
        &tmp.str("b"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(epochs_csv(&tmp.join("a")), epochs_csv(&tmp.join("b")));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.join("b/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["global_step"], 2, "one step per epoch");
}
