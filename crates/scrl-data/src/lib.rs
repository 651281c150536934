//! Problem data for SecureCodeRL: the problem schema and our JSON Lines format, importers for the
//! upstream layouts, prompt building and code extraction, seeded train/evaluation splits, and the
//! built-in task suite the CPU default trains on. Running code is not this crate's job (that is
//! scrl-sandbox).

pub mod builtin;
mod error;
pub mod extract;
mod fields;
pub mod import;
mod problem;
mod progress;
pub mod prompt;
pub mod split;
pub mod stats;

pub use error::{DataError, FieldError, RowAt};
pub use extract::extract_code;
pub use import::{Format, ImportOptions, ImportReport, Skipped, import_file};
pub use problem::{
    Problem, ProblemKind, StdinTest, load_problems, load_problems_with_progress,
    statement_example_tests, write_problems,
};
pub use prompt::{ChatMessage, ChatTemplate, completion_prompt};
pub use split::{Split, SplitOptions, split};
