# The untrusted half of the function-call harness: runs the candidate program (and the problem's
# setup code) as `__main__`, then evaluates the probes of one assert (the sub-expressions that call the
# candidate, planned by judge.py) and writes their values, encoded as plain data, after a marker on fd 1.
# The assert's expected value is never in this process; judge.py decides in a fresh process whether the
# values satisfy the assert. Everything here can be tampered with by the candidate, by design: that only
# changes the values reported, which the candidate controls anyway by what it returns.
# Input on stdin (read whole, so the program sees end of file): framed fields program, setup, probe...
import builtins
import collections
import os
import sys
import types

MARK = b"\x00SCRL-RESULT\x00"
# Written first thing on fd 1 when CPython refuses to compile the candidate (none of it ran). The
# candidate could print it too, but that only claims a worse verdict (stage 0) than it has.
REFUSED = b"\x00SCRL-COMPILE-REFUSED\x00"
# What `python3 main.py` refuses before running a line (as python/zygote.py of scrl-sandbox).
COMPILE_REFUSALS = (SyntaxError, ValueError, OverflowError, RecursionError)
MAX_DEPTH = 100
MAX_NODES = 1_000_000


def read_fields():
    """Fields framed as b"<decimal byte length>:<utf-8 bytes>"."""
    data = sys.stdin.buffer.read()
    fields, i = [], 0
    while i < len(data):
        j = data.index(b":", i)
        n = int(data[i:j])
        fields.append(data[j + 1 : j + 1 + n].decode("utf-8", "surrogatepass"))
        i = j + 1 + n
    return fields


class Unencodable(Exception):
    pass


def encoder():
    """Builds the encoder from references taken before the candidate runs. Only values whose type is
    exactly a plain builtin (or one of collections' OrderedDict, defaultdict, Counter, deque) are
    encoded; a subclass, or any other object, is refused, so no user-defined __eq__ ever takes part."""
    t_bool, t_int, t_float, t_complex, t_str, t_bytes = bool, int, float, complex, str, bytes
    t_list, t_tuple, t_set, t_frozen, t_dict, t_none = list, tuple, set, frozenset, dict, type(None)
    t_od, t_dd, t_counter, t_deque = (
        collections.OrderedDict,
        collections.defaultdict,
        collections.Counter,
        collections.deque,
    )
    kind, length, dict_items, fhex, fmt = type, len, dict.items, float.hex, format
    seqs = {t_list: "l", t_tuple: "t", t_set: "S", t_frozen: "Z", t_deque: "q"}
    maps = {t_dict: "d", t_od: "O", t_dd: "D", t_counter: "C"}
    budget = [MAX_NODES]

    def enc(v, out, depth):
        budget[0] -= 1
        if depth > MAX_DEPTH or budget[0] < 0:
            raise Unencodable("value too deep or too large")
        t = kind(v)
        if t is t_none:
            out.append("N")
        elif t is t_bool:
            out.append("T" if v else "F")
        elif t is t_int:
            out.append("i" + fmt(v, "x") + ";")
        elif t is t_float:
            out.append("f" + fhex(v) + ";")
        elif t is t_complex:
            out.append("c" + fhex(v.real) + "," + fhex(v.imag) + ";")
        elif t is t_str:
            out.append("s%d:" % length(v) + v)
        elif t is t_bytes:
            s = v.decode("latin-1")
            out.append("y%d:" % length(s) + s)
        elif t in seqs:
            items = t_list(v)
            out.append(seqs[t] + "%d;" % length(items))
            for x in items:
                enc(x, out, depth + 1)
        elif t in maps:
            items = t_list(dict_items(v))
            out.append(maps[t] + "%d;" % length(items))
            for k, x in items:
                enc(k, out, depth + 1)
                enc(x, out, depth + 1)
        else:
            raise Unencodable("a %s is not a plain value" % t.__name__)

    def encode(v):
        out = []
        enc(v, out, 0)
        return "".join(out)

    return encode


def main():
    fields = read_fields()
    program, setup, probes = fields[0], fields[1], fields[2:]
    encode = encoder()
    write, flush_fd = os.write, 1
    main_module = types.ModuleType("__main__")
    g = main_module.__dict__
    g["__builtins__"] = builtins
    g["__file__"] = "main.py"
    sys.modules["__main__"] = main_module
    try:
        # As bytes, as the interpreter reads a file: a coding declaration applies.
        code = compile(program.encode("utf-8", "surrogatepass"), "main.py", "exec")
    except COMPILE_REFUSALS:
        t, v, _ = sys.exc_info()
        write(flush_fd, REFUSED)
        sys.excepthook(t, v.with_traceback(None), None)
        sys.stderr.flush()
        os._exit(1)
    exec(code, g)
    if setup:
        exec(compile(setup, "setup.py", "exec"), g)
    encoded = []
    for p in probes:
        try:
            encoded.append(encode(eval(compile(p, "assert.py", "eval"), g)))
        except Unencodable as e:
            encoded.append(None)
            print("harness: %s" % e, file=sys.__stderr__)
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    if None in encoded:
        body = "-"
    else:
        body = "".join(encoded)
    data = body.encode("utf-8", "surrogatepass")
    write(flush_fd, MARK + b"%d:" % len(data) + data)


main()
