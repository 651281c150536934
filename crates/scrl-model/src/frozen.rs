//! Differentiable ops with a frozen operand whose backward computes only the gradients that can be
//! used.
//!
//! candle 0.11's backward computes a gradient for both operands of every `matmul` and binary op and
//! keeps it in the `GradStore`, also for a tensor that is neither a `Var` nor derived from one
//! (`backprop.rs`, `Op::Matmul`, `Op::Binary`). Under LoRA that is a full-size gradient and an
//! extra GEMM for every frozen base weight, plus activation-sized buffers for the norm weights,
//! RoPE tables and attention mask. The products and broadcasts here run candle's forward kernels
//! (bit-identical outputs) and return `None` for the frozen operand, so no such buffer is ever
//! allocated; attention uses candle's fused softmax and recomputes its probabilities in backward
//! instead of keeping them, and RoPE and RMSNorm run candle's fused kernels (which have no
//! backward) inside nodes with their own. Chains of candle nodes are single nodes here where that
//! saves memory and time (candle keeps every node's inputs and makes every gradient as zeros plus a
//! sum): a LoRA linear layer, the token log-probabilities, grouped-query attention without copies
//! of k and v, the MLP's SwiGLU product. On f32 CPU tensors attention, SwiGLU and RMSNorm's
//! backward run our own kernels (`cpu_attention`, `cpu_kernels`: causal blocks that skip the
//! masked keys, one pass per elementwise chain, rayon across rows); other dtypes and devices run
//! candle's ops inside the same nodes. `FrozenOps::Candle` keeps the old path selectable for
//! benchmarks and for the gradient-equality tests. This module knows nothing about the model's
//! layout.

use candle_core::backend::BackendStorage;
use rayon::prelude::*;
use std::sync::Mutex;

use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, CustomOp2, CustomOp3, D, DType, Layout, Result, Shape,
    Storage, Tensor,
};

use crate::cpu_attention::gemm_on;
use crate::cpu_kernels::exp;

/// How a differentiable forward treats operands that receive no gradient (frozen weights, norm
/// weights, RoPE tables, masks).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum FrozenOps {
    /// Custom ops whose backward returns only the gradients of operands that track one: a frozen
    /// linear layer costs one GEMM (`grad W`) instead of two, and the `GradStore` holds nothing for
    /// it.
    #[default]
    InputGradOnly,
    /// candle's own `matmul` and broadcast ops, as before issue 14: backward also computes, and
    /// keeps, a gradient for every frozen operand. Kept for benchmarks and the equality test.
    Candle,
}

/// `a @ b` for 2-D `a` and `b`. With `InputGradOnly`, when only one operand tracks a gradient (a
/// frozen weight, or an input that does not depend on any `Var`), backward computes only that
/// one's.
pub(crate) fn matmul(a: &Tensor, b: &Tensor, ops: FrozenOps) -> Result<Tensor> {
    if ops == FrozenOps::Candle || a.track_op() == b.track_op() {
        return a.matmul(b);
    }
    a.apply_op2(b, Matmul)
}

/// `x W^T` for `x` (n, in) and a weight `w` (out, in).
pub(crate) fn linear(x: &Tensor, w: &Tensor, ops: FrozenOps) -> Result<Tensor> {
    let shape = Shape::from((x.dim(0)?, w.dim(0)?));
    linear_shaped(x, w, shape, ops)
}

/// `x W^T` for `x` (n, in) and a weight `w` (out, in), its n * out values in row order shaped
/// `shape` (the logits as (b, t, vocab)). With `InputGradOnly` it is one node: candle's graph of
/// the same product has three (the transpose of `w`, the product, the reshape), and backward
/// makes each gradient as zeros plus a sum, the weight's through a strided sum of a transposed
/// view. This node's backward writes `dx = g W` and `dW = g^T x` in their own layouts, each only
/// when its operand tracks a gradient, and on f32 CPU tensors runs the two products side by side
/// on rayon's pool (each with half the threads) instead of one after the other.
pub(crate) fn linear_shaped(
    x: &Tensor,
    w: &Tensor,
    shape: Shape,
    ops: FrozenOps,
) -> Result<Tensor> {
    if ops == FrozenOps::Candle || !(x.track_op() || w.track_op()) {
        return x.matmul(&w.t()?)?.reshape(shape);
    }
    x.apply_op2(w, Linear(shape))
}

/// `x * y` with `y` broadcast to `x`'s shape.
pub(crate) fn mul(x: &Tensor, y: &Tensor, ops: FrozenOps) -> Result<Tensor> {
    binary(x, y, ops, BinOp::Mul)
}

/// `x + y` with `y` broadcast to `x`'s shape.
pub(crate) fn add(x: &Tensor, y: &Tensor, ops: FrozenOps) -> Result<Tensor> {
    binary(x, y, ops, BinOp::Add)
}

fn binary(x: &Tensor, y: &Tensor, ops: FrozenOps, op: BinOp) -> Result<Tensor> {
    let (gx, gy) = (x.track_op(), y.track_op());
    // A broadcast operand that needs a gradient would need it summed back; candle's op does that.
    if ops == FrozenOps::Candle || gx == gy || (gy && y.shape() != x.shape()) {
        return match op {
            BinOp::Mul => x.broadcast_mul(y),
            BinOp::Add => x.broadcast_add(y),
        };
    }
    let y = y.broadcast_as(x.shape())?;
    x.apply_op2(&y, Binary(op))
}

/// The LoRA branch of a linear layer: `scale * (mask * x) A^T B^T` with `a` (r, in) and `b` (out,
/// r) in f32, `mask` the dropout mask of `x` (in f32) when training with dropout.
pub(crate) struct Lora<'a> {
    pub(crate) a: &'a Tensor,
    pub(crate) b: &'a Tensor,
    pub(crate) scale: f64,
    pub(crate) mask: Option<&'a Tensor>,
}

/// `x W^T (+ bias) + scale * (mask * x) A^T B^T` for `x` (n, in) and a frozen `w` (out, in) as one
/// graph node: candle's graph of the same sum has seven nodes (the base product, the mask product,
/// two LoRA products, the scale, the cast and the sum), each keeping its inputs and each gradient
/// made as zeros plus a sum. This node keeps the mask and the (n, r) product `x A^T`; backward is
/// `dx = g W + scale * mask * (g B) A`, `dA = scale * (g B)^T (mask * x)` and
/// `dB = scale * g^T (x A^T)`, each only for an operand that tracks a gradient (never for `w`).
pub(crate) fn lora_linear(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    lora: Lora<'_>,
) -> Result<Tensor> {
    if let Some(y) = lora_linear_on_cpu(x, w, bias, &lora)? {
        return Ok(y);
    }
    let (a, b, scale) = (lora.a, lora.b, lora.scale);
    let mask = lora.mask.cloned();
    let xd = x.detach();
    let mut y = xd.matmul(&w.t()?)?;
    if let Some(bias) = bias {
        y = y.broadcast_add(bias)?;
    }
    let xa = masked(&xd, mask.as_ref())?.matmul(&a.detach().t()?)?;
    let delta = (xa.matmul(&b.detach().t()?)? * scale)?;
    let dtype = y.dtype();
    let y = (y + delta.to_dtype(dtype)?)?;
    drop(delta);
    let (gx, ga, gb) = (x.track_op(), a.track_op(), b.track_op());
    if !(gx || ga || gb) {
        return Ok(y);
    }
    let w = w.clone();
    let bwd = move |x: &Tensor, a: &Tensor, b: &Tensor, grad: &Tensor| -> Result<Grads3> {
        let g32 = grad.to_dtype(DType::F32)?;
        let gbm = g32.matmul(b)?; // (n, r)
        let dx = if gx {
            let mut lora = (gbm.matmul(a)? * scale)?;
            if let Some(m) = &mask {
                lora = (lora * m)?;
            }
            let base = grad.matmul(&w)?;
            Some((base + lora.to_dtype(grad.dtype())?)?.to_dtype(x.dtype())?)
        } else {
            None
        };
        let da = if ga {
            Some((gbm.t()?.matmul(&masked(x, mask.as_ref())?)? * scale)?)
        } else {
            None
        };
        let db = if gb {
            Some((g32.t()?.matmul(&xa)? * scale)?)
        } else {
            None
        };
        Ok((dx, da, db))
    };
    x.apply_op3(
        a,
        b,
        HandOver3 {
            out: Mutex::new(Some(y)),
            bwd: Box::new(bwd),
        },
    )
}

/// The `gemm` crate's split of one product over `threads` of rayon's pool, as candle's matmul
/// chooses it for the whole pool.
fn parallelism(threads: usize) -> gemm::Parallelism {
    match threads {
        0 | 1 => gemm::Parallelism::None,
        t => gemm::Parallelism::Rayon(t),
    }
}

/// `lora_linear` for f32 CPU operands (`None` otherwise): forward writes the base product onto the
/// bias and the LoRA product onto that, scaled, in one buffer (candle's ops make the product, the
/// sum with the bias, the scaled LoRA term and the sum, each a pass on one thread); backward adds
/// the LoRA term into `g W` the same way, its dropout mask in one parallel pass.
fn lora_linear_on_cpu(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    lora: &Lora<'_>,
) -> Result<Option<Tensor>> {
    let (a, b, scale) = (lora.a, lora.b, lora.scale as f32);
    let mut all = vec![x, w, a, b];
    all.extend(bias);
    all.extend(lora.mask);
    if !x.device().is_cpu() || all.iter().any(|t| t.dtype() != DType::F32) || x.rank() != 2 {
        return Ok(None);
    }
    let ((n, din), (dout, r)) = (x.dims2()?, b.dims2()?);
    let fits = w.dims() == [dout, din]
        && a.dims() == [r, din]
        && bias.is_none_or(|t| t.dims() == [dout])
        && lora.mask.is_none_or(|t| t.dims() == [n, din]);
    if !fits {
        candle_core::bail!(
            "lora linear: x {:?}, w {:?}, A {:?}, B {:?} do not fit",
            x.shape(),
            w.shape(),
            a.shape(),
            b.shape()
        );
    }
    let par = parallelism(rayon::current_num_threads());
    let mask = lora.mask.map(|m| m.contiguous()).transpose()?;
    let xm = match &mask {
        Some(m) => Some(with_cpu_f32s([x, m], |[x, m]| {
            crate::cpu_kernels::mul(x, m)
        })?),
        None => None,
    };
    let (y, xa) = with_cpu_f32s([x, w, a, b], |[xs, ws, as_, bs]| {
        let xm = xm.as_deref().unwrap_or(xs);
        // xa (n x r) = xm . A^T
        let mut xa = vec![0f32; n * r];
        gemm_on(
            par, 1.0, n, r, din, &mut xa, r, false, xm, din, 1, as_, 1, din,
        );
        let mut y = vec![0f32; n * dout];
        if let Some(bias) = bias {
            with_cpu_f32s([bias], |[bias]| {
                y.par_chunks_mut(dout.max(1))
                    .for_each(|row| row.copy_from_slice(bias))
            })?;
        }
        // y (n x out) [+]= x . W^T, then += scale * xa . B^T
        gemm_on(
            par,
            1.0,
            n,
            dout,
            din,
            &mut y,
            dout,
            bias.is_some(),
            xs,
            din,
            1,
            ws,
            1,
            din,
        );
        gemm_on(
            par, scale, n, dout, r, &mut y, dout, true, &xa, r, 1, bs, 1, r,
        );
        Ok::<_, candle_core::Error>((y, xa))
    })??;
    drop(xm);
    let y = Tensor::from_vec(y, (n, dout), x.device())?;
    let (gx, ga, gb) = (x.track_op(), a.track_op(), b.track_op());
    if !(gx || ga || gb) {
        return Ok(Some(y));
    }
    let w = w.clone();
    let bwd = move |x: &Tensor, a: &Tensor, b: &Tensor, grad: &Tensor| -> Result<Grads3> {
        let dev = x.device();
        let xm = match &mask {
            Some(m) => Some(with_cpu_f32s([x, m], |[x, m]| {
                crate::cpu_kernels::mul(x, m)
            })?),
            None => None,
        };
        let masks: Vec<&Tensor> = mask.iter().collect();
        let (dx, da, db) = with_cpu_f32s([x, &w, a, b, grad], |[xs, ws, as_, bs, g]| {
            // gbm (n x r) = g . B
            let mut gbm = vec![0f32; n * r];
            gemm_on(
                par, 1.0, n, r, dout, &mut gbm, r, false, g, dout, 1, bs, r, 1,
            );
            let dx = gx.then(|| {
                // dx (n x in) = g . W + scale * mask * (gbm . A)
                let mut dx = vec![0f32; n * din];
                gemm_on(
                    par, 1.0, n, din, dout, &mut dx, din, false, g, dout, 1, ws, din, 1,
                );
                match masks.first() {
                    Some(m) => {
                        let mut t = vec![0f32; n * din];
                        gemm_on(
                            par, 1.0, n, din, r, &mut t, din, false, &gbm, r, 1, as_, din, 1,
                        );
                        with_cpu_f32s([m], |[m]| {
                            crate::cpu_kernels::add_scaled_product(&mut dx, scale, m, &t)
                        })?;
                    }
                    None => gemm_on(
                        par, scale, n, din, r, &mut dx, din, true, &gbm, r, 1, as_, din, 1,
                    ),
                }
                Ok::<_, candle_core::Error>(dx)
            });
            let da = ga.then(|| {
                // dA (r x in) = scale * gbm^T . xm
                let xm = xm.as_deref().unwrap_or(xs);
                let mut da = vec![0f32; r * din];
                gemm_on(
                    par, scale, r, din, n, &mut da, din, false, &gbm, 1, r, xm, din, 1,
                );
                da
            });
            let db = gb.then(|| {
                // dB (out x r) = scale * g^T . xa
                let mut db = vec![0f32; dout * r];
                gemm_on(
                    par, scale, dout, r, n, &mut db, r, false, g, 1, dout, &xa, r, 1,
                );
                db
            });
            (dx.transpose(), da, db)
        })?;
        Ok((
            dx?.map(|d| Tensor::from_vec(d, (n, din), dev))
                .transpose()?,
            da.map(|d| Tensor::from_vec(d, (r, din), dev)).transpose()?,
            db.map(|d| Tensor::from_vec(d, (dout, r), dev))
                .transpose()?,
        ))
    };
    Ok(Some(x.apply_op3(
        a,
        b,
        HandOver3 {
            out: Mutex::new(Some(y)),
            bwd: Box::new(bwd),
        },
    )?))
}

/// Causal attention `softmax(q k^T * scale + bias) v` for `q` (b, h, tq, d), `k` and `v` (b, g, tk,
/// d) with `g` dividing `h` (grouped-query attention: query head `i` reads key/value head
/// `i / (h / g)`), a constant f32 `bias` (b, 1, tq, tk); scores and softmax in f32, the output (b,
/// h, tq, d) in v's dtype. With `InputGradOnly` the graph keeps no score-sized tensor: backward
/// recomputes the probabilities one batch row at a time (one more `q k^T` per layer), so the (tq,
/// tk) scores of a layer exist for one row at a time instead of six copies for every layer until
/// backward reaches it; and the key/value heads are not copied `h / g` times: the `h / g` query
/// heads of a group are one (h / g * tq, d) operand of one product with the group's keys.
pub(crate) fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    bias: &Tensor,
    scale: f64,
    ops: FrozenOps,
) -> Result<Tensor> {
    let (b, nh, tq, hd) = q.dims4()?;
    let (_, nkv, tk, _) = k.dims4()?;
    if nkv == 0 || nh % nkv != 0 || v.dims4()? != (b, nkv, tk, hd) {
        candle_core::bail!(
            "attention: q {:?}, k {:?} and v {:?} do not fit",
            q.shape(),
            k.shape(),
            v.shape()
        );
    }
    let rep = nh / nkv;
    if ops == FrozenOps::Candle || bias.track_op() {
        let repeat = |x: &Tensor| -> Result<Tensor> {
            if rep == 1 {
                return Ok(x.clone());
            }
            x.unsqueeze(2)?
                .broadcast_as((b, nkv, rep, tk, hd))?
                .reshape((b, nh, tk, hd))
        };
        let (k, v) = (repeat(k)?, repeat(v)?.contiguous()?);
        let (q, k) = (q.to_dtype(DType::F32)?, k.to_dtype(DType::F32)?);
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        return probs.to_dtype(v.dtype())?.matmul(&v);
    }
    if let Some(out) = attention_on_cpu(q, k, v, bias, scale)? {
        return Ok(out);
    }
    let group = Group { rep, tq };
    let (qd, kd, vd) = (
        group.queries(&q.detach().contiguous()?)?,
        k.detach().contiguous()?,
        v.detach().contiguous()?,
    );
    let mut rows = Vec::with_capacity(b);
    for i in 0..b {
        let p = probs(
            &qd.narrow(0, i, 1)?,
            &kd.narrow(0, i, 1)?,
            &group.bias(&bias.narrow(0, i, 1)?)?,
            scale,
        )?;
        rows.push(p.to_dtype(v.dtype())?.matmul(&vd.narrow(0, i, 1)?)?);
    }
    let out = group.heads(&Tensor::cat(&rows, 0)?)?;
    drop(rows);
    if !(q.track_op() || k.track_op() || v.track_op()) {
        return Ok(out);
    }
    // The node hands over `out` (one copy of a (b, h, tq, d) tensor); its backward recomputes the
    // probabilities.
    let tracks = (q.track_op(), k.track_op(), v.track_op());
    let bias = bias.clone();
    q.apply_op3(
        k,
        v,
        HandOver3 {
            out: Mutex::new(Some(out)),
            bwd: Box::new(move |q: &Tensor, k: &Tensor, v: &Tensor, grad: &Tensor| {
                attention_bwd(q, k, v, grad, &bias, scale, group, tracks)
            }),
        },
    )
}

/// `attention` by the CPU kernel (`cpu_attention`: causal blocks, no masked products, one pass of
/// softmax) for f32 CPU operands where every query row sees a key; `None` for the generic path.
/// The node keeps the output and each row's log-normaliser; backward recomputes the probabilities.
fn attention_on_cpu(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    bias: &Tensor,
    scale: f64,
) -> Result<Option<Tensor>> {
    let f32s = [q, k, v, bias].iter().all(|t| t.dtype() == DType::F32);
    let (b, _, tq, _) = q.dims4()?;
    let tk = k.dim(2)?;
    if !q.device().is_cpu() || !f32s || tk == 0 || bias.dims4()? != (b, 1, tq, tk) {
        return Ok(None);
    }
    let bias = bias.contiguous()?;
    let (qd, kd, vd) = (q.detach(), k.detach(), v.detach());
    let Some((out, saved)) = with_cpu_attention(&qd, &kd, &vd, &bias, scale, |att| {
        att.visible().map(|visible| att.forward(visible))
    })?
    .transpose()
    .map_err(candle_core::Error::msg)?
    else {
        return Ok(None);
    };
    let out = Tensor::from_vec(out, q.shape(), q.device())?;
    let tracks = [q.track_op(), k.track_op(), v.track_op()];
    if !tracks.contains(&true) {
        return Ok(Some(out));
    }
    let bwd = move |q: &Tensor, k: &Tensor, v: &Tensor, grad: &Tensor| -> Result<Grads3> {
        let grads = with_cpu_f32s([grad], |[g]| {
            with_cpu_attention(q, k, v, &bias, scale, |att| att.backward(&saved, g))
        })??
        .map_err(candle_core::Error::msg)?;
        let dev = q.device();
        let keep = |on: bool, x: Vec<f32>, like: &Tensor| -> Result<Option<Tensor>> {
            on.then(|| Tensor::from_vec(x, like.shape(), dev))
                .transpose()
        };
        Ok((
            keep(tracks[0], grads.dq, q)?,
            keep(tracks[1], grads.dk, k)?,
            keep(tracks[2], grads.dv, v)?,
        ))
    };
    Ok(Some(q.apply_op3(
        k,
        v,
        HandOver3 {
            out: Mutex::new(Some(out)),
            bwd: Box::new(bwd),
        },
    )?))
}

/// `f` over the f32 slices of CPU tensors q (b, h, tq, d), k and v (b, g, tk, d) and bias (b, 1,
/// tq, tk).
fn with_cpu_attention<R>(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    bias: &Tensor,
    scale: f64,
    f: impl FnOnce(&crate::cpu_attention::Attention) -> R,
) -> Result<R> {
    let (b, heads, tq, d) = q.dims4()?;
    let (_, groups, tk, _) = k.dims4()?;
    with_cpu_f32s([q, k, v, bias], |[q, k, v, bias]| {
        f(&crate::cpu_attention::Attention {
            q,
            k,
            v,
            bias,
            b,
            heads,
            groups,
            tq,
            tk,
            d,
            scale: scale as f32,
        })
    })
}

/// `f` over the values of f32 CPU tensors (made contiguous where they are not).
pub(crate) fn with_cpu_f32s<const N: usize, R>(
    ts: [&Tensor; N],
    f: impl FnOnce([&[f32]; N]) -> R,
) -> Result<R> {
    let ts = ts.map(|t| t.contiguous());
    let ts = ts.into_iter().collect::<Result<Vec<_>>>()?;
    let guards: Vec<_> = ts.iter().map(|t| t.storage_and_layout()).collect();
    let slices = guards
        .iter()
        .map(|(s, l)| cpu_f32s(s, l))
        .collect::<Result<Vec<_>>>()?;
    let Ok(slices) = <[&[f32]; N]>::try_from(slices) else {
        unreachable!("one slice per tensor");
    };
    Ok(f(slices))
}

/// The values of a contiguous f32 CPU tensor.
fn cpu_f32s<'a>(s: &'a Storage, l: &Layout) -> Result<&'a [f32]> {
    let Some(s) = cpu(s) else {
        candle_core::bail!("expected a CPU tensor");
    };
    if !l.is_contiguous() {
        candle_core::bail!("expected a contiguous tensor");
    }
    Ok(&s.as_slice::<f32>()?[l.start_offset()..l.start_offset() + l.shape().elem_count()])
}

/// The query heads that share one key/value head, as rows of one operand: `rep` heads of `tq`
/// rows each.
#[derive(Clone, Copy)]
struct Group {
    rep: usize,
    tq: usize,
}

impl Group {
    /// (b, g * rep, tq, d) -> (b, g, rep * tq, d); a reshape of a contiguous tensor, no copy.
    fn queries(&self, q: &Tensor) -> Result<Tensor> {
        let (b, nh, tq, hd) = q.dims4()?;
        q.reshape((b, nh / self.rep, self.rep * tq, hd))
    }

    /// The inverse of `queries`.
    fn heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, g, _, hd) = x.dims4()?;
        x.reshape((b, g * self.rep, self.tq, hd))
    }

    /// A (1, 1, tq, tk) bias repeated for the `rep` heads of a group: (1, 1, rep * tq, tk).
    fn bias(&self, bias: &Tensor) -> Result<Tensor> {
        if self.rep == 1 {
            return Ok(bias.clone());
        }
        bias.repeat((1, 1, self.rep, 1))
    }
}

/// Rotate-half RoPE of `x` (b, h, t, d) with `cos`/`sin` (b, t, d/2) in x's dtype. With
/// `InputGradOnly` the forward is candle's fused kernel and the graph keeps only the output
/// (instead of the halves' negation, concatenation, two products and their sum); backward is the
/// inverse rotation, the same kernel with `-sin`.
pub(crate) fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor, ops: FrozenOps) -> Result<Tensor> {
    if ops == FrozenOps::Candle || cos.track_op() || sin.track_op() {
        let full = |c: &Tensor| -> Result<Tensor> { Tensor::cat(&[c, c], D::Minus1)?.unsqueeze(1) };
        let (cos, sin) = (full(cos)?, full(sin)?);
        let d = x.dim(D::Minus1)?;
        let x1 = x.narrow(D::Minus1, 0, d / 2)?;
        let x2 = x.narrow(D::Minus1, d / 2, d / 2)?;
        let rot = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
        return x.broadcast_mul(&cos)? + rot.broadcast_mul(&sin)?;
    }
    let out = candle_nn::rotary_emb::rope(&x.detach(), cos, sin)?;
    if !x.track_op() {
        return Ok(out);
    }
    let (cos, neg_sin) = (cos.clone(), sin.neg()?);
    x.apply_op1(HandOver {
        out: Mutex::new(Some(out)),
        bwd: Box::new(move |_x: &Tensor, grad: &Tensor| {
            candle_nn::rotary_emb::rope(&grad.contiguous()?, &cos, &neg_sin)
        }),
    })
}

/// RMSNorm of `x` (.., h) times the weight `alpha` (h). With `InputGradOnly` the forward is
/// candle's fused kernel and the graph keeps only the output; backward (in f32) is
/// `dx = r (g alpha) - x r^3 mean(g alpha x)`, r = 1 / sqrt(mean(x^2) + eps), and, for a trainable
/// `alpha` (full fine-tuning), `d alpha = sum over rows of g x r`. Otherwise
/// `candle_nn::ops::rms_norm_slow`'s steps, with the weight product through `mul`.
pub(crate) fn rms_norm(x: &Tensor, alpha: &Tensor, eps: f32, ops: FrozenOps) -> Result<Tensor> {
    if ops == FrozenOps::Candle || (alpha.track_op() && alpha.rank() != 1) {
        let x_dtype = x.dtype();
        let internal = match x_dtype {
            DType::F16 | DType::BF16 => DType::F32,
            d => d,
        };
        let hidden = x.dim(D::Minus1)?;
        let x = x.to_dtype(internal)?;
        let norm_x = (x.sqr()?.sum_keepdim(D::Minus1)? / hidden as f64)?;
        let x_normed = x.broadcast_div(&(norm_x + eps as f64)?.sqrt()?)?;
        return mul(&x_normed.to_dtype(x_dtype)?, alpha, ops);
    }
    let out = candle_nn::ops::rms_norm(&x.detach(), &alpha.detach(), eps)?;
    let (gx, ga) = (x.track_op(), alpha.track_op());
    if !(gx || ga) {
        return Ok(out);
    }
    let bwd = move |x: &Tensor, alpha: &Tensor, grad: &Tensor| -> Result<Grads2> {
        if let Some(grads) = rms_norm_backward_on_cpu(x, alpha, grad, eps, (gx, ga))? {
            return Ok(grads);
        }
        let x32 = x.to_dtype(DType::F32)?;
        let r = (x32.sqr()?.mean_keepdim(D::Minus1)? + eps as f64)?
            .sqrt()?
            .recip()?;
        let g = grad.to_dtype(DType::F32)?;
        let dalpha = if ga {
            let rows = g.elem_count() / g.dim(D::Minus1)?;
            let gxr = (&g * x32.broadcast_mul(&r)?)?;
            let h = gxr.dim(D::Minus1)?;
            Some(gxr.reshape((rows, h))?.sum(0)?.to_dtype(alpha.dtype())?)
        } else {
            None
        };
        let dx = if gx {
            let ga = g.broadcast_mul(&alpha.to_dtype(DType::F32)?)?;
            let dot = (&ga * &x32)?.mean_keepdim(D::Minus1)?;
            let dx = (ga.broadcast_mul(&r)? - x32.broadcast_mul(&(dot * r.powf(3.0)?)?)?)?;
            Some(dx.to_dtype(x.dtype())?)
        } else {
            None
        };
        Ok((dx, dalpha))
    };
    x.apply_op2(
        alpha,
        HandOver2 {
            out: Mutex::new(Some(out)),
            bwd: Box::new(bwd),
        },
    )
}

/// RMSNorm's backward by the one-pass CPU kernel for f32 CPU tensors (`None` otherwise); `tracks`
/// says which of x and alpha want a gradient.
fn rms_norm_backward_on_cpu(
    x: &Tensor,
    alpha: &Tensor,
    grad: &Tensor,
    eps: f32,
    tracks: (bool, bool),
) -> Result<Option<Grads2>> {
    let f32s = [x, alpha, grad].iter().all(|t| t.dtype() == DType::F32);
    if !x.device().is_cpu() || !f32s || alpha.rank() != 1 {
        return Ok(None);
    }
    let (dx, dalpha) = with_cpu_f32s([x, alpha, grad], |[x, a, g]| {
        crate::cpu_kernels::rms_norm_backward(x, a, g, eps, tracks.1)
    })?;
    let dx = tracks
        .0
        .then(|| Tensor::from_vec(dx, x.shape(), x.device()))
        .transpose()?;
    let dalpha = dalpha
        .map(|d| Tensor::from_vec(d, alpha.shape(), alpha.device()))
        .transpose()?;
    Ok(Some((dx, dalpha)))
}

/// `silu(gate) * up`, the MLP's SwiGLU product. With `InputGradOnly` on f32 CPU tensors it is one
/// node whose forward and backward are one pass each (`cpu_kernels`), keeping only its two inputs
/// (candle's `silu` and `mul` keep three tensors and make about ten in backward); otherwise
/// candle's ops.
pub(crate) fn swiglu(gate: &Tensor, up: &Tensor, ops: FrozenOps) -> Result<Tensor> {
    let f32s = gate.dtype() == DType::F32 && up.dtype() == DType::F32;
    if ops == FrozenOps::Candle || !gate.device().is_cpu() || !f32s || gate.shape() != up.shape() {
        return candle_nn::ops::silu(gate)? * up;
    }
    let out = with_cpu_f32s([gate, up], |[g, u]| crate::cpu_kernels::swiglu(g, u))?;
    let out = Tensor::from_vec(out, gate.shape(), gate.device())?;
    let (tg, tu) = (gate.track_op(), up.track_op());
    if !(tg || tu) {
        return Ok(out);
    }
    let bwd = move |g: &Tensor, u: &Tensor, grad: &Tensor| -> Result<Grads2> {
        let (dg, du) = with_cpu_f32s([g, u, grad], |[g, u, d]| {
            crate::cpu_kernels::swiglu_backward(g, u, d)
        })?;
        let keep = |on: bool, d: Vec<f32>| -> Result<Option<Tensor>> {
            on.then(|| Tensor::from_vec(d, g.shape(), g.device()))
                .transpose()
        };
        Ok((keep(tg, dg)?, keep(tu, du)?))
    };
    gate.apply_op2(
        up,
        HandOver2 {
            out: Mutex::new(Some(out)),
            bwd: Box::new(bwd),
        },
    )
}

/// `log_softmax(logits / temperature)` gathered at `targets`: (b, t, v) and (b, t) -> (b, t) f32,
/// as one graph node. candle's composite `log_softmax` followed by `gather` keeps four (b, t, v)
/// intermediates for backward and makes about a dozen more in it; this node keeps none (only the
/// (b, t) log-normalisers) and its backward writes the one (b, t, v) gradient
/// `(onehot(target) - softmax(z)) * g / temperature` in one pass on the CPU, rows in parallel on
/// rayon's pool (candle's fused softmax and a scatter elsewhere).
pub(crate) fn token_logprobs(
    logits: &Tensor,
    targets: &Tensor,
    temperature: f64,
) -> Result<Tensor> {
    let (b, t, v) = logits.dims3()?;
    if targets.dims() != [b, t] {
        candle_core::bail!(
            "token_logprobs: targets {:?} do not match logits {:?}",
            targets.shape(),
            logits.shape()
        );
    }
    let inv_t = 1.0 / temperature;
    let tgt = targets.to_dtype(DType::U32)?.contiguous()?;
    let ids = tgt.flatten_all()?.to_vec1::<u32>()?;
    if let Some(&bad) = ids.iter().find(|&&i| i as usize >= v) {
        candle_core::bail!("token_logprobs: target id {bad} is outside the vocabulary of {v}");
    }
    let z = logits.detach().to_dtype(DType::F32)?.contiguous()?;
    let lse = with_cpu_rows(&z, v, |rows| {
        rows.par_chunks_exact(v)
            .map(|row| log_sum_exp(row, inv_t as f32))
            .collect::<Vec<f32>>()
    })?;
    let out = match &lse {
        Some(lse) => {
            let out = with_cpu_rows(&z, v, |rows| {
                rows.chunks_exact(v)
                    .zip(&ids)
                    .zip(lse)
                    .map(|((row, &i), &l)| row[i as usize] * inv_t as f32 - l)
                    .collect::<Vec<f32>>()
            })?
            .unwrap_or_default();
            Tensor::from_vec(out, (b, t), logits.device())?
        }
        None => candle_nn::ops::log_softmax(&(&z * inv_t)?, D::Minus1)?
            .gather(&tgt.unsqueeze(2)?, 2)?
            .squeeze(2)?,
    };
    drop(z);
    if !logits.track_op() {
        return Ok(out);
    }
    logits.apply_op1(HandOver {
        out: Mutex::new(Some(out)),
        bwd: Box::new(move |x: &Tensor, grad: &Tensor| {
            let dtype = x.dtype();
            let z = x.to_dtype(DType::F32)?.contiguous()?;
            let g = grad.to_dtype(DType::F32)?.contiguous()?;
            let dz = match &lse {
                Some(lse) => {
                    let g = g.flatten_all()?.to_vec1::<f32>()?;
                    let d = with_cpu_rows(&z, v, |rows| {
                        let mut d = vec![0f32; rows.len()];
                        d.par_chunks_exact_mut(v)
                            .zip(rows.par_chunks_exact(v))
                            .zip(ids.par_iter().zip(lse).zip(&g))
                            .for_each(|((d, row), ((&i, &l), &g))| {
                                let gs = g * inv_t as f32;
                                for (d, &x) in d.iter_mut().zip(row) {
                                    *d = -exp(x * inv_t as f32 - l) * gs;
                                }
                                d[i as usize] += gs;
                            });
                        d
                    })?
                    .unwrap_or_default();
                    Tensor::from_vec(d, (b, t, v), x.device())?
                }
                None => {
                    let p = candle_nn::ops::softmax_last_dim(&(&z * inv_t)?)?;
                    let g3 = (g.unsqueeze(2)? * inv_t)?;
                    p.broadcast_mul(&g3)?
                        .neg()?
                        .scatter_add(&tgt.unsqueeze(2)?, &g3, 2)?
                }
            };
            dz.to_dtype(dtype)
        }),
    })
}

/// `ln sum_j exp(row_j * inv_t)`, from the row's maximum.
fn log_sum_exp(row: &[f32], inv_t: f32) -> f32 {
    let m = row.iter().fold(f32::NEG_INFINITY, |a, &x| a.max(x * inv_t));
    let s: f32 = row.iter().map(|&x| exp(x * inv_t - m)).sum();
    m + s.ln()
}

/// `f` over the rows of a contiguous f32 CPU tensor whose last dimension is `v`; `None` for a
/// tensor on another device.
fn with_cpu_rows<R>(x: &Tensor, v: usize, f: impl FnOnce(&[f32]) -> R) -> Result<Option<R>> {
    if !x.device().is_cpu() {
        return Ok(None);
    }
    if x.dtype() != DType::F32 || x.dim(D::Minus1)? != v {
        candle_core::bail!("token_logprobs: expected contiguous f32 rows of {v}");
    }
    let (storage, layout) = x.storage_and_layout();
    Ok(Some(f(cpu_f32s(&storage, layout)?)))
}

/// `softmax(q k^T * scale + bias)` in f32 with candle's fused softmax, for tensors outside the
/// graph.
fn probs(q: &Tensor, k: &Tensor, bias: &Tensor, scale: f64) -> Result<Tensor> {
    let (q, k) = (q.to_dtype(DType::F32)?, k.to_dtype(DType::F32)?);
    let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(bias)?;
    candle_nn::ops::softmax_last_dim(&scores)
}

/// `a @ b` whose backward computes the gradient of an operand only when it tracks one.
struct Matmul;

fn matmul_fwd<S: BackendStorage>(a: &S, la: &Layout, b: &S, lb: &Layout) -> Result<(S, Shape)> {
    let (m, k) = la.shape().dims2()?;
    let (k2, n) = lb.shape().dims2()?;
    if k != k2 {
        candle_core::bail!(
            "matmul: {:?} and {:?} do not multiply",
            la.shape(),
            lb.shape()
        );
    }
    Ok((a.matmul(b, (1, m, n, k), la, lb)?, Shape::from((m, n))))
}

impl CustomOp2 for Matmul {
    fn name(&self) -> &'static str {
        "matmul-grad-if-tracked"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        matmul_fwd(s1, l1, s2, l2)
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        matmul_fwd(s1, l1, s2, l2)
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // The products candle's Matmul backward computes, each only where it is used.
        let da = if a.track_op() {
            Some(grad.matmul(&b.t()?)?)
        } else {
            None
        };
        let db = if b.track_op() {
            Some(a.t()?.matmul(grad)?)
        } else {
            None
        };
        Ok((da, db))
    }
}

/// `x W^T` shaped `.0`; backward for each operand that tracks a gradient (see `linear_shaped`).
struct Linear(Shape);

impl Linear {
    fn fwd<S: BackendStorage>(&self, x: &S, lx: &Layout, w: &S, lw: &Layout) -> Result<(S, Shape)> {
        let (out, shape) = matmul_fwd(x, lx, w, &lw.transpose(0, 1)?)?;
        if shape.elem_count() != self.0.elem_count() || shape.dims().last() != self.0.dims().last()
        {
            candle_core::bail!("linear: a {shape:?} product cannot be shaped {:?}", self.0);
        }
        Ok((out, self.0.clone()))
    }
}

impl CustomOp2 for Linear {
    fn name(&self) -> &'static str {
        "linear-grad-if-tracked"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.fwd(s1, l1, s2, l2)
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        self.fwd(s1, l1, s2, l2)
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Grads2> {
        let (n, out) = (x.dim(0)?, w.dim(0)?);
        let grad = grad.reshape((n, out))?;
        let (gx, gw) = (x.track_op(), w.track_op());
        let f32s = [x, w, &grad].iter().all(|t| t.dtype() == DType::F32);
        let threads = rayon::current_num_threads();
        if gx && gw && f32s && x.device().is_cpu() && threads > 1 {
            return linear_backward_on_cpu(x, w, &grad, threads);
        }
        let dx = gx.then(|| grad.matmul(w)).transpose()?;
        let dw = gw.then(|| grad.t()?.matmul(x)).transpose()?;
        Ok((dx, dw))
    }
}

/// `dx = g W` and `dW = g^T x` for f32 CPU tensors, side by side on rayon's pool, each product
/// with half of its threads.
fn linear_backward_on_cpu(x: &Tensor, w: &Tensor, g: &Tensor, threads: usize) -> Result<Grads2> {
    let ((n, din), out) = (x.dims2()?, w.dim(0)?);
    let par = parallelism(threads / 2);
    let (dx, dw) = with_cpu_f32s([x, w, g], |[x, w, g]| {
        let (mut dx, mut dw) = (vec![0f32; n * din], vec![0f32; out * din]);
        rayon::join(
            // dx (n x in) = g (n x out) . W (out x in)
            || {
                gemm_on(
                    par, 1.0, n, din, out, &mut dx, din, false, g, out, 1, w, din, 1,
                )
            },
            // dW (out x in) = g^T (out x n) . x (n x in)
            || {
                gemm_on(
                    par, 1.0, out, din, n, &mut dw, din, false, g, 1, out, x, din, 1,
                )
            },
        );
        (dx, dw)
    })?;
    Ok((
        Some(Tensor::from_vec(dx, (n, din), x.device())?),
        Some(Tensor::from_vec(dw, (out, din), w.device())?),
    ))
}

#[derive(Clone, Copy)]
enum BinOp {
    Mul,
    Add,
}

/// `x (op) y` with `y` already broadcast to x's shape; backward only for an operand that tracks.
struct Binary(BinOp);

fn binary_fwd<S: BackendStorage>(
    op: BinOp,
    x: &S,
    lx: &Layout,
    y: &S,
    ly: &Layout,
) -> Result<(S, Shape)> {
    let out = match op {
        BinOp::Mul => x.binary_impl::<candle_core::op::Mul>(y, lx, ly)?,
        BinOp::Add => x.binary_impl::<candle_core::op::Add>(y, lx, ly)?,
    };
    Ok((out, lx.shape().clone()))
}

impl CustomOp2 for Binary {
    fn name(&self) -> &'static str {
        match self.0 {
            BinOp::Mul => "mul-grad-if-tracked",
            BinOp::Add => "add-grad-if-tracked",
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        binary_fwd(self.0, s1, l1, s2, l2)
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        binary_fwd(self.0, s1, l1, s2, l2)
    }

    fn bwd(
        &self,
        x: &Tensor,
        y: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad_of = |other: &Tensor| match self.0 {
            BinOp::Mul => grad.mul(other),
            BinOp::Add => Ok(grad.clone()),
        };
        let dx = if x.track_op() {
            Some(grad_of(y)?)
        } else {
            None
        };
        let dy = if y.track_op() {
            Some(grad_of(x)?)
        } else {
            None
        };
        Ok((dx, dy))
    }
}

/// A graph node over one input whose output was computed outside the graph (its forward hands that
/// tensor over, one copy) and whose backward is `bwd(input, grad)`.
struct HandOver {
    out: Mutex<Option<Tensor>>,
    bwd: Backward,
}

/// `bwd(input, grad)` of a `HandOver` node.
type Backward = Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor> + Send + Sync>;

/// The storage of the tensor in `out`, copied, taken out so a second forward is an error.
fn hand_over<S>(
    out: &Mutex<Option<Tensor>>,
    pick: impl Fn(&Storage) -> Option<&S>,
    copy: impl Fn(&S, &Layout) -> Result<S>,
) -> Result<(S, Shape)> {
    let t = out
        .lock()
        .map_err(|_| candle_core::Error::Msg("hand-over: poisoned lock".into()))?
        .take()
        .ok_or_else(|| candle_core::Error::Msg("hand-over: forward ran twice".into()))?;
    let (storage, layout) = t.storage_and_layout();
    match pick(&storage) {
        Some(s) => Ok((copy(s, layout)?, layout.shape().clone())),
        None => candle_core::bail!("hand-over: the output is on another device"),
    }
}

fn cpu(s: &Storage) -> Option<&CpuStorage> {
    match s {
        Storage::Cpu(s) => Some(s),
        _ => None,
    }
}

fn cuda(s: &Storage) -> Option<&CudaStorage> {
    match s {
        Storage::Cuda(s) => Some(s),
        _ => None,
    }
}

impl CustomOp1 for HandOver {
    fn name(&self) -> &'static str {
        "hand-over"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        hand_over(&self.out, cpu, |s, l| s.try_clone(l))
    }

    fn cuda_fwd(&self, _: &CudaStorage, _: &Layout) -> Result<(CudaStorage, Shape)> {
        hand_over(&self.out, cuda, |s, l| s.try_clone(l))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some((self.bwd)(&arg.detach(), grad)?))
    }
}

/// `HandOver` over two inputs; backward returns the gradient of each input that has one.
struct HandOver2 {
    out: Mutex<Option<Tensor>>,
    bwd: Backward2,
}

/// The two input gradients of a `HandOver2` node.
type Grads2 = (Option<Tensor>, Option<Tensor>);

/// `bwd(a, b, grad)` of a `HandOver2` node.
type Backward2 = Box<dyn Fn(&Tensor, &Tensor, &Tensor) -> Result<Grads2> + Send + Sync>;

impl CustomOp2 for HandOver2 {
    fn name(&self) -> &'static str {
        "hand-over-2"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        hand_over(&self.out, cpu, |s, l| s.try_clone(l))
    }

    fn cuda_fwd(
        &self,
        _: &CudaStorage,
        _: &Layout,
        _: &CudaStorage,
        _: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        hand_over(&self.out, cuda, |s, l| s.try_clone(l))
    }

    fn bwd(&self, a: &Tensor, b: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Grads2> {
        (self.bwd)(&a.detach(), &b.detach(), grad)
    }
}

/// `x` in f32, times the dropout mask if there is one.
fn masked(x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
    let x32 = x.to_dtype(DType::F32)?;
    match mask {
        Some(m) => x32 * m,
        None => Ok(x32),
    }
}

/// `HandOver` over three inputs.
struct HandOver3 {
    out: Mutex<Option<Tensor>>,
    bwd: Backward3,
}

/// The three input gradients of a `HandOver3` node.
type Grads3 = (Option<Tensor>, Option<Tensor>, Option<Tensor>);

/// `bwd(a, b, c, grad)` of a `HandOver3` node.
type Backward3 = Box<dyn Fn(&Tensor, &Tensor, &Tensor, &Tensor) -> Result<Grads3> + Send + Sync>;

impl CustomOp3 for HandOver3 {
    fn name(&self) -> &'static str {
        "hand-over-3"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        hand_over(&self.out, cpu, |s, l| s.try_clone(l))
    }

    fn cuda_fwd(
        &self,
        _: &CudaStorage,
        _: &Layout,
        _: &CudaStorage,
        _: &Layout,
        _: &CudaStorage,
        _: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        hand_over(&self.out, cuda, |s, l| s.try_clone(l))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        c: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<Grads3> {
        (self.bwd)(&a.detach(), &b.detach(), &c.detach(), grad)
    }
}

/// The backward of `attention`'s node for the operands that track a gradient (`tracks`, in the
/// order q, k, v): the probabilities are recomputed one batch row at a time.
#[allow(clippy::too_many_arguments)]
fn attention_bwd(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    grad: &Tensor,
    bias: &Tensor,
    scale: f64,
    group: Group,
    tracks: (bool, bool, bool),
) -> Result<Grads3> {
    let (gq, gk, gv) = tracks;
    let (qg, kc, vc) = (
        group.queries(&q.detach().contiguous()?)?,
        k.detach().contiguous()?,
        v.detach().contiguous()?,
    );
    let grad = group.queries(&grad.contiguous()?)?;
    let (mut dq, mut dk, mut dv) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..q.dim(0)? {
        let row = |t: &Tensor| -> Result<Tensor> { t.narrow(0, i, 1) };
        let (q, k, v, g) = (row(&qg)?, row(&kc)?, row(&vc)?, row(&grad)?);
        let p = probs(&q, &k, &group.bias(&bias.narrow(0, i, 1)?)?, scale)?;
        // The products candle's backward of `p.to_dtype(v) @ v` computes; a group's `rep`
        // query heads are rows of one product, so dk and dv come out summed over them.
        if gv {
            dv.push(p.to_dtype(v.dtype())?.t()?.matmul(&g)?);
        }
        if !(gq || gk) {
            continue;
        }
        let dp = g.matmul(&v.t()?)?.to_dtype(DType::F32)?;
        // Softmax backward from its output: dS = P * (dP - sum(dP * P)) * scale.
        let dot = (&dp * &p)?.sum_keepdim(D::Minus1)?;
        let centred = dp.broadcast_sub(&dot)?;
        drop(dp);
        let ds = (centred * &p)?;
        drop(p);
        let ds = (ds * scale)?;
        if gq {
            dq.push(ds.matmul(&k.to_dtype(DType::F32)?)?.to_dtype(q.dtype())?);
        }
        if gk {
            dk.push(
                ds.t()?
                    .matmul(&q.to_dtype(DType::F32)?)?
                    .to_dtype(k.dtype())?,
            );
        }
    }
    let cat = |parts: Vec<Tensor>| -> Result<Option<Tensor>> {
        if parts.is_empty() {
            Ok(None)
        } else {
            Ok(Some(Tensor::cat(&parts, 0)?))
        }
    };
    let dq = cat(dq)?.map(|dq| group.heads(&dq)).transpose()?;
    Ok((dq, cat(dk)?, cat(dv)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn randn(shape: &[usize], seed: u64) -> Tensor {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// The fused log-probability node against candle's `log_softmax` and `gather`: the same values
    /// and the same gradient, at temperature 1 and below it, with padding-sized rows.
    #[test]
    fn token_logprobs_match_log_softmax_and_gather() {
        let targets = Tensor::from_vec(vec![0u32, 6, 3, 6, 1, 2], (2, 3), &Device::Cpu).unwrap();
        for temperature in [1.0, 0.7] {
            let x = Var::from_tensor(&(randn(&[2, 3, 7], 11) * 4.0).unwrap()).unwrap();
            let w = randn(&[2, 3], 12);
            let run = |fused: bool| {
                let lp = if fused {
                    token_logprobs(x.as_tensor(), &targets, temperature).unwrap()
                } else {
                    let z = (x.as_tensor() / temperature).unwrap();
                    candle_nn::ops::log_softmax(&z, D::Minus1)
                        .unwrap()
                        .gather(&targets.unsqueeze(2).unwrap(), 2)
                        .unwrap()
                        .squeeze(2)
                        .unwrap()
                };
                let loss = (&lp * &w).unwrap().sum_all().unwrap();
                let g = loss.backward().unwrap().get(&x).unwrap().clone();
                (lp, g)
            };
            let (lp_old, g_old) = run(false);
            let (lp_new, g_new) = run(true);
            assert!(
                max_diff(&lp_old, &lp_new) < 1e-5,
                "values at T={temperature}"
            );
            assert!(
                max_diff(&g_old, &g_new) < 1e-5,
                "gradients at T={temperature}"
            );
        }
        let bad = Tensor::from_vec(vec![0u32, 7, 3, 6, 1, 2], (2, 3), &Device::Cpu).unwrap();
        let x = randn(&[2, 3, 7], 11);
        let err = token_logprobs(&x, &bad, 1.0).unwrap_err().to_string();
        assert!(err.contains("target id 7"), "{err}");
    }

    /// RMSNorm with a trainable weight (full fine-tuning): the fused node's gradients for the input
    /// and the weight are candle's, in f32 (the CPU kernel, over more rows than one parallel
    /// chunk) and in bf16 (the generic backward).
    #[test]
    fn rms_norm_with_a_trainable_weight_matches_candle() {
        for (dtype, tol) in [(DType::F32, 1e-5), (DType::BF16, 2e-2)] {
            let var = |shape: &[usize], seed| {
                Var::from_tensor(&randn(shape, seed).to_dtype(dtype).unwrap()).unwrap()
            };
            let (x, alpha) = (var(&[3, 50, 6], 21), var(&[6], 22));
            let w = randn(&[3, 50, 6], 23).to_dtype(dtype).unwrap();
            let run = |ops: FrozenOps| {
                let y = rms_norm(x.as_tensor(), alpha.as_tensor(), 1e-5, ops).unwrap();
                let grads = (&y * &w).unwrap().sum_all().unwrap().backward().unwrap();
                let g = |t: &Tensor| grads.get(t).unwrap().to_dtype(DType::F32).unwrap();
                [
                    y.to_dtype(DType::F32).unwrap(),
                    g(x.as_tensor()),
                    g(alpha.as_tensor()),
                ]
            };
            let (old, new) = (run(FrozenOps::Candle), run(FrozenOps::InputGradOnly));
            for (name, (a, b)) in ["y", "dx", "dalpha"].iter().zip(old.iter().zip(&new)) {
                // Relative to the largest entry: bf16 keeps 8 bits of mantissa.
                let diff = max_diff(a, b) / max_diff(a, &a.zeros_like().unwrap()).max(1.0);
                assert!(diff < tol, "{name} ({dtype:?}) differs by {diff}");
            }
        }
    }

    /// The SwiGLU node against candle's `silu` and `mul`: the same values and gradients for both
    /// inputs, over more elements than one parallel chunk.
    #[test]
    fn swiglu_matches_candle() {
        let g = Var::from_tensor(&(randn(&[3, 7000], 41) * 6.0).unwrap()).unwrap();
        let u = Var::from_tensor(&randn(&[3, 7000], 42)).unwrap();
        let w = randn(&[3, 7000], 43);
        let run = |ops: FrozenOps| {
            let y = swiglu(g.as_tensor(), u.as_tensor(), ops).unwrap();
            let grads = (&y * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let d = |t: &Tensor| grads.get(t).unwrap().clone();
            [y, d(g.as_tensor()), d(u.as_tensor())]
        };
        let (old, new) = (run(FrozenOps::Candle), run(FrozenOps::InputGradOnly));
        for (name, (a, b)) in ["y", "dg", "du"].iter().zip(old.iter().zip(&new)) {
            let diff = max_diff(a, b);
            assert!(diff < 1e-5, "{name} differs by {diff}");
        }
    }

    /// Attention on the new path against candle's ops: in f32 (the CPU kernel) and f64 (the
    /// generic path), causal with a left-padded row, grouped-query heads, 70 query rows (three
    /// blocks of the kernel, the last one partial) and 5 queries on the last of 9 keys.
    #[test]
    fn attention_matches_candle_with_causal_blocks() {
        let (b, nh, g, d) = (2, 6, 2, 8);
        for (tq, tk) in [(70, 70), (5, 9)] {
            let mut bias = Vec::new();
            for row in 0..b {
                for i in 0..tq {
                    let slot = tk - tq + i;
                    for j in 0..tk {
                        let ok = j == slot || (j < slot && (row == 0 || j >= 3));
                        bias.push(if ok { 0f32 } else { f32::NEG_INFINITY });
                    }
                }
            }
            let bias = Tensor::from_vec(bias, (b, 1, tq, tk), &Device::Cpu).unwrap();
            let w = randn(&[b, nh, tq, d], 33);
            for dtype in [DType::F32, DType::F64] {
                let var = |shape: &[usize], seed| {
                    Var::from_tensor(&randn(shape, seed).to_dtype(dtype).unwrap()).unwrap()
                };
                let (q, k, v) = (
                    var(&[b, nh, tq, d], 30),
                    var(&[b, g, tk, d], 31),
                    var(&[b, g, tk, d], 32),
                );
                let run = |ops: FrozenOps| {
                    let (qt, kt, vt) = (q.as_tensor(), k.as_tensor(), v.as_tensor());
                    let out = attention(qt, kt, vt, &bias, 0.35, ops).unwrap();
                    let out = out.to_dtype(DType::F32).unwrap();
                    let grads = (&out * &w).unwrap().sum_all().unwrap().backward().unwrap();
                    let g = |t: &Tensor| grads.get(t).unwrap().to_dtype(DType::F32).unwrap();
                    [out, g(qt), g(kt), g(vt)]
                };
                let (old, new) = (run(FrozenOps::Candle), run(FrozenOps::InputGradOnly));
                for (name, (a, b)) in ["out", "dq", "dk", "dv"].iter().zip(old.iter().zip(&new)) {
                    let diff = max_diff(a, b);
                    assert!(
                        diff < 1e-5,
                        "{name} ({dtype:?}, {tq}x{tk}) differs by {diff}"
                    );
                }
            }
        }
    }

    /// Full fine-tuning's linear node (both operands tracked) against candle's product, transpose
    /// and reshape: the same values, the same gradients, on one thread and with the two backward
    /// products side by side on two, and no entry in the store beyond x and w.
    #[test]
    fn linear_with_a_trainable_weight_matches_candle() {
        let x = Var::from_tensor(&randn(&[6, 5], 11)).unwrap();
        let w = Var::from_tensor(&randn(&[4, 5], 12)).unwrap();
        let t = randn(&[2, 3, 4], 13);
        let run = |ops: FrozenOps| {
            let y =
                linear_shaped(x.as_tensor(), w.as_tensor(), Shape::from((2, 3, 4)), ops).unwrap();
            let yt = mul(&y, &t, FrozenOps::InputGradOnly).unwrap();
            let grads = yt.sqr().unwrap().sum_all().unwrap().backward();
            (y, grads.unwrap())
        };
        let (y_old, g_old) = run(FrozenOps::Candle);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (y_new, g_new) = pool.install(|| run(FrozenOps::InputGradOnly));
            assert_eq!(y_new.dims(), [2, 3, 4]);
            assert_eq!(
                y_old.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                y_new.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            );
            for v in [&x, &w] {
                let (a, b) = (g_old.get(v.as_tensor()), g_new.get(v.as_tensor()));
                let d = max_diff(a.unwrap(), b.unwrap());
                assert!(d < 1e-5, "{threads} thread(s): gradient differs by {d}");
            }
            assert_eq!(g_new.get_ids().count(), 2, "only x and w have gradients");
        }
    }

    /// Each op on both paths: the same forward (bit for bit), the same input gradient, and no
    /// gradient entry for the constant operand on the new path (the old path has one).
    #[test]
    fn ops_match_candle_and_leave_no_gradient_for_the_constant() {
        let x = Var::from_tensor(&randn(&[6, 5], 1)).unwrap();
        let w = randn(&[4, 5], 2);
        let c = randn(&[5], 3);
        // Six query heads over two key/value heads: the new path multiplies each group's three
        // query heads as one operand, the old one repeats k and v.
        let q = Var::from_tensor(&randn(&[2, 6, 4, 8], 4)).unwrap();
        let k = Var::from_tensor(&randn(&[2, 2, 6, 8], 5)).unwrap();
        let v = Var::from_tensor(&randn(&[2, 2, 6, 8], 7)).unwrap();
        let mut bias = vec![0f32; 2 * 4 * 6];
        bias[5] = f32::NEG_INFINITY;
        bias[30] = f32::NEG_INFINITY;
        let bias = Tensor::from_vec(bias, (2, 1, 4, 6), &Device::Cpu).unwrap();
        let run = |ops: FrozenOps| {
            let y = linear(x.as_tensor(), &w, ops).unwrap();
            let z = mul(x.as_tensor(), &c, ops).unwrap();
            let u = add(x.as_tensor(), &c, ops).unwrap();
            let p = attention(
                q.as_tensor(),
                k.as_tensor(),
                v.as_tensor(),
                &bias,
                0.35,
                ops,
            )
            .unwrap();
            let loss = ((y.sqr().unwrap().sum_all().unwrap()
                + (z * &u).unwrap().sum_all().unwrap())
            .unwrap()
                + p.powf(3.0).unwrap().sum_all().unwrap())
            .unwrap();
            let grads = loss.backward().unwrap();
            (y, u, grads)
        };
        let (y_old, u_old, g_old) = run(FrozenOps::Candle);
        let (y_new, u_new, g_new) = run(FrozenOps::InputGradOnly);
        assert_eq!(
            y_old.to_vec2::<f32>().unwrap(),
            y_new.to_vec2::<f32>().unwrap()
        );
        assert_eq!(
            u_old.to_vec2::<f32>().unwrap(),
            u_new.to_vec2::<f32>().unwrap()
        );
        for t in [x.as_tensor(), q.as_tensor(), k.as_tensor(), v.as_tensor()] {
            let d = max_diff(g_old.get(t).unwrap(), g_new.get(t).unwrap());
            assert!(d < 1e-5, "gradient differs by {d}");
        }
        // Old path: entries for x, q, k, v and the frozen operands (w^T, the broadcast c, the bias,
        // ...).
        assert!(g_old.get_ids().count() > 4);
        assert_eq!(
            g_new.get_ids().count(),
            4,
            "only x, q, k and v have gradients"
        );
        assert!(g_new.get(&w).is_none());
    }
}
