//! Closed-form solution of the transit-chain one-compartment model (reference/pk-model.md §3.1):
//! a dose passes `m` first-order transfers of rate ktr and is eliminated from the central compartment at rate k.
//! The amount in the central compartment per unit dose is the convolution of an Erlang(m, ktr) input with e^(−k t):
//!
//! G_m(t) = (ktr t)^m / (m−1)! · e^(−k t) · ∫₀¹ u^(m−1) e^(−(ktr−k) t u) du.
//!
//! pk-model.md gives the same function as (ktr/(ktr−k))^m e^(−k t) P(m, (ktr−k) t), valid for ktr > k. That form
//! cancels catastrophically when ktr ≈ k and is undefined at ktr = k, which random effects and the fed
//! (first-order, ka 0.71 1/h) absorption reach, so it is used only where it is well conditioned; elsewhere a
//! positive-term series or a stable recurrence evaluates the same integral.

/// P(Poisson(z) ≥ m) = P(Erlang(m, 1) ≤ z): the fraction of a dose that has left an `m`-transfer chain.
pub fn erlang_cdf(m: u32, z: f64) -> f64 {
    if m == 0 {
        return 1.0;
    }
    if z <= 0.0 {
        return 0.0;
    }
    let mf = f64::from(m);
    if z > mf + 1.0 {
        // The complement is below about one half here, so 1 − Q loses no digits.
        let mut term = 1.0;
        let mut q = 1.0;
        for j in 1..m {
            term *= z / f64::from(j);
            q += term;
        }
        1.0 - (-z).exp() * q
    } else {
        let mut term = (-z).exp();
        for j in 1..=m {
            term *= z / f64::from(j);
        }
        let mut sum = term;
        let mut i = m;
        loop {
            i += 1;
            term *= z / f64::from(i);
            sum += term;
            if term <= 1e-17 * sum || i > m + 200 {
                return sum;
            }
        }
    }
}

/// Amount in the central compartment at time `t` after a unit amount was placed `m` transfers upstream of it
/// (m = 0: in the central compartment itself). Exact for every ktr, k > 0, including ktr = k.
pub fn central_fraction(m: u32, k_tr: f64, k: f64, t: f64) -> f64 {
    if t <= 0.0 {
        return if m == 0 { 1.0 } else { 0.0 };
    }
    if m == 0 {
        return (-k * t).exp();
    }
    let mf = f64::from(m);
    let z = k_tr * t;
    let x = (k_tr - k) * t;
    if x > mf + 1.0 {
        // Well-conditioned region of the textbook form.
        let ratio = k_tr / (k_tr - k);
        ratio.powi(m as i32) * (-k * t).exp() * erlang_cdf(m, x)
    } else if x >= 0.0 {
        // z^m e^(−ktr t) Σ x^i/(m+i)!: positive terms only.
        let mut term = 1.0;
        for j in 1..=m {
            term /= f64::from(j);
        }
        let mut sum = term;
        let mut i = m;
        loop {
            i += 1;
            term *= x / f64::from(i);
            sum += term;
            if term <= 1e-17 * sum || i > m + 200 {
                break;
            }
        }
        z.powi(m as i32) * (-z).exp() * sum
    } else {
        // ktr < k: factor out e^(−ktr t) so nothing overflows; J~(m, y) = ∫₀¹ (1−v)^(m−1) e^(−y v) dv.
        let y = -x;
        let mut fact = 1.0;
        for j in 1..m {
            fact *= f64::from(j);
        }
        z.powi(m as i32) / fact * (-z).exp() * j_tilde(m, y)
    }
}

/// ∫₀¹ (1−v)^(m−1) e^(−y v) dv for y > 0.
fn j_tilde(m: u32, y: f64) -> f64 {
    if y > 2.0 * f64::from(m) + 2.0 {
        // Upward recurrence from integration by parts; each step damps errors by (m−1)/y < 1/2 here.
        let mut j = -(-y).exp_m1() / y;
        for n in 2..=m {
            j = (1.0 - f64::from(n - 1) * j) / y;
        }
        j
    } else {
        // Σ Poisson(i; y)/(m+i): positive terms.
        let mut p = (-y).exp();
        let mut sum = p / f64::from(m);
        let mut i = 0u32;
        loop {
            i += 1;
            p *= y / f64::from(i);
            let term = p / f64::from(m + i);
            sum += term;
            if (f64::from(i) > y && term <= 1e-17 * sum) || i > 400 {
                return sum;
            }
        }
    }
}

/// ∫₀ᵗ `central_fraction`(m, ktr, k, s) ds, by mass balance: what entered minus what is still there, over k.
pub fn central_integral(m: u32, k_tr: f64, k: f64, t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    if m == 0 {
        return -(-k * t).exp_m1() / k;
    }
    ((erlang_cdf(m, k_tr * t) - central_fraction(m, k_tr, k, t)) / k).max(0.0)
}

/// Amount still in the chain compartment that is `i` transfers downstream of compartment `j` (i ≥ j) after `dt`,
/// per unit amount in `j`: e^(−z) z^(i−j)/(i−j)!.
pub fn chain_transfer(steps: u32, z: f64) -> f64 {
    let mut term = (-z).exp();
    for s in 1..=steps {
        term *= z / f64::from(s);
    }
    term
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_convolution(m: u32, k_tr: f64, k: f64, t: f64) -> f64 {
        // Composite Simpson on the Erlang input convolved with e^(−k(t−s)).
        let n = 20_000;
        let h = t / f64::from(n);
        let mut fact = 1.0;
        for j in 1..m {
            fact *= f64::from(j);
        }
        let f = |s: f64| {
            k_tr.powi(m as i32) * s.powi(m as i32 - 1) / fact
                * (-k_tr * s).exp()
                * (-k * (t - s)).exp()
        };
        let mut acc = f(0.0) + f(t);
        for i in 1..n {
            let w = if i % 2 == 1 { 4.0 } else { 2.0 };
            acc += w * f(h * f64::from(i));
        }
        acc * h / 3.0
    }

    #[test]
    fn all_branches_agree_with_quadrature() {
        for &(m, k_tr, k) in &[
            (1, 0.71, 0.174),
            (1, 0.5, 0.5),
            (4, 6.55, 0.2456),
            (8, 13.5, 0.174),
            (8, 0.3, 0.3),
            (8, 0.2, 0.9),
            (3, 0.31, 0.3),
        ] {
            for &t in &[0.05, 0.5, 1.1, 3.0, 10.0, 30.0] {
                let exact = central_fraction(m, k_tr, k, t);
                let num = numeric_convolution(m, k_tr, k, t);
                let rel = (exact - num).abs() / num.abs().max(1e-300);
                assert!(rel < 1e-8, "m={m} ktr={k_tr} k={k} t={t}: {exact} vs {num}");
            }
        }
    }

    #[test]
    fn continuous_across_the_degenerate_rate() {
        let at = central_fraction(8, 0.4, 0.4, 12.0);
        let below = central_fraction(8, 0.4, 0.4 + 1e-9, 12.0);
        let above = central_fraction(8, 0.4, 0.4 - 1e-9, 12.0);
        assert!((at - below).abs() / at < 1e-7 && (at - above).abs() / at < 1e-7);
    }

    #[test]
    fn erlang_cdf_branches_meet() {
        for m in 1..10 {
            let z = f64::from(m) + 1.0;
            let a = erlang_cdf(m, z - 1e-12);
            let b = erlang_cdf(m, z + 1e-12);
            assert!((a - b).abs() < 1e-10, "m={m}");
        }
    }
}
