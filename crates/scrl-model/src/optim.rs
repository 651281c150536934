//! AdamW with saveable state (candle's own `AdamW` keeps its moments private, so a resumed run
//! could not continue the same trajectory) and global-norm gradient clipping.

use std::collections::HashMap;
use std::path::Path;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use rayon::prelude::*;

use crate::error::{ModelError, Result, io_err, write_atomic};

/// AdamW hyper-parameters (PyTorch's defaults except the learning rate, which each step passes in).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWParams {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value; `None` = no clipping.
    pub max_grad_norm: Option<f64>,
}

impl Default for AdamWParams {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            max_grad_norm: Some(1.0),
        }
    }
}

/// Decoupled-weight-decay Adam over named f32 variables.
pub struct AdamW {
    vars: Vec<(String, Var)>,
    /// Each variable's step is `lr` times its scale (1 unless [`AdamW::with_lr_scale`] set one).
    lr_scales: Vec<f64>,
    m: Vec<Var>,
    v: Vec<Var>,
    step: u64,
    params: AdamWParams,
}

impl AdamW {
    pub fn new(vars: Vec<(String, Var)>, params: AdamWParams) -> Result<Self> {
        let zeros = |v: &Var| Var::zeros(v.shape(), DType::F32, v.device());
        let m = vars
            .iter()
            .map(|(_, v)| zeros(v))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let v = vars
            .iter()
            .map(|(_, v)| zeros(v))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            lr_scales: vec![1.0; vars.len()],
            vars,
            m,
            v,
            step: 0,
            params,
        })
    }

    /// Scales the learning rate (and so the decoupled weight decay) of the variable `name`, as a
    /// parameter group would. Adam moves every element by about the learning rate whatever its
    /// gradient's size, so a layer whose output sums many inputs needs a smaller one. The scale is
    /// configuration, not state: `save` does not store it.
    pub fn with_lr_scale(mut self, name: &str, scale: f64) -> Result<Self> {
        let i = self
            .vars
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| {
                ModelError::InvalidArgument(format!("AdamW has no variable `{name}`"))
            })?;
        self.lr_scales[i] = scale;
        Ok(self)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// One update with learning rate `lr`; returns the global gradient norm before clipping.
    /// A variable without a gradient (unused this step) is left alone.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<f64> {
        let gs: Vec<Option<Tensor>> = self
            .vars
            .iter()
            .map(|(_, v)| grads.get(v.as_tensor()).cloned())
            .collect();
        let mut sq = 0.0f64;
        for g in gs.iter().flatten() {
            sq += g
                .to_dtype(DType::F32)?
                .sqr()?
                .sum_all()?
                .to_scalar::<f32>()? as f64;
        }
        let norm = sq.sqrt();
        let clip = match self.params.max_grad_norm {
            Some(max) if norm > max => max / (norm + 1e-6),
            _ => 1.0,
        };
        self.step += 1;
        let p = self.params;
        let bc1 = 1.0 - p.beta1.powi(self.step as i32);
        let bc2 = 1.0 - p.beta2.powi(self.step as i32);
        for ((((_, var), (m, v)), g), scale) in self
            .vars
            .iter()
            .zip(self.m.iter().zip(&self.v))
            .zip(gs)
            .zip(&self.lr_scales)
        {
            let Some(g) = g else { continue };
            let lr = lr * scale;
            let consts = Step {
                clip,
                beta1: p.beta1,
                beta2: p.beta2,
                bc1,
                bc2,
                eps: p.eps,
                decay: 1.0 - lr * p.weight_decay,
                lr,
            };
            if !fused_step(var, m, v, &g, &consts)? {
                tensor_step(var, m, v, &g, &consts)?;
            }
        }
        Ok(norm)
    }

    /// Writes the moments and the step count to one safetensors file (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for ((name, _), (m, v)) in self.vars.iter().zip(self.m.iter().zip(&self.v)) {
            tensors.push((format!("{name}.exp_avg"), m.as_tensor().clone()));
            tensors.push((format!("{name}.exp_avg_sq"), v.as_tensor().clone()));
        }
        let meta = HashMap::from([("step".to_string(), self.step.to_string())]);
        let bytes =
            safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
                .map_err(|e| ModelError::Checkpoint {
                    path: path.to_path_buf(),
                    message: format!("serialize: {e}"),
                })?;
        write_atomic(path, &bytes)
    }

    /// Restores moments and step count saved by `save` for the same variables.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let err = |message: String| ModelError::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| err(e.to_string()))?;
        let step = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("step"))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| err("metadata lacks a numeric `step`".into()))?;
        let device = self
            .vars
            .first()
            .map(|(_, v)| v.device().clone())
            .unwrap_or(candle_core::Device::Cpu);
        let mut map = candle_core::safetensors::load_buffer(&bytes, &device)
            .map_err(|e| err(e.to_string()))?;
        for ((name, var), (m, v)) in self.vars.iter().zip(self.m.iter().zip(&self.v)) {
            for (suffix, slot) in [("exp_avg", m), ("exp_avg_sq", v)] {
                let key = format!("{name}.{suffix}");
                let t = map
                    .remove(&key)
                    .ok_or_else(|| err(format!("missing `{key}`")))?;
                if t.dims() != var.dims() {
                    return Err(err(format!(
                        "`{key}` has shape {:?}, the variable has {:?}",
                        t.dims(),
                        var.dims()
                    )));
                }
                slot.set(&t)?;
            }
        }
        if let Some(extra) = map.keys().next() {
            return Err(err(format!("state for unknown variable `{extra}`")));
        }
        self.step = step;
        Ok(())
    }
}

/// The scalars of one variable's AdamW update.
struct Step {
    clip: f64,
    beta1: f64,
    beta2: f64,
    bc1: f64,
    bc2: f64,
    eps: f64,
    decay: f64,
    lr: f64,
}

/// One variable's AdamW update in candle's tensor ops (any device and dtype).
fn tensor_step(var: &Var, m: &Var, v: &Var, g: &Tensor, c: &Step) -> candle_core::Result<()> {
    let g = (g.to_dtype(DType::F32)? * c.clip)?;
    let m_new = ((m.as_tensor() * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
    let v_new = ((v.as_tensor() * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
    let update = ((&m_new / c.bc1)? / ((&v_new / c.bc2)?.sqrt()? + c.eps)?)?;
    let decayed = (var.as_tensor() * c.decay)?;
    var.set(&(decayed - (update * c.lr)?)?)?;
    m.set(&m_new)?;
    v.set(&v_new)
}

/// The update of `AdamW::step` for one f32 CPU variable in one pass over its elements (rayon, in
/// fixed chunks) instead of fourteen tensor ops, each a fresh buffer on the calling thread. Every
/// element goes through the same f32 operations in the same order as the tensor path (candle's
/// `x * c` and `x / c` are `x * c as f32 + 0`, `x + c` is `x * 1 + c as f32`), so the results are
/// identical. `false` (nothing done) for another device or dtype; an error for mismatched shapes.
fn fused_step(var: &Var, m: &Var, v: &Var, g: &Tensor, c: &Step) -> candle_core::Result<bool> {
    let on_cpu_f32 = |t: &Tensor| t.device().is_cpu() && t.dtype() == DType::F32;
    if ![var.as_tensor(), m.as_tensor(), v.as_tensor(), g]
        .into_iter()
        .all(on_cpu_f32)
    {
        return Ok(false);
    }
    let shape = var.shape();
    if [m.shape(), v.shape(), g.shape()]
        .iter()
        .any(|s| *s != shape)
    {
        candle_core::bail!("AdamW: {shape:?} variable, moment or gradient of another shape");
    }
    let f = |x: f64| x as f32;
    let (clip, b1, nb1, b2, nb2) = (
        f(c.clip),
        f(c.beta1),
        f(1.0 - c.beta1),
        f(c.beta2),
        f(1.0 - c.beta2),
    );
    let (ibc1, ibc2, eps, decay, lr) = (
        f(1.0 / c.bc1),
        f(1.0 / c.bc2),
        f(c.eps),
        f(c.decay),
        f(c.lr),
    );
    let n = g.elem_count();
    let (mut w_new, mut m_new, mut v_new) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
    crate::frozen::with_cpu_f32s(
        [var.as_tensor(), m.as_tensor(), v.as_tensor(), g],
        |[w0, m0, v0, g0]| {
            const CHUNK: usize = 1 << 14;
            w_new
                .par_chunks_mut(CHUNK)
                .zip(m_new.par_chunks_mut(CHUNK))
                .zip(v_new.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(i, ((wo, mo), vo))| {
                    let at = i * CHUNK;
                    let end = at + wo.len();
                    let ins = w0[at..end]
                        .iter()
                        .zip(&m0[at..end])
                        .zip(&v0[at..end])
                        .zip(&g0[at..end]);
                    for (((wo, mo), vo), (((&w, &m), &v), &g)) in
                        wo.iter_mut().zip(mo).zip(vo).zip(ins)
                    {
                        let g = g * clip + 0.0;
                        let mn = (m * b1 + 0.0) + (g * nb1 + 0.0);
                        let vn = (v * b2 + 0.0) + ((g * g) * nb2 + 0.0);
                        let update = (mn * ibc1 + 0.0) / ((vn * ibc2 + 0.0).sqrt() * 1.0 + eps);
                        *wo = (w * decay + 0.0) - (update * lr + 0.0);
                        *mo = mn;
                        *vo = vn;
                    }
                });
        },
    )?;
    let device = g.device();
    var.set(&Tensor::from_vec(w_new, shape, device)?)?;
    m.set(&Tensor::from_vec(m_new, shape, device)?)?;
    v.set(&Tensor::from_vec(v_new, shape, device)?)?;
    Ok(true)
}

/// The learning rate at `step`: linear warmup over `warmup` steps to `peak`, then cosine decay to
/// `min_ratio * peak` at step `total` (and flat after it). Shared by pretraining and the trainers.
pub fn warmup_cosine_lr(step: u64, total: u64, warmup: u64, peak: f64, min_ratio: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let t = ((step - warmup) as f64 / span).min(1.0);
    peak * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rate_warms_up_then_decays_to_the_floor() {
        assert!((warmup_cosine_lr(0, 100, 10, 1.0, 0.1) - 0.1).abs() < 1e-12);
        assert!((warmup_cosine_lr(9, 100, 10, 1.0, 0.1) - 1.0).abs() < 1e-12);
        assert!((warmup_cosine_lr(10, 100, 10, 1.0, 0.1) - 1.0).abs() < 1e-12);
        assert!((warmup_cosine_lr(55, 100, 10, 1.0, 0.1) - 0.55).abs() < 1e-12);
        assert!((warmup_cosine_lr(100, 100, 10, 1.0, 0.1) - 0.1).abs() < 1e-12);
        assert!((warmup_cosine_lr(500, 100, 0, 2.0, 0.0)).abs() < 1e-12);
    }
    use candle_core::Device;

    /// One step against PyTorch's AdamW formula computed by hand for a scalar.
    #[test]
    fn matches_the_adamw_formula_and_state_round_trips() {
        let w = Var::from_tensor(&Tensor::new(&[2.0f32], &Device::Cpu).unwrap()).unwrap();
        let params = AdamWParams {
            max_grad_norm: None,
            ..Default::default()
        };
        let mut opt = AdamW::new(vec![("w".into(), w.clone())], params).unwrap();
        // loss = w^2 -> grad 2w = 4
        let loss = w.as_tensor().sqr().unwrap().sum_all().unwrap();
        opt.step(&loss.backward().unwrap(), 0.1).unwrap();
        let (g, lr, wd) = (4.0f64, 0.1, 0.01);
        let m = 0.1 * g / (1.0 - 0.9);
        let v = 0.001 * g * g / (1.0 - 0.999);
        let want = 2.0 * (1.0 - lr * wd) - lr * m / (v.sqrt() + 1e-8);
        let got = w.as_tensor().to_vec1::<f32>().unwrap()[0] as f64;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");

        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("opt.safetensors");
        opt.save(&path).unwrap();
        let w2 = Var::from_tensor(w.as_tensor()).unwrap();
        let mut opt2 = AdamW::new(vec![("w".into(), w2.clone())], params).unwrap();
        opt2.load(&path).unwrap();
        assert_eq!(opt2.steps(), 1);
        for (o, var) in [(&mut opt, &w), (&mut opt2, &w2)] {
            let loss = var.as_tensor().sqr().unwrap().sum_all().unwrap();
            o.step(&loss.backward().unwrap(), 0.1).unwrap();
        }
        assert_eq!(
            w.as_tensor().to_vec1::<f32>().unwrap(),
            w2.as_tensor().to_vec1::<f32>().unwrap()
        );
        let mut wrong = AdamW::new(vec![("other".into(), w2)], params).unwrap();
        assert!(
            wrong
                .load(&path)
                .unwrap_err()
                .to_string()
                .contains("missing `other.exp_avg`")
        );
    }

    /// The one-pass CPU update gives the tensor path's values bit for bit, over more elements
    /// than one chunk and with clipping, decay and bias correction all active.
    #[test]
    fn fused_step_matches_the_tensor_ops_exactly() {
        let n = (1 << 14) * 2 + 77;
        let vals = |seed: u32, lo: f32| -> Vec<f32> {
            (0..n as u32)
                .map(|i| {
                    let h = (i ^ seed).wrapping_mul(2_654_435_761).rotate_left(13);
                    lo + (h % 10_000) as f32 / 2_500.0 - 2.0
                })
                .collect()
        };
        let var = |x: Vec<f32>| Var::from_tensor(&Tensor::from_vec(x, n, &Device::Cpu).unwrap());
        let consts = Step {
            clip: 0.37,
            beta1: 0.9,
            beta2: 0.999,
            bc1: 1.0 - 0.9f64.powi(3),
            bc2: 1.0 - 0.999f64.powi(3),
            eps: 1e-8,
            decay: 1.0 - 3e-4 * 0.01,
            lr: 3e-4,
        };
        let g = Tensor::from_vec(vals(1, 0.0), n, &Device::Cpu).unwrap();
        let sq: Vec<f32> = vals(2, 2.5).iter().map(|x| x * x * 1e-3).collect();
        let mut outs = Vec::new();
        for fused in [true, false] {
            let (w, m, v) = (
                var(vals(3, 0.0)).unwrap(),
                var(vals(4, 0.0)).unwrap(),
                var(sq.clone()).unwrap(),
            );
            if fused {
                assert!(fused_step(&w, &m, &v, &g, &consts).unwrap());
            } else {
                tensor_step(&w, &m, &v, &g, &consts).unwrap();
            }
            let get = |x: &Var| x.as_tensor().to_vec1::<f32>().unwrap();
            outs.push((get(&w), get(&m), get(&v)));
        }
        let bits = |x: &Vec<f32>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let (a, b) = (&outs[0], &outs[1]);
        assert_eq!(bits(&a.1), bits(&b.1), "first moment");
        assert_eq!(bits(&a.2), bits(&b.2), "second moment");
        assert_eq!(bits(&a.0), bits(&b.0), "weights");
        assert_ne!(bits(&a.0), bits(&vals(3, 0.0)), "the weights moved");
    }

    /// A scaled variable takes the step of the scaled learning rate, weight decay included; the
    /// others keep theirs, and an unknown name is an error.
    #[test]
    fn a_learning_rate_scale_acts_on_its_variable_only() {
        let var = |x: f32| Var::from_tensor(&Tensor::new(&[x], &Device::Cpu).unwrap()).unwrap();
        let (a, b, c) = (var(2.0), var(2.0), var(2.0));
        let params = AdamWParams {
            max_grad_norm: None,
            ..Default::default()
        };
        let mut scaled = AdamW::new(
            vec![("a".into(), a.clone()), ("b".into(), b.clone())],
            params,
        )
        .unwrap()
        .with_lr_scale("a", 0.25)
        .unwrap();
        let mut plain = AdamW::new(vec![("c".into(), c.clone())], params).unwrap();
        let loss = |v: &Var| v.as_tensor().sqr().unwrap().sum_all().unwrap();
        let both = (loss(&a) + loss(&b)).unwrap();
        scaled.step(&both.backward().unwrap(), 0.4).unwrap();
        plain.step(&loss(&c).backward().unwrap(), 0.1).unwrap();
        let get = |v: &Var| v.as_tensor().to_vec1::<f32>().unwrap()[0];
        assert_eq!(get(&a), get(&c), "a at lr 0.4 x 0.25 steps as c at lr 0.1");
        let want_b = 2.0 * (1.0 - 0.4 * 0.01) - 0.4;
        assert!(
            (get(&b) as f64 - want_b).abs() < 1e-6,
            "{} vs {want_b}",
            get(&b)
        );
        let err = AdamW::new(vec![("a".into(), a)], params)
            .unwrap()
            .with_lr_scale("nope", 0.5)
            .err()
            .unwrap();
        assert!(err.to_string().contains("no variable `nope`"), "{err}");
    }
}
