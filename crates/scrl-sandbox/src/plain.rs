//! The authors' way of running a test, kept as the benchmark baseline: a fresh `python3 file.py`
//! process per test, stdin fed through a pipe, stdout/stderr captured through pipes, a wall-clock
//! timeout, the caller's environment, and no isolation at all. Never use it for untrusted code.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a plain run produced.
#[derive(Clone, Debug)]
pub struct PlainRun {
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub wall_time_ms: u64,
}

/// Runs `python program_path` with `stdin`, killing it after `wall_limit`.
pub fn run_plain(
    python: &Path,
    program_path: &Path,
    stdin: &[u8],
    wall_limit: Duration,
) -> std::io::Result<PlainRun> {
    let start = Instant::now();
    let mut child = Command::new(python)
        .arg(program_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    // SAFETY: pidfd_open on our own unreaped child.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if pidfd < 0 {
        let e = std::io::Error::last_os_error();
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    // SAFETY: the kernel just returned this descriptor.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    let mut input = child.stdin.take().expect("piped stdin");
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // A program that exits without reading all of stdin closes the pipe: not an error here.
        let _ = input.write_all(&data);
    });
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let mut p = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = wall_limit.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    let timed_out = unsafe { libc::poll(&mut p, 1, ms) } == 0;
    if timed_out {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let _ = writer.join();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(PlainRun {
        exit_code: status.code(),
        timed_out,
        stdout,
        stderr,
        wall_time_ms: start.elapsed().as_millis() as u64,
    })
}

/// User + system CPU time of this process plus every descendant it has reaped (`RUSAGE_SELF` +
/// `RUSAGE_CHILDREN`). A dropped [`crate::Sandbox`] has reaped its zygotes, which reaped their test
/// children, so measuring around a sandbox's whole life accounts all of its work.
pub fn cpu_time_with_reaped_children() -> Duration {
    let mut total = Duration::ZERO;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: an all-zero rusage is valid, and getrusage only writes into it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer to a rusage.
        unsafe { libc::getrusage(who, &mut ru) };
        for tv in [ru.ru_utime, ru.ru_stime] {
            total += Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
        }
    }
    total
}
