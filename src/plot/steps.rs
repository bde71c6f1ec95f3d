//! The batch-size study's plot (`train sweep` with `--until` and a swept `--batch-size`):
//! optimizer steps to the target against the batch size, log-log, one line per series, after
//! Shallue et al. (2019) figure 1 and Tsukada and Iiduka (2023).

use plotters::prelude::*;

use super::{Figure, draw_legend, drawing_error, series_color};

/// One batch size of a series.
pub struct StepsPoint {
    /// Images per step.
    pub batch: f64,
    /// Steps to the target (the mean over the seeds), or the budget's steps if not reached.
    pub steps: f64,
    /// Whether every seed reached the target.
    pub reached: bool,
}

/// Steps to the target against the batch size, log-log, one line per series; a point whose
/// runs did not all reach the target is drawn hollow at the steps they took (their budget).
pub struct StepsFigure {
    /// Each series' label and its points, by batch size.
    pub series: Vec<(String, Vec<StepsPoint>)>,
    /// The target, for the title (`loss<=0.1`).
    pub target: String,
}

impl Figure for StepsFigure {
    fn size(&self) -> (u32, u32) {
        (900, 600)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(drawing_error)?;
        let all = self.series.iter().flat_map(|(_, p)| p.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in all {
            x0 = x0.min(p.batch);
            x1 = x1.max(p.batch);
            y0 = y0.min(p.steps);
            y1 = y1.max(p.steps);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (1.0, 2.0, 1.0, 2.0);
        }
        let font = super::font::FAMILY;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Steps to reach {} against batch size", self.target),
                (font, 22),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (x0 / 1.5..x1 * 1.5).log_scale(),
                (y0 / 1.5..y1 * 1.5).log_scale(),
            )
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .x_desc("batch size (images per step)")
            .y_desc("optimizer steps")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((font, 14))
            .draw()
            .map_err(drawing_error)?;
        for (i, (label, points)) in self.series.iter().enumerate() {
            let color = series_color(i);
            // The line joins the points that reached the target.
            let line: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.reached)
                .map(|p| (p.batch, p.steps))
                .collect();
            let name = if label.is_empty() {
                "mean over seeds"
            } else {
                label
            };
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(drawing_error)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|p| {
                    let style = if p.reached {
                        color.filled()
                    } else {
                        color.stroke_width(2)
                    };
                    Circle::new((p.batch, p.steps), 5, style)
                }))
                .map_err(drawing_error)?;
        }
        if self
            .series
            .iter()
            .any(|(_, p)| p.iter().any(|p| !p.reached))
        {
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(drawing_error)?
                .label("hollow: target not reached (steps of the budget)")
                .legend(|(x, y)| Circle::new((x + 10, y), 5, BLACK.stroke_width(2)));
        }
        draw_legend(&mut chart)?;
        root.present().map_err(drawing_error)?;
        Ok(())
    }
}
