//! The sizes a request may have. Checked before any work starts, so an oversized request costs no
//! sandbox time and its answer (413) names the field that is too big.

use crate::error::ApiError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// A whole request body.
    pub max_body_bytes: usize,
    /// Items of one `/score` batch.
    pub max_items: usize,
    /// One program (`completion`, `code`).
    pub max_program_bytes: usize,
    /// Inline tests of one item.
    pub max_tests: usize,
    /// One test's input plus expected output, or a `/run_code` stdin.
    pub max_test_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_body_bytes: 32 << 20,
            max_items: 512,
            max_program_bytes: 64 << 10,
            max_tests: 64,
            max_test_bytes: 4 << 20,
        }
    }
}

impl RequestLimits {
    pub fn validate(&self) -> Result<(), String> {
        let l = self;
        if [
            l.max_body_bytes,
            l.max_items,
            l.max_program_bytes,
            l.max_tests,
            l.max_test_bytes,
        ]
        .contains(&0)
        {
            return Err("every request limit must be >= 1".into());
        }
        Ok(())
    }

    pub fn program(&self, field: &str, program: &str) -> Result<(), ApiError> {
        over(field, program.len(), self.max_program_bytes, "bytes")
    }

    pub fn items(&self, n: usize) -> Result<(), ApiError> {
        if n == 0 {
            return Err(ApiError::bad("items", "a batch needs at least one item"));
        }
        over("items", n, self.max_items, "items")
    }

    pub fn tests(&self, field: &str, n: usize) -> Result<(), ApiError> {
        over(field, n, self.max_tests, "tests")
    }

    pub fn test_bytes(&self, field: &str, n: usize) -> Result<(), ApiError> {
        over(field, n, self.max_test_bytes, "bytes")
    }
}

fn over(field: &str, n: usize, limit: usize, unit: &str) -> Result<(), ApiError> {
    if n > limit {
        return Err(ApiError::too_large(
            field,
            format!("{field} has {n} {unit}; this server's limit is {limit}"),
        ));
    }
    Ok(())
}
