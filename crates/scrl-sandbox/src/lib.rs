//! Runs untrusted Python programs against stdin tests, locked down by the kernel.
//! Knows nothing about rewards, problems or models.
//!
//! Design (its measurements are summarised in docs/sandbox.md): a pool of warm CPython zygotes (`-S
//! -I -E -B`, empty environment, a fixed list of preloaded pure-stdlib modules), one per worker,
//! each in fresh pid, net, mount, ipc and uts namespaces. Every test is a `fork()` of a zygote; the
//! child locks itself down in native code (the helper in `lockdown/lockdown.rs`, loaded through
//! `ctypes` before any untrusted code exists): rlimits, an unprivileged uid of its worker slot,
//! no_new_privs, Landlock (interpreter and libraries read-only, nothing writable, no TCP, signals
//! and abstract sockets scoped) and a seccomp allowlist (threads but no processes, no exec, no
//! sockets, signals only to itself; escape attempts kill the process with SIGSYS). The program, its
//! stdin and its stdout/stderr travel through memfds (stdin is a regular file, output is capped by
//! RLIMIT_FSIZE). The zygote enforces the wall limit with a pidfd, then kills and reaps everything
//! else in its pid namespace. Compare with [`compare`].

pub mod compare;
mod isolation;
// The helper is built separately by build.rs; its filter logic is unit-tested here.
#[cfg(test)]
#[path = "../lockdown/lockdown.rs"]
mod lockdown;
pub mod plain;
mod traceback;
mod verdict;
mod zygote;

use std::io::Write;
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex};

pub use compare::CompareMode;
pub use isolation::IsolationReport;
pub use traceback::exception_type;
pub use verdict::{Execution, Outcome, Verdict, judge};

use verdict::{RunFacts, classify};
use zygote::{Request, Shared, Worker};

/// The lockdown helper built by `build.rs` (empty on targets other than x86_64 Linux/glibc).
const HELPER_SO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/liblockdown.so"));

pub(crate) const FLAG_SETUID: u64 = 1;
pub(crate) const FLAG_SECCOMP: u64 = 2;
pub(crate) const FLAG_LANDLOCK: u64 = 4;

/// Pure-stdlib modules every zygote imports once, so programs that use them skip the import cost.
/// Chosen by use in the cc300 references (collections 61 of 300, math 54, heapq 21, bisect and
/// itertools 14, random 10, threading 8, ...); every preloaded module makes each fork a little
/// dearer, so rarely used ones with many dependencies (typing, re, string, fractions, decimal) are
/// left out.
pub const DEFAULT_PRELOAD: &[&str] = &[
    "array",
    "bisect",
    "collections",
    "functools",
    "heapq",
    "itertools",
    "math",
    "operator",
    "random",
    "threading",
];

/// Library directories a child may read besides the interpreter's own `sys.path` (the shared
/// objects that stdlib extension modules such as `_decimal` or `_ctypes` link against).
const LIBRARY_DIRS: &[&str] = &[
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
];

/// Each sandbox gets its own block of this many uids; worker slot `i` runs as `uid_base + i`.
const UID_BLOCK: u32 = 256;

/// How to build a [`Sandbox`]: the `[sandbox]` section of a run's config. Every field is also a
/// flag of the commands that run programs (`--python`, `--workers`, ...), with this text as its
/// help.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Python interpreter the sandbox runs (its stdlib must be readable by an unprivileged uid).
    #[arg(long)]
    pub python: PathBuf,
    /// Sandbox worker processes, i.e. tests that can run at once (default: one per core).
    #[arg(long)]
    pub workers: usize,
    /// Run even when the kernel lacks a required isolation layer (announced on every run). Unsafe.
    #[arg(long = "allow-weak-sandbox")]
    pub allow_weak: bool,
    /// A worker is replaced after this many tests (and after any anomaly).
    #[arg(long)]
    pub recycle_after: u64,
    /// Modules each worker imports before serving, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub preload: Vec<String>,
    /// First uid of this sandbox's block of 256 (default: one picked from the process id).
    #[arg(long)]
    pub uid_base: Option<u32>,
    /// RLIMIT_NOFILE of a test.
    #[arg(long)]
    pub open_files: u64,
    /// RLIMIT_NPROC of a test (threads count; new processes are refused by seccomp anyway).
    #[arg(long)]
    pub processes: u64,
    /// RLIMIT_STACK of a test in bytes, capped at the memory limit.
    #[arg(long)]
    pub stack_bytes: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            python: PathBuf::from("/usr/bin/python3"),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            allow_weak: false,
            recycle_after: 5000,
            preload: DEFAULT_PRELOAD.iter().map(|s| s.to_string()).collect(),
            uid_base: None,
            open_files: 64,
            processes: 32,
            stack_bytes: 256 << 20,
        }
    }
}

/// Limits of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// CPU time (user + system, all threads). Enforced by RLIMIT_CPU (whole seconds, rounded up)
    /// and checked exactly after exit.
    pub cpu_time_ms: u64,
    /// Wall-clock backstop (sleeping or blocked programs).
    pub wall_time_ms: u64,
    /// Address space (RLIMIT_AS).
    pub memory_bytes: u64,
    /// Cap on stdout and on stderr, each.
    pub output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_time_ms: 2000,
            wall_time_ms: 10_000,
            memory_bytes: 512 << 20,
            output_bytes: 8 << 20,
        }
    }
}

/// Why the sandbox could not start or could not run a program (never a verdict about the program).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox supports x86_64 Linux with glibc only (its seccomp table is x86_64's)")]
    UnsupportedPlatform,
    #[error(
        "required isolation layer missing: {0}; refusing to run untrusted code \
         (set SandboxConfig::allow_weak to run without it)"
    )]
    LayerMissing(String),
    #[error("interpreter {python}: {detail}")]
    Interpreter { python: PathBuf, detail: String },
    #[error("cannot start zygote {python}: {source}")]
    Spawn {
        python: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Os {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("invalid limits: {field} = {value}: {why}")]
    InvalidLimits {
        field: &'static str,
        value: u64,
        why: &'static str,
    },
    #[error("zygote in worker slot {slot} failed twice: {detail}")]
    Worker { slot: usize, detail: String },
    #[error(
        "the child's lockdown failed at the {step} step (exit status {status}); nothing was run"
    )]
    Lockdown { step: &'static str, status: i32 },
    #[error("self-test failed: {0}")]
    SelfTest(String),
}

struct Slot {
    index: usize,
    worker: Option<Worker>,
}

/// A pool of locked-down Python zygotes. `Send + Sync`: call [`Sandbox::run`] from many threads.
pub struct Sandbox {
    cfg: SandboxConfig,
    shared: Shared,
    isolation: IsolationReport,
    flags: u64,
    version: (u32, u32),
    uid_base: u32,
    idle: Mutex<Vec<Slot>>,
    available: Condvar,
}

static INSTANCES: AtomicU32 = AtomicU32::new(0);

fn default_uid_base() -> u32 {
    // Distinct per process and per sandbox in it, so concurrent sandboxes (tests run in parallel)
    // never share a uid, and so never share an RLIMIT_NPROC count.
    let n = INSTANCES.fetch_add(1, Ordering::Relaxed) % 16;
    1_000_000 + ((std::process::id() % 2048) * 16 + n) * UID_BLOCK
}

struct InterpreterInfo {
    version: (u32, u32),
    paths: Vec<PathBuf>,
}

fn inspect_interpreter(python: &Path) -> Result<InterpreterInfo, SandboxError> {
    let err = |detail: String| SandboxError::Interpreter {
        python: python.to_path_buf(),
        detail,
    };
    let out = std::process::Command::new(python)
        .args(["-S", "-I", "-E", "-B", "-c"])
        .arg("import sys\nprint(*sys.version_info[:2])\nfor p in sys.path:\n    print(p)")
        .env_clear()
        .output()
        .map_err(|e| err(format!("cannot run it: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let mut nums = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::parse::<u32>);
    let version = match (nums.next(), nums.next()) {
        (Some(Ok(a)), Some(Ok(b))) => (a, b),
        _ => return Err(err(format!("unexpected version output {text:?}"))),
    };
    if version < (3, 9) {
        return Err(err(format!(
            "Python {}.{} is too old (the zygote needs 3.9+ for os.pidfd_open)",
            version.0, version.1
        )));
    }
    let paths = lines.filter(|l| !l.is_empty()).map(PathBuf::from).collect();
    Ok(InterpreterInfo { version, paths })
}

impl Sandbox {
    /// Detects the isolation layers, starts `cfg.workers` zygotes and runs a self-test.
    /// The config this sandbox was built from.
    pub fn config(&self) -> &SandboxConfig {
        &self.cfg
    }

    pub fn new(cfg: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let probe = isolation::probe();
        if !probe.x86_64 || HELPER_SO.is_empty() {
            return Err(SandboxError::UnsupportedPlatform);
        }
        let mut missing = Vec::new();
        if let Err(e) = &probe.namespaces {
            missing.push(format!("namespaces ({e})"));
        }
        if probe.landlock_abi == 0 {
            missing.push(
                "Landlock (landlock_create_ruleset reports no ABI; is `landlock` in the LSM list?)"
                    .into(),
            );
        }
        if let Err(e) = &probe.seccomp {
            missing.push(format!("seccomp ({e})"));
        }
        if !probe.root {
            missing.push("unprivileged uid (switching to a per-slot uid needs root)".into());
        }
        if !missing.is_empty() && !cfg.allow_weak {
            return Err(SandboxError::LayerMissing(missing.join("; ")));
        }
        let info = inspect_interpreter(&cfg.python)?;
        let ruleset: Option<OwnedFd> = if probe.landlock_abi > 0 {
            let mut readable: Vec<&Path> = info.paths.iter().map(PathBuf::as_path).collect();
            readable.extend(LIBRARY_DIRS.iter().map(Path::new));
            Some(
                isolation::landlock_ruleset(probe.landlock_abi, &readable, &[]).map_err(
                    |source| SandboxError::Os {
                        what: "building the Landlock ruleset",
                        source,
                    },
                )?,
            )
        } else {
            None
        };
        let mut flags = 0;
        if ruleset.is_some() {
            flags |= FLAG_LANDLOCK;
        }
        if probe.seccomp.is_ok() {
            flags |= FLAG_SECCOMP;
        }
        if probe.root {
            flags |= FLAG_SETUID;
        }
        let mut helper = zygote::memfd(c"scrl-lockdown.so")?;
        helper
            .write_all(HELPER_SO)
            .map_err(|source| SandboxError::Os {
                what: "writing the lockdown helper",
                source,
            })?;
        let isolation = IsolationReport {
            namespaces: probe.namespaces.is_ok(),
            landlock_abi: probe.landlock_abi,
            landlock_fs: ruleset.is_some(),
            landlock_tcp: probe.landlock_abi >= 4,
            landlock_scopes: probe.landlock_abi >= 6,
            seccomp: probe.seccomp.is_ok(),
            unprivileged_uid: probe.root,
            rlimits: true,
            weak: !missing.is_empty(),
            missing,
        };
        let shared = Shared {
            python: cfg.python.clone(),
            helper: helper.into(),
            ruleset,
            namespaces: probe.namespaces.is_ok(),
            preload: cfg.preload.join(","),
        };
        let workers = cfg.workers.clamp(1, UID_BLOCK as usize);
        let mut slots = Vec::with_capacity(workers);
        for index in 0..workers {
            slots.push(Slot {
                index,
                worker: Some(Worker::spawn(&shared)?),
            });
        }
        let sandbox = Sandbox {
            uid_base: cfg.uid_base.unwrap_or_else(default_uid_base),
            cfg,
            shared,
            isolation,
            flags,
            version: info.version,
            idle: Mutex::new(slots),
            available: Condvar::new(),
        };
        sandbox.self_test()?;
        Ok(sandbox)
    }

    /// One program that needs a non-preloaded stdlib module with a C extension and its shared
    /// library (`_decimal` links libmpdec): catches an unreadable stdlib or a Landlock rule set
    /// that is too tight.
    fn self_test(&self) -> Result<(), SandboxError> {
        let program = "import json, decimal, zlib\nprint(json.dumps([int(input()) * 2, \
            str(decimal.Decimal(1) / 4)]))\n";
        let e = self.run(program, b"21\n", &Limits::default())?;
        if e.outcome != Outcome::Exited || e.stdout != b"[42, \"0.25\"]\n" {
            return Err(SandboxError::SelfTest(format!(
                "expected [42, \"0.25\"], got {:?} with stdout {:?} and stderr {:?}",
                e.outcome,
                String::from_utf8_lossy(&e.stdout),
                String::from_utf8_lossy(&e.stderr)
            )));
        }
        Ok(())
    }

    /// `(major, minor)` of the interpreter the zygotes run.
    pub fn python_version(&self) -> (u32, u32) {
        self.version
    }

    /// Which isolation layers are in force.
    pub fn isolation(&self) -> &IsolationReport {
        &self.isolation
    }

    /// The uids children of this sandbox run as (one per worker slot).
    pub fn uids(&self) -> Range<u32> {
        self.uid_base..self.uid_base + self.cfg.workers.clamp(1, UID_BLOCK as usize) as u32
    }

    fn checkout(&self) -> Slot {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(slot) = idle.pop() {
                return slot;
            }
            idle = self.available.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn checkin(&self, slot: Slot) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(slot);
        self.available.notify_one();
    }

    /// Runs `program` with `stdin` under `limits`. `Err` means the sandbox failed, not the program.
    pub fn run(
        &self,
        program: &str,
        stdin: &[u8],
        limits: &Limits,
    ) -> Result<Execution, SandboxError> {
        if self.isolation.weak {
            eprintln!(
                "WARNING: scrl-sandbox runs in WEAK mode, missing: {}",
                self.isolation.missing.join("; ")
            );
        }
        let check = |field, value: u64, ok: bool, why| {
            if ok {
                Ok(())
            } else {
                Err(SandboxError::InvalidLimits { field, value, why })
            }
        };
        check(
            "cpu_time_ms",
            limits.cpu_time_ms,
            limits.cpu_time_ms > 0,
            "must be positive",
        )?;
        check(
            "wall_time_ms",
            limits.wall_time_ms,
            limits.wall_time_ms > 0,
            "must be positive",
        )?;
        check(
            "memory_bytes",
            limits.memory_bytes,
            limits.memory_bytes >= 32 << 20,
            "CPython needs at least 32 MiB",
        )?;
        check(
            "output_bytes",
            limits.output_bytes,
            limits.output_bytes > 0,
            "must be positive",
        )?;
        let cpu_soft_s = limits.cpu_time_ms.div_ceil(1000);
        let mut slot = self.checkout();
        let req = Request {
            program: program.as_bytes(),
            stdin,
            cpu_soft_s,
            cpu_hard_s: cpu_soft_s.saturating_add(1),
            address_space_bytes: limits.memory_bytes,
            file_size_bytes: limits.output_bytes.saturating_add(1),
            open_files: self.cfg.open_files,
            processes: self.cfg.processes,
            stack_bytes: self.cfg.stack_bytes.min(limits.memory_bytes),
            uid: self.uid_base + slot.index as u32,
            flags: self.flags,
            // poll(2) takes an i32 of milliseconds (about 24 days): longer is the same as
            // unlimited.
            wall_ms: limits.wall_time_ms.min(i32::MAX as u64),
            output_cap: limits.output_bytes,
        };
        let result = self.run_in_slot(&mut slot, &req);
        self.checkin(slot);
        let raw = result?;
        let status = raw.status;
        let (exit_code, signal) = if libc::WIFEXITED(status) {
            (Some(libc::WEXITSTATUS(status)), None)
        } else if libc::WIFSIGNALED(status) {
            (None, Some(libc::WTERMSIG(status)))
        } else {
            (None, None)
        };
        let cpu_time_ms = raw.cpu_us / 1000;
        let stdout_truncated = raw.stdout_size > limits.output_bytes;
        let stderr_truncated = raw.stderr_size > limits.output_bytes;
        let outcome = classify(&RunFacts {
            exit_code,
            signal,
            cpu_time_ms,
            cpu_limit_ms: limits.cpu_time_ms,
            wall_killed: raw.wall_killed,
            max_rss_kb: raw.max_rss_kb,
            memory_limit_bytes: limits.memory_bytes,
            output_hit_cap: stdout_truncated || stderr_truncated,
            compile_refused: raw.compile_refused,
            stderr: &raw.stderr,
        });
        Ok(Execution {
            outcome,
            exit_code,
            signal,
            stdout: raw.stdout,
            stderr: raw.stderr,
            stdout_truncated,
            stderr_truncated,
            cpu_time_ms,
            wall_time_ms: raw.wall_us / 1000,
            max_rss_kb: raw.max_rss_kb,
        })
    }

    /// Runs on the slot's zygote, replacing it (and retrying once) when it misbehaves or is due.
    fn run_in_slot(
        &self,
        slot: &mut Slot,
        req: &Request<'_>,
    ) -> Result<zygote::RawRun, SandboxError> {
        let mut last_fault = String::new();
        for _attempt in 0..2 {
            if slot.worker.is_none() {
                slot.worker = Some(Worker::spawn(&self.shared)?);
            }
            let worker = slot.worker.as_mut().expect("just ensured");
            match worker.run(req) {
                Ok(raw) if raw.lockdown_ok => {
                    worker.runs += 1;
                    if worker.runs >= self.cfg.recycle_after {
                        slot.worker = None;
                    }
                    return Ok(raw);
                }
                Ok(raw) => {
                    slot.worker = None;
                    return Err(SandboxError::Lockdown {
                        step: lockdown_step(raw.status),
                        status: raw.status,
                    });
                }
                Err(fault) => {
                    last_fault = format!("{fault}; zygote log: {}", worker.log().trim());
                    slot.worker = None;
                }
            }
        }
        Err(SandboxError::Worker {
            slot: slot.index,
            detail: last_fault,
        })
    }
}

/// Names the helper step from the child's exit status (100 + step, see python/zygote.py).
fn lockdown_step(status: i32) -> &'static str {
    if !libc::WIFEXITED(status) {
        return "unknown (killed)";
    }
    match libc::WEXITSTATUS(status) - 100 {
        1 => "rlimit",
        2 => "uid switch",
        3 => "no_new_privs",
        4 => "Landlock",
        5 => "seccomp",
        6 => "close descriptors",
        7 => "report",
        _ => "preparation",
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // Ask every zygote to exit first, then wait: they shut down in parallel.
        for slot in idle.iter_mut() {
            if let Some(w) = slot.worker.as_mut() {
                w.close_requests();
            }
        }
        for slot in idle.iter_mut() {
            if let Some(mut w) = slot.worker.take() {
                w.reap();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Sandbox>();
    }

    #[test]
    fn default_limits_and_config() {
        let l = Limits::default();
        assert_eq!(
            (
                l.cpu_time_ms,
                l.wall_time_ms,
                l.memory_bytes,
                l.output_bytes
            ),
            (2000, 10_000, 512 << 20, 8 << 20)
        );
        let c = SandboxConfig::default();
        assert_eq!(c.python, PathBuf::from("/usr/bin/python3"));
        assert!(c.workers >= 1 && !c.allow_weak);
    }

    #[test]
    fn lockdown_steps_are_named() {
        assert_eq!(lockdown_step(104 << 8), "Landlock");
        assert_eq!(lockdown_step(9), "unknown (killed)");
    }
}
