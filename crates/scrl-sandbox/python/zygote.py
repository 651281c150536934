# The warm CPython that every test is forked from. Trusted code only: it never reads test data
# itself (the supervisor hands the program, stdin and output buffers over as memfds), and each child
# locks itself down through the native helper before it compiles the untrusted program, and tells
# the zygote on the ok pipe whether CPython refused to compile it before any of it runs.
#
# Inherited descriptors: 3 requests in, 4 replies out, 5 the lockdown helper (an ELF memfd),
# 6 the Landlock ruleset (absent in weak mode), 7 program source, 8 stdin, 9 stdout, 10 stderr.
# argv: [-c, "1" when the supervisor gave us fresh pid/net/... namespaces, comma-separated preloads].
import builtins
import ctypes
import gc
import os
import select
import signal
import struct
import sys
import time
import types

CTL_IN, CTL_OUT, HELPER, SRC, STDIN, STDOUT, STDERR = 3, 4, 5, 7, 8, 9, 10
# cpu_soft_s cpu_hard_s as fsize nofile nproc stack uid ruleset_fd flags wall_ms src_len
REQUEST = struct.Struct("<12Q")
# wait status, user us, sys us, max rss KiB, wall us, wall-killed, lockdown ok, leftovers reaped,
# compile refused
REPLY = struct.Struct("<9q")
# The helper's LockdownRequest: 11 u64 words.
LOCKDOWN = struct.Struct("<11Q")
LOCKDOWN_FAILED_BASE = 100
# What `python3 main.py` refuses before running a line: syntax, indentation and tab errors, the
# compile-time limits (too many statically nested blocks, too many indentation levels, integer
# literals over 4300 digits), a NUL byte (ValueError), a tree too deep for the compiler.
COMPILE_REFUSALS = (SyntaxError, ValueError, OverflowError, RecursionError)
# Written on the ok pipe after the helper's b"k" when CPython refused to compile the program.
COMPILE_REFUSED = b"s"


class Quitter:
    """exit()/quit() as `site` would provide them; -S skips site, but programs call exit()."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "Use %s() to exit" % self.name

    def __call__(self, code=None):
        raise SystemExit(code)


def read_exact(fd, n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def exit_code_of(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def flush(stream):
    """Flushes an open stream; False when the flush failed (a closed stream needs no flush)."""
    if stream is None or getattr(stream, "closed", False):
        return True
    try:
        stream.flush()
        return True
    except BaseException:
        return False


def compile_program(src, verdict_fd):
    """Compiles the program as `python3 main.py` would, before any of it runs. When CPython refuses
    it, prints the error as the interpreter does, reports the refusal on `verdict_fd` (a pipe only
    the zygote reads) and exits 1. Either way `verdict_fd` is closed before the program can run, so
    the program cannot claim or hide a refusal."""
    try:
        code = compile(src, "main.py", "exec")
    except COMPILE_REFUSALS:
        t, v, _ = sys.exc_info()
        try:
            sys.excepthook(t, v.with_traceback(None), None)
            sys.stderr.flush()
        except BaseException:
            pass
        os.write(verdict_fd, COMPILE_REFUSED)
        os._exit(1)
    finally:
        try:
            os.close(verdict_fd)
        except OSError:
            pass
    return code


def run_program(src, verdict_fd):
    """Runs in the locked-down child. Mirrors `python3 main.py` and CPython's finalisation order:
    a program CPython refuses to compile is reported as such (compile_program), an uncaught
    exception prints a traceback and exits 1, SystemExit sets the code, then non-daemon
    threads are joined, atexit handlers run, sys.stdout/sys.stderr are flushed (a failed stdout flush
    exits 120), and finally __main__ is torn down so that file objects the program left open (a
    replaced sys.__stdout__, `open(1, "w")`) flush as they are collected."""
    enc = sys.__stdout__.encoding if sys.__stdout__ else "utf-8"
    code = 0
    main = types.ModuleType("__main__")
    try:
        sys.stdin = sys.__stdin__ = open(0, "r", encoding=enc, errors="surrogateescape", closefd=False)
        sys.stdout = sys.__stdout__ = open(1, "w", encoding=enc, errors="surrogateescape", closefd=False)
        sys.stderr = sys.__stderr__ = open(
            2, "w", encoding=enc, errors="backslashreplace", closefd=False, buffering=1
        )
        program = compile_program(src, verdict_fd)
        main.__dict__["__builtins__"] = builtins
        main.__dict__["__file__"] = "main.py"
        sys.modules["__main__"] = main
        sys.argv = ["main.py"]
        exec(program, main.__dict__)
    except SystemExit as e:
        code = exit_code_of(e)
    except BaseException:
        t, v, tb = sys.exc_info()
        # Drop our own frame so the traceback starts at the program, as with `python3 main.py`.
        tb = tb.tb_next if tb is not None else None
        sys.excepthook(t, v.with_traceback(tb), tb)
        code = 1
    threading = sys.modules.get("threading")
    if threading is not None:
        try:
            threading._shutdown()
        except BaseException:
            pass
    try:
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        pass
    if not flush(sys.stdout):
        code = 120
    flush(sys.stderr)
    try:
        # Reference counting deallocates (and so flushes) what only __main__ held; a full gc.collect()
        # would touch, and so copy, every page inherited from the zygote.
        main.__dict__.clear()
    except BaseException:
        pass
    flush(sys.__stdout__)
    flush(sys.__stderr__)
    os._exit(code)


def child(lockdown, req, ok_w):
    cpu_soft, cpu_hard, as_bytes, fsize, nofile, nproc, stack, uid, ruleset, flags, _wall, src_len = req
    try:
        os.setsid()
        src = os.pread(SRC, src_len, 0)
        # A fresh open file description per run (reopening the memfd through /proc): offsets, status
        # flags, owners and locks set by this run die with it instead of living on in the zygote's.
        for fd, target, mode in ((STDIN, 0, os.O_RDONLY), (STDOUT, 1, os.O_WRONLY), (STDERR, 2, os.O_WRONLY)):
            fresh = os.open("/proc/self/fd/%d" % fd, mode)
            os.dup2(fresh, target)
            os.close(fresh)
        rc = lockdown(LOCKDOWN.pack(cpu_soft, cpu_hard, as_bytes, fsize, nofile, nproc, stack, uid, ruleset, ok_w, flags))
    except BaseException:
        rc = -99
    if rc != 0:
        os._exit(LOCKDOWN_FAILED_BASE + (-rc & 0x7F))
    run_program(src, ok_w)


def cleanup(pid, pidns):
    """Kills and reaps whatever the child left behind; returns how many extra processes were reaped."""
    reaped = 0
    if pidns:
        # PID 1 of its own namespace: kill(-1) reaches every other process in it, and only those.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
                reaped += 1
            except ChildProcessError:
                return reaped
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    while True:
        try:
            done, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if done == 0:
            return reaped
        reaped += 1


def serve(lockdown, pidns):
    ok_r, ok_w = os.pipe()
    os.set_blocking(ok_r, False)
    while True:
        data = read_exact(CTL_IN, REQUEST.size)
        if data is None:
            os._exit(0)
        req = REQUEST.unpack(data)
        wall_ms = req[10]
        t0 = time.monotonic_ns()
        pid = os.fork()
        if pid == 0:
            child(lockdown, req, ok_w)
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        killed = 0
        if not poller.poll(wall_ms):
            os.kill(pid, signal.SIGKILL)
            killed = 1
        _, status, ru = os.wait4(pid, 0)
        wall_us = (time.monotonic_ns() - t0) // 1000
        os.close(pidfd)
        leftovers = cleanup(pid, pidns)
        try:
            report = os.read(ok_r, 16)
        except BlockingIOError:
            report = b""
        ok = 1 if report[:1] == b"k" else 0
        refused = 1 if report == b"k" + COMPILE_REFUSED else 0
        utime = int(ru.ru_utime * 1e6)
        stime = int(ru.ru_stime * 1e6)
        os.write(CTL_OUT, REPLY.pack(status, utime, stime, ru.ru_maxrss, wall_us, killed, ok, leftovers, refused))


def warm_up():
    """The first compile() and the first text streams of a process initialise interpreter state
    lazily (about 1 ms of CPU here); doing it once in the zygote saves that in every child."""
    enc = sys.__stdout__.encoding if sys.__stdout__ else "utf-8"
    sink = open(1, "w", encoding=enc, errors="surrogateescape", closefd=False)
    source = open(0, "r", encoding=enc, errors="surrogateescape", closefd=False)
    source.read()
    code = compile(
        "def f(a):\n    return [x * 2 for x in a]\nprint(f'{sum(f(range(3)))}', *map(int, '1 2'.split()), file=out)\n",
        "warm-up",
        "exec",
    )
    exec(code, {"__builtins__": builtins, "out": sink})
    sink.flush()


def main():
    pidns = sys.argv[1] == "1"
    for name in sys.argv[2].split(","):
        if name:
            __import__(name)
    warm_up()
    # Move everything imported so far out of the collector's reach: children then never scan (and so
    # never copy-on-write) the zygote's objects.
    gc.freeze()
    builtins.exit = Quitter("exit")
    builtins.quit = Quitter("quit")
    lib = ctypes.CDLL("/proc/self/fd/%d" % HELPER)
    os.close(HELPER)
    lockdown = lib.scrl_lockdown
    lockdown.argtypes = [ctypes.c_char_p]
    lockdown.restype = ctypes.c_int
    if pidns:
        # The supervisor's unshare(CLONE_NEWPID) applies to our children: the first one becomes PID 1
        # of the new namespace and serves; this process only anchors it and mirrors its exit.
        pid = os.fork()
        if pid:
            os.closerange(3, 64)
            _, status = os.waitpid(pid, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
        if lib.scrl_die_with_parent() != 0:
            os._exit(3)
    elif lib.scrl_become_subreaper() != 0:
        os._exit(3)
    serve(lockdown, pidns)


main()
