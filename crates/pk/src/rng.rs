//! A small seeded random source for reproducible virtual populations: SplitMix64 (Steele, Lea and Flood 2014) for
//! uniforms and the Box-Muller transform for normals. One stream per patient, derived from the population seed and
//! the patient's index, so results do not depend on the number of threads.

#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn for_patient(seed: u64, index: u64) -> Self {
        let mut s = Self(seed ^ 0x6A09_E667_F3BC_C909);
        let base = s.next_u64();
        Self(base ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so its logarithm is finite.
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Two independent standard normals.
    pub(crate) fn normal_pair(&mut self) -> (f64, f64) {
        let r = (-2.0 * self.unit().ln()).sqrt();
        let theta = std::f64::consts::TAU * self.unit();
        (r * theta.cos(), r * theta.sin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_have_unit_moments() {
        let mut rng = SplitMix64::for_patient(7, 0);
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n / 2 {
            let (a, b) = rng.normal_pair();
            s += a + b;
            s2 += a * a + b * b;
        }
        let mean = s / f64::from(n);
        let var = s2 / f64::from(n) - mean * mean;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.01,
            "mean {mean} var {var}"
        );
    }

    #[test]
    fn streams_differ_by_patient_and_repeat_by_seed() {
        let a = SplitMix64::for_patient(1, 0).next_u64();
        let b = SplitMix64::for_patient(1, 1).next_u64();
        let c = SplitMix64::for_patient(1, 0).next_u64();
        assert_ne!(a, b);
        assert_eq!(a, c);
    }
}
