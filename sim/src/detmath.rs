//! Logarithm and exponential from IEEE basic operations only.
//!
//! `f64::ln` and `f64::exp` call the platform's libm, whose last bits differ between
//! machines; a trace that depends on them would not replay elsewhere. These use only
//! `+ - * /` and bit manipulation, which IEEE 754 defines exactly (Rust never fuses them
//! into FMA on its own), so every machine computes the same bits. Accuracy is about 1e-15
//! relative, far beyond what a latency sample needs.

const LN_2: f64 = std::f64::consts::LN_2;

/// Natural logarithm of a positive finite `x`; `-inf` for zero, NaN for negatives.
pub(crate) fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    // Normalise subnormals so the exponent field is meaningful.
    let (x, bias) = if x < f64::MIN_POSITIVE {
        (x * (1u64 << 54) as f64, -54i64)
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023 + bias;
    // Mantissa in [1, 2).
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let mut e = exponent;
    // Centre on 1 so the series converges fast: m in [sqrt(1/2), sqrt(2)).
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    // ln(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    for _ in 0..20 {
        sum += term / k;
        term *= s2;
        k += 2.0;
    }
    2.0 * sum + e as f64 * LN_2
}

/// `e^x`, saturating to `inf` above ~709 and to 0 below ~-745.
pub(crate) fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -745.0 {
        return 0.0;
    }
    // x = k ln2 + r with |r| <= ln2 / 2.
    let k = round_half_away(x / LN_2);
    let r = x - k * LN_2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..=24 {
        term *= r / i as f64;
        sum += term;
    }
    scale_by_pow2(sum, k as i64)
}

/// `x^y` for positive `x`.
pub(crate) fn powf(x: f64, y: f64) -> f64 {
    exp(y * ln(x))
}

fn round_half_away(x: f64) -> f64 {
    // Truncation toward zero of x +/- 0.5 is exact for the magnitudes used here (< 2^11).
    if x >= 0.0 {
        ((x + 0.5) as i64) as f64
    } else {
        ((x - 0.5) as i64) as f64
    }
}

/// `v * 2^k` in two steps so that neither factor over- or underflows on its own.
fn scale_by_pow2(v: f64, k: i64) -> f64 {
    let half = k / 2;
    v * pow2(half) * pow2(k - half)
}

fn pow2(k: i64) -> f64 {
    let k = k.clamp(-1022, 1023);
    f64::from_bits(((k + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_and_exp_match_known_values() {
        for &(x, want) in &[
            (1.0, 0.0),
            (std::f64::consts::E, 1.0),
            (0.5, -LN_2),
            (10.0, std::f64::consts::LN_10),
        ] {
            assert!((ln(x) - want).abs() < 1e-14, "ln({x}) = {}", ln(x));
        }
        for &(x, want) in &[
            (0.0, 1.0),
            (1.0, std::f64::consts::E),
            (-2.0, 0.1353352832366127),
        ] {
            assert!(
                ((exp(x) - want) / want).abs() < 1e-14,
                "exp({x}) = {}",
                exp(x)
            );
        }
        assert!((powf(2.0, 10.0) - 1024.0).abs() < 1e-9);
        assert!(ln(1e-300).is_finite() && ln(5e-324).is_finite());
    }
}
