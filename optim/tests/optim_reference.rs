//! ember's optimizers against the reference implementations: every trajectory in
//! `optim/tests/fixtures/` (written by `tools/reference/generate.py` with PyTorch 2.5.1 and
//! adabelief-pytorch 0.2.1, float32, single-tensor code path) is replayed with ember's optimizer
//! on the same problem, computing the gradients itself with Burn's autodiff, and must agree at
//! every step.
//!
//! Agreement rule: the loss at every step, rel = |ember − reference| / max(|reference|, 1e-6);
//! each stored parameter tensor, rel = max_i |ember_i − reference_i| / S, where S is the
//! largest |reference value| the tensor has over the whole trajectory (initial values included;
//! at least 1e-6): the ∞-norm relative error at the tensor's own scale. Not per element, because
//! an element crossing zero is the difference of two larger numbers and keeps their absolute
//! rounding error: per element, plain SGD on the linear problem already "fails" at 1.4e-8
//! absolute on a weight passing 1e-3, and the linear problem's bias passes zero. Bounds (flex, the CPU backend): 1e-5 on the
//! linear regression and Rosenbrock problems, 1e-4 on the MLP (which has more float operations
//! per step, and tanh and log-softmax kernels that round differently from torch's).
//! On wgpu the first two problems are replayed with a bound of 1e-4 (see [`WGPU_BOUND`]).
//!
//! A fixture whose optimizer ember does not know fails the test with its name, so adding a
//! fixture cannot go unnoticed.

// The four Rprop variants against the pure-Python reference, bit for bit (its own module,
// in this binary so that CI links one reference binary).
#[path = "reference/rprop.rs"]
mod rprop;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};
use ember_optim::OptimizerConfig;
use serde::Deserialize;

const FLOOR: f64 = 1e-6;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A tensor as stored in the fixtures: shape and row-major values.
#[derive(Deserialize, Clone)]
struct Stored {
    shape: Vec<usize>,
    values: Vec<f64>,
}

impl Stored {
    fn tensor<const D: usize>(&self, device: &Device) -> Tensor<D> {
        let values: Vec<f32> = self.values.iter().map(|&v| v as f32).collect();
        Tensor::from_data(TensorData::new(values, self.shape.clone()), device)
    }

    fn param<const D: usize>(&self, device: &Device) -> Param<Tensor<D>> {
        Param::from_tensor(self.tensor(device).require_grad())
    }
}

/// `problems/<problem>.json`.
#[derive(Deserialize)]
struct ProblemFile {
    params: BTreeMap<String, Stored>,
    data: BTreeMap<String, Stored>,
}

#[derive(Deserialize)]
struct Snapshot {
    step: usize,
    values: BTreeMap<String, Vec<f64>>,
}

/// `<problem>-<optimizer>-<options>.json`.
#[derive(Deserialize)]
struct Fixture {
    problem: String,
    optimizer: serde_json::Value,
    lr: f64,
    steps: usize,
    /// How far float64 strays from the reference's float32 trajectory (same rule as here).
    float64_deviation: f64,
    loss: Vec<f64>,
    params: Vec<Snapshot>,
}

/// A problem: a module of parameters and a loss at a (0-based) step.
trait Problem: Module + Sized {
    fn new(file: &ProblemFile, device: &Device) -> Self;
    fn loss(&self, step: usize) -> Tensor<1>;
    fn values(&self) -> BTreeMap<String, Vec<f32>>;
}

fn vec_of<const D: usize>(p: &Param<Tensor<D>>) -> Vec<f32> {
    p.val().try_into_vec_as().expect("f32 parameter")
}

/// y = X·w + b, mean squared error over the full batch.
#[derive(Module, Debug)]
struct LinearRegression {
    w: Param<Tensor<2>>,
    b: Param<Tensor<1>>,
    #[module(skip)]
    x: Tensor<2>,
    #[module(skip)]
    y: Tensor<2>,
}

impl Problem for LinearRegression {
    fn new(file: &ProblemFile, device: &Device) -> Self {
        Self {
            w: file.params["w"].param(device),
            b: file.params["b"].param(device),
            x: file.data["x"].tensor(device),
            y: file.data["y"].tensor(device),
        }
    }

    fn loss(&self, _step: usize) -> Tensor<1> {
        let pred = self.x.clone().matmul(self.w.val()) + self.b.val().unsqueeze::<2>();
        (pred - self.y.clone()).square().mean()
    }

    fn values(&self) -> BTreeMap<String, Vec<f32>> {
        BTreeMap::from([("w".into(), vec_of(&self.w)), ("b".into(), vec_of(&self.b))])
    }
}

/// f(x, y) = (1 − x)² + 100·(y − x²)².
#[derive(Module, Debug)]
struct Rosenbrock {
    xy: Param<Tensor<1>>,
}

impl Problem for Rosenbrock {
    fn new(file: &ProblemFile, device: &Device) -> Self {
        Self {
            xy: file.params["xy"].param(device),
        }
    }

    fn loss(&self, _step: usize) -> Tensor<1> {
        let x = self.xy.val().narrow(0, 0, 1);
        let y = self.xy.val().narrow(0, 1, 1);
        let a = x.clone().neg().add_scalar(1.0).square();
        let b = (y - x.square()).square().mul_scalar(100.0);
        (a + b).sum()
    }

    fn values(&self) -> BTreeMap<String, Vec<f32>> {
        BTreeMap::from([("xy".into(), vec_of(&self.xy))])
    }
}

/// 8-16-3 MLP, tanh, cross-entropy; step k uses batch k mod 4.
#[derive(Module, Debug)]
struct Mlp {
    w1: Param<Tensor<2>>,
    b1: Param<Tensor<1>>,
    w2: Param<Tensor<2>>,
    b2: Param<Tensor<1>>,
    /// Inputs, [batches, batch, 8].
    #[module(skip)]
    x: Tensor<3>,
    /// One-hot targets, [batches, batch, 3].
    #[module(skip)]
    targets: Tensor<3>,
}

impl Problem for Mlp {
    fn new(file: &ProblemFile, device: &Device) -> Self {
        let labels = &file.data["labels"];
        let classes = file.params["b2"].shape[0];
        let one_hot: Vec<f32> = labels
            .values
            .iter()
            .flat_map(|&l| (0..classes).map(move |c| if c as f64 == l { 1.0 } else { 0.0 }))
            .collect();
        let mut shape = labels.shape.clone();
        shape.push(classes);
        Self {
            w1: file.params["w1"].param(device),
            b1: file.params["b1"].param(device),
            w2: file.params["w2"].param(device),
            b2: file.params["b2"].param(device),
            x: file.data["x"].tensor(device),
            targets: Tensor::from_data(TensorData::new(one_hot, shape), device),
        }
    }

    fn loss(&self, step: usize) -> Tensor<1> {
        let [batches, n, features] = self.x.dims();
        let k = step % batches;
        let x = self.x.clone().narrow(0, k, 1).reshape([n, features]);
        let targets = self.targets.clone().narrow(0, k, 1).squeeze_dim::<2>(0);
        let hidden = (x.matmul(self.w1.val()) + self.b1.val().unsqueeze::<2>()).tanh();
        let logits = hidden.matmul(self.w2.val()) + self.b2.val().unsqueeze::<2>();
        log_softmax(logits, 1).mul(targets).sum_dim(1).neg().mean()
    }

    fn values(&self) -> BTreeMap<String, Vec<f32>> {
        BTreeMap::from([
            ("w1".into(), vec_of(&self.w1)),
            ("b1".into(), vec_of(&self.b1)),
            ("w2".into(), vec_of(&self.w2)),
            ("b2".into(), vec_of(&self.b2)),
        ])
    }
}

fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs().max(FLOOR)
}

/// The largest relative errors of one replay, and where they first broke the bound.
#[derive(Default)]
struct Outcome {
    loss: f64,
    params: f64,
    first_bad: Option<String>,
}

/// Replays one fixture on `device` (autodiff is switched on here).
fn replay<P: Problem>(
    fixture: &Fixture,
    config: &OptimizerConfig,
    problem: &ProblemFile,
    device: &Device,
    bound: f64,
) -> Outcome {
    let device = device.clone().autodiff();
    let mut module = P::new(problem, &device);
    let mut optimizer = config.init();
    let mut scales: BTreeMap<&str, f64> = problem
        .params
        .iter()
        .map(|(name, p)| {
            (
                name.as_str(),
                p.values.iter().fold(FLOOR, |m, v| m.max(v.abs())),
            )
        })
        .collect();
    for snapshot in &fixture.params {
        for (name, values) in &snapshot.values {
            let scale = scales.get_mut(name.as_str()).expect("known parameter");
            *scale = values.iter().fold(*scale, |m, v| m.max(v.abs()));
        }
    }
    let mut snapshots = fixture.params.iter().peekable();
    let mut out = Outcome::default();
    for step in 0..fixture.steps {
        let loss = module.loss(step);
        let value = loss.clone().into_scalar::<f64>();
        let grads = GradientsParams::from_grads(loss.backward(), &module);
        module = optimizer.step(fixture.lr, module, grads);

        let e = rel(value, fixture.loss[step]);
        out.loss = out.loss.max(e);
        if e > bound && out.first_bad.is_none() {
            out.first_bad = Some(format!(
                "step {}: loss {value} vs {} (rel {e:.2e})",
                step + 1,
                fixture.loss[step]
            ));
        }
        let Some(snapshot) = snapshots.next_if(|s| s.step == step + 1) else {
            continue;
        };
        let values = module.values();
        for (name, want) in &snapshot.values {
            let got = &values[name];
            assert_eq!(got.len(), want.len(), "{name}: shape");
            let scale = scales[name.as_str()];
            let (i, diff) = got
                .iter()
                .zip(want)
                .map(|(&g, &w)| (g as f64 - w).abs())
                .enumerate()
                .fold(
                    (0, 0.0),
                    |best, (i, d)| if d > best.1 { (i, d) } else { best },
                );
            let e = diff / scale;
            out.params = out.params.max(e);
            if e > bound && out.first_bad.is_none() {
                out.first_bad = Some(format!(
                    "step {}: {name}[{i}] {} vs {} (rel to max |{name}| {scale:.3e}: {e:.2e})",
                    step + 1,
                    got[i],
                    want[i]
                ));
            }
        }
    }
    assert!(
        snapshots.next().is_none(),
        "fixture stores parameters after step {} > steps",
        fixture.params.last().map_or(0, |s| s.step)
    );
    out
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a valid fixture: {e}", path.display()))
}

/// The fixtures of one problem, sorted by file name.
fn fixtures(problem: &str) -> Vec<(String, Fixture)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("optim/tests/fixtures exists (tools/reference/generate.py writes it)")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{problem}-"))
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let fixture: Fixture = read_json(p);
            assert_eq!(fixture.problem, problem, "{}", p.display());
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, fixture)
        })
        .collect()
}

/// The optimizer names ember serializes (the `name` tag), one per optimizer the CLI names.
fn known_names() -> Vec<String> {
    let mut names: Vec<String> = OptimizerConfig::NAMES
        .iter()
        .map(|n| {
            let config: OptimizerConfig = n.parse().expect("NAMES parse");
            let value = serde_json::to_value(config).expect("config serializes");
            value["name"]
                .as_str()
                .expect("serde tag 'name'")
                .to_string()
        })
        .collect();
    names.dedup();
    names
}

/// ember's config for a fixture, or why there is none.
fn ember_config(fixture: &Fixture) -> Result<OptimizerConfig, String> {
    let name = fixture.optimizer["name"].as_str().unwrap_or("<missing>");
    let known = known_names();
    if !known.iter().any(|k| k == name) {
        return Err(format!(
            "ember has no optimizer '{name}' (ember knows: {})",
            known.join(", ")
        ));
    }
    serde_json::from_value(fixture.optimizer.clone()).map_err(|e| {
        format!(
            "config {} does not parse as OptimizerConfig: {e}",
            fixture.optimizer
        )
    })
}

/// Replays every fixture of `problem` on `device` and returns the failures, one line each.
fn check_problem<P: Problem>(problem: &str, device: &Device, bound: f64) -> Vec<String> {
    let file: ProblemFile = read_json(&fixture_dir().join(format!("problems/{problem}.json")));
    let fixtures = fixtures(problem);
    // Every optimizer ember has is covered: the folder cannot silently lose one.
    for name in known_names() {
        assert!(
            fixtures.iter().any(|(_, f)| f.optimizer["name"] == name),
            "no {problem} fixture for optimizer '{name}'"
        );
    }
    let mut failures = Vec::new();
    let mut worst: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (label, fixture) in &fixtures {
        let config = match ember_config(fixture) {
            Ok(c) => c,
            Err(e) => {
                println!("{label:48} FAIL: {e}");
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        let out = replay::<P>(fixture, &config, &file, device, bound);
        let verdict = match &out.first_bad {
            Some(bad) => {
                failures.push(format!("{label}: first beyond {bound:.0e} at {bad}"));
                "FAIL"
            }
            None => "ok",
        };
        println!(
            "{label:48} max rel error: loss {:.2e}, params {:.2e} (torch f32 vs f64 {:.1e})  {verdict}",
            out.loss, out.params, fixture.float64_deviation
        );
        let w = worst.entry(config.name().to_string()).or_default();
        *w = (w.0.max(out.loss), w.1.max(out.params));
    }
    for (name, (loss, params)) in &worst {
        println!("{problem} {name}: largest rel error loss {loss:.2e}, params {params:.2e}");
    }
    if !failures.is_empty() {
        failures.insert(
            0,
            format!(
                "{} of {} {problem} fixtures disagree with the reference (bound {bound:.0e}):",
                failures.len(),
                fixtures.len()
            ),
        );
    }
    failures
}

fn assert_no_failures(failures: &[String]) {
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn linear_regression_matches_torch() {
    assert_no_failures(&check_problem::<LinearRegression>(
        "linear",
        &Device::flex(),
        1e-5,
    ));
}

#[test]
fn rosenbrock_matches_torch() {
    assert_no_failures(&check_problem::<Rosenbrock>(
        "rosenbrock",
        &Device::flex(),
        1e-5,
    ));
}

#[test]
fn mlp_matches_torch() {
    assert_no_failures(&check_problem::<Mlp>("mlp", &Device::flex(), 1e-4));
}

/// Bound on wgpu, 10× the CPU bound: GPU kernels reduce in a different order, and Vulkan
/// allows sqrt and division a few ulp of error (lavapipe measured 2.5e-6 at most).
const WGPU_BOUND: f64 = 1e-4;

/// The same replay on wgpu (lavapipe on CI), linear regression and Rosenbrock, bound
/// [`WGPU_BOUND`]. Skipped with a notice when there is no adapter, unless `CI` or
/// `EMBER_REQUIRE_WGPU` is set.
#[test]
fn wgpu_matches_torch() {
    // SAFETY: set before any wgpu work, and no test in this binary reads it concurrently
    // before this point matters: the value only bounds autotuning (CubeCL's variable).
    unsafe { std::env::set_var("CUBECL_AUTOTUNE_LEVEL", "minimal") };
    // Bringing up a device without an adapter panics inside wgpu; that is a skip, not a failure.
    let init = std::panic::catch_unwind(|| {
        Device::wgpu_options()
            .device_kind(DeviceKind::DefaultDevice)
            .init_with_setup()
    });
    let device = match init {
        Ok(Ok((device, _))) => Ok(device),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no wgpu adapter".to_string()),
    };
    match device {
        Ok(device) => {
            let mut failures = check_problem::<LinearRegression>("linear", &device, WGPU_BOUND);
            failures.extend(check_problem::<Rosenbrock>(
                "rosenbrock",
                &device,
                WGPU_BOUND,
            ));
            assert_no_failures(&failures);
        }
        Err(e)
            if std::env::var_os("EMBER_REQUIRE_WGPU").is_none()
                && std::env::var_os("CI").is_none() =>
        {
            println!("wgpu skipped: {e} (on CI, or with EMBER_REQUIRE_WGPU=1, this is an error)");
        }
        Err(e) => panic!("wgpu required but unavailable: {e}"),
    }
}
