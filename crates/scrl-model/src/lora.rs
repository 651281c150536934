//! LoRA adapters: configuration, attachment to a frozen `Decoder`, PEFT-format save/load and
//! merging.
//!
//! A/B are f32 `Var`s named exactly as PEFT writes them
//! (`base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`, A `(r, in)`, B `(out, r)`),
//! so `adapter_model.safetensors` + `adapter_config.json` load in Python `peft`. A mismatched
//! adapter is an error, never a silent fallback to the base model.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result, io_err, read_json, write_atomic};
use crate::model::Decoder;

/// The linear layers LoRA can target, by their HF module names.
pub const TARGETABLE: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

const FINGERPRINT_KEY: &str = "scrl_base_fingerprint";

/// LoRA hyper-parameters (PEFT's `r`, `lora_alpha`, `lora_dropout`, `target_modules`).
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    pub r: usize,
    pub alpha: f64,
    pub dropout: f32,
    pub target_modules: Vec<String>,
}

impl LoraConfig {
    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |field: &str, message: String| ModelError::Config {
            path: path.to_path_buf(),
            field: field.into(),
            message,
        };
        if self.r == 0 {
            return Err(bad("r", "must be at least 1".into()));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(bad(
                "lora_dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            ));
        }
        if self.target_modules.is_empty() {
            return Err(bad("target_modules", "is empty".into()));
        }
        for m in &self.target_modules {
            if !TARGETABLE.contains(&m.as_str()) {
                return Err(bad(
                    "target_modules",
                    format!("unknown module `{m}` (known: {})", TARGETABLE.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn scale(&self) -> f64 {
        self.alpha / self.r as f64
    }
}

/// One layer's LoRA branch: `y += scale * dropout(x) A^T B^T`.
pub(crate) struct LoraBranch {
    pub(crate) a: Var,
    pub(crate) b: Var,
    pub(crate) scale: f64,
    pub(crate) dropout: f32,
    /// Deep copies of A and B, and their scale, taken by `Decoder::freeze_reference`;
    /// `LoraMode::Reference` computes with these. Loading another adapter keeps them.
    pub(crate) reference: Option<(Tensor, Tensor, f64)>,
}

fn peft_key(lin_name: &str, ab: &str) -> String {
    format!("base_model.model.{lin_name}.lora_{ab}.weight")
}

impl Decoder {
    /// Adds fresh LoRA branches (A: Kaiming-uniform as PEFT initialises it, from `seed`; B: zeros,
    /// so the model's output is unchanged) on every targeted linear layer. Replaces an attached
    /// adapter.
    pub fn attach_lora(&mut self, cfg: LoraConfig, seed: u64) -> Result<()> {
        cfg.validate(Path::new("<lora config>"))?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let device = self.device().clone();
        let mut vars = Vec::new();
        for lin in self.lins_mut() {
            lin.lora = None;
            if !cfg.target_modules.iter().any(|m| m == lin.module) {
                continue;
            }
            let (out_d, in_d) = lin.weight.dims2()?;
            let bound = 1.0 / (in_d as f64).sqrt();
            let a: Vec<f32> = (0..cfg.r * in_d)
                .map(|_| rng.random_range(-bound..bound) as f32)
                .collect();
            let a = Var::from_tensor(&Tensor::from_vec(a, (cfg.r, in_d), &device)?)?;
            let b = Var::zeros((out_d, cfg.r), DType::F32, &device)?;
            vars.push((peft_key(&lin.name, "A"), a.clone()));
            vars.push((peft_key(&lin.name, "B"), b.clone()));
            lin.lora = Some(LoraBranch {
                a,
                b,
                scale: cfg.scale(),
                dropout: cfg.dropout,
                reference: None,
            });
        }
        vars.sort_by(|x, y| x.0.cmp(&y.0));
        self.with_lora(cfg, vars);
        Ok(())
    }

    /// Snapshots the adapter's current values (deep copies: a `Var` is updated in place) as the
    /// frozen reference that `LoraMode::Reference` computes with. PPO calls it after loading the
    /// SFT adapter, so the KL reference is the SFT model while base weights stay shared. Needs an
    /// attached adapter.
    pub fn freeze_reference(&mut self) -> Result<()> {
        if self.lora.is_none() {
            return Err(ModelError::InvalidArgument(
                "freeze_reference needs an attached LoRA adapter".into(),
            ));
        }
        for lin in self.lins_mut() {
            if let Some(l) = &mut lin.lora {
                l.reference = Some((l.a.as_tensor().copy()?, l.b.as_tensor().copy()?, l.scale));
            }
        }
        Ok(())
    }

    /// The attached adapter's configuration, if any.
    pub fn lora_config(&self) -> Option<&LoraConfig> {
        self.lora.as_ref().map(|(c, _)| c)
    }

    /// A short hash of the base model (its config and the first values of every weight tensor),
    /// stored in the adapter file so loading it onto a different base of the same shape is refused.
    pub fn base_fingerprint(&self) -> Result<String> {
        let mut h = Sha256::new();
        h.update(format!("{:?}", self.cfg).as_bytes());
        for (name, t) in self.base_tensors() {
            h.update(name.as_bytes());
            let flat = t.flatten_all()?;
            let n = flat.dim(0)?.min(16);
            for x in flat
                .narrow(0, 0, n)?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?
            {
                h.update(x.to_le_bytes());
            }
        }
        Ok(hex::encode(&h.finalize()[..16]))
    }

    /// Writes `adapter_model.safetensors` and `adapter_config.json` (PEFT layout) into `dir`.
    pub fn save_adapter(&self, dir: &Path, base_model_name_or_path: &str) -> Result<()> {
        let (cfg, vars) = self
            .lora
            .as_ref()
            .ok_or_else(|| ModelError::InvalidArgument("no LoRA adapter attached".into()))?;
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let meta = HashMap::from([
            ("format".to_string(), "pt".to_string()),
            (FINGERPRINT_KEY.to_string(), self.base_fingerprint()?),
        ]);
        let tensors: Vec<(String, Tensor)> = vars
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
            .collect();
        let bytes =
            safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
                .map_err(|e| ModelError::Adapter {
                    path: dir.to_path_buf(),
                    message: format!("serialize: {e}"),
                })?;
        write_atomic(&dir.join("adapter_model.safetensors"), &bytes)?;
        let config = serde_json::json!({
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": cfg.r, "lora_alpha": cfg.alpha,
            "lora_dropout": cfg.dropout, "target_modules": cfg.target_modules, "bias": "none",
            "fan_in_fan_out": false, "base_model_name_or_path": base_model_name_or_path,
            "inference_mode": true,
            "use_rslora": false, "use_dora": false, "modules_to_save": null,
            "init_lora_weights": true,
        });
        let text = serde_json::to_string_pretty(&config).expect("a json! value serialises");
        write_atomic(&dir.join("adapter_config.json"), text.as_bytes())
    }

    /// Loads a PEFT LoRA adapter folder onto this (frozen) base. Every targeted layer must have A
    /// and B of the right shapes, and the file must hold nothing else; an adapter saved by this
    /// crate for a different base is refused by its fingerprint.
    pub fn load_adapter(&mut self, dir: &Path) -> Result<()> {
        let cfg_path = dir.join("adapter_config.json");
        let raw: Value = read_json(&cfg_path)?;
        let (cfg, scale) = parse_adapter_config(&cfg_path, &raw)?;
        let st_path = dir.join("adapter_model.safetensors");
        let bytes = std::fs::read(&st_path).map_err(io_err(&st_path))?;
        let adapter_err = |message: String| ModelError::Adapter {
            path: st_path.clone(),
            message,
        };
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| adapter_err(format!("{e}")))?;
        if let Some(fp) = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(FINGERPRINT_KEY))
        {
            let ours = self.base_fingerprint()?;
            if *fp != ours {
                return Err(adapter_err(format!(
                    "was trained on a different base model (fingerprint {fp}, this base is {ours}; \
                     base recorded in adapter_config.json: {})",
                    raw.get("base_model_name_or_path")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                )));
            }
        }
        let device = self.device().clone();
        let mut tensors: BTreeMap<String, Tensor> =
            candle_core::safetensors::load_buffer(&bytes, &device)
                .map_err(|e| adapter_err(format!("{e}")))?
                .into_iter()
                .collect();
        let mut vars = Vec::new();
        let mut branches = Vec::new();
        for lin in self.lins() {
            if !cfg.target_modules.iter().any(|m| m == lin.module) {
                if lin.lora.as_ref().is_some_and(|l| l.reference.is_some()) {
                    return Err(adapter_err(format!(
                        "does not target {}, which holds the frozen reference adapter; use the \
                         reference's target_modules",
                        lin.name
                    )));
                }
                continue;
            }
            let reference = lin.lora.as_ref().and_then(|l| l.reference.clone());
            let (out_d, in_d) = lin.weight.dims2()?;
            let mut take = |ab: &str, shape: (usize, usize)| -> Result<Var> {
                let key = peft_key(&lin.name, ab);
                let t = tensors.remove(&key).ok_or_else(|| {
                    adapter_err(format!(
                        "missing tensor `{key}` for target module {}",
                        lin.module
                    ))
                })?;
                if t.dims() != [shape.0, shape.1] {
                    return Err(adapter_err(format!(
                        "tensor `{key}` has shape {:?}, this base with r={} needs {:?}",
                        t.dims(),
                        cfg.r,
                        [shape.0, shape.1]
                    )));
                }
                Ok(Var::from_tensor(&t.to_dtype(DType::F32)?)?)
            };
            let a = take("A", (cfg.r, in_d))?;
            let b = take("B", (out_d, cfg.r))?;
            vars.push((peft_key(&lin.name, "A"), a.clone()));
            vars.push((peft_key(&lin.name, "B"), b.clone()));
            branches.push(LoraBranch {
                a,
                b,
                scale,
                dropout: cfg.dropout,
                reference,
            });
        }
        if let Some(extra) = tensors.keys().next() {
            return Err(adapter_err(format!(
                "{} tensor(s) match no targeted layer of this base, e.g. `{extra}` (different base \
                 or target_modules?)",
                tensors.len()
            )));
        }
        for (lin, branch) in self
            .lins_mut()
            .filter(|l| cfg.target_modules.iter().any(|m| m == l.module))
            .zip(branches)
        {
            lin.lora = Some(branch);
        }
        for lin in self
            .lins_mut()
            .filter(|l| !cfg.target_modules.iter().any(|m| m == l.module))
        {
            lin.lora = None;
        }
        vars.sort_by(|x, y| x.0.cmp(&y.0));
        self.with_lora(cfg, vars);
        Ok(())
    }

    /// Base weights with every LoRA branch folded in (`W + scale * B A`), in the weight dtype, by
    /// HF name.
    pub fn merged_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut merged: HashMap<String, Tensor> = HashMap::new();
        for lin in self.lins() {
            if let Some(l) = &lin.lora {
                let delta = (l.b.as_tensor().matmul(l.a.as_tensor())? * l.scale)?;
                let w = (lin.weight.to_dtype(DType::F32)? + delta)?.to_dtype(lin.weight.dtype())?;
                merged.insert(format!("{}.weight", lin.name), w);
            }
        }
        Ok(self
            .base_tensors()
            .into_iter()
            .map(|(n, t)| match merged.remove(&n) {
                Some(m) => (n, m),
                None => (n, t),
            })
            .collect())
    }

    /// Writes `config.json` + `model.safetensors` with LoRA merged in (plain base weights without
    /// an adapter): a folder `Decoder::load` and transformers' `from_pretrained` both read.
    pub fn save_merged(&self, dir: &Path) -> Result<()> {
        save_checkpoint(dir, &self.cfg.to_hf_json(), &self.merged_tensors()?)
    }
}

/// Writes `config.json` and `model.safetensors` atomically.
pub(crate) fn save_checkpoint(
    dir: &Path,
    config: &Value,
    tensors: &[(String, Tensor)],
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
        .map_err(|e| ModelError::Checkpoint {
            path: dir.to_path_buf(),
            message: format!("serialize: {e}"),
        })?;
    write_atomic(&dir.join("model.safetensors"), &bytes)?;
    let text = serde_json::to_string_pretty(config).expect("a json value serialises");
    write_atomic(&dir.join("config.json"), text.as_bytes())
}

/// The LoRA config and the branch scale (`alpha / r`, or `alpha / sqrt(r)` with rsLoRA).
fn parse_adapter_config(path: &Path, raw: &Value) -> Result<(LoraConfig, f64)> {
    let bad = |field: &str, message: &str| ModelError::Config {
        path: path.to_path_buf(),
        field: field.into(),
        message: message.into(),
    };
    let unsupported = |what: String| ModelError::Unsupported {
        path: path.to_path_buf(),
        what,
    };
    match raw.get("peft_type").and_then(Value::as_str) {
        Some("LORA") => {}
        other => return Err(unsupported(format!("peft_type {other:?} (only LORA)"))),
    }
    for flag in ["use_dora", "fan_in_fan_out"] {
        if raw.get(flag).and_then(Value::as_bool) == Some(true) {
            return Err(unsupported(format!("{flag} = true")));
        }
    }
    if let Some(b) = raw.get("bias").and_then(Value::as_str)
        && b != "none"
    {
        return Err(unsupported(format!("bias = {b:?}")));
    }
    for field in [
        "modules_to_save",
        "layers_to_transform",
        "rank_pattern",
        "alpha_pattern",
    ] {
        match raw.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) if m.is_empty() => {}
            Some(v) => return Err(unsupported(format!("{field} = {v}"))),
        }
    }
    let r = raw
        .get("r")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("r", "missing or not an integer"))? as usize;
    let alpha = raw
        .get("lora_alpha")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("lora_alpha", "missing or not a number"))?;
    let dropout = raw
        .get("lora_dropout")
        .and_then(Value::as_f64)
        .unwrap_or(0.0) as f32;
    let target_modules = match raw.get("target_modules") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| {
                m.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad("target_modules", "entries must be strings"))
            })
            .collect::<Result<Vec<_>>>()?,
        Some(Value::String(s)) => {
            return Err(unsupported(format!(
                "target_modules as a regex ({s:?}); list the module names"
            )));
        }
        _ => return Err(bad("target_modules", "missing")),
    };
    let cfg = LoraConfig {
        r,
        alpha,
        dropout,
        target_modules,
    };
    cfg.validate(path)?;
    let scale = if raw.get("use_rslora").and_then(Value::as_bool) == Some(true) {
        alpha / (r as f64).sqrt()
    } else {
        cfg.scale()
    };
    Ok((cfg, scale))
}
