//! Batched sampling with a preallocated KV cache: temperature, top-k, top-p, stop strings and EOS.
//!
//! Each sampled token comes with its log-probability under the policy at temperature T with no
//! other processing, `log_softmax(logits / T)`, taken before top-k/top-p truncation, so PPO can use
//! it as the old log-prob of exactly that token id (not from processed logits) without
//! re-tokenising. Row `i` draws from its own ChaCha stream (seed, stream_offset + i): a fixed seed
//! gives the same output.

use candle_core::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{ModelError, Result};
use crate::model::{Decoder, LoraMode};
use crate::tokenizer::Tokenizer;

/// How to sample. `temperature == 0` is greedy; `top_k == 0` and `top_p >= 1` switch those filters
/// off.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    pub max_new_tokens: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub top_k: usize,
    /// Generation stops once the decoded completion contains one of these strings.
    pub stop: Vec<String>,
    pub seed: u64,
    /// Row `i` of a batch draws from ChaCha stream `stream_offset + i` of `seed`; callers splitting
    /// a prompt list into batches pass the index of the batch's first prompt, so outputs do not
    /// depend on the batch size.
    pub stream_offset: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            max_new_tokens: 256,
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            stop: Vec::new(),
            seed: 0,
            stream_offset: 0,
        }
    }
}

/// Why a sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Finish {
    Eos,
    Stop,
    Length,
}

/// One completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Every sampled id, including the EOS or the tokens that completed a stop string.
    pub token_ids: Vec<u32>,
    /// `log_softmax(logits / T)[token]` per sampled id (T = 1 for greedy), untouched by
    /// top-k/top-p.
    pub logprobs: Vec<f32>,
    pub finish: Finish,
    /// Decoded completion without special tokens, cut before the stop string when `finish == Stop`.
    pub text: String,
}

/// Samples one completion per prompt (token ids, unpadded, any lengths) in one batch.
pub fn sample(
    model: &Decoder,
    tok: &Tokenizer,
    prompts: &[Vec<u32>],
    params: &SamplingParams,
    mode: LoraMode,
) -> Result<Vec<Sample>> {
    if params.temperature < 0.0 || !params.temperature.is_finite() {
        return Err(ModelError::InvalidArgument(format!(
            "temperature must be >= 0, got {}",
            params.temperature
        )));
    }
    if params.top_p.is_nan() || params.top_p <= 0.0 {
        return Err(ModelError::InvalidArgument(format!(
            "top_p must be > 0, got {}",
            params.top_p
        )));
    }
    if prompts.iter().any(Vec::is_empty) {
        return Err(ModelError::InvalidArgument(
            "empty prompt: encode at least one token".into(),
        ));
    }
    let b = prompts.len();
    if b == 0 {
        return Ok(Vec::new());
    }
    let vocab = model.config().vocab_size as u32;
    if let Some(bad) = prompts.iter().flatten().find(|&&t| t >= vocab) {
        return Err(ModelError::InvalidArgument(format!(
            "prompt token {bad} is outside the model's vocabulary ({vocab})"
        )));
    }
    let dev = model.device().clone();
    let pad = tok.pad_id().min(vocab - 1);
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    // Left padding keeps every row's last prompt token in the same column, so one decode step
    // serves all.
    let mut ids = Vec::with_capacity(b * longest);
    let mut valid = Vec::with_capacity(b);
    for p in prompts {
        let n_pad = longest - p.len();
        ids.extend(std::iter::repeat_n(pad, n_pad).chain(p.iter().copied()));
        valid.push((0..longest).map(|i| i >= n_pad).collect::<Vec<bool>>());
    }
    let mut cache = model.new_cache(b, longest + params.max_new_tokens);
    let mut logits = model.forward_cached(
        &Tensor::from_vec(ids, (b, longest), &dev)?,
        &valid,
        &mut cache,
        mode,
    )?;
    let mut rngs: Vec<ChaCha8Rng> = (0..b)
        .map(|i| {
            let mut r = ChaCha8Rng::seed_from_u64(params.seed);
            r.set_stream(params.stream_offset + i as u64);
            r
        })
        .collect();
    let mut out: Vec<Sample> = (0..b)
        .map(|_| Sample {
            token_ids: Vec::new(),
            logprobs: Vec::new(),
            finish: Finish::Length,
            text: String::new(),
        })
        .collect();
    let mut done = vec![false; b];
    for step in 0..params.max_new_tokens {
        let rows: Vec<Vec<f32>> = logits.to_vec2()?;
        let mut next = vec![pad; b];
        for i in 0..b {
            if done[i] {
                continue;
            }
            let (tok_id, lp) = choose(&rows[i], params, &mut rngs[i]);
            next[i] = tok_id;
            let s = &mut out[i];
            s.token_ids.push(tok_id);
            s.logprobs.push(lp);
            if tok.eos_ids().contains(&tok_id) {
                s.finish = Finish::Eos;
                done[i] = true;
            } else if !params.stop.is_empty() {
                let text = tok.decode(&s.token_ids, true)?;
                if params.stop.iter().any(|st| text.contains(st.as_str())) {
                    s.finish = Finish::Stop;
                    done[i] = true;
                }
            }
        }
        if done.iter().all(|&d| d) || step + 1 == params.max_new_tokens {
            break;
        }
        // A finished row keeps feeding padding (masked out) so the batch keeps one shape.
        let step_valid: Vec<Vec<bool>> = done.iter().map(|&d| vec![!d]).collect();
        let step_ids = Tensor::from_vec(next, (b, 1), &dev)?;
        logits = model.forward_cached(&step_ids, &step_valid, &mut cache, mode)?;
    }
    for s in &mut out {
        let text = tok.decode(&s.token_ids, true)?;
        s.text = match s.finish {
            Finish::Stop => {
                let cut = params
                    .stop
                    .iter()
                    .filter_map(|st| text.find(st.as_str()))
                    .min()
                    .unwrap_or(text.len());
                text[..cut].to_string()
            }
            _ => text,
        };
    }
    Ok(out)
}

/// Picks the next token from one row of logits; returns it with `log_softmax(logits / T)` at it.
fn choose(logits: &[f32], p: &SamplingParams, rng: &mut ChaCha8Rng) -> (u32, f32) {
    let greedy = p.temperature == 0.0;
    let t = if greedy { 1.0 } else { p.temperature };
    let scaled: Vec<f64> = logits.iter().map(|&x| x as f64 / t).collect();
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_z = max + scaled.iter().map(|&x| (x - max).exp()).sum::<f64>().ln();
    let logprob = |i: usize| (scaled[i] - log_z) as f32;
    if greedy {
        // First index of the maximum, so ties break the same way every time.
        let best = scaled
            .iter()
            .enumerate()
            .fold(0, |best, (i, &x)| if x > scaled[best] { i } else { best });
        return (best as u32, logprob(best));
    }
    if p.top_k == 0 && p.top_p >= 1.0 {
        // No truncation: inverse CDF in id order, no sort needed.
        let total: f64 = scaled.iter().map(|&x| (x - max).exp()).sum();
        let mut u = rng.random::<f64>() * total;
        for (i, &x) in scaled.iter().enumerate() {
            let w = (x - max).exp();
            if u < w {
                return (i as u32, logprob(i));
            }
            u -= w;
        }
        let last = scaled.len() - 1;
        return (last as u32, logprob(last));
    }
    let order = truncated_candidates(&scaled, log_z, p.top_k, p.top_p);
    let kept = &order[..];
    let weights: Vec<f64> = kept.iter().map(|&i| (scaled[i] - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (&i, w) in kept.iter().zip(&weights) {
        if u < *w {
            return (i as u32, logprob(i));
        }
        u -= w;
    }
    let last = kept[kept.len() - 1];
    (last as u32, logprob(last))
}

/// The ids top-k/top-p keep, most probable first (ties by lower id). Exact, but avoids sorting a
/// 150k-entry vocabulary: select the best `m` candidates, sort those, and widen `m` only while the
/// top-p mass is not yet reached.
fn truncated_candidates(scaled: &[f64], log_z: f64, top_k: usize, top_p: f64) -> Vec<usize> {
    let n = scaled.len();
    let cap = if top_k > 0 { top_k.min(n) } else { n };
    let cmp = |a: &usize, b: &usize| scaled[*b].total_cmp(&scaled[*a]).then(a.cmp(b));
    let mut m = cap.min(64);
    loop {
        let mut idx: Vec<usize> = (0..n).collect();
        if m < n {
            idx.select_nth_unstable_by(m - 1, cmp);
            idx.truncate(m);
        }
        idx.sort_unstable_by(cmp);
        if top_p < 1.0 {
            let mut cum = 0.0;
            for (j, &i) in idx.iter().enumerate() {
                cum += (scaled[i] - log_z).exp();
                if cum >= top_p {
                    idx.truncate(j + 1);
                    return idx;
                }
            }
        }
        if m == cap {
            return idx;
        }
        m = (m * 4).min(cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The widening selection keeps exactly what sorting the whole vocabulary would keep.
    #[test]
    fn truncation_equals_full_sort() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for case in 0..40 {
            let n = [5usize, 300, 5000][case % 3];
            let sharp = [0.5, 3.0, 10.0][case % 3];
            let scaled: Vec<f64> = (0..n)
                .map(|i| {
                    if i % 17 == 0 {
                        1.0
                    } else {
                        rng.random::<f64>() * sharp
                    }
                })
                .collect();
            let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let log_z = max + scaled.iter().map(|&x| (x - max).exp()).sum::<f64>().ln();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| scaled[b].total_cmp(&scaled[a]).then(a.cmp(&b)));
            for (k, p) in [
                (0, 0.9),
                (0, 0.999),
                (10, 1.0),
                (100, 0.5),
                (3, 0.99),
                (n + 5, 0.95),
            ] {
                let cap = if k > 0 { k.min(n) } else { n };
                let mut want = order[..cap].to_vec();
                if p < 1.0 {
                    let mut cum = 0.0;
                    if let Some(j) = want.iter().position(|&i| {
                        cum += (scaled[i] - log_z).exp();
                        cum >= p
                    }) {
                        want.truncate(j + 1);
                    }
                }
                assert_eq!(
                    truncated_candidates(&scaled, log_z, k, p),
                    want,
                    "n {n} k {k} p {p}"
                );
            }
        }
    }
}
