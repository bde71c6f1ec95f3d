//! A small counter-based random generator for the noise of training (dropout masks,
//! augmentation draws): every draw is a function of a key built from (seed, epoch, step or
//! image index, stream), never of a process-wide state, so a run resumed at any step draws
//! exactly what the uninterrupted run drew, whatever other threads of the process draw.
//!
//! The generator is SplitMix64 (Steele, Lea and Flood 2014, "Fast splittable pseudorandom
//! number generators"; the reference is Vigna's `splitmix64.c`), which passes BigCrush and is
//! what xoshiro's authors recommend for seeding. Keys are combined with the same mixing
//! function. It has no dependency, so that data code and models share it.

/// The golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (Stafford's "Mix13" variant, as in `splitmix64.c`).
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A key from a sequence of parts (a seed, an epoch, an index, a stream number): each part is
/// folded in with [`mix`], so keys differing in any part are unrelated.
///
/// ```
/// use ember_engine::rng::key;
/// assert_ne!(key(&[1, 2]), key(&[2, 1]));
/// assert_eq!(key(&[7, 3, 9]), key(&[7, 3, 9]));
/// ```
pub fn key(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(GAMMA, |acc, &part| mix(acc ^ mix(part.wrapping_add(GAMMA))))
}

/// A SplitMix64 stream started at a key.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The stream of `key` (see [`key`]).
    pub fn new(key: u64) -> Self {
        Self { state: key }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, 1)` as f32, from the top 24 bits (every value exact in f32).
    pub fn uniform_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Uniform in `[low, high)`.
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.uniform()
    }

    /// A standard normal draw (Box–Muller, one of the pair; two uniforms per draw).
    pub fn normal(&mut self) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs of Vigna's reference `splitmix64.c` for the state 1477776061723855037,
    /// as the `rand_xoshiro` crate's test `reference` lists them (rust-random/rngs,
    /// rand_xoshiro/src/splitmix64.rs).
    #[test]
    fn matches_the_reference_splitmix64() {
        let mut rng = Rng::new(1_477_776_061_723_855_037);
        let expected = [
            1_985_237_415_132_408_290u64,
            2_979_275_885_539_914_483,
            13_511_426_838_097_143_398,
            8_488_337_342_461_049_707,
            15_141_737_807_933_549_159,
            17_093_170_987_380_407_015,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
    }

    #[test]
    fn uniform_and_normal_have_their_moments() {
        let mut rng = Rng::new(key(&[42]));
        let n = 200_000;
        let (mut s, mut s2, mut z, mut z2) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..n {
            let u = rng.uniform();
            assert!((0.0..1.0).contains(&u));
            s += u;
            s2 += u * u;
            let g = rng.normal();
            z += g;
            z2 += g * g;
        }
        let n = n as f64;
        assert!((s / n - 0.5).abs() < 0.005);
        assert!((s2 / n - s * s / n / n - 1.0 / 12.0).abs() < 0.002);
        assert!((z / n).abs() < 0.01);
        assert!((z2 / n - 1.0).abs() < 0.02);
    }
}
