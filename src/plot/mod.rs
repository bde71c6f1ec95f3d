//! Plots with [plotters](https://docs.rs/plotters/0.3.7): training curves of runs
//! ([`write_training_curves`], `train plot`), the learning-rate range test's curve
//! ([`lr_find`], `train lr-find`), the batch-size study's steps to a target ([`steps`],
//! `train sweep --until`) and the optimizer playground's contour plots ([`crate::toy`]).
//!
//! Every figure is drawn once, generically over plotters' drawing backends ([`Figure`]), and
//! saved as PNG (bitmap backend) or SVG (SVG backend) by [`save`]. Text uses DejaVu Sans, embedded
//! in the binary ([`font`]).

pub mod curves;
pub mod font;
pub mod lr_find;
pub mod runs;
pub mod steps;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use plotters::coord::Shift;
use plotters::prelude::*;

pub use curves::write_training_curves;
pub use runs::{plot_runs, read_run};

/// Tableau 10, the default colour cycle of matplotlib (`tab10`): one colour per run or
/// optimizer, picked in order and repeated after ten.
pub const TABLEAU10: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The `i`-th colour of [`TABLEAU10`], cycling.
pub fn series_color(i: usize) -> RGBColor {
    TABLEAU10[i % TABLEAU10.len()]
}

/// A figure that can be drawn on any plotters backend.
pub trait Figure {
    /// Size in pixels (width, height); SVG uses the same numbers as its user units.
    fn size(&self) -> (u32, u32);

    /// Draws the whole figure on `root` (already sized to [`Figure::size`]).
    ///
    /// # Errors
    /// plotters' drawing errors, as messages.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>;
}

/// The output formats [`save`] knows, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PNG through plotters' bitmap backend.
    Png,
    /// SVG through plotters' SVG backend.
    Svg,
}

impl Format {
    /// The format of `path` by its extension (`.png` or `.svg`, any case).
    ///
    /// # Errors
    /// A one-line message naming the path and the extensions accepted.
    pub fn of(path: &Path) -> anyhow::Result<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => bail!(
                "cannot tell the image format of {}: use a name ending in .png or .svg",
                path.display()
            ),
        }
    }
}

/// Draws `figure` into `path` as PNG or SVG, chosen by the extension, creating the parent
/// directory if needed.
///
/// # Errors
/// A one-line message naming the file: an unknown extension, an unwritable directory, or a
/// drawing error.
pub fn save(figure: &impl Figure, path: &Path) -> anyhow::Result<()> {
    let format = Format::of(path)?;
    font::ensure_registered()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let size = figure.size();
    let drawn = match format {
        Format::Png => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            figure
                .draw(&root)
                .and_then(|()| root.present().map_err(drawing_error))
        }
        Format::Svg => {
            // Rendered to a string and written atomically: a half-written SVG is never left.
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                figure
                    .draw(&root)
                    .and_then(|()| root.present().map_err(drawing_error))?;
            }
            ember_engine::fsutil::write_atomic(path, svg.as_bytes()).map_err(anyhow::Error::from)
        }
    };
    drawn.with_context(|| format!("cannot write {}", path.display()))
}

/// `stem` with `.png` and `.svg`: a stem already ending in one of them loses it first
/// (`out/plot.png` → `out/plot.png`, `out/plot.svg`); any other dot stays part of the name
/// (`run-1.5` → `run-1.5.png`).
pub fn png_and_svg(stem: &Path) -> [PathBuf; 2] {
    let stem = match Format::of(stem) {
        Ok(_) => stem.with_extension(""),
        Err(_) => stem.to_path_buf(),
    };
    ["png", "svg"].map(|ext| {
        let mut name = stem.clone().into_os_string();
        name.push(".");
        name.push(ext);
        PathBuf::from(name)
    })
}

/// The series' legend in ember's style, at the chart's upper right: DejaVu Sans 14 on a
/// translucent white box with a grey border (every plot of `train` draws it the same way).
///
/// # Errors
/// The drawing backend's, as [`drawing_error`] words it.
pub fn draw_legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>) -> anyhow::Result<()>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((font::FAMILY, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .draw()
        .map_err(drawing_error)
}

/// plotters' error (generic over the backend's error type) as an `anyhow` message.
pub fn drawing_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("drawing failed: {e}")
}

/// The range `[lo, hi]` of the finite values in `values`, padded by `pad` of its width on each
/// side; `fallback` when there are none, and a unit-wide range around a single value.
pub fn finite_range(
    values: impl IntoIterator<Item = f64>,
    pad: f64,
    fallback: (f64, f64),
) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return fallback;
    }
    let width = hi - lo;
    if width <= f64::EPSILON * hi.abs().max(1.0) {
        let half = (lo.abs() * 0.1).max(0.5);
        return (lo - half, hi + half);
    }
    (lo - pad * width, hi + pad * width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_get_both_extensions() {
        let [png, svg] = png_and_svg(Path::new("out/plot"));
        assert_eq!(png, Path::new("out/plot.png"));
        assert_eq!(svg, Path::new("out/plot.svg"));
        let [png, svg] = png_and_svg(Path::new("out/plot.SVG"));
        assert_eq!(
            (png.as_path(), svg.as_path()),
            (Path::new("out/plot.png"), Path::new("out/plot.svg"))
        );
        let [png, _] = png_and_svg(Path::new("runs/lr-1.5"));
        assert_eq!(png, Path::new("runs/lr-1.5.png"));
    }

    #[test]
    fn ranges_skip_non_finite_values() {
        assert_eq!(
            finite_range([1.0, f64::NAN, 3.0, f64::INFINITY], 0.5, (0.0, 1.0)),
            (0.0, 4.0)
        );
        assert_eq!(finite_range([f64::NAN], 0.1, (0.0, 1.0)), (0.0, 1.0));
        assert_eq!(finite_range([2.0, 2.0], 0.1, (0.0, 1.0)), (1.5, 2.5));
    }
}
