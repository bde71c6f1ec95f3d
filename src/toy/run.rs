//! Running optimizers on a test function: the point (x, y) is a one-parameter Burn module, the
//! function's value its loss, and each ember optimizer steps it through
//! [`burn::optim::ModuleOptimizer`], exactly as in training.

use std::fmt::Write as _;
use std::path::Path;

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

use crate::toy::TestFunction;
use ember_optim::OptimizerConfig;

/// The point being optimized: a parameter of shape `[2]` holding (x, y).
#[derive(Module, Debug)]
struct Point {
    xy: Param<Tensor<1>>,
}

impl Point {
    fn new(x: f64, y: f64, device: &Device) -> Self {
        let xy = Tensor::from_data(TensorData::new(vec![x as f32, y as f32], [2]), device);
        Self {
            xy: Param::from_tensor(xy.require_grad()),
        }
    }

    /// f at the point, shape `[1]`.
    fn value(&self, function: TestFunction) -> Tensor<1> {
        let xy = self.xy.val();
        function.value(xy.clone().slice(0..1), xy.slice(1..2))
    }
}

/// One row of a trajectory: the point after `step` updates (step 0 is the start) and f there,
/// in the f32 precision the tensors compute in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrajectoryPoint {
    /// Updates applied so far.
    pub step: usize,
    /// x coordinate.
    pub x: f32,
    /// y coordinate.
    pub y: f32,
    /// f(x, y).
    pub f: f32,
}

/// One optimizer's path on a test function.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// The optimizer's name (`sgd`, `adam`, ...).
    pub optimizer: String,
    /// The learning rate it ran with.
    pub lr: f64,
    /// The start point and the point after each update, while finite.
    pub points: Vec<TrajectoryPoint>,
    /// The step at which x, y or f stopped being finite, if it did; the path ends one step
    /// before it.
    pub diverged_at: Option<usize>,
}

/// Runs `optimizer` with learning rate `lr` for `steps` updates from `start` on `function`,
/// on `device` (autodiff is turned on here). The path stops early, with
/// [`Trajectory::diverged_at`] set, when x, y or f becomes NaN or infinite.
pub fn run_optimizer(
    function: TestFunction,
    optimizer: &OptimizerConfig,
    lr: f64,
    start: (f64, f64),
    steps: usize,
    device: &Device,
) -> Trajectory {
    let device = device.clone().autodiff();
    let mut point = Point::new(start.0, start.1, &device);
    // iRprop⁺ reads each step's loss, f, from this cell.
    let step_loss = ember_optim::LossCell::new();
    let mut module_optimizer = optimizer.init_with_loss(&step_loss);
    let mut trajectory = Trajectory {
        optimizer: optimizer.name().to_string(),
        lr,
        points: Vec::with_capacity(steps + 1),
        diverged_at: None,
    };
    for step in 0..=steps {
        let f = point.value(function);
        let xy: Vec<f32> = point.xy.val().try_into_vec_as().unwrap_or_default();
        let value: f32 = f
            .clone()
            .try_into_vec_as()
            .unwrap_or_default()
            .first()
            .copied()
            .unwrap_or(f32::NAN);
        let (x, y) = match xy[..] {
            [x, y] => (x, y),
            _ => (f32::NAN, f32::NAN),
        };
        if !(x.is_finite() && y.is_finite() && value.is_finite()) {
            trajectory.diverged_at = Some(step);
            break;
        }
        trajectory.points.push(TrajectoryPoint {
            step,
            x,
            y,
            f: value,
        });
        if step == steps {
            break;
        }
        let grads = GradientsParams::from_grads(f.backward(), &point);
        step_loss.set(f64::from(value));
        point = module_optimizer.step(lr, point, grads);
    }
    trajectory
}

/// Header of the trajectory CSV.
pub const CSV_HEADER: &str = "optimizer,step,x,y,f";

/// Writes the trajectories as CSV (`optimizer,step,x,y,f`, one row per point, optimizers one
/// after another), atomically.
///
/// # Errors
/// The I/O error of writing `path`.
pub fn write_csv(path: &Path, trajectories: &[Trajectory]) -> std::io::Result<()> {
    let mut text = format!("{CSV_HEADER}\n");
    for t in trajectories {
        for p in &t.points {
            // f32's Display is the shortest text that parses back to the same value.
            let _ = writeln!(text, "{},{},{},{},{}", t.optimizer, p.step, p.x, p.y, p.f);
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    ember_engine::fsutil::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sgd() -> OptimizerConfig {
        "sgd".parse().unwrap()
    }

    /// Plain SGD on d2l's quadratic 0.1·x² + 2·y² (∇f = (0.2x, 4y)) from (−5, −2) with lr 0.4:
    /// x_{k+1} = x_k − 0.4·0.2·x_k = 0.92·x_k and y_{k+1} = y_k − 0.4·4·y_k = −0.6·y_k, so
    /// (−5, −2) → (−4.6, 1.2) → (−4.232, −0.72) → (−3.89344, 0.432).
    #[test]
    fn sgd_steps_are_x_minus_lr_times_gradient() {
        let t = run_optimizer(
            TestFunction::Quadratic,
            &sgd(),
            0.4,
            (-5.0, -2.0),
            3,
            &Device::flex(),
        );
        let want = [
            (-5.0, -2.0, 10.5),
            (-4.6, 1.2, 0.1 * 4.6 * 4.6 + 2.0 * 1.44),
            (-4.232, -0.72, 0.1 * 4.232 * 4.232 + 2.0 * 0.72 * 0.72),
            (
                -3.89344,
                0.432,
                0.1 * 3.89344 * 3.89344 + 2.0 * 0.432 * 0.432,
            ),
        ];
        assert_eq!(t.points.len(), 4);
        for (k, (p, (x, y, f))) in t.points.iter().zip(want).enumerate() {
            assert_eq!(p.step, k);
            assert!((p.x - x).abs() < 1e-5, "step {k}: x {} vs {x}", p.x);
            assert!((p.y - y).abs() < 1e-5, "step {k}: y {} vs {y}", p.y);
            assert!((p.f - f).abs() < 1e-4, "step {k}: f {} vs {f}", p.f);
        }
        assert_eq!(t.diverged_at, None);
    }

    /// |x_N| = 5·0.92^N: above 1e-4 after 100 steps (1.2e-3), below after 150 (1.8e-5).
    #[test]
    fn sgd_reaches_the_quadratic_minimum() {
        let run = |steps| {
            run_optimizer(
                TestFunction::Quadratic,
                &sgd(),
                0.4,
                (-5.0, -2.0),
                steps,
                &Device::flex(),
            )
        };
        let distance = |t: &Trajectory| {
            let p = t.points.last().unwrap();
            f64::from(p.x).hypot(f64::from(p.y))
        };
        let short = run(100);
        assert!(distance(&short) > 1e-4, "{:?}", short.points.last());
        let long = run(150);
        assert_eq!(long.points.len(), 151);
        assert!(distance(&long) < 1e-4, "{:?}", long.points.last());
        assert!((distance(&long) - 5.0 * 0.92f64.powi(150)).abs() < 1e-6);
    }

    /// Adam (lr 0.05) from Rosenbrock's classic start (−1.2, 1), f = 24.2, follows the curved
    /// valley to near the minimum (1, 1) in 1000 steps.
    #[test]
    fn adam_descends_rosenbrock() {
        let adam: OptimizerConfig = "adam".parse().unwrap();
        let t = run_optimizer(
            TestFunction::Rosenbrock,
            &adam,
            0.05,
            (-1.2, 1.0),
            1000,
            &Device::flex(),
        );
        assert_eq!(t.points.len(), 1001);
        let first = t.points[0].f;
        let last = t.points.last().unwrap();
        assert!((first - 24.2).abs() < 1e-4, "{first}");
        assert!(last.f < 1e-2, "f went from {first} to {}", last.f);
        let distance = f64::from(last.x - 1.0).hypot(f64::from(last.y - 1.0));
        assert!(distance < 0.2, "ended at ({}, {})", last.x, last.y);
    }

    /// With lr 2 the y coordinate is multiplied by 1 − 2·4 = −7 at each step: y_k = −2·(−7)^k.
    /// f = 0.1·x² + 2·y² is 1.2e38 at step 22 and overflows f32 (max 3.4e38) at step 23
    /// (2·(2·7²³)² = 6e39): the path stops there, every recorded point finite.
    #[test]
    fn divergence_stops_the_path() {
        let t = run_optimizer(
            TestFunction::Quadratic,
            &sgd(),
            2.0,
            (-5.0, -2.0),
            500,
            &Device::flex(),
        );
        let stopped = t.diverged_at.expect("diverged");
        assert_eq!(stopped, t.points.len());
        assert_eq!(stopped, 23);
        assert!(
            t.points
                .iter()
                .all(|p| p.x.is_finite() && p.y.is_finite() && p.f.is_finite())
        );
    }
}
