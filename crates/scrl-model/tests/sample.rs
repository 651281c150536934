//! Sampling: determinism for a fixed seed, log-probs equal to the training forward's
//! `log_softmax(logits / T)` (before top-k/top-p), greedy = argmax, batching with left padding
//! changes nothing, EOS and stop strings end sequences.

use scrl_model::model::Init;
use scrl_model::tokenizer::train_byte_level_bpe;
use scrl_model::{
    Decoder, Device, Finish, LoraMode, ModelConfig, SamplingParams, Tensor, Tokenizer, sample,
    token_logprobs,
};

fn setup(eos: Option<u32>) -> (tempfile::TempDir, Decoder, Tokenizer) {
    let tmp = tempfile::tempdir().unwrap();
    let texts: Vec<String> = (0..40)
        .map(|i| format!("def add{i}(a, b):\n    return a + b * {i}\n"))
        .collect();
    train_byte_level_bpe(&texts, 320, &tmp.path().join("tokenizer.json")).unwrap();
    std::fs::write(
        tmp.path().join("tokenizer_config.json"),
        r#"{"eos_token": "<|endoftext|>", "pad_token": "<|pad|>"}"#,
    )
    .unwrap();
    if let Some(e) = eos {
        std::fs::write(
            tmp.path().join("generation_config.json"),
            format!(r#"{{"eos_token_id": {e}}}"#),
        )
        .unwrap();
    }
    let tok = Tokenizer::load(tmp.path()).unwrap();
    let cfg = ModelConfig::from_value(
        std::path::Path::new("test"),
        serde_json::json!({
            "model_type": "qwen2", "hidden_size": 32, "intermediate_size": 64,
            "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2,
            "vocab_size": tok.vocab_size(), "tie_word_embeddings": true,
        }),
    )
    .unwrap();
    // Larger-than-default weights so the random model has peaked, seed-sensitive distributions.
    let model = Decoder::new_trainable(cfg, Init::Random { seed: 11 }, &Device::Cpu).unwrap();
    for (_, v) in model.trainable_vars() {
        v.set(&(v.as_tensor() * 20.0).unwrap()).unwrap();
    }
    (tmp, model, tok)
}

fn prompts(tok: &Tokenizer) -> Vec<Vec<u32>> {
    ["def add", "x = 1\nprint(", "return a"]
        .iter()
        .map(|p| tok.encode(p, false).unwrap())
        .collect()
}

#[test]
fn same_seed_same_output_and_logprobs_match_training_forward() {
    let (_tmp, model, tok) = setup(None);
    let ps = prompts(&tok);
    let truncated = SamplingParams {
        max_new_tokens: 12,
        temperature: 0.7,
        top_p: 0.9,
        top_k: 20,
        stop: vec![],
        seed: 42,
        stream_offset: 0,
    };
    let plain = SamplingParams {
        max_new_tokens: 12,
        temperature: 1.3,
        seed: 42,
        ..Default::default()
    };
    for params in [truncated, plain] {
        let a = sample(&model, &tok, &ps, &params, LoraMode::On).unwrap();
        let b = sample(&model, &tok, &ps, &params, LoraMode::On).unwrap();
        assert_eq!(a, b);
        let c = sample(
            &model,
            &tok,
            &ps,
            &SamplingParams {
                seed: 43,
                ..params.clone()
            },
            LoraMode::On,
        )
        .unwrap();
        assert_ne!(
            a.iter().map(|s| &s.token_ids).collect::<Vec<_>>(),
            c.iter().map(|s| &s.token_ids).collect::<Vec<_>>()
        );
        for (p, s) in ps.iter().zip(&a) {
            assert_eq!(s.token_ids.len(), s.logprobs.len());
            let full: Vec<u32> = p.iter().chain(&s.token_ids).copied().collect();
            let n = full.len();
            let ids = Tensor::new(&full[..n - 1], &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let tgt = Tensor::new(&full[1..], &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            let logits = model
                .forward_train(&ids, None, LoraMode::On)
                .unwrap()
                .logits;
            let lp: Vec<f32> = token_logprobs(&logits, &tgt, params.temperature)
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec1()
                .unwrap();
            let want = &lp[p.len() - 1..];
            for (x, y) in s.logprobs.iter().zip(want) {
                assert!(
                    (x - y).abs() < 1e-4,
                    "sampled logprob {x} vs training forward {y}"
                );
            }
        }
    }
}

#[test]
fn greedy_is_argmax_and_batching_changes_nothing() {
    let (_tmp, model, tok) = setup(None);
    let ps = prompts(&tok);
    let params = SamplingParams {
        max_new_tokens: 10,
        temperature: 0.0,
        ..Default::default()
    };
    let batched = sample(&model, &tok, &ps, &params, LoraMode::On).unwrap();
    for (p, s) in ps.iter().zip(&batched) {
        let alone = sample(&model, &tok, std::slice::from_ref(p), &params, LoraMode::On).unwrap();
        assert_eq!(
            alone[0].token_ids, s.token_ids,
            "left padding changed a greedy completion"
        );
        let full: Vec<u32> = p.iter().chain(&s.token_ids).copied().collect();
        let ids = Tensor::new(&full[..full.len() - 1], &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let logits: Vec<Vec<f32>> = model
            .forward_train(&ids, None, LoraMode::On)
            .unwrap()
            .logits
            .squeeze(0)
            .unwrap()
            .to_vec2()
            .unwrap();
        for (k, &t) in s.token_ids.iter().enumerate() {
            let row = &logits[p.len() - 1 + k];
            let best = row
                .iter()
                .enumerate()
                .fold(0, |b, (i, &x)| if x > row[b] { i } else { b });
            assert_eq!(t as usize, best);
        }
        assert_eq!(s.finish, Finish::Length);
        assert_eq!(s.token_ids.len(), 10);
    }
}

#[test]
fn eos_and_stop_strings_end_a_sequence() {
    let (_tmp, model, tok) = setup(None);
    let p = vec![tok.encode("def add", false).unwrap()];
    let greedy = SamplingParams {
        max_new_tokens: 8,
        temperature: 0.0,
        ..Default::default()
    };
    let first = sample(&model, &tok, &p, &greedy, LoraMode::On)
        .unwrap()
        .remove(0);
    // Make the second greedy token the EOS: the sequence ends there and EOS is kept in the ids.
    let (_tmp2, model2, tok2) = setup(Some(first.token_ids[1]));
    let s = sample(&model2, &tok2, &p, &greedy, LoraMode::On)
        .unwrap()
        .remove(0);
    assert_eq!(s.finish, Finish::Eos);
    assert_eq!(s.token_ids, first.token_ids[..2]);
    // A stop string taken from the middle of the greedy text: text is cut before it.
    let text = first.text.clone();
    let chars: Vec<char> = text.chars().collect();
    assert!(chars.len() >= 4, "greedy text too short: {text:?}");
    let stop: String = chars[2..4].iter().collect();
    let s = sample(
        &model,
        &tok,
        &p,
        &SamplingParams {
            stop: vec![stop.clone()],
            ..greedy
        },
        LoraMode::On,
    )
    .unwrap()
    .remove(0);
    assert_eq!(s.finish, Finish::Stop);
    assert!(
        !s.text.contains(&stop) && text.starts_with(&s.text),
        "{:?} / {stop:?} / {text:?}",
        s.text
    );
    assert!(s.token_ids.len() < first.token_ids.len() || first.finish != Finish::Length);
}
