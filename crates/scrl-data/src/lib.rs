//! Problem schema, importers, prompts, seeded splits and the built-in task suite.
