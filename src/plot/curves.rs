//! Training curves: loss and accuracy against epoch, training solid and validation dashed, and
//! the learning rate, one colour per run (the picture of d2l's `Animator`, Dive into Deep
//! Learning §3.6, with several runs overlaid, and a learning-rate panel so that a schedule is
//! seen next to its effect).

use super::draw_legend;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::metrics::EpochMetrics;
use crate::plot::{Figure, drawing_error, finite_range, font, png_and_svg, save, series_color};

/// Title of the figure.
pub const TITLE: &str = "Training curves";
/// Label of the x axes.
pub const EPOCH_LABEL: &str = "epoch";
/// Label of the loss panel's y axis.
pub const LOSS_LABEL: &str = "loss (cross-entropy)";
/// Label of the accuracy panel's y axis.
pub const ACCURACY_LABEL: &str = "accuracy";
/// Label of the learning-rate panel's y axis (with [`LOG_SUFFIX`] on a log scale).
pub const LEARNING_RATE_LABEL: &str = "learning rate";
/// Appended to an axis label whose axis is logarithmic.
pub const LOG_SUFFIX: &str = " (log scale)";
/// Size of the figure in pixels: three panels side by side.
pub const SIZE: (u32, u32) = (1650, 520);

/// Writes `<out_stem>.png` and `<out_stem>.svg` ([`SIZE`]): three panels against epoch, loss,
/// accuracy and learning rate; for each run (`(label, history)`, one colour each) its training
/// values as a solid line and its validation values dashed (the learning rate: one solid line),
/// with a legend naming `"<label> train"` and `"<label> validation"`. The learning rate's axis
/// is logarithmic when its values span more than a decade (a decay, a warm-up from near zero),
/// else linear from 0. Non-finite values (a diverged epoch) are left out: the line breaks
/// there. A stem ending in `.png` or `.svg` loses that extension first (see
/// [`png_and_svg`]). Returns the two paths written.
///
/// # Errors
/// A one-line message naming the file that could not be written.
pub fn write_training_curves(
    runs: &[(String, Vec<EpochMetrics>)],
    out_stem: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let figure = TrainingCurves { runs };
    let paths = png_and_svg(out_stem);
    for path in &paths {
        save(&figure, path)?;
    }
    Ok(paths.to_vec())
}

struct TrainingCurves<'a> {
    runs: &'a [(String, Vec<EpochMetrics>)],
}

/// One panel of the figure.
struct Panel {
    caption: &'static str,
    y_label: &'static str,
    /// (training value, validation value) of an epoch.
    metric: fn(&EpochMetrics) -> (f64, f64),
    /// Values the metric cannot leave (accuracy: [0, 1]); the padded y range stops there.
    bounds: Option<(f64, f64)>,
    /// Whether this panel carries the legend (one legend serves all).
    legend: bool,
    /// Whether the metric has a validation value to draw (dashed).
    validation: bool,
    /// A rate: the y axis is logarithmic when the values span more than a decade, else it
    /// starts at 0.
    rate: bool,
}

/// Whether the finite values are all positive and span more than a factor of 10.
pub fn spans_decades(values: impl IntoIterator<Item = f64>) -> bool {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    lo > 0.0 && hi > 10.0 * lo
}

impl Figure for TrainingCurves<'_> {
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(drawing_error)?;
        let body = root
            .titled(TITLE, (font::FAMILY, 26))
            .map_err(drawing_error)?;
        let panels = body.split_evenly((1, 3));
        let loss = Panel {
            caption: "Loss",
            y_label: LOSS_LABEL,
            metric: |m| (m.loss, m.val_loss),
            bounds: None,
            legend: true,
            validation: true,
            rate: false,
        };
        let accuracy = Panel {
            caption: "Accuracy",
            y_label: ACCURACY_LABEL,
            metric: |m| (m.accuracy, m.val_accuracy),
            bounds: Some((0.0, 1.0)),
            legend: false,
            validation: true,
            rate: false,
        };
        let learning_rate = Panel {
            caption: "Learning rate",
            y_label: LEARNING_RATE_LABEL,
            metric: |m| (m.learning_rate, f64::NAN),
            bounds: None,
            legend: false,
            validation: false,
            rate: true,
        };
        self.panel(&panels[0], &loss)?;
        self.panel(&panels[1], &accuracy)?;
        self.panel(&panels[2], &learning_rate)
    }
}

impl TrainingCurves<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
    ) -> anyhow::Result<()> {
        let log_y = panel.rate
            && spans_decades(
                self.runs
                    .iter()
                    .flat_map(|(_, h)| h.iter().map(|m| (panel.metric)(m).0)),
            );
        // A log axis is drawn as log10 of the values on a linear one, labelled with the values.
        let scale = |v: f64| if log_y { v.log10() } else { v };
        let raw_metric = panel.metric;
        let metric = |m: &EpochMetrics| {
            let (train, val) = raw_metric(m);
            (
                scale(train),
                if panel.validation {
                    scale(val)
                } else {
                    f64::NAN
                },
            )
        };
        let epochs = self
            .runs
            .iter()
            .flat_map(|(_, h)| h.iter().map(|m| m.epoch));
        let first = epochs.clone().min().unwrap_or(1) as f64;
        let last = epochs.max().unwrap_or(1) as f64;
        // One epoch still gets a visible x range around it.
        let (x_lo, x_hi) = if last > first {
            (first, last)
        } else {
            (first - 1.0, first + 1.0)
        };
        let values = self.runs.iter().flat_map(|(_, h)| {
            h.iter().flat_map(|m| {
                let (train, val) = metric(m);
                [train, val]
            })
        });
        let (mut y_lo, mut y_hi) = if panel.rate && !log_y {
            // From 0, so that a constant rate is a level line, not noise magnified.
            let hi = values.filter(|v| v.is_finite()).fold(0.0, f64::max);
            (0.0, if hi > 0.0 { hi * 1.1 } else { 1.0 })
        } else {
            finite_range(values, 0.05, (0.0, 1.0))
        };
        if let Some((lo, hi)) = panel.bounds {
            y_lo = y_lo.max(lo);
            y_hi = y_hi.min(hi);
        }
        let y_label = if log_y {
            format!("{}{LOG_SUFFIX}", panel.y_label)
        } else {
            panel.y_label.to_string()
        };
        let mut chart = ChartBuilder::on(area)
            .caption(panel.caption, (font::FAMILY, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
            .map_err(drawing_error)?;
        let whole_epochs = (x_hi - x_lo).round() as usize + 1;
        // Enough decimals to tell the ~10 y ticks apart: 1 for a range of 1-10, 2 for 0.1-1...
        let decimals = (1.0 - (y_hi - y_lo).log10().floor()).clamp(1.0, 6.0) as usize;
        chart
            .configure_mesh()
            .x_desc(EPOCH_LABEL)
            .y_desc(y_label)
            .x_labels(whole_epochs.clamp(2, 11))
            // Ticks fall between epochs when there are few: label whole epochs only.
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 1e-6 {
                    format!("{}", x.round())
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| {
                if log_y {
                    format!("{:.1e}", 10f64.powf(*y))
                } else {
                    format!("{y:.decimals$}")
                }
            })
            .label_style((font::FAMILY, 14))
            .axis_desc_style((font::FAMILY, 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(drawing_error)?;

        for (i, (label, history)) in self.runs.iter().enumerate() {
            let color = series_color(i);
            let solid = color.stroke_width(2);
            let train: Vec<(f64, f64)> = history
                .iter()
                .map(|m| (m.epoch as f64, metric(m).0))
                .collect();
            let val: Vec<(f64, f64)> = history
                .iter()
                .map(|m| (m.epoch as f64, metric(m).1))
                .collect();
            for (n, segment) in finite_segments(&train).into_iter().enumerate() {
                let drawn = chart
                    .draw_series(LineSeries::new(segment, solid).point_size(3))
                    .map_err(drawing_error)?;
                if n == 0 {
                    drawn
                        .label(format!("{label} train"))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], solid));
                }
            }
            for (n, segment) in finite_segments(&val).into_iter().enumerate() {
                let points = segment.clone();
                // A lone finite point draws no dash: the markers show it.
                let drawn = chart
                    .draw_series(DashedLineSeries::new(segment, 7, 5, solid))
                    .map_err(drawing_error)?;
                if n == 0 {
                    drawn
                        .label(format!("{label} validation"))
                        .legend(move |(x, y)| {
                            EmptyElement::at((x, y))
                                + PathElement::new(vec![(0, 0), (9, 0)], solid)
                                + PathElement::new(vec![(15, 0), (24, 0)], solid)
                        });
                }
                chart
                    .draw_series(
                        points
                            .into_iter()
                            .map(|p| Circle::new(p, 3, ShapeStyle::from(color).stroke_width(2))),
                    )
                    .map_err(drawing_error)?;
            }
        }
        if panel.legend {
            draw_legend(&mut chart)?;
        }
        Ok(())
    }
}

/// The runs of consecutive points whose value is finite: a line through non-finite values
/// breaks instead of jumping over them.
pub fn finite_segments(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    points
        .split(|(_, v)| !v.is_finite())
        .filter(|s| !s.is_empty())
        .map(<[_]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_break_the_line() {
        let points = [
            (1.0, 0.5),
            (2.0, f64::NAN),
            (3.0, 0.3),
            (4.0, 0.2),
            (5.0, f64::INFINITY),
        ];
        assert_eq!(
            finite_segments(&points),
            vec![vec![(1.0, 0.5)], vec![(3.0, 0.3), (4.0, 0.2)]]
        );
    }
}
