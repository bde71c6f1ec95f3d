//! The learning-rate range test (`train lr-find`): train a fresh model for a few hundred steps
//! with the learning rate ramped exponentially from a tiny to a large value, watch the loss,
//! and suggest the rate where it falls fastest (Smith 2017, "Cyclical learning rates for
//! training neural networks", section 3.3; PyTorch Lightning's `Tuner.lr_find`; fastai's
//! `Learner.lr_find`).
//!
//! This module holds the test's arithmetic, free of training so that it can be checked by
//! hand: the ramp ([`Ramp`]), the smoothed loss and the stop rule ([`RangeTest`]), and the two
//! suggestion rules ([`steepest`], [`minimum_over_ten`]); [`RangeTestCallback`] runs it inside
//! the engine's learner. The command is in `crate::commands`, the plot in
//! [`crate::plot::lr_find`]; docs/lr-find.md explains how to read the result.

use ember_engine::{Callback, Context};

/// `--min-lr` without the flag: fastai's `start_lr` (Lightning's `min_lr` is 1e-8).
pub const DEFAULT_MIN_LR: f64 = 1e-7;
/// `--max-lr` without the flag: fastai's `end_lr`, high enough that training breaks down
/// before the ramp ends (with SGD, LeNet's loss falls back to ln 10 above about 0.3;
/// Lightning's `max_lr` is 1).
pub const DEFAULT_MAX_LR: f64 = 10.0;
/// `--steps` without the flag. Lightning and fastai take 100; ember takes 300 because the
/// smoothed loss lags the raw loss by about β/(1−β) = 49 steps: over 100 steps and the eight
/// decades of the default ramp that is four decades, over 300 steps 1.3.
pub const DEFAULT_STEPS: usize = 300;
/// β of the loss's exponential moving average (fastai's `AvgSmoothLoss`, Lightning's
/// `_LRCallback(beta=0.98)`).
pub const BETA: f64 = 0.98;
/// The test stops once the smoothed loss exceeds this multiple of the best smoothed loss so
/// far (Lightning's `early_stop_threshold=4.0`; fastai's `stop_div` uses 4 too).
pub const EARLY_STOP_THRESHOLD: f64 = 4.0;
/// Points left out at the start by the steepest-descent rule (Lightning's
/// `suggestion(skip_begin=10)`): the first smoothed values carry little of the ramp.
pub const SKIP_BEGIN: usize = 10;
/// Points left out at the end by the steepest-descent rule (Lightning's `skip_end=1`): the
/// last one is usually the divergence that stopped the test.
pub const SKIP_END: usize = 1;
/// The fewest steps for which the steepest-descent rule has its two points (a gradient needs
/// two) after the skips: 13.
pub const MIN_STEPS: usize = SKIP_BEGIN + SKIP_END + 2;

/// The exponential ramp: `steps` learning rates from `min` to `max`, each a constant factor
/// `(max/min)^(1/(steps−1))` above the one before: `lr_i = min·(max/min)^(i/(steps−1))` for
/// `i = 0..steps` (fastai's `SchedExp`; Lightning's `_ExponentialLR` starts one factor above
/// `min`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    /// The first rate, > 0.
    pub min: f64,
    /// The last rate, > `min`.
    pub max: f64,
    /// Rates in the ramp, ≥ [`MIN_STEPS`].
    pub steps: usize,
}

impl Ramp {
    /// The ramp, checked.
    ///
    /// # Errors
    /// One line naming the flag and the fix: a rate that is not a positive finite number,
    /// `min >= max`, or fewer than [`MIN_STEPS`] steps.
    pub fn new(min: f64, max: f64, steps: usize) -> Result<Self, String> {
        for (flag, value) in [("--min-lr", min), ("--max-lr", max)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!(
                    "{flag} {value}: the ramp is exponential and needs a positive learning rate, e.g. {flag} {:e}",
                    if flag == "--min-lr" {
                        DEFAULT_MIN_LR
                    } else {
                        DEFAULT_MAX_LR
                    }
                ));
            }
        }
        if min >= max {
            return Err(format!(
                "--min-lr {min} is not below --max-lr {max}: the ramp rises from --min-lr to --max-lr; give a smaller --min-lr or a larger --max-lr"
            ));
        }
        if steps < MIN_STEPS {
            return Err(format!(
                "--steps {steps} is too few: the suggestion skips the first {SKIP_BEGIN} and the last {SKIP_END} points and needs two more; use --steps {MIN_STEPS} or more (default {DEFAULT_STEPS})"
            ));
        }
        Ok(Self { min, max, steps })
    }

    /// The rate of step `i` (0-based; `i < steps`): `min^(1−t)·max^t` with `t = i/(steps−1)`,
    /// which is `min·(max/min)^t` written so that step 0 is `min` and the last step `max`
    /// exactly.
    pub fn rate(&self, i: usize) -> f64 {
        let t = i as f64 / (self.steps - 1) as f64;
        self.min.powf(1.0 - t) * self.max.powf(t)
    }
}

/// One step of the test: the rate it used, its loss and the smoothed loss after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The step, 1-based (the learner's `global_step` after it).
    pub step: usize,
    /// The learning rate of the step.
    pub learning_rate: f64,
    /// The step's training loss (mean cross-entropy of its batch, plus any weight penalty).
    pub loss: f64,
    /// The bias-corrected exponential moving average of the losses so far.
    pub smoothed_loss: f64,
}

/// Why the test ended before its last step.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// The smoothed loss exceeded [`EARLY_STOP_THRESHOLD`] times the best one before it.
    Diverged {
        /// The smoothed loss at the stop.
        smoothed_loss: f64,
        /// The best (lowest) smoothed loss of the steps before.
        best: f64,
    },
    /// The step's loss was NaN or infinite.
    NotFinite {
        /// The loss.
        loss: f64,
    },
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Diverged {
                smoothed_loss,
                best,
            } => write!(
                f,
                "the smoothed loss {smoothed_loss:.4} exceeded {EARLY_STOP_THRESHOLD} x the best {best:.4}"
            ),
            Stop::NotFinite { loss } => write!(f, "the loss became {loss}"),
        }
    }
}

/// The test's record: each step's point, the smoothing's running state and the stop rule.
#[derive(Debug, Clone, Default)]
pub struct RangeTest {
    /// The steps so far.
    pub points: Vec<Point>,
    /// Why the test stopped early, once it has.
    pub stop: Option<Stop>,
    /// The moving average before bias correction.
    average: f64,
    /// The lowest smoothed loss so far.
    best: f64,
}

impl RangeTest {
    /// Records the next step (the `points.len() + 1`-th) with its rate and loss, and says
    /// whether the test must stop here.
    ///
    /// The smoothed loss is fastai's and Lightning's: `avg_k = β·avg_{k−1} + (1−β)·loss_k`
    /// from `avg_0 = 0`, divided by `1 − β^k` (bias correction; `k` 1-based, as fastai;
    /// Lightning 2's callback raises β to the global step plus one, one power more). The test
    /// stops, this step included, when the loss is not finite or, from the second step on,
    /// when the smoothed loss exceeds [`EARLY_STOP_THRESHOLD`] times the best smoothed loss of
    /// the steps before (Lightning's rule).
    pub fn record(&mut self, learning_rate: f64, loss: f64) -> Option<&Stop> {
        let k = self.points.len() + 1;
        self.average = BETA * self.average + (1.0 - BETA) * loss;
        let smoothed_loss = self.average / (1.0 - BETA.powi(k as i32));
        self.points.push(Point {
            step: k,
            learning_rate,
            loss,
            smoothed_loss,
        });
        if !loss.is_finite() {
            self.stop = Some(Stop::NotFinite { loss });
        } else if k > 1 && smoothed_loss > EARLY_STOP_THRESHOLD * self.best {
            self.stop = Some(Stop::Diverged {
                smoothed_loss,
                best: self.best,
            });
        }
        if k == 1 || smoothed_loss < self.best {
            self.best = smoothed_loss;
        }
        self.stop.as_ref()
    }
}

/// `dy/dx` at each point, as `numpy.gradient(y, x)` computes it: second-order central
/// differences inside (for uneven spacing, `(hs²·y[i+1] + (hd²−hs²)·y[i] − hd²·y[i−1]) /
/// (hs·hd·(hs+hd))` with `hs = x[i]−x[i−1]`, `hd = x[i+1]−x[i]`), one-sided first-order
/// differences at both ends. Empty for fewer than two points.
pub fn gradient(x: &[f64], y: &[f64]) -> Vec<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return Vec::new();
    }
    (0..n)
        .map(|i| {
            if i == 0 {
                (y[1] - y[0]) / (x[1] - x[0])
            } else if i == n - 1 {
                (y[n - 1] - y[n - 2]) / (x[n - 1] - x[n - 2])
            } else {
                let (hs, hd) = (x[i] - x[i - 1], x[i + 1] - x[i]);
                (hs * hs * y[i + 1] + (hd * hd - hs * hs) * y[i] - hd * hd * y[i - 1])
                    / (hs * hd * (hs + hd))
            }
        })
        .collect()
}

/// The suggestion: the index of the point where the smoothed loss falls fastest against
/// log10 of the learning rate, the steepest-descent rule of PyTorch Lightning's
/// `_LRFinder.suggestion` (versions 1.x to 2.5.2, with its default skips): the first
/// [`SKIP_BEGIN`] and last [`SKIP_END`] points and any non-finite smoothed loss are left out,
/// [`gradient`] is taken over the rest against log10(lr), and the first most negative value
/// wins. `None` with fewer than two points left.
///
/// Lightning took `numpy.gradient(losses)` over evenly spaced indices, which for its
/// exponential ramp is the gradient against log lr up to a constant factor; ember passes the
/// log rates, so a gap left by a non-finite loss is spaced right. (Lightning 2.5.3 passes the
/// rates themselves, which favours the smallest rates; issue Lightning-AI/pytorch-lightning
/// #21141.)
pub fn steepest(points: &[Point]) -> Option<usize> {
    let end = points.len().checked_sub(SKIP_END)?;
    let kept: Vec<usize> = (SKIP_BEGIN..end)
        .filter(|&i| points[i].smoothed_loss.is_finite())
        .collect();
    let x: Vec<f64> = kept
        .iter()
        .map(|&i| points[i].learning_rate.log10())
        .collect();
    let y: Vec<f64> = kept.iter().map(|&i| points[i].smoothed_loss).collect();
    let slopes = gradient(&x, &y);
    let first_min =
        slopes
            .iter()
            .enumerate()
            .fold(None::<(usize, f64)>, |best, (j, &g)| match best {
                Some((_, b)) if b <= g => best,
                _ => Some((j, g)),
            })?;
    Some(kept[first_min.0])
}

/// fastai's older rule, for comparison: one tenth of the learning rate at the lowest finite
/// smoothed loss (fastai 1's "minimum/10", `SuggestionMethod.Minimum` in fastai 2, here
/// over every point). Returns the index of the minimum and the suggested rate.
pub fn minimum_over_ten(points: &[Point]) -> Option<(usize, f64)> {
    let (i, point) = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.smoothed_loss.is_finite())
        .fold(None::<(usize, &Point)>, |best, (i, p)| match best {
            Some((_, b)) if b.smoothed_loss <= p.smoothed_loss => best,
            _ => Some((i, p)),
        })?;
    Some((i, point.learning_rate / 10.0))
}

/// The test as a callback of the engine's learner: sets each step's rate from the ramp at
/// `on_step_begin`, records the step's loss at `on_step_end`, and stops training there when
/// [`RangeTest::record`] says so. The learner runs with `max_steps` = the ramp's steps.
pub struct RangeTestCallback<'r> {
    /// The ramp.
    pub ramp: Ramp,
    /// Where the steps are recorded (the caller reads it after training).
    pub test: &'r mut RangeTest,
}

impl<M> Callback<M> for RangeTestCallback<'_> {
    fn name(&self) -> String {
        "lr_find".into()
    }

    fn on_step_begin(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        // `global_step` counts the steps taken: the index of the step about to run.
        ctx.learning_rate = self.ramp.rate(ctx.global_step);
        Ok(())
    }

    fn on_step_end(&mut self, ctx: &mut Context<'_, M>) -> Result<(), String> {
        let loss = ctx
            .step_loss
            .clone()
            .map(|t| t.into_scalar::<f64>())
            .ok_or("the learner gave no step loss at on_step_end")?;
        if let Some(stop) = self.test.record(ctx.learning_rate, loss) {
            ctx.stop_training(stop.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(rates: &[f64], smoothed: &[f64]) -> Vec<Point> {
        rates
            .iter()
            .zip(smoothed)
            .enumerate()
            .map(|(i, (&learning_rate, &smoothed_loss))| Point {
                step: i + 1,
                learning_rate,
                loss: smoothed_loss,
                smoothed_loss,
            })
            .collect()
    }

    /// The ramp starts and ends exactly at its bounds and rises by one constant factor.
    #[test]
    fn the_ramp_is_geometric_from_min_to_max() {
        let ramp = Ramp::new(1e-7, 10.0, 300).unwrap();
        assert_eq!(ramp.rate(0), 1e-7);
        assert_eq!(ramp.rate(299), 10.0);
        let factor = (10.0f64 / 1e-7).powf(1.0 / 299.0);
        for i in 1..300 {
            let ratio = ramp.rate(i) / ramp.rate(i - 1);
            assert!((ratio / factor - 1.0).abs() < 1e-12, "step {i}: {ratio}");
        }
        // Eight decades in 299 factors: 10^(8/299) each.
        assert!((factor - 10f64.powf(8.0 / 299.0)).abs() < 1e-12);
    }

    #[test]
    fn bad_ramps_are_refused_naming_the_flag() {
        let err = Ramp::new(1.0, 1.0, 100).unwrap_err();
        assert!(err.contains("--min-lr 1 is not below --max-lr 1"), "{err}");
        assert!(
            Ramp::new(0.0, 1.0, 100)
                .unwrap_err()
                .starts_with("--min-lr 0")
        );
        assert!(
            Ramp::new(-1.0, 1.0, 100)
                .unwrap_err()
                .starts_with("--min-lr -1")
        );
        assert!(
            Ramp::new(1e-3, -1.0, 100)
                .unwrap_err()
                .starts_with("--max-lr -1")
        );
        let err = Ramp::new(1e-3, 1.0, 12).unwrap_err();
        assert!(err.contains("--steps 13 or more"), "{err}");
        assert!(Ramp::new(1e-3, 1.0, 13).is_ok());
    }

    /// The smoothed loss by hand: with β = 0.98, losses 2, 1, 4 give averages 0.04, 0.0592,
    /// 0.138016, divided by 1 − 0.98 = 0.02, 1 − 0.9604 = 0.0396 and 1 − 0.941192 = 0.058808.
    #[test]
    fn smoothing_matches_a_hand_computation() {
        let mut test = RangeTest::default();
        for loss in [2.0, 1.0, 4.0] {
            assert!(test.record(1e-3, loss).is_none());
        }
        let smoothed: Vec<f64> = test.points.iter().map(|p| p.smoothed_loss).collect();
        let expected = [0.04 / 0.02, 0.0592 / 0.0396, 0.138016 / 0.058808];
        for (got, want) in smoothed.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        // The first smoothed loss is the first loss: bias correction undoes the zero start.
        assert!((smoothed[0] - 2.0).abs() < 1e-12);
        assert_eq!(test.points[2].step, 3);
    }

    /// The stop rule: a smoothed loss above 4 x the best before it stops the test at that
    /// step (recorded), and so does a NaN loss.
    #[test]
    fn the_test_stops_on_divergence_and_on_nan() {
        let mut test = RangeTest::default();
        // Smoothed losses stay near 1 for constant losses of 1.
        for _ in 0..5 {
            assert!(test.record(1e-3, 1.0).is_none());
        }
        // One loss of 1000 moves the (bias-corrected) average to about 1 + 999·0.02/(1−β⁶):
        // far above 4.
        let stop = test.record(1e-2, 1000.0).cloned();
        assert!(
            matches!(stop, Some(Stop::Diverged { best, .. }) if (best - 1.0).abs() < 1e-12),
            "{stop:?}"
        );
        assert_eq!(test.points.len(), 6);
        // A first step never diverges: it has nothing to compare with.
        assert!(RangeTest::default().record(1e-3, 1e6).is_none());
        let mut nan = RangeTest::default();
        nan.record(1e-3, 1.0);
        assert!(matches!(
            nan.record(1e-2, f64::NAN),
            Some(Stop::NotFinite { .. })
        ));
    }

    /// numpy.gradient's values: evenly spaced, central differences inside, one-sided at the
    /// ends; unevenly spaced, exact on a quadratic.
    #[test]
    fn gradient_is_numpys() {
        // numpy.gradient([1, 2, 4, 7, 11]) = [1, 1.5, 2.5, 3.5, 4].
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            gradient(&x, &[1.0, 2.0, 4.0, 7.0, 11.0]),
            vec![1.0, 1.5, 2.5, 3.5, 4.0]
        );
        // y = x² at x = 0, 1, 3: the central value is exact, 2x = 2.
        let g = gradient(&[0.0, 1.0, 3.0], &[0.0, 1.0, 9.0]);
        assert!((g[1] - 2.0).abs() < 1e-12, "{g:?}");
        assert_eq!(g[0], 1.0);
        assert_eq!(g[2], 4.0);
        assert!(gradient(&[1.0], &[1.0]).is_empty());
    }

    /// On a synthetic curve, a plateau, then a fall steepest at point 40 (a logistic centred
    /// at 40.3 against the step, so against log lr) and a rise, the rule picks point 40, and
    /// so does an independent search for the most negative central difference; the
    /// minimum/10 rule picks a tenth of the rate at the bottom.
    #[test]
    fn the_rule_picks_the_steepest_point() {
        let ramp = Ramp::new(1e-6, 1.0, 60).unwrap();
        let rates: Vec<f64> = (0..60).map(|i| ramp.rate(i)).collect();
        let smoothed: Vec<f64> = (0..60)
            .map(|i| {
                let i = i as f64;
                let drop = 2.0 - 1.8 / (1.0 + (-(i - 40.3)).exp());
                drop + if i > 50.0 { 0.3 * (i - 50.0) } else { 0.0 }
            })
            .collect();
        let pts = points(&rates, &smoothed);
        assert_eq!(steepest(&pts), Some(40));
        let by_hand = (11..59)
            .min_by(|&a, &b| {
                let d = |i: usize| smoothed[i + 1] - smoothed[i - 1];
                d(a).partial_cmp(&d(b)).unwrap()
            })
            .unwrap();
        assert_eq!(by_hand, 40);
        let (at, lr) = minimum_over_ten(&pts).unwrap();
        assert_eq!(at, 50);
        assert_eq!(lr, rates[50] / 10.0);
    }

    /// The skips: a steeper fall among the first ten points or at the very last point is not
    /// the suggestion; non-finite losses are left out; too few points give none.
    #[test]
    fn the_rule_skips_the_ends_and_non_finite_points() {
        let ramp = Ramp::new(1e-6, 1.0, 30).unwrap();
        let rates: Vec<f64> = (0..30).map(|i| ramp.rate(i)).collect();
        let mut smoothed: Vec<f64> = (0..30).map(|i| 3.0 - 0.01 * i as f64).collect();
        smoothed[3] = -100.0; // skipped (first ten)
        smoothed[29] = -100.0; // skipped (last one)
        smoothed[20] = 1.0; // the steepest of the kept points: fall into 20
        smoothed[25] = f64::NAN;
        let pts = points(&rates, &smoothed);
        assert_eq!(steepest(&pts), Some(19));
        assert_eq!(steepest(&pts[..12]), None);
        assert_eq!(steepest(&pts[..13]).map(|i| i >= 10), Some(true));
        assert_eq!(steepest(&[]), None);
    }
}
