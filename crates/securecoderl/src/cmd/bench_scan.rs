//! PLACEHOLDER until its issue lands: the owner replaces this file.

#[derive(clap::Args)]
pub struct BenchScanArgs {}

pub fn run(_args: BenchScanArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
