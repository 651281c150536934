//! One-pass f32 CPU kernels for the elementwise parts of a training step that candle runs as
//! chains of ops: the SwiGLU product of the MLP, the backward of RMSNorm and the dropout products
//! of a LoRA branch.
//!
//! candle 0.11 builds `silu(g) * u` and its backward from about ten ops, each a fresh buffer and a
//! pass over a (tokens, intermediate) tensor on one thread; RMSNorm's backward is as many over
//! (tokens, hidden). Here each is one pass, split over rayon's pool in chunks of a fixed size, so
//! the results do not depend on the number of threads.

use rayon::prelude::*;

/// Elements per parallel chunk of an elementwise kernel.
const CHUNK: usize = 1 << 14;

/// Rows per parallel chunk of RMSNorm's backward (its weight gradient is summed per chunk, then
/// over the chunks in order).
const NORM_ROWS: usize = 64;

/// `e^x` in f32 without a library call, so that loops over it vectorize (glibc's `expf` is one
/// call per element; it was 8% of a CPU training step). Cephes' method: `x = n ln 2 + r` with
/// `|r| <= ln 2 / 2`, a degree-7 polynomial for `e^r` and `2^n` from the exponent bits; within 2
/// ulp of `e^x` on [-87, 88] (unit test), exactly 0 below -87.3 (so a `-inf` score gives a
/// probability of exactly 0), `inf` above 88.3 and NaN for NaN.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // Round-to-nearest by adding 1.5 * 2^23: no call to `roundf` (SSE2 has no rounding op).
    const SHIFT: f32 = 12_582_912.0;
    let xc = x.clamp(-87.3, 88.3);
    let shifted = xc * std::f32::consts::LOG2_E + SHIFT;
    let n = shifted - SHIFT;
    let r = xc - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 0.166_666_65)
        * r
        + 0.5)
        * r
        * r
        + r
        + 1.0;
    // The low mantissa bits of `shifted` hold n (in [-126, 128]); 2^n's exponent field is n + 127.
    // (`n as i32` would be a saturating cast, which does not vectorize.)
    let scale = f32::from_bits((shifted.to_bits().wrapping_sub(0x4B40_0000 - 127)) << 23);
    if x < -87.3 {
        0.0
    } else if x > 88.3 {
        f32::INFINITY
    } else {
        p * scale
    }
}

/// `x * m`, elementwise.
pub(crate) fn mul(x: &[f32], m: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(m.par_chunks(CHUNK)))
        .for_each(|(o, (x, m))| {
            for ((o, &x), &m) in o.iter_mut().zip(x).zip(m) {
                *o = x * m;
            }
        });
    out
}

/// `dst += scale * m * t`, elementwise.
pub(crate) fn add_scaled_product(dst: &mut [f32], scale: f32, m: &[f32], t: &[f32]) {
    dst.par_chunks_mut(CHUNK)
        .zip(m.par_chunks(CHUNK).zip(t.par_chunks(CHUNK)))
        .for_each(|(d, (m, t))| {
            for ((d, &m), &t) in d.iter_mut().zip(m).zip(t) {
                *d += scale * m * t;
            }
        });
}

/// `silu(g) * u` with `silu(g) = g / (1 + exp(-g))`.
pub(crate) fn swiglu(g: &[f32], u: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; g.len()];
    out.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK).zip(u.par_chunks(CHUNK)))
        .for_each(|(o, (g, u))| {
            for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
                *o = g / (1.0 + exp(-g)) * u;
            }
        });
    out
}

/// The gradients of `swiglu` for the output gradient `dy`: `dg = dy u s (1 + g (1 - s))` with
/// `s = sigmoid(g)`, and `du = dy silu(g)`.
pub(crate) fn swiglu_backward(g: &[f32], u: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (mut dg, mut du) = (vec![0f32; g.len()], vec![0f32; g.len()]);
    dg.par_chunks_mut(CHUNK)
        .zip(du.par_chunks_mut(CHUNK))
        .zip(
            g.par_chunks(CHUNK)
                .zip(u.par_chunks(CHUNK))
                .zip(dy.par_chunks(CHUNK)),
        )
        .for_each(|((dg, du), ((g, u), dy))| {
            let grads = dg.iter_mut().zip(du.iter_mut());
            for ((dg, du), ((&g, &u), &dy)) in grads.zip(g.iter().zip(u).zip(dy)) {
                let s = 1.0 / (1.0 + exp(-g));
                *du = dy * g * s;
                *dg = dy * u * s * (1.0 + g * (1.0 - s));
            }
        });
    (dg, du)
}

/// RMSNorm's backward over rows of `h`: `dx = r (g alpha) - x r^3 mean(g alpha x)` with
/// `r = 1 / sqrt(mean(x^2) + eps)`, and the weight's gradient `sum over rows of g x r` when
/// `weight_grad`.
pub(crate) fn rms_norm_backward(
    x: &[f32],
    alpha: &[f32],
    g: &[f32],
    eps: f32,
    weight_grad: bool,
) -> (Vec<f32>, Option<Vec<f32>>) {
    let h = alpha.len();
    let mut dx = vec![0f32; x.len()];
    let partial: Vec<Vec<f32>> = dx
        .par_chunks_mut(NORM_ROWS * h)
        .zip(x.par_chunks(NORM_ROWS * h).zip(g.par_chunks(NORM_ROWS * h)))
        .map(|(dx, (x, g))| {
            let mut da = if weight_grad {
                vec![0f32; h]
            } else {
                Vec::new()
            };
            for ((dx, x), g) in dx
                .chunks_exact_mut(h)
                .zip(x.chunks_exact(h))
                .zip(g.chunks_exact(h))
            {
                let ms = x.iter().map(|v| v * v).sum::<f32>() / h as f32;
                let r = 1.0 / (ms + eps).sqrt();
                let dot = x
                    .iter()
                    .zip(g)
                    .zip(alpha)
                    .map(|((x, g), a)| g * a * x)
                    .sum::<f32>();
                let c = dot / h as f32 * r * r * r;
                for (((d, &x), &g), &a) in dx.iter_mut().zip(x).zip(g).zip(alpha) {
                    *d = r * g * a - x * c;
                }
                for ((da, &x), &g) in da.iter_mut().zip(x).zip(g) {
                    *da += g * x * r;
                }
            }
            da
        })
        .collect();
    let dalpha = weight_grad.then(|| {
        let mut sum = vec![0f32; h];
        for part in &partial {
            sum.iter_mut().zip(part).for_each(|(s, p)| *s += p);
        }
        sum
    });
    (dx, dalpha)
}

#[cfg(test)]
mod tests {
    /// `exp` against f64's over the whole range a softmax or SiLU meets, and at the edges.
    #[test]
    fn exp_is_within_two_ulp() {
        let mut worst = 0f64;
        for i in -870_000..=880_000 {
            let x = i as f32 * 1e-4;
            let (got, want) = (super::exp(x) as f64, (x as f64).exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 2.5e-7, "relative error {worst}");
        assert_eq!(super::exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(super::exp(-100.0), 0.0);
        assert_eq!(super::exp(0.0), 1.0);
        assert_eq!(super::exp(f32::INFINITY), f32::INFINITY);
        assert!(super::exp(f32::NAN).is_nan());
    }
}
