//! Two-dimensional test functions for optimization, computed with Burn tensor ops so that
//! autodiff gives their gradients. Definitions and minima as in Surjanovic & Bingham's Virtual
//! Library of Simulation Experiments (<https://www.sfu.ca/~ssurjano/optimization.html>) and
//! Wikipedia's "Test functions for optimization"; `quadratic` is Dive into Deep Learning's
//! ill-conditioned example (§12.3, f = 0.1·x² + 2·y²).

use std::fmt;
use std::str::FromStr;

use burn::tensor::Tensor;

use ember_optim::OptimizerConfig;

/// A 2-D test function f(x, y).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestFunction {
    /// Rosenbrock's banana: (1 − x)² + 100·(y − x²)²; minimum 0 at (1, 1), at the end of a long
    /// curved valley.
    Rosenbrock,
    /// Beale: (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²; minimum 0 at (3, 0.5).
    Beale,
    /// Booth: (x + 2y − 7)² + (2x + y − 5)²; minimum 0 at (1, 3); a quadratic with condition
    /// number 9.
    Booth,
    /// d2l's quadratic 0.1·x² + 2·y²; minimum 0 at (0, 0); condition number 20.
    Quadratic,
    /// Himmelblau: (x² + y − 11)² + (x + y² − 7)²; four minima of value 0.
    Himmelblau,
    /// Rastrigin (A = 10): 20 + x² − 10·cos(2πx) + y² − 10·cos(2πy); minimum 0 at (0, 0) among
    /// a lattice of local minima.
    Rastrigin,
}

impl TestFunction {
    /// Every function, in the order the CLI lists them.
    pub const ALL: [TestFunction; 6] = [
        TestFunction::Rosenbrock,
        TestFunction::Beale,
        TestFunction::Booth,
        TestFunction::Quadratic,
        TestFunction::Himmelblau,
        TestFunction::Rastrigin,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            TestFunction::Rosenbrock => "rosenbrock",
            TestFunction::Beale => "beale",
            TestFunction::Booth => "booth",
            TestFunction::Quadratic => "quadratic",
            TestFunction::Himmelblau => "himmelblau",
            TestFunction::Rastrigin => "rastrigin",
        }
    }

    /// The formula, for plot titles.
    pub fn formula(self) -> &'static str {
        match self {
            TestFunction::Rosenbrock => "(1 − x)² + 100 (y − x²)²",
            TestFunction::Beale => "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
            TestFunction::Booth => "(x + 2y − 7)² + (2x + y − 5)²",
            TestFunction::Quadratic => "0.1 x² + 2 y²",
            TestFunction::Himmelblau => "(x² + y − 11)² + (x + y² − 7)²",
            TestFunction::Rastrigin => "20 + x² − 10 cos 2πx + y² − 10 cos 2πy",
        }
    }

    /// f at the points `(x[i], y[i])`, element-wise: `x` and `y` of shape `[n]`, result `[n]`.
    /// Works on any device, with autodiff when the inputs track gradients.
    pub fn value(self, x: Tensor<1>, y: Tensor<1>) -> Tensor<1> {
        match self {
            TestFunction::Rosenbrock => {
                let a = x.clone().neg().add_scalar(1.0).square();
                let b = y.sub(x.square()).square().mul_scalar(100.0);
                a.add(b)
            }
            TestFunction::Beale => {
                let xy = x.clone().mul(y.clone());
                let xy2 = xy.clone().mul(y.clone());
                let xy3 = xy2.clone().mul(y);
                let term = |c: f64, p: Tensor<1>| p.sub(x.clone()).add_scalar(c).square();
                term(1.5, xy).add(term(2.25, xy2)).add(term(2.625, xy3))
            }
            TestFunction::Booth => {
                let a = x.clone().add(y.clone().mul_scalar(2.0)).sub_scalar(7.0);
                let b = x.mul_scalar(2.0).add(y).sub_scalar(5.0);
                a.square().add(b.square())
            }
            TestFunction::Quadratic => x.square().mul_scalar(0.1).add(y.square().mul_scalar(2.0)),
            TestFunction::Himmelblau => {
                let a = x.clone().square().add(y.clone()).sub_scalar(11.0);
                let b = x.add(y.square()).sub_scalar(7.0);
                a.square().add(b.square())
            }
            TestFunction::Rastrigin => {
                let tau = 2.0 * std::f64::consts::PI;
                let term = |t: Tensor<1>| {
                    t.clone()
                        .square()
                        .sub(t.mul_scalar(tau).cos().mul_scalar(10.0))
                };
                term(x).add(term(y)).add_scalar(20.0)
            }
        }
    }

    /// The global minima (x, y); f is 0 at each.
    pub fn minima(self) -> &'static [(f64, f64)] {
        match self {
            TestFunction::Rosenbrock => &[(1.0, 1.0)],
            TestFunction::Beale => &[(3.0, 0.5)],
            TestFunction::Booth => &[(1.0, 3.0)],
            TestFunction::Quadratic | TestFunction::Rastrigin => &[(0.0, 0.0)],
            // Himmelblau's four minima (Himmelblau 1972; the three irrational ones to 6 places).
            TestFunction::Himmelblau => &[
                (3.0, 2.0),
                (-2.805118, 3.131312),
                (-3.779310, -3.283186),
                (3.584428, -1.848126),
            ],
        }
    }

    /// The usual start point: Rosenbrock's classic (−1.2, 1) (Rosenbrock 1960), d2l's (−5, −2)
    /// for the quadratic, and points a few units from the minimum for the others.
    pub fn default_start(self) -> (f64, f64) {
        match self {
            TestFunction::Rosenbrock => (-1.2, 1.0),
            TestFunction::Beale => (1.0, 1.4),
            TestFunction::Booth => (-6.0, -4.0),
            TestFunction::Quadratic => (-5.0, -2.0),
            TestFunction::Himmelblau => (-0.5, 0.0),
            TestFunction::Rastrigin => (2.4, -1.6),
        }
    }

    /// A learning rate that converges from [`default_start`](Self::default_start): for SGD
    /// below 2 / (the largest curvature along the path); for the sign-like steps of Adam,
    /// AdaBelief and Rprop (whose lr is a step length), about a hundredth of the distance to
    /// travel; for Adadelta its reference default 1.0 (its lr only scales its own step). AdaBelief
    /// takes the smaller of the SGD and step rates: its first five steps are SGD-with-momentum
    /// steps of size lr/(1 − β1^t)·m (adabelief-pytorch's `degenerated_to_sgd` during the
    /// rectification warm-up), which at lr 1e-2 throw Rosenbrock's start to f ≈ 1e22 in four
    /// steps.
    pub fn default_lr(self, optimizer: &OptimizerConfig) -> f64 {
        let (sgd, step) = match self {
            TestFunction::Rosenbrock => (1e-3, 5e-2),
            TestFunction::Beale => (1e-2, 1e-2),
            TestFunction::Booth => (5e-2, 1e-1),
            TestFunction::Quadratic => (0.4, 1e-1),
            TestFunction::Himmelblau => (1e-2, 5e-2),
            TestFunction::Rastrigin => (2e-3, 2e-2),
        };
        match optimizer {
            OptimizerConfig::Sgd(_) => sgd,
            OptimizerConfig::Adadelta(_) => optimizer.default_lr(),
            OptimizerConfig::AdaBelief(_) => sgd.min(step),
            // The adaptive methods' first steps are about lr long whatever the gradient.
            OptimizerConfig::Adam(_)
            | OptimizerConfig::AdamW(_)
            | OptimizerConfig::Adamax(_)
            | OptimizerConfig::NAdam(_)
            | OptimizerConfig::Adagrad(_)
            | OptimizerConfig::RmsProp(_)
            | OptimizerConfig::Rprop(_) => step,
        }
    }

    /// The region plotted: ((x_min, x_max), (y_min, y_max)), the customary domain.
    pub fn region(self) -> ((f64, f64), (f64, f64)) {
        match self {
            TestFunction::Rosenbrock => ((-2.0, 2.0), (-1.0, 3.0)),
            TestFunction::Beale => ((-4.5, 4.5), (-4.5, 4.5)),
            TestFunction::Booth => ((-10.0, 10.0), (-10.0, 10.0)),
            TestFunction::Quadratic => ((-6.0, 6.0), (-3.0, 3.0)),
            TestFunction::Himmelblau => ((-5.0, 5.0), (-5.0, 5.0)),
            TestFunction::Rastrigin => ((-4.0, 4.0), (-4.0, 4.0)),
        }
    }

    /// Whether the contour levels are spaced on a log scale: for functions whose values span
    /// many orders of magnitude over the region (Rosenbrock, Beale, Himmelblau), where linear
    /// levels would show only the walls.
    pub fn log_scale(self) -> bool {
        matches!(
            self,
            TestFunction::Rosenbrock | TestFunction::Beale | TestFunction::Himmelblau
        )
    }
}

impl fmt::Display for TestFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TestFunction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TestFunction::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown function '{s}' (expected one of: {})",
                    TestFunction::ALL.map(TestFunction::name).join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use burn::tensor::{Device, TensorData};

    use super::*;

    /// f and ∇f written out by hand, in f64: the reference the tensor code is checked against.
    fn analytic(function: TestFunction, x: f64, y: f64) -> (f64, [f64; 2]) {
        match function {
            TestFunction::Rosenbrock => (
                (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
                [
                    -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                    200.0 * (y - x * x),
                ],
            ),
            TestFunction::Beale => {
                let t = [
                    1.5 - x + x * y,
                    2.25 - x + x * y * y,
                    2.625 - x + x * y.powi(3),
                ];
                (
                    t.iter().map(|t| t * t).sum(),
                    [
                        2.0 * t[0] * (y - 1.0)
                            + 2.0 * t[1] * (y * y - 1.0)
                            + 2.0 * t[2] * (y.powi(3) - 1.0),
                        2.0 * t[0] * x + 4.0 * t[1] * x * y + 6.0 * t[2] * x * y * y,
                    ],
                )
            }
            TestFunction::Booth => {
                let (a, b) = (x + 2.0 * y - 7.0, 2.0 * x + y - 5.0);
                (a * a + b * b, [2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b])
            }
            TestFunction::Quadratic => (0.1 * x * x + 2.0 * y * y, [0.2 * x, 4.0 * y]),
            TestFunction::Himmelblau => {
                let (a, b) = (x * x + y - 11.0, x + y * y - 7.0);
                (
                    a * a + b * b,
                    [4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b],
                )
            }
            TestFunction::Rastrigin => (
                20.0 + x * x - 10.0 * (2.0 * PI * x).cos() + y * y - 10.0 * (2.0 * PI * y).cos(),
                [
                    2.0 * x + 20.0 * PI * (2.0 * PI * x).sin(),
                    2.0 * y + 20.0 * PI * (2.0 * PI * y).sin(),
                ],
            ),
        }
    }

    /// f and its autodiff gradient at the points, through the tensor code.
    fn by_autodiff(function: TestFunction, points: &[(f64, f64)]) -> Vec<(f64, [f64; 2])> {
        let device = Device::flex().autodiff();
        let column = |pick: fn(&(f64, f64)) -> f64| {
            let v: Vec<f32> = points.iter().map(|p| pick(p) as f32).collect();
            Tensor::<1>::from_data(TensorData::new(v, [points.len()]), &device).require_grad()
        };
        let (x, y) = (column(|p| p.0), column(|p| p.1));
        let f = function.value(x.clone(), y.clone());
        // f is element-wise, so the gradient of its sum holds each point's own gradient.
        let grads = f.clone().sum().backward();
        let read = |t: Tensor<1>| -> Vec<f64> {
            t.try_into_vec_as::<f32>()
                .unwrap()
                .into_iter()
                .map(f64::from)
                .collect()
        };
        let (f, gx, gy) = (
            read(f),
            read(x.grad(&grads).unwrap()),
            read(y.grad(&grads).unwrap()),
        );
        (0..points.len()).map(|i| (f[i], [gx[i], gy[i]])).collect()
    }

    fn close(got: f64, want: f64, scale: f64) -> bool {
        (got - want).abs() <= 2e-4 * want.abs().max(scale)
    }

    #[test]
    fn autodiff_gradients_match_the_analytic_ones() {
        let points = [(-1.2, 1.0), (0.5, -0.3), (1.7, 2.2), (-2.1, -0.8)];
        for function in TestFunction::ALL {
            for (&(x, y), (f, grad)) in points.iter().zip(by_autodiff(function, &points)) {
                let (want_f, want_grad) = analytic(function, x, y);
                let scale = want_grad[0].abs().max(want_grad[1].abs()).max(1.0);
                assert!(
                    close(f, want_f, 1.0),
                    "{function} f({x}, {y}): {f} vs {want_f}"
                );
                for k in 0..2 {
                    assert!(
                        close(grad[k], want_grad[k], scale),
                        "{function} ∂{k} at ({x}, {y}): {} vs {}",
                        grad[k],
                        want_grad[k]
                    );
                }
            }
        }
    }

    /// The minima listed are minima: f = 0 and a vanishing gradient there, by the analytic
    /// formulas and by the tensor code.
    #[test]
    fn minima_have_zero_value_and_gradient() {
        for function in TestFunction::ALL {
            let minima = function.minima();
            for (&(x, y), (f, grad)) in minima.iter().zip(by_autodiff(function, minima)) {
                let (want_f, want_grad) = analytic(function, x, y);
                // Himmelblau's irrational minima are given to 6 places.
                assert!(
                    want_f.abs() < 1e-9,
                    "{function} at ({x}, {y}): f = {want_f}"
                );
                assert!(
                    want_grad.iter().all(|g| g.abs() < 1e-4),
                    "{function}: {want_grad:?}"
                );
                assert!(f.abs() < 1e-4, "{function} tensor f = {f}");
                assert!(grad.iter().all(|g| g.abs() < 1e-2), "{function}: {grad:?}");
            }
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_rejected() {
        for function in TestFunction::ALL {
            assert_eq!(function.name().parse::<TestFunction>(), Ok(function));
        }
        let err = "sphere".parse::<TestFunction>().unwrap_err();
        assert!(
            err.contains("sphere") && err.contains("rosenbrock"),
            "{err}"
        );
    }
}
