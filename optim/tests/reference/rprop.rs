//! ember's four Rprop variants against an independent reference: every trajectory in
//! `optim/tests/fixtures/rprop/` (written by `tools/reference/rprop_reference.py`, pure Python
//! from the papers' pseudo-code, float32 emulated by rounding after every operation) is
//! replayed with [`ember_optim::Rprop`], on flex (the fused kernel) and on ndarray (the
//! tensor-op formulation), with iRprop⁺'s loss given through a [`LossCell`].
//!
//! Tolerance: none. Every loss, gradient and parameter must equal the reference's float32 bit
//! for bit at every step. The gradients are computed here with the script's float32 operations
//! in its order (Rust does not contract `a*b + c` into an FMA), and Rprop's update is exact
//! float32 arithmetic (products Δ·η, clamps, θ ± Δ), each of which the script rounds exactly
//! (float64 holds a float32 product or sum before its one rounding). So any difference is a
//! different rule, not rounding; and since Rprop branches on signs and loss comparisons, a
//! looser bound could hide a branch taken differently. (`optim_reference.rs`, against PyTorch,
//! needs a tolerance because there Burn's autodiff and torch's compute the gradients in
//! different orders.)

use std::path::{Path, PathBuf};

use burn::optim::Optimizer;
use burn::tensor::{Device, Tensor, TensorData};
use ember_optim::{LossCell, OptimizerConfig};
use serde::Deserialize;

/// The quadratic's constants, as stored in its fixtures.
#[derive(Deserialize)]
struct Quadratic {
    a: [f32; 4],
    c: [f32; 4],
    k: f32,
}

/// How often the reference took each branch (iRprop⁺: `reverted` and `kept` flips).
#[derive(Deserialize)]
struct Branches {
    sign_flips: usize,
    reverted: Option<usize>,
    kept: Option<usize>,
}

/// `fixtures/rprop/<problem>-<variant>.json`.
#[derive(Deserialize)]
struct Fixture {
    problem: String,
    optimizer: OptimizerConfig,
    lr: f64,
    steps: usize,
    start: Vec<f32>,
    branches: Branches,
    data: Option<Quadratic>,
    /// E(t) at each step, before its update.
    loss: Vec<f32>,
    /// The parameters after each step.
    params: Vec<Vec<f32>>,
}

/// f(x, y) = (1 − x)² + 100·(y − x²)², and its gradient, in the script's f32 operations.
fn rosenbrock(p: &[f32]) -> (f32, Vec<f32>) {
    let (x, y) = (p[0], p[1]);
    let a = 1.0 - x;
    let d = y - x * x;
    let loss = a * a + 100.0 * (d * d);
    let gx = -2.0 * a - (400.0 * x) * d;
    let gy = 200.0 * d;
    (loss, vec![gx, gy])
}

/// f(θ) = Σ aᵢ(θᵢ − cᵢ)² + k·θ₀·θ₁, and its gradient, in the script's f32 operations.
fn quadratic(q: &Quadratic, p: &[f32]) -> (f32, Vec<f32>) {
    let r: Vec<f32> = (0..4).map(|i| p[i] - q.c[i]).collect();
    let mut loss = q.k * (p[0] * p[1]);
    for (a, r) in q.a.iter().zip(&r) {
        loss += a * (r * r);
    }
    let mut grad: Vec<f32> = (0..4).map(|i| (2.0 * q.a[i]) * r[i]).collect();
    grad[0] += q.k * p[1];
    grad[1] += q.k * p[0];
    (loss, grad)
}

fn fixtures() -> Vec<(String, Fixture)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rprop");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tools/reference/rprop_reference.py writes optim/tests/fixtures/rprop")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let fixture: Fixture = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not a valid fixture: {e}", p.display()));
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                fixture,
            )
        })
        .collect()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Replays `fixture` on `device`; the first step that differs, if any.
fn replay(fixture: &Fixture, device: &Device) -> Result<(), String> {
    let OptimizerConfig::Rprop(config) = fixture.optimizer else {
        return Err(format!("not an Rprop fixture: {:?}", fixture.optimizer));
    };
    config.validate().map_err(|e| e.to_string())?;
    let loss_cell = LossCell::new();
    let optimizer = config.build_with_loss(&loss_cell);
    let n = fixture.start.len();
    let mut param = Tensor::<1>::from_data(TensorData::new(fixture.start.clone(), [n]), device);
    let mut state = None;
    for step in 0..fixture.steps {
        let values: Vec<f32> = param.clone().try_into_vec_as().expect("f32 parameter");
        let (loss, grad) = match (fixture.problem.as_str(), &fixture.data) {
            ("rosenbrock", _) => rosenbrock(&values),
            ("quadratic", Some(q)) => quadratic(q, &values),
            (other, _) => return Err(format!("unknown problem '{other}'")),
        };
        if loss.to_bits() != fixture.loss[step].to_bits() {
            return Err(format!(
                "step {}: loss {loss} vs {}",
                step + 1,
                fixture.loss[step]
            ));
        }
        loss_cell.set(f64::from(loss));
        let grad = Tensor::<1>::from_data(TensorData::new(grad, [n]), device);
        (param, state) = optimizer.step(fixture.lr, param, grad, state);
        let got: Vec<f32> = param.clone().try_into_vec_as().expect("f32 parameter");
        if bits(&got) != bits(&fixture.params[step]) {
            return Err(format!(
                "step {}: params {got:?} vs {:?}",
                step + 1,
                fixture.params[step]
            ));
        }
    }
    Ok(())
}

#[test]
fn every_variant_matches_the_python_reference_bit_for_bit() {
    #[allow(deprecated)] // ndarray is one of ember's backends: the tensor-op path.
    let devices = [("flex", Device::flex()), ("ndarray", Device::ndarray())];
    let fixtures = fixtures();
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    for (name, fixture) in &fixtures {
        let OptimizerConfig::Rprop(config) = fixture.optimizer else {
            panic!("{name}: not an Rprop fixture");
        };
        seen.push((fixture.problem.clone(), config.variant));
        // The reference took the branches that make the case worth replaying.
        assert!(fixture.branches.sign_flips > 0, "{name}: no sign flip");
        if config.variant.needs_loss() {
            let (reverted, kept) = (fixture.branches.reverted, fixture.branches.kept);
            assert!(
                reverted > Some(0) && kept > Some(0),
                "{name}: iRprop⁺ must both revert and keep ({reverted:?}, {kept:?})"
            );
        }
        for (backend, device) in &devices {
            let verdict = replay(fixture, device);
            println!(
                "{name:28} {backend:8} {}",
                verdict.as_ref().map_or_else(|e| e.as_str(), |()| "ok")
            );
            if let Err(e) = verdict {
                failures.push(format!("{name} on {backend}: {e}"));
            }
        }
    }
    // Both problems, each with every variant: the folder cannot silently lose one.
    for problem in ["rosenbrock", "quadratic"] {
        for variant in ember_optim::RpropVariant::ALL {
            assert!(
                seen.contains(&(problem.to_string(), variant)),
                "no {problem} fixture for {}",
                variant.name()
            );
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
