use scrl_sandbox::*;
fn main() {
    let preload: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg = SandboxConfig { workers: 1, ..SandboxConfig::default() };
    if preload.first().map(|s| s.as_str()) == Some("none") { cfg.preload = vec![]; }
    let c0 = plain::cpu_time_with_reaped_children();
    let sb = Sandbox::new(cfg).unwrap();
    let n = 500;
    let t = std::time::Instant::now();
    let mut child_cpu = 0;
    for _ in 0..n {
        let e = sb.run("pass", b"", &Limits::default()).unwrap();
        child_cpu += e.cpu_time_ms;
    }
    let el = t.elapsed();
    drop(sb);
    let c1 = plain::cpu_time_with_reaped_children();
    println!("per run wall {:.2} ms, total cpu {:.2} ms, child cpu {:.2} ms", el.as_secs_f64()*1000.0/n as f64, (c1-c0).as_secs_f64()*1000.0/n as f64, child_cpu as f64/n as f64);
}
