//! The regularization flags from the command line (docs/regularization.md): out-of-range values
//! refused before anything is written, the augmentation preview, and a regularized run that
//! `train evaluate` reads back. (The SIGKILL test with everything on is in tests/cli.rs.)

mod common;
#[path = "common/png.rs"]
mod png;

use common::*;

/// A short MLP job: about a second of training.
const JOB: [&str; 8] = [
    "--model",
    "mlp",
    "--epochs",
    "2",
    "--limit-train",
    "1000",
    "--quiet",
    "--no-plots",
];

/// Each bad value gets one line naming its flag and what is allowed, and no run directory.
#[test]
fn out_of_range_values_are_refused_by_flag() {
    let tmp = TempDir::new("reg-bad");
    let run = tmp.str("run");
    let cases: [(&[&str], &[&str]); 12] = [
        (&["--dropout", "1"], &["--dropout", "[0, 1)"]),
        (&["--dropout", "-0.1"], &["--dropout", "[0, 1)"]),
        (
            &["--dropout", "0.1,0.2"],
            &["--dropout takes one rate or 1"],
        ),
        (&["--l2", "-1"], &["--l2", ">= 0"]),
        (&["--l1", "-0.5"], &["--l1", ">= 0"]),
        (
            &["--augment", "rotate=400"],
            &["--augment", "rotate", "360"],
        ),
        (&["--augment", "blur=3"], &["--augment", "blur", "rotate"]),
        (&["--augment", "affine=20"], &["--augment", "affine"]),
        (
            &["--accumulate-grad-batches", "0"],
            &["--accumulate-grad-batches", "at least 1"],
        ),
        (
            &["--gradient-clip-val", "0"],
            &["--gradient-clip-val", "positive"],
        ),
        (&["--ema-decay", "1"], &["--ema-decay", "[0, 1)"]),
        (
            &["--dropout-kind", "uniform"],
            &["--dropout-kind", "gaussian"],
        ),
    ];
    for (flags, needles) in cases {
        let out = train_bin()
            .args(JOB)
            .args(flags)
            .args(["--run-dir", &run])
            .output()
            .unwrap();
        assert_clean_error(&out, needles);
        assert!(!tmp.join("run").exists(), "{flags:?} left a run directory");
    }
}

/// The preview is a real PNG: one row per image, the original then the augmentations, each
/// 28 pixels times the zoom with 1-pixel gaps, and the first column is the original image.
#[test]
fn augment_preview_writes_a_png_grid() {
    let tmp = TempDir::new("reg-preview");
    let png = tmp.join("preview/grid.png");
    let out = train(&[
        "augment-preview",
        "--augment",
        "rotate=30,affine=20:0.1:0.9-1.1,elastic=34:4,noise=0.1,jitter=0.2:0.2",
        "--images",
        "3",
        "--per-image",
        "4",
        "--zoom",
        "2",
        "--output",
        png.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("grid.png"), "{}", stdout(&out));
    let image = png::read(&png);
    let cell = 28 * 2;
    // Columns and rows of cells with a 1-pixel gap between neighbours.
    let gap = 1;
    assert_eq!(image.width, 5 * cell + 4 * gap);
    assert_eq!(image.height, 3 * cell + 2 * gap);
    // The first image of MNIST's training split (a 5) starts with blank rows and has ink.
    let first: Vec<u8> = (0..cell)
        .flat_map(|y| (0..cell).map(move |x| (x, y)))
        .map(|(x, y)| image.pixels[y * image.width + x])
        .collect();
    assert_eq!(first[0], 0);
    assert!(first.iter().filter(|&&p| p > 128).count() > 100);
    let bad = train(&["augment-preview", "--augment", "rotate=400"]);
    assert_clean_error(&bad, &["--augment", "rotate"]);
}

/// A run with dropout, batch normalization, an L2 penalty, augmentation, clipping, accumulation
/// and a moving average trains, records every setting in config.toml (which repeats the run),
/// logs the penalty, and `train evaluate` rebuilds the batch-normalized model from the record
/// and reports the run's own test accuracy.
#[test]
fn a_regularized_run_is_recorded_and_evaluated() {
    let tmp = TempDir::new("reg-run");
    let run = tmp.str("run");
    let out = train_bin()
        .args(JOB)
        .args([
            "--lr",
            "0.01",
            "--dropout",
            "0.2",
            "--dropout-kind",
            "gaussian",
            "--batch-norm",
            "--l2",
            "1e-3",
            "--augment",
            "rotate=10,noise=0.05",
            "--gradient-clip-val",
            "5",
            "--gradient-clip-algorithm",
            "value",
            "--accumulate-grad-batches",
            "3",
            "--ema-decay",
            "0.5",
            "--run-dir",
            &run,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let config = std::fs::read_to_string(tmp.join("run/config.toml")).unwrap();
    for line in [
        "dropout = [0.2]",
        "dropout_kind = \"gaussian\"",
        "batch_norm = true",
        "l2 = 0.001",
        "augment = \"rotate=10,noise=0.05\"",
        "gradient_clip_algorithm = \"value\"",
        "accumulate_grad_batches = 3",
        "ema_decay = 0.5",
    ] {
        assert!(config.contains(line), "{line} missing from\n{config}");
    }
    let csv = std::fs::read_to_string(tmp.join("run/metrics.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("penalty"), "{csv}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.join("run/summary.json")).unwrap()).unwrap();
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    // Ten optimizer steps: well above chance (10%), far from trained.
    assert!(accuracy > 0.3, "{accuracy}");
    // 900 training images at batch 64: 15 batches, windows of 3: 5 optimizer steps an epoch.
    assert_eq!(summary["global_step"], 10);
    let out = train(&["evaluate", "--checkpoint", &run]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = format!("{:.2}%", accuracy * 100.0);
    assert!(
        stdout(&out).contains(&shown),
        "{shown} not in {}",
        stdout(&out)
    );
    // The recorded file repeats the run.
    let again = tmp.str("again");
    let out = train_bin()
        .args(["--config", &tmp.str("run/config.toml"), "--run-dir", &again])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.join("again/summary.json")).unwrap()).unwrap();
    assert_eq!(again["test_loss"], summary["test_loss"]);
}
