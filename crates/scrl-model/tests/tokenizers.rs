//! Checkpoint-style tokenizer.json files built by Python `tokenizers` (tests/fixtures/tokenizers/
//! make_tokenizers.py): the same ids as Python, exact round trips, and the checkpoint's
//! EOS/BOS/pad.

use std::path::{Path, PathBuf};

use scrl_model::Tokenizer;

fn fixture(name: &str) -> (PathBuf, String, Vec<u32>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tokenizers")
        .join(name);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    (
        dir,
        v["sample"].as_str().unwrap().to_string(),
        serde_json::from_value(v["ids"].clone()).unwrap(),
    )
}

#[test]
fn qwen2_style_split_regex_matches_python() {
    let (dir, sample, ids) = fixture("qwen2_style");
    let tok = Tokenizer::load(&dir).unwrap();
    assert_eq!(tok.encode(&sample, true).unwrap(), ids);
    assert_eq!(tok.decode(&ids, false).unwrap(), sample);
    let im_end = tok.inner().token_to_id("<|im_end|>").unwrap();
    let eot = tok.inner().token_to_id("<|endoftext|>").unwrap();
    // generation_config.json's list wins over tokenizer_config.json's single eos_token.
    assert_eq!(tok.eos_ids(), &[im_end, eot]);
    assert_eq!(tok.pad_id(), eot);
    assert_eq!(*ids.last().unwrap(), im_end);
}

#[test]
fn deepseek_style_bos_template_and_eos_from_tokenizer_config() {
    let (dir, sample, ids) = fixture("deepseek_style");
    let tok = Tokenizer::load(&dir).unwrap();
    let bos = tok.inner().token_to_id("<｜begin▁of▁sentence｜>").unwrap();
    assert_eq!(tok.bos_id(), Some(bos));
    assert_eq!(
        tok.eos_ids(),
        &[tok.inner().token_to_id("<|EOT|>").unwrap()]
    );
    let got = tok.encode(&sample, true).unwrap();
    assert_eq!(got, ids);
    assert_eq!(got[0], bos, "the template prepends BOS");
    assert_eq!(tok.encode(&sample, false).unwrap(), ids[1..]);
    assert_eq!(tok.decode(&got[1..], false).unwrap(), sample);
}
