use super::*;

const SIDE: usize = IMAGE_SIDE;

/// A blank 28x28 image with `value` at each (column, row) of `ink`.
fn image(ink: &[(usize, usize, u8)]) -> Vec<u8> {
    let mut out = vec![0u8; SIDE * SIDE];
    for &(x, y, v) in ink {
        out[y * SIDE + x] = v;
    }
    out
}

/// The columns holding ink.
fn ink_columns(image: &[u8]) -> Vec<usize> {
    (0..SIDE)
        .filter(|&x| (0..SIDE).any(|y| image[y * SIDE + x] > 0))
        .collect()
}

/// μ11/μ02 of an image (the slant the deslanting removes).
fn slant(image: &[u8]) -> f64 {
    let p = |i: usize| f64::from(image[i]);
    let mass: f64 = (0..SIDE * SIDE).map(p).sum();
    let cx = (0..SIDE * SIDE)
        .map(|i| (i % SIDE) as f64 * p(i))
        .sum::<f64>()
        / mass;
    let cy = (0..SIDE * SIDE)
        .map(|i| (i / SIDE) as f64 * p(i))
        .sum::<f64>()
        / mass;
    let mu11: f64 = (0..SIDE * SIDE)
        .map(|i| ((i % SIDE) as f64 - cx) * ((i / SIDE) as f64 - cy) * p(i))
        .sum();
    let mu02: f64 = (0..SIDE * SIDE)
        .map(|i| ((i / SIDE) as f64 - cy).powi(2) * p(i))
        .sum();
    mu11 / mu02
}

#[test]
fn recipes_parse_and_print_back() {
    for (spec, deslant, width) in [
        ("none", false, None),
        ("deslant", true, None),
        ("width=12", false, Some(12)),
        ("deslant+width=20", true, Some(20)),
    ] {
        let recipe: Preprocessing = spec.parse().unwrap();
        assert_eq!(recipe, Preprocessing { deslant, width });
        assert_eq!(recipe.to_string(), spec);
    }
    // Either order, with spaces; printed in the order applied.
    let recipe: Preprocessing = " width=8 + deslant ".parse().unwrap();
    assert_eq!(recipe.to_string(), "deslant+width=8");
}

#[test]
fn bad_recipes_are_refused_by_name() {
    for (spec, message) in [
        (
            "width=0",
            "the width must be a whole number of pixels from 1 to 28",
        ),
        ("width=29", "from 1 to 28"),
        ("width=1.5", "from 1 to 28"),
        ("slant", "unknown preprocessing 'slant'"),
        ("", "unknown preprocessing ''"),
        ("deslant+deslant", "repeats a step"),
        ("none+width=10", "repeats a step"),
    ] {
        let err = spec.parse::<Preprocessing>().unwrap_err().to_string();
        assert!(err.contains(message), "{spec}: {err}");
    }
}

#[test]
fn width_normalization_stretches_and_shrinks_the_box_to_w_centred() {
    // A solid block 6 columns wide (5..=10), rows 4..=23.
    let block: Vec<(usize, usize, u8)> = (5..=10)
        .flat_map(|x| (4..=23).map(move |y| (x, y, 255)))
        .collect();
    let input = image(&block);
    for width in [3usize, 6, 12, 20] {
        let out = Preprocessing {
            deslant: false,
            width: Some(width as u8),
        }
        .apply(&input, SIDE);
        let left = (SIDE - width) / 2;
        assert_eq!(ink_columns(&out), (left..left + width).collect::<Vec<_>>());
        for y in 0..SIDE {
            for x in left..left + width {
                let expected = if (4..=23).contains(&y) { 255 } else { 0 };
                assert_eq!(out[y * SIDE + x], expected, "width {width}, ({x}, {y})");
            }
        }
    }
}

#[test]
fn width_normalization_averages_the_columns_it_covers() {
    // Row 10: 100, 200, 60, 0(gap), 40 over columns 3..=7 (box width 5).
    let input = image(&[(3, 10, 100), (4, 10, 200), (5, 10, 60), (7, 10, 40)]);
    let out = |w: u8| {
        Preprocessing {
            deslant: false,
            width: Some(w),
        }
        .apply(&input, SIDE)
    };
    // To 1 column: the mean of the five, 80, at column 13.
    let one = out(1);
    assert_eq!(ink_columns(&one), vec![13]);
    assert_eq!(one[10 * SIDE + 13], 80);
    // To 2 columns of 2.5 inputs each: (100 + 200 + 0.5·60)/2.5 = 132 and
    // (0.5·60 + 0 + 40)/2.5 = 28, at columns 13 and 14.
    let two = out(2);
    assert_eq!(two[10 * SIDE + 13], 132);
    assert_eq!(two[10 * SIDE + 14], 28);
    // To 10 columns: each input repeated twice, from column 9.
    let ten = out(10);
    let row: Vec<u8> = ten[10 * SIDE + 9..10 * SIDE + 19].to_vec();
    assert_eq!(row, vec![100, 100, 200, 200, 60, 60, 0, 0, 40, 40]);
}

#[test]
fn deslanting_makes_a_slanted_stroke_upright_and_keeps_an_upright_one() {
    // A stroke leaning right by one column every two rows: x = 8 + (23 - y)/2.
    let stroke: Vec<(usize, usize, u8)> = (4..=23).map(|y| (8 + (23 - y) / 2, y, 255)).collect();
    let input = image(&stroke);
    assert!(slant(&input).abs() > 0.4);
    let recipe: Preprocessing = "deslant".parse().unwrap();
    let out = recipe.apply(&input, SIDE);
    assert!(
        slant(&out).abs() < 0.05,
        "slant after deslanting: {}",
        slant(&out)
    );
    // The stroke now spans at most two columns (interpolation), near the old centroid.
    let columns = ink_columns(&out);
    assert!(columns.len() <= 3, "{columns:?}");
    assert!(
        columns.iter().all(|&x| (11..=14).contains(&x)),
        "{columns:?}"
    );
    // An upright stroke has μ11 = 0 exactly: unchanged, bit for bit.
    let upright = image(&(4..=23).map(|y| (12, y, 200)).collect::<Vec<_>>());
    assert_eq!(recipe.apply(&upright, SIDE), upright);
}

#[test]
fn blank_images_and_none_are_left_alone() {
    let blank = vec![0u8; SIDE * SIDE];
    for spec in ["none", "deslant", "width=10", "deslant+width=10"] {
        let recipe: Preprocessing = spec.parse().unwrap();
        assert_eq!(recipe.apply(&blank, SIDE), blank, "{spec}");
    }
    let data = MnistData {
        images: image(&[(3, 3, 9)]).repeat(3),
        labels: vec![1, 2, 3],
    };
    assert_eq!(Preprocessing::NONE.apply_all(data.clone()), data);
    let normalized = "width=4"
        .parse::<Preprocessing>()
        .unwrap()
        .apply_all(data.clone());
    assert_eq!(normalized.labels, data.labels);
    assert_eq!(normalized.images.len(), data.images.len());
    assert_eq!(
        ink_columns(&normalized.images[..IMAGE_PIXELS]),
        vec![12, 13, 14, 15]
    );
}
