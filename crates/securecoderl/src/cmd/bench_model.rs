//! PLACEHOLDER until its issue lands: the owner replaces this file.

#[derive(clap::Args)]
pub struct BenchModelArgs {}

pub fn run(_args: BenchModelArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
