//! `train lr-find` as a user runs it: the ramp, the smoothed loss and the suggestion read back
//! from its files and recomputed here independently, the plot, and bad flags as one line.

use std::path::Path;

use serde_json::Value;

use crate::common::*;
use crate::png;

const MIN_LR: f64 = 1e-5;
const MAX_LR: f64 = 10.0;
const STEPS: usize = 50;

/// `lr_find.csv`'s rows: (step, learning_rate, loss, smoothed_loss).
fn read_rows(path: &Path) -> Vec<(usize, f64, f64, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("step,learning_rate,loss,smoothed_loss"));
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 4, "{line}");
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

/// Lightning's steepest-descent rule, written out again from its description: skip the first
/// 10 and the last point and non-finite values, numpy.gradient of the smoothed loss over
/// log10(lr), the first minimum.
fn steepest_by_hand(rates: &[f64], smoothed: &[f64]) -> Option<f64> {
    let kept: Vec<usize> = (10..smoothed.len() - 1)
        .filter(|&i| smoothed[i].is_finite())
        .collect();
    if kept.len() < 2 {
        return None;
    }
    let x = |k: usize| rates[kept[k]].log10();
    let y = |k: usize| smoothed[kept[k]];
    let n = kept.len();
    let slope = |k: usize| {
        if k == 0 {
            (y(1) - y(0)) / (x(1) - x(0))
        } else if k == n - 1 {
            (y(n - 1) - y(n - 2)) / (x(n - 1) - x(n - 2))
        } else {
            let (a, b) = (x(k) - x(k - 1), x(k + 1) - x(k));
            (a * a * y(k + 1) + (b * b - a * a) * y(k) - b * b * y(k - 1)) / (a * b * (a + b))
        }
    };
    let mut best = 0;
    for k in 1..n {
        if slope(k) < slope(best) {
            best = k;
        }
    }
    Some(rates[kept[best]])
}

/// A fixed seed on 512 MNIST images, 50 steps: the three files; rates exactly geometric from
/// --min-lr; the smoothed loss the bias-corrected EMA of the losses; the stop where the rule
/// says; the suggestion in [min, max] and equal to the rule applied to the CSV; the plot with
/// its red suggestion mark; the one printed line naming them.
#[test]
fn lr_find_writes_the_ramp_the_suggestion_and_the_plot() {
    let dir = TempDir::new("lr-find");
    let run = dir.join("run");
    let out = train(&[
        "lr-find",
        "--model",
        "mlp",
        "--opt",
        "sgd",
        "--momentum",
        "0.9",
        "--limit-train",
        "512",
        "--steps",
        &STEPS.to_string(),
        "--min-lr",
        &MIN_LR.to_string(),
        "--max-lr",
        &MAX_LR.to_string(),
        "--seed",
        "7",
        "--run-dir",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let rows = read_rows(&run.join("lr_find.csv"));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("lr_find.json")).unwrap()).unwrap();
    assert_eq!(report["config"]["optimizer"]["momentum"], 0.9);
    let taken = report["steps_taken"].as_u64().unwrap() as usize;
    assert_eq!(rows.len(), taken);
    // Enough steps for a suggestion (13: ten skipped at the start, one at the end, two kept).
    assert!((13..=STEPS).contains(&taken), "{taken}");

    // The ramp: step k (1-based) at min·(max/min)^((k−1)/(steps−1)), the first exactly min.
    assert_eq!(rows[0].1, MIN_LR);
    let factor = (MAX_LR / MIN_LR).powf(1.0 / (STEPS - 1) as f64);
    for (i, &(step, lr, _, _)) in rows.iter().enumerate() {
        assert_eq!(step, i + 1);
        let expected = MIN_LR * (MAX_LR / MIN_LR).powf(i as f64 / (STEPS - 1) as f64);
        assert!((lr / expected - 1.0).abs() < 1e-12, "step {step}: {lr}");
        if i > 0 {
            assert!((lr / rows[i - 1].1 / factor - 1.0).abs() < 1e-12);
        }
    }
    if taken == STEPS {
        assert_eq!(rows[STEPS - 1].1, MAX_LR);
    }

    // The smoothed loss: avg = 0.98·avg + 0.02·loss from 0, over 1 − 0.98^k.
    let mut average = 0.0;
    let mut best = f64::INFINITY;
    for (k, &(_, _, loss, smoothed)) in rows.iter().enumerate() {
        average = 0.98 * average + 0.02 * loss;
        let expected = average / (1.0 - 0.98f64.powi(k as i32 + 1));
        assert!(
            (smoothed - expected).abs() <= 1e-12 * expected.abs(),
            "{smoothed} vs {expected}"
        );
        // Every step before the last is below the stop threshold.
        if k + 1 < taken {
            assert!(loss.is_finite() && (k == 0 || smoothed <= 4.0 * best));
        }
        best = best.min(smoothed);
    }
    if taken < STEPS {
        let (_, _, loss, smoothed) = rows[taken - 1];
        let before = rows[..taken - 1]
            .iter()
            .map(|r| r.3)
            .fold(f64::INFINITY, f64::min);
        assert!(!loss.is_finite() || smoothed > 4.0 * before, "{rows:?}");
    }

    // The suggestion: the rule on the CSV's columns, within the ramp.
    let rates: Vec<f64> = rows.iter().map(|r| r.1).collect();
    let smoothed: Vec<f64> = rows.iter().map(|r| r.3).collect();
    let suggested = report["suggestion"]["learning_rate"].as_f64().unwrap();
    assert_eq!(Some(suggested), steepest_by_hand(&rates, &smoothed));
    assert!((MIN_LR..=MAX_LR).contains(&suggested), "{suggested}");
    let step = report["suggestion"]["step"].as_u64().unwrap() as usize;
    assert_eq!(rates[step - 1], suggested);
    // fastai's minimum/10: a tenth of the rate at the lowest smoothed loss.
    let lowest = (0..taken)
        .min_by(|&a, &b| smoothed[a].partial_cmp(&smoothed[b]).unwrap())
        .unwrap();
    assert_eq!(
        report["minimum_over_ten"]["learning_rate"]
            .as_f64()
            .unwrap(),
        rates[lowest] / 10.0
    );

    // The plot: both formats, the PNG with the suggestion's red dot and line.
    let image = png::read(&run.join("lr_find.png"));
    assert_eq!((image.width, image.height), (900, 560));
    assert!(image.count_near([214, 39, 40], 10) > 100);
    let svg = std::fs::read_to_string(run.join("lr_find.svg")).unwrap();
    assert!(svg.contains("suggestion (steepest descent)"));

    // One line at the end names the suggestion and the four files.
    let text = stdout(&out);
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("suggested learning rate "), "{text}");
    for name in ["lr_find.csv", "lr_find.json", "lr_find.png", "lr_find.svg"] {
        assert!(
            last.contains(&run.join(name).display().to_string()),
            "{last}"
        );
    }
}

/// Bad ramps and names: one line each, naming the flag, before anything is trained or written.
#[test]
fn bad_lr_find_flags_are_one_line_errors() {
    let dir = TempDir::new("lr-find-bad");
    let run = dir.join("run");
    let run = run.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["--min-lr", "1", "--max-lr", "1"],
            &["--min-lr 1", "--max-lr 1"],
        ),
        (
            &["--min-lr", "0.1", "--max-lr", "0.01"],
            &["--min-lr", "--max-lr"],
        ),
        (&["--min-lr", "0"], &["--min-lr 0", "positive"]),
        (&["--max-lr", "-2"], &["--max-lr -2", "positive"]),
        (&["--steps", "12"], &["--steps 12", "--steps 13"]),
        (&["--model", "vgg"], &["vgg", "--model"]),
    ];
    for (flags, needles) in cases {
        let mut args = vec!["lr-find", "--run-dir", run];
        args.extend_from_slice(flags);
        assert_clean_error(&train(&args), needles);
        assert!(!Path::new(run).exists(), "{flags:?} created {run}");
    }
}
