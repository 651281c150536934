//! Prompts built from problems: a completion prompt for base models (all comments, so it is valid
//! Python on its own and the completion is the whole program, no nested docstring stub), and chat
//! prompts rendered from the model's own `chat_template` (tokenizer_config.json) with minijinja,
//! the way `transformers` renders them. Knows nothing of tokenizers or models beyond that file.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DataError;
use crate::problem::{Problem, ProblemKind};

/// What the model is asked to write for a stdin problem.
pub const STDIN_INSTRUCTION: &str = "Write a complete Python 3 program that reads the input from \
    standard input and prints the answer to standard output.";

/// The prompt for base (completion) models. For a stdin problem every line is a comment, so the
/// prompt parses as Python and prompt + completion is the program. For a function-call problem with
/// starter code (HumanEval) the starter code follows the comments, as those benchmarks expect.
pub fn completion_prompt(problem: &Problem) -> String {
    let mut out = String::new();
    if !statement_is_starter(problem) {
        comment_block(&mut out, &problem.statement);
        out.push_str("#\n");
    }
    match &problem.kind {
        ProblemKind::Stdin => comment_block(&mut out, STDIN_INSTRUCTION),
        ProblemKind::FunctionCall { entry_point } => {
            comment_block(&mut out, &function_instruction(entry_point.as_deref()));
            for a in problem.capped_assert_tests(1) {
                comment_block(&mut out, a);
            }
            if let Some(starter) = &problem.starter_code {
                out.push_str(starter);
                return out;
            }
        }
    }
    out
}

/// The user turn of a chat prompt: the statement, then what to write and how to format it.
pub fn user_message(problem: &Problem) -> String {
    let mut out = String::new();
    if !statement_is_starter(problem) {
        out.push_str(problem.statement.trim_end());
        out.push_str("\n\n");
    }
    match &problem.kind {
        ProblemKind::Stdin => out.push_str(STDIN_INSTRUCTION),
        ProblemKind::FunctionCall { entry_point } => {
            out.push_str(&function_instruction(entry_point.as_deref()));
            for a in problem.capped_assert_tests(1) {
                out.push('\n');
                out.push_str(a);
            }
            if let Some(starter) = &problem.starter_code {
                out.push_str("\nStart from:\n```python\n");
                out.push_str(starter.trim_end());
                out.push_str("\n```");
            }
        }
    }
    out.push_str("\nReply with the code in one ```python block.");
    out
}

/// HumanEval's statement is its starter code (signature and docstring); showing it twice wastes
/// context.
fn statement_is_starter(problem: &Problem) -> bool {
    problem
        .starter_code
        .as_deref()
        .is_some_and(|s| s.contains(problem.statement.trim()))
}

fn function_instruction(entry_point: Option<&str>) -> String {
    match entry_point {
        Some(name) => format!(
            "Write a Python 3 function `{name}` that solves the problem above. It must pass tests \
             like:"
        ),
        None => "Write a Python 3 function that solves the problem above. It must pass tests like:"
            .to_string(),
    }
}

fn comment_block(out: &mut String, text: &str) {
    for line in text.trim_end().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.to_string(),
            content: content.into(),
        }
    }
}

/// The messages for one problem: an optional system turn, then the user turn.
pub fn chat_messages(problem: &Problem, system: Option<&str>) -> Vec<ChatMessage> {
    let mut v = Vec::new();
    if let Some(s) = system {
        v.push(ChatMessage::new("system", s));
    }
    v.push(ChatMessage::new("user", user_message(problem)));
    v
}

/// A model's chat template with the special tokens it refers to.
#[derive(Clone, Debug)]
pub struct ChatTemplate {
    pub source: String,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
}

impl ChatTemplate {
    /// Reads `chat_template`, `bos_token` and `eos_token` from a Hugging Face
    /// `tokenizer_config.json`.
    pub fn from_tokenizer_config(path: &Path) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let layout = |message: String| DataError::Layout {
            path: path.to_path_buf(),
            message,
        };
        let cfg: Value =
            serde_json::from_str(&text).map_err(|e| layout(format!("not valid JSON: {e}")))?;
        let source = match cfg.get("chat_template") {
            Some(Value::String(s)) => s.clone(),
            // Newer configs list named templates; `default` is the one `apply_chat_template` uses.
            Some(Value::Array(list)) => {
                let named = |want: Option<&str>| {
                    list.iter()
                        .find(|t| {
                            want.is_none_or(|w| t.get("name").and_then(Value::as_str) == Some(w))
                        })
                        .and_then(|t| t.get("template"))
                        .and_then(Value::as_str)
                };
                named(Some("default"))
                    .or_else(|| named(None))
                    .map(str::to_string)
                    .ok_or_else(|| {
                        layout(
                            "field `chat_template`: a list without any {name, template} entry"
                                .into(),
                        )
                    })?
            }
            Some(_) => {
                return Err(layout(
                    "field `chat_template`: expected a string or a list of {name, template}".into(),
                ));
            }
            None => {
                return Err(layout(
                    "field `chat_template`: missing (a base model: use the completion prompt)"
                        .into(),
                ));
            }
        };
        Ok(ChatTemplate {
            source,
            bos_token: special_token(&cfg, "bos_token"),
            eos_token: special_token(&cfg, "eos_token"),
        })
    }

    /// Renders `messages` as `transformers`' `apply_chat_template(..., tokenize=False)` does: Jinja
    /// with `trim_blocks` and `lstrip_blocks`, Python string methods, and `raise_exception`.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, DataError> {
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    msg,
                ))
            },
        );
        let err = |e: minijinja::Error| DataError::Template {
            message: format!("{e:#}"),
        };
        let tmpl = env.template_from_str(&self.source).map_err(err)?;
        tmpl.render(minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.as_deref().unwrap_or(""),
            eos_token => self.eos_token.as_deref().unwrap_or(""),
        })
        .map_err(err)
    }

    /// The chat prompt for one problem, ending where the assistant's answer starts.
    pub fn prompt(&self, problem: &Problem, system: Option<&str>) -> Result<String, DataError> {
        self.render(&chat_messages(problem, system), true)
    }
}

/// A special token is a string or an AddedToken object `{"content": ...}`.
fn special_token(cfg: &Value, key: &str) -> Option<String> {
    match cfg.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}
