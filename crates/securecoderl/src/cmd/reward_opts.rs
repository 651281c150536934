//! The reward and sandbox sections of every command that scores programs (score, eval, serve, the
//! benchmarks), and how they become a running [`RewardModel`]. Their flags are derived from
//! [`RewardConfig`] and [`SandboxConfig`] (see `flags.rs`); `--reward-config FILE` reads the
//! `[reward]` and `[sandbox]` tables of a config file first, e.g. a run folder's `config.toml`, so
//! that a program is scored as that run scored it. `ppo` and `sweep` carry the same sections in
//! their own configs.

use std::path::PathBuf;

use anyhow::Context;
use scrl_reward::{RewardConfig, RewardModel};
use scrl_sandbox::SandboxConfig;

use super::flags::Flags;

#[derive(clap::Args, Clone, Debug)]
pub struct RewardOpts {
    /// Read the reward and sandbox from the `[reward]` and `[sandbox]` tables of this TOML file (a
    /// run folder's config.toml, a sweep config); the flags below override it.
    #[arg(long)]
    pub reward_config: Option<PathBuf>,
    #[command(flatten)]
    reward: Flags<RewardConfig>,
    #[command(flatten)]
    sandbox: Flags<SandboxConfig>,
}

/// The `[reward]` and `[sandbox]` tables of a TOML file (either may be absent: defaults).
fn read_sections(path: &std::path::Path) -> anyhow::Result<(RewardConfig, SandboxConfig)> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Sections {
        reward: RewardConfig,
        sandbox: SandboxConfig,
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let s: Sections = toml::from_str(&text)
        .with_context(|| format!("{}: invalid [reward] or [sandbox] table", path.display()))?;
    Ok((s.reward, s.sandbox))
}

impl RewardOpts {
    /// The resolved sections: the file's (or the defaults), then the flags given.
    pub fn resolve(&self) -> anyhow::Result<(RewardConfig, SandboxConfig)> {
        let (reward, sandbox) = match &self.reward_config {
            Some(p) => read_sections(p)?,
            None => Default::default(),
        };
        Ok((self.reward.over(reward)?, self.sandbox.over(sandbox)?))
    }

    /// Starts the sandbox and the scanner. Fails, naming the missing layer, when the kernel cannot
    /// isolate.
    pub fn build(&self) -> anyhow::Result<RewardModel> {
        let (reward, sandbox) = self.resolve()?;
        scrl_experiment::start_reward(&reward, &sandbox)
    }
}

/// How a problem is checked by the reward.
pub use scrl_train::evaluate::test_spec;
