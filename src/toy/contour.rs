//! The playground's picture: filled contours of f over the region (levels spaced on a log scale
//! for Rosenbrock, Beale and Himmelblau), each optimizer's path on top, the minima marked.

use crate::plot::draw_legend;
use burn::tensor::{Device, Tensor, TensorData};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::{Figure, drawing_error, font, series_color};
use crate::toy::{TestFunction, Trajectory};

/// Grid cells per axis: fine enough that the bands read as smooth contours.
const CELLS: usize = 160;
/// Number of filled contour bands.
const BANDS: usize = 18;
/// Added to f before the logarithm, so the minimum (f = 0) has a finite level.
const LOG_OFFSET: f64 = 1e-2;

/// Viridis (matplotlib's default colour map) at five stops, interpolated linearly.
const VIRIDIS: [(f64, f64, f64); 5] = [
    (68.0, 1.0, 84.0),
    (59.0, 82.0, 139.0),
    (33.0, 145.0, 140.0),
    (94.0, 201.0, 98.0),
    (253.0, 231.0, 37.0),
];

fn viridis(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let u = t - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    // Lightened halfway to white, so the paths drawn on top stand out.
    let mix = |p: f64, q: f64| ((p + (q - p) * u) * 0.55 + 255.0 * 0.45).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The contour plot of `function` with the `trajectories` drawn over it.
pub struct ContourPlot<'a> {
    function: TestFunction,
    trajectories: &'a [Trajectory],
    x_range: (f64, f64),
    y_range: (f64, f64),
    /// Contour band of each cell, row by row from the bottom (`CELLS × CELLS`).
    bands: Vec<usize>,
}

impl<'a> ContourPlot<'a> {
    /// Evaluates `function` on the grid (with Burn, on `device`) over its customary region,
    /// widened to show the paths that did not diverge (by at most half the region's size on
    /// each side; the parts of paths beyond it are clipped).
    pub fn new(function: TestFunction, trajectories: &'a [Trajectory], device: &Device) -> Self {
        let ((x0, x1), (y0, y1)) = function.region();
        let points = trajectories
            .iter()
            .filter(|t| t.diverged_at.is_none())
            .flat_map(|t| t.points.iter());
        let widen = |(lo, hi): (f64, f64), coords: Vec<f64>| {
            let margin = (hi - lo) / 2.0;
            let lo = coords.iter().copied().fold(lo, f64::min).max(lo - margin);
            let hi = coords.iter().copied().fold(hi, f64::max).min(hi + margin);
            (lo, hi)
        };
        let x_range = widen((x0, x1), points.clone().map(|p| f64::from(p.x)).collect());
        let y_range = widen((y0, y1), points.map(|p| f64::from(p.y)).collect());

        let center =
            |(lo, hi): (f64, f64), i: usize| lo + (hi - lo) * (i as f64 + 0.5) / CELLS as f64;
        let mut xs = Vec::with_capacity(CELLS * CELLS);
        let mut ys = Vec::with_capacity(CELLS * CELLS);
        for row in 0..CELLS {
            for col in 0..CELLS {
                xs.push(center(x_range, col) as f32);
                ys.push(center(y_range, row) as f32);
            }
        }
        let tensor =
            |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [CELLS * CELLS]), device);
        let values: Vec<f32> = function
            .value(tensor(xs), tensor(ys))
            .try_into_vec_as()
            .unwrap_or_default();
        let level = |f: f32| {
            let f = f64::from(f);
            if function.log_scale() {
                (f.max(0.0) + LOG_OFFSET).log10()
            } else {
                f
            }
        };
        let levels: Vec<f64> = values.into_iter().map(level).collect();
        let (lo, hi) = crate::plot::finite_range(levels.iter().copied(), 0.0, (0.0, 1.0));
        let bands = levels
            .iter()
            .map(|&z| {
                if z.is_finite() {
                    (((z - lo) / (hi - lo) * BANDS as f64) as usize).min(BANDS - 1)
                } else {
                    BANDS - 1
                }
            })
            .collect();
        Self {
            function,
            trajectories,
            x_range,
            y_range,
            bands,
        }
    }

    fn caption(&self) -> String {
        let name = self.function.name();
        let mut title = name[..1].to_uppercase() + &name[1..];
        title.push_str(": f(x, y) = ");
        title.push_str(self.function.formula());
        title
    }
}

impl Figure for ContourPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 820)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        root.fill(&WHITE).map_err(drawing_error)?;
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let mut chart = ChartBuilder::on(root)
            .caption(self.caption(), (font::FAMILY, 20))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(drawing_error)?;
        let shading = if self.function.log_scale() {
            format!("x   (shading: log10(f + {LOG_OFFSET}), {BANDS} levels)")
        } else {
            format!("x   (shading: f, {BANDS} levels)")
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(shading)
            .y_desc("y")
            .label_style((font::FAMILY, 14))
            .axis_desc_style((font::FAMILY, 16))
            .draw()
            .map_err(drawing_error)?;

        let (dx, dy) = ((x1 - x0) / CELLS as f64, (y1 - y0) / CELLS as f64);
        // One rectangle per run of equal bands along a row: the same picture with a tenth of
        // the rectangles, which keeps the SVG small.
        let runs = self
            .bands
            .chunks(CELLS)
            .enumerate()
            .flat_map(|(row, bands)| {
                bands.chunk_by(|a, b| a == b).scan(0, move |col, run| {
                    let start = *col;
                    *col += run.len();
                    Some((row, start, *col, run[0]))
                })
            });
        chart
            .draw_series(runs.map(|(row, start, end, band)| {
                let y = y0 + row as f64 * dy;
                let (xa, xb) = (x0 + start as f64 * dx, x0 + end as f64 * dx);
                let color = viridis(band as f64 / (BANDS - 1) as f64);
                Rectangle::new([(xa, y), (xb, y + dy)], color.filled())
            }))
            .map_err(drawing_error)?;

        for (i, t) in self.trajectories.iter().enumerate() {
            let color = series_color(i);
            let style = color.stroke_width(2);
            let path: Vec<(f64, f64)> = t
                .points
                .iter()
                .map(|p| (f64::from(p.x), f64::from(p.y)))
                .collect();
            let label = match t.diverged_at {
                Some(step) => format!("{} (lr {}) diverged at step {step}", t.optimizer, t.lr),
                None => format!("{} (lr {})", t.optimizer, t.lr),
            };
            let segments = path
                .windows(2)
                .filter_map(|w| clip(w[0], w[1], self.x_range, self.y_range));
            chart
                .draw_series(segments.map(|(a, b)| PathElement::new(vec![a, b], style)))
                .map_err(drawing_error)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
            // The start as a hollow circle, the end (when on the chart) as a filled one.
            let inside = |p: &&(f64, f64)| clip(**p, **p, self.x_range, self.y_range).is_some();
            let ends = [path.first(), path.last()].map(|p| p.filter(inside));
            chart
                .draw_series(ends.into_iter().enumerate().filter_map(|(k, p)| {
                    let style = if k == 0 { style } else { color.filled() };
                    Some(Circle::new(*p?, 5, style))
                }))
                .map_err(drawing_error)?;
        }

        let star = BLACK.stroke_width(3);
        chart
            .draw_series(
                self.function
                    .minima()
                    .iter()
                    .map(|&p| Cross::new(p, 7, star)),
            )
            .map_err(drawing_error)?
            .label(if self.function.minima().len() > 1 {
                "global minima"
            } else {
                "global minimum"
            })
            .legend(move |(x, y)| Cross::new((x + 12, y), 6, star));

        draw_legend(&mut chart)?;
        Ok(())
    }
}

/// The part of the segment `a`–`b` inside the rectangle `x_range` × `y_range`, if any
/// (Liang–Barsky clipping). plotters would move points outside the chart onto its edge, drawing
/// lines that are not there.
fn clip(
    a: (f64, f64),
    b: (f64, f64),
    x_range: (f64, f64),
    y_range: (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x_range.0),
        (dx, x_range.1 - a.0),
        (-dy, a.1 - y_range.0),
        (dy, y_range.1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    (t0 <= t1).then_some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_clipped_to_the_chart() {
        let (xr, yr) = ((0.0, 1.0), (0.0, 1.0));
        assert_eq!(
            clip((0.2, 0.2), (0.8, 0.4), xr, yr),
            Some(((0.2, 0.2), (0.8, 0.4)))
        );
        // Leaves through the right edge at x = 1: y = 0.5 + 0.5·(0.5/1.5).
        let ((_, _), (x, y)) = clip((0.5, 0.5), (2.0, 1.0), xr, yr).unwrap();
        assert!((x - 1.0).abs() < 1e-12 && (y - (0.5 + 0.5 / 3.0)).abs() < 1e-12);
        assert_eq!(clip((2.0, 2.0), (3.0, 5.0), xr, yr), None);
        assert_eq!(clip((-1.0, 0.5), (-1.0, 0.9), xr, yr), None);
    }

    #[test]
    fn colour_map_ends() {
        // Viridis' ends, lightened 45% towards white.
        assert_eq!(viridis(0.0), RGBColor(152, 115, 161));
        assert_eq!(viridis(1.0), RGBColor(254, 242, 135));
    }
}
