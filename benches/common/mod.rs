//! What the benches share: criterion's configuration, and the ratios to a baseline measured in
//! the same run, read back from criterion's own results.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use criterion::Criterion;

/// Criterion from the command line (`cargo bench --bench NAME -- FILTER`), with a short warm-up
/// and measurement: the steps take milliseconds, and a run covers dozens of cases.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .without_plots()
        .configure_from_args()
}

/// The median time of benchmark `group/id` in milliseconds: criterion's
/// `target/criterion/<group>/<id>/new/estimates.json`, if written since `since` (the start of
/// this run; an older file is a benchmark this run filtered out).
pub fn median_ms(group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let path = target
        .join("criterion")
        .join(group)
        .join(id)
        .join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(estimates["median"]["point_estimate"].as_f64()? / 1e6)
}

/// Prints `id  median  ratio` for every id of `group` that ran since `since`, relative to
/// `baseline`'s median from the same run.
pub fn print_ratios(group: &str, ids: &[String], baseline: &str, since: SystemTime) {
    let Some(base) = median_ms(group, baseline, since) else {
        println!("{group}: the baseline {baseline} did not run; no ratios");
        return;
    };
    println!("\n{group}: medians of this run, relative to {baseline}");
    for id in ids {
        if let Some(median) = median_ms(group, id, since) {
            println!("  {id:28} {median:9.3} ms  {:6.2}x", median / base);
        }
    }
}
