//! Tokenizers from a checkpoint's `tokenizer.json`, with the checkpoint's EOS/BOS/pad ids, and
//! training of the byte-level BPE used by the tiny default model.
//!
//! EOS comes from `generation_config.json`, else `tokenizer_config.json`, else `config.json` (the
//! order in which transformers' `generate` would find it). Nothing here knows about models or
//! sampling.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::{AddedToken, DecoderWrapper, TokenizerBuilder};

use crate::config::token_ids;
use crate::error::{ModelError, Result, read_json};

/// End-of-text token of the tiny default model; also its EOS and document separator.
pub const ENDOFTEXT: &str = "<|endoftext|>";
/// Padding token of the tiny default model.
pub const PAD: &str = "<|pad|>";

/// A loaded tokenizer plus the special ids generation needs.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    eos_ids: Vec<u32>,
    bos_id: Option<u32>,
    pad_id: Option<u32>,
}

fn special_token_content(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("content").and_then(Value::as_str),
        _ => None,
    }
}

fn read_optional_json(path: &Path) -> Result<Option<Value>> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

impl Tokenizer {
    /// Loads `dir/tokenizer.json` and resolves EOS (required), BOS and pad from the checkpoint's
    /// files.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        if !path.exists() {
            return Err(ModelError::MissingFile {
                path,
                hint: "the model folder needs a Hugging Face tokenizer.json".into(),
            });
        }
        let inner = tokenizers::Tokenizer::from_file(&path).map_err(|e| ModelError::Tokenizer {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let gen_cfg = read_optional_json(&dir.join("generation_config.json"))?;
        let tok_cfg = read_optional_json(&dir.join("tokenizer_config.json"))?;
        let model_cfg = read_optional_json(&dir.join("config.json"))?;
        let by_name = |cfg: &Option<Value>, key: &str| -> Option<u32> {
            cfg.as_ref()
                .and_then(|c| c.get(key))
                .and_then(special_token_content)
                .and_then(|s| inner.token_to_id(s))
        };
        let by_id = |cfg: &Option<Value>, key: &str| -> Option<Vec<u32>> {
            cfg.as_ref()
                .and_then(|c| c.get(key))
                .and_then(token_ids)
                .filter(|v| !v.is_empty())
        };
        let eos_ids = by_id(&gen_cfg, "eos_token_id")
            .or_else(|| by_name(&tok_cfg, "eos_token").map(|x| vec![x]))
            .or_else(|| by_id(&model_cfg, "eos_token_id"))
            .ok_or_else(|| ModelError::Tokenizer {
                path: path.clone(),
                message: "no EOS token: none of generation_config.json `eos_token_id`, \
                    tokenizer_config.json `eos_token`, config.json `eos_token_id`"
                    .into(),
            })?;
        let vocab = inner.get_vocab_size(true) as u32;
        if let Some(bad) = eos_ids.iter().find(|&&x| x >= vocab) {
            return Err(ModelError::Tokenizer {
                path,
                message: format!("EOS id {bad} is outside the vocabulary ({vocab})"),
            });
        }
        let bos_id = by_id(&gen_cfg, "bos_token_id")
            .map(|v| v[0])
            .or_else(|| by_name(&tok_cfg, "bos_token"))
            .or_else(|| by_id(&model_cfg, "bos_token_id").map(|v| v[0]));
        let pad_id = by_name(&tok_cfg, "pad_token")
            .or_else(|| by_id(&gen_cfg, "pad_token_id").map(|v| v[0]))
            .or_else(|| by_id(&model_cfg, "pad_token_id").map(|v| v[0]));
        Ok(Self {
            inner,
            path,
            eos_ids,
            bos_id,
            pad_id,
        })
    }

    /// Token ids of `text`; `add_special_tokens` applies the checkpoint's template (e.g. a BOS).
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc =
            self.inner
                .encode(text, add_special_tokens)
                .map_err(|e| ModelError::Tokenizer {
                    path: self.path.clone(),
                    message: format!("encode: {e}"),
                })?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids`; special tokens are dropped when `skip_special_tokens`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| ModelError::Tokenizer {
                path: self.path.clone(),
                message: format!("decode: {e}"),
            })
    }

    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// The padding id; falls back to the first EOS id (padding is always masked out, so any id
    /// works).
    pub fn pad_id(&self) -> u32 {
        self.pad_id.unwrap_or(self.eos_ids[0])
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}

/// Trains a byte-level BPE (GPT-2 style: every byte is a base symbol, so any text round-trips) with
/// `<|endoftext|>` (id 0) and `<|pad|>` (id 1) as special tokens, and writes it to `out`.
pub fn train_byte_level_bpe(texts: &[String], vocab_size: usize, out: &Path) -> Result<()> {
    let err = |message: String| ModelError::Tokenizer {
        path: out.to_path_buf(),
        message,
    };
    let mut trainer = BpeTrainerBuilder::new()
        .show_progress(false)
        .vocab_size(vocab_size)
        .min_frequency(2)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .special_tokens(vec![
            AddedToken::from(ENDOFTEXT, true),
            AddedToken::from(PAD, true),
        ])
        .build();
    let mut tk = TokenizerBuilder::<
        BPE,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    >::new()
    .with_model(BPE::default())
    .with_normalizer(None)
    .with_pre_tokenizer(Some(ByteLevel::new(false, true, true).into()))
    .with_post_processor(Some(ByteLevel::new(false, true, true).into()))
    .with_decoder(Some(ByteLevel::default().into()))
    .build()
    .map_err(|e| err(format!("build: {e}")))?;
    tk.train(&mut trainer, texts.iter())
        .map_err(|e| err(format!("train: {e}")))?;
    let tk: tokenizers::Tokenizer = tk.into();
    let text = tk.to_string(false).map_err(|e| err(format!("save: {e}")))?;
    crate::error::write_atomic(out, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_tokenizer(dir: &Path) {
        let texts: Vec<String> = (0..50)
            .map(|i| format!("def f{i}(x):\n    return x + {i}\n\nprint(f{i}(3))\n"))
            .collect();
        train_byte_level_bpe(&texts, 300, &dir.join("tokenizer.json")).unwrap();
    }

    #[test]
    fn byte_level_round_trip_and_eos_resolution() {
        let tmp = tempfile::tempdir().unwrap();
        tiny_tokenizer(tmp.path());
        // No EOS anywhere: a clear error.
        let err = Tokenizer::load(tmp.path()).err().unwrap().to_string();
        assert!(err.contains("no EOS token"), "{err}");
        std::fs::write(
            tmp.path().join("tokenizer_config.json"),
            r#"{"eos_token": {"content": "<|endoftext|>"}, "pad_token": "<|pad|>"}"#,
        )
        .unwrap();
        let tok = Tokenizer::load(tmp.path()).unwrap();
        assert_eq!(tok.eos_ids(), &[0]);
        assert_eq!(tok.pad_id(), 1);
        // generation_config.json wins over tokenizer_config.json, as in transformers.
        std::fs::write(
            tmp.path().join("generation_config.json"),
            r#"{"eos_token_id": [1, 0]}"#,
        )
        .unwrap();
        assert_eq!(Tokenizer::load(tmp.path()).unwrap().eos_ids(), &[1, 0]);
        for text in [
            "def f(x):\n\treturn x ** 2  # ünïcödé → ✓\n",
            "",
            "   \n\n",
            "<|endoftext|>print(1)",
        ] {
            let ids = tok.encode(text, false).unwrap();
            assert_eq!(tok.decode(&ids, false).unwrap(), text);
        }
        let ids = tok.encode("print(1)<|endoftext|>", false).unwrap();
        assert_eq!(*ids.last().unwrap(), 0, "the special token is one id");
        assert_eq!(tok.decode(&ids, true).unwrap(), "print(1)");
    }

    #[test]
    fn missing_tokenizer_json() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Tokenizer::load(tmp.path()).err().unwrap();
        assert!(matches!(err, ModelError::MissingFile { .. }), "{err}");
    }
}
