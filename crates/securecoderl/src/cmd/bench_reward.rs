//! PLACEHOLDER until its issue lands: the owner replaces this file.

#[derive(clap::Args)]
pub struct BenchRewardArgs {}

pub fn run(_args: BenchRewardArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
