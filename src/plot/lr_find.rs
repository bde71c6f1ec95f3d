//! The range test's plot (`train lr-find`): the loss of each step and its smoothed value
//! against the learning rate on a log axis, the suggestion marked (Lightning's
//! `_LRFinder.plot(suggest=True)`, fastai's `Recorder.plot_lr_find`, with the raw loss
//! beside the smoothed one).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;

use super::curves::finite_segments;
use super::{Figure, draw_legend, drawing_error, finite_range, font, png_and_svg, save};
use crate::lr_find::Point;

/// Label of the x axis.
pub const LR_LABEL: &str = "learning rate (log scale)";
/// Label of the y axis.
pub const LOSS_LABEL: &str = "training loss (cross-entropy)";

/// Where a suggestion points: a step of the test and the rate suggested.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// Index of the point marked (the steepest point, or the minimum).
    pub index: usize,
    /// The rate suggested (the point's own, or a tenth of it for minimum/10).
    pub learning_rate: f64,
}

/// Writes `<out_stem>.png` and `<out_stem>.svg`: the steps' losses (light dots) and smoothed
/// losses (a bold line) against their learning rates, log x; `suggestion` as a red dot on the
/// smoothed curve with a dashed red vertical line, `minimum` (fastai's minimum/10) as a grey
/// dashed line at its rate. `title` heads the figure. The y range covers the smoothed losses,
/// but for the last one when `diverged` (the test stopped there, at more than four times the
/// best, which would squeeze the rest of the curve); losses beyond it are left out, the
/// smoothed line runs to the frame. Returns the two paths.
///
/// # Errors
/// A one-line message naming the file that could not be written.
pub fn write_lr_find_plot(
    title: &str,
    points: &[Point],
    suggestion: Option<Mark>,
    minimum: Option<Mark>,
    diverged: bool,
    out_stem: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let figure = LrFindPlot {
        title,
        points,
        suggestion,
        minimum,
        diverged,
    };
    let paths = png_and_svg(out_stem);
    for path in &paths {
        save(&figure, path)?;
    }
    Ok(paths.to_vec())
}

struct LrFindPlot<'a> {
    title: &'a str,
    points: &'a [Point],
    suggestion: Option<Mark>,
    minimum: Option<Mark>,
    diverged: bool,
}

/// The smoothed curve's colour (Tableau blue), the raw losses' (a light blue), the suggestion's
/// (Tableau red) and the comparison's (grey).
const SMOOTHED: RGBColor = RGBColor(31, 119, 180);
const RAW: RGBColor = RGBColor(158, 202, 225);
const SUGGESTION: RGBColor = RGBColor(214, 39, 40);
const MINIMUM: RGBColor = RGBColor(127, 127, 127);

impl Figure for LrFindPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(drawing_error)?;
        let rates = self.points.iter().map(|p| p.learning_rate);
        let x_lo = rates.clone().fold(f64::INFINITY, f64::min);
        let x_hi = rates.fold(f64::NEG_INFINITY, f64::max);
        // One point (or none) still gets a decade around it.
        let (x_lo, x_hi) = if x_lo < x_hi {
            (x_lo, x_hi)
        } else if x_lo.is_finite() {
            (x_lo / 10.0, x_lo * 10.0)
        } else {
            (1e-7, 10.0)
        };
        let ranged = match self.points.split_last() {
            Some((_, before)) if self.diverged && !before.is_empty() => before,
            _ => self.points,
        };
        let (y_lo, y_hi) = finite_range(ranged.iter().map(|p| p.smoothed_loss), 0.08, (0.0, 1.0));
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (font::FAMILY, 22))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo..y_hi)
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .x_desc(LR_LABEL)
            .y_desc(LOSS_LABEL)
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .label_style((font::FAMILY, 14))
            .axis_desc_style((font::FAMILY, 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(drawing_error)?;

        // Each step's loss as a light dot, those outside the range left out: the raw loss is
        // noisy and explodes at the end, and plotters would pin a line's far points to the
        // chart's edge, drawing lines along the frame.
        let raw = RAW.filled();
        chart
            .draw_series(
                self.points
                    .iter()
                    .filter(|p| (y_lo..=y_hi).contains(&p.loss))
                    .map(|p| Circle::new((p.learning_rate, p.loss), 2, raw)),
            )
            .map_err(drawing_error)?
            .label("loss of the step")
            .legend(move |(x, y)| Circle::new((x + 12, y), 2, raw));
        let smoothed: Vec<(f64, f64)> = self
            .points
            .iter()
            .map(|p| (p.learning_rate, p.smoothed_loss))
            .collect();
        let line = SMOOTHED.stroke_width(3);
        for (n, segment) in finite_segments(&smoothed).into_iter().enumerate() {
            let drawn = chart
                .draw_series(LineSeries::new(segment, line))
                .map_err(drawing_error)?;
            if n == 0 {
                drawn
                    .label("smoothed loss (EMA, beta 0.98)")
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line));
            }
        }
        let vertical = |x: f64| vec![(x, y_lo), (x, y_hi)];
        if let Some(mark) = self.minimum {
            let style = MINIMUM.stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(
                    vertical(mark.learning_rate),
                    6,
                    5,
                    style,
                ))
                .map_err(drawing_error)?
                .label(format!("minimum/10 (fastai): {:.2e}", mark.learning_rate))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        if let Some(mark) = self.suggestion {
            let style = SUGGESTION.stroke_width(2);
            let point = self.points[mark.index];
            chart
                .draw_series(DashedLineSeries::new(
                    vertical(mark.learning_rate),
                    6,
                    5,
                    style,
                ))
                .map_err(drawing_error)?;
            chart
                .draw_series([Circle::new(
                    (point.learning_rate, point.smoothed_loss),
                    6,
                    SUGGESTION.filled(),
                )])
                .map_err(drawing_error)?
                .label(format!(
                    "suggestion (steepest descent): {:.2e}",
                    mark.learning_rate
                ))
                .legend(move |(x, y)| Circle::new((x + 12, y), 5, SUGGESTION.filled()));
        }
        draw_legend(&mut chart)
    }
}
