//! Pretraining: an interrupted and resumed run follows exactly the loss curve of an uninterrupted
//! one, ends with identical weights, the loss goes down, and the output folder loads as a model.

use std::path::Path;

use scrl_model::pretrain::{PretrainCorpus, PretrainSettings, StepRecord, pretrain, read_loss_log};
use scrl_model::{DType, Decoder, Device, LoraMode, SamplingParams, Tokenizer, sample};

fn corpus(dir: &Path) -> PretrainCorpus {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("pkg")).unwrap();
    std::fs::create_dir_all(src.join("tests")).unwrap();
    for i in 0..12 {
        let body: String = (0..10)
            .map(|j| format!("def f_{i}_{j}(x):\n    return x * {j} + {i}\n\n"))
            .collect();
        std::fs::write(src.join("pkg").join(format!("m{i}.py")), body).unwrap();
    }
    std::fs::write(src.join("tests/skipped.py"), "this is skipped").unwrap();
    PretrainCorpus {
        source_dirs: vec![src],
        extra_texts: (0..30)
            .map(|i| format!("# Print {i} plus the input.\nn = int(input())\nprint(n + {i})\n"))
            .collect(),
    }
}

fn settings() -> PretrainSettings {
    PretrainSettings {
        vocab_size: 300,
        hidden_size: 32,
        intermediate_size: 64,
        num_layers: 2,
        num_heads: 4,
        num_kv_heads: 2,
        seq_len: 32,
        batch_size: 4,
        steps: 30,
        lr: 1e-2,
        warmup_steps: 3,
        weight_decay: 0.01,
        seed: 5,
        extra_fraction: 0.5,
    }
}

#[test]
fn resume_reproduces_the_uninterrupted_run_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let c = corpus(tmp.path());
    let s = settings();
    let full = tmp.path().join("full");
    let mut seen = Vec::new();
    let report = pretrain(&full, &s, &c, 7, None, &mut |r: &StepRecord| {
        seen.push(r.step)
    })
    .unwrap();
    assert_eq!(report.final_step, 30);
    assert_eq!(seen, (1..=30).collect::<Vec<_>>());
    let a = read_loss_log(&full).unwrap();
    assert!(
        a[29].loss < a[0].loss * 0.8,
        "loss did not go down: {} -> {}",
        a[0].loss,
        a[29].loss
    );

    let part = tmp.path().join("part");
    let r1 = pretrain(&part, &s, &c, 7, Some(10), &mut |_| {}).unwrap();
    assert_eq!(r1.final_step, 10);
    // Steps logged after the last checkpoint (as after a crash) are dropped on resume.
    let mut log = std::fs::read_to_string(part.join("loss_log.jsonl")).unwrap();
    log.push_str(
        r#"{"step":11,"loss":99.0,"lr":0.0,"grad_norm":0.0,"tokens_seen":0,"elapsed_s":0.0}"#,
    );
    log.push('\n');
    std::fs::write(part.join("loss_log.jsonl"), log).unwrap();
    let r2 = pretrain(&part, &s, &c, 7, None, &mut |_| {}).unwrap();
    assert_eq!(r2.resumed_from, Some(10));
    let b = read_loss_log(&part).unwrap();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (x.step, x.loss, x.grad_norm, x.tokens_seen),
            (y.step, y.loss, y.grad_norm, y.tokens_seen)
        );
    }
    let wa = candle_core::safetensors::load(full.join("model.safetensors"), &Device::Cpu).unwrap();
    let wb = candle_core::safetensors::load(part.join("model.safetensors"), &Device::Cpu).unwrap();
    for (k, t) in &wa {
        let d = (t - &wb[k])
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(d, 0.0, "{k} differs after resume");
    }

    // Other settings on the same folder: refused, not silently mixed.
    let err = pretrain(
        &part,
        &PretrainSettings { lr: 0.5, ..s },
        &c,
        7,
        None,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("other settings"), "{err}");

    // The folder is a model folder.
    let model = Decoder::load(&full, DType::F32, &Device::Cpu).unwrap();
    let tok = Tokenizer::load(&full).unwrap();
    assert_eq!(tok.eos_ids(), &[0]);
    let p = vec![tok.encode("n = int(input())\n", false).unwrap()];
    let out = sample(
        &model,
        &tok,
        &p,
        &SamplingParams {
            max_new_tokens: 8,
            temperature: 0.0,
            ..Default::default()
        },
        LoraMode::Off,
    )
    .unwrap();
    assert!(!out[0].token_ids.is_empty());
}
