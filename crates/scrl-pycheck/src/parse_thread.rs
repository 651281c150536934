//! Runs ruff's recursive-descent parser (and our recursive AST walks) on a dedicated thread with a
//! large stack, after capping the source size, so adversarial input cannot overflow the caller's
//! stack. Knows nothing about what the closure does with the source.

use crate::PyCheckError;

/// Largest source accepted, in bytes. Generated programs are a few KB; the largest CPython 3.11
/// stdlib file is about 600 KB. The cap bounds both parse time and the parser's memory (ruff needs
/// ~1 GB RSS for a 1M-character unary chain).
pub const MAX_SOURCE_BYTES: usize = 2 * 1024 * 1024;

/// Stack of the parse thread. Measured: 64 MB suffices for the parser on 1M-deep unary chains; the
/// scanner's walk adds a parent stack per level, so we take four times that. Only touched pages
/// cost memory.
const PARSE_STACK_BYTES: usize = 256 * 1024 * 1024;

/// Checks the size cap, then runs `job` on a fresh thread with a [`PARSE_STACK_BYTES`] stack.
pub(crate) fn run_guarded<T: Send>(
    source: &str,
    job: impl FnOnce() -> T + Send,
) -> Result<T, PyCheckError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(PyCheckError::SourceTooLarge {
            bytes: source.len(),
            limit: MAX_SOURCE_BYTES,
        });
    }
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("scrl-pycheck-parse".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, job)
            .map_err(|e| PyCheckError::ParseThread(e.to_string()))?;
        handle
            .join()
            .map_err(|_| PyCheckError::ParseThread("the parse thread panicked".into()))
    })
}
