//! Reading a trainer config from TOML: the keys are the config struct's fields (the same names as
//! the CLI flags, with `_` for `-`); unknown keys are errors that name the key.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::TrainError;

pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::Io {
        path: path.to_path_buf(),
        error: e,
    })?;
    toml::from_str(&text).map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))
}
