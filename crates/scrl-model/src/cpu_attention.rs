//! Causal grouped-query attention on the CPU in f32, forward and backward, without the masked half.
//!
//! `frozen::attention` builds the scores of a layer from candle ops: a batched `q k^T` (48 small
//! GEMMs one after the other for the tiny model, each split over the threads), a scale, a bias
//! sum, a softmax and a product with `v`, every step a fresh (b, h, tq, tk) buffer, and all of it
//! again in backward. This kernel works on blocks of [`ROWS`] query rows: a block multiplies only
//! with the keys its last row can see (the bias is `-inf` past them, so those probabilities are
//! exactly 0), which is about half of the score products and exponentials of a causal layer; scale,
//! bias and softmax are one pass over the block in a scratch buffer; and the (batch, key/value
//! head) pairs run in parallel on rayon's pool, each with single-threaded GEMMs (the `gemm` crate
//! candle uses). Forward keeps the log-normaliser of each row, so backward recomputes the
//! probabilities with one product and one exponential per entry.
//!
//! Layouts are contiguous: `q` and the output (b, h, tq, d), `k` and `v` (b, g, tk, d) with `g`
//! dividing `h`, `bias` (b, 1, tq, tk).

use rayon::prelude::*;

use crate::cpu_kernels::exp;

/// Query rows per block: a block reads the keys up to the last one its last row can see.
const ROWS: usize = 32;

/// The operands of one attention call, as contiguous f32 slices.
pub(crate) struct Attention<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub bias: &'a [f32],
    pub b: usize,
    pub heads: usize,
    pub groups: usize,
    pub tq: usize,
    pub tk: usize,
    pub d: usize,
    pub scale: f32,
}

/// What forward keeps for backward: per (b, i) the number of keys the row can see (one past its
/// last finite bias entry), per (b, h, i) the row's log-normaliser.
pub(crate) struct Saved {
    visible: Vec<usize>,
    lse: Vec<f32>,
}

/// The gradients of q, k and v, in their layouts.
pub(crate) struct Grads {
    pub dq: Vec<f32>,
    pub dk: Vec<f32>,
    pub dv: Vec<f32>,
}

impl Attention<'_> {
    fn check(&self) -> Result<(), String> {
        let (b, h, g, tq, tk, d) = (self.b, self.heads, self.groups, self.tq, self.tk, self.d);
        if g == 0 || h % g != 0 {
            return Err(format!(
                "{h} query heads do not divide into {g} key/value heads"
            ));
        }
        for (name, len, want) in [
            ("q", self.q.len(), b * h * tq * d),
            ("k", self.k.len(), b * g * tk * d),
            ("v", self.v.len(), b * g * tk * d),
            ("bias", self.bias.len(), b * tq * tk),
        ] {
            if len != want {
                return Err(format!("{name} has {len} values, not {want}"));
            }
        }
        Ok(())
    }

    /// Keys visible to each query row: one past the last finite bias entry; `None` when a row sees
    /// none (its softmax is undefined; the caller's generic path keeps candle's NaN).
    pub fn visible(&self) -> Option<Vec<usize>> {
        self.bias
            .chunks_exact(self.tk.max(1))
            .map(|row| row.iter().rposition(|x| x.is_finite()).map(|j| j + 1))
            .collect()
    }

    /// (query heads, key/value heads, tq, tk, d, query heads per key/value head).
    fn dims(&self) -> (usize, usize, usize, usize, usize, usize) {
        let (h, g) = (self.heads, self.groups);
        (h, g, self.tq, self.tk, self.d, h / g)
    }

    /// The key rows block `i0..i0 + rows` of batch row `bi` reads.
    fn reach(visible: &[usize], bi: usize, tq: usize, i0: usize, rows: usize) -> usize {
        visible[bi * tq + i0..bi * tq + i0 + rows]
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// Scores `q k^T * scale + bias` of a block into `s` (rows x kh, row-major).
    fn scores(&self, q: &[f32], kg: &[f32], bias: &[f32], rows: usize, kh: usize, s: &mut [f32]) {
        let d = self.d;
        // s = q (rows x d) . k^T (d x kh): element (l, j) of k^T is kg[j * d + l].
        gemm(rows, kh, d, s, kh, false, q, d, 1, kg, 1, d);
        for (row, brow) in s.chunks_exact_mut(kh).zip(bias.chunks_exact(self.tk)) {
            for (x, &c) in row.iter_mut().zip(&brow[..kh]) {
                *x = *x * self.scale + c;
            }
        }
    }

    /// The output (b, h, tq, d) and what backward needs.
    pub fn forward(&self, visible: Vec<usize>) -> Result<(Vec<f32>, Saved), String> {
        self.check()?;
        let (h, g, tq, tk, d, rep) = self.dims();
        let mut out = vec![0f32; self.b * h * tq * d];
        let mut lse = vec![0f32; self.b * h * tq];
        out.par_chunks_mut(rep * tq * d)
            .zip(lse.par_chunks_mut(rep * tq))
            .enumerate()
            .for_each(|(task, (out, lse))| {
                let (bi, gi) = (task / g, task % g);
                let kg = &self.k[task * tk * d..][..tk * d];
                let vg = &self.v[task * tk * d..][..tk * d];
                let mut s = vec![0f32; ROWS * tk];
                for r in 0..rep {
                    let qh = &self.q[(bi * h + gi * rep + r) * tq * d..][..tq * d];
                    for i0 in (0..tq).step_by(ROWS) {
                        let rows = ROWS.min(tq - i0);
                        let kh = Self::reach(&visible, bi, tq, i0, rows);
                        let s = &mut s[..rows * kh];
                        let bias = &self.bias[(bi * tq + i0) * tk..][..rows * tk];
                        self.scores(&qh[i0 * d..][..rows * d], kg, bias, rows, kh, s);
                        for (rr, row) in s.chunks_exact_mut(kh).enumerate() {
                            let m = row.iter().fold(f32::NEG_INFINITY, |a, &x| a.max(x));
                            row.iter_mut().for_each(|x| *x = exp(*x - m));
                            let sum: f32 = row.iter().sum();
                            let inv = 1.0 / sum;
                            row.iter_mut().for_each(|x| *x *= inv);
                            lse[r * tq + i0 + rr] = m + sum.ln();
                        }
                        // out rows = p (rows x kh) . v (kh x d).
                        let o = &mut out[(r * tq + i0) * d..][..rows * d];
                        gemm(rows, d, kh, o, d, false, s, kh, 1, vg, d, 1);
                    }
                }
            });
        Ok((out, Saved { visible, lse }))
    }

    /// The gradients of q, k and v for the output gradient `grad` (b, h, tq, d).
    pub fn backward(&self, saved: &Saved, grad: &[f32]) -> Result<Grads, String> {
        self.check()?;
        let (h, g, tq, tk, d, rep) = self.dims();
        if grad.len() != self.q.len() || saved.lse.len() != self.b * h * tq {
            return Err(format!(
                "attention backward: gradient of {} values for an output of {}",
                grad.len(),
                self.q.len()
            ));
        }
        let mut dq = vec![0f32; self.q.len()];
        let mut dk = vec![0f32; self.k.len()];
        let mut dv = vec![0f32; self.v.len()];
        dq.par_chunks_mut(rep * tq * d)
            .zip(dk.par_chunks_mut(tk * d))
            .zip(dv.par_chunks_mut(tk * d))
            .enumerate()
            .for_each(|(task, ((dq, dk), dv))| {
                let (bi, gi) = (task / g, task % g);
                let kg = &self.k[task * tk * d..][..tk * d];
                let vg = &self.v[task * tk * d..][..tk * d];
                let (mut p, mut dp) = (vec![0f32; ROWS * tk], vec![0f32; ROWS * tk]);
                for r in 0..rep {
                    let head = (bi * h + gi * rep + r) * tq;
                    let qh = &self.q[head * d..][..tq * d];
                    let gh = &grad[head * d..][..tq * d];
                    let lse = &saved.lse[head..][..tq];
                    for i0 in (0..tq).step_by(ROWS) {
                        let rows = ROWS.min(tq - i0);
                        let kh = Self::reach(&saved.visible, bi, tq, i0, rows);
                        let (p, dp) = (&mut p[..rows * kh], &mut dp[..rows * kh]);
                        let (qb, gb) = (&qh[i0 * d..][..rows * d], &gh[i0 * d..][..rows * d]);
                        let bias = &self.bias[(bi * tq + i0) * tk..][..rows * tk];
                        self.scores(qb, kg, bias, rows, kh, p);
                        for (row, &l) in p.chunks_exact_mut(kh).zip(&lse[i0..i0 + rows]) {
                            row.iter_mut().for_each(|x| *x = exp(*x - l));
                        }
                        // dv (kh x d) += p^T (kh x rows) . grad rows (rows x d).
                        gemm(kh, d, rows, &mut dv[..kh * d], d, true, p, 1, kh, gb, d, 1);
                        // dp = grad rows (rows x d) . v^T (d x kh).
                        gemm(rows, kh, d, dp, kh, false, gb, d, 1, vg, 1, d);
                        // Softmax backward: ds = p (dp - sum(p dp)) * scale, into dp.
                        for (prow, drow) in p.chunks_exact(kh).zip(dp.chunks_exact_mut(kh)) {
                            let dot: f32 = prow.iter().zip(drow.iter()).map(|(a, b)| a * b).sum();
                            for (x, &pj) in drow.iter_mut().zip(prow) {
                                *x = pj * (*x - dot) * self.scale;
                            }
                        }
                        // dq rows = ds (rows x kh) . k (kh x d).
                        let dqb = &mut dq[(r * tq + i0) * d..][..rows * d];
                        gemm(rows, d, kh, dqb, d, false, dp, kh, 1, kg, d, 1);
                        // dk (kh x d) += ds^T (kh x rows) . q rows (rows x d).
                        gemm(kh, d, rows, &mut dk[..kh * d], d, true, dp, 1, kh, qb, d, 1);
                    }
                }
            });
        Ok(Grads { dq, dk, dv })
    }
}

/// [`gemm_on`] on the calling thread alone.
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    acc: bool,
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
    rhs_cs: usize,
) {
    let par = gemm::Parallelism::None;
    gemm_on(
        par, 1.0, m, n, k, dst, dst_rs, acc, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs,
    )
}

/// `dst (m x n, row stride dst_rs) [+]= beta * lhs (m x k) . rhs (k x n)` with the `gemm` crate's
/// `par`, where element (i, l) of `lhs` is `lhs[i * lhs_rs + l * lhs_cs]` and element (l, j) of
/// `rhs` is `rhs[l * rhs_rs + j * rhs_cs]`; `acc` adds to `dst` instead of overwriting it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_on(
    par: gemm::Parallelism,
    beta: f32,
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    acc: bool,
    lhs: &[f32],
    lhs_rs: usize,
    lhs_cs: usize,
    rhs: &[f32],
    rhs_rs: usize,
    rhs_cs: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(last(m, n, dst_rs, 1) < dst.len(), "gemm: dst too short");
    if k == 0 {
        if !acc {
            for row in dst.chunks_mut(dst_rs).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    assert!(
        last(m, k, lhs_rs, lhs_cs) < lhs.len(),
        "gemm: lhs too short"
    );
    assert!(
        last(k, n, rhs_rs, rhs_cs) < rhs.len(),
        "gemm: rhs too short"
    );
    // SAFETY: every index the product reads or writes was checked against its slice above, and
    // `dst` is borrowed mutably, so it does not alias `lhs` or `rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            acc,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            beta,
            false,
            false,
            false,
            par,
        )
    }
}
