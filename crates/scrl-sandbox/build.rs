//! Compiles the in-child lockdown helper (`lockdown/lockdown.rs`) into a shared object with the
//! same `rustc` that builds this crate, so the supervisor can embed it: no extra crate, tool or
//! install step.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=lockdown/lockdown.rs");
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("liblockdown.so");
    let target = env::var("TARGET").unwrap_or_default();
    if target != "x86_64-unknown-linux-gnu" {
        // The helper's syscall table is x86_64's; elsewhere the sandbox refuses to start (see
        // isolation.rs).
        std::fs::write(&out, b"").expect("write placeholder helper");
        return;
    }
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2024",
            "--crate-type",
            "cdylib",
            "--crate-name",
            "scrl_lockdown",
        ])
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
        ])
        .arg("-o")
        .arg(&out)
        .arg("lockdown/lockdown.rs")
        .status()
        .expect("run rustc for the lockdown helper");
    assert!(
        status.success(),
        "rustc failed to build lockdown/lockdown.rs"
    );
}
