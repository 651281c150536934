//! The real model shapes (shapes/*/config.json) in CI: their parameter counts match the published
//! models, and a one-layer version of each (real widths, heads, vocabulary, RoPE, biases, tying)
//! written as a bf16 Hugging Face folder loads and runs forward in bf16, f16 and f32.

use scrl_model::shapes::{SHAPES, shape, write_random_checkpoint};
use scrl_model::{DType, Decoder, Device, LoraMode, Tensor, Tokenizer};

#[test]
fn published_parameter_counts() {
    // (shape, published parameter count, tolerance): the configs' sizes reproduce the model cards.
    for (name, params) in [
        ("deepseek-coder-1.3b-instruct", 1.346e9),
        ("qwen2.5-coder-0.5b-instruct", 0.494e9),
        ("qwen2.5-coder-1.5b-instruct", 1.544e9),
    ] {
        let n = shape(name).unwrap().config(None).unwrap().num_params() as f64;
        assert!((n / params - 1.0).abs() < 0.005, "{name}: {n} vs {params}");
    }
    assert!(
        shape("llama-7b")
            .unwrap_err()
            .to_string()
            .contains("known:")
    );
}

fn texts() -> Vec<String> {
    (0..30)
        .map(|i| {
            format!(
                "def solve{i}(n):\n    return sum(range(n)) * \
                 {i}\n\nprint(solve{i}(int(input())))\n"
            )
        })
        .collect()
}

#[test]
fn one_layer_versions_load_and_run_in_every_dtype() {
    let dev = Device::Cpu;
    for s in SHAPES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert!(write_random_checkpoint(dir, s, Some(1), 7, &texts()).unwrap());
        assert!(
            !write_random_checkpoint(dir, s, Some(1), 7, &texts()).unwrap(),
            "{}: an identical folder is reused",
            s.name
        );
        let cfg = s.config(Some(1)).unwrap();
        let tok = Tokenizer::load(dir).unwrap();
        assert_eq!(tok.vocab_size(), cfg.vocab_size, "{}", s.name);
        assert_eq!(tok.eos_ids()[0], cfg.eos_token_ids[0], "{}", s.name);
        let ids = tok.encode("def f(x):\n    return x + 1\n", false).unwrap();
        assert!(
            ids.len() < 20,
            "{}: the tokenizer merges ({} ids)",
            s.name,
            ids.len()
        );
        assert_eq!(
            tok.decode(&ids, false).unwrap(),
            "def f(x):\n    return x + 1\n"
        );

        // Two rows, the second left-padded by two: ids spread over the whole vocabulary.
        let (b, t) = (2, 6);
        let v = cfg.vocab_size as u32;
        let data: Vec<u32> = (0..(b * t) as u32).map(|i| (i * 7919 + 13) % v).collect();
        let x = Tensor::from_vec(data, (b, t), &dev).unwrap();
        let mask =
            Tensor::from_vec(vec![1u32, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1], (b, t), &dev).unwrap();
        let mut reference: Option<Vec<f32>> = None;
        for dtype in [DType::F32, DType::BF16, DType::F16] {
            let model = Decoder::load(dir, dtype, &dev).unwrap();
            assert_eq!(model.config(), &cfg);
            let out = model.forward_train(&x, Some(&mask), LoraMode::Off).unwrap();
            assert_eq!(out.logits.dims(), [b, t, cfg.vocab_size]);
            let last: Vec<f32> = out
                .logits
                .narrow(1, t - 1, 1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            assert!(
                last.iter().all(|x| x.is_finite()),
                "{} {dtype:?}: non-finite logits",
                s.name
            );
            match &reference {
                None => {
                    // The cached (fused-kernel) forward agrees with the training forward at f32.
                    let valid = vec![vec![true; t], vec![false, false, true, true, true, true]];
                    let mut cache = model.new_cache(b, t);
                    let cached = model
                        .forward_cached(&x, &valid, &mut cache, LoraMode::Off)
                        .unwrap();
                    let cached: Vec<f32> = cached.flatten_all().unwrap().to_vec1().unwrap();
                    let d = last
                        .iter()
                        .zip(&cached)
                        .map(|(a, c)| (a - c).abs())
                        .fold(0f32, f32::max);
                    assert!(
                        d < 1e-3,
                        "{}: cached vs training forward differ by {d}",
                        s.name
                    );
                    reference = Some(last);
                }
                Some(r) => {
                    let scale = r.iter().map(|x| x.abs()).fold(0f32, f32::max);
                    let d = last
                        .iter()
                        .zip(r)
                        .map(|(a, c)| (a - c).abs())
                        .fold(0f32, f32::max);
                    assert!(
                        d <= 0.05 * scale + 1e-3,
                        "{} {dtype:?}: {d} from f32 (scale {scale})",
                        s.name
                    );
                }
            }
        }
    }
}
