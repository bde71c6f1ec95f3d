//! Convolution filters as TensorBoard images: TensorFlow 1's `tf.summary.image` normalization
//! and one legacy `Summary.Image` (a PNG) per filter.

use super::proto::Image;

/// Each filter of a convolution weight of shape `[out_channels, 1, height, width]` (Burn's
/// `Conv2d` layout, one input channel: the first layer of a grayscale model) as a grayscale
/// image `height` × `width`, in output-channel order; `None` for any other shape.
///
/// This is what Keras 3's `TensorBoard(write_images=True)` draws of a kernel
/// (`_log_weight_as_image` in `keras/src/callbacks/tensorboard.py`: a squeezed
/// `[h, w, out]` kernel becomes `out` images of `h` × `w`; a kernel with several input
/// channels has no image). Each filter is normalized on its own by [`normalize`].
pub fn filter_images(shape: &[usize], values: &[f32]) -> Option<Vec<Image>> {
    let &[out, 1, height, width] = shape else {
        return None;
    };
    let pixels = height * width;
    if out == 0 || pixels == 0 || values.len() != out * pixels {
        return None;
    }
    Some(
        values
            .chunks_exact(pixels)
            .map(|filter| Image {
                height: dim(height),
                width: dim(width),
                colorspace: 1,
                encoded_image_string: grayscale_png(width, height, &normalize(filter)),
            })
            .collect(),
    )
}

/// `values` as 8-bit intensities, as TensorFlow 1's image summary normalizes a float image
/// (`NormalizeFloatImage` in `tensorflow/core/kernels/summary_image_op.cc`): when a value is
/// negative, 0.0 maps to 128 and the largest magnitude to ±127; otherwise the largest value maps
/// to 255 and 0.0 to 0; an all-zero image is black. Non-finite values are black.
pub fn normalize(values: &[f32]) -> Vec<u8> {
    let finite = || values.iter().copied().filter(|v| v.is_finite());
    let min = finite().fold(f32::INFINITY, f32::min);
    let max = finite().fold(f32::NEG_INFINITY, f32::max);
    // TensorFlow's `kZeroThreshold`: a range this small is drawn flat instead of amplified.
    const ZERO: f32 = 1e-6;
    let (scale, offset) = if min < 0.0 {
        let magnitude = min.abs().max(max.abs());
        (
            if magnitude < ZERO {
                0.0
            } else {
                127.0 / magnitude
            },
            128.0,
        )
    } else {
        (if max < ZERO { 0.0 } else { 255.0 / max }, 0.0)
    };
    values
        .iter()
        .map(|&v| {
            if v.is_finite() {
                // A saturating cast: truncation as TensorFlow's `cast<uint8>`, clamped.
                (v * scale + offset) as u8
            } else {
                0
            }
        })
        .collect()
}

/// An 8-bit grayscale PNG file of `width` × `height` `pixels` (row-major).
///
/// # Panics
/// If `pixels.len() != width * height` (a caller's bug).
pub fn grayscale_png(width: usize, height: usize, pixels: &[u8]) -> Vec<u8> {
    assert_eq!(
        pixels.len(),
        width * height,
        "pixels of a {width}x{height} image"
    );
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, dim(width) as u32, dim(height) as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    // Writing into a Vec cannot fail for a well-formed image, whose size was checked above.
    let mut writer = encoder.write_header().expect("PNG header into memory");
    writer
        .write_image_data(pixels)
        .expect("PNG data into memory");
    writer.finish().expect("PNG end into memory");
    out
}

/// An image dimension as the proto's `int32` (filters are a few pixels wide).
fn dim(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_filters_center_zero_and_positive_ones_span_to_255() {
        assert_eq!(normalize(&[-2.0, 0.0, 1.0, 2.0]), [1, 128, 191, 255]);
        assert_eq!(normalize(&[0.0, 0.5, 1.0]), [0, 127, 255]);
        assert_eq!(normalize(&[0.0, 0.0]), [0, 0]);
        assert_eq!(normalize(&[f32::NAN, 1.0]), [0, 255]);
    }

    #[test]
    fn only_single_channel_conv_weights_are_drawn() {
        let values: Vec<f32> = (0..2 * 9).map(|i| i as f32).collect();
        let images = filter_images(&[2, 1, 3, 3], &values).unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(
            (images[0].height, images[0].width, images[0].colorspace),
            (3, 3, 1)
        );
        assert!(
            images[0]
                .encoded_image_string
                .starts_with(b"\x89PNG\r\n\x1a\n")
        );
        assert!(filter_images(&[2, 2, 3, 3], &[0.0; 36]).is_none());
        assert!(filter_images(&[18], &values).is_none());
    }
}
