//! The font of every plot: DejaVu Sans, embedded in the binary and registered with plotters once.
//!
//! plotters' `ab_glyph` text renderer finds no system fonts by itself; text drawn with a font
//! family that was never registered fails at drawing time. Embedding the font keeps plots
//! identical on every machine. DejaVu Sans is under the Bitstream Vera / DejaVu license (free to
//! embed and redistribute), whose text is `assets/fonts/DejaVuSans-LICENSE.txt`.

use std::sync::OnceLock;

use plotters::style::FontStyle;

/// The family name plots ask for; registered by [`ensure_registered`].
pub const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers DejaVu Sans as [`FAMILY`] (normal style) the first time it is called; later calls
/// return the first call's outcome.
///
/// # Errors
/// A message if the embedded font cannot be parsed (a corrupt build).
pub fn ensure_registered() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS)
                .map_err(|_| "the embedded DejaVu Sans font could not be parsed".to_string())
        })
        .clone()
        .map_err(anyhow::Error::msg)
}
