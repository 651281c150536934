//! JSON values written as Python literals, for turning APPS function-call tests (argument lists and
//! expected results stored as JSON) into assert lines.

use serde_json::Value;

pub(crate) fn py_literal(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&n.to_string()),
        // JSON string escapes (\n, \", \\, \uXXXX) mean the same inside a Python double-quoted
        // string.
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(x, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, x)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                write(x, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::py_literal;

    #[test]
    fn json_becomes_python() {
        let v: serde_json::Value =
            serde_json::from_str(r#"[null, true, false, 1.5, -3, "a\"b\n", {"k": [1]}]"#).unwrap();
        assert_eq!(
            py_literal(&v),
            r#"[None, True, False, 1.5, -3, "a\"b\n", {"k": [1]}]"#
        );
    }
}
