"""Code generation: a traced graph becomes one plain Python function of NumPy calls.

One line per op, the forward pass, then the backward pass, then the updates; a comment
names the user's line each op came from. Buffers of values that are dead are reused
through ``out=`` (``np.add(a, b, out=t3)``), and an in-place update of a parameter
writes straight into its array when nothing reads the old value afterwards.
"""

from __future__ import annotations

import dis
import inspect
import keyword
import math
import os
import textwrap

import numpy as np

from ..core.backend import xp
from ..core.graph import format_site
from .trace import Graph, Var, source_line, var_deps

# ops that can write into a given buffer: name -> NumPy ufunc
_UFUNC = {
    "add": "np.add", "sub": "np.subtract", "mul": "np.multiply", "div": "np.true_divide",
    "neg": "np.negative", "pow": "np.power", "exp": "np.exp", "log": "np.log",
    "log1p": "np.log1p", "sqrt": "np.sqrt", "sin": "np.sin", "cos": "np.cos",
    "tanh": "np.tanh", "abs": "np.abs", "sign": "np.sign", "maximum": "np.maximum",
    "minimum": "np.minimum", "relu": "np.maximum",
}
_OUT_OK = set(_UFUNC) | {"matmul"}
# ops whose result is a new array (never a view of an input)
_FRESH = _OUT_OK | {"sum", "mean", "max", "min", "prod", "where", "concatenate",
                    "softmax", "log_softmax", "less", "less_equal", "greater",
                    "greater_equal", "equal", "not_equal", "clip"}
_BINOP = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@", "less": "<",
          "less_equal": "<=", "greater": ">", "greater_equal": ">="}
_CALL1 = {"exp": "np.exp", "log": "np.log", "log1p": "np.log1p", "sqrt": "np.sqrt",
          "sin": "np.sin", "cos": "np.cos", "tanh": "np.tanh", "abs": "np.abs",
          "sign": "np.sign", "logical_not": "np.logical_not", "isnan": "np.isnan",
          "isfinite": "np.isfinite"}
_CALL2 = {"pow": "np.power", "maximum": "np.maximum", "minimum": "np.minimum",
          "equal": "np.equal", "not_equal": "np.not_equal", "logical_and": "np.logical_and",
          "logical_or": "np.logical_or"}
_REDUCE = {"sum": "np.sum", "mean": "np.mean", "max": "np.max", "min": "np.min",
           "prod": "np.prod", "argmax": "np.argmax", "argmin": "np.argmin"}
_RESERVED = {"np", "math", "xp", "out"}


class _Namer:
    def __init__(self):
        self.used: set = set(_RESERVED)

    def __call__(self, base: str) -> str:
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in (base or "t"))
        if not base or base[0].isdigit():
            base = "v_" + base
        if keyword.iskeyword(base) or base.startswith("__"):
            base = base.strip("_") + "_"
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name


class _Emitter:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.name: dict[int, str] = {}
        self.namer = _Namer()
        self.consts: list[str] = []
        self.helpers: dict[str, str] = {}
        self.n_tmp = 0

    # ---- names and literals ----
    def var(self, v: Var) -> str:
        n = self.name.get(id(v))
        if n is None:
            if v.kind == "const":
                n = self.namer(v.name or f"c{len(self.consts)}")
                self.consts.append(f"{n} = {_array_literal(v.value)}")
            else:
                if v.name:
                    base = v.name
                elif v.phase == "backward":
                    base = "g"
                else:
                    base = "t"
                n = self.namer(base)
            self.name[id(v)] = n
        return n

    def lit(self, a) -> str:
        if isinstance(a, Var):
            return self.var(a)
        if isinstance(a, np.ndarray):
            c = Var("const", a.shape, a.dtype, value=a)
            return self.var(c)
        if isinstance(a, (bool, np.bool_)):
            return repr(bool(a))
        if isinstance(a, float):
            return _float(a)
        if isinstance(a, np.generic):
            if a.dtype.kind == "f":
                return f"np.{a.dtype.name}({_float(float(a))})"
            return f"np.{a.dtype.name}({a.item()!r})"
        if isinstance(a, np.dtype):
            return f"np.{a.name}"
        if isinstance(a, type) and issubclass(a, np.generic):
            return f"np.{np.dtype(a).name}"
        if isinstance(a, tuple):
            inner = ", ".join(self.lit(x) for x in a)
            return f"({inner},)" if len(a) == 1 else f"({inner})"
        if isinstance(a, list):
            return "[" + ", ".join(self.lit(x) for x in a) + "]"
        if isinstance(a, slice):
            return f"slice({self.lit(a.start)}, {self.lit(a.stop)}, {self.lit(a.step)})"
        if a is Ellipsis:
            return "..."
        if isinstance(a, dict):
            return "{" + ", ".join(f"{k!r}: {self.lit(x)}" for k, x in a.items()) + "}"
        return repr(a)

    def index(self, idx) -> str:
        if not isinstance(idx, tuple):
            idx = (idx,)
        if not idx:
            return "()"
        parts = []
        for i in idx:
            if isinstance(i, slice):
                s = "" if i.start is None else self.lit(i.start)
                s += ":" + ("" if i.stop is None else self.lit(i.stop))
                if i.step is not None:
                    s += ":" + self.lit(i.step)
                parts.append(s)
            else:
                parts.append(self.lit(i))
        return ", ".join(parts)

    def axis(self, axis) -> str:
        if isinstance(axis, tuple) and len(axis) == 1:
            return self.lit(axis[0])
        return self.lit(axis)

    # ---- one op ----
    def expr(self, v: Var, out: str | None) -> str:  # noqa: C901 (to split)
        node = v._node
        name = node.prim.name
        a = [self.lit(x) for x in node.inputs]
        p = node.params or {}
        if out is not None:
            if name == "where":
                self.helpers.setdefault("_where_into", _WHERE_INTO)
                return f"_where_into({a[0]}, {out}, {a[2]})"
            if name == "relu":
                return f"np.maximum({a[0]}, 0, out={out})"
            if name == "matmul":
                return f"np.matmul({a[0]}, {a[1]}, out={out})"
            return f"{_UFUNC[name]}({', '.join(a)}, out={out})"
        if name in _BINOP:
            return f"{a[0]} {_BINOP[name]} {a[1]}"
        if name == "neg":
            return f"-{a[0]}"
        if name in _CALL1:
            return f"{_CALL1[name]}({a[0]})"
        if name in _CALL2:
            return f"{_CALL2[name]}({a[0]}, {a[1]})"
        if name == "relu":
            return f"np.maximum({a[0]}, 0)"
        if name == "where":
            return f"np.where({a[0]}, {a[1]}, {a[2]})"
        if name == "clip":
            return f"np.clip({a[0]}, {self.lit(p.get('min'))}, {self.lit(p.get('max'))})"
        if name == "identity":
            return a[0]
        if name == "astype":
            return f"{a[0]}.astype({self.lit(p['dtype'])}, copy=False)"
        if name == "getitem":
            return f"{a[0]}[{self.index(p['index'])}]"
        if name == "reshape":
            return f"np.reshape({a[0]}, {self.lit(tuple(p['shape']))})"
        if name == "broadcast_to":
            return f"np.broadcast_to({a[0]}, {self.lit(tuple(p['shape']))})"
        if name == "transpose":
            axes = tuple(p["axes"])
            if axes == tuple(reversed(range(len(axes)))):
                return f"{a[0]}.T"
            return f"np.transpose({a[0]}, {self.lit(axes)})"
        if name == "concatenate":
            return f"np.concatenate(({', '.join(a)},), axis={self.lit(p['axis'])})"
        if name == "flip":
            return f"np.flip({a[0]}, {self.axis(p['axis'])})"
        if name in _REDUCE:
            args = [a[0]]
            if p.get("axis") is not None:
                args.append(f"axis={self.axis(p['axis'])}")
            if p.get("keepdims"):
                args.append("keepdims=True")
            return f"{_REDUCE[name]}({', '.join(args)})"
        # anything else: the primitive's own NumPy implementation, copied in as a helper
        fname = self.helper(node.prim)
        kw = "".join(f", {k}={self.lit(x)}" for k, x in p.items())
        return f"{fname}({', '.join(a)}{kw})"

    def helper(self, prim) -> str:
        impl = prim.impl
        fname = getattr(impl, "__name__", "")
        if not fname.isidentifier() or fname == "<lambda>":
            raise NotImplementedError(f"codegen: no template for primitive {prim.name}")
        self._add_helper(impl)
        return fname

    def _add_helper(self, f) -> None:
        name = f.__name__
        if name in self.helpers:
            return
        fixed = getattr(f, "__codegen__", None)  # its source for compiled (NumPy) code
        if fixed is not None:
            self.helpers[name] = fixed
            return
        self.helpers[name] = textwrap.dedent(inspect.getsource(f))
        g = f.__globals__
        for ins in dis.get_instructions(f):
            if ins.opname != "LOAD_GLOBAL":
                continue
            obj = g.get(ins.argval)
            if inspect.isfunction(obj) and obj.__module__.startswith("graphgrad"):
                self._add_helper(obj)
            elif _is_literal(obj) and ins.argval not in self.helpers:
                # a module constant the helper reads (numbers, strings, tuples of them)
                self.helpers[ins.argval] = f"{ins.argval} = {obj!r}\n"


def _is_literal(obj) -> bool:
    """Whether ``repr(obj)`` is Python source that rebuilds it exactly."""
    if isinstance(obj, (bool, int, str)):
        return True
    if isinstance(obj, float):
        return math.isfinite(obj)  # repr round-trips finite floats exactly
    if isinstance(obj, tuple):
        return all(_is_literal(o) for o in obj)
    return False


_WHERE_INTO = '''def _where_into(cond, x, y):
    """np.where(cond, x, y) written into x (x is not needed afterwards)."""
    if np.ndim(y) == 0 and y == 0 and np.isfinite(np.sum(x)):
        return np.multiply(x, cond, out=x)  # same result, ~20x faster than a masked copy
    np.copyto(x, y, where=np.logical_not(cond))
    return x
'''


def _float(x: float) -> str:
    if math.isnan(x):
        return "np.nan"
    if math.isinf(x):
        return "np.inf" if x > 0 else "-np.inf"
    return repr(x)


def _array_literal(a) -> str:
    a = np.asarray(a)
    dt = f"np.{a.dtype.name}"
    if a.ndim == 0:
        v = a.item()
        return f"np.array({_float(v) if isinstance(v, float) else repr(v)}, dtype={dt})"
    flat = a.ravel()
    if not flat.size:
        return f"np.zeros({a.shape!r}, dtype={dt})"
    if np.all(flat == flat[0]):
        v = flat[0].item()
        return f"np.full({a.shape!r}, {_float(v) if isinstance(v, float) else repr(v)}, " \
               f"dtype={dt})"
    if a.size <= 64 and a.dtype.kind in "biuf":
        return f"np.array({a.tolist()!r}, dtype={dt})".replace("nan", "np.nan") \
            .replace("inf", "np.inf")
    hexs = np.ascontiguousarray(a).tobytes().hex()
    return f"np.frombuffer(bytes.fromhex({hexs!r}), dtype={dt}).reshape({a.shape!r}).copy()"


# ------------------------------------------------------------ buffer planning ----

def _plan(graph: Graph):
    """Storage of each value and when it is last read; which results may reuse a buffer."""
    ops = graph.ops
    pos = {id(v): i for i, v in enumerate(ops)}
    roots: dict[int, tuple] = {}  # id(var) -> storages it may share memory with

    def roots_of(v):
        r = roots.get(id(v))
        if r is None:
            r = (v,)
            roots[id(v)] = r
        return r

    for v in ops:
        if v._node.prim.name in _FRESH:
            roots[id(v)] = (v,)
        else:
            r = {id(v): v}
            for d in var_deps(v):
                for s in roots_of(d):
                    r[id(s)] = s
            roots[id(v)] = tuple(r.values())
    last: dict[int, int] = {}

    def use(v, i):
        for s in roots_of(v):
            if last.get(id(s), -1) < i:
                last[id(s)] = i

    for i, v in enumerate(ops):
        for d in var_deps(v):
            use(d, i)
    for r in graph.roots():
        use(r, len(ops))
    return pos, roots_of, last


def generate(graph: Graph, fn_name: str = "fn"):  # noqa: C901 (to split)
    """Source text, the exec'd function, and where each ``.grad`` sits in its result."""
    em = _Emitter(graph)
    fn_name = em.namer(graph.fn_name or fn_name)
    args = [em.var(v) for v in graph.inputs] + [em.var(v) for v in graph.params]
    pos, roots_of, last = _plan(graph)
    ops = graph.ops

    # in-place parameter updates: write the new value straight into the parameter's array
    written_into: dict[int, Var] = {}
    result_ids = {id(o) for o in graph.outputs if isinstance(o, Var)}
    result_ids |= {id(v) for _, v in graph.grad_writes if v is not None}
    counts: dict[int, int] = {}
    for _, v in graph.writes:
        counts[id(v)] = counts.get(id(v), 0) + 1
    for h, v in graph.writes:
        if not isinstance(v, Var) or v.kind != "op" or id(v) in result_ids \
                or counts[id(v)] > 1 or v._node.prim.name not in _UFUNC:
            continue
        if v.shape != h.shape or v.dtype != h.dtype or not h.shape:
            continue
        i = pos[id(v)]
        if any(last.get(id(s), -1) > i for s in roots_of(h)):
            continue
        written_into[id(v)] = h

    owned = {id(v) for v in ops if v._node.prim.name in _FRESH and v.shape
             and id(v) not in written_into}
    # values that leave the call (results, and whatever they may be views of) need fresh
    # memory; every other out-capable result gets a buffer kept across calls (no page
    # faults on big arrays). So a compiled function is not reentrant across threads.
    escaping: set = set()
    for r in list(graph.outputs) + [v for _, v in graph.grad_writes]:
        if isinstance(r, Var):
            escaping.update(id(s) for s in roots_of(r))
    pool: dict[tuple, list] = {}
    persistent: set = set()  # names of the buffers kept across calls
    holder_name: dict[int, str] = {}  # id(storage var) -> Python name holding the buffer
    deaths: dict[int, list] = {}
    for sid, i in last.items():
        deaths.setdefault(i, []).append(sid)
    storage_of: dict[int, Var] = {}

    lines: list[str] = []
    phase = None
    for i, v in enumerate(ops):
        node = v._node
        pname = node.prim.name
        if v.phase != phase:
            phase = v.phase
            lines.append("")
            lines.append(f"# ---- {phase} ----")
        out = None
        consumed = None
        if id(v) in written_into:
            out = em.var(written_into[id(v)])
        elif pname == "where" and v.shape and isinstance(node.inputs[1], Var) \
                and not isinstance(node.inputs[2], (Var, np.ndarray)):
            d = node.inputs[1]  # where(c, x, 0.0) with x dying here: masked write into x
            if id(d) in owned and last.get(id(d)) == i and d.shape == v.shape \
                    and d.dtype == v.dtype and id(d) in holder_name and not (
                        id(v) in escaping and holder_name[id(d)] in persistent):
                out = holder_name[id(d)]
                consumed = d
        elif pname in _OUT_OK and v.shape:
            key = (v.shape, v.dtype.str)
            if pname != "matmul":  # elementwise: may overwrite an input that dies here
                for d in node.inputs:
                    if isinstance(d, Var) and id(d) in owned and last.get(id(d)) == i \
                            and d.shape == v.shape and d.dtype == v.dtype \
                            and id(d) in holder_name and not (
                                id(v) in escaping and holder_name[id(d)] in persistent):
                        out = holder_name[id(d)]
                        consumed = d
                        break
            if out is None and pool.get(key):
                free = pool[key]
                for j in range(len(free) - 1, -1, -1):
                    if id(v) not in escaping or free[j] not in persistent:
                        out = free.pop(j)
                        break
            if out is None and id(v) not in escaping:
                out = em.namer("_buf")
                persistent.add(out)
                em.consts.append(f"{out} = np.empty({v.shape!r}, dtype=np.{v.dtype.name})")
        target = em.var(v)
        expr = em.expr(v, out)
        lines.append(f"{target} = {expr}" + _comment(v, em))
        if id(v) in owned:
            holder_name[id(v)] = out or target  # the name of its buffer
            storage_of[id(v)] = v
        if consumed is not None:
            holder_name.pop(id(consumed), None)
        for sid in deaths.get(i, ()):
            hn = holder_name.pop(sid, None)
            s = storage_of.get(sid)
            if hn is not None and s is not None and sid not in result_ids:
                pool.setdefault((s.shape, s.dtype.str), []).append(hn)

    # writes that were not done in place
    tail = []
    for h, v in graph.writes:
        if isinstance(v, Var) and id(v) in written_into:
            continue
        tail.append(f"np.copyto({em.var(h)}, {em.lit(v)})")
    results = []
    for o in graph.outputs:
        results.append(_result(o, em))
    layout = []
    for h, v in graph.grad_writes:
        if v is None:
            layout.append((h, None))
        else:
            layout.append((h, len(results)))
            results.append(_result(v, em, own=True))
    if tail:
        lines.append("")
        lines.append("# ---- writes ----")
        lines.extend(tail)
    lines.append("return (" + "".join(r + ", " for r in results) + ")")

    head = ["import math", "", "import numpy as np", "", "xp = np", ""]
    for src in em.helpers.values():
        head.append(src.rstrip())
        head.append("")
    head.extend(em.consts)
    doc = f'    """Generated by graphgrad.compile from {graph.fn_name}."""'
    body = "\n".join(("    " + ln) if ln else "" for ln in lines)
    src = "\n".join(head) + f"\n\n\ndef {fn_name}({', '.join(args)}):\n{doc}\n{body}\n"
    ns: dict = {}
    code = compile(src, f"<graphgrad.compile {graph.fn_name}>", "exec")
    exec(code, ns)
    return src, ns[fn_name], layout


def _result(o, em: _Emitter, own: bool = False) -> str:
    if isinstance(o, Var):
        n = em.var(o)
        if o.kind == "const" or (own and o.kind in ("input", "param")):
            return f"{n}.copy()"
        return n
    return em.lit(o)


def _comment(v: Var, em: _Emitter) -> str:
    site = v.site
    where = ""
    if site:
        where = f"{os.path.basename(site[0])}:{site[1]}"
    if v.phase == "backward" and v.ctx is not None:
        fwd = em.name.get(id(v.ctx)) or v.ctx.name
        what = v.ctx._node.prim.name if v.ctx._node is not None else v.ctx.kind
        text = f"grad of {what}"
        if fwd:
            text += f" -> {fwd}"
        return f"  # {text} ({where})" if where else f"  # {text}"
    if not where:
        return ""
    code = source_line(site)
    if len(code) > 60:
        code = code[:57] + "..."
    return f"  # {where}: {code}" if code else f"  # {where}"


__all__ = ["generate", "format_site", "xp"]
