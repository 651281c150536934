//! `cargo bench -p scrl-pycheck --bench scan`: the scanner benchmark table with this crate built
//! optimised (the CLI's `securecoderl bench scan` prints the same table for however the binary was
//! built). Needs `$SCRL_BANDIT`. Optional arguments: CORPUS (a directory or a problems JSONL)
//! MAX_FILES.

fn main() {
    let Some(bandit) = std::env::var_os(scrl_pycheck::BANDIT_ENV).filter(|v| !v.is_empty()) else {
        eprintln!(
            "set {} to a bandit executable (scripts/setup-test-env installs one in .venv)",
            scrl_pycheck::BANDIT_ENV
        );
        std::process::exit(2);
    };
    // `cargo bench` passes `--bench`; positional arguments are the corpus and the file count.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let corpus = args.first().map_or("/usr/lib/python3.11", String::as_str);
    let files = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100);
    match scrl_pycheck::bench::run_scan_benchmark(
        std::path::Path::new(corpus),
        files,
        std::path::Path::new(&bandit),
        2.0,
    ) {
        Ok(table) => println!("{table}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
