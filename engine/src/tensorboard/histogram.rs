//! Histograms of tensors as TensorFlow's C++ `histogram::Histogram` makes them, the summaries
//! TensorFlow 1's `tf.summary.histogram` writes as legacy `histo` values.
//!
//! Source: `tensorflow/core/lib/histogram/histogram.cc` (TensorFlow 2.x, unchanged since 1.0):
//!
//! - `InitDefaultBucketsInner`: the default bucket limits are `±1e-12 · 1.1^k` for every `k`
//!   with `1e-12 · 1.1^k < 1e20` (774 each side), `0`, and `±DBL_MAX`: 1551 limits, bucket
//!   widths 10% of their value, so any magnitude from 1e-12 to 1e20 is resolved to 10%;
//! - `Add`: a value goes to the first bucket whose limit is greater than it (`upper_bound`);
//! - `EncodeToProto(proto, preserve_zero_buckets = false)`: runs of empty buckets are merged
//!   into the last of them, so a proto holds the non-empty buckets and one empty bucket before
//!   each run of non-empty ones.
//!
//! TensorBoard's loader (`data_compat.migrate_value`) turns the `histo` value into its
//! `[left edge, right edge, count]` tensor for the histogram and distribution dashboards.

use std::sync::OnceLock;

use super::proto::HistogramProto;

/// TensorFlow's default bucket limits (see the module documentation), ascending.
pub fn default_bucket_limits() -> &'static [f64] {
    static LIMITS: OnceLock<Vec<f64>> = OnceLock::new();
    LIMITS.get_or_init(|| {
        let mut positive = Vec::new();
        // Repeated multiplication, as TensorFlow does it, so the limits match its bit for bit.
        let mut v = 1.0e-12;
        while v < 1.0e20 {
            positive.push(v);
            v *= 1.1;
        }
        positive.push(f64::MAX);
        let mut limits: Vec<f64> = positive.iter().rev().map(|v| -v).collect();
        limits.push(0.0);
        limits.extend(positive);
        limits
    })
}

/// The histogram of `values` with TensorFlow's default buckets, encoded as TensorFlow encodes
/// it (empty runs merged). NaN values are counted nowhere (TensorFlow's `upper_bound` puts a
/// NaN in the last bucket; a NaN weight shows in the loss already); ±infinity go to the first
/// or last bucket and set `min`/`max`. With no values, `min` is `DBL_MAX` and `max`
/// `-DBL_MAX`, as TensorFlow leaves them.
pub fn histogram(values: &[f32]) -> HistogramProto {
    let limits = default_bucket_limits();
    let mut counts = vec![0.0f64; limits.len()];
    let (mut min, mut max) = (f64::MAX, -f64::MAX);
    let (mut num, mut sum, mut sum_squares) = (0.0, 0.0, 0.0);
    for &value in values.iter().filter(|v| !v.is_nan()) {
        let value = f64::from(value);
        // `upper_bound`: the first limit strictly greater than the value; +inf (beyond
        // DBL_MAX) stays in the last bucket as TensorFlow clamps it.
        let bucket = limits
            .partition_point(|&limit| limit <= value)
            .min(limits.len() - 1);
        counts[bucket] += 1.0;
        min = min.min(value);
        max = max.max(value);
        num += 1.0;
        sum += value;
        sum_squares += value * value;
    }
    let mut proto = HistogramProto {
        min,
        max,
        num,
        sum,
        sum_squares,
        ..HistogramProto::default()
    };
    let mut i = 0;
    while i < counts.len() {
        let (mut end, mut count) = (limits[i], counts[i]);
        let mut j = i + 1;
        while count <= 0.0 && j < counts.len() && counts[j] <= 0.0 {
            end = limits[j];
            count = counts[j];
            j += 1;
        }
        proto.bucket_limit.push(end);
        proto.bucket.push(count);
        i = j;
    }
    proto
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits_are_tensorflows() {
        let limits = default_bucket_limits();
        assert_eq!(limits.len(), 1551);
        assert_eq!(limits[775], 0.0);
        assert_eq!(limits[776], 1e-12);
        assert_eq!(limits[0], -f64::MAX);
        assert_eq!(limits[1550], f64::MAX);
        assert!(limits.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn values_land_below_their_limit_and_empty_runs_merge() {
        let h = histogram(&[0.0, 1.0, 1.0, -1.0]);
        assert_eq!(
            (h.min, h.max, h.num, h.sum, h.sum_squares),
            (-1.0, 1.0, 4.0, 1.0, 3.0)
        );
        let limits = default_bucket_limits();
        // -1 goes to the bucket ending at the first limit above -1; 0 to the bucket ending at
        // 1e-12; 1 to the one ending at the first limit above 1.
        let above = |v: f64| limits[limits.partition_point(|&l| l <= v)];
        let filled: Vec<(f64, f64)> = h
            .bucket_limit
            .iter()
            .zip(&h.bucket)
            .filter(|(_, c)| **c > 0.0)
            .map(|(l, c)| (*l, *c))
            .collect();
        assert_eq!(
            filled,
            [(above(-1.0), 1.0), (1e-12, 1.0), (above(1.0), 2.0)]
        );
        // Each non-empty bucket is preceded by one merged empty bucket, and the run after the
        // last ends at DBL_MAX: 3 filled + 3 empty before them + 1 after.
        assert_eq!(h.bucket.len(), 7);
        assert_eq!(*h.bucket_limit.last().unwrap(), f64::MAX);
        assert_eq!(h.bucket.iter().sum::<f64>(), 4.0);
    }
}
