//! `train compare` as a user runs it: every backend trains the same LeNet + AdaBelief job in
//! its own process, the report files hold every field for every backend, the files read back
//! (JSON by serde_json, CSV by column count, PNG by its signature and header), and the loss
//! trajectories agree.
//!
//! Tolerance, relative to flex's loss at the same step: 1e-5 over the first 20 steps and 2e-3
//! over all 50 (batch 64). The backends sum in different orders (SIMD widths, GPU tree
//! reductions), so f32 rounding differs from the first step, and training amplifies it:
//! AdaBelief's default ε = 1e-16 lets `m/√s` of parameters with a tiny belief `s` react
//! strongly to the last bits. Measured here (2-core Xeon, lavapipe): at most 2.1e-7 for every
//! backend over steps 1-20; over 50 steps ndarray grows to 9.8e-5 (about 10x per 10 steps from
//! step 28 on) while wgpu stays at 2.2e-7. The bounds leave 50x and 20x margins.
//!
//! wgpu needs an adapter (a GPU, or lavapipe on CI): required when `CI` or
//! `EMBER_REQUIRE_WGPU` is set, otherwise its absence is printed and the row checked to say
//! why.

mod common;

use common::*;
use serde_json::Value;

const STEPS: usize = 50;
/// Steps of the tight bound, and the bounds (see the module documentation).
const EARLY_STEPS: usize = 20;
const EARLY_TOLERANCE: f64 = 1e-5;
const TOLERANCE: f64 = 2e-3;

/// Fields every backend row that ran has, non-null (the measurements).
const RUN_FIELDS: [&str; 13] = [
    "device",
    "warmup_steps",
    "warmup_seconds",
    "steps",
    "step_seconds_median",
    "step_seconds_mean",
    "images_per_second",
    "losses",
    "final_train_loss",
    "val_loss",
    "val_accuracy",
    "val_images",
    "peak_rss_bytes",
];

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn every_backend_trains_the_same_job() {
    let tmp = TempDir::new("compare");
    let out = train(&[
        "compare",
        "--model",
        "lenet",
        "--opt",
        "adabelief",
        "--steps",
        &STEPS.to_string(),
        "--batch-size",
        "64",
        "--limit-train",
        "4000",
        "--divergence-steps",
        &STEPS.to_string(),
        "--run-dir",
        &tmp.str("run"),
    ]);
    let text = stdout(&out);
    println!("{text}");
    assert!(out.status.success(), "{}\n{}", text, stderr(&out));

    let report = read_json(&tmp.join("run/compare.json"));
    let rows = report["backends"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["backend"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["flex", "ndarray", "wgpu"]);
    assert_eq!(report["speedup_reference"], "flex");

    let mut flex_losses: Vec<f64> = Vec::new();
    for row in rows {
        let name = row["backend"].as_str().unwrap();
        let outcome = &row["outcome"];
        if name == "wgpu" && outcome["status"] == "unavailable" {
            let reason = outcome["reason"].as_str().unwrap();
            assert!(!wgpu_required(), "wgpu required but unavailable: {reason}");
            assert!(reason.contains("no GPU is available"), "{reason}");
            println!("wgpu skipped: {reason} (on CI, or with EMBER_REQUIRE_WGPU=1, an error)");
            continue;
        }
        assert_eq!(outcome["status"], "ran", "{name}: {outcome}");
        for field in RUN_FIELDS {
            assert!(
                !outcome[field].is_null(),
                "{name}: field {field} missing in {outcome}"
            );
        }
        assert_eq!(outcome["steps"], STEPS);
        assert_eq!(outcome["warmup_steps"], 2);
        assert_eq!(outcome["val_images"], 400);
        // A run of steps has no epoch figure.
        assert!(outcome["steady_epoch_seconds"].is_null());
        let positive = |f: &str| outcome[f].as_f64().unwrap() > 0.0;
        for f in [
            "warmup_seconds",
            "step_seconds_median",
            "images_per_second",
            "peak_rss_bytes",
        ] {
            assert!(positive(f), "{name}: {f} = {}", outcome[f]);
        }
        // The process held at least the MNIST training images (47 MB).
        assert!(outcome["peak_rss_bytes"].as_u64().unwrap() > 47_000_000);
        // Device memory: reported by wgpu's allocator, not by the CPU backends.
        assert_eq!(
            outcome["device_memory_peak_bytes"].is_null(),
            name != "wgpu",
            "{name}: {outcome}"
        );
        let losses: Vec<f64> = outcome["losses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(losses.len(), STEPS);
        // Training progressed: the first loss is about ln 10 (untrained), the last below it;
        // validation accuracy is above chance (10%).
        assert!((losses[0] - 10f64.ln()).abs() < 0.2, "{name}: {losses:?}");
        assert!(losses[STEPS - 1] < losses[0] - 0.1, "{name}: {losses:?}");
        assert!(outcome["val_accuracy"].as_f64().unwrap() > 0.2, "{name}");
        if name == "flex" {
            assert!(row["divergence"].is_null());
            assert_eq!(row["speedup"].as_f64(), Some(1.0));
            flex_losses = losses;
            continue;
        }
        // The divergence the report states is the one the trajectories show.
        let d = &row["divergence"];
        assert_eq!(d["reference"], "flex");
        assert_eq!(d["steps"], STEPS);
        let rel: Vec<f64> = losses
            .iter()
            .zip(&flex_losses)
            .map(|(l, r)| (l - r).abs() / r.abs())
            .collect();
        let max_rel = rel.iter().copied().fold(0.0, f64::max);
        let early = rel[..EARLY_STEPS].iter().copied().fold(0.0, f64::max);
        assert!((d["max_rel"].as_f64().unwrap() - max_rel).abs() <= 1e-12 * max_rel.max(1.0));
        println!(
            "{name}: max relative loss difference to flex: {early:.2e} over {EARLY_STEPS} steps, {max_rel:.2e} over {STEPS}"
        );
        assert!(early <= EARLY_TOLERANCE, "{name}: {rel:?}");
        assert!(max_rel <= TOLERANCE, "{name}: {rel:?}");
        assert!(row["speedup"].as_f64().unwrap() > 0.0);
    }

    // compare.csv: a header and a row per backend, every row as wide as the header.
    let csv = std::fs::read_to_string(tmp.join("run/compare.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    let width = lines[0].split(',').count();
    for line in &lines[1..] {
        assert_eq!(csv_fields(line), width, "{line}");
    }
    // compare.png: the PNG signature and an IHDR of the chart's size.
    let png = std::fs::read(tmp.join("run/compare.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(
        (width, height),
        ember::compare::chart::CHART_SIZE,
        "png header"
    );
}

/// Fields of an RFC 4180 line (quoted fields may hold commas and doubled quotes).
fn csv_fields(line: &str) -> usize {
    let (mut fields, mut quoted) = (1, false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields += 1,
            _ => {}
        }
    }
    fields
}

/// Without a Vulkan driver, wgpu is listed as not available with the reason, and the
/// comparison of the other backends still succeeds.
#[test]
fn unavailable_backend_is_listed_not_an_error() {
    let tmp = TempDir::new("compare-nogpu");
    let out = train_bin()
        .args([
            "compare",
            "--model",
            "mlp",
            "--backends",
            "flex,wgpu",
            "--steps",
            "3",
            "--limit-train",
            "500",
            "--run-dir",
            &tmp.str("run"),
        ])
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("wgpu: not available: no GPU is available"),
        "{text}"
    );
    let report = read_json(&tmp.join("run/compare.json"));
    let wgpu = &report["backends"][1];
    assert_eq!(wgpu["backend"], "wgpu");
    assert_eq!(wgpu["outcome"]["status"], "unavailable");
    assert!(wgpu["speedup"].is_null());
    assert_eq!(report["backends"][0]["outcome"]["status"], "ran");
    let csv = std::fs::read_to_string(tmp.join("run/compare.csv")).unwrap();
    assert!(
        csv.lines().nth(2).unwrap().starts_with("wgpu,unavailable,"),
        "{csv}"
    );
}

#[test]
fn bad_compare_flags_are_rejected() {
    let out = train(&["compare", "--steps", "0"]);
    assert_clean_error(&out, &["--steps"]);
    let out = train(&["compare", "--steps", "5", "--epochs", "1"]);
    assert_clean_error(&out, &["--steps", "--epochs"]);
    let out = train(&["compare", "--steps", "2", "--warmup-steps", "2"]);
    assert_clean_error(&out, &["--warmup-steps", "--steps"]);
    let out = train(&["compare", "--backends", "flex,tpu"]);
    assert_clean_error(&out, &["tpu", "ndarray"]);
    // The optimizer's hyperparameter flags are those of training, checked the same way.
    let out = train(&["compare", "--opt", "adam", "--rho", "0.5"]);
    assert_clean_error(&out, &["--rho", "adam"]);
    let out = train(&["compare", "--opt", "adam", "--beta1", "1.5"]);
    assert_clean_error(&out, &["beta1"]);
}

/// A job in epochs that turns out to be no longer than its warm-up fails by name, with the
/// fix, instead of writing a result its parent cannot read.
#[test]
fn job_shorter_than_its_warmup_is_a_clean_failure() {
    let tmp = TempDir::new("compare-short");
    let out = train(&[
        "compare",
        "--model",
        "mlp",
        "--backends",
        "flex",
        "--batch-size",
        "full",
        "--limit-train",
        "100",
        "--run-dir",
        &tmp.str("run"),
    ]);
    assert_clean_error(&out, &["flex", "warm-up", "--warmup-steps"]);
}
