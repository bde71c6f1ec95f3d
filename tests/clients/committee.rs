//! `train committee`, `train evaluate` with several checkpoints, and `train distill`, run as a
//! user runs them (small budgets; docs/committees.md has the full-budget figures).

use std::path::Path;
use std::time::Duration;

use crate::common::{TempDir, assert_clean_error, checkpoints, stderr, stdout, train, train_bin};
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn outcome_of(dir: &Path) -> Value {
    read_json(&dir.join("committee.json"))["outcome"].clone()
}

/// Acceptance: five LeNets on a fixed seed and a small budget, differing by seed and by
/// Ciresan et al.'s width normalization; the committee's test error is below the members'
/// mean. The same runs given to `train evaluate` report the same committee.
#[test]
fn a_committee_of_five_lenets_beats_their_mean_and_evaluate_agrees() {
    let tmp = TempDir::new("committee-lenet");
    let dir = tmp.str("committee");
    let out = train(&[
        "committee",
        "--members",
        "5",
        "--model",
        "lenet",
        "--epochs",
        "1",
        "--limit-train",
        "1500",
        "--quiet",
        "--run-dir",
        &dir,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("**committee** (average of softmax outputs)"),
        "{text}"
    );
    let outcome = outcome_of(tmp.path().join("committee").as_path());
    let (mean, committee) = (
        outcome["mean_error"].as_f64().unwrap(),
        outcome["committee_error"].as_f64().unwrap(),
    );
    println!("members' mean error {mean}, committee {committee}");
    assert!(committee < mean, "committee {committee} vs mean {mean}");
    assert_eq!(outcome["images"], 10_000);
    // Each member is an ordinary run with its recipe and seed in its config.toml.
    let config = std::fs::read_to_string(tmp.join("committee/member-3/config.toml")).unwrap();
    assert!(config.contains("preprocess = \"width=12\""), "{config}");
    assert!(config.contains("seed = 44"), "{config}");

    let members: Vec<String> = (1..=5)
        .map(|k| tmp.str(&format!("committee/member-{k}")))
        .collect();
    let mut args = vec!["evaluate", "--checkpoint"];
    args.extend(members.iter().map(String::as_str));
    let out = train(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = std::fs::read_to_string(tmp.join("committee/committee.md")).unwrap();
    let committee_row = |t: &str| {
        t.lines()
            .find(|l| l.contains("**committee**"))
            .map(|l| l.rsplit('|').nth(1).unwrap().trim().to_string())
            .unwrap()
    };
    assert_eq!(committee_row(&stdout(&out)), committee_row(&table));

    // A majority vote is another rule over the same members.
    args.push("--vote");
    let out = train(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("**committee** (majority vote)"));
}

/// A committee killed while training its second member, run again with the same command
/// and its --run-dir: the first member is skipped, the second resumes from its checkpoint,
/// and the committee ends exactly as an uninterrupted one.
#[test]
fn a_killed_committee_resumes_its_member_and_skips_the_finished() {
    let tmp = TempDir::new("committee-kill");
    let job = |dir: &str| -> Vec<String> {
        [
            "committee",
            "--members",
            "3",
            "--model",
            "mlp",
            "--epochs",
            "2",
            "--limit-train",
            "5000",
            "--preprocess",
            "none,deslant,deslant+width=14",
            "--checkpoint-every",
            "10",
            "--quiet",
            "--run-dir",
            dir,
        ]
        .map(String::from)
        .to_vec()
    };
    let reference = tmp.str("reference");
    let out = train_bin().args(job(&reference)).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let run = tmp.str("run");
    let mut child = train_bin()
        .args(job(&run))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let second = tmp.join("run/member-2");
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while checkpoints(&second).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no checkpoint");
        assert!(child.try_wait().unwrap().is_none(), "ended early");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!second.join("summary.json").exists());

    let out = train_bin().args(job(&run)).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("member 1/3 (mlp, preprocess none, seed 42): finished before, skipped"),
        "{text}"
    );
    assert!(
        text.contains("member 2/3 (mlp, preprocess deslant, seed 43): resuming from"),
        "{text}"
    );
    assert!(text.contains("member 3/3"), "{text}");
    assert_eq!(
        outcome_of(&tmp.join("run")),
        outcome_of(&tmp.join("reference"))
    );

    // The same directory with other settings is refused, naming the difference.
    let mut other = job(&run);
    other[8] = "3000".into();
    let out = train_bin().args(&other).output().unwrap();
    assert_clean_error(&out, &["member-1", "--limit-train 5000 (recorded) vs 3000"]);
}

/// `train distill` trains the student twice (distilled and alone, same seed and budget) and
/// reports the teacher's and both students' test accuracies.
#[test]
fn distill_reports_teacher_distilled_and_alone() {
    let tmp = TempDir::new("distill");
    let teacher = tmp.str("teacher");
    let small = ["--epochs", "2", "--limit-train", "3000", "--quiet"];
    let mut args = vec!["--model", "mlp", "--seed", "7", "--run-dir", &teacher];
    args.extend(small);
    let out = train(&args);
    assert!(out.status.success(), "{}", stderr(&out));

    let dir = tmp.str("distill");
    let mut args = vec![
        "distill",
        "--teacher",
        &teacher,
        "--student",
        "mlp",
        "--temperature",
        "4",
        "--alpha",
        "0.3",
        "--run-dir",
        &dir,
    ];
    args.extend(small);
    let out = train(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = read_json(&tmp.join("distill/distill.json"));
    let rows = report["rows"].as_array().unwrap();
    let roles: Vec<&str> = rows.iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["teacher", "student, distilled", "student alone"]);
    // The teacher's accuracy is its own run's test accuracy, evaluated again.
    let summary = read_json(&tmp.join("teacher/summary.json"));
    assert!(
        (rows[0]["test_accuracy"].as_f64().unwrap() - summary["test_accuracy"].as_f64().unwrap())
            .abs()
            < 1e-9
    );
    for row in &rows[1..] {
        let acc = row["test_accuracy"].as_f64().unwrap();
        assert!(acc > 0.7, "{row}");
    }
    // The distilled run records its teacher and logs both terms of its loss.
    let config = std::fs::read_to_string(tmp.join("distill/distilled/config.toml")).unwrap();
    assert!(config.contains("[distillation]"), "{config}");
    assert!(config.contains("temperature = 4.0"), "{config}");
    let metrics = std::fs::read_to_string(tmp.join("distill/distilled/metrics.csv")).unwrap();
    let header = metrics.lines().next().unwrap();
    assert!(header.contains("distillation_loss"), "{header}");
    assert!(header.contains("student_loss"), "{header}");
    let alone = std::fs::read_to_string(tmp.join("distill/alone/config.toml")).unwrap();
    assert!(!alone.contains("[distillation]"), "{alone}");

    // Run again: both students are finished, skipped, and the report is the same.
    let out = train(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("finished before, skipped"));
    assert_eq!(read_json(&tmp.join("distill/distill.json")), report);
}

#[test]
fn bad_committee_and_distillation_input_is_one_line() {
    let tmp = TempDir::new("committee-bad");
    let dir = tmp.str("c");
    for (args, needles) in [
        (
            vec!["committee", "--members", "3", "--weights", "1,2"],
            vec!["--weights gives 2 weights for 3 members"],
        ),
        (
            vec!["committee", "--preprocess", "width=40"],
            vec!["--preprocess", "from 1 to 28"],
        ),
        (
            vec!["--preprocess", "none,width=10"],
            vec!["--preprocess takes one recipe", "train committee"],
        ),
        (
            vec!["committee", "--resume", "latest"],
            vec!["train committee takes no --resume", "--run-dir"],
        ),
        (
            vec![
                "distill",
                "--teacher",
                "/nonexistent/run",
                "--student",
                "mlp",
            ],
            vec!["--teacher /nonexistent/run", "no such run directory"],
        ),
        (
            vec!["evaluate", "--checkpoint", "runs/x", "--vote"],
            vec!["--vote", "more than one --checkpoint"],
        ),
    ] {
        let mut args = args.clone();
        if args[0] != "evaluate" {
            args.extend(["--run-dir", &dir]);
        }
        let out = train(&args);
        assert_clean_error(&out, &needles);
    }
    assert!(!tmp.join("c/member-1").exists());
}
