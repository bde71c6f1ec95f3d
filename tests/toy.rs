//! `train toy`, the optimizer playground: its CSV read back, its contour plot decoded, its
//! errors.

mod common;
#[path = "common/png.rs"]
mod png;

use std::collections::BTreeMap;
use std::path::Path;

use common::{TempDir, assert_clean_error, stderr, stdout, train};

/// Rows of the trajectory CSV by optimizer: (step, x, y, f), parsed here independently.
fn read_trajectories(path: &Path) -> BTreeMap<String, Vec<(usize, f64, f64, f64)>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("optimizer,step,x,y,f"));
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        let num = |s: &str| s.parse::<f64>().unwrap();
        out.entry(f[0].to_string()).or_default().push((
            f[1].parse().unwrap(),
            num(f[2]),
            num(f[3]),
            num(f[4]),
        ));
    }
    out
}

fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

#[test]
fn rosenbrock_paths_csv_and_plot() {
    let tmp = TempDir::new("toy");
    let (csv, plot) = (tmp.str("traj.csv"), tmp.str("traj.png"));
    let steps = 300;
    let out = train(&[
        "toy",
        "--function",
        "rosenbrock",
        "--opt",
        "sgd,adam",
        "--steps",
        &steps.to_string(),
        "--out",
        &csv,
        "--plot",
        &plot,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains("sgd") && report.contains("adam"),
        "{report}"
    );

    let paths = read_trajectories(Path::new(&csv));
    assert_eq!(paths.keys().collect::<Vec<_>>(), ["adam", "sgd"]);
    for (name, rows) in &paths {
        assert_eq!(rows.len(), steps + 1, "{name}");
        assert_eq!((rows[0].0, rows[0].1, rows[0].2), (0, -1.2, 1.0), "{name}");
        for (k, &(step, x, y, f)) in rows.iter().enumerate() {
            assert_eq!(step, k);
            let want = rosenbrock(x, y);
            assert!(
                (f - want).abs() <= 1e-4 * want.max(1.0),
                "{name} step {k}: f {f} vs {want}"
            );
        }
        let (first, last) = (rows[0].3, rows[steps].3);
        assert!(last < first / 5.0, "{name}: f from {first} to {last}");
    }

    let image = png::read(Path::new(&plot));
    assert_eq!((image.width, image.height), (900, 820));
    assert!(
        image.distinct_colors() > 18,
        "{} colours: no contour bands",
        image.distinct_colors()
    );
    // Both paths are drawn in their colours (Tableau 10: blue, orange).
    for color in [[31, 119, 180], [255, 127, 14]] {
        let n = image.count_near(color, 8);
        assert!(n > 100, "{color:?} on {n} pixels");
    }
}

#[test]
fn toy_rejects_unknown_function_and_bad_start() {
    let tmp = TempDir::new("toy-bad");
    let csv = tmp.str("t.csv");
    let out = train(&["toy", "--function", "sphere", "--out", &csv]);
    assert_clean_error(&out, &["sphere", "rosenbrock", "--function"]);
    for bad in ["1", "a,b", "1,2,3", "nan,1"] {
        let out = train(&["toy", "--function", "booth", "--start", bad, "--out", &csv]);
        assert_clean_error(&out, &["--start", bad, "x,y"]);
    }
    let out = train(&["toy", "--function", "booth", "--lr", "0", "--out", &csv]);
    assert_clean_error(&out, &["--lr"]);
    let out = train(&[
        "toy",
        "--function",
        "booth",
        "--out",
        &csv,
        "--plot",
        &tmp.str("p.jpg"),
    ]);
    assert_clean_error(&out, &["--plot", "p.jpg", ".png or .svg"]);
    assert!(!tmp.join("t.csv").exists());
    // An output directory that does not exist is refused before the runs.
    let missing = tmp.str("no-such-dir/t.csv");
    let out = train(&["toy", "--function", "booth", "--out", &missing]);
    assert_clean_error(&out, &["--out", "no-such-dir", "does not exist"]);
    let out = train(&[
        "toy",
        "--function",
        "booth",
        "--opt",
        "sgd,adam",
        "--rho",
        "0.5",
        "--out",
        &csv,
    ]);
    assert_clean_error(&out, &["--rho", "sgd or adam"]);
}

/// SGD with lr 2 on 0.1·x² + 2·y² multiplies y by −7 a step and overflows f32 at step 23: a
/// warning, the path up to step 22, and the other optimizer unaffected.
#[test]
fn diverging_optimizer_is_reported_and_stopped() {
    let tmp = TempDir::new("toy-div");
    let csv = tmp.str("t.csv");
    let out = train(&[
        "toy",
        "--function",
        "quadratic",
        "--opt",
        "sgd,rprop",
        "--lr",
        "2",
        "--steps",
        "100",
        "--start",
        "-5,-2",
        "--out",
        &csv,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("sgd") && err.contains("diverged") && err.contains("step 23"),
        "{err}"
    );
    let paths = read_trajectories(Path::new(&csv));
    assert_eq!(paths["sgd"].len(), 23);
    assert_eq!(paths["rprop"].len(), 101);
}

/// `--device gpu` (wgpu; lavapipe on a machine without a GPU) follows the CPU path to within
/// f32 rounding. Skipped without an adapter unless CI or EMBER_REQUIRE_WGPU is set, as in
/// tests/backends.rs.
#[test]
fn gpu_paths_follow_cpu() {
    let tmp = TempDir::new("toy-gpu");
    let run = |device: &str| {
        let csv = tmp.str(&format!("{device}.csv"));
        let out = train(&[
            "toy",
            "--function",
            "beale",
            "--opt",
            "sgd,adam,adabelief",
            "--steps",
            "30",
            "--device",
            device,
            "--out",
            &csv,
        ]);
        (out, csv)
    };
    let (cpu, cpu_csv) = run("cpu");
    assert!(cpu.status.success(), "{}", stderr(&cpu));
    let (gpu, gpu_csv) = run("gpu");
    if !gpu.status.success()
        && stderr(&gpu).contains("no GPU is available")
        && std::env::var_os("EMBER_REQUIRE_WGPU").is_none()
        && std::env::var_os("CI").is_none()
    {
        println!("wgpu skipped: {}", stderr(&gpu));
        return;
    }
    assert!(gpu.status.success(), "{}", stderr(&gpu));
    assert!(stdout(&gpu).contains("on wgpu"), "{}", stdout(&gpu));
    let (cpu, gpu) = (
        read_trajectories(Path::new(&cpu_csv)),
        read_trajectories(Path::new(&gpu_csv)),
    );
    assert_eq!(
        cpu.keys().collect::<Vec<_>>(),
        gpu.keys().collect::<Vec<_>>()
    );
    for (name, rows) in &cpu {
        assert_eq!(rows.len(), 31, "{name}");
        for (c, g) in rows.iter().zip(&gpu[name]) {
            for (a, b) in [(c.1, g.1), (c.2, g.2), (c.3, g.3)] {
                assert!(
                    (a - b).abs() <= 1e-4 * a.abs().max(1.0),
                    "{name} step {}: cpu {c:?} gpu {g:?}",
                    c.0
                );
            }
        }
    }
}
