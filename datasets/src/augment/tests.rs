//! Tests of the augmentation module against independent references: scipy for the warps
//! (fixtures written by tools/reference/augment_reference.py), numpy's rot90, and the
//! statistics the jitter and noise ops promise.

use super::*;
use ember_engine::rng::{Rng, key};
use serde::Deserialize;

const AFFINE_FIXTURE: &str = include_str!("../../tests/fixtures/augment/affine.json");
const ELASTIC_FIXTURE: &str = include_str!("../../tests/fixtures/augment/elastic.json");

#[derive(Deserialize)]
struct AffineFixture {
    side: usize,
    image: Vec<u8>,
    rot90: Vec<u8>,
    cases: Vec<AffineCase>,
}

#[derive(Deserialize)]
struct AffineCase {
    name: String,
    angle: f64,
    translate: (f64, f64),
    scale: f64,
    shear: f64,
    expected: Vec<f32>,
}

#[derive(Deserialize)]
struct ElasticFixture {
    side: usize,
    image: Vec<u8>,
    cases: Vec<ElasticCase>,
}

#[derive(Deserialize)]
struct ElasticCase {
    name: String,
    alpha: f64,
    sigma: f64,
    field_x: Vec<f32>,
    field_y: Vec<f32>,
    expected: Vec<f32>,
}

fn unit(image: &[u8]) -> Vec<f32> {
    image.iter().map(|&p| f32::from(p) / 255.0).collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn seed_recipe() -> Augmentation {
    "rotate=30,affine=20:0.1:0.9-1.1,jitter=0.2:0.2,noise=0.1"
        .parse()
        .unwrap()
}

/// Bilinear sampling through torchvision's matrix, against scipy.ndimage.affine_transform
/// (order=1, mode='grid-constant') in float64. Both sample the same points; the difference is
/// float32 rounding of the coordinates (~28 · 2⁻²⁴ ≈ 2e-6 pixels) and of the blend, so 1e-5 on
/// every pixel, border included.
#[test]
fn affine_warp_matches_scipy() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let image = unit(&fixture.image);
    assert_eq!(fixture.cases.len(), 9);
    for case in &fixture.cases {
        let out = affine_warp(
            &image,
            fixture.side,
            case.angle,
            case.translate,
            case.scale,
            case.shear,
        );
        let diff = max_abs_diff(&out, &case.expected);
        eprintln!("affine {}: max |ember - scipy| = {diff:e}", case.name);
        assert!(diff < 1e-5, "{}: max |ember - scipy| = {diff}", case.name);
    }
}

/// Our resampler is imageproc's `warp` (bilinear, `Border::Constant(0)`) made faster: same
/// sample points, same per-corner zero fill, so the two agree to float32 rounding.
#[test]
fn resampling_agrees_with_imageproc_warp() {
    use image::{ImageBuffer, Luma};
    use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp};
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let image = unit(&fixture.image);
    let src: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(28, 28, image.clone()).unwrap();
    for case in &fixture.cases {
        let m = affine_index_matrix(28, case.angle, case.translate, case.scale, case.shear);
        let inverse = [m[0], m[1], m[2], m[3], m[4], m[5], 0.0, 0.0, 1.0];
        // warp takes the input-to-output map and samples through its inverse.
        let projection = Projection::from_matrix(inverse).unwrap().invert();
        let theirs = warp(
            &src,
            projection,
            Interpolation::Bilinear,
            Border::Constant(Luma([0.0])),
        )
        .into_raw();
        let ours = affine_warp(
            &image,
            28,
            case.angle,
            case.translate,
            case.scale,
            case.shear,
        );
        let diff = max_abs_diff(&ours, &theirs);
        assert!(
            diff < 1e-5,
            "{}: max |ember - imageproc| = {diff}",
            case.name
        );
    }
}

/// Our blur is imageproc's `gaussian_blur_f32` (same kernel, same clamped edges) with the edge
/// handling folded into weights, for small and large sigmas (radius beyond the image too).
#[test]
fn blur_agrees_with_imageproc() {
    use image::{ImageBuffer, Luma};
    let fixture: ElasticFixture = serde_json::from_str(ELASTIC_FIXTURE).unwrap();
    let field = &fixture.cases[0].field_x;
    let src: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_raw(28, 28, field.clone()).unwrap();
    for sigma in [0.3f32, 0.5, 1.3, 4.0, 7.7, 20.0, 100.0] {
        let theirs = imageproc::filter::gaussian_blur_f32(&src, sigma).into_raw();
        let ours = GaussianBlur::new(28, sigma).apply(field);
        let diff = max_abs_diff(&ours, &theirs);
        assert!(
            diff < 1e-6,
            "sigma {sigma}: max |ember - imageproc| = {diff}"
        );
    }
}

/// The references are not trivial: every case but the identity moves the image.
#[test]
fn affine_fixture_cases_differ_from_the_image() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let image = unit(&fixture.image);
    for case in fixture.cases.iter().filter(|c| c.name != "identity") {
        assert!(max_abs_diff(&image, &case.expected) > 0.3, "{}", case.name);
    }
}

/// Simard et al.'s elastic deformation against scipy's gaussian_filter (mode='nearest',
/// truncate = ceil(2σ)/σ, i.e. imageproc's kernel radius) and map_coordinates(order=1,
/// mode='grid-constant'), from the same raw fields. The blurred fields agree to float32
/// rounding of a 17-tap sum (~1e-7), which alpha = 34 turns into ~5e-6 pixels of sample
/// position at most; measured 1.1e-6, so 1e-5 on every pixel.
#[test]
fn elastic_warp_matches_scipy() {
    let fixture: ElasticFixture = serde_json::from_str(ELASTIC_FIXTURE).unwrap();
    let image = unit(&fixture.image);
    assert_eq!(fixture.cases.len(), 2);
    for case in &fixture.cases {
        let out = elastic_warp(
            &image,
            fixture.side,
            &case.field_x,
            &case.field_y,
            case.alpha,
            case.sigma,
        );
        let diff = max_abs_diff(&out, &case.expected);
        eprintln!("elastic {}: max |ember - scipy| = {diff:e}", case.name);
        assert!(diff < 1e-5, "{}: max |ember - scipy| = {diff}", case.name);
        assert!(max_abs_diff(&image, &case.expected) > 0.3, "{}", case.name);
    }
}

/// A quarter turn counter-clockwise about (13.5, 13.5) maps pixel centres onto pixel centres,
/// so it must reproduce numpy's rot90 (counter-clockwise) on every pixel.
#[test]
fn rotating_90_degrees_is_np_rot90() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let image = unit(&fixture.image);
    let expected = unit(&fixture.rot90);
    let out = rotate_warp(&image, fixture.side, 90.0);
    assert!(max_abs_diff(&out, &expected) < 1e-6);
    // and back: -90 degrees undoes it; +90 is not -90 (the image is asymmetric).
    let back = rotate_warp(&expected, fixture.side, -90.0);
    assert!(max_abs_diff(&back, &image) < 1e-6);
    let clockwise = rotate_warp(&image, fixture.side, -90.0);
    assert!(max_abs_diff(&clockwise, &expected) > 0.5);
}

/// Zero-strength ops are the identity, exactly.
#[test]
fn zero_strength_ops_are_the_identity() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let image = unit(&fixture.image);
    let recipe: Augmentation = "rotate=0,affine=0:0:1,elastic=0:4,noise=0".parse().unwrap();
    let out = recipe.apply(&fixture.image, 28, &mut Rng::new(key(&[1])));
    assert_eq!(out, image);
    // (x - m)·1 + m rounds in float32: the identity to an ulp.
    let jitter: Augmentation = "jitter=0:0".parse().unwrap();
    let out = jitter.apply(&fixture.image, 28, &mut Rng::new(key(&[1])));
    assert!(max_abs_diff(&out, &image) < 1e-6);
    assert_eq!(
        Augmentation::default().apply(&fixture.image, 28, &mut Rng::new(0)),
        image
    );
}

/// `rotate=D` draws its angle in [-D, D]: with D = 90 the quarter turns are the extremes, and
/// an image rotated by some angle in range stays close to one of those rotations in mass.
#[test]
fn rotate_draws_its_angle_from_the_rng_in_range() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let image = unit(&fixture.image);
    let recipe: Augmentation = "rotate=10".parse().unwrap();
    for i in 0..50 {
        let mut rng = Rng::new(key(&[3, i]));
        let out = recipe.apply(&fixture.image, 28, &mut rng);
        let angle = Rng::new(key(&[3, i])).range(-10.0, 10.0);
        assert!((-10.0..10.0).contains(&angle));
        assert_eq!(out, rotate_warp(&image, 28, angle), "draw {i}");
    }
}

/// `affine` draws angle, tx, ty, scale, shear in that order, translations rounded half to even.
#[test]
fn affine_draws_in_the_documented_order() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let image = unit(&fixture.image);
    let recipe: Augmentation = "affine=20:0.1:0.9-1.1:5".parse().unwrap();
    for i in 0..20 {
        let out = recipe.apply(&fixture.image, 28, &mut Rng::new(key(&[4, i])));
        let mut rng = Rng::new(key(&[4, i]));
        let angle = rng.range(-20.0, 20.0);
        let tx = rng.range(-2.8, 2.8).round_ties_even();
        let ty = rng.range(-2.8, 2.8).round_ties_even();
        assert!(tx.abs() <= 3.0 && ty.abs() <= 3.0 && tx.fract() == 0.0);
        let scale = rng.range(0.9, 1.1);
        let shear = rng.range(-5.0, 5.0);
        assert_eq!(
            out,
            affine_warp(&image, 28, angle, (tx, ty), scale, shear),
            "draw {i}"
        );
    }
}

/// Brightness multiplies by a factor drawn in [1 - B, 1 + B] and its extremes are reached.
#[test]
fn brightness_factor_covers_its_range() {
    let image = vec![100u8; 28 * 28];
    let recipe: Augmentation = "jitter=0.3:0".parse().unwrap();
    let (mut low, mut high) = (f32::MAX, f32::MIN);
    for i in 0..2000 {
        let out = recipe.apply(&image, 28, &mut Rng::new(key(&[5, i])));
        let factor = out[0] / (100.0 / 255.0);
        assert!(out.iter().all(|&v| v == out[0]), "one factor per image");
        assert!((0.7 - 1e-6..=1.3 + 1e-6).contains(&factor), "{factor}");
        low = low.min(factor);
        high = high.max(factor);
    }
    assert!(low < 0.71 && high > 1.29, "range seen [{low}, {high}]");
}

/// Contrast scales deviations from the mean by a factor in [1 - C, 1 + C] and keeps the mean
/// when nothing clamps.
#[test]
fn contrast_keeps_the_mean() {
    // Values in [0.4, 0.6]: a factor up to 1.5 keeps them inside [0, 1].
    let image: Vec<u8> = (0..28 * 28).map(|i| 102 + (i * 7 % 51) as u8).collect();
    let source = unit(&image);
    let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
    let spread = |v: &[f32], m: f64| v.iter().map(|&x| (f64::from(x) - m).abs()).sum::<f64>();
    let (m0, s0) = (mean(&source), spread(&source, mean(&source)));
    let recipe: Augmentation = "jitter=0:0.5".parse().unwrap();
    let (mut low, mut high) = (f64::MAX, f64::MIN);
    for i in 0..500 {
        let out = recipe.apply(&image, 28, &mut Rng::new(key(&[6, i])));
        let m = mean(&out);
        assert!((m - m0).abs() < 1e-6, "mean {m} vs {m0}");
        let factor = spread(&out, m) / s0;
        assert!((0.5 - 1e-5..=1.5 + 1e-5).contains(&factor), "{factor}");
        low = low.min(factor);
        high = high.max(factor);
    }
    assert!(low < 0.52 && high > 1.48, "range seen [{low}, {high}]");
}

/// Jitter clamps to [0, 1] after each step.
#[test]
fn jitter_clamps() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let recipe: Augmentation = "jitter=10:10".parse().unwrap();
    let mut saw_one = false;
    for i in 0..50 {
        let out = recipe.apply(&fixture.image, 28, &mut Rng::new(key(&[7, i])));
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
        saw_one |= out.contains(&1.0);
    }
    assert!(saw_one);
}

/// Noise: zero mean, standard deviation SD (over 100 images of 784 pixels the sample standard
/// deviation is within ~0.3% of SD, so 2% is loose), independent pixels, and clamping.
#[test]
fn noise_has_its_std_and_clamps() {
    let image = vec![128u8; 28 * 28];
    let base = 128.0 / 255.0;
    let recipe: Augmentation = "noise=0.1".parse().unwrap();
    let (mut n, mut s, mut s2, mut lag) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..100 {
        let out = recipe.apply(&image, 28, &mut Rng::new(key(&[8, i])));
        for (j, &v) in out.iter().enumerate() {
            let e = f64::from(v) - base;
            n += 1.0;
            s += e;
            s2 += e * e;
            if j > 0 {
                lag += e * (f64::from(out[j - 1]) - base);
            }
        }
    }
    let std = (s2 / n - (s / n).powi(2)).sqrt();
    // Normal, not just the right variance: the mass within 1 and 2 standard deviations.
    let (mut one, mut two, mut count) = (0.0, 0.0, 0.0);
    for i in 0..100 {
        for v in recipe.apply(&image, 28, &mut Rng::new(key(&[8, i]))) {
            let z = ((f64::from(v) - base) / 0.1).abs();
            count += 1.0;
            one += f64::from(u8::from(z < 1.0));
            two += f64::from(u8::from(z < 2.0));
        }
    }
    assert!(
        (one / count - 0.6827).abs() < 0.005,
        "within 1 sd: {}",
        one / count
    );
    assert!(
        (two / count - 0.9545).abs() < 0.003,
        "within 2 sd: {}",
        two / count
    );
    assert!((s / n).abs() < 0.002, "mean {}", s / n);
    assert!((std - 0.1).abs() < 0.002, "std {std}");
    assert!(
        (lag / n / 0.01).abs() < 0.05,
        "neighbour correlation {}",
        lag / n / 0.01
    );

    let loud: Augmentation = "noise=1".parse().unwrap();
    let out = loud.apply(&image, 28, &mut Rng::new(key(&[9])));
    assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(out.contains(&0.0) && out.contains(&1.0));
}

/// Every op keeps values in [0, 1] and the image's size.
#[test]
fn outputs_stay_in_the_unit_interval() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let recipe: Augmentation =
        "rotate=180,affine=30:0.3:0.5-2:20,elastic=34:4,jitter=1:1,noise=0.2,elastic=8:1.3"
            .parse()
            .unwrap();
    for i in 0..20 {
        let out = recipe.apply(&fixture.image, 28, &mut Rng::new(key(&[10, i])));
        assert_eq!(out.len(), 28 * 28);
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

/// Same key, same output bit for bit; another key, another output.
#[test]
fn augmentation_is_a_function_of_the_key() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
    let elastic = seed_recipe().to_string() + ",elastic=34:4";
    for recipe in [seed_recipe(), elastic.parse().unwrap()] {
        let run = |k: u64| bits(recipe.apply(&fixture.image, 28, &mut Rng::new(key(&[42, 3, k]))));
        assert_eq!(run(17), run(17));
        assert_ne!(run(17), run(18));
        // an rng's state moves on: a second image from the same rng differs too.
        let mut rng = Rng::new(key(&[42, 3, 17]));
        let first = recipe.apply(&fixture.image, 28, &mut rng);
        let second = recipe.apply(&fixture.image, 28, &mut rng);
        assert_ne!(bits(first), bits(second));
    }
}

#[test]
fn specs_round_trip() {
    for (spec, canonical) in [
        ("", ""),
        ("   ", ""),
        ("rotate=30", "rotate=30"),
        ("rotate=0.5", "rotate=0.5"),
        (
            "rotate=30,affine=20:0.1:0.9-1.1,jitter=0.2:0.2,noise=0.1",
            "rotate=30,affine=20:0.1:0.9-1.1,jitter=0.2:0.2,noise=0.1",
        ),
        ("affine=20:0.1:1", "affine=20:0.1:1"),
        ("affine=20:0.1:1-1", "affine=20:0.1:1"),
        ("affine=20:0.1:0.9-1.1:0", "affine=20:0.1:0.9-1.1"),
        ("affine=0:0:0.5-2:45", "affine=0:0:0.5-2:45"),
        ("affine=1e1:1e-1:1e-1-2e0", "affine=10:0.1:0.1-2"),
        ("elastic=34:4", "elastic=34:4"),
        (
            " elastic = 34 : 4 , noise = 0.05 ",
            "elastic=34:4,noise=0.05",
        ),
        ("rotate=10,rotate=10", "rotate=10,rotate=10"),
        (
            "jitter=0:10,noise=10,rotate=360",
            "jitter=0:10,noise=10,rotate=360",
        ),
        ("noise=0.1234567890123", "noise=0.1234567890123"),
    ] {
        let parsed: Augmentation = spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(parsed.to_string(), canonical, "{spec}");
        assert_eq!(canonical.parse::<Augmentation>().unwrap(), parsed, "{spec}");
    }
    assert!("".parse::<Augmentation>().unwrap().is_empty());
    assert_eq!(
        "rotate=1,rotate=1"
            .parse::<Augmentation>()
            .unwrap()
            .ops()
            .len(),
        2
    );
}

/// parse(display(x)) == x also for numbers that have no short decimal form.
#[test]
fn display_round_trips_every_valid_value() {
    let mut rng = Rng::new(key(&[11]));
    for _ in 0..1000 {
        let low = rng.range(1e-9, 10.0);
        let recipe = Augmentation::new(vec![
            Op::Rotate {
                degrees: rng.range(0.0, 360.0),
            },
            Op::Affine {
                degrees: rng.range(0.0, 360.0),
                translate: rng.uniform(),
                scale: (low, rng.range(low, 10.0)),
                shear: rng.range(0.0, 90.0),
            },
            Op::Elastic {
                alpha: rng.range(0.0, 1000.0),
                sigma: rng.range(1e-6, 100.0),
            },
            Op::Noise {
                std: rng.range(0.0, 1e-6),
            },
            Op::Jitter {
                brightness: rng.range(0.0, 10.0),
                contrast: rng.range(0.0, 10.0),
            },
        ])
        .unwrap();
        assert_eq!(recipe.to_string().parse::<Augmentation>().unwrap(), recipe);
    }
}

#[test]
fn serde_reads_and_writes_the_spec_string() {
    let recipe: Augmentation = "rotate=30,elastic=34:4".parse().unwrap();
    let json = serde_json::to_string(&recipe).unwrap();
    assert_eq!(json, "\"rotate=30,elastic=34:4\"");
    assert_eq!(serde_json::from_str::<Augmentation>(&json).unwrap(), recipe);
    assert_eq!(
        serde_json::to_string(&Augmentation::default()).unwrap(),
        "\"\""
    );
    let err = serde_json::from_str::<Augmentation>("\"rotate=400\"").unwrap_err();
    assert!(
        err.to_string()
            .contains("augmentation 'rotate': degrees must be in [0, 360], got 400"),
        "{err}"
    );
}

#[test]
fn bad_specs_name_the_op_and_the_fix() {
    for (spec, message) in [
        (
            "rotate=400",
            "augmentation 'rotate': degrees must be in [0, 360], got 400",
        ),
        (
            "blur=3",
            "unknown augmentation 'blur' (expected one of: rotate, affine, elastic, noise, jitter)",
        ),
        (
            "affine=20:0.1",
            "augmentation 'affine' takes D:T:S0-S1[:SH], got '20:0.1'",
        ),
        (
            "affine=20:0.1:1:2:3",
            "augmentation 'affine' takes D:T:S0-S1[:SH], got '20:0.1:1:2:3'",
        ),
        (
            "rotate=30,,",
            "empty augmentation item in 'rotate=30,,' (items are name=params separated by single commas)",
        ),
        (",rotate=30", "empty augmentation item in ',rotate=30'"),
        (
            "rotate",
            "augmentation 'rotate' needs parameters: write rotate=D",
        ),
        (
            "rotate=",
            "augmentation 'rotate': degrees must be a number, got ''",
        ),
        (
            "rotate=abc",
            "augmentation 'rotate': degrees must be a number, got 'abc'",
        ),
        (
            "rotate=inf",
            "augmentation 'rotate': degrees must be a finite number, got inf",
        ),
        (
            "rotate=NaN",
            "augmentation 'rotate': degrees must be a finite number, got NaN",
        ),
        (
            "rotate=-5",
            "augmentation 'rotate': degrees must be in [0, 360], got -5",
        ),
        ("rotate=30:2", "augmentation 'rotate' takes D, got '30:2'"),
        (
            "affine=20:1.5:1",
            "augmentation 'affine': translate must be in [0, 1], got 1.5",
        ),
        (
            "affine=20:0.1:0-1",
            "augmentation 'affine': scale S0 must be in (0, 10], got 0",
        ),
        (
            "affine=20:0.1:1-11",
            "augmentation 'affine': scale S1 must be in (0, 10], got 11",
        ),
        (
            "affine=20:0.1:0",
            "augmentation 'affine': scale S0 must be in (0, 10], got 0",
        ),
        (
            "affine=20:0.1:1.1-0.9",
            "augmentation 'affine': scale must be written low-high (S0 <= S1), got 1.1-0.9",
        ),
        (
            "affine=20:0.1:1:90",
            "augmentation 'affine': shear must be in [0, 90), got 90",
        ),
        (
            "affine=20:0.1:x-1",
            "augmentation 'affine': scale S0 must be a number, got 'x'",
        ),
        (
            "elastic=34:0",
            "augmentation 'elastic': sigma must be in (0, 100], got 0",
        ),
        (
            "elastic=2000:4",
            "augmentation 'elastic': alpha must be in [0, 1000], got 2000",
        ),
        ("elastic=34", "augmentation 'elastic' takes A:S, got '34'"),
        (
            "noise=11",
            "augmentation 'noise': std must be in [0, 10], got 11",
        ),
        (
            "noise=-1e400",
            "augmentation 'noise': std must be a finite number, got -inf",
        ),
        ("jitter=0.2", "augmentation 'jitter' takes B:C, got '0.2'"),
        (
            "jitter=0.2:-1",
            "augmentation 'jitter': contrast must be in [0, 10], got -1",
        ),
        ("rotate=30,Rotate=30", "unknown augmentation 'Rotate'"),
    ] {
        let err = spec
            .parse::<Augmentation>()
            .expect_err(&format!("{spec} should be refused"));
        let text = err.to_string();
        assert!(text.starts_with(message), "{spec}: {text}");
        assert!(!text.contains('\n'), "{spec}: one line");
    }
    // Ops built in code are checked the same way.
    assert!(Augmentation::new(vec![Op::Noise { std: f64::NAN }]).is_err());
    assert!(Augmentation::new(vec![Op::Rotate { degrees: 30.0 }]).is_ok());
}

#[test]
fn preview_grid_lays_out_originals_and_augmentations() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let other: Vec<u8> = fixture.rot90.clone();
    let images: [&[u8]; 2] = [&fixture.image, &other];
    let recipe = seed_recipe();
    let (per_image, zoom, seed) = (3, 2, 99);
    let grid = preview_grid(&images, 28, &recipe, per_image, seed, zoom);
    let cell = 28 * zoom;
    assert_eq!(grid.width(), 4 * cell + 3);
    assert_eq!(grid.height(), 2 * cell + 1);
    for (row, image) in images.iter().enumerate() {
        let y0 = row as u32 * (cell + 1);
        for col in 0..=per_image as u32 {
            let x0 = col * (cell + 1);
            let expected: Vec<u8> = if col == 0 {
                image.to_vec()
            } else {
                let mut rng = Rng::new(key(&[seed, row as u64, u64::from(col)]));
                recipe
                    .apply(image, 28, &mut rng)
                    .iter()
                    .map(|&v| (v * 255.0).round() as u8)
                    .collect()
            };
            for y in 0..cell {
                for x in 0..cell {
                    let want = expected[(y / zoom * 28 + x / zoom) as usize];
                    assert_eq!(
                        grid.get_pixel(x0 + x, y0 + y).0[0],
                        want,
                        "row {row} col {col}"
                    );
                }
            }
            if col > 0 {
                assert_ne!(expected, image.to_vec());
            }
        }
    }
    // gaps are mid gray
    assert_eq!(grid.get_pixel(cell, 0).0[0], 128);
    assert_eq!(grid.get_pixel(0, cell).0[0], 128);
    let empty = preview_grid(&[], 28, &recipe, 3, 0, 1);
    assert_eq!((empty.width(), empty.height()), (4 * 28 + 3, 0));
}

/// Time per 28x28 image of each op and of the seed's recipe (release build:
/// `cargo test --release -p ember-datasets augment::tests::timing -- --ignored --nocapture`).
#[test]
#[ignore = "timing, run by hand in release"]
fn timing_per_image() {
    let fixture: AffineFixture = serde_json::from_str(AFFINE_FIXTURE).unwrap();
    let seed = seed_recipe().to_string();
    for spec in [
        "rotate=30",
        "affine=20:0.1:0.9-1.1",
        "elastic=34:4",
        "noise=0.1",
        "jitter=0.2:0.2",
        seed.as_str(),
    ] {
        let recipe: Augmentation = spec.parse().unwrap();
        let n = 20_000u64;
        let mut sink = 0.0f32;
        let start = std::time::Instant::now();
        for i in 0..n {
            let out = recipe.apply(&fixture.image, 28, &mut Rng::new(key(&[1, 2, i])));
            sink += out[400];
        }
        let per = start.elapsed().as_secs_f64() / n as f64 * 1e6;
        println!("{spec:<60} {per:>7.2} us/image   (checksum {sink:.1})");
    }
}
