//! `ModelConfig`: the decoder's shape, read from a Hugging Face `config.json`.
//!
//! Covers the LLaMA family (incl. DeepSeek-Coder's linear RoPE scaling) and Qwen2 (q/k/v bias, tied
//! embeddings), in both the transformers 4 layout (`rope_theta` + `rope_scaling`) and the
//! transformers 5 layout (`rope_parameters`). Anything the decoder would silently compute wrongly
//! is refused here.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ModelError, Result, read_json};

/// Which published architecture the weights follow; decides parameter names and biases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Llama,
    Qwen2,
}

/// How RoPE positions are scaled before the frequencies are applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeScaling {
    None,
    /// Positions are divided by `factor` (HF `rope_type: "linear"`; DeepSeek-Coder uses factor 4).
    Linear {
        factor: f64,
    },
}

/// Everything the decoder needs to know about a checkpoint's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub arch: Arch,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub rope_scaling: RopeScaling,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
    /// Bias on q/k/v projections (always on for Qwen2, `attention_bias` for LLaMA).
    pub qkv_bias: bool,
    /// Bias on the output projection (LLaMA `attention_bias` only).
    pub o_bias: bool,
    pub bos_token_id: Option<u32>,
    pub eos_token_ids: Vec<u32>,
}

#[derive(Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    architectures: Option<Vec<String>>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    rope_scaling: Option<Value>,
    rope_parameters: Option<Value>,
    max_position_embeddings: Option<usize>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    hidden_act: Option<String>,
    use_sliding_window: Option<bool>,
    bos_token_id: Option<Value>,
    eos_token_id: Option<Value>,
}

/// A token id field that HF writes as a number, a list of numbers or null.
pub(crate) fn token_ids(v: &Value) -> Option<Vec<u32>> {
    match v {
        Value::Number(n) => n.as_u64().map(|x| vec![x as u32]),
        Value::Array(a) => a.iter().map(|x| x.as_u64().map(|x| x as u32)).collect(),
        _ => None,
    }
}

impl ModelConfig {
    /// Reads `config.json` (the file itself, not its folder).
    pub fn from_file(path: &Path) -> Result<Self> {
        let raw: Value = read_json(path)?;
        Self::from_value(path, raw)
    }

    /// Parses an already-read `config.json`; `path` is only used in error messages.
    pub fn from_value(path: &Path, value: Value) -> Result<Self> {
        let raw: RawConfig = serde_json::from_value(value).map_err(|source| ModelError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let p = || path.to_path_buf();
        let missing = |field: &str| ModelError::Config {
            path: p(),
            field: field.to_string(),
            message: "required but missing".into(),
        };
        let model_type = raw
            .model_type
            .clone()
            .ok_or_else(|| missing("model_type"))?;
        let arch = match model_type.as_str() {
            "llama" => Arch::Llama,
            "qwen2" => Arch::Qwen2,
            other => {
                return Err(ModelError::Unsupported {
                    path: p(),
                    what: format!("model_type `{other}` (supported: llama, qwen2)"),
                });
            }
        };
        if let Some(archs) = &raw.architectures {
            let ok = archs.iter().all(|a| match arch {
                Arch::Llama => a == "LlamaForCausalLM",
                Arch::Qwen2 => a == "Qwen2ForCausalLM",
            });
            if !ok {
                return Err(ModelError::Unsupported {
                    path: p(),
                    what: format!("architectures {archs:?} for model_type `{model_type}`"),
                });
            }
        }
        if let Some(act) = &raw.hidden_act
            && act != "silu"
        {
            return Err(ModelError::Unsupported {
                path: p(),
                what: format!("hidden_act `{act}` (only silu)"),
            });
        }
        if raw.mlp_bias == Some(true) {
            return Err(ModelError::Unsupported {
                path: p(),
                what: "mlp_bias = true".into(),
            });
        }
        if raw.use_sliding_window == Some(true) {
            return Err(ModelError::Unsupported {
                path: p(),
                what: "use_sliding_window = true".into(),
            });
        }
        let hidden_size = raw.hidden_size.ok_or_else(|| missing("hidden_size"))?;
        let num_attention_heads = raw
            .num_attention_heads
            .ok_or_else(|| missing("num_attention_heads"))?;
        let num_key_value_heads = raw.num_key_value_heads.unwrap_or(num_attention_heads);
        if num_attention_heads == 0
            || num_key_value_heads == 0
            || num_attention_heads % num_key_value_heads != 0
        {
            return Err(ModelError::Config {
                path: p(),
                field: "num_key_value_heads".into(),
                message: format!(
                    "{num_key_value_heads} must divide num_attention_heads {num_attention_heads}"
                ),
            });
        }
        let head_dim = match raw.head_dim {
            Some(d) => d,
            None if hidden_size % num_attention_heads == 0 => hidden_size / num_attention_heads,
            None => {
                return Err(ModelError::Config {
                    path: p(),
                    field: "hidden_size".into(),
                    message: format!(
                        "{hidden_size} is not divisible by num_attention_heads \
                         {num_attention_heads}"
                    ),
                });
            }
        };
        if head_dim % 2 != 0 {
            return Err(ModelError::Config {
                path: p(),
                field: "head_dim".into(),
                message: "must be even for RoPE".into(),
            });
        }
        let (rope_theta, rope_scaling) = parse_rope(path, &raw)?;
        let attention_bias = raw.attention_bias.unwrap_or(false);
        let (qkv_bias, o_bias) = match arch {
            Arch::Llama => (attention_bias, attention_bias),
            Arch::Qwen2 => (true, false),
        };
        let eos_token_ids = raw
            .eos_token_id
            .as_ref()
            .and_then(token_ids)
            .unwrap_or_default();
        let bos_token_id = raw
            .bos_token_id
            .as_ref()
            .and_then(token_ids)
            .and_then(|v| v.first().copied());
        Ok(Self {
            arch,
            vocab_size: raw.vocab_size.ok_or_else(|| missing("vocab_size"))?,
            hidden_size,
            intermediate_size: raw
                .intermediate_size
                .ok_or_else(|| missing("intermediate_size"))?,
            num_hidden_layers: raw
                .num_hidden_layers
                .ok_or_else(|| missing("num_hidden_layers"))?,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            rms_norm_eps: raw.rms_norm_eps.unwrap_or(1e-6),
            rope_theta,
            rope_scaling,
            max_position_embeddings: raw.max_position_embeddings.unwrap_or(2048),
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
            qkv_bias,
            o_bias,
            bos_token_id,
            eos_token_ids,
        })
    }

    /// A `config.json` in the transformers 4 layout that `LlamaForCausalLM`/`Qwen2ForCausalLM`
    /// load.
    pub fn to_hf_json(&self) -> Value {
        let (model_type, arch) = match self.arch {
            Arch::Llama => ("llama", "LlamaForCausalLM"),
            Arch::Qwen2 => ("qwen2", "Qwen2ForCausalLM"),
        };
        let rope_scaling = match self.rope_scaling {
            RopeScaling::None => Value::Null,
            RopeScaling::Linear { factor } => {
                serde_json::json!({"type": "linear", "factor": factor})
            }
        };
        let eos = match self.eos_token_ids.as_slice() {
            [] => Value::Null,
            [one] => Value::from(*one),
            many => Value::from(many.to_vec()),
        };
        let mut v = serde_json::json!({
            "model_type": model_type,
            "architectures": [arch],
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": rope_scaling,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "hidden_act": "silu",
            "bos_token_id": self.bos_token_id,
            "eos_token_id": eos,
            "torch_dtype": "float32",
        });
        if self.arch == Arch::Llama {
            v["attention_bias"] = Value::from(self.qkv_bias);
            v["mlp_bias"] = Value::from(false);
        }
        v
    }

    /// Number of parameters of the base model (tied embeddings counted once).
    pub fn num_params(&self) -> usize {
        let h = self.hidden_size;
        let q = self.num_attention_heads * self.head_dim;
        let kv = self.num_key_value_heads * self.head_dim;
        let attn = h * q
            + 2 * h * kv
            + q * h
            + if self.qkv_bias { q + 2 * kv } else { 0 }
            + if self.o_bias { h } else { 0 };
        let mlp = 3 * h * self.intermediate_size;
        let layer = attn + mlp + 2 * h;
        let embed = self.vocab_size * h * if self.tie_word_embeddings { 1 } else { 2 };
        embed + self.num_hidden_layers * layer + h
    }
}

fn parse_rope(path: &Path, raw: &RawConfig) -> Result<(f64, RopeScaling)> {
    let p = || -> PathBuf { path.to_path_buf() };
    // transformers 5 moves theta and scaling into one `rope_parameters` object; prefer it when
    // present.
    let params = match (&raw.rope_parameters, &raw.rope_scaling) {
        (Some(v @ Value::Object(_)), _) => Some(("rope_parameters", v)),
        (_, Some(v @ Value::Object(_))) => Some(("rope_scaling", v)),
        _ => None,
    };
    let mut theta = raw.rope_theta.unwrap_or(10_000.0);
    let mut scaling = RopeScaling::None;
    if let Some((field, v)) = params {
        if let Some(t) = v.get("rope_theta").and_then(Value::as_f64) {
            theta = t;
        }
        let kind = v
            .get("rope_type")
            .or_else(|| v.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("default");
        match kind {
            "default" => {}
            "linear" => {
                let factor =
                    v.get("factor")
                        .and_then(Value::as_f64)
                        .ok_or_else(|| ModelError::Config {
                            path: p(),
                            field: format!("{field}.factor"),
                            message: "linear RoPE scaling needs a numeric factor".into(),
                        })?;
                if factor <= 0.0 {
                    return Err(ModelError::Config {
                        path: p(),
                        field: format!("{field}.factor"),
                        message: format!("must be positive, got {factor}"),
                    });
                }
                scaling = RopeScaling::Linear { factor };
            }
            other => {
                return Err(ModelError::Unsupported {
                    path: p(),
                    what: format!("{field} rope_type `{other}` (supported: default, linear)"),
                });
            }
        }
    }
    Ok((theta, scaling))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<ModelConfig> {
        ModelConfig::from_value(Path::new("config.json"), v)
    }

    #[test]
    fn deepseek_coder_linear_rope_scaling_tf4_layout() {
        // Shape and rope fields as published in deepseek-coder-1.3b-instruct's config.json.
        let c = parse(serde_json::json!({
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
            "hidden_size": 2048, "intermediate_size": 5504, "num_attention_heads": 16,
            "num_hidden_layers": 24,
            "num_key_value_heads": 16, "max_position_embeddings": 16384, "rms_norm_eps": 1e-6,
            "rope_scaling": {"factor": 4.0, "type": "linear"}, "rope_theta": 100000,
            "tie_word_embeddings": false,
            "vocab_size": 32256, "bos_token_id": 32013, "eos_token_id": 32021,
            "torch_dtype": "bfloat16"
        }))
        .unwrap();
        assert_eq!(c.arch, Arch::Llama);
        assert_eq!(c.rope_scaling, RopeScaling::Linear { factor: 4.0 });
        assert_eq!(c.rope_theta, 100000.0);
        assert_eq!(c.head_dim, 128);
        assert_eq!(c.eos_token_ids, vec![32021]);
        assert!(!c.qkv_bias);
    }

    #[test]
    fn qwen2_tf5_rope_parameters_and_bias() {
        let c = parse(serde_json::json!({
            "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
            "intermediate_size": 4864, "num_attention_heads": 14, "num_hidden_layers": 24,
            "num_key_value_heads": 2,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
            "tie_word_embeddings": true,
            "vocab_size": 151936, "eos_token_id": [151645, 151643], "use_sliding_window": false
        }))
        .unwrap();
        assert_eq!(c.arch, Arch::Qwen2);
        assert_eq!(c.rope_theta, 1e6);
        assert_eq!(c.rope_scaling, RopeScaling::None);
        assert!(c.qkv_bias && !c.o_bias && c.tie_word_embeddings);
        assert_eq!(c.head_dim, 64);
        assert_eq!(c.eos_token_ids, vec![151645, 151643]);
        // Qwen2.5-0.5B has about 494M parameters.
        let n = c.num_params();
        assert!((490_000_000..500_000_000).contains(&n), "{n}");
    }

    #[test]
    fn tf5_linear_scaling_in_rope_parameters() {
        let c = parse(serde_json::json!({
            "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
            "num_attention_heads": 4,
            "num_hidden_layers": 2, "vocab_size": 100,
            "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 5000.0}
        }))
        .unwrap();
        assert_eq!(c.rope_scaling, RopeScaling::Linear { factor: 2.0 });
        assert_eq!(c.rope_theta, 5000.0);
    }

    #[test]
    fn refuses_what_it_cannot_compute() {
        let base = serde_json::json!({
            "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
            "num_attention_heads": 4,
            "num_hidden_layers": 2, "vocab_size": 100
        });
        let mut v = base.clone();
        v["model_type"] = "mistral".into();
        assert!(
            parse(v)
                .unwrap_err()
                .to_string()
                .contains("model_type `mistral`")
        );
        let mut v = base.clone();
        v["rope_scaling"] = serde_json::json!({"rope_type": "yarn", "factor": 4.0});
        assert!(parse(v).unwrap_err().to_string().contains("yarn"));
        let mut v = base.clone();
        v["architectures"] = serde_json::json!(["LlamaForSequenceClassification"]);
        assert!(parse(v).unwrap_err().to_string().contains("architectures"));
        let mut v = base.clone();
        v.as_object_mut().unwrap().remove("vocab_size");
        assert!(parse(v).unwrap_err().to_string().contains("`vocab_size`"));
        let mut v = base;
        v["num_key_value_heads"] = 3.into();
        assert!(
            parse(v)
                .unwrap_err()
                .to_string()
                .contains("num_key_value_heads")
        );
        let err = ModelConfig::from_file(Path::new("/nonexistent/config.json")).unwrap_err();
        assert!(matches!(err, ModelError::MissingFile { .. }), "{err}");
    }

    #[test]
    fn hf_json_round_trip() {
        let c = parse(serde_json::json!({
            "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
            "num_attention_heads": 4,
            "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 100, "eos_token_id": 3,
            "rope_scaling": {"type": "linear", "factor": 2.0}
        }))
        .unwrap();
        assert_eq!(parse(c.to_hf_json()).unwrap(), c);
    }
}
