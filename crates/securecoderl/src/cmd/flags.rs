//! Flags derived from the config types themselves: every field of a config section (`SftConfig`,
//! `PpoConfig`, `RewardConfig`, `SandboxConfig`, `SweepConfig`, ...) carries `#[arg(long)]` and a
//! doc comment, so its flag and its help text are the field's. `Flags<T>` adds those flags to a
//! command and, after parsing, overwrites exactly the fields whose flags were given: a config read
//! from `--config FILE.toml` (or the section's defaults) is the base, the command line the overlay.
//!
//! Two rules hold for every section, because they are applied here rather than per field:
//! - no flag is required (the base has every value);
//! - a boolean field takes `--flag` for true and `--flag=false` for false, so that a flag can turn
//!   off what the config file turned on.

use std::marker::PhantomData;

use clap::{ArgAction, ArgMatches, Args, Command, FromArgMatches};

/// The flags of config section `T`, as parsed; [`Flags::apply`] writes them over a config.
pub struct Flags<T> {
    matches: ArgMatches,
    section: PhantomData<fn() -> T>,
}

impl<T> Clone for Flags<T> {
    fn clone(&self) -> Self {
        Flags {
            matches: self.matches.clone(),
            section: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Flags<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flags")
            .field("section", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T: Args + FromArgMatches + Default + serde::Serialize> Flags<T> {
    /// Overwrites the fields of `cfg` whose flags were given; the others keep their values.
    pub fn apply(&self, cfg: &mut T) -> anyhow::Result<()> {
        cfg.update_from_arg_matches(&self.matches)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// `base` with the flags given written over it.
    pub fn over(&self, mut base: T) -> anyhow::Result<T> {
        self.apply(&mut base)?;
        Ok(base)
    }
}

/// A derived argument as every section's flag behaves: optional, a boolean takes a value, the
/// section's default is named in the help, and the flags keep their declaration order in it.
fn as_overlay(arg: clap::Arg, default: Option<String>) -> clap::Arg {
    static ORDER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1000);
    let order = ORDER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut arg = arg.required(false).display_order(order);
    if let Some(d) = default.filter(|d| !d.is_empty()) {
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let long = arg
            .get_long_help()
            .map(|h| h.to_string())
            .unwrap_or_else(|| help.clone());
        arg = arg
            .help(format!("{help} [default: {d}]"))
            .long_help(format!("{long}\n\n[default: {d}]"));
    }
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        arg.action(ArgAction::Set)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
    } else {
        arg
    }
}

impl<T> FromArgMatches for Flags<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Flags {
            matches: matches.clone(),
            section: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.matches = matches.clone();
        Ok(())
    }
}

/// The section's default value of each flag, by flag id, as the help shows it. A flag's id is its
/// field's name, or `table_field` for a field of a nested table (`lora_r`); where two tables have
/// a field of the same name, the shallower one is the flag's (a sweep's `model`, not its
/// `[sft].model`).
fn defaults(
    section: &serde_json::Value,
    ids: &[&str],
) -> std::collections::HashMap<String, String> {
    fn walk(v: &serde_json::Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    path.push(k.clone());
                    walk(x, path, out);
                    path.pop();
                }
            }
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => out.push((path.clone(), s.clone())),
            serde_json::Value::Array(a) => out.push((
                path.clone(),
                a.iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            other => out.push((path.clone(), other.to_string())),
        }
    }
    let mut leaves = Vec::new();
    walk(section, &mut Vec::new(), &mut leaves);
    let joined = |p: &[String]| p[p.len().saturating_sub(2)..].join("_");
    let mut claimed = vec![false; leaves.len()];
    let mut out = std::collections::HashMap::new();
    for id in ids {
        if let Some(i) = leaves
            .iter()
            .position(|(p, _)| p.len() > 1 && joined(p) == *id)
        {
            claimed[i] = true;
            out.insert(id.to_string(), leaves[i].1.clone());
        }
    }
    for id in ids {
        if out.contains_key(*id) {
            continue;
        }
        let found = (0..leaves.len())
            .filter(|&i| !claimed[i] && leaves[i].0.last().is_some_and(|l| l == id))
            .min_by_key(|&i| leaves[i].0.len());
        if let Some(i) = found {
            out.insert(id.to_string(), leaves[i].1.clone());
        }
    }
    out
}

impl<T: Args + Default + serde::Serialize> Args for Flags<T> {
    fn augment_args(cmd: Command) -> Command {
        let section = T::augment_args(Command::new("section"));
        let ids: Vec<&str> = section
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .collect();
        let mut shown = defaults(
            &serde_json::to_value(T::default()).expect("a config serialises"),
            &ids,
        );
        let mut cmd = cmd;
        for arg in section.get_arguments() {
            let default = shown.remove(arg.get_id().as_str());
            cmd = cmd.arg(as_overlay(arg.clone(), default));
        }
        for group in section.get_groups() {
            cmd = cmd.group(group.clone());
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// Reads a config section from a TOML file, or takes its defaults without one.
pub fn load_or_default<T: serde::de::DeserializeOwned + Default>(
    path: Option<&std::path::Path>,
) -> anyhow::Result<T> {
    Ok(match path {
        Some(p) => scrl_train::load_toml(p)?,
        None => T::default(),
    })
}

/// The config sections, each the config type of a command (or a part of one).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// `securecoderl sft --config`.
    Sft,
    /// `securecoderl ppo --config` (its `[reward]` and `[sandbox]` included).
    Ppo,
    /// `[reward]`, read by `--reward-config` of score, eval and serve.
    Reward,
    /// `[sandbox]`, read by `--reward-config` of score, eval and serve.
    Sandbox,
    /// `securecoderl eval --config` (its `[eval]`, `[reward]` and `[sandbox]` included).
    Eval,
    /// `securecoderl sweep --config`.
    Sweep,
    /// The flags of `securecoderl data split`.
    Split,
    /// The flags of `securecoderl pretrain` (the tiny model's shape and schedule).
    Pretrain,
    /// `securecoderl quickstart --config`.
    Quickstart,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  securecoderl config ppo > ppo.toml   (edit, then: securecoderl \
        ppo --config ppo.toml)\n  securecoderl config quickstart       (the built-in \
        configs/quickstart.toml, resolved)"
)]
pub struct ConfigArgs {
    /// Which section.
    #[arg(value_enum)]
    section: Section,
}

/// Prints the section's defaults (for `quickstart`, the built-in configs/quickstart.toml
/// resolved), the base that `--config` files and flags override.
pub fn run_config(a: ConfigArgs) -> anyhow::Result<i32> {
    let text = match a.section {
        Section::Sft => toml::to_string(&scrl_train::SftConfig::default())?,
        Section::Ppo => toml::to_string(&scrl_train::PpoConfig::default())?,
        Section::Reward => toml::to_string(&scrl_reward::RewardConfig::default())?,
        Section::Sandbox => toml::to_string(&scrl_sandbox::SandboxConfig::default())?,
        Section::Eval => toml::to_string(&scrl_experiment::EvalRun::default())?,
        Section::Sweep => scrl_experiment::SweepConfig::default().to_toml()?,
        Section::Split => toml::to_string(&scrl_data::SplitOptions::default())?,
        Section::Pretrain => toml::to_string(&scrl_model::pretrain::PretrainSettings::default())?,
        Section::Quickstart => scrl_experiment::QuickstartConfig::builtin(false)?.to_toml()?,
    };
    print!("{text}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Serialize, de::DeserializeOwned};
    use serde_json::Value;

    /// Every leaf of a config's JSON form by its dotted path, minus the subtrees `skip` names.
    fn leaves(v: &Value, path: &str, skip: &[&str], out: &mut Vec<(String, Value)>) {
        if skip.contains(&path) {
            return;
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    leaves(x, &p, skip, out);
                }
            }
            _ => out.push((path.to_string(), v.clone())),
        }
    }

    fn parse<T: Args + FromArgMatches + Default + Serialize>(
        argv: &[String],
    ) -> Result<Flags<T>, clap::Error> {
        let cmd = <Flags<T> as Args>::augment_args(Command::new("t").no_binary_name(true));
        Flags::<T>::from_arg_matches(&cmd.try_get_matches_from(argv)?)
    }

    /// For every flag of section `T`, a value that parses and changes the config; then all of them
    /// at once. Checks that every key of the section has exactly one flag (no key without a flag,
    /// no flag without a key), and that the fully changed config round-trips through TOML.
    fn every_key_is_a_flag_and_round_trips<T>(skip: &[&str])
    where
        T: Args
            + FromArgMatches
            + Default
            + Serialize
            + DeserializeOwned
            + PartialEq
            + std::fmt::Debug,
    {
        let name = std::any::type_name::<T>();
        let base = serde_json::to_value(T::default()).unwrap();
        let mut keys = Vec::new();
        leaves(&base, "", skip, &mut keys);
        let cmd = <Flags<T> as Args>::augment_args(Command::new("t"));
        let mut argv = Vec::new();
        let mut changed_by = std::collections::BTreeMap::new();
        for arg in cmd.get_arguments() {
            let long = arg.get_long().expect("every section flag is long");
            let mut candidates: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|p| p.get_name().to_string())
                .collect();
            candidates.extend(["7", "0.25", "all", "x/y", "a,b"].map(String::from));
            let found = candidates.iter().find_map(|c| {
                let one = vec![format!("--{long}={c}")];
                let cfg = parse::<T>(&one).ok()?.over(T::default()).ok()?;
                let mut now = Vec::new();
                leaves(&serde_json::to_value(&cfg).unwrap(), "", skip, &mut now);
                let diff: Vec<String> = now
                    .iter()
                    .zip(&keys)
                    .filter(|(a, b)| a.1 != b.1)
                    .map(|(a, _)| a.0.clone())
                    .collect();
                (diff.len() == 1).then(|| (one[0].clone(), diff[0].clone()))
            });
            let (flag, key) = found.unwrap_or_else(|| panic!("{name}: --{long} changes no key"));
            assert!(
                changed_by.insert(key.clone(), flag.clone()).is_none(),
                "{name}: two flags set `{key}`"
            );
            argv.push(flag);
        }
        for (key, _) in &keys {
            assert!(
                changed_by.contains_key(key),
                "{name}: key `{key}` has no flag"
            );
        }
        let all = parse::<T>(&argv).unwrap().over(T::default()).unwrap();
        let text = toml::to_string(&all).unwrap();
        let back: T = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert_eq!(back, all, "{name}: the TOML round trip changed the config");
        assert_ne!(all, T::default());
        let default_back: T = toml::from_str(&toml::to_string(&T::default()).unwrap()).unwrap();
        assert_eq!(
            default_back,
            T::default(),
            "{name}: the defaults do not round-trip"
        );
    }

    #[test]
    fn every_section_has_a_flag_per_key_and_round_trips_through_toml() {
        every_key_is_a_flag_and_round_trips::<scrl_train::SftConfig>(&[]);
        every_key_is_a_flag_and_round_trips::<scrl_train::PpoConfig>(&[]);
        every_key_is_a_flag_and_round_trips::<scrl_reward::RewardConfig>(&[]);
        every_key_is_a_flag_and_round_trips::<scrl_sandbox::SandboxConfig>(&[]);
        every_key_is_a_flag_and_round_trips::<scrl_experiment::EvalConfig>(&[]);
        every_key_is_a_flag_and_round_trips::<scrl_data::SplitOptions>(&[]);
        every_key_is_a_flag_and_round_trips::<scrl_model::pretrain::PretrainSettings>(&[]);
        every_key_is_a_flag_and_round_trips::<scrl_experiment::EvalRun>(&[]);
        // A sweep's [sft] and [ppo] are set in the file only.
        every_key_is_a_flag_and_round_trips::<scrl_experiment::SweepConfig>(&["sft", "ppo"]);
        every_key_is_a_flag_and_round_trips::<scrl_experiment::QuickstartConfig>(&[
            "sweep.sft",
            "sweep.ppo",
        ]);
    }

    /// The help of a derived flag names the section's default, nested tables included, and the
    /// flags keep the order of the fields.
    #[test]
    fn the_help_names_each_default() {
        let mut cmd = <Flags<scrl_train::PpoConfig> as Args>::augment_args(Command::new("t"));
        let help = cmd.render_help().to_string();
        let lines: Vec<&str> = help.lines().collect();
        let text_of = |flag: &str| -> &str {
            let at = lines
                .iter()
                .position(|l| l.trim_start().starts_with(&format!("{flag} ")))
                .unwrap_or_else(|| panic!("{flag} not in\n{help}"));
            lines[at + 1]
        };
        for (flag, default) in [
            ("--kl-coef", "[default: 0.1]"),
            ("--lora-alpha", "[default: 32.0]"),
            ("--alpha", "[default: 0.6]"),
            ("--target-modules", "[default: q_proj,k_proj,v_proj,o_proj]"),
            ("--reward", "[default: partial]"),
            ("--test-cap", "[default: 5]"),
            ("--python", "[default: /usr/bin/python3]"),
        ] {
            assert!(text_of(flag).contains(default), "{flag}: {}", text_of(flag));
        }
        assert!(
            !text_of("--model").contains("[default"),
            "an empty path has no default"
        );
        assert!(
            !text_of("--kl-target").contains("[default"),
            "None has no default"
        );
        let at = |flag: &str| help.find(&format!("{flag} ")).unwrap();
        assert!(at("--model") < at("--episodes") && at("--episodes") < at("--python"));
    }

    #[test]
    fn flags_override_only_what_they_name_and_booleans_take_false() {
        let base = scrl_train::PpoConfig {
            value_detach: true,
            kl_coef: 0.3,
            ..Default::default()
        };
        let argv = ["--value-detach=false", "--lr", "0.5", "--reward", "binary"].map(String::from);
        let got = parse::<scrl_train::PpoConfig>(&argv)
            .unwrap()
            .over(base.clone())
            .unwrap();
        assert!(!got.value_detach);
        assert_eq!(got.lr, 0.5);
        assert_eq!(got.reward.kind, scrl_reward::RewardKind::Binary);
        assert_eq!(got.kl_coef, 0.3, "a flag not given keeps the file's value");
        let on = parse::<scrl_train::PpoConfig>(&["--whiten-advantages".to_string()]).unwrap();
        let got = on
            .over(scrl_train::PpoConfig {
                whiten_advantages: false,
                ..Default::default()
            })
            .unwrap();
        assert!(got.whiten_advantages, "a bare boolean flag means true");
        let e = parse::<scrl_train::PpoConfig>(&["--lr".into(), "fast".into()]).unwrap_err();
        assert!(e.to_string().contains("--lr"), "{e}");
    }
}
