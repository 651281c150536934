//! Typed access to the fields of one JSON object, so that every importer reports a wrong row the
//! same way: the field's name and what was expected. Knows nothing about any particular layout.

use serde_json::{Map, Value};

use crate::error::FieldError;

pub(crate) struct Row<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Row<'a> {
    pub(crate) fn new(value: &'a Value) -> Result<Self, FieldError> {
        match value {
            Value::Object(map) => Ok(Row { map }),
            other => Err(FieldError::new(
                "(row)",
                format!("expected a JSON object, found {}", kind_of(other)),
            )),
        }
    }

    pub(crate) fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The first of `names` that is present and not null.
    pub(crate) fn first_present(
        &self,
        names: &[&'static str],
    ) -> Option<(&'static str, &'a Value)> {
        names
            .iter()
            .find_map(|n| self.map.get(*n).filter(|v| !v.is_null()).map(|v| (*n, v)))
    }

    pub(crate) fn opt_str(&self, name: &str) -> Result<Option<&'a str>, FieldError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(FieldError::new(
                name,
                format!("expected a string, found {}", kind_of(other)),
            )),
        }
    }

    pub(crate) fn str(&self, name: &str) -> Result<&'a str, FieldError> {
        self.opt_str(name)?
            .ok_or_else(|| FieldError::new(name, "missing"))
    }

    /// A string, or a number written as its decimal text (ids and difficulties come both ways
    /// upstream).
    pub(crate) fn opt_text(&self, name: &str) -> Result<Option<String>, FieldError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(FieldError::new(
                name,
                format!("expected a string or number, found {}", kind_of(other)),
            )),
        }
    }

    pub(crate) fn opt_str_list(&self, name: &str) -> Result<Option<Vec<String>>, FieldError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => str_list(v).map(Some).map_err(|m| FieldError::new(name, m)),
        }
    }

    pub(crate) fn opt_i64(&self, name: &str) -> Result<Option<i64>, FieldError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(other) => Err(FieldError::new(
                name,
                format!("expected an integer, found {}", kind_of(other)),
            )),
        }
    }
}

/// A list of strings; the message says which element is wrong.
pub(crate) fn str_list(v: &Value) -> Result<Vec<String>, String> {
    let Value::Array(items) = v else {
        return Err(format!("expected a list of strings, found {}", kind_of(v)));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!(
                "element {i}: expected a string, found {}",
                kind_of(other)
            )),
        })
        .collect()
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
