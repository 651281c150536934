//! Python syntax check (ruff_python_parser) and the Bandit-compatible MEDIUM/HIGH security rules.
//! Knows nothing about execution or rewards.
