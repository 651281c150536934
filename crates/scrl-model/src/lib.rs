//! The decoder (LLaMA and Qwen2 families) in candle, LoRA, checkpoints, tokenizers and sampling.
