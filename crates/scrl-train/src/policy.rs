//! The policy a trainer works on: a base checkpoint loaded once, a LoRA adapter on it, the
//! tokenizer, and how problems become prompt token ids (the completion prompt for base models, the
//! checkpoint's own chat template for instruct models). The same token ids are sampled and trained
//! on: nothing is re-tokenised.

use std::path::{Path, PathBuf};

use scrl_data::{ChatTemplate, Problem};
use scrl_model::{DType, Decoder, Device, LoraConfig, Tokenizer};
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// How a problem is turned into a prompt.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum PromptStyle {
    /// Chat when the checkpoint's tokenizer_config.json has a chat template, completion otherwise.
    #[default]
    Auto,
    /// A commented problem statement; the completion is the whole program.
    Completion,
    /// The checkpoint's chat template with the problem as the user turn.
    Chat,
}

/// The LoRA settings as they appear in configs (PEFT's names): the `lora` table of `[sft]` and
/// `[ppo]`, and the `--lora-*` flags.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct LoraSettings {
    /// LoRA rank of a new adapter.
    #[arg(long = "lora-r", id = "lora_r", value_name = "R")]
    pub r: usize,
    /// LoRA alpha (the update is scaled by alpha / r).
    #[arg(long = "lora-alpha", id = "lora_alpha", value_name = "ALPHA")]
    pub alpha: f64,
    /// Dropout on the LoRA input during training.
    #[arg(long = "lora-dropout", id = "lora_dropout", value_name = "P")]
    pub dropout: f32,
    /// The modules that get an adapter, comma-separated (e.g. q_proj,k_proj,v_proj,o_proj).
    #[arg(long, value_delimiter = ',')]
    pub target_modules: Vec<String>,
}

impl Default for LoraSettings {
    /// The paper's SFT adapter: r 16, alpha 32, on q/k/v/o.
    fn default() -> Self {
        LoraSettings {
            r: 16,
            alpha: 32.0,
            dropout: 0.05,
            target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl LoraSettings {
    pub fn to_model(&self) -> LoraConfig {
        LoraConfig {
            r: self.r,
            alpha: self.alpha,
            dropout: self.dropout,
            target_modules: self.target_modules.clone(),
        }
    }
}

/// Picks the compute device by name: `cpu`, `cuda` or `cuda:N` (see `scrl_model::parse_device`,
/// whose errors say what is missing when the GPU cannot be used).
pub fn device(name: &str) -> Result<Device, TrainError> {
    Ok(scrl_model::parse_device(name)?)
}

/// Parses a weight dtype name.
pub fn dtype(name: &str) -> Result<DType, TrainError> {
    match name {
        "f32" => Ok(DType::F32),
        "bf16" => Ok(DType::BF16),
        "f16" => Ok(DType::F16),
        other => Err(TrainError::Config(format!(
            "unknown dtype `{other}` (use f32, bf16 or f16)"
        ))),
    }
}

pub struct Policy {
    pub decoder: Decoder,
    pub tokenizer: Tokenizer,
    pub model_dir: PathBuf,
    chat: Option<ChatTemplate>,
}

impl Policy {
    /// Loads the base checkpoint and its tokenizer (no adapter yet).
    pub fn load(
        model_dir: &Path,
        style: PromptStyle,
        dtype: DType,
        device: &Device,
    ) -> Result<Policy, TrainError> {
        let decoder = Decoder::load(model_dir, dtype, device)?;
        let tokenizer = Tokenizer::load(model_dir)?;
        let tc = model_dir.join("tokenizer_config.json");
        let chat = match style {
            PromptStyle::Completion => None,
            PromptStyle::Chat => Some(ChatTemplate::from_tokenizer_config(&tc)?),
            PromptStyle::Auto => tc
                .exists()
                .then(|| ChatTemplate::from_tokenizer_config(&tc).ok())
                .flatten(),
        };
        Ok(Policy {
            decoder,
            tokenizer,
            model_dir: model_dir.to_path_buf(),
            chat,
        })
    }

    pub fn is_chat(&self) -> bool {
        self.chat.is_some()
    }

    /// The prompt's token ids. A chat template writes its own special tokens, so none are added
    /// then.
    pub fn prompt_ids(&self, problem: &Problem) -> Result<Vec<u32>, TrainError> {
        match &self.chat {
            Some(t) => Ok(self.tokenizer.encode(&t.prompt(problem, None)?, false)?),
            None => Ok(self
                .tokenizer
                .encode(&scrl_data::completion_prompt(problem), true)?),
        }
    }

    /// The SFT target for a reference solution: the program itself after a completion prompt, a
    /// fenced block after a chat prompt (what the chat prompt asks for), then EOS.
    pub fn target_ids(&self, reference: &str) -> Result<Vec<u32>, TrainError> {
        let body = reference.trim_end();
        let text = if self.chat.is_some() {
            format!("```python\n{body}\n```")
        } else {
            format!("{body}\n")
        };
        let mut ids = self.tokenizer.encode(&text, false)?;
        ids.push(self.tokenizer.eos_ids()[0]);
        Ok(ids)
    }

    /// The code in a completion: fenced blocks and trailing prose removed, valid code untouched.
    pub fn extract(&self, completion: &str) -> String {
        scrl_data::extract_code(completion)
    }
}
