//! PLACEHOLDER until its issue lands: the owner replaces this file.

#[derive(clap::Args)]
pub struct PretrainArgs {}

pub fn run(_args: PretrainArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
