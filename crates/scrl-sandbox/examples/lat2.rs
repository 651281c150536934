use scrl_sandbox::*;
fn main() {
    let sb = Sandbox::new(SandboxConfig { workers: 1, ..SandboxConfig::default() }).unwrap();
    for _ in 0..5 {
        let e = sb.run("import time\nt=time.perf_counter_ns()\nimport sys\nsys.stderr.write('prog %d\\n' % 0)", b"", &Limits::default()).unwrap();
        print!("{} cpu {} rss {}\n", String::from_utf8_lossy(&e.stderr), e.cpu_time_ms, e.max_rss_kb);
    }
}
