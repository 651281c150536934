//! Runs untrusted Python programs against stdin tests, locked down by the kernel.
//! Knows nothing about rewards, problems or models.
