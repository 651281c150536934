//! The real model shapes (DeepSeek-Coder-1.3B, Qwen2.5-Coder-0.5B/1.5B; `config.json` files in
//! `shapes/`), and a writer that turns one into a loadable Hugging Face folder with seeded random
//! bf16 weights and a tokenizer of exactly `vocab_size` ids, so the decoder can be measured and
//! tested at real shapes without the real weights.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use candle_core::{DType, Device, Tensor};

use crate::config::ModelConfig;
use crate::error::{ModelError, Result, io_err, read_json};

/// One published model's shape.
#[derive(Debug)]
pub struct Shape {
    /// Folder name under `shapes/`, used as `--shape NAME`.
    pub name: &'static str,
    pub hf_id: &'static str,
    config: &'static str,
    generation_config: &'static str,
    /// Special tokens of the published tokenizer at their ids (BOS/EOS/pad ids of the configs).
    specials: &'static [(u32, &'static str)],
}

pub const SHAPES: &[Shape] = &[
    Shape {
        name: "deepseek-coder-1.3b-instruct",
        hf_id: "deepseek-ai/deepseek-coder-1.3b-instruct",
        config: include_str!("../shapes/deepseek-coder-1.3b-instruct/config.json"),
        generation_config: include_str!(
            "../shapes/deepseek-coder-1.3b-instruct/generation_config.json"
        ),
        specials: &[
            (32013, "<｜begin▁of▁sentence｜>"),
            (32014, "<｜end▁of▁sentence｜>"),
            (32021, "<|EOT|>"),
        ],
    },
    Shape {
        name: "qwen2.5-coder-0.5b-instruct",
        hf_id: "Qwen/Qwen2.5-Coder-0.5B-Instruct",
        config: include_str!("../shapes/qwen2.5-coder-0.5b-instruct/config.json"),
        generation_config: include_str!(
            "../shapes/qwen2.5-coder-0.5b-instruct/generation_config.json"
        ),
        specials: QWEN_SPECIALS,
    },
    Shape {
        name: "qwen2.5-coder-1.5b-instruct",
        hf_id: "Qwen/Qwen2.5-Coder-1.5B-Instruct",
        config: include_str!("../shapes/qwen2.5-coder-1.5b-instruct/config.json"),
        generation_config: include_str!(
            "../shapes/qwen2.5-coder-1.5b-instruct/generation_config.json"
        ),
        specials: QWEN_SPECIALS,
    },
];

const QWEN_SPECIALS: &[(u32, &str)] = &[
    (151643, "<|endoftext|>"),
    (151644, "<|im_start|>"),
    (151645, "<|im_end|>"),
];

/// The shape called `name`; the error lists the known names.
pub fn shape(name: &str) -> Result<&'static Shape> {
    SHAPES.iter().find(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = SHAPES.iter().map(|s| s.name).collect();
        ModelError::InvalidArgument(format!(
            "unknown shape `{name}` (known: {})",
            names.join(", ")
        ))
    })
}

impl Shape {
    /// The published `config.json`, with `num_hidden_layers` replaced when `layers` is given.
    pub fn config_json(&self, layers: Option<usize>) -> Value {
        let mut v: Value = serde_json::from_str(self.config).expect("shape configs are valid JSON");
        if let Some(l) = layers {
            v["num_hidden_layers"] = Value::from(l);
        }
        v
    }

    pub fn config(&self, layers: Option<usize>) -> Result<ModelConfig> {
        ModelConfig::from_value(
            Path::new(&format!("shapes/{}/config.json", self.name)),
            self.config_json(layers),
        )
    }
}

/// What a random checkpoint folder was written from; a folder whose marker matches is reused.
const MARKER: &str = "random_checkpoint.json";

/// Writes `dir` as a Hugging Face folder of `shape` (with `layers` layers, default the real
/// number): `config.json`, `generation_config.json`, `tokenizer.json` + `tokenizer_config.json` (a
/// byte-level BPE trained on `tokenizer_texts`, padded with unused tokens to exactly `vocab_size`
/// ids, the shape's special tokens at their published ids) and `model.safetensors` in bf16: norms
/// 1, every other tensor uniform with standard deviation 0.02 from SplitMix64 seeded by (`seed`,
/// tensor index). Returns false when `dir` already holds exactly this checkpoint (nothing is
/// written then).
pub fn write_random_checkpoint(
    dir: &Path,
    shape: &Shape,
    layers: Option<usize>,
    seed: u64,
    tokenizer_texts: &[String],
) -> Result<bool> {
    let config = shape.config_json(layers);
    let cfg = shape.config(layers)?;
    let marker = serde_json::json!({
        "shape": shape.name, "num_hidden_layers": cfg.num_hidden_layers, "seed": seed,
        "weights": "bf16, norms 1, others uniform (256 levels, std 0.02) from SplitMix64(seed, \
            tensor index)",
        "tokenizer_texts": tokenizer_texts.len(),
        "writer_version": 2,
    });
    let marker_path = dir.join(MARKER);
    if marker_path.exists() && read_json::<Value>(&marker_path).ok().as_ref() == Some(&marker) {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let _ = std::fs::remove_file(&marker_path);
    let json = |v: &Value| serde_json::to_vec_pretty(v).expect("JSON values serialize");
    crate::error::write_atomic(&dir.join("config.json"), &json(&config))?;
    crate::error::write_atomic(
        &dir.join("generation_config.json"),
        shape.generation_config.as_bytes(),
    )?;
    write_tokenizer(dir, shape, cfg.vocab_size, tokenizer_texts)?;
    write_weights(&dir.join("model.safetensors"), &cfg, seed)?;
    crate::error::write_atomic(&marker_path, &json(&marker))?;
    Ok(true)
}

fn write_tokenizer(dir: &Path, shape: &Shape, vocab_size: usize, texts: &[String]) -> Result<()> {
    let path = dir.join("tokenizer.json");
    let bad = |message: String| ModelError::Tokenizer {
        path: path.clone(),
        message,
    };
    // A small real BPE, so prompts take about as many tokens as with a real code tokenizer.
    let trained = vocab_size.min(4096);
    crate::tokenizer::train_byte_level_bpe(texts, trained, &path)?;
    let mut tk: Value = read_json(&path)?;
    let vocab = tk["model"]["vocab"]
        .as_object_mut()
        .ok_or_else(|| bad("trained tokenizer has no model.vocab".into()))?;
    // The trainer's own specials (<|endoftext|> = 0, <|pad|> = 1) would clash with the published
    // ones.
    let mut by_id: Vec<Option<String>> = vec![None; vocab_size];
    for (tok, id) in vocab.iter() {
        let id = id
            .as_u64()
            .ok_or_else(|| bad(format!("vocab id of {tok}")))? as usize;
        if id >= vocab_size {
            return Err(bad(format!(
                "trained vocab id {id} is outside {vocab_size}"
            )));
        }
        by_id[id] = Some(tok.clone());
    }
    let mut added = vec![];
    for (id, name) in [(0u32, "<|scrl_unused_0|>"), (1, "<|scrl_unused_1|>")]
        .into_iter()
        .chain(shape.specials.iter().copied())
    {
        let id = id as usize;
        if id >= vocab_size {
            return Err(bad(format!(
                "special {name} id {id} is outside {vocab_size}"
            )));
        }
        by_id[id] = Some(name.to_string());
        added.push(
            serde_json::json!({"id": id, "content": name, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true}),
        );
    }
    let mut new_vocab = serde_json::Map::new();
    for (id, tok) in by_id.into_iter().enumerate() {
        let tok = tok.unwrap_or_else(|| format!("<|scrl_unused_{id}|>"));
        new_vocab.insert(tok, Value::from(id));
    }
    if new_vocab.len() != vocab_size {
        return Err(bad(format!(
            "{} distinct tokens, expected {vocab_size}",
            new_vocab.len()
        )));
    }
    tk["model"]["vocab"] = Value::Object(new_vocab);
    tk["added_tokens"] = Value::Array(added);
    crate::error::write_atomic(
        &path,
        &serde_json::to_vec(&tk).expect("JSON values serialize"),
    )?;
    let cfg: Value = serde_json::from_str(shape.config).expect("shape configs are valid JSON");
    let name_of = |key: &str| {
        let id = cfg[key].as_u64()?;
        shape
            .specials
            .iter()
            .find(|(i, _)| u64::from(*i) == id)
            .map(|(_, n)| *n)
    };
    let tok_cfg = serde_json::json!({
        "bos_token": name_of("bos_token_id"), "eos_token": name_of("eos_token_id"),
        "model_max_length": cfg["max_position_embeddings"],
        "tokenizer_class": "PreTrainedTokenizerFast",
    });
    crate::error::write_atomic(
        &dir.join("tokenizer_config.json"),
        &serde_json::to_vec_pretty(&tok_cfg).expect("JSON values serialize"),
    )
}

/// Streams a bf16 safetensors file tensor by tensor (memory: one tensor at a time), then renames it
/// into place.
fn write_weights(path: &Path, cfg: &ModelConfig, seed: u64) -> Result<()> {
    let params = crate::model::param_shapes(cfg);
    let mut header = serde_json::Map::new();
    header.insert(
        "__metadata__".into(),
        serde_json::json!({"format": "pt", "scrl_random_seed": seed.to_string()}),
    );
    let mut offset = 0usize;
    for (name, shape) in &params {
        let bytes = 2 * shape.iter().product::<usize>();
        header.insert(
            name.clone(),
            serde_json::json!({
                "dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + bytes],
            }),
        );
        offset += bytes;
    }
    let mut head = serde_json::to_vec(&Value::Object(header)).expect("JSON values serialize");
    while !head.len().is_multiple_of(8) {
        head.push(b' ');
    }
    // The tensors are built inside the writer's callback, which returns I/O errors only: a model
    // error is kept here and returned as itself.
    let mut failed = None;
    let written = scrl_fs::write_atomic_with(path, |file| {
        let mut w = std::io::BufWriter::with_capacity(1 << 22, file);
        stream_weights(&mut w, path, &params, &head, seed).map_err(|e| {
            let io = std::io::Error::other(e.to_string());
            failed = Some(e);
            io
        })?;
        w.flush()
    });
    match failed {
        Some(e) => Err(e),
        None => written.map_err(io_err(path)),
    }
}

/// Writes the safetensors layout: the header's length, the header, then each tensor's bytes.
fn stream_weights(
    w: &mut impl Write,
    path: &Path,
    params: &[(String, Vec<usize>)],
    head: &[u8],
    seed: u64,
) -> Result<()> {
    let mut put = |b: &[u8]| w.write_all(b).map_err(io_err(path));
    put(&(head.len() as u64).to_le_bytes())?;
    put(head)?;
    let mut words: Vec<u64> = Vec::new();
    for (index, (name, shape)) in params.iter().enumerate() {
        let n: usize = shape.iter().product();
        let t = if name.ends_with("norm.weight") {
            Tensor::ones(n, DType::BF16, &Device::Cpu)?
        } else {
            // Uniform over 256 levels in [-a, a], a = 0.02 * sqrt(3): standard deviation 0.02 as in
            // HF's initialisation. The per-element work runs in candle's kernels (fast in debug
            // builds too).
            random_words(
                &mut words,
                n.div_ceil(8),
                seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            // SAFETY: u64 has no padding and every byte of it is initialised; the length is exact.
            let bytes =
                unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 8) };
            let a = 0.02 * 3f64.sqrt();
            let u = Tensor::from_slice(&bytes[..n], n, &Device::Cpu)?.to_dtype(DType::F32)?;
            u.affine(2.0 * a / 255.0, -a)?.to_dtype(DType::BF16)?
        };
        put(&safetensors::View::data(&t))?;
    }
    Ok(())
}

/// `n` words of SplitMix64 seeded with `seed` into `out`: a plain loop, fast in debug builds too
/// (the generic ChaCha code would be compiled at the test profile's opt-level 0 and take ten times
/// longer).
fn random_words(out: &mut Vec<u64>, n: usize, seed: u64) {
    out.clear();
    let mut z = seed;
    out.extend((0..n).map(|_| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }));
}
