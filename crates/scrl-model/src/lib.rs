//! The decoder (LLaMA and Qwen2 families) in candle, LoRA, checkpoints, tokenizers and sampling.
//!
//! API for the trainers (SFT, PPO with a value head, GRPO):
//! - `Decoder::load(dir, dtype, &device)` reads `config.json` + (sharded) safetensors once; the
//!   base weights are frozen tensors. `Decoder::attach_lora(LoraConfig, seed)` or
//!   `load_adapter(dir)` adds LoRA; `forward_train(&ids, Some(&mask), LoraMode::On | Off | Train {
//!   seed } | Reference)` is the policy (LoRA on) or the reference (LoRA off) over the same base
//!   tensors, differentiable, returning `ForwardOutput { logits, hidden }` (hidden = final normed
//!   states, for a value head).
//! - Backward computes no gradient for frozen tensors (`frozen`);
//!   `set_frozen_ops(FrozenOps::Candle)` selects candle's own ops, which do, for comparisons.
//! - `token_logprobs(&logits, &targets, temperature)` = `log_softmax(logits / T)` gathered at
//!   targets.
//! - `trainable_vars()` = the LoRA `Var`s by PEFT name (sorted), for `AdamW` (ours, whose state can
//!   be saved) and for saving; `save_adapter` / `load_adapter` use the PEFT layout; `save_merged`
//!   exports.
//! - `Tokenizer::load(dir)` = `tokenizer.json` with EOS/BOS/pad from the checkpoint's JSON files.
//! - `sample(&model, &tok, &prompts, &SamplingParams, LoraMode)` = batched sampling with a
//!   preallocated KV cache; per sequence `token_ids`, `logprobs` (log_softmax(logits / T) of the
//!   sampled token, before top-k/top-p), `finish` (Eos | Stop | Length) and `text`. Deterministic
//!   for a fixed seed on CPU.
//! - `pretrain` trains the tiny default model from scratch with exact resume.

pub mod config;
mod cpu_attention;
mod cpu_kernels;
pub mod device;
pub mod error;
pub mod frozen;
pub mod lora;
pub mod model;
pub mod optim;
pub mod pretrain;
pub mod sample;
pub mod shapes;
pub mod tokenizer;

pub use candle_core::{DType, Device, Tensor, Var};
pub use config::{Arch, ModelConfig, RopeScaling};
pub use device::{gpu_memory_used, parse_device};
pub use error::{ModelError, Result};
pub use frozen::FrozenOps;
pub use lora::LoraConfig;
pub use model::{Decoder, ForwardOutput, InferCache, Init, LoraMode, token_logprobs, weight_files};
pub use optim::{AdamW, AdamWParams};
pub use sample::{Finish, Sample, SamplingParams, sample};
pub use tokenizer::Tokenizer;
