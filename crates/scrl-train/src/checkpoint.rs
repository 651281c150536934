//! Checkpoints: a folder holding the LoRA adapter (PEFT layout), the value head, the optimizer
//! state and `state.json` (step, data cursor, seed, KL-controller state, fingerprints). Written
//! whole into a temporary sibling folder, synced, then renamed into place, so a crash never leaves
//! half a checkpoint.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use scrl_model::{AdamW, AdamWParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TrainError;

/// Writes `bytes` to `path` with `scrl_fs::write_atomic`: a temp file beside `path`, fsync,
/// rename over `path`, fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    scrl_fs::write_atomic(path, bytes).map_err(|error| TrainError::Io {
        path: path.to_path_buf(),
        error,
    })
}

pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).expect("state serialises");
    write_atomic(path, text.as_bytes())
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        error: e,
    })?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Builds a checkpoint folder at `dir` atomically with `scrl_fs::write_dir`: `fill` writes into a
/// fresh temporary folder, which then replaces `dir`.
pub fn write_dir(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    scrl_fs::write_dir(dir, fill, |path, error| TrainError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// A scalar value head on the policy's final hidden states (TRL's `v_head.summary` names).
pub struct ValueHead {
    pub weight: Var,
    pub bias: Var,
}

const V_WEIGHT: &str = "v_head.summary.weight";
const V_BIAS: &str = "v_head.summary.bias";

impl ValueHead {
    /// Zero weights and a zero bias (PPO then sets the bias to the first batch's mean return): the
    /// head starts as a constant baseline and learns only what the hidden states add to it. Random
    /// weights of the usual 1/sqrt(hidden) scale put per-token noise as large as the returns' own
    /// spread on every token's advantage (the final-norm hidden states are large): the head's
    /// explained variance was -0.2 to -1.2 at the default value learning rate and still -0.3 to
    /// -0.9 at 1e-5, where it hardly learns (docs/training.md).
    pub fn new(hidden: usize, device: &Device) -> Result<ValueHead, TrainError> {
        Ok(ValueHead {
            weight: Var::zeros((1, hidden), DType::F32, device)?,
            bias: Var::zeros(1, DType::F32, device)?,
        })
    }

    /// (batch, seq, hidden) -> (batch, seq).
    pub fn forward(&self, hidden: &Tensor) -> Result<Tensor, TrainError> {
        let h = hidden.to_dtype(DType::F32)?;
        Ok(h.broadcast_matmul(&self.weight.as_tensor().t()?)?
            .squeeze(2)?
            .broadcast_add(self.bias.as_tensor())?)
    }

    /// AdamW over the head, its weight at `1 / hidden` of the value learning rate. Adam moves each
    /// of the `hidden` weights by about the learning rate per step, all in the direction of the
    /// batch's hidden states, so at the full rate one step can move a value by `lr * sum |h|`: on
    /// the default model 192 final-norm inputs of mean size about 1.1 (its final norm's weights are
    /// 1.4), so about 1 at the default value lr of 5e-3, several times the returns' spread. At
    /// `lr / hidden` a step moves values by about `lr * mean |h|` on any width (the µP rule for a
    /// readout layer); the bias keeps the full rate.
    pub fn optimizer(&self, params: AdamWParams) -> Result<AdamW, TrainError> {
        let hidden = self.weight.dims()[1];
        Ok(AdamW::new(self.vars(), params)?.with_lr_scale(V_WEIGHT, 1.0 / hidden as f64)?)
    }

    pub fn vars(&self) -> Vec<(String, Var)> {
        vec![
            (V_WEIGHT.into(), self.weight.clone()),
            (V_BIAS.into(), self.bias.clone()),
        ]
    }

    /// Saves into a checkpoint folder being built by [`write_dir`] (which makes it atomic).
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let map: HashMap<String, Tensor> = self
            .vars()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().clone()))
            .collect();
        Ok(candle_core::safetensors::save(&map, path)?)
    }

    pub fn load(&self, path: &Path) -> Result<(), TrainError> {
        let bad = |message: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message,
        };
        let map = candle_core::safetensors::load(path, self.weight.device())
            .map_err(|e| bad(e.to_string()))?;
        for (name, var) in self.vars() {
            let t = map
                .get(&name)
                .ok_or_else(|| bad(format!("missing tensor `{name}`")))?;
            if t.dims() != var.dims() {
                return Err(bad(format!(
                    "`{name}` has shape {:?}, this model's value head needs {:?} (a checkpoint of \
                     another base?)",
                    t.dims(),
                    var.dims()
                )));
            }
            var.set(t)?;
        }
        Ok(())
    }
}
