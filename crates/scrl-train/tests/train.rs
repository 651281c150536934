//! The trainers on a tiny model built here from scratch (a tokenizer and a 2-layer decoder
//! pretrained for a few seconds on the built-in task suite), with the real sandboxed reward.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use scrl_model::pretrain::{PretrainCorpus, PretrainSettings, pretrain};
use scrl_pycheck::Scanner;
use scrl_reward::{RewardConfig, RewardModel};
use scrl_sandbox::{Sandbox, SandboxConfig};
use scrl_train::{LoraSettings, PpoConfig, PromptStyle, SftConfig, run_ppo, run_sft};

struct Fixture {
    _dir: tempfile::TempDir,
    model: PathBuf,
    data: PathBuf,
}

/// One tiny model and one problems file per test binary.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let problems = scrl_data::builtin::suite(7, 3);
        let data = dir.path().join("problems.jsonl");
        scrl_data::write_problems(&data, &problems).unwrap();
        let texts = problems
            .iter()
            .map(|p| {
                format!(
                    "{}{}",
                    scrl_data::completion_prompt(p),
                    p.reference_solution.clone().unwrap_or_default()
                )
            })
            .collect();
        let settings = PretrainSettings {
            vocab_size: 400,
            hidden_size: 48,
            intermediate_size: 96,
            num_layers: 2,
            num_heads: 4,
            num_kv_heads: 2,
            seq_len: 128,
            batch_size: 8,
            steps: 40,
            lr: 3e-3,
            warmup_steps: 5,
            weight_decay: 0.0,
            seed: 1,
            extra_fraction: 0.7,
        };
        let model = dir.path().join("tiny");
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        for (i, p) in problems.iter().enumerate() {
            std::fs::write(
                src.join(format!("ref_{i}.py")),
                p.reference_solution.clone().unwrap_or_default(),
            )
            .unwrap();
        }
        let corpus = PretrainCorpus {
            source_dirs: vec![src],
            extra_texts: texts,
        };
        pretrain(&model, &settings, &corpus, 40, None, &mut |_| {}).unwrap();
        Fixture {
            _dir: dir,
            model,
            data,
        }
    })
}

fn reward() -> &'static RewardModel {
    static R: OnceLock<RewardModel> = OnceLock::new();
    R.get_or_init(|| {
        let sandbox = Arc::new(Sandbox::new(SandboxConfig::default()).unwrap());
        RewardModel::new(
            RewardConfig {
                cpu_time_ms: 1000,
                ..RewardConfig::default()
            },
            sandbox,
            Scanner::Native,
        )
        .unwrap()
    })
}

fn lora() -> LoraSettings {
    LoraSettings {
        r: 4,
        alpha: 8.0,
        dropout: 0.0,
        ..LoraSettings::default()
    }
}

fn sft_config(out: &Path) -> SftConfig {
    let f = fixture();
    SftConfig {
        model: f.model.clone(),
        data: f.data.clone(),
        out: out.to_path_buf(),
        epochs: 2,
        batch_size: 8,
        lr: 5e-3,
        max_seq_len: 384,
        val_fraction: 0.15,
        lora: lora(),
        prompt_style: PromptStyle::Completion,
        ..SftConfig::default()
    }
}

fn ppo_config(out: &Path, adapter: Option<PathBuf>) -> PpoConfig {
    let f = fixture();
    PpoConfig {
        model: f.model.clone(),
        adapter,
        data: f.data.clone(),
        out: out.to_path_buf(),
        episodes: 4,
        batch_size: 4,
        lr: 1e-3,
        ppo_epochs: 2,
        max_new_tokens: 24,
        max_prompt_tokens: 512,
        val_prompts: 4,
        val_every: 2,
        save_every: 2,
        lora: lora(),
        prompt_style: PromptStyle::Completion,
        ..PpoConfig::default()
    }
}

fn metrics(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The metrics that must match exactly between runs (timings and throughput are left out).
fn deterministic(rows: &[serde_json::Value]) -> Vec<serde_json::Value> {
    rows.iter()
        .map(|r| {
            let mut r = r.clone();
            let o = r.as_object_mut().unwrap();
            o.retain(|k, _| !k.starts_with("seconds") && !k.ends_with("per_s"));
            r
        })
        .collect()
}

#[test]
fn sft_lowers_the_validation_loss_and_writes_a_peft_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let s = run_sft(&sft_config(dir.path()), false, &|_| {}).unwrap();
    assert!(
        s.final_val_loss < s.first_val_loss,
        "{} -> {}",
        s.first_val_loss,
        s.final_val_loss
    );
    for f in [
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
        "best/adapter_model.safetensors",
        "checkpoint/state.json",
        "config.toml",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let rows = metrics(&dir.path().join("metrics.jsonl"));
    assert_eq!(rows.len() as u64, s.steps);
}

#[test]
fn kl_is_zero_at_step_zero_and_old_logprobs_match_the_sampler() {
    let dir = tempfile::tempdir().unwrap();
    let sft = run_sft(
        &SftConfig {
            epochs: 1,
            ..sft_config(&dir.path().join("sft"))
        },
        false,
        &|_| {},
    )
    .unwrap();
    let cfg = PpoConfig {
        episodes: 1,
        ..ppo_config(&dir.path().join("ppo"), Some(sft.adapter))
    };
    run_ppo(&cfg, reward(), false, &|_, _| {}).unwrap();
    let row = &metrics(&dir.path().join("ppo/metrics.jsonl"))[0];
    assert_eq!(
        row["kl_mean"].as_f64().unwrap(),
        0.0,
        "the policy starts equal to its SFT reference"
    );
    assert!(row["logprob_mismatch"].as_f64().unwrap() < 1e-4, "{row}");
    assert_eq!(row["clip_fraction"].as_f64().unwrap(), 0.0);
}

#[test]
fn an_interrupted_and_resumed_run_repeats_the_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let whole = ppo_config(&dir.path().join("whole"), None);
    run_ppo(&whole, reward(), false, &|_, _| {}).unwrap();
    let parts = ppo_config(&dir.path().join("parts"), None);
    let first = run_ppo(
        &PpoConfig {
            stop_at: Some(2),
            ..parts.clone()
        },
        reward(),
        false,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(first.episodes, 2);
    assert!(
        !dir.path().join("parts/final").exists(),
        "an interrupted run has no final policy"
    );
    run_ppo(&parts, reward(), true, &|_, _| {}).unwrap();
    let a = deterministic(&metrics(&dir.path().join("whole/metrics.jsonl")));
    let b = deterministic(&metrics(&dir.path().join("parts/metrics.jsonl")));
    assert_eq!(a.len(), 4);
    assert_eq!(a, b);
    let tensors = |p: &str| {
        let map =
            candle_core::safetensors::load(dir.path().join(p), &candle_core::Device::Cpu).unwrap();
        let mut v: Vec<(String, Vec<f32>)> = map
            .into_iter()
            .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let final_adapter = "final/adapter/adapter_model.safetensors";
    assert_eq!(
        tensors(&format!("whole/{final_adapter}")),
        tensors(&format!("parts/{final_adapter}")),
        "bit-identical weights"
    );
}

#[test]
fn resuming_with_another_configuration_or_a_missing_adapter_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = PpoConfig {
        episodes: 1,
        ..ppo_config(&dir.path().join("run"), None)
    };
    run_ppo(&cfg, reward(), false, &|_, _| {}).unwrap();
    let err = run_ppo(
        &PpoConfig {
            seed: 7,
            ..cfg.clone()
        },
        reward(),
        true,
        &|_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("seed"), "{err}");
    let missing = PpoConfig {
        adapter: Some(dir.path().join("no-such-adapter")),
        ..cfg.clone()
    };
    let err = run_ppo(&missing, reward(), false, &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-adapter"), "{err}");
    let bad_init = PpoConfig {
        init_from: Some(dir.path().to_path_buf()),
        ..cfg
    };
    let err = run_ppo(&bad_init, reward(), false, &|_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("adapter"), "{err}");
}

/// The committed tiny default model: reinforcement learning needs a policy that already writes some
/// programs, which a few seconds of pretraining cannot give.
fn default_model() -> PathBuf {
    let m = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny");
    assert!(
        m.join("config.json").is_file(),
        "{} is part of the repository",
        m.display()
    );
    m
}

#[test]
fn ppo_with_partial_credit_raises_the_mean_reward_on_its_training_prompts() {
    use scrl_train::evaluate::{EvalOptions, generate_records, load_policy};
    let dir = tempfile::tempdir().unwrap();
    let problems: Vec<_> = scrl_data::builtin::suite(11, 4)
        .into_iter()
        .take(6)
        .collect();
    let data = dir.path().join("problems.jsonl");
    scrl_data::write_problems(&data, &problems).unwrap();
    let model = default_model();
    // Sampling at T = 1.5 leaves the tiny model room to improve: RL must sharpen its distribution.
    let temperature = 1.5;
    let mean_reward = |adapter: Option<&Path>| {
        let policy = load_policy(&model, adapter, PromptStyle::Completion, "f32", "cpu").unwrap();
        let opts = EvalOptions {
            samples: 16,
            temperature,
            max_new_tokens: 64,
            seed: 5,
            batch_size: 16,
            ..EvalOptions::default()
        };
        let recs = generate_records(&policy, reward(), &problems, &opts, &|_, _| {}).unwrap();
        recs.iter().map(|r| r.reward).sum::<f64>() / recs.len() as f64
    };
    let before = mean_reward(None);
    let cfg = PpoConfig {
        model: model.clone(),
        data,
        episodes: 24,
        batch_size: 4,
        lr: 1e-3,
        ppo_epochs: 4,
        temperature,
        max_new_tokens: 64,
        val_prompts: 0,
        val_every: 0,
        save_every: 24,
        lora: LoraSettings {
            r: 8,
            alpha: 16.0,
            dropout: 0.0,
            ..LoraSettings::default()
        },
        ..ppo_config(&dir.path().join("ppo"), None)
    };
    let s = run_ppo(&cfg, reward(), false, &|_, _| {}).unwrap();
    let after = mean_reward(Some(&s.final_dir.join("adapter")));
    eprintln!("mean reward over 16 samples per training prompt: {before:.3} -> {after:.3}");
    // Seeded on CPU, so this is one fixed outcome, not a coin toss.
    assert!(
        after > before + 0.03,
        "mean reward over 16 samples per training prompt: {before:.3} -> {after:.3}"
    );
}

#[test]
fn value_warmup_episodes_train_only_the_value_head() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = PpoConfig {
        episodes: 3,
        value_warmup_episodes: 2,
        stop_at: Some(2),
        val_every: 0,
        // The fixture's samples all get the same reward; a zero-initialised head at the batch mean
        // would then have nothing to learn. Truncated samples (most of them) get less, so returns
        // differ.
        truncation_penalty: 0.2,
        ..ppo_config(&dir.path().join("ppo"), None)
    };
    run_ppo(&cfg, reward(), false, &|_, _| {}).unwrap();
    let rows = metrics(&dir.path().join("ppo/metrics.jsonl"));
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r["phase"], "value_warmup", "{r}");
        assert_eq!(r["policy_grad_norm"].as_f64().unwrap(), 0.0, "{r}");
        assert!(r["value_grad_norm"].as_f64().unwrap() > 0.0, "{r}");
    }
    // A fresh adapter starts with lora_B = 0; after the warm-up it is still 0 (the policy did not
    // move), while the value head moved away from its zero start.
    let load = |p: &str| {
        candle_core::safetensors::load(dir.path().join(p), &candle_core::Device::Cpu).unwrap()
    };
    let adapter = load("ppo/checkpoint/adapter/adapter_model.safetensors");
    let b_norm: f32 = adapter
        .iter()
        .filter(|(k, _)| k.contains("lora_B"))
        .map(|(_, t)| {
            t.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        b_norm, 0.0,
        "the policy's LoRA moved during the value warm-up"
    );
    let head = load("ppo/checkpoint/value_head.safetensors");
    let bias = head["v_head.summary.bias"].to_vec1::<f32>().unwrap()[0];
    assert!(
        bias.abs() > 1e-3,
        "the value bias starts at the first batch's mean return, not 0: {bias}"
    );
    // Resuming runs the remaining episode as an update.
    let rest = PpoConfig {
        stop_at: None,
        ..cfg
    };
    run_ppo(&rest, reward(), true, &|_, _| {}).unwrap();
    let rows = metrics(&dir.path().join("ppo/metrics.jsonl"));
    assert_eq!((rows.len(), rows[2]["phase"].as_str()), (3, Some("update")));
}

/// The effect issue 11 asks for, on held-out prompts: PPO with partial credit from the committed
/// model raises the validation reward on other instances of the families it trained on.
/// `difference_two` and `sort_ascending` are two of the quickstart's families where the model's
/// failure is one habit the reward exposes (it writes `p + q` for "Print p - q", and
/// `sorted(a, reverse=True)` for "in increasing order"), so PPO has something it can reach; the
/// other two families are ones it mostly cannot move (docs/training.md, "The quickstart's
/// setting").
#[test]
fn ppo_with_partial_credit_raises_the_validation_reward_on_held_out_prompts() {
    // Training and validation prompts are different instances (seeds 11 and 12), so a gain is not
    // memorisation.
    let families = [
        "difference_two",
        "sort_ascending",
        "multiply_constant",
        "greeting",
    ];
    let make = |seed, n| -> Vec<scrl_data::Problem> {
        families
            .iter()
            .flat_map(|f| scrl_data::builtin::family(f).unwrap().problems(seed, n))
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let (data, val) = (dir.path().join("train.jsonl"), dir.path().join("val.jsonl"));
    scrl_data::write_problems(&data, &make(11, 6)).unwrap();
    scrl_data::write_problems(&val, &make(12, 3)).unwrap();
    let cfg = PpoConfig {
        model: default_model(),
        data,
        val_data: Some(val),
        episodes: 16,
        batch_size: 4,
        group_size: 2,
        lr: 5e-4,
        temperature: 1.0,
        kl_coef: 0.05,
        max_new_tokens: 96,
        val_prompts: 12,
        val_samples: 2,
        val_every: 8,
        save_every: 16,
        lora: LoraSettings {
            r: 8,
            alpha: 16.0,
            dropout: 0.0,
            ..LoraSettings::default()
        },
        ..ppo_config(&dir.path().join("ppo"), None)
    };
    let s = run_ppo(&cfg, reward(), false, &|_, _| {}).unwrap();
    let best = s.best_val_reward.unwrap();
    eprintln!(
        "validation reward {:.3} -> best {best:.3} (final {:?})",
        s.initial_val_reward, s.final_val_reward
    );
    // Seeded on CPU, so this is one fixed outcome, not a coin toss.
    assert!(
        s.beat_start && best > s.initial_val_reward + 0.02,
        "validation reward {:.3} -> best {best:.3}",
        s.initial_val_reward
    );
}
