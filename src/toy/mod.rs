//! `train toy`: the optimizer playground. Runs ember's optimizers on a 2-D test function
//! ([`TestFunction`]) from a start point, writes every step as CSV and, on request, a contour
//! plot with each optimizer's path (the pictures of Dive into Deep Learning §12 and of
//! AdaBelief's paper, Zhuang et al. 2020, Fig. 2).

pub mod command;
pub mod contour;
pub mod functions;
pub mod run;

use std::str::FromStr;

pub use contour::ContourPlot;
pub use functions::TestFunction;
pub use run::{CSV_HEADER, Trajectory, TrajectoryPoint, run_optimizer, write_csv};

/// A start point `x,y` as given to `--start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartPoint(pub f64, pub f64);

impl FromStr for StartPoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s.split_once(',').and_then(|(x, y)| {
            Some((x.trim().parse::<f64>().ok()?, y.trim().parse::<f64>().ok()?))
        });
        match parsed {
            Some((x, y)) if x.is_finite() && y.is_finite() => Ok(StartPoint(x, y)),
            _ => Err(format!(
                "expected two finite numbers 'x,y' such as -1.2,1, got '{s}'"
            )),
        }
    }
}
