//! The hostile-program suite (docs/sandbox.md): each program must get its verdict under the full
//! sandbox, and nothing may escape: no file written where it tried, no process left behind under
//! the sandbox's uids, no connection or datagram reaching the listeners this test opens on
//! loopback.

mod common;

use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};

use scrl_sandbox::{Execution, Limits, Outcome, Sandbox, SandboxConfig};

struct Case {
    name: &'static str,
    program: &'static str,
    stdin: &'static str,
    allowed: &'static [Outcome],
    /// Extra check on the execution (stdout content etc.).
    check: fn(&Execution) -> Result<(), String>,
    /// Paths (with `{DIR}` expanded) that must not exist afterwards.
    must_not_exist: &'static [&'static str],
}

fn ok(_: &Execution) -> Result<(), String> {
    Ok(())
}

fn stdout_is(e: &Execution, want: &str) -> Result<(), String> {
    if e.stdout == want.as_bytes() {
        Ok(())
    } else {
        Err(format!(
            "stdout {:?}, want {want:?}",
            String::from_utf8_lossy(&e.stdout)
        ))
    }
}

fn no_secret(e: &Execution) -> Result<(), String> {
    let out = String::from_utf8_lossy(&e.stdout);
    if out.contains("hunter2") || out.contains("root:") {
        Err(format!("leaked: {out:?}"))
    } else {
        Ok(())
    }
}

use Outcome::*;

const V: &[Outcome] = &[SandboxViolation];
const RE: &[Outcome] = &[RuntimeError];
const TL: &[Outcome] = &[TimeLimit];

fn cases() -> Vec<Case> {
    let c = |name, program, allowed| Case {
        name,
        program,
        stdin: "",
        allowed,
        check: ok,
        must_not_exist: &[],
    };
    vec![
        c("fork_bomb", "import os\nwhile True:\n    os.fork()\n", V),
        c(
            "fork_bomb_swallowing_errors",
            "import os\nwhile True:\n    try:\n        os.fork()\n    except Exception:\n        \
             pass\n",
            V,
        ),
        c("infinite_loop", "while True:\n    pass\n", TL),
        c(
            "loop_ignoring_sigxcpu",
            "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n",
            TL,
        ),
        c("sleep_forever", "import time\ntime.sleep(100)\n", TL),
        c(
            "memory_hog_instant",
            "x = bytearray(2 << 30)\n",
            &[MemoryLimit],
        ),
        c(
            "memory_hog_gradual",
            "a = []\nwhile True:\n    a.append(' ' * 10**6)\n",
            &[MemoryLimit],
        ),
        Case {
            check: |e| {
                if e.stdout.len() == 1 << 20 && e.stdout_truncated {
                    Ok(())
                } else {
                    Err(format!("stdout {} bytes", e.stdout.len()))
                }
            },
            ..c(
                "huge_stdout",
                "while True:\n    print('x' * 1000)\n",
                &[OutputLimit],
            )
        },
        Case {
            check: |e| {
                if e.stderr.len() == 1 << 20 && e.stderr_truncated {
                    Ok(())
                } else {
                    Err(format!("stderr {} bytes", e.stderr.len()))
                }
            },
            ..c(
                "huge_stderr",
                "import sys\nwhile True:\n    sys.stderr.write('x' * 1000)\n",
                &[OutputLimit],
            )
        },
        c(
            "deep_recursion",
            "def f(n):\n    return f(n + 1)\nf(0)\n",
            RE,
        ),
        c(
            "deep_recursion_unbounded",
            "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1)\nf(0)\n",
            &[RuntimeError, MemoryLimit, TimeLimit],
        ),
        Case {
            check: no_secret,
            ..c("read_etc_shadow", "print(open('/etc/shadow').read())\n", RE)
        },
        Case {
            check: no_secret,
            ..c("read_etc_passwd", "print(open('/etc/passwd').read())\n", RE)
        },
        Case {
            check: no_secret,
            ..c(
                "read_other_tests_file",
                "print(open('{DIR}/secret.txt').read())\n",
                RE,
            )
        },
        c("list_root", "import os\nprint(os.listdir('/'))\n", RE),
        Case {
            check: |e| stdout_is(e, "['LC_CTYPE']\n").or_else(|_| stdout_is(e, "[]\n")),
            ..c(
                "environment_is_empty",
                "import os\nprint(sorted(os.environ))\n",
                &[Exited],
            )
        },
        c(
            "proc_1_environ",
            "print(open('/proc/1/environ').read())\n",
            RE,
        ),
        c("list_proc", "import os\nprint(os.listdir('/proc'))\n", RE),
        c(
            "proc_self_maps",
            "print(open('/proc/self/maps').read())\n",
            RE,
        ),
        Case {
            must_not_exist: &["/tmp/scrl_hostile_escape.txt"],
            ..c(
                "write_tmp",
                "open('/tmp/scrl_hostile_escape.txt', 'w').write('x')\n",
                RE,
            )
        },
        Case {
            must_not_exist: &["{DIR}/written.txt"],
            ..c(
                "write_world_writable_dir",
                "open('{DIR}/written.txt', 'w').write('x')\n",
                RE,
            )
        },
        Case {
            must_not_exist: &["/scrl_cwd_escape.txt"],
            ..c(
                "write_cwd",
                "open('scrl_cwd_escape.txt', 'w').write('x')\n",
                RE,
            )
        },
        Case {
            must_not_exist: &["{DIR}/newdir"],
            ..c("mkdir", "import os\nos.mkdir('{DIR}/newdir')\n", RE)
        },
        Case {
            must_not_exist: &["{DIR}/link"],
            ..c(
                "plant_symlink",
                "import os\nos.symlink('/etc/shadow', '{DIR}/link')\n",
                RE,
            )
        },
        Case {
            must_not_exist: &["/dev/shm/scrl_hostile_fill"],
            ..c(
                "fill_dev_shm",
                "open('/dev/shm/scrl_hostile_fill', 'wb').write(b'x' * 10**6)\n",
                RE,
            )
        },
        c(
            "tcp_connect_loopback",
            "import socket\ns = socket.create_connection(('127.0.0.1', \
             {PORT}))\nprint('connected')\n",
            V,
        ),
        c(
            "udp_send_loopback",
            "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', \
             ('127.0.0.1', {UDP}))\n",
            V,
        ),
        c(
            "unix_abstract_connect",
            "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0{ABSTRACT}')\n",
            V,
        ),
        c("os_system", "import os\nprint('rc', os.system('id'))\n", V),
        c(
            "subprocess_run",
            "import subprocess\nprint(subprocess.run(['/bin/echo', 'hi'], \
             capture_output=True).stdout)\n",
            V,
        ),
        c(
            "os_execv",
            "import os\nos.execv('/bin/echo', ['echo', 'hi'])\n",
            V,
        ),
        c("kill_parent", "import os\nos.kill(os.getppid(), 9)\n", V),
        c("kill_everyone", "import os\nos.kill(-1, 9)\n", V),
        c("killpg_own_group", "import os\nos.killpg(0, 9)\n", V),
        Case {
            check: |e| stdout_is(e, "got USR1\n"),
            ..c(
                "signal_to_itself_is_fine",
                "import os, signal\nsignal.signal(signal.SIGUSR1, lambda *a: print('got \
                 USR1'))\nos.kill(os.getpid(), signal.SIGUSR1)\n",
                &[Exited],
            )
        },
        Case {
            check: |e| stdout_is(e, "alarm set\n"),
            ..c(
                "alarm_has_no_effect",
                "import signal, time\nsignal.alarm(1)\nprint('alarm set')\n",
                &[Exited],
            )
        },
        Case {
            check: |e| stdout_is(e, "started 1000\n"),
            ..c(
                "threads_1000_sequential",
                "import threading\nfor i in range(1000):\n    t = threading.Thread(target=lambda: \
                 None)\n    t.start()\n    t.join()\nprint('started', 1000)\n",
                &[Exited],
            )
        },
        c(
            "threads_100_concurrent",
            "import threading, time\nfor i in range(100):\n    threading.Thread(target=time.sleep, \
             args=(5,), daemon=True).start()\n",
            RE,
        ),
        c(
            "threads_spinning",
            "import threading\ndef spin():\n    while True:\n        pass\nfor i in range(4):\n    \
             threading.Thread(target=spin).start()\n",
            TL,
        ),
        c(
            "orphan_sleeper",
            "import os, time\nif os.fork() == 0:\n    time.sleep(100)\nprint('parent exits')\n",
            V,
        ),
        c("setsid_escape", "import os\nos.setsid()\n", V),
        Case {
            check: |e| {
                if e.exit_code == Some(120) {
                    Ok(())
                } else {
                    Err(format!("exit {:?}", e.exit_code))
                }
            },
            ..c("close_stdout", "import os\nos.close(1)\nprint('x')\n", RE)
        },
        Case {
            check: |e| {
                if e.stdout.len() == 1 << 20 && !e.stdout_truncated {
                    Ok(())
                } else {
                    Err(format!("{} bytes", e.stdout.len()))
                }
            },
            ..c(
                "binary_garbage_output",
                "import os, sys\nsys.stdout.buffer.write(os.urandom(1 << 20))\n",
                &[Exited],
            )
        },
        c(
            "raise_rlimit",
            "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, \
             resource.RLIM_INFINITY))\n",
            RE,
        ),
        c(
            "prlimit_on_another_process",
            "import resource\nprint(resource.prlimit(1, resource.RLIMIT_CPU))\n",
            V,
        ),
        c(
            "fd_exhaustion",
            "fs = []\nwhile True:\n    fs.append(open('/usr/lib/python3.11/os.py'))\n",
            RE,
        ),
        c(
            "ctypes_fork",
            "import ctypes\nprint(ctypes.CDLL(None).fork())\n",
            V,
        ),
        Case {
            check: |e| {
                if e.signal == Some(11) {
                    Ok(())
                } else {
                    Err(format!("signal {:?}", e.signal))
                }
            },
            ..c("ctypes_segv", "import ctypes\nctypes.string_at(0)\n", RE)
        },
        c(
            "ctypes_ptrace_parent",
            "import ctypes, os\nprint(ctypes.CDLL(None).ptrace(16, os.getppid(), 0, 0))\n",
            V,
        ),
        c(
            "ctypes_unshare",
            "import ctypes\nprint(ctypes.CDLL(None).unshare(0x10000000))\n",
            V,
        ),
        c(
            "io_uring_setup",
            "import ctypes\nprint(ctypes.CDLL(None).syscall(425, 8, \
             ctypes.create_string_buffer(120)))\n",
            V,
        ),
        c(
            "userfaultfd",
            "import ctypes\nprint(ctypes.CDLL(None).syscall(323, 0))\n",
            V,
        ),
        c(
            "perf_event_open",
            "import ctypes\nprint(ctypes.CDLL(None).syscall(298, 0, 0, -1, -1, 0))\n",
            V,
        ),
        c(
            "bpf",
            "import ctypes\nprint(ctypes.CDLL(None).syscall(321, 0, 0, 0))\n",
            V,
        ),
        c(
            "personality",
            "import ctypes\nprint(ctypes.CDLL(None).personality(0x0040000))\n",
            V,
        ),
        c(
            "int80_32bit_syscall",
            "import ctypes, mmap\nm = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | \
             mmap.PROT_EXEC)\nm.write(b'\\xb8\\x14\\x00\\x00\\x00\\xcd\\x80\\xc3')\nf = \
             ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))\n\
             print(f())\n",
            V,
        ),
        c(
            "memfd_create_then_exec",
            "import os\nfd = os.memfd_create('x')\nos.write(fd, open('/bin/true', \
             'rb').read())\nos.execv('/proc/self/fd/%d' % fd, ['x'])\n",
            RE,
        ),
        Case {
            stdin: "PREVIOUS-SECRET-STDIN\n",
            ..c(
                "leaves_data_behind",
                "s = input()\nprint(len(s))\n",
                &[Exited],
            )
        },
        Case {
            check: |e| stdout_is(e, "0\n"),
            ..c(
                "zygote_heap_scan",
                "import gc\nm = 'PREVIOUS' + '-SECRET'\nprint(sum(1 for o in gc.get_objects() if \
                 isinstance(o, (str, bytes)) and (m in o if isinstance(o, str) else m.encode() in \
                 o)))\n",
                &[Exited],
            )
        },
        c("compile_bomb", "COMPILE_BOMB", &[MemoryLimit, RuntimeError]),
        Case {
            check: |e| {
                if e.signal == Some(6) {
                    Ok(())
                } else {
                    Err(format!("signal {:?}", e.signal))
                }
            },
            ..c("sigabrt", "import os\nos.abort()\n", RE)
        },
        Case {
            check: |e| {
                if e.exit_code == Some(3) {
                    Ok(())
                } else {
                    Err(format!("exit {:?}", e.exit_code))
                }
            },
            ..c("sys_exit_3", "import sys\nsys.exit(3)\n", RE)
        },
        Case {
            check: |e| {
                if e.stdout == b"\xff\n" {
                    Ok(())
                } else {
                    Err(format!("stdout {:?}", e.stdout))
                }
            },
            ..c("surrogate_output", "print('\\udcff')\n", &[Exited])
        },
        Case {
            check: |e| {
                if String::from_utf8_lossy(&e.stderr).contains("SyntaxError") {
                    Ok(())
                } else {
                    Err("no SyntaxError".into())
                }
            },
            // CPython refuses it at compile time, before any of it runs: its own outcome (stage 0).
            ..c("python2_syntax", "print 'x'\n", &[CompileError])
        },
        Case {
            stdin: "5\n1 2 3 4 5\n",
            check: |e| stdout_is(e, "15\n"),
            ..c(
                "stdin_is_a_regular_file",
                "import os, stat\nassert stat.S_ISREG(os.fstat(0).st_mode)\ndata = os.read(0, \
                 os.fstat(0).st_size).split()\nprint(sum(map(int, data[1:])))\n",
                &[Exited],
            )
        },
    ]
}

fn expand(s: &str, dir: &Path, port: u16, udp: u16, abstract_name: &str) -> String {
    s.replace("{DIR}", &dir.display().to_string())
        .replace("{PORT}", &port.to_string())
        .replace("{UDP}", &udp.to_string())
        .replace("{ABSTRACT}", abstract_name)
}

#[test]
fn hostile_programs_are_contained() {
    let sandbox = Sandbox::new(SandboxConfig {
        workers: 1,
        ..SandboxConfig::default()
    })
    .expect("full sandbox");
    assert!(!sandbox.isolation().weak, "{}", sandbox.isolation());
    let limits = Limits {
        cpu_time_ms: 1000,
        wall_time_ms: 3000,
        memory_bytes: 256 << 20,
        output_bytes: 1 << 20,
    };

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "hunter2\n").unwrap();
    std::fs::set_permissions(
        dir.path().join("secret.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let abstract_name = format!("scrl-hostile-{}", std::process::id());
    let unix =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap())
            .unwrap();
    unix.set_nonblocking(true).unwrap();
    let (port, udp_port) = (
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    );

    let cases = cases();
    assert!(
        cases.len() >= 40,
        "the suite must keep at least 40 programs"
    );
    let mut failures = Vec::new();
    for case in &cases {
        let program = if case.program == "COMPILE_BOMB" {
            format!("x = {}1\n", "-".repeat(1_000_000))
        } else {
            expand(case.program, dir.path(), port, udp_port, &abstract_name)
        };
        let mut fail = |why: String| failures.push(format!("{}: {why}", case.name));
        let e = match sandbox.run(&program, case.stdin.as_bytes(), &limits) {
            Ok(e) => e,
            Err(err) => {
                fail(format!("sandbox error {err}"));
                continue;
            }
        };
        if !case.allowed.contains(&e.outcome) {
            fail(format!(
                "outcome {:?} (exit {:?}, signal {:?}), want one of {:?}; stderr {:?}",
                e.outcome,
                e.exit_code,
                e.signal,
                case.allowed,
                String::from_utf8_lossy(&e.stderr[..e.stderr.len().min(400)])
            ));
        }
        if let Err(why) = (case.check)(&e) {
            fail(why);
        }
        for p in case.must_not_exist {
            let p = PathBuf::from(expand(p, dir.path(), port, udp_port, &abstract_name));
            if p.symlink_metadata().is_ok() {
                fail(format!("{} was created", p.display()));
                let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir(&p));
            }
        }
        let left = common::processes_of(&sandbox.uids());
        if !left.is_empty() {
            fail(format!("processes left behind: {left:?}"));
        }
        match tcp.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => fail(format!("loopback TCP listener saw {other:?}")),
        }
        let mut buf = [0u8; 16];
        match udp.recv_from(&mut buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => fail(format!("loopback UDP socket received {other:?}")),
        }
        match unix.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => fail(format!("abstract unix listener saw {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
