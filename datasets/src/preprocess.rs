//! Deterministic preprocessing of every split (training, validation and test alike): the
//! deslanting and width normalization that make the members of a committee of networks differ
//! (Ciresan, Meier, Gambardella and Schmidhuber 2011, "Convolutional neural network committees
//! for handwritten character classification", ICDAR; Meier, Ciresan, Gambardella and
//! Schmidhuber 2011, "Better digit recognition with a committee of simple neural nets").
//!
//! Unlike augmentation ([`crate::augment`]), which draws new distortions of the training images
//! every epoch, a preprocessing is a fixed function of the image, and a network trained on
//! preprocessed images must be tested on images preprocessed the same way: a run's recipe is
//! applied to all its splits.
//!
//! A recipe is written `none`, `deslant`, `width=W`, or both joined by `+`
//! (`deslant+width=14`); deslanting comes first, as in Meier et al.
//!
//! - **Deslanting** shears each row so that the principal axis of the digit's ink is vertical:
//!   with the ink-weighted centroid (x̄, ȳ) and central moments μ11 = Σ(x−x̄)(y−ȳ)p,
//!   μ02 = Σ(y−ȳ)²p (x: column, y: row, p: pixel value), the slant is α = μ11/μ02 and the output
//!   pixel (x, y) is the input at (x + α(y − ȳ), y), linearly interpolated along the row, black
//!   outside. This is the usual moment-based deskew (as in LeCun's MNIST page's "deskewing"
//!   entries and OpenCV's `deskew` sample, which centres the shear at the image's middle rather
//!   than at ȳ).
//! - **Width normalization** (`width=W`) scales the digit's bounding box (pixels > 0)
//!   horizontally to W pixels, leaving its height and rows as they are, and centres it
//!   horizontally (left edge at ⌊(28 − W)/2⌋). Each output column averages the input over the
//!   interval it covers (area resampling, exact for shrinking; stretching repeats columns
//!   proportionally). Ciresan et al. normalize widths to 10, 12, ..., 20 pixels (and the
//!   original, unnormalized images) for their seven-member committee.
//!
//! ```
//! use ember_datasets::preprocess::Preprocessing;
//! let recipe: Preprocessing = "deslant+width=14".parse()?;
//! assert_eq!(recipe.to_string(), "deslant+width=14");
//! let image = vec![0u8; 28 * 28];
//! assert_eq!(recipe.apply(&image, 28), image); // a blank image stays blank
//! # Ok::<(), ember_datasets::preprocess::PreprocessError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;

use crate::mnist::{IMAGE_PIXELS, IMAGE_SIDE, MnistData};

#[cfg(test)]
mod tests;

/// A preprocessing recipe; the default does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Preprocessing {
    /// Shear each digit upright first.
    pub deslant: bool,
    /// Then scale the bounding box to this many pixels wide (1 to 28).
    pub width: Option<u8>,
}

/// A recipe that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreprocessError {
    /// Not `none`, `deslant` or `width=W`.
    #[error(
        "unknown preprocessing '{item}' in '{spec}'; write none, deslant, width=W (W from 1 to 28 pixels), or deslant+width=W"
    )]
    Unknown {
        /// The item at fault.
        item: String,
        /// The whole recipe.
        spec: String,
    },
    /// A width outside 1..=28 or not a whole number.
    #[error("preprocessing '{spec}': the width must be a whole number of pixels from 1 to 28")]
    Width {
        /// The whole recipe.
        spec: String,
    },
    /// The same step twice, or `none` with another step.
    #[error("preprocessing '{spec}' repeats a step; write each of deslant and width=W once")]
    Repeated {
        /// The whole recipe.
        spec: String,
    },
}

impl Preprocessing {
    /// The recipe that leaves images as they are.
    pub const NONE: Preprocessing = Preprocessing {
        deslant: false,
        width: None,
    };

    /// Whether the recipe changes nothing.
    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// One `side` x `side` image (row-major bytes) preprocessed; a blank image is returned
    /// unchanged.
    ///
    /// # Panics
    /// If `image.len() != side * side`.
    pub fn apply(&self, image: &[u8], side: usize) -> Vec<u8> {
        assert_eq!(
            image.len(),
            side * side,
            "preprocess: not a {side}x{side} image"
        );
        let mut pixels: Vec<f64> = image.iter().map(|&p| f64::from(p)).collect();
        if self.deslant {
            pixels = deslant(&pixels, side);
        }
        if let Some(width) = self.width {
            pixels = normalize_width(&pixels, side, usize::from(width));
        }
        pixels
            .into_iter()
            .map(|p| p.round().clamp(0.0, 255.0) as u8)
            .collect()
    }

    /// Every image of `data` (28x28) preprocessed, in parallel; the labels are kept.
    pub fn apply_all(&self, data: MnistData) -> MnistData {
        if self.is_none() {
            return data;
        }
        let images = data
            .images
            .par_chunks(IMAGE_PIXELS)
            .flat_map_iter(|image| self.apply(image, IMAGE_SIDE))
            .collect();
        MnistData {
            images,
            labels: data.labels,
        }
    }
}

/// The shear described in the module documentation; the input unchanged when it has no ink or
/// no vertical extent.
fn deslant(pixels: &[f64], side: usize) -> Vec<f64> {
    let mass: f64 = pixels.iter().sum();
    if mass <= 0.0 {
        return pixels.to_vec();
    }
    let coords = || (0..side * side).map(move |i| ((i % side) as f64, (i / side) as f64));
    let (mut sx, mut sy) = (0.0, 0.0);
    for ((x, y), p) in coords().zip(pixels) {
        sx += x * p;
        sy += y * p;
    }
    let (cx, cy) = (sx / mass, sy / mass);
    let (mut mu11, mut mu02) = (0.0, 0.0);
    for ((x, y), p) in coords().zip(pixels) {
        mu11 += (x - cx) * (y - cy) * p;
        mu02 += (y - cy) * (y - cy) * p;
    }
    if mu02 <= f64::EPSILON * mass {
        return pixels.to_vec();
    }
    let alpha = mu11 / mu02;
    let mut out = vec![0.0; side * side];
    for y in 0..side {
        let row = &pixels[y * side..(y + 1) * side];
        let shift = alpha * (y as f64 - cy);
        for (x, o) in out[y * side..(y + 1) * side].iter_mut().enumerate() {
            *o = sample_row(row, x as f64 + shift);
        }
    }
    out
}

/// `row` linearly interpolated at position `at` (pixel centres at whole numbers), 0 outside.
fn sample_row(row: &[f64], at: f64) -> f64 {
    let left = at.floor();
    let t = at - left;
    let get = |i: f64| {
        if i < 0.0 || i >= row.len() as f64 {
            0.0
        } else {
            row[i as usize]
        }
    };
    get(left) * (1.0 - t) + get(left + 1.0) * t
}

/// The bounding box's columns area-resampled to `width` columns, centred; rows unchanged.
fn normalize_width(pixels: &[f64], side: usize, width: usize) -> Vec<f64> {
    let ink_columns: Vec<usize> = (0..side)
        .filter(|&x| (0..side).any(|y| pixels[y * side + x] > 0.0))
        .collect();
    let (Some(&x0), Some(&x1)) = (ink_columns.first(), ink_columns.last()) else {
        return pixels.to_vec();
    };
    let source_width = (x1 - x0 + 1) as f64;
    let scale = source_width / width as f64; // input columns per output column
    let left = (side - width) / 2;
    let mut out = vec![0.0; side * side];
    for y in 0..side {
        let row = &pixels[y * side + x0..=y * side + x1];
        for c in 0..width {
            // Output column c covers input [c·scale, (c+1)·scale) of the box.
            let (from, to) = (c as f64 * scale, (c + 1) as f64 * scale);
            let mut sum = 0.0;
            let mut i = from.floor() as usize;
            while (i as f64) < to && i < row.len() {
                let overlap = (to.min(i as f64 + 1.0) - from.max(i as f64)).max(0.0);
                sum += overlap * row[i];
                i += 1;
            }
            out[y * side + left + c] = sum / scale;
        }
    }
    out
}

impl FromStr for Preprocessing {
    type Err = PreprocessError;

    /// Parses `none`, `deslant`, `width=W` or `deslant+width=W` (either order; whitespace
    /// around items ignored).
    ///
    /// # Errors
    /// [`PreprocessError`] naming the item and the accepted forms.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut recipe = Preprocessing::NONE;
        let mut none = false;
        for item in spec.split('+').map(str::trim) {
            let repeated = || PreprocessError::Repeated {
                spec: spec.to_string(),
            };
            if item == "none" {
                if none {
                    return Err(repeated());
                }
                none = true;
            } else if item == "deslant" {
                if recipe.deslant {
                    return Err(repeated());
                }
                recipe.deslant = true;
            } else if let Some(w) = item.strip_prefix("width=") {
                if recipe.width.is_some() {
                    return Err(repeated());
                }
                let w = w
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|w| (1..=IMAGE_SIDE as u8).contains(w))
                    .ok_or_else(|| PreprocessError::Width {
                        spec: spec.to_string(),
                    })?;
                recipe.width = Some(w);
            } else {
                return Err(PreprocessError::Unknown {
                    item: item.to_string(),
                    spec: spec.to_string(),
                });
            }
        }
        if none && !recipe.is_none() {
            return Err(PreprocessError::Repeated {
                spec: spec.to_string(),
            });
        }
        Ok(recipe)
    }
}

impl fmt::Display for Preprocessing {
    /// `none`, `deslant`, `width=W` or `deslant+width=W`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.deslant, self.width) {
            (false, None) => f.write_str("none"),
            (true, None) => f.write_str("deslant"),
            (false, Some(w)) => write!(f, "width={w}"),
            (true, Some(w)) => write!(f, "deslant+width={w}"),
        }
    }
}

impl serde::Serialize for Preprocessing {
    /// As its recipe string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Preprocessing {
    /// From a recipe string; an invalid one fails with the [`PreprocessError`] message.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spec = String::deserialize(deserializer)?;
        spec.parse().map_err(serde::de::Error::custom)
    }
}
