//! How the experiment reports its progress: the CLI draws progress bars, a library user may log or
//! stay quiet.

/// Hears the pipeline's stages, the lines it reports about them, and its long tasks.
pub trait Progress {
    /// A stage begins ("SFT (LoRA), seed 42").
    fn stage(&self, name: &str);
    /// A line about the stage that ran (losses, rewards, sizes).
    fn note(&self, line: &str);
    /// A task of `len` steps (0: unknown) named `what` begins.
    fn task(&self, len: u64, what: &str) -> Box<dyn Task>;
}

/// One long task: its position and a status line, then its end.
pub trait Task: Send + Sync {
    fn position(&self, done: u64);
    fn message(&self, msg: &str);
    fn finish(&self);
}

/// Reports nothing.
pub struct Quiet;

struct NoTask;

impl Task for NoTask {
    fn position(&self, _: u64) {}
    fn message(&self, _: &str) {}
    fn finish(&self) {}
}

impl Progress for Quiet {
    fn stage(&self, _: &str) {}
    fn note(&self, _: &str) {}
    fn task(&self, _: u64, _: &str) -> Box<dyn Task> {
        Box::new(NoTask)
    }
}
