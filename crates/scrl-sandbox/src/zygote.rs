//! One worker: a warm CPython zygote in its own namespaces, the pipes that carry requests and
//! replies, and the memfds that carry the program, stdin and the captured output. The supervisor
//! side never forks by itself: it starts zygotes with `Command` + `pre_exec` (fork-then-exec,
//! async-signal-safe calls only).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::SandboxError;

/// The zygote's source; it runs with `python -S -I -E -B -c`.
const ZYGOTE_PY: &str = include_str!("../python/zygote.py");

/// What every zygote of one sandbox shares.
pub(crate) struct Shared {
    pub python: PathBuf,
    /// memfd holding the lockdown helper (an ELF shared object).
    pub helper: OwnedFd,
    pub ruleset: Option<OwnedFd>,
    pub namespaces: bool,
    pub preload: String,
}

/// One test as the zygote receives it.
pub(crate) struct Request<'a> {
    pub program: &'a [u8],
    pub stdin: &'a [u8],
    pub cpu_soft_s: u64,
    pub cpu_hard_s: u64,
    pub address_space_bytes: u64,
    /// RLIMIT_FSIZE: one byte above the output cap, so reaching it proves the cap was exceeded.
    pub file_size_bytes: u64,
    pub open_files: u64,
    pub processes: u64,
    pub stack_bytes: u64,
    pub uid: u32,
    pub flags: u64,
    pub wall_ms: u64,
    pub output_cap: u64,
}

/// What the zygote reported, plus the captured output.
pub(crate) struct RawRun {
    pub status: i32,
    pub cpu_us: u64,
    pub max_rss_kb: u64,
    pub wall_us: u64,
    pub wall_killed: bool,
    pub lockdown_ok: bool,
    /// CPython refused to compile the program (reported by the child before any of it ran).
    pub compile_refused: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_size: u64,
    pub stderr_size: u64,
}

pub(crate) struct Worker {
    child: Child,
    req: Option<File>,
    rep: File,
    src: File,
    stdin: File,
    stdout: File,
    stderr: File,
    log: File,
    pub runs: u64,
}

const NO_RULESET: u64 = u64::MAX;
const REPLY_WORDS: usize = 9;
/// Slack on top of the wall limit before the supervisor gives up on a zygote's reply.
const REPLY_GRACE: Duration = Duration::from_secs(10);

fn cvt(rc: libc::c_int, what: &'static str) -> Result<libc::c_int, SandboxError> {
    if rc < 0 {
        Err(SandboxError::Os {
            what,
            source: std::io::Error::last_os_error(),
        })
    } else {
        Ok(rc)
    }
}

pub(crate) fn memfd(name: &std::ffi::CStr) -> Result<File, SandboxError> {
    // No MFD_ALLOW_SEALING: a child must not be able to seal a buffer the supervisor reuses.
    // SAFETY: name is NUL-terminated.
    let fd = cvt(
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) },
        "memfd_create",
    )?;
    // SAFETY: fresh descriptor we own.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn pipe() -> Result<(File, File), SandboxError> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    cvt(
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) },
        "pipe2",
    )?;
    // SAFETY: fresh descriptors we own.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// A close-on-exec copy numbered >= 64, so that `pre_exec`'s dup2 onto 3..=10 never clobbers a
/// source.
fn high_copy(fd: RawFd) -> Result<OwnedFd, SandboxError> {
    // SAFETY: fd is open; F_DUPFD_CLOEXEC returns a new descriptor we own.
    let n = cvt(
        unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 64) },
        "fcntl(F_DUPFD_CLOEXEC)",
    )?;
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

impl Worker {
    pub fn spawn(shared: &Shared) -> Result<Worker, SandboxError> {
        let (req_r, req_w) = pipe()?;
        let (rep_r, rep_w) = pipe()?;
        let src = memfd(c"scrl-src")?;
        let stdin = memfd(c"scrl-stdin")?;
        let stdout = memfd(c"scrl-stdout")?;
        let stderr = memfd(c"scrl-stderr")?;
        let log = memfd(c"scrl-zygote-log")?;
        let mut sources: Vec<OwnedFd> = Vec::with_capacity(8);
        for fd in [
            req_r.as_raw_fd(),
            rep_w.as_raw_fd(),
            shared.helper.as_raw_fd(),
        ] {
            sources.push(high_copy(fd)?);
        }
        let ruleset = match &shared.ruleset {
            Some(r) => Some(high_copy(r.as_raw_fd())?),
            None => None,
        };
        let mut rest = Vec::with_capacity(4);
        for f in [&src, &stdin, &stdout, &stderr] {
            rest.push(high_copy(f.as_raw_fd())?);
        }
        // Targets 3..=10 in the zygote; -1 leaves the ruleset slot empty.
        let map: [RawFd; 8] = [
            sources[0].as_raw_fd(),
            sources[1].as_raw_fd(),
            sources[2].as_raw_fd(),
            ruleset.as_ref().map_or(-1, |r| r.as_raw_fd()),
            rest[0].as_raw_fd(),
            rest[1].as_raw_fd(),
            rest[2].as_raw_fd(),
            rest[3].as_raw_fd(),
        ];
        let namespaces = shared.namespaces;
        let mut cmd = Command::new(&shared.python);
        cmd.args(["-S", "-I", "-E", "-B", "-c", ZYGOTE_PY])
            .arg(if namespaces { "1" } else { "0" })
            .arg(&shared.preload)
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log.try_clone().map_err(|source| {
                SandboxError::Os {
                    what: "dup zygote log",
                    source,
                }
            })?));
        // No PR_SET_PDEATHSIG here: it fires when the spawning *thread* exits (a finished test
        // thread, a retired pool thread), not the process. A dead supervisor is noticed anyway: its
        // end of the request pipe closes, the zygote reads EOF and exits, and its pid namespace
        // goes with it. SAFETY: the closure only makes async-signal-safe syscalls (dup2, unshare,
        // mount) and builds io::Error from errno, which does not allocate.
        unsafe {
            cmd.pre_exec(move || {
                for (i, &fd) in map.iter().enumerate() {
                    if fd >= 0 && libc::dup2(fd, 3 + i as RawFd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if namespaces {
                    let flags = libc::CLONE_NEWPID
                        | libc::CLONE_NEWNET
                        | libc::CLONE_NEWNS
                        | libc::CLONE_NEWIPC
                        | libc::CLONE_NEWUTS;
                    if libc::unshare(flags) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // Private propagation: nothing mounted inside can ever show up outside.
                    if libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| SandboxError::Spawn {
            python: shared.python.clone(),
            source,
        })?;
        drop((req_r, rep_w, sources, ruleset, rest));
        Ok(Worker {
            child,
            req: Some(req_w),
            rep: rep_r,
            src,
            stdin,
            stdout,
            stderr,
            log,
            runs: 0,
        })
    }

    /// Runs one test. An `Err` is a fault of the worker (it must be replaced), never of the
    /// program.
    pub fn run(&mut self, r: &Request<'_>) -> Result<RawRun, String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        for (f, data, what) in [
            (&self.src, r.program, "program memfd"),
            (&self.stdin, r.stdin, "stdin memfd"),
        ] {
            f.set_len(0).map_err(|e| io(what, e))?;
            f.write_all_at(data, 0).map_err(|e| io(what, e))?;
        }
        self.stdout.set_len(0).map_err(|e| io("stdout memfd", e))?;
        self.stderr.set_len(0).map_err(|e| io("stderr memfd", e))?;
        let words: [u64; 12] = [
            r.cpu_soft_s,
            r.cpu_hard_s,
            r.address_space_bytes,
            r.file_size_bytes,
            r.open_files,
            r.processes,
            r.stack_bytes,
            u64::from(r.uid),
            if r.flags & crate::FLAG_LANDLOCK != 0 {
                6
            } else {
                NO_RULESET
            },
            r.flags & (crate::FLAG_SETUID | crate::FLAG_SECCOMP),
            r.wall_ms,
            r.program.len() as u64,
        ];
        let mut msg = Vec::with_capacity(96);
        for w in words {
            msg.extend_from_slice(&w.to_le_bytes());
        }
        let req = self.req.as_mut().ok_or("worker already shut down")?;
        req.write_all(&msg).map_err(|e| io("request pipe", e))?;
        let deadline = Duration::from_millis(r.wall_ms).saturating_add(REPLY_GRACE);
        if !wait_readable(self.rep.as_raw_fd(), deadline) {
            return Err(format!("no reply within {} ms", deadline.as_millis()));
        }
        let mut buf = [0u8; REPLY_WORDS * 8];
        self.rep
            .read_exact(&mut buf)
            .map_err(|e| io("reply pipe", e))?;
        let w =
            |i: usize| i64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().expect("8-byte slice"));
        let (stdout, stdout_size) =
            read_capped(&self.stdout, r.output_cap).map_err(|e| io("stdout memfd", e))?;
        let (stderr, stderr_size) =
            read_capped(&self.stderr, r.output_cap).map_err(|e| io("stderr memfd", e))?;
        Ok(RawRun {
            status: w(0) as i32,
            cpu_us: (w(1) + w(2)).max(0) as u64,
            max_rss_kb: w(3).max(0) as u64,
            wall_us: w(4).max(0) as u64,
            wall_killed: w(5) != 0,
            lockdown_ok: w(6) != 0,
            compile_refused: w(8) != 0,
            stdout,
            stderr,
            stdout_size,
            stderr_size,
        })
    }

    /// The zygote's own stderr (a Python traceback when it failed to start), for error messages.
    pub fn log(&self) -> String {
        let (bytes, _) = read_capped(&self.log, 4096).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Asks the zygote to exit (EOF on its request pipe); [`Worker::reap`] then waits for it.
    pub fn close_requests(&mut self) {
        self.req = None;
    }

    /// Waits up to a second for a clean exit, then kills. PID 1 of the zygote's pid namespace
    /// exiting takes every process of that namespace with it.
    pub fn reap(&mut self) {
        self.close_requests();
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.reap();
    }
}

fn wait_readable(fd: RawFd, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, ms) };
        if rc > 0 {
            return true;
        }
        if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// Reads at most `cap` bytes of a memfd; returns them and the file's full size.
pub(crate) fn read_capped(f: &File, cap: u64) -> std::io::Result<(Vec<u8>, u64)> {
    let size = f.metadata()?.len();
    let n = size.min(cap) as usize;
    let mut buf = vec![0u8; n];
    f.read_exact_at(&mut buf, 0)?;
    Ok((buf, size))
}
