//! Which kernel isolation layers this machine offers, the report of which ones a [`crate::Sandbox`]
//! uses, and the Landlock ruleset the children enter. Knows nothing about Python or tests.

use std::ffi::CString;
use std::fmt;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::Serialize;

/// The layers in force for every run of a sandbox.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct IsolationReport {
    /// Fresh pid, net, mount, ipc and uts namespaces per zygote.
    pub namespaces: bool,
    /// Landlock ABI version the kernel offers (0: none).
    pub landlock_abi: u32,
    /// Landlock filesystem rules (read-only interpreter and libraries, nothing writable).
    pub landlock_fs: bool,
    /// Landlock denies TCP bind and connect (ABI >= 4).
    pub landlock_tcp: bool,
    /// Landlock scopes signals and abstract unix sockets to the child (ABI >= 6).
    pub landlock_scopes: bool,
    /// The seccomp allowlist (no fork, exec, sockets; signals only to itself).
    pub seccomp: bool,
    /// Children run as an unprivileged uid/gid of their own.
    pub unprivileged_uid: bool,
    /// Rlimits (CPU, address space, file size, open files, processes, core, stack): always on.
    pub rlimits: bool,
    /// Running with required layers missing because `allow_weak` was set.
    pub weak: bool,
    /// Required layers that are missing, with the reason.
    pub missing: Vec<String>,
}

impl fmt::Display for IsolationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |b: bool| if b { "on" } else { "OFF" };
        writeln!(
            f,
            "namespaces (pid, net, mount, ipc, uts): {}",
            yes(self.namespaces)
        )?;
        writeln!(
            f,
            "landlock ABI {}: filesystem {}, tcp {}, scopes {}",
            self.landlock_abi,
            yes(self.landlock_fs),
            yes(self.landlock_tcp),
            yes(self.landlock_scopes)
        )?;
        writeln!(f, "seccomp allowlist: {}", yes(self.seccomp))?;
        writeln!(f, "unprivileged uid: {}", yes(self.unprivileged_uid))?;
        write!(f, "rlimits: {}", yes(self.rlimits))?;
        if self.weak {
            write!(
                f,
                "\nWEAK MODE (allow_weak): missing {}",
                self.missing.join("; ")
            )?;
        }
        Ok(())
    }
}

/// What the running kernel and process offer, before any sandbox is started.
#[derive(Clone, Debug)]
pub(crate) struct Probe {
    pub namespaces: Result<(), String>,
    pub landlock_abi: u32,
    pub seccomp: Result<(), String>,
    pub root: bool,
    pub x86_64: bool,
}

const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;

pub(crate) fn landlock_abi() -> u32 {
    // SAFETY: the version query takes no pointer and returns the ABI number or -1.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if v < 0 { 0 } else { v as u32 }
}

fn seccomp_available() -> Result<(), String> {
    // PR_GET_SECCOMP fails with EINVAL when the kernel lacks CONFIG_SECCOMP.
    // SAFETY: plain prctl query.
    if unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) } < 0 {
        return Err(format!(
            "prctl(PR_GET_SECCOMP): {}",
            std::io::Error::last_os_error()
        ));
    }
    let actions =
        std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    if !actions.split_whitespace().any(|a| a == "kill_process") {
        return Err("the kernel does not offer SECCOMP_RET_KILL_PROCESS".into());
    }
    Ok(())
}

fn namespaces_available(root: bool) -> Result<(), String> {
    if !root {
        return Err(
            "creating pid/net/mount namespaces needs root here (no user-namespace mode yet)".into(),
        );
    }
    for ns in ["pid", "net", "mnt", "ipc", "uts"] {
        if !Path::new("/proc/self/ns").join(ns).exists() {
            return Err(format!(
                "the kernel has no {ns} namespaces (/proc/self/ns/{ns} missing)"
            ));
        }
    }
    Ok(())
}

pub(crate) fn probe() -> Probe {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    Probe {
        namespaces: namespaces_available(root),
        landlock_abi: landlock_abi(),
        seccomp: seccomp_available(),
        root,
        x86_64: cfg!(all(
            target_arch = "x86_64",
            target_os = "linux",
            target_env = "gnu"
        )),
    }
}

// Landlock access rights (include/uapi/linux/landlock.h).
const FS_EXECUTE: u64 = 1 << 0;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
const FS_REFER: u64 = 1 << 13;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;
const RULE_PATH_BENEATH: libc::c_int = 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// Builds the ruleset every child enters: every filesystem right the ABI knows is handled, and only
/// reading `read_dirs` (directories) and `read_files` is granted back; TCP bind/connect and the
/// scopes are handled with nothing granted. Paths that do not exist are skipped.
pub(crate) fn landlock_ruleset(
    abi: u32,
    read_dirs: &[&Path],
    read_files: &[&Path],
) -> std::io::Result<OwnedFd> {
    let mut fs = (1u64 << 13) - 1; // ABI 1: execute .. make_sym
    if abi >= 2 {
        fs |= FS_REFER;
    }
    if abi >= 3 {
        fs |= FS_TRUNCATE;
    }
    if abi >= 5 {
        fs |= FS_IOCTL_DEV;
    }
    let attr = RulesetAttr {
        handled_access_fs: fs,
        handled_access_net: if abi >= 4 {
            NET_BIND_TCP | NET_CONNECT_TCP
        } else {
            0
        },
        scoped: if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        },
    };
    let size = match abi {
        0..=3 => 8,
        4 | 5 => 16,
        _ => 24,
    };
    // SAFETY: attr is a valid ruleset_attr prefix of `size` bytes.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size as usize,
            0u32,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let dir_rights = FS_READ_FILE | FS_READ_DIR;
    for (paths, rights) in [(read_dirs, dir_rights), (read_files, FS_READ_FILE)] {
        for path in paths {
            let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
                continue;
            };
            // SAFETY: c is NUL-terminated; O_PATH opens nothing but a reference.
            let pfd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
            if pfd < 0 {
                continue;
            }
            // SAFETY: we own pfd.
            let pfd = unsafe { OwnedFd::from_raw_fd(pfd) };
            let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
            let rule = PathBeneathAttr {
                allowed_access: if is_dir {
                    rights
                } else {
                    rights & !FS_READ_DIR & !FS_EXECUTE
                },
                parent_fd: std::os::fd::AsRawFd::as_raw_fd(&pfd),
            };
            // SAFETY: rule is a valid path_beneath_attr; both fds are open.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_landlock_add_rule,
                    std::os::fd::AsRawFd::as_raw_fd(&ruleset),
                    RULE_PATH_BENEATH,
                    &rule as *const PathBeneathAttr,
                    0u32,
                )
            };
            if rc != 0 {
                return Err(std::io::Error::other(format!(
                    "landlock_add_rule({}): {}",
                    path.display(),
                    std::io::Error::last_os_error()
                )));
            }
        }
    }
    Ok(ruleset)
}
