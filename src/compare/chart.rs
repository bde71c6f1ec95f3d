//! The comparison's bar chart: steady-state training images/s per backend, as a PNG.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::compare::report::CompareReport;

/// Width and height of the chart in pixels.
pub const CHART_SIZE: (u32, u32) = (800, 500);

/// The font family the chart's text uses: the plots' embedded DejaVu Sans.
const FONT: &str = crate::plot::font::FAMILY;

/// Draws images/s per backend that ran (unavailable ones are left out) to `path` (PNG).
///
/// # Errors
/// Drawing or encoding failures, as text.
pub fn write_chart(report: &CompareReport, path: &Path) -> Result<(), String> {
    crate::plot::font::ensure_registered().map_err(|e| e.to_string())?;
    let bars: Vec<(String, f64)> = report
        .backends
        .iter()
        .filter_map(|row| Some((row.backend.to_string(), row.run()?.images_per_second)))
        .filter(|(_, v)| v.is_finite())
        .collect();
    let top = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0) * 1.15;
    let root = BitMapBackend::new(path, CHART_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let job = &report.job;
    let caption = format!(
        "{} + {}: training images/s (batch {})",
        job.config.model,
        job.config.optimizer.name(),
        job.config
            .batch_size
            .map_or("full".to_string(), |b| b.to_string())
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FONT, 24))
        .margin(20)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d((0..bars.len().max(1) - 1).into_segmented(), 0.0..top)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("images/s")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => bars.get(*i).map_or(String::new(), |b| b.0.clone()),
            _ => String::new(),
        })
        .label_style((FONT, 16))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                Palette99::pick(i).filled(),
            );
            bar.set_margin(0, 0, 20, 20);
            bar
        }))
        .map_err(|e| e.to_string())?;
    let value_style =
        TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            Text::new(
                format!("{v:.0}"),
                (SegmentValue::CenterOf(i), *v),
                value_style.clone(),
            )
        }))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}
