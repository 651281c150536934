//! Differentiable ops with a frozen operand whose backward computes only the gradients that can be used.
//!
//! candle 0.11's backward computes a gradient for both operands of every `matmul` and binary op and
//! keeps it in the `GradStore`, also for a tensor that is neither a `Var` nor derived from one
//! (`backprop.rs`, `Op::Matmul`, `Op::Binary`). Under LoRA that is a full-size gradient and an extra GEMM
//! for every frozen base weight, plus activation-sized buffers for the norm weights, RoPE tables and
//! attention mask. The custom ops here run the same forward kernels (bit-identical outputs) and return
//! `None` for the frozen operand, so no such buffer is ever allocated. `FrozenOps::Candle` keeps the old
//! path selectable for benchmarks and for the gradient-equality test. This module knows nothing about
//! the model's layout.

use candle_core::backend::BackendStorage;
use candle_core::op::ReduceOp;
use candle_core::{CpuStorage, CudaStorage, CustomOp2, D, Layout, Result, Shape, Storage, Tensor};

/// How a differentiable forward treats operands that receive no gradient (frozen weights, norm
/// weights, RoPE tables, masks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrozenOps {
    /// Custom ops whose backward returns only the gradients of operands that track one: a frozen
    /// linear layer costs one GEMM (`grad W`) instead of two, and the `GradStore` holds nothing for it.
    #[default]
    InputGradOnly,
    /// candle's own `matmul` and broadcast ops, as before issue 14: backward also computes, and keeps,
    /// a gradient for every frozen operand. Kept for benchmarks and the equality test.
    Candle,
}

/// `a @ b` for 2-D `a` and `b`. With `InputGradOnly`, when only one operand tracks a gradient (a frozen
/// weight, or an input that does not depend on any `Var`), backward computes only that one's.
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

/// Attention probabilities `softmax(q k^T * scale + bias)` over the last dim, for `q` (b, h, tq, d) and
/// `k` (b, h, tk, d) in f32 and a constant `bias` broadcastable to (b, h, tq, tk). With `InputGradOnly`
/// the graph keeps only the probabilities (not the scores, the scaled and biased scores and the softmax
/// intermediates), and the bias gets no gradient buffer.
pub(crate) fn attention_probs(
    q: &Tensor,
    k: &Tensor,
    bias: &Tensor,
    scale: f64,
    ops: FrozenOps,
) -> Result<Tensor> {
    if ops == FrozenOps::Candle || bias.track_op() {
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = scores.broadcast_add(bias)?;
        return candle_nn::ops::softmax(&scores, D::Minus1);
    }
    let (b, h, tq, _) = q.dims4()?;
    let tk = k.dim(2)?;
    let bias = bias.broadcast_as((b, h, tq, tk))?;
    q.apply_op2(
        k,
        AttentionProbs {
            bias,
            scale,
        },
    )
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
        let dx = if x.track_op() { Some(grad_of(y)?) } else { None };
        let dy = if y.track_op() { Some(grad_of(x)?) } else { None };
        Ok((dx, dy))
    }
}

/// `softmax(q k^T * scale + bias)`; `bias` (broadcast to the output shape) is constant.
struct AttentionProbs {
    bias: Tensor,
    scale: f64,
}

/// The forward of `AttentionProbs` with the kernels (and the order of operations) of candle's
/// `matmul`, `affine`, `broadcast_add` and `candle_nn::ops::softmax`, so the output is bit-identical to
/// the `FrozenOps::Candle` path. Intermediates are dropped as soon as the next one exists.
#[allow(clippy::too_many_arguments)]
fn attention_fwd<S: BackendStorage>(
    q: &S,
    lq: &Layout,
    k: &S,
    lk: &Layout,
    bias: &S,
    lbias: &Layout,
    scale: f64,
) -> Result<(S, Shape)> {
    let (b, h, tq, d) = lq.shape().dims4()?;
    let (_, _, tk, _) = lk.shape().dims4()?;
    let out = Shape::from((b, h, tq, tk));
    let l = Layout::contiguous(out.clone());
    let rows = Layout::contiguous((b, h, tq, 1)).broadcast_as(out.clone())?;
    let s = q.matmul(k, (b * h, tq, tk, d), lq, &lk.transpose(2, 3)?)?;
    let s = s.affine(&l, scale, 0.0)?;
    let s = s.binary_impl::<candle_core::op::Add>(bias, &l, lbias)?;
    let max = s.reduce_op(ReduceOp::Max, &l, &[3])?;
    let s = s.binary_impl::<candle_core::op::Sub>(&max, &l, &rows)?;
    let e = s.unary_impl::<candle_core::op::Exp>(&l)?;
    let sum = e.reduce_op(ReduceOp::Sum, &l, &[3])?;
    Ok((
        e.binary_impl::<candle_core::op::Div>(&sum, &l, &rows)?,
        out,
    ))
}

impl CustomOp2 for AttentionProbs {
    fn name(&self) -> &'static str {
        "attention-probs"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (bias, lbias) = self.bias.storage_and_layout();
        match &*bias {
            Storage::Cpu(bias) => attention_fwd(s1, l1, s2, l2, bias, lbias, self.scale),
            _ => candle_core::bail!("attention-probs: the bias is not on the CPU"),
        }
    }

    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (bias, lbias) = self.bias.storage_and_layout();
        match &*bias {
            Storage::Cuda(bias) => attention_fwd(s1, l1, s2, l2, bias, lbias, self.scale),
            _ => candle_core::bail!("attention-probs: the bias is not on the GPU"),
        }
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        probs: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // Softmax backward from its output: dS = P * (dP - sum(dP * P)), then the scale and the two
        // products of S = q k^T.
        let dot = (grad * probs)?.sum_keepdim(D::Minus1)?;
        let ds = ((grad.broadcast_sub(&dot)? * probs)? * self.scale)?;
        let dq = if q.track_op() {
            Some(ds.matmul(k)?)
        } else {
            None
        };
        let dk = if k.track_op() {
            Some(ds.t()?.matmul(q)?)
        } else {
            None
        };
        Ok((dq, dk))
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

    /// Each op on both paths: the same forward (bit for bit), the same input gradient, and no gradient
    /// entry for the constant operand on the new path (the old path has one).
    #[test]
    fn ops_match_candle_and_leave_no_gradient_for_the_constant() {
        let x = Var::from_tensor(&randn(&[6, 5], 1)).unwrap();
        let w = randn(&[4, 5], 2);
        let c = randn(&[5], 3);
        let q = Var::from_tensor(&randn(&[2, 3, 4, 8], 4)).unwrap();
        let k = Var::from_tensor(&randn(&[2, 3, 6, 8], 5)).unwrap();
        let mut bias = vec![0f32; 2 * 4 * 6];
        bias[5] = f32::NEG_INFINITY;
        bias[30] = f32::NEG_INFINITY;
        let bias = Tensor::from_vec(bias, (2, 1, 4, 6), &Device::Cpu).unwrap();
        let run = |ops: FrozenOps| {
            let y = linear(x.as_tensor(), &w, ops).unwrap();
            let z = mul(x.as_tensor(), &c, ops).unwrap();
            let u = add(x.as_tensor(), &c, ops).unwrap();
            let p = attention_probs(q.as_tensor(), k.as_tensor(), &bias, 0.35, ops).unwrap();
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
        for v in [x.as_tensor(), q.as_tensor(), k.as_tensor()] {
            let d = max_diff(g_old.get(v).unwrap(), g_new.get(v).unwrap());
            assert!(d < 1e-5, "gradient differs by {d}");
        }
        // Old path: entries for x, q, k and the frozen operands (w^T, the broadcast c, the bias, ...).
        assert!(g_old.get_ids().count() > 3);
        assert_eq!(g_new.get_ids().count(), 3, "only x, q and k have gradients");
        assert!(g_new.get(&w).is_none());
    }
}
