//! PLACEHOLDER until its issue lands: the owner replaces this file.

#[derive(clap::Args)]
pub struct GenerateArgs {}

pub fn run(_args: GenerateArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
