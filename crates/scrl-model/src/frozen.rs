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
//! backward) inside nodes with their own. `FrozenOps::Candle` keeps the old path selectable for
//! benchmarks and for the gradient-equality test. This module knows nothing about the model's
//! layout.

use candle_core::backend::BackendStorage;
use std::sync::Mutex;

use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, CustomOp2, CustomOp3, D, DType, Layout, Result, Shape,
    Storage, Tensor,
};

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
    matmul(x, &w.t()?, ops)
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

/// Causal attention `softmax(q k^T * scale + bias) v` for `q` (b, h, tq, d), `k` and `v` (b, h, tk,
/// d), a constant f32 `bias` (b, 1, tq, tk); scores and softmax in f32, the output in v's dtype.
/// With `InputGradOnly` the graph keeps no score-sized tensor: backward recomputes the
/// probabilities one batch row at a time (one more `q k^T` per layer), so the (tq, tk) scores of a
/// layer exist for one row at a time instead of six copies for every layer until backward reaches
/// it.
pub(crate) fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    bias: &Tensor,
    scale: f64,
    ops: FrozenOps,
) -> Result<Tensor> {
    if ops == FrozenOps::Candle || bias.track_op() {
        let (q, k) = (q.to_dtype(DType::F32)?, k.to_dtype(DType::F32)?);
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(bias)?;
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        return probs.to_dtype(v.dtype())?.matmul(v);
    }
    let (qd, kd, vd) = (q.detach(), k.detach(), v.detach());
    let mut rows = Vec::with_capacity(q.dim(0)?);
    for i in 0..q.dim(0)? {
        let p = probs(
            &qd.narrow(0, i, 1)?,
            &kd.narrow(0, i, 1)?,
            &bias.narrow(0, i, 1)?,
            scale,
        )?;
        rows.push(p.to_dtype(v.dtype())?.matmul(&vd.narrow(0, i, 1)?)?);
    }
    let out = Tensor::cat(&rows, 0)?;
    drop(rows);
    if !(q.track_op() || k.track_op() || v.track_op()) {
        return Ok(out);
    }
    q.apply_op3(
        k,
        v,
        Attention {
            out: Mutex::new(Some(out)),
            bias: bias.clone(),
            scale,
        },
    )
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

/// RMSNorm of `x` (.., h) times the weight `alpha` (h). With `InputGradOnly` and a frozen `alpha`
/// the forward is candle's fused kernel and the graph keeps only the output; backward (in f32) is
/// `dx = r (g alpha) - x r^3 mean(g alpha x)`, r = 1 / sqrt(mean(x^2) + eps). Otherwise
/// `candle_nn::ops::rms_norm_slow`'s steps, with the weight product through `mul`.
pub(crate) fn rms_norm(x: &Tensor, alpha: &Tensor, eps: f32, ops: FrozenOps) -> Result<Tensor> {
    if ops == FrozenOps::Candle || alpha.track_op() {
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
    let out = candle_nn::ops::rms_norm(&x.detach(), alpha, eps)?;
    if !x.track_op() {
        return Ok(out);
    }
    let alpha = alpha.to_dtype(DType::F32)?;
    x.apply_op1(HandOver {
        out: Mutex::new(Some(out)),
        bwd: Box::new(move |x: &Tensor, grad: &Tensor| {
            let x32 = x.to_dtype(DType::F32)?;
            let r = (x32.sqr()?.mean_keepdim(D::Minus1)? + eps as f64)?
                .sqrt()?
                .recip()?;
            let ga = grad.to_dtype(DType::F32)?.broadcast_mul(&alpha)?;
            let dot = (&ga * &x32)?.mean_keepdim(D::Minus1)?;
            let dx = (ga.broadcast_mul(&r)? - x32.broadcast_mul(&(dot * r.powf(3.0)?)?)?)?;
            dx.to_dtype(x.dtype())
        }),
    })
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

/// The graph node of `attention`: its forward hands over the output `attention` computed outside
/// the graph (one copy of a (b, h, tq, d) tensor); its backward recomputes the probabilities.
struct Attention {
    out: Mutex<Option<Tensor>>,
    bias: Tensor,
    scale: f64,
}

impl CustomOp3 for Attention {
    fn name(&self) -> &'static str {
        "attention-recompute"
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
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (gq, gk, gv) = (q.track_op(), k.track_op(), v.track_op());
        let (mut dq, mut dk, mut dv) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..q.dim(0)? {
            let row = |t: &Tensor| -> Result<Tensor> { t.detach().narrow(0, i, 1) };
            let (q, k, v, g) = (row(q)?, row(k)?, row(v)?, row(grad)?);
            let p = probs(&q, &k, &self.bias.narrow(0, i, 1)?, self.scale)?;
            // The products candle's backward of `p.to_dtype(v) @ v` computes.
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
            let ds = (ds * self.scale)?;
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
        Ok((cat(dq)?, cat(dk)?, cat(dv)?))
    }
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

    /// Each op on both paths: the same forward (bit for bit), the same input gradient, and no
    /// gradient entry for the constant operand on the new path (the old path has one).
    #[test]
    fn ops_match_candle_and_leave_no_gradient_for_the_constant() {
        let x = Var::from_tensor(&randn(&[6, 5], 1)).unwrap();
        let w = randn(&[4, 5], 2);
        let c = randn(&[5], 3);
        let q = Var::from_tensor(&randn(&[2, 3, 4, 8], 4)).unwrap();
        let k = Var::from_tensor(&randn(&[2, 3, 6, 8], 5)).unwrap();
        let v = Var::from_tensor(&randn(&[2, 3, 6, 8], 7)).unwrap();
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
