//! Prompt building and code extraction: completion prompts are valid Python for every real stdin
//! problem; chat prompts render exactly as `transformers` renders them (expected strings produced
//! with Jinja2 3.1.6 in an ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, as
//! apply_chat_template does); extraction returns valid code unchanged.

mod common;

use common::{fixture, python_parse_failures, shared};
use scrl_data::prompt::{ChatMessage, ChatTemplate, chat_messages, completion_prompt};
use scrl_data::{Problem, extract_code, load_problems};

fn stdin_problems() -> Vec<Problem> {
    let mut ps = load_problems(&shared("apps_plus_examples.jsonl")).unwrap();
    ps.extend(load_problems(&shared("codecontests_cc300.jsonl")).unwrap());
    ps.extend(scrl_data::builtin::suite(42, 1));
    ps
}

#[test]
fn completion_prompts_for_stdin_problems_are_valid_python() {
    let ps = stdin_problems();
    let prompts: Vec<String> = ps.iter().map(completion_prompt).collect();
    assert_eq!(python_parse_failures(&prompts), []);
    // Prompt + reference is a program Python accepts: the completion is the whole program.
    let programs: Vec<String> = ps
        .iter()
        .filter_map(|p| {
            Some(format!(
                "{}{}",
                completion_prompt(p),
                p.reference_solution.as_ref()?
            ))
        })
        .collect();
    assert!(programs.len() > 300);
    assert_eq!(python_parse_failures(&programs), []);
    let p = &ps[0];
    let prompt = completion_prompt(p);
    assert!(prompt.starts_with("# Andryusha is an orderly boy"));
    assert!(prompt.ends_with(
        "# Write a complete Python 3 program that reads the input from \
         standard input and prints the answer to standard output.\n"
    ));
    assert!(
        !prompt.contains(&"\"\"\"".to_string()),
        "no docstring stub to nest (docs/data.md)"
    );
}

#[test]
fn function_call_prompts_name_the_function_and_show_a_test() {
    let mbpp = load_problems(&shared("mbpp.jsonl")).unwrap();
    let prompt = completion_prompt(&mbpp[0]);
    assert!(
        prompt.contains("# Write a Python 3 function `min_cost`"),
        "{prompt}"
    );
    assert!(
        prompt.contains("# assert min_cost([[1, 2, 3], [4, 8, 2], [1, 5, 3]], 2, 2) == 8"),
        "{prompt}"
    );
    let prompts: Vec<String> = mbpp.iter().map(completion_prompt).collect();
    assert_eq!(python_parse_failures(&prompts), []);
}

#[test]
fn humaneval_prompt_shows_the_signature_once_and_completes_to_the_reference() {
    let r = scrl_data::import_file(
        scrl_data::Format::HumanEval,
        &fixture("humaneval.jsonl"),
        &scrl_data::ImportOptions::default(),
        &indicatif::ProgressBar::hidden(),
    )
    .unwrap();
    let p = &r.problems[0];
    let prompt = completion_prompt(p);
    assert_eq!(prompt.matches("def add_three").count(), 1, "{prompt}");
    assert!(
        prompt.starts_with("# Write a Python 3 function `add_three`"),
        "{prompt}"
    );
    assert!(prompt.ends_with(p.starter_code.as_deref().unwrap()));
    let user = scrl_data::prompt::user_message(p);
    assert_eq!(user.matches("def add_three").count(), 1, "{user}");
}

fn qwen() -> ChatTemplate {
    ChatTemplate::from_tokenizer_config(&fixture("qwen2_tokenizer_config.json")).unwrap()
}

fn deepseek() -> ChatTemplate {
    ChatTemplate::from_tokenizer_config(&fixture("deepseek_coder_tokenizer_config.json")).unwrap()
}

#[test]
fn qwen2_template_renders_like_transformers() {
    let t = qwen();
    assert_eq!(t.eos_token.as_deref(), Some("<|im_end|>"));
    assert_eq!(t.bos_token, None);
    let one = t
        .render(&[ChatMessage::new("user", "Add two numbers.")], true)
        .unwrap();
    assert_eq!(
        one,
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful \
         assistant.<|im_end|>\n<|im_start|>user\nAdd two \
         numbers.<|im_end|>\n<|im_start|>assistant\n"
    );
    let conv = [
        ChatMessage::new("system", "Be brief."),
        ChatMessage::new("user", "Hi"),
        ChatMessage::new("assistant", "print(1)"),
    ];
    assert_eq!(
        t.render(&conv, false).unwrap(),
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n\
         <|im_start|>assistant\nprint(1)<|im_end|>\n"
    );
}

#[test]
fn deepseek_coder_template_renders_like_transformers() {
    let t = deepseek();
    assert_eq!(
        t.bos_token.as_deref(),
        Some("<\u{ff5c}begin\u{2581}of\u{2581}sentence\u{ff5c}>")
    );
    assert_eq!(t.eos_token.as_deref(), Some("<|EOT|>"));
    let one = t
        .render(&[ChatMessage::new("user", "Add two numbers.")], true)
        .unwrap();
    assert_eq!(
        one,
        "<\u{ff5c}begin\u{2581}of\u{2581}sentence\u{ff5c}>You are an AI programming assistant, \
         utilizing the Deepseek Coder model, developed by Deepseek Company, and you only answer \
         questions related to computer science. For politically sensitive questions, security and \
         privacy issues, and other non-computer science questions, you will refuse to answer\n### \
         Instruction:\nAdd two numbers.\n### Response:\n"
    );
    let conv = [
        ChatMessage::new("system", "Be brief."),
        ChatMessage::new("user", "Hi"),
        ChatMessage::new("assistant", "print(1)"),
    ];
    assert_eq!(
        t.render(&conv, false).unwrap(),
        "<\u{ff5c}begin\u{2581}of\u{2581}sentence\u{ff5c}>Be brief.### Instruction:\nHi\n### \
         Response:\nprint(1)\n<|EOT|>\n"
    );
}

#[test]
fn problem_chat_prompt_carries_statement_and_instruction() {
    let p = &scrl_data::builtin::suite(42, 1)[0];
    let s = deepseek().prompt(p, None).unwrap();
    assert!(
        s.contains(&format!(
            "### Instruction:\n{}\n\nWrite a complete Python 3 program",
            p.statement
        )),
        "{s}"
    );
    assert!(s.ends_with("```python block.\n### Response:\n"), "{s}");
    let msgs = chat_messages(p, Some("You write Python."));
    assert_eq!(msgs[0], ChatMessage::new("system", "You write Python."));
    let q = qwen().render(&msgs, true).unwrap();
    assert!(q.starts_with("<|im_start|>system\nYou write Python.<|im_end|>\n<|im_start|>user\n"));
}

#[test]
fn template_errors_are_reported_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer_config.json");
    std::fs::write(&path, r#"{"eos_token": "</s>"}"#).unwrap();
    let e = ChatTemplate::from_tokenizer_config(&path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("chat_template") && e.contains("missing"), "{e}");
    let broken = ChatTemplate {
        source: "{% for m in messages %}{{ m.content }".into(),
        bos_token: None,
        eos_token: None,
    };
    assert!(
        broken
            .render(&[ChatMessage::new("user", "x")], true)
            .is_err()
    );
    let raising = ChatTemplate {
        source: "{{ raise_exception('only user and assistant roles') }}".into(),
        bos_token: None,
        eos_token: None,
    };
    let e = raising.render(&[], true).unwrap_err().to_string();
    assert!(e.contains("only user and assistant roles"), "{e}");
    // Named templates: the `default` entry is used.
    std::fs::write(
        &path,
        r#"{"chat_template": [{"name": "tool_use", "template": "T"},
            {"name": "default", "template": "D{{ messages|length }}"}]}"#,
    )
    .unwrap();
    assert_eq!(
        ChatTemplate::from_tokenizer_config(&path)
            .unwrap()
            .render(&[], false)
            .unwrap(),
        "D0"
    );
}

#[test]
fn extraction_returns_every_real_reference_unchanged() {
    let mut refs: Vec<String> = load_problems(&shared("mbpp.jsonl"))
        .unwrap()
        .into_iter()
        .filter_map(|p| p.reference_solution)
        .collect();
    refs.extend(
        load_problems(&shared("codecontests_cc300.jsonl"))
            .unwrap()
            .into_iter()
            .filter_map(|p| p.reference_solution),
    );
    refs.extend(
        scrl_data::builtin::suite(7, 1)
            .into_iter()
            .filter_map(|p| p.reference_solution),
    );
    assert!(refs.len() > 1300);
    for r in &refs {
        assert_eq!(&extract_code(r), r, "bare code must come back unchanged");
        // Inside a fence, lines come back joined by \n (CRLF references are normalised).
        let fenced = format!(
            "Here is my solution:\n\n```python\n{}\n```\n\nThis reads the input and prints the \
             answer.",
            r.trim_end()
        );
        assert_eq!(
            extract_code(&fenced),
            format!("{}\n", r.trim_end().lines().collect::<Vec<_>>().join("\n"))
        );
    }
}

#[test]
fn extraction_strips_fences_and_prose() {
    let cases = [
        ("```python\nprint(1)\n```", "print(1)\n"),
        (
            "```py\nx = 1\nprint(x)\n```\nMore text",
            "x = 1\nprint(x)\n",
        ),
        (
            "Some text\n```\nprint(2)\n```\n```python\nprint(3)\n```",
            "print(3)\n",
        ),
        ("```python\nprint(4)\n", "print(4)\n"),
        (
            "Here's the code:\nn = int(input())\nprint(n * 2)\n\nThis program doubles n.\n",
            "n = int(input())\nprint(n * 2)\n",
        ),
        (
            "import sys\nprint(sys.stdin.read())\nExplanation:\n1. Read everything.\n",
            "import sys\nprint(sys.stdin.read())\n",
        ),
        ("print(5)\n\nNote: the input is one line.", "print(5)\n"),
        ("print(6)\n<|EOT|>", "print(6)\n"),
        (
            "def f():\n    \"\"\"This function does a thing\n\nIt is documented \
             here\n    \"\"\"\n    return 1\nprint(f())\n",
            "def f():\n    \"\"\"This function does a thing\n\nIt is documented \
             here\n    \"\"\"\n    return 1\nprint(f())\n",
        ),
        (
            "match x:\n    case 1:\n        print(1)\n",
            "match x:\n    case 1:\n        print(1)\n",
        ),
        ("x = (1 +\nsome thing)\n", "x = (1 +\nsome thing)\n"),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(extract_code(input), want, "input: {input:?}");
    }
}
