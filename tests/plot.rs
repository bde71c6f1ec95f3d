//! Seeing training: the training-curve plots (`ember::plot::write_training_curves` and `train
//! plot`, checked by decoding the PNG and reading the SVG's text) and the TensorBoard histograms
//! and images of a run (read back by TensorBoard itself).

mod common;
#[path = "common/png.rs"]
mod png;

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};

use common::{TempDir, assert_clean_error, stderr, stdout, train};
use ember::metrics::EpochMetrics;
use ember::plot::curves::SIZE;
use ember::plot::{TABLEAU10, write_training_curves};

fn epoch(epoch: usize, loss: f64, accuracy: f64, val_loss: f64, val_accuracy: f64) -> EpochMetrics {
    with_lr(epoch, loss, accuracy, val_loss, val_accuracy, 1e-3)
}

fn with_lr(
    epoch: usize,
    loss: f64,
    accuracy: f64,
    val_loss: f64,
    val_accuracy: f64,
    learning_rate: f64,
) -> EpochMetrics {
    EpochMetrics {
        epoch,
        loss,
        accuracy,
        val_loss,
        val_accuracy,
        learning_rate,
        epoch_seconds: 1.0,
        images_per_second: 1000.0,
    }
}

fn rgb(c: plotters::style::RGBColor) -> [u8; 3] {
    [c.0, c.1, c.2]
}

/// The PNG is a real, non-blank 1200×520 image with both runs' colours drawn in it.
fn assert_curves_png(path: &Path, runs: usize) {
    let image = png::read(path);
    assert_eq!((image.width as u32, image.height as u32), SIZE);
    let white = image.count_near([255, 255, 255], 0);
    let total = image.width * image.height;
    assert!(
        white < total * 98 / 100,
        "almost blank: {white} of {total} white"
    );
    assert!(
        white > total / 2,
        "background is not white: {white} of {total}"
    );
    assert!(
        image.distinct_colors() > 20,
        "{} colours",
        image.distinct_colors()
    );
    // Text was rendered: dark (near-black) pixels exist in the title band.
    let dark_title = (0..image.width)
        .flat_map(|x| (0..35).map(move |y| (x, y)))
        .filter(|&(x, y)| image.rgb(x, y).iter().all(|&c| c < 80))
        .count();
    assert!(dark_title > 100, "no title text ({dark_title} dark pixels)");
    for (i, color) in TABLEAU10.iter().take(runs).enumerate() {
        let n = image.count_near(rgb(*color), 10);
        assert!(
            n > 200,
            "run {i}'s colour {color:?} drawn on only {n} pixels"
        );
    }
    let unused = image.count_near(rgb(TABLEAU10[runs]), 10);
    assert!(
        unused < 50,
        "colour of a run that does not exist on {unused} pixels"
    );
}

fn svg_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
        "not an SVG document"
    );
    text
}

#[test]
fn training_curves_png_and_svg() {
    let tmp = TempDir::new("curves");
    let runs = vec![
        (
            "mlp/adam".to_string(),
            vec![
                epoch(1, 0.9, 0.70, 0.6, 0.80),
                epoch(2, 0.5, 0.85, 0.45, 0.87),
                epoch(3, 0.35, 0.90, 0.40, 0.89),
            ],
        ),
        (
            "lenet/sgd".to_string(),
            vec![
                epoch(1, 2.0, 0.40, 1.5, 0.55),
                // A diverged validation pass: left out, the line breaks.
                epoch(2, 1.2, 0.60, f64::NAN, f64::NAN),
                epoch(3, 0.8, 0.75, f64::INFINITY, 0.7),
                epoch(4, 0.6, 0.80, 0.7, 0.78),
            ],
        ),
    ];
    let written = write_training_curves(&runs, &tmp.join("curves")).unwrap();
    assert_eq!(written, [tmp.join("curves.png"), tmp.join("curves.svg")]);
    assert_curves_png(&written[0], 2);
    let svg = svg_text(&written[1]);
    for needle in [
        "Training curves",
        "epoch",
        "loss (cross-entropy)",
        "accuracy",
        "mlp/adam train",
        "mlp/adam validation",
        "lenet/sgd train",
        "lenet/sgd validation",
    ] {
        assert!(svg.contains(needle), "'{needle}' missing from the SVG");
    }
    assert!(
        !svg.contains("NaN") && !svg.contains("inf"),
        "a non-finite value reached the SVG"
    );
}

/// The third panel is the learning rate: a schedule spanning two decades on a log axis
/// labelled with the rates, a constant rate on a linear axis; either drawn in the run's colour
/// in the right third of the image.
#[test]
fn learning_rate_panel_is_logarithmic_for_a_decaying_schedule() {
    let tmp = TempDir::new("curves-lr");
    let history = |rates: [f64; 3]| -> Vec<EpochMetrics> {
        (0..3)
            .map(|i| with_lr(i + 1, 1.0, 0.5, 1.0, 0.5, rates[i]))
            .collect()
    };
    for (name, rates, log) in [
        ("decay", [0.1, 0.01, 0.001], true),
        ("constant", [0.05; 3], false),
    ] {
        let runs = vec![("lenet/sgd".to_string(), history(rates))];
        let written = write_training_curves(&runs, &tmp.join(name)).unwrap();
        let svg = svg_text(&written[1]);
        assert!(svg.contains("Learning rate"), "{name}: no panel title");
        assert_eq!(svg.contains("learning rate (log scale)"), log, "{name}");
        // A log axis is labelled with the rates themselves: 10^-2 is a tick.
        assert_eq!(svg.contains("1.0e-2"), log, "{name}");
        let image = png::read(&written[0]);
        let right_third = (image.width * 2 / 3..image.width)
            .flat_map(|x| (0..image.height).map(move |y| (x, y)))
            .filter(|&(x, y)| {
                let [r, g, b] = image.rgb(x, y);
                let [er, eg, eb] = rgb(TABLEAU10[0]);
                r.abs_diff(er) <= 10 && g.abs_diff(eg) <= 10 && b.abs_diff(eb) <= 10
            })
            .count();
        assert!(
            right_third > 200,
            "{name}: learning-rate line on {right_third} pixels"
        );
    }
}

/// Nothing finite to draw still gives a (mostly empty) figure, not an error.
#[test]
fn all_non_finite_history_still_plots() {
    let tmp = TempDir::new("curves-nan");
    let runs = vec![(
        "x".to_string(),
        vec![epoch(1, f64::NAN, f64::NAN, f64::NAN, f64::NAN)],
    )];
    let written = write_training_curves(&runs, &tmp.join("nan.png")).unwrap();
    assert_eq!(written[0], tmp.join("nan.png"));
    let image = png::read(&written[0]);
    assert_eq!((image.width as u32, image.height as u32), SIZE);
}

fn tiny_run(dir: &str, optimizer: &str) {
    let out = train(&[
        "--model",
        "mlp",
        "--opt",
        optimizer,
        "--epochs",
        "2",
        "--limit-train",
        "500",
        "--run-dir",
        dir,
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `train plot` overlays two real runs, labelled by their config's model/optimizer; one run
/// plots into its own `plots/` directory by default.
#[test]
fn plot_command_overlays_real_runs() {
    let tmp = TempDir::new("plot-cli");
    let (sgd, adam) = (tmp.str("sgd"), tmp.str("adam"));
    tiny_run(&sgd, "sgd");
    tiny_run(&adam, "adam");

    let stem = tmp.str("both");
    let out = train(&["plot", &sgd, &adam, "--out", &stem]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("both.png") && text.contains("both.svg"),
        "{text}"
    );
    assert_curves_png(&tmp.join("both.png"), 2);
    let svg = svg_text(&tmp.join("both.svg"));
    for needle in [
        "mlp/sgd train",
        "mlp/sgd validation",
        "mlp/adam train",
        "mlp/adam validation",
    ] {
        assert!(svg.contains(needle), "'{needle}' missing from the SVG");
    }

    let out = train(&["plot", &sgd]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_curves_png(&tmp.join("sgd/plots/curves.png"), 1);
    assert!(svg_text(&tmp.join("sgd/plots/curves.svg")).contains("mlp/sgd train"));
}

#[test]
fn plot_command_reports_missing_and_corrupt_metrics() {
    let tmp = TempDir::new("plot-bad");
    let missing = tmp.str("nothing-here");
    let out = train(&["plot", &missing]);
    assert_clean_error(&out, &["nothing-here/metrics.csv", "not found"]);

    std::fs::create_dir_all(tmp.join("corrupt")).unwrap();
    std::fs::write(tmp.join("corrupt/metrics.csv"), "epoch,loss\n1,zero\n").unwrap();
    let out = train(&["plot", &tmp.str("corrupt"), "--out", &tmp.str("p")]);
    assert_clean_error(&out, &["corrupt/metrics.csv"]);
    assert!(!tmp.join("p.png").exists());
}

/// Every float parameter of a run's final LeNet as `(path, count, min, max)`: the module path
/// joined by `/` without the zoo's enum variant (`conv1/weight`).
fn lenet_weights(run: &Path) -> Vec<(String, usize, f32, f32)> {
    struct Collect {
        path: Vec<String>,
        out: Vec<(String, usize, f32, f32)>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data().try_to_vec::<f32>().unwrap();
            let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let path = self.path.join("/");
            let path = path.strip_prefix("LeNet/").unwrap_or(&path).to_string();
            self.out.push((path, values.len(), lo, hi));
        }
    }
    let model = ember::learner::checkpoint::load_weights(
        &run.join("model.bpk"),
        ember_models::ModelKind::Lenet,
        &Default::default(),
        &Device::flex(),
    )
    .unwrap();
    let mut collect = Collect {
        path: Vec::new(),
        out: Vec::new(),
    };
    model.visit(&mut collect);
    collect.out
}

/// A 2-epoch LeNet run with `--histogram-freq 1 --write-images`, read back by TensorBoard's own
/// `EventAccumulator` (`tools/tensorboard_read.py`, with the Python of
/// `EMBER_TENSORBOARD_PYTHON`, which `.ci/run` sets): a weight and a gradient histogram of each
/// of LeNet's 10 parameter tensors at steps 0 and 1, counting every value, the last ones' min
/// and max exactly the final weights'; conv1's 6 filters as 5×5 images at both steps. Skipped
/// without the variable outside CI; a failure on CI, which must run it.
#[test]
fn tensorboard_reads_histograms_and_filter_images_of_a_lenet_run() {
    let Some(python) = std::env::var_os("EMBER_TENSORBOARD_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must read the event files with TensorBoard: set EMBER_TENSORBOARD_PYTHON (.ci/run does)"
        );
        eprintln!(
            "skipped: set EMBER_TENSORBOARD_PYTHON to a Python with tools/requirements.txt installed"
        );
        return;
    };
    let tmp = TempDir::new("tb-lenet");
    let run = tmp.str("run");
    let out = train(&[
        "--model",
        "lenet",
        "--epochs",
        "2",
        "--limit-train",
        "256",
        "--histogram-freq",
        "1",
        "--write-images",
        "--no-plots",
        "--run-dir",
        &run,
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reader = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/tensorboard_read.py");
    let read = std::process::Command::new(python)
        .arg(reader)
        .arg(&run)
        .output()
        .expect("run EMBER_TENSORBOARD_PYTHON");
    assert!(read.status.success(), "{}", stderr(&read));
    let text = stdout(&read);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    // (tag, step) -> (min, max, num) of every histogram; (tag, step) -> (width, height) of images.
    let histograms: BTreeMap<(String, i64), (f64, f64, f64)> = rows
        .iter()
        .filter(|r| r[0] == "histogram" && r[1] == "train")
        .map(|r| {
            let f = |i: usize| r[i].parse::<f64>().unwrap();
            (
                (r[2].to_string(), r[3].parse().unwrap()),
                (f(4), f(5), f(6)),
            )
        })
        .collect();
    let images: BTreeMap<(String, i64), (u32, u32)> = rows
        .iter()
        .filter(|r| r[0] == "image" && r[1] == "train")
        .map(|r| {
            (
                (r[2].to_string(), r[3].parse().unwrap()),
                (r[4].parse().unwrap(), r[5].parse().unwrap()),
            )
        })
        .collect();

    let weights = lenet_weights(Path::new(&run));
    assert_eq!(weights.len(), 10, "{weights:?}");
    let mut expected_tags = Vec::new();
    for (path, count, lo, hi) in &weights {
        for suffix in ["histogram", "gradient"] {
            for step in [0, 1] {
                let tag = format!("{path}/{suffix}");
                let (min, max, num) = histograms
                    .get(&(tag.clone(), step))
                    .unwrap_or_else(|| panic!("{tag} at step {step} missing:\n{text}"));
                assert_eq!(*num, *count as f64, "{tag}");
                assert!(min <= max, "{tag}");
                if suffix == "histogram" && step == 1 {
                    assert_eq!((*min, *max), (*lo as f64, *hi as f64), "{tag}");
                }
                expected_tags.push((tag, step));
            }
        }
    }
    expected_tags.sort();
    assert_eq!(
        histograms.keys().cloned().collect::<Vec<_>>(),
        expected_tags
    );
    let expected_images: BTreeMap<(String, i64), (u32, u32)> = (0..6)
        .flat_map(|i| [0, 1].map(|step| ((format!("conv1/weight/image/{i}"), step), (5, 5))))
        .collect();
    assert_eq!(images, expected_images);
}

/// `--write-images` where it would write nothing is refused in one line naming the fix.
#[test]
fn write_images_without_something_to_draw_is_refused() {
    let tmp = TempDir::new("tb-refusals");
    let run = tmp.str("run");
    for (args, needles) in [
        (
            &["--model", "mlp", "--histogram-freq", "1", "--write-images"][..],
            &["--write-images", "mlp", "--model lenet"][..],
        ),
        (
            &["--model", "lenet", "--write-images"],
            &["--write-images", "--histogram-freq N"],
        ),
        (
            &[
                "--model",
                "lenet",
                "--histogram-freq",
                "2",
                "--no-tensorboard",
            ],
            &["--histogram-freq", "--no-tensorboard"],
        ),
    ] {
        let out = train(&[args, &["--run-dir", &run, "--epochs", "1"]].concat());
        assert_clean_error(&out, needles);
    }
    assert!(
        !tmp.join("run").exists(),
        "a refused run wrote its directory"
    );
}
