//! Golden logits: our decoder against Hugging Face transformers on committed tiny random
//! checkpoints (generated once by tests/fixtures/golden/make_golden.py; versions are recorded in
//! golden.json). Also checks that the fused, KV-cached inference path agrees with the
//! differentiable training path.

use std::path::{Path, PathBuf};

use scrl_model::{DType, Decoder, Device, LoraMode, Tensor};

struct Golden {
    ids: Vec<Vec<u32>>,
    mask: Vec<Vec<u32>>,
    logits: Vec<Vec<Vec<f32>>>,
}

fn fixture(name: &str) -> (PathBuf, Golden) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(name);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap();
    let g = Golden {
        ids: serde_json::from_value(v["input_ids"].clone()).unwrap(),
        mask: serde_json::from_value(v["attention_mask"].clone()).unwrap(),
        logits: serde_json::from_value(v["logits"].clone()).unwrap(),
    };
    (dir, g)
}

fn max_diff_valid(ours: &[Vec<Vec<f32>>], g: &Golden) -> f32 {
    let mut m = 0.0f32;
    for (b, row) in ours.iter().enumerate() {
        for (t, logits) in row.iter().enumerate() {
            if g.mask[b][t] == 0 {
                continue;
            }
            for (x, y) in logits.iter().zip(&g.logits[b][t]) {
                m = m.max((x - y).abs());
            }
        }
    }
    m
}

fn check_against_transformers(name: &str) {
    let (dir, g) = fixture(name);
    let dev = Device::Cpu;
    let model = Decoder::load(&dir, DType::F32, &dev).unwrap();
    let ids = Tensor::new(g.ids.clone(), &dev).unwrap();
    let mask = Tensor::new(g.mask.clone(), &dev).unwrap();
    let out = model
        .forward_train(&ids, Some(&mask), LoraMode::Off)
        .unwrap();
    let ours: Vec<Vec<Vec<f32>>> = out.logits.to_vec3().unwrap();
    let d = max_diff_valid(&ours, &g);
    println!("{name}: max |ours - transformers| = {d:e}");
    assert!(d < 1e-4, "{name}: max abs logit difference {d}");

    // The fused inference path, fed one token at a time through the KV cache, gives the same
    // logits.
    let (b, t) = (g.ids.len(), g.ids[0].len());
    let mut cache = model.new_cache(b, t);
    let mut worst = 0.0f32;
    for i in 0..t {
        let step = Tensor::new(g.ids.iter().map(|r| vec![r[i]]).collect::<Vec<_>>(), &dev).unwrap();
        let valid: Vec<Vec<bool>> = g.mask.iter().map(|r| vec![r[i] != 0]).collect();
        let logits: Vec<Vec<f32>> = model
            .forward_cached(&step, &valid, &mut cache, LoraMode::Off)
            .unwrap()
            .to_vec2()
            .unwrap();
        for r in 0..b {
            if g.mask[r][i] == 0 {
                continue;
            }
            for (x, y) in logits[r].iter().zip(&ours[r][i]) {
                worst = worst.max((x - y).abs());
            }
        }
    }
    println!("{name}: max |cached fused - train| = {worst:e}");
    assert!(
        worst < 1e-4,
        "{name}: cached inference differs from training forward by {worst}"
    );

    // Prefill of the whole prompt in one call agrees at the last position too.
    let mut cache = model.new_cache(b, t);
    let valid: Vec<Vec<bool>> = g
        .mask
        .iter()
        .map(|r| r.iter().map(|&m| m != 0).collect())
        .collect();
    let last: Vec<Vec<f32>> = model
        .forward_cached(&ids, &valid, &mut cache, LoraMode::Off)
        .unwrap()
        .to_vec2()
        .unwrap();
    for (r, row) in last.iter().enumerate() {
        let d = row
            .iter()
            .zip(&g.logits[r][t - 1])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(d < 1e-4, "{name}: prefill row {r} differs by {d}");
    }
}

#[test]
fn llama_linear_rope_scaling_matches_transformers() {
    check_against_transformers("llama");
}

#[test]
fn qwen2_bias_tied_matches_transformers() {
    check_against_transformers("qwen2");
}

#[test]
fn half_precision_weights_stay_close_to_f32() {
    let (dir, g) = fixture("qwen2");
    let dev = Device::Cpu;
    for (dtype, tol) in [(DType::BF16, 0.05), (DType::F16, 0.01)] {
        let model = Decoder::load(&dir, dtype, &dev).unwrap();
        let ids = Tensor::new(g.ids.clone(), &dev).unwrap();
        let mask = Tensor::new(g.mask.clone(), &dev).unwrap();
        let ours: Vec<Vec<Vec<f32>>> = model
            .forward_train(&ids, Some(&mask), LoraMode::Off)
            .unwrap()
            .logits
            .to_vec3()
            .unwrap();
        let d = max_diff_valid(&ours, &g);
        println!("{dtype:?}: max diff {d:e}");
        assert!(d < tol, "{dtype:?} logits differ by {d}");
        // The fused path runs in half precision too.
        let mut cache = model.new_cache(2, 16);
        let valid: Vec<Vec<bool>> = g
            .mask
            .iter()
            .map(|r| r.iter().map(|&m| m != 0).collect())
            .collect();
        let last: Vec<Vec<f32>> = model
            .forward_cached(&ids, &valid, &mut cache, LoraMode::Off)
            .unwrap()
            .to_vec2()
            .unwrap();
        let d = last[0]
            .iter()
            .zip(&g.logits[0][15])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(d < tol, "{dtype:?} cached logits differ by {d}");
    }
}

#[test]
fn missing_weights_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = fixture("llama");
    std::fs::copy(dir.join("config.json"), tmp.path().join("config.json")).unwrap();
    let err = Decoder::load(tmp.path(), DType::F32, &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    let err = Decoder::load(&tmp.path().join("nope"), DType::F32, &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn sharded_checkpoint_loads_like_the_single_file() {
    let (dir, g) = fixture("qwen2");
    let dev = Device::Cpu;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("config.json"), tmp.path().join("config.json")).unwrap();
    let all = candle_core::safetensors::load(dir.join("model.safetensors"), &dev).unwrap();
    let mut names: Vec<&String> = all.keys().collect();
    names.sort();
    let (first, second) = names.split_at(names.len() / 2);
    let mut weight_map = serde_json::Map::new();
    for (file, part) in [
        ("model-00001-of-00002.safetensors", first),
        ("model-00002-of-00002.safetensors", second),
    ] {
        let shard: std::collections::HashMap<String, Tensor> = part
            .iter()
            .map(|n| ((*n).clone(), all[*n].clone()))
            .collect();
        candle_core::safetensors::save(&shard, tmp.path().join(file)).unwrap();
        for n in part {
            weight_map.insert((*n).clone(), file.into());
        }
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    std::fs::write(
        tmp.path().join("model.safetensors.index.json"),
        index.to_string(),
    )
    .unwrap();
    let model = Decoder::load(tmp.path(), DType::F32, &dev).unwrap();
    let ids = Tensor::new(g.ids.clone(), &dev).unwrap();
    let mask = Tensor::new(g.mask.clone(), &dev).unwrap();
    let ours: Vec<Vec<Vec<f32>>> = model
        .forward_train(&ids, Some(&mask), LoraMode::Off)
        .unwrap()
        .logits
        .to_vec3()
        .unwrap();
    assert!(max_diff_valid(&ours, &g) < 1e-4);

    // A shard listed in the index but absent is named in the error.
    std::fs::remove_file(tmp.path().join("model-00002-of-00002.safetensors")).unwrap();
    let err = Decoder::load(tmp.path(), DType::F32, &dev)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("model-00002-of-00002.safetensors"), "{err}");
    // A config that disagrees with the weights names the tensor.
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    cfg["intermediate_size"] = 100.into();
    let tmp2 = tempfile::tempdir().unwrap();
    std::fs::write(tmp2.path().join("config.json"), cfg.to_string()).unwrap();
    std::fs::copy(
        dir.join("model.safetensors"),
        tmp2.path().join("model.safetensors"),
    )
    .unwrap();
    let err = Decoder::load(tmp2.path(), DType::F32, &dev)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("mlp.gate_proj.weight") && err.contains("[100, 64]"),
        "{err}"
    );
}
