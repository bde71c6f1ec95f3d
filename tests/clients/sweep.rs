//! `train sweep` as a user runs it: a sweep stopped halfway and run again reports what an
//! uninterrupted one (run two at a time) reports, and so do its `--print-commands` lines run
//! by a shell loop; the
//! batch-size study's target; bad sweeps refused in one line before any run.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use crate::common::{TempDir, assert_clean_error, stdout, train, train_bin};

/// 2 optimizers × 2 seeds of a small MLP run, with mid-epoch checkpoints.
const SWEEP: [&str; 16] = [
    "sweep",
    "--opt",
    "adam,sgd",
    "--lr",
    "1e-2",
    "--seeds",
    "2",
    "--model",
    "mlp",
    "--epochs",
    "2",
    "--limit-train",
    "1024",
    "--checkpoint-every",
    "3",
    "--quiet",
];

fn sweep_into(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = SWEEP.to_vec();
    let dir = dir.to_str().unwrap();
    args.extend(["--run-dir", dir]);
    args.extend(extra);
    train(&args)
}

/// `report.csv` without the columns that time the runs.
fn report_without_seconds(dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("report.csv")).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let keep: Vec<usize> = (0..rows[0].len())
        .filter(|&i| !rows[0][i].ends_with("seconds"))
        .collect();
    rows.iter()
        .map(|row| keep.iter().map(|&i| row[i].clone()).collect())
        .collect()
}

#[test]
fn a_stopped_sweep_continues_to_the_report_of_an_uninterrupted_one() {
    let tmp = TempDir::new("sweep");
    // Uninterrupted, two runs at a time (each run's output in its train.log).
    let whole = tmp.join("whole");
    let out = sweep_into(&whole, &["--jobs", "2"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    assert!(whole.join("004_opt=sgd_seed=43/train.log").is_file());
    assert!(stdout(&out).contains("| opt | runs | val_accuracy"));
    let expected = report_without_seconds(&whole);
    assert_eq!(expected.len(), 5, "a header and 4 runs");
    assert!(
        expected[1..]
            .iter()
            .all(|row| row.contains(&"finished".to_string()))
    );

    // Stopped by SIGTERM while the third run trains, then the same command again.
    let stopped = tmp.join("stopped");
    let mut args: Vec<&str> = SWEEP.to_vec();
    let dir = stopped.to_str().unwrap();
    args.extend(["--run-dir", dir]);
    let mut child = train_bin()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let third = loop {
        let line = lines.next().expect("the sweep ended early").unwrap();
        if line.starts_with("run 3/4: ") {
            break stopped.join(line.trim_start_matches("run 3/4: "));
        }
    };
    // Until the third run has a checkpoint: it is stopped mid-run.
    while crate::common::checkpoints(&third).is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("sweep stopped; continue with")),
        "{rest:?}"
    );
    assert!(!stopped.join("report.csv").exists());
    let out = sweep_into(&stopped, &[]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    assert_eq!(stdout(&out).matches("finished before, skipped").count(), 2);
    assert_eq!(report_without_seconds(&stopped), expected);

    // The printed commands, run one by one by a shell, then the report.
    let printed = tmp.join("printed");
    let out = sweep_into(&printed, &["--print-commands"]);
    assert!(out.status.success());
    let commands = stdout(&out);
    assert_eq!(commands.lines().count(), 4);
    for line in commands.lines() {
        let status = std::process::Command::new("sh")
            .args(["-c", line])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{line}");
    }
    let out = train(&["sweep", "report", printed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    assert_eq!(report_without_seconds(&printed), expected);
}

/// Each batch size's run stops at the step its target is reached; the report records it and
/// draws steps against batch size.
#[test]
fn the_batch_size_study_stops_each_run_at_its_target() {
    let tmp = TempDir::new("sweep-target");
    let dir = tmp.join("study");
    let out = train(&[
        "sweep",
        "--model",
        "mlp",
        "--opt",
        "sgd",
        "--lr",
        "0.1",
        "--batch-size",
        "32,128",
        "--until",
        "loss<=0.8",
        "--epochs",
        "4",
        "--limit-train",
        "1024",
        "--quiet",
        "--run-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    assert!(dir.join("steps.png").is_file() && dir.join("steps.svg").is_file());
    for run in ["001_batch-size=32_seed=42", "002_batch-size=128_seed=42"] {
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(run).join("summary.json")).unwrap(),
        )
        .unwrap();
        let target = &summary["target"];
        assert_eq!(target["reached"], true, "{run}: {summary}");
        // The run stopped at that step, its window's mean at the target.
        assert_eq!(target["steps"], summary["global_step"]);
        assert!(target["value"].as_f64().unwrap() <= 0.8);
        let batch: u64 = if run.contains("=32_") { 32 } else { 128 };
        let steps = target["steps"].as_u64().unwrap();
        let images = target["examples"].as_u64().unwrap();
        // Every step a full batch but an epoch's last (921 training images).
        assert!(
            images <= steps * batch && images > (steps - 1) * batch / 2,
            "{target}"
        );
    }
}

#[test]
fn bad_sweeps_are_refused_in_one_line_before_any_run() {
    let tmp = TempDir::new("sweep-bad");
    let dir = tmp.join("never");
    let dir = dir.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--opt", "adam,sgd", "--colour", "red"],
            "--colour is not a flag of train",
        ),
        (
            &["--lr", "0.1,0.2", "--until", "val_accuracy>=0.9"],
            "no run logs 'val_accuracy' at each step",
        ),
        (&["--model", "mlp"], "nothing to sweep"),
        (&["--lr", "0.1,-1"], "--lr must be a positive number"),
    ];
    for (flags, needle) in cases {
        let mut args = vec!["sweep", "--run-dir", dir];
        args.extend(flags);
        assert_clean_error(&train(&args), &[needle]);
    }
    assert!(
        !Path::new(dir).exists(),
        "a refused sweep created its directory"
    );
    assert_clean_error(&train(&["sweep", "report", dir]), &["sweep.json not found"]);
    assert_clean_error(
        &train(&["--resume", "auto"]),
        &["--resume auto needs --run-dir"],
    );
    assert_clean_error(
        &train(&["--until", "loss<0.1"]),
        &["--until", "METRIC<=VALUE"],
    );
}
