//! The in-child lockdown: a tiny native library that the Python zygote loads once (through
//! `ctypes`, before any untrusted code exists) and calls in every forked child, right before the
//! child compiles the untrusted program. It applies, in this order: rlimits, the unprivileged
//! uid/gid, no_new_privs, the Landlock domain prepared by the supervisor, and a seccomp allowlist.
//! It must not know anything about tests or verdicts. `build.rs` compiles this file with plain
//! `rustc` (no crates), and the supervisor embeds the result, so nothing outside `cargo build` is
//! needed on a fresh machine.
//!
//! x86_64 only: the syscall numbers below are the x86_64 ones, and the filter kills any other ABI.

use std::os::raw::{c_int, c_long, c_uint, c_ulong, c_void};

unsafe extern "C" {
    fn syscall(num: c_long, ...) -> c_long;
    fn prctl(option: c_int, ...) -> c_int;
    fn setrlimit(resource: c_int, rlim: *const [u64; 2]) -> c_int;
    fn setgroups(size: usize, list: *const c_uint) -> c_int;
    fn setresgid(r: c_uint, e: c_uint, s: c_uint) -> c_int;
    fn setresuid(r: c_uint, e: c_uint, s: c_uint) -> c_int;
    fn getpid() -> c_int;
    fn write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    fn __errno_location() -> *mut c_int;
}

/// The request the zygote hands over, as little-endian u64 words (see `python/zygote.py`).
#[repr(C)]
pub struct LockdownRequest {
    cpu_soft_s: u64,
    cpu_hard_s: u64,
    address_space_bytes: u64,
    file_size_bytes: u64,
    open_files: u64,
    processes: u64,
    stack_bytes: u64,
    uid: u64,
    /// Landlock ruleset fd, or u64::MAX for none (weak mode).
    ruleset_fd: u64,
    /// Pipe to which one byte is written once every layer is in place. It stays open: the zygote's
    /// child reports on it whether CPython compiled the program, then closes it before any of the
    /// program runs (python/zygote.py), so the program can never write to it.
    ok_fd: u64,
    /// Bit 0: switch uid; bit 1: install the seccomp filter.
    flags: u64,
}

const FLAG_SETUID: u64 = 1;
const FLAG_SECCOMP: u64 = 2;

// Each failing step returns its own negative code so the zygote's error names the layer.
const STEP_RLIMIT: c_int = -1;
const STEP_UID: c_int = -2;
const STEP_NNP: c_int = -3;
const STEP_LANDLOCK: c_int = -4;
const STEP_SECCOMP: c_int = -5;
const STEP_CLOSE: c_int = -6;
const STEP_OK: c_int = -7;

const RLIMIT_CPU: c_int = 0;
const RLIMIT_FSIZE: c_int = 1;
const RLIMIT_STACK: c_int = 3;
const RLIMIT_CORE: c_int = 4;
const RLIMIT_NPROC: c_int = 6;
const RLIMIT_NOFILE: c_int = 7;
const RLIMIT_AS: c_int = 9;
const PR_SET_PDEATHSIG: c_int = 1;
const PR_SET_DUMPABLE: c_int = 4;
const PR_SET_NO_NEW_PRIVS: c_int = 38;
const PR_SET_CHILD_SUBREAPER: c_int = 36;
const SIGKILL: c_ulong = 9;
const SYS_SECCOMP: c_long = 317;
const SYS_LANDLOCK_RESTRICT_SELF: c_long = 446;
const SYS_CLOSE_RANGE: c_long = 436;
const SECCOMP_SET_MODE_FILTER: c_ulong = 1;

/// Called once by the zygote that serves requests: die with the process that started it, so a
/// killed supervisor never leaves a zygote (and its pid namespace) behind.
#[unsafe(no_mangle)]
pub extern "C" fn scrl_die_with_parent() -> c_int {
    unsafe {
        prctl(
            PR_SET_PDEATHSIG,
            SIGKILL,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
        )
    }
}

/// Called by a zygote that has no pid namespace of its own (weak mode): orphans of a test then come
/// back to it instead of init, so its process-group kill and reaping can find them.
#[unsafe(no_mangle)]
pub extern "C" fn scrl_become_subreaper() -> c_int {
    unsafe {
        prctl(
            PR_SET_CHILD_SUBREAPER,
            1 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
        )
    }
}

/// Locks the calling (freshly forked, single-threaded) child down. Returns 0, or a negative step
/// code with errno left set by the failing call.
///
/// # Safety
/// `req` must point to a readable `LockdownRequest`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scrl_lockdown(req: *const LockdownRequest) -> c_int {
    let r = unsafe { std::ptr::read_unaligned(req) };
    let limits = [
        (RLIMIT_CORE, 0, 0),
        (RLIMIT_CPU, r.cpu_soft_s, r.cpu_hard_s),
        (RLIMIT_AS, r.address_space_bytes, r.address_space_bytes),
        (RLIMIT_FSIZE, r.file_size_bytes, r.file_size_bytes),
        (RLIMIT_NOFILE, r.open_files, r.open_files),
        (RLIMIT_NPROC, r.processes, r.processes),
        (RLIMIT_STACK, r.stack_bytes, r.stack_bytes),
    ];
    for (res, soft, hard) in limits {
        if unsafe { setrlimit(res, &[soft, hard]) } != 0 {
            return STEP_RLIMIT;
        }
    }
    if r.flags & FLAG_SETUID != 0 {
        let id = r.uid as c_uint;
        // Groups first: once the uid is dropped, the supplementary groups of root could not be
        // cleared.
        if unsafe { setgroups(0, std::ptr::null()) } != 0
            || unsafe { setresgid(id, id, id) } != 0
            || unsafe { setresuid(id, id, id) } != 0
        {
            return STEP_UID;
        }
    }
    if unsafe {
        prctl(
            PR_SET_NO_NEW_PRIVS,
            1 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
        )
    } != 0
        || unsafe {
            prctl(
                PR_SET_DUMPABLE,
                0 as c_ulong,
                0 as c_ulong,
                0 as c_ulong,
                0 as c_ulong,
            )
        } != 0
    {
        return STEP_NNP;
    }
    if r.ruleset_fd != u64::MAX
        && unsafe {
            syscall(
                SYS_LANDLOCK_RESTRICT_SELF,
                r.ruleset_fd as c_int,
                0 as c_uint,
            )
        } != 0
    {
        return STEP_LANDLOCK;
    }
    // Every descriptor except stdio and the ok pipe goes before untrusted code can see it: the
    // zygote's control pipes, the memfds of the source, the ruleset, the helper itself.
    let ok = r.ok_fd as c_uint;
    if ok < 3 {
        return STEP_CLOSE;
    }
    if (ok > 3 && unsafe { syscall(SYS_CLOSE_RANGE, 3 as c_uint, ok - 1, 0 as c_uint) } != 0)
        || unsafe { syscall(SYS_CLOSE_RANGE, ok + 1, c_uint::MAX, 0 as c_uint) } != 0
    {
        return STEP_CLOSE;
    }
    if r.flags & FLAG_SECCOMP != 0 {
        let pid = unsafe { getpid() } as u32;
        let filter = build_filter(pid);
        let prog = SockFprog {
            len: filter.len() as u16,
            filter: filter.as_ptr(),
        };
        if unsafe {
            syscall(
                SYS_SECCOMP,
                SECCOMP_SET_MODE_FILTER,
                0 as c_ulong,
                &prog as *const SockFprog,
            )
        } != 0
        {
            return STEP_SECCOMP;
        }
    }
    if unsafe { write(r.ok_fd as c_int, b"k".as_ptr().cast(), 1) } != 1 {
        return STEP_OK;
    }
    unsafe { *__errno_location() = 0 };
    0
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const LD_ABS_W: u16 = 0x20;
const JEQ: u16 = 0x15;
const JGE: u16 = 0x35;
const JSET: u16 = 0x45;
const JA: u16 = 0x05;
const RET: u16 = 0x06;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const ENOSYS: u32 = 38;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const CLONE_THREAD: u32 = 0x0001_0000;
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARG0_LO: u32 = 16;
const OFF_ARG1_LO: u32 = 24;

/// Syscalls an ordinary stdin/stdout program (and CPython's threads) needs. Everything not named
/// here fails with ENOSYS, so harmless probes (e.g. `os.cpu_count` fallbacks) degrade instead of
/// dying. Left out on purpose because they reach outside the run even on a read-only file: `flock`
/// (73), `fsync` (74), `fdatasync` (75), `sync` (162), `syncfs` (306), `sync_file_range` (277),
/// `readahead` (187) and `fadvise64` (221): locks that block host processes, disk flushes,
/// page-cache eviction.
const ALLOW: &[u32] = &[
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 32, 33, 34, 35, 36, 39, 60, 61, 63, 72, 77, 78, 79, 80, 81, 89, 95, 96, 97, 98, 99,
    100, 102, 104, 107, 108, 110, 111, 115, 118, 120, 121, 124, 127, 128, 130, 131, 137, 138, 140,
    143, 145, 146, 147, 158, 160, 186, 201, 202, 204, 217, 218, 219, 228, 229, 230, 231, 232, 233,
    247, 257, 262, 267, 269, 270, 271, 273, 281, 290, 291, 292, 293, 309, 318, 332, 334, 436, 439,
];

/// Syscalls that only an escape attempt makes: the process is killed with SIGSYS so the supervisor
/// can report a sandbox violation instead of a mere runtime error. Processes (fork, vfork, exec),
/// sockets, identity and session changes, namespaces and mounts, kernel attack surface (bpf, perf,
/// io_uring, userfaultfd, keyrings), other processes' memory and signals to anyone but itself.
const KILL: &[u32] = &[
    41, 42, 43, 49, 50, 53, 57, 58, 59, 101, 105, 106, 109, 112, 113, 114, 116, 117, 119, 122, 123,
    129, 135, 155, 161, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 175, 176, 200, 227,
    246, 248, 249, 250, 272, 297, 298, 303, 304, 308, 310, 311, 312, 313, 321, 322, 323, 424, 425,
    426, 427, 434, 438,
];

const SYS_CLONE: u32 = 56;
const SYS_KILL: u32 = 62;
const SYS_FCNTL: u32 = 72;
/// fcntl commands a program may use: F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC.
const FCNTL_ALLOWED: [u32; 6] = [0, 1, 2, 3, 4, 1030];
const SYS_TGKILL: u32 = 234;
const SYS_PRLIMIT64: u32 = 302;
const SYS_CLONE3: u32 = 435;

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// Builds the classic-BPF program for the child whose pid (in its pid namespace) is `pid`.
fn build_filter(pid: u32) -> Vec<SockFilter> {
    let mut f = vec![
        stmt(LD_ABS_W, OFF_ARCH),
        jump(JEQ, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET, RET_KILL_PROCESS),
        stmt(LD_ABS_W, OFF_NR),
        jump(JGE, X32_SYSCALL_BIT, 0, 1),
        stmt(RET, RET_KILL_PROCESS),
    ];
    // clone: threads only (CLONE_THREAD set); a new process is an escape.
    f.extend([
        jump(JEQ, SYS_CLONE, 0, 4),
        stmt(LD_ABS_W, OFF_ARG0_LO),
        jump(JSET, CLONE_THREAD, 0, 1),
        stmt(RET, RET_ALLOW),
        stmt(RET, RET_KILL_PROCESS),
    ]);
    // clone3 carries its flags in memory BPF cannot read; ENOSYS makes glibc fall back to clone.
    f.extend([jump(JEQ, SYS_CLONE3, 0, 1), stmt(RET, RET_ERRNO | ENOSYS)]);
    // kill and tgkill: only to itself (its own pid, the thread group id for tgkill).
    for nr in [SYS_KILL, SYS_TGKILL] {
        f.extend([
            jump(JEQ, nr, 0, 4),
            stmt(LD_ABS_W, OFF_ARG0_LO),
            jump(JEQ, pid, 0, 1),
            stmt(RET, RET_ALLOW),
            stmt(RET, RET_KILL_PROCESS),
        ]);
    }
    // prlimit64: only on itself (pid 0 or its own); the kernel refuses raising a hard limit.
    f.extend([
        jump(JEQ, SYS_PRLIMIT64, 0, 5),
        stmt(LD_ABS_W, OFF_ARG0_LO),
        jump(JEQ, 0, 1, 0),
        jump(JEQ, pid, 0, 1),
        stmt(RET, RET_ALLOW),
        stmt(RET, RET_KILL_PROCESS),
    ]);
    // fcntl: descriptor and status flags and duplication only. Record locks (F_SETLK, F_OFD_SETLK,
    // ...), leases, owners, signals and notifications would act on files outside the run: ENOSYS.
    f.extend([jump(JEQ, SYS_FCNTL, 0, 9), stmt(LD_ABS_W, OFF_ARG1_LO)]);
    for (i, cmd) in FCNTL_ALLOWED.iter().enumerate() {
        let last = i == FCNTL_ALLOWED.len() - 1;
        let to_allow = (FCNTL_ALLOWED.len() - 1 - i) as u8;
        f.push(jump(JEQ, *cmd, to_allow, if last { 1 } else { 0 }));
    }
    f.extend([stmt(RET, RET_ALLOW), stmt(RET, RET_ERRNO | ENOSYS)]);
    // The plain allow/kill decisions as a binary search: attaching a filter makes the kernel
    // evaluate it for every syscall number (its action cache), so a short average path keeps the
    // per-test cost low.
    let mut table: Vec<(u32, u32)> = ALLOW.iter().map(|&nr| (nr, RET_ALLOW)).collect();
    table.extend(KILL.iter().map(|&nr| (nr, RET_KILL_PROCESS)));
    table.sort_unstable();
    emit_search(&mut f, &table);
    f
}

/// Emits a search over `table` (sorted by syscall number) that returns the matching action, or
/// ENOSYS.
fn emit_search(f: &mut Vec<SockFilter>, table: &[(u32, u32)]) {
    if table.len() <= 4 {
        for &(nr, action) in table {
            f.extend([jump(JEQ, nr, 0, 1), stmt(RET, action)]);
        }
        f.push(stmt(RET, RET_ERRNO | ENOSYS));
        return;
    }
    let (left, right) = table.split_at(table.len() / 2);
    // jge pivot → the `ja` over the left half; otherwise fall into the left half. `ja` takes a
    // 32-bit offset, so subtrees of any size fit where the 8-bit jt/jf offsets would not.
    f.push(jump(JGE, right[0].0, 0, 1));
    let ja = f.len();
    f.push(stmt(JA, 0));
    emit_search(f, left);
    f[ja].k = (f.len() - ja - 1) as u32;
    emit_search(f, right);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic-BPF interpreter for the instructions `build_filter` emits, over a seccomp_data.
    fn eval(prog: &[SockFilter], nr: u32, arch: u32, arg0: u64) -> u32 {
        eval2(prog, nr, arch, arg0, 0)
    }

    fn eval2(prog: &[SockFilter], nr: u32, arch: u32, arg0: u64, arg1: u64) -> u32 {
        let mut data = [0u8; 64];
        data[24..32].copy_from_slice(&arg1.to_le_bytes());
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        data[16..24].copy_from_slice(&arg0.to_le_bytes());
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                LD_ABS_W => {
                    acc =
                        u32::from_le_bytes(data[i.k as usize..i.k as usize + 4].try_into().unwrap())
                }
                JA => pc += i.k as usize,
                JEQ | JGE | JSET => {
                    let taken = match i.code {
                        JEQ => acc == i.k,
                        JGE => acc >= i.k,
                        _ => acc & i.k != 0,
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                RET => return i.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn every_syscall_number_gets_its_action() {
        let pid = 7;
        let prog = build_filter(pid);
        for nr in 0..600u32 {
            let want = match nr {
                SYS_CLONE3 => RET_ERRNO | ENOSYS,
                SYS_CLONE | SYS_KILL | SYS_TGKILL | SYS_PRLIMIT64 | SYS_FCNTL => continue,
                _ if ALLOW.contains(&nr) => RET_ALLOW,
                _ if KILL.contains(&nr) => RET_KILL_PROCESS,
                _ => RET_ERRNO | ENOSYS,
            };
            assert_eq!(eval(&prog, nr, AUDIT_ARCH_X86_64, 0), want, "syscall {nr}");
        }
        assert!(
            ALLOW.iter().all(|nr| !KILL.contains(nr)),
            "a syscall is both allowed and killed"
        );
    }

    #[test]
    fn argument_checks() {
        let pid = 7;
        let prog = build_filter(pid);
        let run = |nr, arg| eval(&prog, nr, AUDIT_ARCH_X86_64, arg);
        assert_eq!(
            run(SYS_CLONE, u64::from(CLONE_THREAD) | 0x3d0f00),
            RET_ALLOW,
            "pthread_create"
        );
        assert_eq!(run(SYS_CLONE, 0x01200011), RET_KILL_PROCESS, "fork");
        assert_eq!(run(SYS_KILL, 7), RET_ALLOW);
        assert_eq!(run(SYS_KILL, 1), RET_KILL_PROCESS);
        assert_eq!(run(SYS_KILL, 0), RET_KILL_PROCESS, "process group");
        assert_eq!(run(SYS_KILL, u64::MAX), RET_KILL_PROCESS, "kill(-1)");
        assert_eq!(run(SYS_TGKILL, 7), RET_ALLOW);
        assert_eq!(run(SYS_TGKILL, 8), RET_KILL_PROCESS);
        assert_eq!(run(SYS_PRLIMIT64, 0), RET_ALLOW);
        assert_eq!(run(SYS_PRLIMIT64, 7), RET_ALLOW);
        assert_eq!(run(SYS_PRLIMIT64, 1), RET_KILL_PROCESS);
        let fcntl = |cmd| eval2(&prog, SYS_FCNTL, AUDIT_ARCH_X86_64, 3, cmd);
        for cmd in FCNTL_ALLOWED {
            assert_eq!(fcntl(u64::from(cmd)), RET_ALLOW, "fcntl {cmd}");
        }
        // F_GETLK, F_SETLK, F_SETLKW, F_SETOWN, F_SETSIG, F_OFD_SETLK(W), F_SETLEASE, F_NOTIFY.
        for cmd in [5, 6, 7, 8, 10, 37, 38, 1024, 1026] {
            assert_eq!(fcntl(cmd), RET_ERRNO | ENOSYS, "fcntl {cmd}");
        }
        for nr in [73, 74, 75, 162, 187, 221, 277, 306] {
            assert_eq!(
                run(nr, 0),
                RET_ERRNO | ENOSYS,
                "syscall {nr} reaches outside the run"
            );
        }
    }

    #[test]
    fn other_abis_are_killed() {
        let prog = build_filter(7);
        assert_eq!(
            eval(&prog, 20, 0x4000_0003, 0),
            RET_KILL_PROCESS,
            "i386 via int 0x80"
        );
        assert_eq!(
            eval(&prog, X32_SYSCALL_BIT | 1, AUDIT_ARCH_X86_64, 0),
            RET_KILL_PROCESS,
            "x32"
        );
    }
}
