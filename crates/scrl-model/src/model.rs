//! The decoder: one implementation for LLaMA and Qwen2 with Hugging Face parameter names.
//!
//! Two forwards share the same weights: `forward_train` uses only ops that have a backward pass in
//! candle 0.11 (`rms_norm_slow`, an explicit rotate-half RoPE, `softmax`), because the fused
//! kernels silently detach the graph; `forward_cached` uses the fused kernels and a preallocated KV
//! cache for sampling. LoRA branches live beside the frozen base weights, so the policy (LoRA on)
//! and the reference (LoRA off) are one set of base tensors in memory. This module knows nothing
//! about tokenizers or files other than weights.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::kv_cache::KvCache;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{ModelConfig, RopeScaling};
use crate::error::{ModelError, Result, read_json};
use crate::frozen::{self, FrozenOps};
use crate::lora::{LoraBranch, LoraConfig};

/// Whether a forward pass includes the LoRA branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoraMode {
    /// Base weights only: the frozen reference model.
    Off,
    /// Base + LoRA without dropout (evaluation, sampling, old log-probs).
    On,
    /// Base + LoRA with the adapter's dropout, masks drawn from `seed` (training).
    Train { seed: u64 },
    /// Base + the frozen snapshot taken by `Decoder::freeze_reference` (e.g. the SFT adapter as
    /// PPO's KL reference while the live adapter trains), sharing the base weights with the policy.
    Reference,
}

/// What a differentiable forward returns: logits for every position and the final normed hidden
/// states (the input of a value head). Both are f32 whatever the weight dtype.
pub struct ForwardOutput {
    /// (batch, seq, vocab)
    pub logits: Tensor,
    /// (batch, seq, hidden)
    pub hidden: Tensor,
}

/// A linear layer `y = x W^T + b`, optionally with a LoRA branch.
pub(crate) struct Lin {
    pub(crate) name: String,
    pub(crate) module: &'static str,
    pub(crate) weight: Tensor,
    pub(crate) bias: Option<Tensor>,
    pub(crate) lora: Option<LoraBranch>,
}

impl Lin {
    /// `x` is (n, in).
    fn forward(&self, x: &Tensor, mode: LoraMode, index: u64, ops: FrozenOps) -> Result<Tensor> {
        let Some(l) = self.lora.as_ref().filter(|_| mode != LoraMode::Off) else {
            return self.base(x, ops);
        };
        // LoRA A/B are f32 Vars (optimizer moments stay in f32); the branch runs in f32 and is
        // cast back.
        let (a, b, scale) = match (mode, &l.reference) {
            (LoraMode::Reference, Some((a, b, scale))) => (a.clone(), b.clone(), *scale),
            (LoraMode::Reference, None) => return self.base(x, ops),
            _ => (l.a.as_tensor().clone(), l.b.as_tensor().clone(), l.scale),
        };
        let mask = match mode {
            LoraMode::Train { seed } if l.dropout > 0.0 => Some(dropout_mask(
                x,
                l.dropout,
                seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index,
            )?),
            _ => None,
        };
        if ops == FrozenOps::InputGradOnly {
            let lora = frozen::Lora {
                a: &a,
                b: &b,
                scale,
                mask: mask.as_ref(),
            };
            return Ok(frozen::lora_linear(
                x,
                &self.weight,
                self.bias.as_ref(),
                lora,
            )?);
        }
        let y = self.base(x, ops)?;
        let mut x32 = x.to_dtype(DType::F32)?;
        if let Some(mask) = &mask {
            x32 = frozen::mul(&x32, mask, ops)?;
        }
        let xa = frozen::matmul(&x32, &a.t()?, ops)?;
        let delta = (frozen::matmul(&xa, &b.t()?, ops)? * scale)?;
        let delta = delta.to_dtype(y.dtype())?;
        Ok(frozen::add(&y, &delta, ops)?)
    }

    /// `x W^T (+ bias)` without the LoRA branch.
    fn base(&self, x: &Tensor, ops: FrozenOps) -> Result<Tensor> {
        let y = frozen::linear(x, &self.weight, ops)?;
        Ok(match &self.bias {
            Some(b) => frozen::add(&y, b, ops)?,
            None => y,
        })
    }
}

/// Inverted-dropout mask of `x`'s shape in f32: 0 with probability `p`, else `1 / (1 - p)`.
fn dropout_mask(x: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    let mask = dropout_values(x.elem_count(), p, seed);
    Ok(Tensor::from_vec(mask, x.shape(), x.device())?)
}

/// `len` draws of `ChaCha8Rng::seed_from_u64(seed)`, each `0` with probability `p` and
/// `1 / (1 - p)` otherwise, made in parallel chunks: each chunk seeks the stream to its first draw
/// (one 32-bit word per `f32`), so the values are those of one serial pass whatever the threads.
fn dropout_values(len: usize, p: f32, seed: u64) -> Vec<f32> {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 15;
    let keep = 1.0 / (1.0 - p);
    let mut mask = vec![0f32; len];
    mask.par_chunks_mut(CHUNK).enumerate().for_each(|(i, out)| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_word_pos((i * CHUNK) as u128);
        for m in out {
            *m = if rng.random::<f32>() < p { 0.0 } else { keep };
        }
    });
    mask
}

struct Block {
    input_layernorm: Tensor,
    post_attention_layernorm: Tensor,
    q: Lin,
    k: Lin,
    v: Lin,
    o: Lin,
    gate: Lin,
    up: Lin,
    down: Lin,
}

/// Key/value cache for sampling: one preallocated buffer per layer plus which key slots are
/// padding.
pub struct InferCache {
    layers: Vec<KvCache>,
    /// `key_valid[b][j]`: slot j of row b holds a real token (false for padding).
    key_valid: Vec<Vec<bool>>,
}

impl InferCache {
    /// Number of key slots filled so far.
    pub fn len(&self) -> usize {
        self.key_valid.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The decoder with its base weights (frozen or trainable) and optional LoRA adapter.
pub struct Decoder {
    pub(crate) cfg: ModelConfig,
    pub(crate) embed: Tensor,
    blocks: Vec<Block>,
    pub(crate) norm: Tensor,
    /// `None` when tied to `embed`.
    lm_head: Option<Tensor>,
    inv_freq: Vec<f32>,
    device: Device,
    dtype: DType,
    /// Base weights as Vars when the model is trained from scratch (pretraining).
    pub(crate) base_vars: Vec<(String, Var)>,
    pub(crate) lora: Option<(LoraConfig, Vec<(String, Var)>)>,
    /// How the differentiable forward multiplies by frozen tensors (see `frozen`).
    frozen_ops: FrozenOps,
}

/// Where the base weights come from.
pub enum Init<'a> {
    /// Normal(0, 0.02) weights and unit norms from a seed, as Hugging Face initialises LLaMA.
    Random { seed: u64 },
    /// Tensors by HF name (e.g. a checkpoint being resumed).
    Tensors(&'a HashMap<String, Tensor>),
}

/// The safetensors files of a checkpoint folder: the shards listed in
/// `model.safetensors.index.json`, or the single `model.safetensors`.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let v: serde_json::Value = read_json(&index)?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| ModelError::Config {
                path: index.clone(),
                field: "weight_map".into(),
                message: "missing or not an object".into(),
            })?;
        let mut files: Vec<String> = map
            .values()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect();
        files.sort();
        files.dedup();
        let files: Vec<PathBuf> = files.into_iter().map(|f| dir.join(f)).collect();
        for f in &files {
            if !f.exists() {
                return Err(ModelError::MissingFile {
                    path: f.clone(),
                    hint: format!("listed in {}", index.display()),
                });
            }
        }
        return Ok(files);
    }
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    Err(ModelError::MissingFile {
        path: single,
        hint: "the model folder needs model.safetensors or model.safetensors.index.json".into(),
    })
}

/// Names and shapes of every base parameter, in a fixed order.
pub(crate) fn param_shapes(cfg: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    let h = cfg.hidden_size;
    let q = cfg.num_attention_heads * cfg.head_dim;
    let kv = cfg.num_key_value_heads * cfg.head_dim;
    let i = cfg.intermediate_size;
    let mut out = vec![(
        "model.embed_tokens.weight".to_string(),
        vec![cfg.vocab_size, h],
    )];
    for l in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{l}");
        out.push((format!("{p}.input_layernorm.weight"), vec![h]));
        out.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
        for (n, (m, shape)) in crate::lora::TARGETABLE
            .iter()
            .zip([[q, h], [kv, h], [kv, h], [h, q], [i, h], [i, h], [h, i]])
            .enumerate()
        {
            // The first four projections are attention, the last three the MLP.
            let group = if n < 4 { "self_attn" } else { "mlp" };
            out.push((format!("{p}.{group}.{m}.weight"), shape.to_vec()));
        }
        if cfg.qkv_bias {
            for (m, n) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
                out.push((format!("{p}.self_attn.{m}.bias"), vec![n]));
            }
        }
        if cfg.o_bias {
            out.push((format!("{p}.self_attn.o_proj.bias"), vec![h]));
        }
    }
    out.push(("model.norm.weight".to_string(), vec![h]));
    if !cfg.tie_word_embeddings {
        out.push(("lm_head.weight".to_string(), vec![cfg.vocab_size, h]));
    }
    out
}

impl Decoder {
    /// Loads `config.json` and the (possibly sharded) safetensors weights of a checkpoint folder,
    /// memory-mapped, converted to `dtype`. The weights are frozen (plain tensors, no Vars).
    pub fn load(dir: &Path, dtype: DType, device: &Device) -> Result<Self> {
        let cfg = ModelConfig::from_file(&dir.join("config.json"))?;
        let files = weight_files(dir)?;
        // SAFETY: the files are mapped read-only; candle copies each tensor out of the mapping when
        // loaded, and nothing in this process writes to checkpoint files while loading.
        let st = unsafe { candle_core::safetensors::MmapedSafetensors::multi(&files) }?;
        let mut get = |name: &str, shape: &[usize]| -> Result<Tensor> {
            let t = st.load(name, device).map_err(|e| ModelError::Checkpoint {
                path: dir.to_path_buf(),
                message: format!("tensor `{name}`: {e}"),
            })?;
            if t.dims() != shape {
                return Err(ModelError::Checkpoint {
                    path: dir.to_path_buf(),
                    message: format!(
                        "tensor `{name}` has shape {:?}, config.json implies {shape:?}",
                        t.dims()
                    ),
                });
            }
            Ok(t.to_dtype(dtype)?)
        };
        Self::build(cfg, dtype, device, &mut get, None)
    }

    /// A model whose base weights are trainable Vars (pretraining from scratch or resuming it), in
    /// f32.
    pub fn new_trainable(cfg: ModelConfig, init: Init<'_>, device: &Device) -> Result<Self> {
        let mut vars = Vec::new();
        let mut rng = match init {
            Init::Random { seed } => Some(ChaCha8Rng::seed_from_u64(seed)),
            Init::Tensors(_) => None,
        };
        let mut get = |name: &str, shape: &[usize]| -> Result<Tensor> {
            let t = match (&init, rng.as_mut()) {
                (Init::Tensors(map), _) => {
                    let t = map.get(name).ok_or_else(|| {
                        ModelError::InvalidArgument(format!("initial weights lack tensor `{name}`"))
                    })?;
                    if t.dims() != shape {
                        return Err(ModelError::InvalidArgument(format!(
                            "tensor `{name}` has shape {:?}, expected {shape:?}",
                            t.dims()
                        )));
                    }
                    t.to_dtype(DType::F32)?.to_device(device)?
                }
                (Init::Random { .. }, Some(rng)) => {
                    let n: usize = shape.iter().product();
                    let data: Vec<f32> =
                        if name.ends_with("layernorm.weight") || name == "model.norm.weight" {
                            vec![1.0; n]
                        } else if name.ends_with(".bias") {
                            vec![0.0; n]
                        } else {
                            (0..n).map(|_| normal(rng) * 0.02).collect()
                        };
                    Tensor::from_vec(data, shape, device)?
                }
                (Init::Random { .. }, None) => unreachable!("a random init always has an RNG"),
            };
            let var = Var::from_tensor(&t)?;
            let tensor = var.as_tensor().clone();
            vars.push((name.to_string(), var));
            Ok(tensor)
        };
        let mut model = Self::build(cfg, DType::F32, device, &mut get, None)?;
        model.base_vars = vars;
        Ok(model)
    }

    fn build(
        cfg: ModelConfig,
        dtype: DType,
        device: &Device,
        get: &mut dyn FnMut(&str, &[usize]) -> Result<Tensor>,
        lora: Option<(LoraConfig, Vec<(String, Var)>)>,
    ) -> Result<Self> {
        let shapes: HashMap<String, Vec<usize>> = param_shapes(&cfg).into_iter().collect();
        let mut take = |name: String| -> Result<Tensor> { get(&name, &shapes[&name]) };
        let embed = take("model.embed_tokens.weight".into())?;
        let mut blocks = Vec::with_capacity(cfg.num_hidden_layers);
        for l in 0..cfg.num_hidden_layers {
            let p = format!("model.layers.{l}");
            let mut lin = |group: &str, module: &'static str, bias: bool| -> Result<Lin> {
                let name = format!("{p}.{group}.{module}");
                Ok(Lin {
                    weight: take(format!("{name}.weight"))?,
                    bias: if bias {
                        Some(take(format!("{name}.bias"))?)
                    } else {
                        None
                    },
                    name,
                    module,
                    lora: None,
                })
            };
            let q = lin("self_attn", "q_proj", cfg.qkv_bias)?;
            let k = lin("self_attn", "k_proj", cfg.qkv_bias)?;
            let v = lin("self_attn", "v_proj", cfg.qkv_bias)?;
            let o = lin("self_attn", "o_proj", cfg.o_bias)?;
            let gate = lin("mlp", "gate_proj", false)?;
            let up = lin("mlp", "up_proj", false)?;
            let down = lin("mlp", "down_proj", false)?;
            blocks.push(Block {
                input_layernorm: take(format!("{p}.input_layernorm.weight"))?,
                post_attention_layernorm: take(format!("{p}.post_attention_layernorm.weight"))?,
                q,
                k,
                v,
                o,
                gate,
                up,
                down,
            });
        }
        let norm = take("model.norm.weight".into())?;
        let lm_head = if cfg.tie_word_embeddings {
            None
        } else {
            Some(take("lm_head.weight".into())?)
        };
        let half = cfg.head_dim / 2;
        let inv_freq = (0..half)
            .map(|i| {
                let f = 1.0 / cfg.rope_theta.powf((2 * i) as f64 / cfg.head_dim as f64);
                match cfg.rope_scaling {
                    RopeScaling::None => f as f32,
                    RopeScaling::Linear { factor } => (f / factor) as f32,
                }
            })
            .collect();
        Ok(Self {
            cfg,
            embed,
            blocks,
            norm,
            lm_head,
            inv_freq,
            device: device.clone(),
            dtype,
            base_vars: Vec::new(),
            lora,
            frozen_ops: FrozenOps::default(),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Selects how `forward_train` treats frozen tensors; the default computes no gradient for
    /// them. `FrozenOps::Candle` is the path before issue 14, kept for benchmarks and the equality
    /// test.
    pub fn set_frozen_ops(&mut self, ops: FrozenOps) {
        self.frozen_ops = ops;
    }

    pub fn frozen_ops(&self) -> FrozenOps {
        self.frozen_ops
    }

    /// Every linear layer, in parameter order (for LoRA attachment, merging and saving).
    pub(crate) fn lins_mut(&mut self) -> impl Iterator<Item = &mut Lin> {
        self.blocks.iter_mut().flat_map(|b| {
            [
                &mut b.q,
                &mut b.k,
                &mut b.v,
                &mut b.o,
                &mut b.gate,
                &mut b.up,
                &mut b.down,
            ]
            .into_iter()
        })
    }

    pub(crate) fn lins(&self) -> impl Iterator<Item = &Lin> {
        self.blocks
            .iter()
            .flat_map(|b| [&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down].into_iter())
    }

    /// All base tensors by HF name (LoRA not merged).
    pub fn base_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("model.embed_tokens.weight".to_string(), self.embed.clone())];
        for (l, b) in self.blocks.iter().enumerate() {
            let p = format!("model.layers.{l}");
            out.push((
                format!("{p}.input_layernorm.weight"),
                b.input_layernorm.clone(),
            ));
            out.push((
                format!("{p}.post_attention_layernorm.weight"),
                b.post_attention_layernorm.clone(),
            ));
            for lin in [&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down] {
                out.push((format!("{}.weight", lin.name), lin.weight.clone()));
                if let Some(bias) = &lin.bias {
                    out.push((format!("{}.bias", lin.name), bias.clone()));
                }
            }
        }
        out.push(("model.norm.weight".to_string(), self.norm.clone()));
        if let Some(h) = &self.lm_head {
            out.push(("lm_head.weight".to_string(), h.clone()));
        }
        out
    }

    /// The variables an optimizer should update: the LoRA A/B matrices when an adapter is attached,
    /// otherwise the base weights of a model built with `new_trainable` (empty for a frozen model).
    /// Sorted by name, so optimizer state lines up across runs.
    pub fn trainable_vars(&self) -> Vec<(String, Var)> {
        match &self.lora {
            Some((_, vars)) => vars.clone(),
            None => self.base_vars.clone(),
        }
    }

    /// RoPE cos/sin for the given positions, shaped (batch, seq, head_dim/2), in the weight dtype.
    fn rope_tables(&self, positions: &[u32], b: usize, t: usize) -> Result<(Tensor, Tensor)> {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(positions.len() * half);
        let mut sin = Vec::with_capacity(positions.len() * half);
        for &p in positions {
            for &f in &self.inv_freq {
                // f32 product as in transformers, so the golden logits match at long positions too.
                let angle = p as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        let cos = Tensor::from_vec(cos, (b, t, half), &self.device)?.to_dtype(self.dtype)?;
        let sin = Tensor::from_vec(sin, (b, t, half), &self.device)?.to_dtype(self.dtype)?;
        Ok((cos, sin))
    }

    /// Differentiable forward over whole sequences. `ids` is (batch, seq) u32; `mask` (batch, seq),
    /// any numeric dtype, 1 for real tokens and 0 for padding (left or right); `None` means no
    /// padding. Positions count real tokens only (as transformers does for left padding).
    pub fn forward_train(
        &self,
        ids: &Tensor,
        mask: Option<&Tensor>,
        mode: LoraMode,
    ) -> Result<ForwardOutput> {
        let (b, t) = ids.dims2()?;
        let valid: Vec<Vec<bool>> = match mask {
            Some(m) => {
                if m.dims() != [b, t] {
                    return Err(ModelError::InvalidArgument(format!(
                        "mask shape {:?} differs from ids shape {:?}",
                        m.dims(),
                        ids.dims()
                    )));
                }
                m.to_dtype(DType::F32)?
                    .to_vec2::<f32>()?
                    .into_iter()
                    .map(|r| r.into_iter().map(|x| x != 0.0).collect())
                    .collect()
            }
            None => vec![vec![true; t]; b],
        };
        let positions = positions_from_valid(&valid, &vec![0; b]);
        let bias = attention_bias(&valid, t, &self.device)?;
        let (cos, sin) = self.rope_tables(&positions, b, t)?;
        let ops = self.frozen_ops;
        let rope = |x: &Tensor| -> Result<Tensor> { Ok(frozen::rope(x, &cos, &sin, ops)?) };
        let eps = self.cfg.rms_norm_eps as f32;
        let mut x = self.embed.embedding(&ids.flatten_all()?)?; // (b*t, h)
        for (l, blk) in self.blocks.iter().enumerate() {
            let li = l as u64 * 8;
            let hn = frozen::rms_norm(&x, &blk.input_layernorm, eps, ops)?;
            let (q, k, v) = self.qkv(blk, &hn, b, t, mode, li, ops)?;
            let q = rope(&q)?;
            let k = rope(&k)?;
            let att = self.attend(&q, &k, &v, &bias, false, ops)?;
            x = frozen::add(&x, &blk.o.forward(&att, mode, li + 3, ops)?, ops)?;
            let hn = frozen::rms_norm(&x, &blk.post_attention_layernorm, eps, ops)?;
            x = frozen::add(&x, &self.mlp(blk, &hn, mode, li, ops)?, ops)?;
        }
        let hidden = frozen::rms_norm(&x, &self.norm, eps, ops)?;
        let head = self.lm_head.as_ref().unwrap_or(&self.embed);
        let shape = Shape::from((b, t, self.cfg.vocab_size));
        let logits = frozen::linear_shaped(&hidden, head, shape, ops)?;
        Ok(ForwardOutput {
            logits: logits.to_dtype(DType::F32)?,
            hidden: hidden
                .to_dtype(DType::F32)?
                .reshape((b, t, self.cfg.hidden_size))?,
        })
    }

    /// q, k, v as (b, heads, t, head_dim).
    #[allow(clippy::too_many_arguments)]
    fn qkv(
        &self,
        blk: &Block,
        hn: &Tensor,
        b: usize,
        t: usize,
        mode: LoraMode,
        li: u64,
        ops: FrozenOps,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (nh, nkv, hd) = (
            self.cfg.num_attention_heads,
            self.cfg.num_key_value_heads,
            self.cfg.head_dim,
        );
        let q = blk
            .q
            .forward(hn, mode, li, ops)?
            .reshape((b, t, nh, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let k = blk
            .k
            .forward(hn, mode, li + 1, ops)?
            .reshape((b, t, nkv, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let v = blk
            .v
            .forward(hn, mode, li + 2, ops)?
            .reshape((b, t, nkv, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        Ok((q, k, v))
    }

    /// Causal attention; returns (b*tq, heads*head_dim). `bias` is (b, 1, tq, tk) f32 with -inf on
    /// masked pairs. Scores and softmax run in f32 for bf16/f16 weights too.
    fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        bias: &Tensor,
        fused: bool,
        ops: FrozenOps,
    ) -> Result<Tensor> {
        let (b, nh, tq, hd) = q.dims4()?;
        let (_, nkv, tk, _) = k.dims4()?;
        let rep = nh / nkv;
        let scale = 1.0 / (hd as f64).sqrt();
        let out = if fused {
            let repeat = |x: &Tensor| -> Result<Tensor> {
                if rep == 1 {
                    return Ok(x.clone());
                }
                Ok(x.unsqueeze(2)?
                    .broadcast_as((b, nkv, rep, tk, hd))?
                    .reshape((b, nh, tk, hd))?)
            };
            let (k, v) = (repeat(k)?, repeat(v)?);
            let (q, k) = (q.to_dtype(DType::F32)?, k.to_dtype(DType::F32)?);
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            probs.to_dtype(self.dtype)?.matmul(&v.contiguous()?)?
        } else {
            // Grouped-query heads are handled inside: no copy of k and v per query head.
            frozen::attention(q, k, v, bias, scale, ops)?
        };
        Ok(out.transpose(1, 2)?.reshape((b * tq, nh * hd))?)
    }

    fn mlp(
        &self,
        blk: &Block,
        hn: &Tensor,
        mode: LoraMode,
        li: u64,
        ops: FrozenOps,
    ) -> Result<Tensor> {
        let g = blk.gate.forward(hn, mode, li + 4, ops)?;
        let u = blk.up.forward(hn, mode, li + 5, ops)?;
        blk.down
            .forward(&frozen::swiglu(&g, &u, ops)?, mode, li + 6, ops)
    }

    /// An empty KV cache for `batch` rows and up to `max_len` positions (prompt + generated).
    pub fn new_cache(&self, batch: usize, max_len: usize) -> InferCache {
        InferCache {
            layers: (0..self.cfg.num_hidden_layers)
                .map(|_| KvCache::new(2, max_len))
                .collect(),
            key_valid: vec![Vec::new(); batch],
        }
    }

    /// Inference forward with fused kernels (no gradients): appends `ids` (batch, t) to the cache
    /// and returns the f32 logits of the last new position, (batch, vocab). `valid[b][i]` marks
    /// real tokens.
    pub fn forward_cached(
        &self,
        ids: &Tensor,
        valid: &[Vec<bool>],
        cache: &mut InferCache,
        mode: LoraMode,
    ) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if valid.len() != b || cache.key_valid.len() != b || valid.iter().any(|r| r.len() != t) {
            return Err(ModelError::InvalidArgument(format!(
                "forward_cached: ids {:?}, valid rows {}, cache rows {}",
                ids.dims(),
                valid.len(),
                cache.key_valid.len()
            )));
        }
        let start: Vec<u32> = cache
            .key_valid
            .iter()
            .map(|r| r.iter().filter(|&&v| v).count() as u32)
            .collect();
        let positions = positions_from_valid(valid, &start);
        for (row, new) in cache.key_valid.iter_mut().zip(valid) {
            row.extend_from_slice(new);
        }
        let tk = cache.len();
        let bias = attention_bias(&cache.key_valid, t, &self.device)?;
        debug_assert_eq!(bias.dim(3)?, tk);
        let (cos, sin) = self.rope_tables(&positions, b, t)?;
        let eps = self.cfg.rms_norm_eps as f32;
        let mut x = self.embed.embedding(&ids.flatten_all()?)?;
        for (blk, kv) in self.blocks.iter().zip(cache.layers.iter_mut()) {
            let hn = candle_nn::ops::rms_norm(&x, &blk.input_layernorm, eps)?;
            let (q, k, v) = self.qkv(blk, &hn, b, t, mode, 0, FrozenOps::Candle)?;
            let q = candle_nn::rotary_emb::rope(&q, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope(&k, &cos, &sin)?;
            let (k, v) = kv.append(&k, &v)?;
            let att = self.attend(&q, &k, &v, &bias, true, FrozenOps::Candle)?;
            x = (x + blk.o.forward(&att, mode, 0, FrozenOps::Candle)?)?;
            let hn = candle_nn::ops::rms_norm(&x, &blk.post_attention_layernorm, eps)?;
            x = (x + self.mlp(blk, &hn, mode, 0, FrozenOps::Candle)?)?;
        }
        let last = x
            .reshape((b, t, self.cfg.hidden_size))?
            .narrow(1, t - 1, 1)?
            .squeeze(1)?
            .contiguous()?;
        let hidden = candle_nn::ops::rms_norm(&last, &self.norm, eps)?;
        let logits = hidden.matmul(&self.lm_head.as_ref().unwrap_or(&self.embed).t()?)?;
        Ok(logits.to_dtype(DType::F32)?)
    }

    pub(crate) fn with_lora(&mut self, cfg: LoraConfig, vars: Vec<(String, Var)>) {
        self.lora = Some((cfg, vars));
    }
}

/// Position of each token = number of real tokens before it in its row (plus `start`); padding gets
/// the position of the next real token, which is harmless because padding is never attended to.
fn positions_from_valid(valid: &[Vec<bool>], start: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    for (row, &s) in valid.iter().zip(start) {
        let mut p = s;
        for &v in row {
            out.push(p);
            if v {
                p += 1;
            }
        }
    }
    out
}

/// Additive attention bias (b, 1, tq, tk) for the last `tq` key slots as queries: causal, padding
/// keys masked. A query may always see itself, so padding rows never produce an all-masked softmax
/// (NaN).
fn attention_bias(key_valid: &[Vec<bool>], tq: usize, device: &Device) -> Result<Tensor> {
    let b = key_valid.len();
    let tk = key_valid.first().map_or(0, Vec::len);
    let mut data = Vec::with_capacity(b * tq * tk);
    for row in key_valid {
        for i in 0..tq {
            let slot = tk - tq + i;
            for (j, &v) in row.iter().enumerate() {
                let ok = j == slot || (j < slot && v);
                data.push(if ok { 0.0f32 } else { f32::NEG_INFINITY });
            }
        }
    }
    Ok(Tensor::from_vec(data, (b, 1, tq, tk), device)?)
}

/// A standard normal draw (Box-Muller), so initialisation depends only on the seed.
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// `log_softmax(logits / temperature)` gathered at `targets`: (b, t, v) and (b, t) -> (b, t).
/// Differentiable; this is the quantity PPO ratios and KL terms are built from.
pub fn token_logprobs(logits: &Tensor, targets: &Tensor, temperature: f64) -> Result<Tensor> {
    if temperature <= 0.0 {
        return Err(ModelError::InvalidArgument(format!(
            "token_logprobs temperature must be > 0, got {temperature}"
        )));
    }
    Ok(frozen::token_logprobs(logits, targets, temperature)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_values_are_one_serial_stream_whatever_the_threads() {
        let (len, p, seed) = (3 * (1 << 15) + 17, 0.1f32, 42);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let serial: Vec<f32> = (0..len)
            .map(|_| {
                if rng.random::<f32>() < p {
                    0.0
                } else {
                    1.0 / 0.9
                }
            })
            .collect();
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let par = pool.install(|| dropout_values(len, p, seed));
            assert!(par == serial, "{threads} thread(s): another stream");
        }
        let dropped = serial.iter().filter(|&&m| m == 0.0).count() as f64 / len as f64;
        assert!((dropped - 0.1).abs() < 0.01, "dropped {dropped}");
    }
}
