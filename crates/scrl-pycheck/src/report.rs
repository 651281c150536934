//! Output formats for scan results: Bandit's JSON layout (so tools reading `bandit -f json` keep
//! working) and SARIF 2.1.0. Knows nothing about how findings were produced.

use serde_json::{Value, json};

use crate::finding::{Finding, ScanReport, Severity};

/// The scan of one file, named as it should appear in reports.
pub struct FileReport {
    pub filename: String,
    pub report: ScanReport,
}

/// `{"errors": [...], "results": [...]}` with Bandit's field names; unparsable files are listed
/// under `errors` with Bandit's reason, and their (native, partial-AST) findings are still listed.
pub fn to_bandit_json(files: &[FileReport]) -> Value {
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        if !file.report.parsed {
            errors.push(
                json!({ "filename": file.filename, "reason": "syntax error while parsing \
                    AST from file" }),
            );
        }
        for finding in &file.report.findings {
            let mut value = serde_json::to_value(finding).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                map.insert("filename".into(), Value::String(file.filename.clone()));
            }
            results.push(value);
        }
    }
    json!({ "errors": errors, "results": results })
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// A SARIF 2.1.0 log with one run; rules are the test ids that occur.
pub fn to_sarif(files: &[FileReport]) -> Value {
    let mut rule_ids: Vec<(&str, &str)> = Vec::new();
    let mut results = Vec::new();
    for file in files {
        for Finding {
            test_id,
            test_name,
            issue_severity,
            issue_confidence,
            line_number,
            col_offset,
            issue_text,
            ..
        } in &file.report.findings
        {
            if !rule_ids.iter().any(|(id, _)| id == test_id) {
                rule_ids.push((test_id, test_name));
            }
            results.push(json!({
                "ruleId": test_id,
                "level": sarif_level(*issue_severity),
                "message": { "text": issue_text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": file.filename },
                        "region": {
                            "startLine": line_number.max(&1),
                            "startColumn": col_offset + 1,
                        }
                    }
                }],
                "properties": {
                    "issue_severity": issue_severity,
                    "issue_confidence": issue_confidence,
                }
            }));
        }
    }
    rule_ids.sort_unstable();
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|(id, name)| json!({ "id": id, "name": name }))
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "securecoderl-scan", "rules": rules } },
            "results": results
        }]
    })
}
