# The trusted half of the function-call harness (docs/reward.md, "Function-call problems"). It never
# runs candidate code: it is started in the sandbox with a fresh interpreter and either
#   plan:   splits each assert into the sub-expressions that need the candidate ("probes", evaluated
#           by harness.py in the candidate's process) and a template that judges their values;
#   verify: evaluates each template on the probe values that harness.py reported, decoded into plain
#           Python objects, with `==`/`!=` replaced by a type-strict comparison.
# Input on stdin, fields framed as "<decimal byte length>:<utf-8 bytes>"; output one line per assert after
# the marker line. Decoding never evaluates text: it is a small parser of harness.py's encoding.
import ast
import builtins
import collections
import os
import sys

MARK = "\x00SCRL-JUDGE\x00\n"
VALUES = "__scrl_v"
EQ = "__scrl_eq"
MAX_DEPTH = 100


def read_fields(data):
    """Fields framed as b"<decimal byte length>:<utf-8 bytes>"."""
    fields, i = [], 0
    while i < len(data):
        j = data.index(b":", i)
        n = int(data[i:j])
        fields.append(data[j + 1 : j + 1 + n].decode("utf-8", "surrogatepass"))
        i = j + 1 + n
    return fields


def frame(text):
    b = text.encode("utf-8", "surrogatepass")
    return b"%d:" % len(b) + b


class Planner:
    """Splits an assert's test into probes and a template. A probe is a sub-expression that names
    something of the candidate's (a name that is neither a builtin nor a standard-library module used as
    `module.attr`) and uses no variable bound inside the assert itself; the planner descends through the
    operators that judge a value (comparisons, boolean and arithmetic operators, subscripts, literals,
    calls of builtins and of standard-library functions, comprehensions), so the expected value stays in
    the template and never reaches the candidate's process."""

    WRAPPERS = (
        ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Tuple, ast.List, ast.Set, ast.Dict,
        ast.Subscript, ast.Slice, ast.Starred, ast.JoinedStr, ast.FormattedValue,
        ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
    )

    def __init__(self, candidates=()):
        self.probes = []
        self.bound = []
        self.candidates = set(candidates)

    def names(self, node):
        """(names of the candidate's used, variables bound by an enclosing comprehension used)."""
        local = set().union(*self.bound) if self.bound else set()
        inner = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.comprehension):
                inner |= {n.id for n in ast.walk(sub.target) if isinstance(n, ast.Name)}
            elif isinstance(sub, ast.Lambda):
                inner |= {a.arg for a in ast.walk(sub.args) if isinstance(a, ast.arg)}
            elif isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                inner.add(sub.target.id)
        cand, free = set(), set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id not in inner:
                if sub.id in local:
                    free.add(sub.id)
                elif not self.trusted_name(sub.id, node):
                    cand.add(sub.id)
        return cand, free

    def trusted_name(self, name, root):
        if name in self.candidates:
            return False
        if hasattr(builtins, name):
            return True
        bases = {
            sub.value.id for sub in ast.walk(root) if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name)
        }
        return name in sys.stdlib_module_names and name in bases

    def trusted_call(self, node):
        f = node.func
        if isinstance(f, ast.Name):
            return self.trusted_name(f.id, f)
        chain = f
        while isinstance(chain, ast.Attribute):
            chain = chain.value
        return isinstance(chain, ast.Name) and self.trusted_name(chain.id, f) and chain.id in sys.stdlib_module_names

    def take(self, node):
        """The node with its probes replaced, or None when a probe would need a comprehension variable."""
        cand, free = self.names(node)
        if not cand:
            return strict(node)
        if isinstance(node, self.WRAPPERS) or (isinstance(node, ast.Call) and self.trusted_call(node)):
            mark = len(self.probes)
            out = self.descend(node)
            if out is not None:
                return strict_top(out)
            del self.probes[mark:]
        if free:
            return None
        self.probes.append(ast.unparse(strict(node)))
        return ast.Subscript(ast.Name(VALUES, ast.Load()), ast.Constant(len(self.probes) - 1), ast.Load())

    def descend(self, node):
        binds = None
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            binds = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
            self.bound.append(binds)
        try:
            for field, value in ast.iter_fields(node):
                if isinstance(value, ast.AST):
                    new = self.child(value)
                    if new is None:
                        return None
                    setattr(node, field, new)
                elif isinstance(value, list):
                    items = []
                    for item in value:
                        new = self.child(item) if isinstance(item, ast.AST) else item
                        if new is None:
                            return None
                        items.append(new)
                    setattr(node, field, items)
            return node
        finally:
            if binds is not None:
                self.bound.pop()

    def child(self, node):
        if isinstance(node, ast.expr):
            return self.take(node)
        if isinstance(node, (ast.comprehension, ast.keyword)):
            return self.descend(node)
        return node


def eq_call(a, b, negate):
    call = ast.Call(ast.Name(EQ, ast.Load()), [a, b], [])
    return ast.UnaryOp(ast.Not(), call) if negate else call


def strict_top(node):
    """Rewrites one Compare node (its operands already visited)."""
    if not isinstance(node, ast.Compare) or not any(isinstance(o, (ast.Eq, ast.NotEq)) for o in node.ops):
        return node
    parts, left = [], node.left
    for op, right in zip(node.ops, node.comparators):
        if isinstance(op, (ast.Eq, ast.NotEq)):
            parts.append(eq_call(left, right, isinstance(op, ast.NotEq)))
        else:
            parts.append(ast.Compare(left, [op], [right]))
        left = right
    return parts[0] if len(parts) == 1 else ast.BoolOp(ast.And(), parts)


class Strict(ast.NodeTransformer):
    def visit_Compare(self, node):
        return strict_top(self.generic_visit(node))


def strict(node):
    return ast.fix_missing_locations(Strict().visit(node))


def plan(assert_src):
    try:
        tree = ast.parse(assert_src)
    except SyntaxError as e:
        return "error", "the assert does not parse: %s" % e
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return "error", "not a single assert statement"
    test = tree.body[0].test
    planner = Planner()
    template = planner.take(test)
    if not planner.probes:
        # The candidate may define a function named like a builtin (MBPP has `sum`): every called name
        # is then the candidate's.
        called = {n.func.id for n in ast.walk(test) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        planner = Planner(called)
        template = planner.take(ast.parse(assert_src).body[0].test)
    if template is None or not planner.probes:
        return "error", "the assert does not call the candidate's code"
    return "ok", [ast.unparse(ast.fix_missing_locations(template))] + planner.probes


def strict_eq(a, b):
    """`==` on decoded plain values with the container types held strictly (a list never equals a
    tuple, a str never bytes, sequences element-wise by this rule). Numbers, bool included, compare as
    Python compares them (1 == 1.0 == True): MBPP's own reference for task 414 returns 1 for `== True`."""
    ta, tb = type(a), type(b)
    num = (bool, int, float, complex)
    if ta in num and tb in num:
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return len(a) == len(b) and all(k in b and strict_eq(v, b[k]) for k, v in a.items())
    seqs = (list, tuple, collections.deque)
    if ta in seqs or tb in seqs:
        return ta is tb and len(a) == len(b) and all(strict_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, (set, frozenset)) and isinstance(b, (set, frozenset)):
        return a == b
    return ta is tb and a == b


class Decoder:
    """Parses harness.py's encoding of plain values (see `encode` there)."""

    def __init__(self, text):
        self.t, self.i = text, 0

    def upto(self, stop):
        j = self.t.index(stop, self.i)
        s = self.t[self.i : j]
        self.i = j + 1
        return s

    def value(self, depth=0):
        if depth > MAX_DEPTH:
            raise ValueError("too deep")
        tag = self.t[self.i]
        self.i += 1
        if tag == "N":
            return None
        if tag == "T":
            return True
        if tag == "F":
            return False
        if tag == "i":
            return int(self.upto(";"), 16)
        if tag == "f":
            return float.fromhex(self.upto(";"))
        if tag == "c":
            return complex(float.fromhex(self.upto(",")), float.fromhex(self.upto(";")))
        if tag in "sy":
            n = int(self.upto(":"))
            s = self.t[self.i : self.i + n]
            if len(s) != n:
                raise ValueError("short string")
            self.i += n
            return s if tag == "s" else s.encode("latin-1")
        n = int(self.upto(";"))
        if tag in "dODC":
            items = [(self.value(depth + 1), self.value(depth + 1)) for _ in range(n)]
            kind = {"d": dict, "O": collections.OrderedDict, "C": collections.Counter}.get(tag)
            if kind is None:
                d = collections.defaultdict(None)
                d.update(items)
                return d
            d = kind()
            for k, v in items:
                d[k] = v
            return d
        items = [self.value(depth + 1) for _ in range(n)]
        kinds = {"l": list, "t": tuple, "S": set, "Z": frozenset, "q": collections.deque}
        if tag not in kinds:
            raise ValueError("unknown tag %r" % tag)
        return kinds[tag](items)


def verify(template, encoded):
    d = Decoder(encoded)
    values = []
    while d.i < len(encoded):
        values.append(d.value())
    env = {"__builtins__": builtins, VALUES: values, EQ: strict_eq}
    code = compile(template, "<assert>", "eval")
    for name in code.co_names:
        if name in sys.stdlib_module_names and name not in env:
            try:
                env[name] = __import__(name)
            except ImportError:
                pass
    return "1" if eval(code, env) else "0"


def main():
    data = b""
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        data += chunk
    fields = read_fields(data)
    out = []
    if fields[0] == "plan":
        for a in fields[1:]:
            status, body = plan(a)
            if status == "ok":
                out.append(b"ok " + b"".join(frame(p.replace("\n", " ")) for p in body))
            else:
                out.append(("error " + body.replace("\n", " ")).encode())
    else:
        for template, encoded in zip(fields[1::2], fields[2::2]):
            if encoded == "-":
                out.append(b"0")
                continue
            try:
                out.append(verify(template, encoded).encode())
            except Exception as e:
                out.append(b"E " + type(e).__name__.encode())
    os.write(1, MARK.encode() + b"\n".join(out) + b"\n")


main()
