//! The experiment's configs: a sweep (`configs/paper-table3-*.toml`) and the quickstart
//! (`configs/quickstart.toml`), each field a TOML key and a flag.

use std::path::PathBuf;

use anyhow::Context;
use scrl_reward::RewardConfig;
use scrl_sandbox::SandboxConfig;
use scrl_train::{PpoConfig, SftConfig};
use serde::{Deserialize, Serialize};

/// Everything a sweep does, as one TOML file (`configs/*.toml`; a sweep's run folder keeps it,
/// resolved, as config.toml): `[sft]` and `[ppo]` are the trainers' own configs (their `model`,
/// `data`, `out`, `adapter` and `seed` are set by the pipeline, and PPO's reward and sandbox are
/// `[reward]` and `[sandbox]` here, the ones evaluation uses too). Every top-level field is also a
/// flag of `sweep` and `quickstart`, with this text as its help.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct SweepConfig {
    /// The base checkpoint folder.
    #[arg(long)]
    pub model: PathBuf,
    /// Problems JSONL (e.g. APPS+ imported with `securecoderl data import --format apps-plus
    /// --stdin-only`).
    #[arg(long)]
    pub data: PathBuf,
    /// The run folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Size of the evaluation set, drawn first with `split_seed`.
    #[arg(long)]
    pub eval_n: usize,
    /// Validation problems carved once from the training pool, kept out of SFT and PPO training:
    /// SFT's validation loss and PPO's checkpoint selection both use them.
    #[arg(long)]
    pub val_n: usize,
    /// Seed of the evaluation and validation draws.
    #[arg(long)]
    pub split_seed: u64,
    /// Training seeds per variant: seed k of N is `train_seed + k`; every PPO variant derives its
    /// own sampling stream from it. The evaluation set and its sampling seed stay the same for all.
    #[arg(long)]
    pub seeds: usize,
    /// The first training seed.
    #[arg(long)]
    pub train_seed: u64,
    /// At most this many training problems (the paper: about 1,000).
    #[arg(long)]
    pub train_n: Option<usize>,
    /// Samples per evaluation problem and model.
    #[arg(long)]
    pub eval_samples: usize,
    /// Sampling temperature of the evaluation.
    #[arg(long)]
    pub eval_temperature: f64,
    /// Longest evaluation completion, in tokens.
    #[arg(long)]
    pub eval_max_new_tokens: usize,
    /// Sampling seed of the evaluation (the same for every model).
    #[arg(long)]
    pub eval_seed: u64,
    /// Bootstrap resamples of the confidence intervals.
    #[arg(long)]
    pub bootstrap_resamples: u32,
    /// SFT's settings: `[sft]` in TOML (no flags; set them in the file).
    #[arg(skip)]
    pub sft: SftConfig,
    /// PPO's settings, shared by the three variants: `[ppo]` in TOML (no flags; set them in the
    /// file). Its `reward` and `sandbox` are this file's `[reward]` and `[sandbox]`.
    #[arg(skip)]
    pub ppo: PpoConfig,
    /// The reward of training and evaluation (`kind` is set per variant).
    #[command(flatten)]
    pub reward: RewardConfig,
    /// The sandbox the reward runs programs in.
    #[command(flatten)]
    pub sandbox: SandboxConfig,
}

/// A sweep's PPO variants take their reward and sandbox from the sweep's `[reward]` and `[sandbox]`
/// (evaluation uses the same ones), so a sweep file has no `[ppo.reward]` or `[ppo.sandbox]`: one
/// there would not be read, and is an error. `prefix` is where the sweep sits in the file.
fn no_ppo_reward_tables(text: &str, prefix: &str, what: &str) -> anyhow::Result<()> {
    let table: toml::Table =
        toml::from_str(text).with_context(|| format!("{what}: invalid TOML"))?;
    let mut at = &table;
    for key in prefix.split('.').filter(|k| !k.is_empty()).chain(["ppo"]) {
        match at.get(key).and_then(toml::Value::as_table) {
            Some(t) => at = t,
            None => return Ok(()),
        }
    }
    for section in ["reward", "sandbox"] {
        anyhow::ensure!(
            !at.contains_key(section),
            "{what}: [{prefix}ppo.{section}] is not read: PPO and the evaluation use \
             [{prefix}{section}]"
        );
    }
    Ok(())
}

/// `config` as TOML without what [`no_ppo_reward_tables`] refuses (`prefix` is where the sweep
/// sits, as there), so that the file reads back as the same config.
fn without_ppo_reward_tables(config: &impl Serialize, prefix: &str) -> anyhow::Result<String> {
    let mut table = toml::Table::try_from(config)?;
    let ppo = prefix
        .split('.')
        .filter(|k| !k.is_empty())
        .chain(["ppo"])
        .try_fold(&mut table, |t, key| {
            t.get_mut(key).and_then(toml::Value::as_table_mut)
        });
    if let Some(ppo) = ppo {
        ppo.remove("reward");
        ppo.remove("sandbox");
    }
    Ok(toml::to_string(&table)?)
}

impl SweepConfig {
    /// Reads a sweep config (`what` names it in errors).
    pub fn parse(text: &str, what: &str) -> anyhow::Result<SweepConfig> {
        no_ppo_reward_tables(text, "", what)?;
        toml::from_str(text).with_context(|| format!("{what}: invalid sweep config"))
    }

    /// The config as a sweep file: what [`SweepConfig::parse`] reads back unchanged.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        without_ppo_reward_tables(self, "")
    }
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            model: PathBuf::new(),
            data: PathBuf::new(),
            out: PathBuf::from("runs/sweep"),
            eval_n: 100,
            val_n: 32,
            split_seed: 42,
            seeds: 1,
            train_seed: 42,
            train_n: Some(1000),
            eval_samples: 1,
            eval_temperature: 0.7,
            eval_max_new_tokens: 512,
            eval_seed: 0,
            bootstrap_resamples: 2000,
            sft: SftConfig::default(),
            ppo: PpoConfig::default(),
            reward: RewardConfig::default(),
            sandbox: SandboxConfig::default(),
        }
    }
}

/// The quickstart: a slice of the built-in task suite and a sweep over it (its `data` is the suite,
/// which the quickstart writes). Its `[sweep]`'s flags are the quickstart's too: `--model` starts
/// from another model folder than the tiny default (pretrained here when absent), `--out` picks
/// the run folder, `--seeds` the training seeds per variant.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, clap::Args)]
#[serde(default = "QuickstartConfig::base", deny_unknown_fields)]
pub struct QuickstartConfig {
    /// Seed the built-in problems are generated from.
    #[arg(long)]
    pub suite_seed: u64,
    /// Problems per family.
    #[arg(long)]
    pub per_family: usize,
    /// The families to use, comma-separated (empty: all of them).
    #[arg(long, value_delimiter = ',')]
    pub families: Vec<String>,
    /// Pretraining steps of the tiny default model, when no committed one is found.
    #[arg(long)]
    pub pretrain_steps: u64,
    /// The sweep over the suite (its `data` is the suite, written by the quickstart).
    #[command(flatten)]
    pub sweep: SweepConfig,
}

impl Default for QuickstartConfig {
    /// The built-in configs/quickstart.toml: the one place the quickstart's settings are written
    /// (a flag's help names its value there).
    fn default() -> Self {
        QuickstartConfig::builtin(false).expect("the built-in configs/quickstart.toml is valid")
    }
}

impl QuickstartConfig {
    /// What a quickstart file leaves unset: a plain sweep's settings, with the quickstart's run
    /// folder and pretraining steps.
    fn base() -> Self {
        QuickstartConfig {
            suite_seed: 42,
            per_family: 20,
            families: Vec::new(),
            pretrain_steps: 600,
            sweep: SweepConfig {
                out: PathBuf::from("runs/quickstart"),
                ..SweepConfig::default()
            },
        }
    }
}

const QUICKSTART_TOML: &str = include_str!("../../../configs/quickstart.toml");
const QUICKSTART_SMOKE_TOML: &str = include_str!("../../../configs/quickstart-smoke.toml");

impl QuickstartConfig {
    /// The config as a quickstart file: what [`QuickstartConfig::parse`] reads back unchanged.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        without_ppo_reward_tables(self, "sweep.")
    }

    /// The built-in configs/quickstart.toml (or, with `smoke`, configs/quickstart-smoke.toml).
    pub fn builtin(smoke: bool) -> anyhow::Result<QuickstartConfig> {
        if smoke {
            QuickstartConfig::parse(QUICKSTART_SMOKE_TOML, "configs/quickstart-smoke.toml")
        } else {
            QuickstartConfig::parse(QUICKSTART_TOML, "configs/quickstart.toml")
        }
    }

    pub fn parse(text: &str, what: &str) -> anyhow::Result<QuickstartConfig> {
        no_ppo_reward_tables(text, "sweep.", what)?;
        let cfg: QuickstartConfig =
            toml::from_str(text).with_context(|| format!("{what}: invalid quickstart config"))?;
        cfg.validate(what)?;
        Ok(cfg)
    }

    pub fn validate(&self, what: &str) -> anyhow::Result<()> {
        for f in &self.families {
            anyhow::ensure!(
                scrl_data::builtin::family(f).is_some(),
                "{what}: no built-in family is called `{f}`"
            );
        }
        anyhow::ensure!(
            self.sweep.data.as_os_str().is_empty(),
            "{what}: the quickstart writes its own data (the built-in suite); use `securecoderl \
             sweep` for a problems file"
        );
        self.sweep.sft.validate()?;
        self.sweep.ppo.validate()?;
        Ok(())
    }

    /// The problems: `per_family` of each chosen family, from `suite_seed`.
    pub fn problems(&self) -> Vec<scrl_data::Problem> {
        scrl_data::builtin::FAMILIES
            .iter()
            .filter(|f| self.families.is_empty() || self.families.iter().any(|n| n == f.name))
            .flat_map(|f| f.problems(self.suite_seed, self.per_family))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_sweep_file_round_trips_and_refuses_a_ppo_reward_table() {
        let mut cfg = SweepConfig {
            model: "m".into(),
            data: "d".into(),
            ..Default::default()
        };
        cfg.reward.alpha = 0.7;
        cfg.sandbox.workers = 3;
        cfg.ppo.lr = 0.5;
        let text = cfg.to_toml().unwrap();
        assert_eq!(SweepConfig::parse(&text, "t").unwrap(), cfg);
        let qc = QuickstartConfig::builtin(true).unwrap();
        assert_eq!(
            QuickstartConfig::parse(&qc.to_toml().unwrap(), "t").unwrap(),
            qc
        );
        let e = SweepConfig::parse("model = 'm'\n[ppo.reward]\nalpha = 1.0\n", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[ppo.reward]") && e.contains("[reward]"), "{e}");
        let e = QuickstartConfig::parse("[sweep.ppo.sandbox]\nworkers = 1\n", "q.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[sweep.ppo.sandbox]"), "{e}");
    }

    #[test]
    fn every_shipped_config_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                if path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("quickstart"))
                {
                    QuickstartConfig::parse(&text, &path.display().to_string()).unwrap();
                    n += 1;
                    continue;
                }
                let cfg = SweepConfig::parse(&text, &path.display().to_string()).unwrap();
                cfg.sft.validate().unwrap();
                cfg.ppo.validate().unwrap();
                n += 1;
            }
        }
        assert!(n >= 2, "configs/ holds the paper's setting and more");
    }

    #[test]
    fn the_quickstart_configs_parse_and_name_real_families() {
        for (text, what) in [
            (QUICKSTART_TOML, "quickstart"),
            (QUICKSTART_SMOKE_TOML, "smoke"),
        ] {
            let qc = QuickstartConfig::parse(text, what).unwrap();
            assert!(!qc.problems().is_empty(), "{what}");
        }
        let err = QuickstartConfig::parse("families = ['no_such_family']", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no_such_family"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_an_error_that_names_it() {
        let err = toml::from_str::<SweepConfig>("model = 'm'\n[ppo]\nepisodez = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("episodez"), "{err}");
    }
}
