//! Data augmentation for small grayscale images (MNIST's 28x28): random rotations, affine
//! warps, elastic deformations, additive noise and brightness/contrast jitter, parsed from a
//! one-line recipe such as `rotate=30,affine=20:0.1:0.9-1.1,jitter=0.2:0.2,noise=0.1`.
//!
//! An [`Augmentation`] is a list of [`Op`]s applied in the order written. Each op draws its
//! random parameters from the [`Rng`] handed to [`Augmentation::apply`] in a fixed, documented
//! order, so an image's augmentation is a function of the image and the rng's key alone: keyed
//! by (seed, epoch, image index) ([`crate::augmented::image_key`]), a resumed run augments exactly as the
//! uninterrupted one did. Validation and test images are never augmented (that is the
//! caller's rule; nothing here knows about splits).
//!
//! The ops follow torchvision (`torchvision.transforms`: `RandomRotation`, `RandomAffine`,
//! `ColorJitter`, and the functions `_get_inverse_affine_matrix`, `F.affine`, `F.rotate`,
//! `adjust_brightness`, `adjust_contrast`) and, for the elastic deformation, Simard, Steinkraus
//! and Platt 2003, "Best practices for convolutional neural networks applied to visual
//! document analysis", section 2. Resampling and blurring follow imageproc's conventions
//! (`geometric_transformations::warp`, `filter::gaussian_blur_f32`) in a faster form (see the
//! comment in the module source above `inverse_affine_matrix`). The user documentation with the torchvision
//! equivalents is `docs/augmentation.md`.
//!
//! ```
//! use ember_datasets::augment::Augmentation;
//! use ember_engine::rng::{Rng, key};
//!
//! let recipe: Augmentation = "rotate=30,jitter=0.2:0.2".parse()?;
//! assert_eq!(recipe.to_string(), "rotate=30,jitter=0.2:0.2");
//! let image = vec![0u8; 28 * 28];
//! let out = recipe.apply(&image, 28, &mut Rng::new(key(&[7, 0, 42])));
//! assert_eq!(out.len(), 28 * 28);
//! # Ok::<(), ember_datasets::augment::AugmentError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use ember_engine::rng::{Rng, key};
use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};

#[cfg(test)]
mod tests;

/// The operation names, in the order the errors list them.
const NAMES: &str = "rotate, affine, elastic, noise, jitter";

/// One augmentation step. All parameters are `f64`; [`Augmentation::new`] and parsing check
/// the ranges given here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `rotate=D`: torchvision's `RandomRotation(degrees=D)`. Angle ~ U(-D, D) degrees,
    /// counter-clockwise for positive angles (as `F.rotate`), about the image centre
    /// ((W-1)/2, (H-1)/2 in pixel-centre coordinates), bilinear, zero (black) fill.
    /// Draws: one uniform.
    Rotate {
        /// Largest absolute angle, degrees, in [0, 360].
        degrees: f64,
    },
    /// `affine=D:T:S0-S1[:SH]`: torchvision's `RandomAffine(degrees=D, translate=(T, T),
    /// scale=(S0, S1), shear=SH)`. Angle ~ U(-D, D) degrees; tx ~ U(-T·W, T·W) and
    /// ty ~ U(-T·H, T·H) pixels, each rounded half-to-even to whole pixels (Python's `round`,
    /// as `RandomAffine.get_params`); scale ~ U(S0, S1); x-shear ~ U(-SH, SH) degrees. The
    /// output-to-input matrix is `_get_inverse_affine_matrix` about the image centre
    /// (translate, then rotate/scale/shear about the centre). Bilinear, zero fill.
    /// Draws: five uniforms, always, in the order angle, tx, ty, scale, shear.
    Affine {
        /// Largest absolute angle, degrees, in [0, 360].
        degrees: f64,
        /// Largest translation as a fraction of the side, in [0, 1].
        translate: f64,
        /// Scale range `(S0, S1)`, 0 < S0 <= S1 <= 10; a spec `S` without a dash means `(S, S)`.
        scale: (f64, f64),
        /// Largest absolute x-shear, degrees, in [0, 90); 0 (no shear) when omitted.
        shear: f64,
    },
    /// `elastic=A:S`: the elastic distortion of Simard, Steinkraus and Platt 2003 (section 2):
    /// two fields of U(-1, 1) per pixel, each smoothed by a Gaussian of standard deviation S
    /// pixels (imageproc's `gaussian_blur_f32` kernel: radius ceil(2S), edges clamped), times A
    /// (pixels), and the image resampled bilinearly at (x + dx, y + dy), zero fill. The paper's
    /// MNIST values are A = 34, S = 4. torchvision's `ElasticTransform(alpha, sigma)`
    /// displaces by alpha/2 times its smoothed field in pixels, so it matches A = alpha/2
    /// (see `docs/augmentation.md`). Draws: W·H `uniform_f32` values u, mapped to 2u - 1, for
    /// dx (row-major), then W·H for dy.
    Elastic {
        /// Displacement scale A, pixels, in [0, 1000].
        alpha: f64,
        /// Smoothing standard deviation S, pixels, in (0, 100].
        sigma: f64,
    },
    /// `noise=SD`: additive Gaussian noise N(0, SD²) on the [0, 1] pixel values, then clamped
    /// to [0, 1]. Draws: one standard normal per pixel, row-major, in pairs by the polar method
    /// of Marsaglia and Bray 1964 (f32, from `uniform_f32`; 2.55 uniforms per pair on average).
    Noise {
        /// Standard deviation on the [0, 1] scale, in [0, 10].
        std: f64,
    },
    /// `jitter=B:C`: torchvision's `ColorJitter(brightness=B, contrast=C)` on a grayscale
    /// image. Brightness factor fb ~ U(max(0, 1-B), 1+B): x·fb (`adjust_brightness`);
    /// contrast factor fc ~ U(max(0, 1-C), 1+C): (x - m)·fc + m with m the image's mean after
    /// the brightness step (`adjust_contrast`); each step clamped to [0, 1]. Brightness always
    /// comes first (torchvision shuffles the order per call). Draws: two uniforms, fb then fc.
    Jitter {
        /// Brightness jitter B, in [0, 10].
        brightness: f64,
        /// Contrast jitter C, in [0, 10].
        contrast: f64,
    },
}

/// A parsed augmentation recipe: operations applied in the order written.
///
/// Its text form (`FromStr`, `Display`, and serde, which read and write that string, so a
/// config holds `augment = "rotate=30,elastic=34:4"`) is comma-separated `name=params` items
/// with `:`-separated numbers; see [`Op`] for each item and `docs/augmentation.md` for the
/// grammar. The empty recipe is `""` (the [`Default`]). An op may appear more than once (it
/// is applied once per appearance). For every valid recipe `x`,
/// `x.to_string().parse() == Ok(x)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Augmentation {
    ops: Vec<Op>,
}

/// Why an augmentation recipe was refused. Each message is one line that names the operation
/// and the allowed range or the fix, as the `train` command shows it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AugmentError {
    /// The name before `=` is not an operation.
    #[error("unknown augmentation '{name}' (expected one of: {NAMES})")]
    Unknown {
        /// The name as written.
        name: String,
    },
    /// Two commas in a row, or a comma at either end.
    #[error(
        "empty augmentation item in '{spec}' (items are name=params separated by single commas)"
    )]
    EmptyItem {
        /// The whole spec.
        spec: String,
    },
    /// A known operation written without `=params`.
    #[error("augmentation '{op}' needs parameters: write {op}={grammar}")]
    MissingParams {
        /// The operation.
        op: &'static str,
        /// Its parameter grammar, e.g. `D:T:S0-S1[:SH]`.
        grammar: &'static str,
    },
    /// The wrong number of `:`-separated parameters.
    #[error("augmentation '{op}' takes {grammar}, got '{got}'")]
    Arity {
        /// The operation.
        op: &'static str,
        /// Its parameter grammar.
        grammar: &'static str,
        /// The parameters as written.
        got: String,
    },
    /// A parameter that does not read as a number.
    #[error("augmentation '{op}': {param} must be a number, got '{got}'")]
    NotANumber {
        /// The operation.
        op: &'static str,
        /// The parameter's name.
        param: &'static str,
        /// The text as written.
        got: String,
    },
    /// A parameter that reads as infinity or NaN.
    #[error("augmentation '{op}': {param} must be a finite number, got {value}")]
    NotFinite {
        /// The operation.
        op: &'static str,
        /// The parameter's name.
        param: &'static str,
        /// The value read.
        value: f64,
    },
    /// A parameter outside its range.
    #[error("augmentation '{op}': {param} must be in {range}, got {value}")]
    OutOfRange {
        /// The operation.
        op: &'static str,
        /// The parameter's name.
        param: &'static str,
        /// The allowed range, e.g. `[0, 360]`.
        range: &'static str,
        /// The value given.
        value: f64,
    },
    /// An affine scale range written high-low.
    #[error("augmentation 'affine': scale must be written low-high (S0 <= S1), got {low}-{high}")]
    ScaleOrder {
        /// S0 as given.
        low: f64,
        /// S1 as given.
        high: f64,
    },
}

impl Op {
    /// The operation's name in the spec.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Rotate { .. } => "rotate",
            Op::Affine { .. } => "affine",
            Op::Elastic { .. } => "elastic",
            Op::Noise { .. } => "noise",
            Op::Jitter { .. } => "jitter",
        }
    }

    /// Checks every parameter against the ranges documented on [`Op`].
    ///
    /// # Errors
    /// [`AugmentError::NotFinite`], [`AugmentError::OutOfRange`] or
    /// [`AugmentError::ScaleOrder`] for the first parameter at fault.
    pub fn validate(&self) -> Result<(), AugmentError> {
        let op = self.name();
        match *self {
            Op::Rotate { degrees } => check(op, "degrees", degrees, &ANGLE),
            Op::Affine {
                degrees,
                translate,
                scale: (low, high),
                shear,
            } => {
                check(op, "degrees", degrees, &ANGLE)?;
                check(op, "translate", translate, &FRACTION)?;
                check(op, "scale S0", low, &SCALE)?;
                check(op, "scale S1", high, &SCALE)?;
                if low > high {
                    return Err(AugmentError::ScaleOrder { low, high });
                }
                check(op, "shear", shear, &SHEAR)
            }
            Op::Elastic { alpha, sigma } => {
                check(op, "alpha", alpha, &ALPHA)?;
                check(op, "sigma", sigma, &SIGMA)
            }
            Op::Noise { std } => check(op, "std", std, &UP_TO_TEN),
            Op::Jitter {
                brightness,
                contrast,
            } => {
                check(op, "brightness", brightness, &UP_TO_TEN)?;
                check(op, "contrast", contrast, &UP_TO_TEN)
            }
        }
    }

    /// Applies the op to a `side` x `side` image of [0, 1] values (row-major), drawing from
    /// `rng` in the order documented on the variant.
    fn apply(&self, pixels: Vec<f32>, side: usize, rng: &mut Rng) -> Vec<f32> {
        match *self {
            Op::Rotate { degrees } => {
                let angle = rng.range(-degrees, degrees);
                rotate_warp(&pixels, side, angle)
            }
            Op::Affine {
                degrees,
                translate,
                scale: (low, high),
                shear,
            } => {
                let angle = rng.range(-degrees, degrees);
                let max_dx = translate * side as f64;
                let max_dy = translate * side as f64;
                let tx = rng.range(-max_dx, max_dx).round_ties_even();
                let ty = rng.range(-max_dy, max_dy).round_ties_even();
                let scale = rng.range(low, high);
                let shear = rng.range(-shear, shear);
                affine_warp(&pixels, side, angle, (tx, ty), scale, shear)
            }
            Op::Elastic { alpha, sigma } => {
                let n = side * side;
                let field_x: Vec<f32> = (0..n).map(|_| 2.0 * rng.uniform_f32() - 1.0).collect();
                let field_y: Vec<f32> = (0..n).map(|_| 2.0 * rng.uniform_f32() - 1.0).collect();
                elastic_warp(&pixels, side, &field_x, &field_y, alpha, sigma)
            }
            Op::Noise { std } => {
                let mut noise = vec![0.0f32; pixels.len()];
                fill_normal(&mut noise, rng);
                let std = std as f32;
                let mut pixels = pixels;
                for (p, z) in pixels.iter_mut().zip(&noise) {
                    *p = (*p + std * z).clamp(0.0, 1.0);
                }
                pixels
            }
            Op::Jitter {
                brightness,
                contrast,
            } => {
                let fb = rng.range((1.0 - brightness).max(0.0), 1.0 + brightness) as f32;
                let fc = rng.range((1.0 - contrast).max(0.0), 1.0 + contrast) as f32;
                jitter(pixels, fb, fc)
            }
        }
    }

    /// The parameter grammar of an op name (after `name=`).
    fn grammar(name: &str) -> Option<(&'static str, &'static str)> {
        Some(match name {
            "rotate" => ("rotate", "D"),
            "affine" => ("affine", "D:T:S0-S1[:SH]"),
            "elastic" => ("elastic", "A:S"),
            "noise" => ("noise", "SD"),
            "jitter" => ("jitter", "B:C"),
            _ => return None,
        })
    }

    /// Parses one `name=params` item (already trimmed and non-empty) and validates it.
    fn parse_item(item: &str) -> Result<Op, AugmentError> {
        let (name, params) = match item.split_once('=') {
            Some((name, params)) => (name.trim(), Some(params.trim())),
            None => (item, None),
        };
        let Some((op, grammar)) = Op::grammar(name) else {
            return Err(AugmentError::Unknown {
                name: name.to_string(),
            });
        };
        let Some(params) = params else {
            return Err(AugmentError::MissingParams { op, grammar });
        };
        let fields: Vec<&str> = params.split(':').map(str::trim).collect();
        let arity = || AugmentError::Arity {
            op,
            grammar,
            got: params.to_string(),
        };
        let num = |param, text| number(op, param, text);
        let parsed = match (op, fields.as_slice()) {
            ("rotate", [d]) => Op::Rotate {
                degrees: num("degrees", d)?,
            },
            ("affine", [d, t, s, rest @ ..]) if rest.len() <= 1 => {
                let degrees = num("degrees", d)?;
                let translate = num("translate", t)?;
                let scale = match split_range(s) {
                    Some((low, high)) => (num("scale S0", low)?, num("scale S1", high)?),
                    None => {
                        let s = num("scale", s)?;
                        (s, s)
                    }
                };
                let shear = match rest {
                    [sh] => num("shear", sh)?,
                    _ => 0.0,
                };
                Op::Affine {
                    degrees,
                    translate,
                    scale,
                    shear,
                }
            }
            ("elastic", [a, s]) => Op::Elastic {
                alpha: num("alpha", a)?,
                sigma: num("sigma", s)?,
            },
            ("noise", [sd]) => Op::Noise {
                std: num("std", sd)?,
            },
            ("jitter", [b, c]) => Op::Jitter {
                brightness: num("brightness", b)?,
                contrast: num("contrast", c)?,
            },
            _ => return Err(arity()),
        };
        parsed.validate()?;
        Ok(parsed)
    }
}

impl fmt::Display for Op {
    /// The op's spec item, e.g. `affine=20:0.1:0.9-1.1` (the scale as one number when
    /// S0 = S1, the shear only when non-zero). Numbers use Rust's shortest round-trip form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::Rotate { degrees } => write!(f, "rotate={degrees}"),
            Op::Affine {
                degrees,
                translate,
                scale: (low, high),
                shear,
            } => {
                write!(f, "affine={degrees}:{translate}:")?;
                if low == high {
                    write!(f, "{low}")?;
                } else {
                    write!(f, "{low}-{high}")?;
                }
                if shear != 0.0 {
                    write!(f, ":{shear}")?;
                }
                Ok(())
            }
            Op::Elastic { alpha, sigma } => write!(f, "elastic={alpha}:{sigma}"),
            Op::Noise { std } => write!(f, "noise={std}"),
            Op::Jitter {
                brightness,
                contrast,
            } => write!(f, "jitter={brightness}:{contrast}"),
        }
    }
}

/// An allowed interval, with its text for the messages.
struct Bounds {
    low: f64,
    high: f64,
    low_open: bool,
    high_open: bool,
    text: &'static str,
}

impl Bounds {
    const fn closed(low: f64, high: f64, text: &'static str) -> Self {
        Self {
            low,
            high,
            low_open: false,
            high_open: false,
            text,
        }
    }

    fn contains(&self, value: f64) -> bool {
        let above = if self.low_open {
            value > self.low
        } else {
            value >= self.low
        };
        let below = if self.high_open {
            value < self.high
        } else {
            value <= self.high
        };
        above && below
    }
}

const ANGLE: Bounds = Bounds::closed(0.0, 360.0, "[0, 360]");
const FRACTION: Bounds = Bounds::closed(0.0, 1.0, "[0, 1]");
const SCALE: Bounds = Bounds {
    low_open: true,
    ..Bounds::closed(0.0, 10.0, "(0, 10]")
};
const SHEAR: Bounds = Bounds {
    high_open: true,
    ..Bounds::closed(0.0, 90.0, "[0, 90)")
};
const ALPHA: Bounds = Bounds::closed(0.0, 1000.0, "[0, 1000]");
const SIGMA: Bounds = Bounds {
    low_open: true,
    ..Bounds::closed(0.0, 100.0, "(0, 100]")
};
const UP_TO_TEN: Bounds = Bounds::closed(0.0, 10.0, "[0, 10]");

/// `value` must be finite and within `bounds`.
fn check(
    op: &'static str,
    param: &'static str,
    value: f64,
    bounds: &Bounds,
) -> Result<(), AugmentError> {
    if !value.is_finite() {
        Err(AugmentError::NotFinite { op, param, value })
    } else if bounds.contains(value) {
        Ok(())
    } else {
        Err(AugmentError::OutOfRange {
            op,
            param,
            range: bounds.text,
            value,
        })
    }
}

/// Reads one parameter; infinities and NaN are refused.
fn number(op: &'static str, param: &'static str, text: &str) -> Result<f64, AugmentError> {
    let value: f64 = text.parse().map_err(|_| AugmentError::NotANumber {
        op,
        param,
        got: text.to_string(),
    })?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(AugmentError::NotFinite { op, param, value })
    }
}

/// Splits `S0-S1` at the dash that separates two numbers (not a leading sign, not an
/// exponent's sign); `None` for a single number.
fn split_range(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    (1..bytes.len())
        .find(|&i| bytes[i] == b'-' && !matches!(bytes[i - 1], b'e' | b'E'))
        .map(|i| (text[..i].trim(), text[i + 1..].trim()))
}

impl Augmentation {
    /// A recipe from ops, checked as parsing checks them.
    ///
    /// # Errors
    /// The first op's error from [`Op::validate`].
    pub fn new(ops: Vec<Op>) -> Result<Self, AugmentError> {
        for op in &ops {
            op.validate()?;
        }
        Ok(Self { ops })
    }

    /// The ops, in the order they are applied.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Whether the recipe has no op (then [`apply`](Self::apply) only scales to [0, 1]).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// One image, row-major u8 pixels of a `side` x `side` image (`side * side` bytes),
    /// augmented with draws from `rng`; returns `side * side` f32 pixel values in [0, 1]
    /// (pixel/255 before any op). Deterministic: same image, same rng state, same output,
    /// bit for bit. The ops draw in recipe order, each as documented on [`Op`].
    ///
    /// # Panics
    /// If `image.len() != side * side`.
    pub fn apply(&self, image: &[u8], side: usize, rng: &mut Rng) -> Vec<f32> {
        assert_eq!(
            image.len(),
            side * side,
            "augment: an image of {} bytes is not {side}x{side}",
            image.len()
        );
        let mut pixels: Vec<f32> = image.iter().map(|&p| f32::from(p) / 255.0).collect();
        for op in &self.ops {
            pixels = op.apply(pixels, side, rng);
        }
        pixels
    }
}

impl FromStr for Augmentation {
    type Err = AugmentError;

    /// Parses a recipe: comma-separated `name=params` items (whitespace around items, names
    /// and numbers is ignored); an empty or all-blank string is the empty recipe.
    ///
    /// # Errors
    /// [`AugmentError`] for the first item at fault: an empty item, an unknown name, missing
    /// or extra parameters, a parameter that is not a finite number or is out of range.
    fn from_str(spec: &str) -> Result<Self, AugmentError> {
        if spec.trim().is_empty() {
            return Ok(Self::default());
        }
        let ops = spec
            .split(',')
            .map(|item| match item.trim() {
                "" => Err(AugmentError::EmptyItem {
                    spec: spec.to_string(),
                }),
                item => Op::parse_item(item),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { ops })
    }
}

impl fmt::Display for Augmentation {
    /// The recipe's spec, items joined by `,` (empty for the empty recipe).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, op) in self.ops.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{op}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Augmentation {
    /// As its spec string.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Augmentation {
    /// From a spec string; an invalid spec fails with the [`AugmentError`] message.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spec = String::deserialize(deserializer)?;
        spec.parse().map_err(serde::de::Error::custom)
    }
}

// Why the resampling, the blur and the normal draws are ember's own code and not imageproc's
// `warp`/`warp_with`/`filter::gaussian_blur_f32` or `Rng::normal`: those do the job
// convention for convention (pixel centres at integers, each bilinear corner outside the image
// reads 0, Gaussian radius ceil(2 sigma) with clamped edges; the tests check imageproc's output
// against ours), but on a 28x28 image, measured on the 2-core EPYC VM, one `warp` costs about
// 11 us (a generic per-pixel path: `Border` match and bounds check on each of the four corners,
// per-channel closures), one `gaussian_blur_f32` about 17 us per field, and 784 `Rng::normal`
// draws (one Box-Muller value of a pair, f64 log and cosine) about 22 us, against a budget of
// under 20 us for the seed's whole recipe. The pieces below are each a few lines.

/// torchvision's `_get_inverse_affine_matrix(center=[0, 0], angle, translate, scale,
/// [shear, 0])` (inverted=True): the 2x3 map from output to input coordinates relative to the
/// image centre, row-major. `angle` is clockwise in degrees (`F.affine`'s convention;
/// `F.rotate` passes `-angle`), `shear` the x-shear in degrees.
fn inverse_affine_matrix(angle: f64, translate: (f64, f64), scale: f64, shear: f64) -> [f64; 6] {
    let rot = angle.to_radians();
    let sx = shear.to_radians();
    let sy = 0.0_f64;
    let (tx, ty) = translate;
    // RotateScaleShear without scaling.
    let a = (rot - sy).cos() / sy.cos();
    let b = -(rot - sy).cos() * sx.tan() / sy.cos() - rot.sin();
    let c = (rot - sy).sin() / sy.cos();
    let d = -(rot - sy).sin() * sx.tan() / sy.cos() + rot.cos();
    // Its inverse (determinant 1) over the scale, after undoing the translation (centre 0).
    let m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0];
    [
        m[0],
        m[1],
        m[0] * -tx + m[1] * -ty,
        m[3],
        m[4],
        m[3] * -tx + m[4] * -ty,
    ]
}

/// The output-to-input matrix of [`affine_warp`] in pixel-index coordinates (row-major 2x3,
/// f32): torchvision's matrix conjugated by the move to the centre ((side-1)/2, (side-1)/2).
fn affine_index_matrix(
    side: usize,
    angle: f64,
    translate: (f64, f64),
    scale: f64,
    shear: f64,
) -> [f32; 6] {
    let m = inverse_affine_matrix(angle, translate, scale, shear);
    let c = (side as f64 - 1.0) / 2.0;
    [
        m[0] as f32,
        m[1] as f32,
        (m[2] + c - m[0] * c - m[1] * c) as f32,
        m[3] as f32,
        m[4] as f32,
        (m[5] + c - m[3] * c - m[4] * c) as f32,
    ]
}

/// `F.affine(image, angle, translate, scale, [shear, 0])` with bilinear sampling and zero
/// fill on a `side` x `side` image of [0, 1] values: `angle` clockwise degrees, `translate`
/// pixels, `shear` x-shear degrees; pixel centres at integers, centre ((side-1)/2, (side-1)/2)
/// as in torchvision's tensor path (`_gen_affine_grid`, `grid_sample(align_corners=False)`).
///
/// Outside the image each bilinear corner reads 0 (grid_sample's `padding_mode="zeros"`,
/// scipy's `mode="grid-constant"`). torchvision's tensor path then also multiplies the
/// one-pixel rim by the in-image weight (its fill mask); ember does not (no effect on MNIST,
/// whose border is black).
pub(crate) fn affine_warp(
    image: &[f32],
    side: usize,
    angle: f64,
    translate: (f64, f64),
    scale: f64,
    shear: f64,
) -> Vec<f32> {
    let m = affine_index_matrix(side, angle, translate, scale, shear);
    resample(image, side, |x, y| {
        let (x, y) = (x as f32, y as f32);
        (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
    })
}

/// `F.rotate(image, angle)`: counter-clockwise `angle` degrees about the centre (see
/// [`affine_warp`]).
pub(crate) fn rotate_warp(image: &[f32], side: usize, angle: f64) -> Vec<f32> {
    affine_warp(image, side, -angle, (0.0, 0.0), 1.0, 0.0)
}

/// Simard et al.'s elastic deformation from given raw fields (`side * side` values each,
/// row-major, U(-1, 1) in [`Op::Elastic`]): each field blurred as imageproc's
/// `gaussian_blur_f32(sigma)` does (radius ceil(2·sigma), edges clamped), times `alpha`, and
/// the image sampled bilinearly at (x + dx, y + dy) with zero fill.
pub(crate) fn elastic_warp(
    image: &[f32],
    side: usize,
    field_x: &[f32],
    field_y: &[f32],
    alpha: f64,
    sigma: f64,
) -> Vec<f32> {
    let blur = GaussianBlur::new(side, sigma as f32);
    let dx = blur.apply(field_x);
    let dy = blur.apply(field_y);
    let alpha = alpha as f32;
    resample(image, side, |x, y| {
        let i = y * side + x;
        (x as f32 + alpha * dx[i], y as f32 + alpha * dy[i])
    })
}

/// Bilinear resampling of a `side` x `side` image: output pixel (x, y) is the input sampled at
/// `at(x, y)` (input coordinates, pixel centres at integers). Each of the four neighbours that
/// falls outside the image reads 0 (grid_sample's zero padding, scipy's `grid-constant`): the
/// image is copied into a zero frame two pixels wide (three on the far sides), and sample
/// points are clamped into [-2, side + 1], where every point beyond reads four zeros anyway,
/// so the loop has no branch.
fn resample(src: &[f32], side: usize, at: impl Fn(usize, usize) -> (f32, f32)) -> Vec<f32> {
    const PAD: usize = 2;
    assert_eq!(
        src.len(),
        side * side,
        "augment: image is not {side}x{side}"
    );
    let width = side + 2 * PAD + 1;
    let mut framed = vec![0.0f32; width * width];
    for (y, row) in src.chunks_exact(side.max(1)).enumerate() {
        framed[(y + PAD) * width + PAD..][..side].copy_from_slice(row);
    }
    let (lo, hi) = (-(PAD as f32), side as f32 + PAD as f32 - 1.0);
    let mut out = vec![0.0f32; side * side];
    for y in 0..side {
        for x in 0..side {
            let (sx, sy) = at(x, y);
            // Shifted into the frame, the points are >= 0: truncation is floor.
            let fx = sx.max(lo).min(hi) + PAD as f32;
            let fy = sy.max(lo).min(hi) + PAD as f32;
            let (x0, y0) = (fx as i32 as usize, fy as i32 as usize);
            let (wx, wy) = (fx - x0 as f32, fy - y0 as f32);
            let i = y0 * width + x0;
            let (a, b) = (framed[i], framed[i + 1]);
            let (c, d) = (framed[i + width], framed[i + width + 1]);
            let top = (1.0 - wx) * a + wx * b;
            let bottom = (1.0 - wx) * c + wx * d;
            out[y * side + x] = (1.0 - wy) * top + wy * bottom;
        }
    }
    out
}

/// A separable Gaussian blur of `side` x `side` images with imageproc's `gaussian_blur_f32`
/// kernel (radius ceil(2·sigma), computed in f32; weights exp(-j²/2σ²) normalized to sum 1;
/// out-of-image taps read the nearest edge pixel), the edge clamping folded into a banded
/// `side` x `side` weight matrix so both passes are plain multiply-adds over rows.
struct GaussianBlur {
    side: usize,
    /// Row x: the weight of input p in output x (after folding the clamped taps).
    weights: Vec<f32>,
    /// The transpose: row p holds input p's weight in each output x.
    transposed: Vec<f32>,
    /// For each x, the range of p with a weight (the band).
    band: Vec<(usize, usize)>,
}

impl GaussianBlur {
    fn new(side: usize, sigma: f32) -> Self {
        let radius = (2.0 * sigma).ceil() as i64;
        let kernel: Vec<f64> = (-radius..=radius)
            .map(|j| (-((j * j) as f64) / (2.0 * f64::from(sigma).powi(2))).exp())
            .collect();
        let total: f64 = kernel.iter().sum();
        let mut weights = vec![0.0f32; side * side];
        let mut band = Vec::with_capacity(side);
        let last = side as i64 - 1;
        for x in 0..side {
            for (k, j) in kernel.iter().zip(-radius..=radius) {
                let p = (x as i64 + j).clamp(0, last) as usize;
                weights[x * side + p] += (k / total) as f32;
            }
            let lo = (x as i64 - radius).clamp(0, last) as usize;
            let hi = (x as i64 + radius).clamp(0, last) as usize;
            band.push((lo, hi));
        }
        let mut transposed = vec![0.0f32; side * side];
        for x in 0..side {
            for p in 0..side {
                transposed[p * side + x] = weights[x * side + p];
            }
        }
        Self {
            side,
            weights,
            transposed,
            band,
        }
    }

    /// The blurred field: along rows, then along columns.
    fn apply(&self, field: &[f32]) -> Vec<f32> {
        let side = self.side;
        assert_eq!(
            field.len(),
            side * side,
            "augment: field is not {side}x{side}"
        );
        // Along rows: each output row is a weighted sum of the transposed weight rows, input
        // p's band at a time (multiply-adds across x, which vectorize; a dot product per pixel
        // would be a serial chain of float additions).
        let mut rows = vec![0.0f32; side * side];
        for (out_row, in_row) in rows.chunks_exact_mut(side).zip(field.chunks_exact(side)) {
            for (p, &value) in in_row.iter().enumerate() {
                // The band is symmetric: outputs within the radius of p.
                let (lo, hi) = self.band[p];
                let weights = &self.transposed[p * side + lo..=p * side + hi];
                for (o, w) in out_row[lo..=hi].iter_mut().zip(weights) {
                    *o += value * w;
                }
            }
        }
        // Along columns: each output row is a weighted sum of whole rows (vectorizes).
        let mut out = vec![0.0f32; side * side];
        for (y, out_row) in out.chunks_exact_mut(side).enumerate() {
            let (lo, hi) = self.band[y];
            for q in lo..=hi {
                let w = self.weights[y * side + q];
                for (o, r) in out_row.iter_mut().zip(&rows[q * side..(q + 1) * side]) {
                    *o += w * r;
                }
            }
        }
        out
    }
}

/// Standard normal draws, both values of each pair: the polar method of Marsaglia and Bray
/// (1964, "A convenient method for generating normal variables"), in f32 from
/// `Rng::uniform_f32`: u, v ~ U(-1, 1) until 0 < s = u² + v² < 1, then u·f and v·f with
/// f = sqrt(-2 ln s / s). Consumes a variable number of draws (1.27 pairs of uniforms per
/// pair of normals on average), always the same for the same rng state.
fn fill_normal(out: &mut [f32], rng: &mut Rng) {
    let mut chunks = out.chunks_mut(2);
    for pair in &mut chunks {
        let (u, v, s) = loop {
            let u = 2.0 * rng.uniform_f32() - 1.0;
            let v = 2.0 * rng.uniform_f32() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                break (u, v, s);
            }
        };
        let f = (-2.0 * s.ln() / s).sqrt();
        pair[0] = u * f;
        if let Some(second) = pair.get_mut(1) {
            *second = v * f;
        }
    }
}

/// `adjust_brightness` by `fb` then `adjust_contrast` by `fc` (about the image mean after the
/// brightness step), each clamped to [0, 1].
fn jitter(mut pixels: Vec<f32>, fb: f32, fc: f32) -> Vec<f32> {
    for p in &mut pixels {
        *p = (*p * fb).clamp(0.0, 1.0);
    }
    let mean =
        (pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / pixels.len().max(1) as f64) as f32;
    for p in &mut pixels {
        *p = ((*p - mean) * fc + mean).clamp(0.0, 1.0);
    }
    pixels
}

/// The gap between preview cells: mid gray, so black image borders stay visible.
const GAP_VALUE: u8 = 128;

/// A PNG-ready grid for looking at a recipe: one row per original image, the original in the
/// first column and `per_image` augmentations beside it (column `col` = 1..=`per_image` drawn
/// with `Rng::new(ember_engine::rng::key(&[seed, row as u64, col as u64]))`), 1-pixel mid-gray
/// gaps between cells, each pixel scaled up by `zoom` (nearest; 0 counts as 1). Augmented
/// values in [0, 1] are shown as `round(255·v)`.
///
/// The result is `(1 + per_image)·side·zoom + per_image` pixels wide and
/// `rows·side·zoom + rows - 1` high (0 for no image); save it with `GrayImage::save`.
///
/// # Panics
/// If an image is not `side * side` bytes.
pub fn preview_grid(
    images: &[&[u8]],
    side: usize,
    augmentation: &Augmentation,
    per_image: usize,
    seed: u64,
    zoom: u32,
) -> GrayImage {
    let zoom = zoom.max(1);
    let side32 = u32::try_from(side).expect("image side fits in u32");
    let cell = side32 * zoom;
    let cols = 1 + per_image as u32;
    let rows = images.len() as u32;
    let width = cols * cell + (cols - 1);
    let height = (rows * cell + rows).saturating_sub(1);
    let mut grid = GrayImage::from_pixel(width, height, Luma([GAP_VALUE]));
    for (row, image) in images.iter().enumerate() {
        for col in 0..cols {
            let pixels: Vec<u8> = if col == 0 {
                image.to_vec()
            } else {
                let mut rng = Rng::new(key(&[seed, row as u64, u64::from(col)]));
                augmentation
                    .apply(image, side, &mut rng)
                    .iter()
                    .map(|&v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
                    .collect()
            };
            assert_eq!(
                pixels.len(),
                side * side,
                "augment: image {row} is not {side}x{side}"
            );
            let small = GrayImage::from_raw(side32, side32, pixels).expect("side * side pixels");
            let big = imageops::resize(&small, cell, cell, FilterType::Nearest);
            let (x, y) = (col * (cell + 1), row as u32 * (cell + 1));
            imageops::replace(&mut grid, &big, i64::from(x), i64::from(y));
        }
    }
    grid
}
