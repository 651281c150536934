//! PLACEHOLDER until its issue lands: the owner replaces this file.

#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// Placeholder.
    Stats,
}

pub fn run(_c: DataCommand) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
