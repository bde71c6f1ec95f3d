//! A training target: a training metric's recent mean reaching a value, checked after every
//! optimizer step (`loss<=0.1`, `accuracy>=0.99`). The batch-size study measures how many steps
//! each batch size needs to reach one (Shallue et al. 2019, "Measuring the effects of data
//! parallelism on neural network training", section 3.1's "steps to result"; Tsukada and
//! Iiduka 2023 count the steps to a training-loss threshold the same way).
//!
//! One batch's metric is noisy, and less so the larger the batch; so that batch sizes are
//! compared at the same noise, the value checked is the mean over the most recent steps that
//! together hold at least `window` examples ([`RecentMean`]; default
//! [`DEFAULT_WINDOW`] examples, and always at least the last step).

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::exact_f64;

/// [`RecentMean`]'s default window: 2048 examples (32 steps at batch 64, the last step alone at
/// batch 2048 and above).
pub const DEFAULT_WINDOW: usize = 2048;

/// Which side of the value the target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// `metric<=value` (a loss).
    AtMost,
    /// `metric>=value` (an accuracy).
    AtLeast,
}

/// A target: `metric<=value` or `metric>=value`, the metric a training metric the step logs
/// (`loss`, `accuracy`).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The training metric's name, as the step logs it (`loss`, `accuracy`).
    pub metric: String,
    /// Which side of `value` reaches the target.
    pub goal: Goal,
    /// The threshold (finite).
    pub value: f64,
}

impl Target {
    /// Whether `value` of the metric reaches the target (a NaN never does).
    pub fn reached(&self, value: f64) -> bool {
        match self.goal {
            Goal::AtMost => value <= self.value,
            Goal::AtLeast => value >= self.value,
        }
    }
}

impl FromStr for Target {
    type Err = String;

    /// `loss<=0.1`, `accuracy>=0.99` (spaces allowed around the parts).
    ///
    /// # Errors
    /// One line: no `<=`/`>=`, no metric name, or a threshold that is not a finite number.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (metric, goal, value) = if let Some((m, v)) = s.split_once("<=") {
            (m, Goal::AtMost, v)
        } else if let Some((m, v)) = s.split_once(">=") {
            (m, Goal::AtLeast, v)
        } else {
            return Err(format!(
                "expected METRIC<=VALUE or METRIC>=VALUE (e.g. loss<=0.1, accuracy>=0.99), got '{s}'"
            ));
        };
        let metric = metric.trim();
        if metric.is_empty() {
            return Err(format!("no metric before the comparison in '{s}'"));
        }
        let value = match value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                return Err(format!(
                    "'{}' in '{s}' is not a finite number",
                    value.trim()
                ));
            }
        };
        Ok(Self {
            metric: metric.to_string(),
            goal,
            value,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.goal {
            Goal::AtMost => "<=",
            Goal::AtLeast => ">=",
        };
        write!(f, "{}{op}{}", self.metric, self.value)
    }
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One step's share of a metric: its examples and the metric summed over them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct StepSum {
    examples: usize,
    #[serde(with = "exact_f64")]
    sum: f64,
}

/// The mean of a metric over the most recent steps holding at least `window` examples (and at
/// least the last step), updated one step at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentMean {
    window: usize,
    steps: VecDeque<StepSum>,
}

impl RecentMean {
    /// An empty mean over `window` examples (0 is taken as 1: the last step alone).
    pub fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            steps: VecDeque::new(),
        }
    }

    /// Adds a step of `examples` examples whose metric sums to `sum`; returns the mean over the
    /// window (NaN before any example).
    pub fn push(&mut self, examples: usize, sum: f64) -> f64 {
        self.steps.push_back(StepSum { examples, sum });
        // Drop the oldest step while the rest still hold the window.
        while self.steps.len() > 1
            && self.examples() - self.steps.front().map_or(0, |s| s.examples) >= self.window
        {
            self.steps.pop_front();
        }
        self.mean()
    }

    /// Examples in the window now.
    pub fn examples(&self) -> usize {
        self.steps.iter().map(|s| s.examples).sum()
    }

    /// The mean over the window (summed afresh, so no rounding accumulates); NaN when empty.
    pub fn mean(&self) -> f64 {
        let sum: f64 = self.steps.iter().map(|s| s.sum).sum();
        sum / self.examples() as f64
    }
}

/// Where a run stood when it reached its target, or at its end if it never did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetOutcome {
    /// The target, as written (`loss<=0.1`).
    pub target: String,
    /// Whether the run reached it (else the fields below are the run's end).
    pub reached: bool,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Epochs, fractional: full epochs plus the share of the current one's steps.
    pub epochs: f64,
    /// Training examples seen (with gradient accumulation, every batch's).
    pub examples: usize,
    /// Wall-clock seconds of training (validation passes included) up to that step, resumed
    /// parts summed.
    pub seconds: f64,
    /// The windowed mean of the metric then.
    pub value: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print() {
        let t: Target = "loss<=0.1".parse().unwrap();
        assert_eq!(
            (t.metric.as_str(), t.goal, t.value),
            ("loss", Goal::AtMost, 0.1)
        );
        assert_eq!(t.to_string(), "loss<=0.1");
        let t: Target = " accuracy >= 0.99 ".parse().unwrap();
        assert_eq!(t.goal, Goal::AtLeast);
        assert!(t.reached(0.99) && !t.reached(0.98) && !t.reached(f64::NAN));
        for bad in ["loss<0.1", "<=0.1", "loss<=x", "loss<=inf", ""] {
            let e = bad.parse::<Target>().unwrap_err();
            assert!(!e.contains('\n'), "{e}");
        }
    }

    /// The window keeps the newest steps holding at least `window` examples: with steps of 16
    /// and a window of 40, the last three (48 examples); the mean is theirs.
    #[test]
    fn the_window_holds_the_newest_steps_covering_it() {
        let mut m = RecentMean::new(40);
        for (i, loss) in [4.0, 3.0, 2.0, 1.0, 0.5].iter().enumerate() {
            let mean = m.push(16, loss * 16.0);
            let kept = &[4.0, 3.0, 2.0, 1.0, 0.5][(i + 1).saturating_sub(3)..=i];
            let expected = kept.iter().sum::<f64>() / kept.len() as f64;
            assert!(
                (mean - expected).abs() < 1e-12,
                "step {i}: {mean} vs {expected}"
            );
        }
        // A step larger than the window is the window alone.
        let mut m = RecentMean::new(40);
        m.push(16, 16.0);
        assert_eq!(m.push(64, 128.0), 2.0);
    }
}
