"""Code generation: a traced graph becomes one plain Python function of NumPy calls.

One line per op, the forward pass, then the backward pass, then the updates; a comment
names the user's line each op came from. Buffers of values that are dead are reused
through ``out=`` (``np.add(a, b, out=t3)``), and an in-place update of a parameter
writes straight into its array when nothing reads the old value afterwards.

What each op looks like in NumPy, and whether it can write into a buffer, is declared on
its primitive (``Primitive.defcodegen``, next to its rules); an op without a template has
its NumPy forward copied in as a helper function. The module binds ``np`` to the
backend's array module (NumPy by default).
"""

from __future__ import annotations

import dis
import inspect
import keyword
import math
import os
import textwrap

import numpy as np

from ..core import backend as _backend
from ..core.backend import xp
from ..core.graph import format_site
from .trace import Graph, Var, source_line, var_deps

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
        # arrays met in parameters (an index, ...) -> their constant Var; keeping the Var
        # (and the array) alive keeps id() from naming two arrays alike
        self.arrays: dict[int, tuple] = {}

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
            known = self.arrays.get(id(a))
            if known is None:
                known = self.arrays[id(a)] = (a, Var("const", a.shape, a.dtype, value=a))
            return self.var(known[1])
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

    # ---- one op: the primitive's own template (Primitive.defcodegen) ----
    def expr(self, v: Var, out: str | None) -> str:
        node = v._node
        rule = node.prim.codegen
        a = [self.lit(x) for x in node.inputs]
        p = node.params or {}
        if out is not None:  # the planner gives a buffer only to ops that declared `out`
            return self._fill(rule.out, a, p, out)
        if rule is None or rule.expr is None:
            # no template: the primitive's own NumPy implementation, copied in as a helper
            fname = self.helper(node.prim)
            kw = "".join(f", {k}={self.lit(x)}" for k, x in p.items())
            return f"{fname}({', '.join(a)}{kw})"
        return self._fill(rule.expr, a, p)

    def _fill(self, template, a, p, out=None) -> str:
        if isinstance(template, str):
            lits = {k: self.lit(x) for k, x in p.items()}
            if out is not None:
                lits["out"] = out
            return template.format(*a, **lits)
        if out is not None:
            return template(self, a, p, out)
        return template(self, a, p)

    def add_helper(self, name: str, source: str) -> str:
        """Put a helper function's ``source`` once at the top of the module; its name."""
        self.helpers.setdefault(name, source)
        return name

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

def _rule(v: Var):
    """The primitive's codegen declaration (None when it declared none)."""
    return v._node.prim.codegen


def _fresh(v: Var) -> bool:
    """The op's result is a new array (never a view of an input)."""
    rule = _rule(v)
    return rule is not None and rule.fresh


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
        if _fresh(v):
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


class _Buffers:
    """Which buffer each op writes its result into (``out=``), op by op.

    A result may take the buffer of an input that dies at that op (elementwise ops), a
    dead value's buffer of the same shape and dtype, or a buffer kept across calls (no
    page faults on big arrays; so a compiled function is not reentrant across threads).
    Values that leave the call (results, and whatever they may be views of) need fresh
    memory. An in-place update of a parameter is written straight into its array.
    """

    def __init__(self, graph: Graph, em: _Emitter):
        self.em = em
        self.pos, self.roots_of, self.last = _plan(graph)
        self.result_ids = {id(o) for o in graph.outputs if isinstance(o, Var)}
        self.result_ids |= {id(v) for _, v in graph.grad_writes if v is not None}
        self.written_into = self._inplace_writes(graph)
        self.owned = {id(v) for v in graph.ops if _fresh(v) and v.shape
                      and id(v) not in self.written_into}
        self.escaping: set = set()
        for r in list(graph.outputs) + [v for _, v in graph.grad_writes]:
            if isinstance(r, Var):
                self.escaping.update(id(s) for s in self.roots_of(r))
        self.pool: dict[tuple, list] = {}
        self.persistent: set = set()  # names of the buffers kept across calls
        self.holder_name: dict[int, str] = {}  # id(storage var) -> name holding the buffer
        self.storage_of: dict[int, Var] = {}
        self.deaths: dict[int, list] = {}
        for sid, i in self.last.items():
            self.deaths.setdefault(i, []).append(sid)

    def _inplace_writes(self, graph: Graph) -> dict:
        """Parameter updates computed by an in-place-capable op straight into the array."""
        written_into: dict[int, Var] = {}
        counts: dict[int, int] = {}
        for _, v in graph.writes:
            counts[id(v)] = counts.get(id(v), 0) + 1
        for h, v in graph.writes:
            if not isinstance(v, Var) or v.kind != "op" or id(v) in self.result_ids \
                    or counts[id(v)] > 1 or not (_rule(v) and _rule(v).inplace):
                continue
            if v.shape != h.shape or v.dtype != h.dtype or not h.shape:
                continue
            i = self.pos[id(v)]
            if any(self.last.get(id(s), -1) > i for s in self.roots_of(h)):
                continue
            written_into[id(v)] = h
        return written_into

    def _takes_over(self, i: int, v: Var, d) -> bool:
        """Whether ``v`` (op ``i``) may write into the buffer of its input ``d``."""
        return (isinstance(d, Var) and id(d) in self.owned and self.last.get(id(d)) == i
                and d.shape == v.shape and d.dtype == v.dtype and id(d) in self.holder_name
                and not (id(v) in self.escaping
                         and self.holder_name[id(d)] in self.persistent))

    def out_for(self, i: int, v: Var):
        """(buffer name or None, the input whose buffer it takes over or None)."""
        if id(v) in self.written_into:
            return self.em.var(self.written_into[id(v)]), None
        rule = _rule(v)
        if rule is None or not v.shape:
            return None, None
        if rule.into is not None:  # e.g. where(c, x, 0.0) with x dying here: into x
            k = rule.into(v._node.inputs)
            d = v._node.inputs[k] if k is not None else None
            if d is not None and self._takes_over(i, v, d):
                return self.holder_name[id(d)], d
            return None, None
        if rule.out is None:
            return None, None
        if rule.inplace:  # elementwise: may overwrite an input that dies here
            for d in v._node.inputs:
                if self._takes_over(i, v, d):
                    return self.holder_name[id(d)], d
        return self._pooled(v), None

    def _pooled(self, v: Var) -> str | None:
        free = self.pool.get((v.shape, v.dtype.str))
        for j in range(len(free or ()) - 1, -1, -1):
            if id(v) not in self.escaping or free[j] not in self.persistent:
                return free.pop(j)
        if id(v) in self.escaping:
            return None
        out = self.em.namer("_buf")
        self.persistent.add(out)
        self.em.consts.append(f"{out} = np.empty({v.shape!r}, dtype=np.{v.dtype.name})")
        return out

    def done(self, i: int, v: Var, buffer: str, consumed) -> None:
        """Op ``i`` wrote ``v`` into ``buffer``: track who holds it, free dead values."""
        if id(v) in self.owned:
            self.holder_name[id(v)] = buffer
            self.storage_of[id(v)] = v
        if consumed is not None:
            self.holder_name.pop(id(consumed), None)
        for sid in self.deaths.get(i, ()):
            hn = self.holder_name.pop(sid, None)
            s = self.storage_of.get(sid)
            if hn is not None and s is not None and sid not in self.result_ids:
                self.pool.setdefault((s.shape, s.dtype.str), []).append(hn)


def _body(graph: Graph, em: _Emitter, buffers: _Buffers) -> list[str]:
    """One line per op, with a header where the phase (forward, backward...) changes."""
    lines: list[str] = []
    phase = None
    for i, v in enumerate(graph.ops):
        if v.phase != phase:
            phase = v.phase
            lines.append("")
            lines.append(f"# ---- {phase} ----")
        out, consumed = buffers.out_for(i, v)
        target = em.var(v)
        lines.append(f"{target} = {em.expr(v, out)}" + _comment(v, em))
        buffers.done(i, v, out or target, consumed)
    return lines


def _module_head(em: _Emitter) -> list[str]:
    """Imports (``np`` is the backend's array module), helpers and constants."""
    module = _backend.xp.__name__
    head = ["import math", "", f"import {module} as np", "", "xp = np", ""]
    for src in em.helpers.values():
        head.append(src.rstrip())
        head.append("")
    head.extend(em.consts)
    return head


def generate(graph: Graph, fn_name: str = "fn"):
    """Source text, the exec'd function, and where each ``.grad`` sits in its result."""
    em = _Emitter(graph)
    fn_name = em.namer(graph.fn_name or fn_name)
    args = [em.var(v) for v in graph.inputs] + [em.var(v) for v in graph.params]
    buffers = _Buffers(graph, em)
    lines = _body(graph, em, buffers)
    # writes that were not done in place
    tail = [f"np.copyto({em.var(h)}, {em.lit(v)})" for h, v in graph.writes
            if not (isinstance(v, Var) and id(v) in buffers.written_into)]
    results = [_result(o, em) for o in graph.outputs]
    layout = []
    for h, v in graph.grad_writes:
        if v is None:
            layout.append((h, None))
        else:
            layout.append((h, len(results)))
            results.append(_result(v, em, own=True))
    if tail:
        lines += ["", "# ---- writes ----"] + tail
    lines.append("return (" + "".join(r + ", " for r in results) + ")")

    doc = f'    """Generated by graphgrad.compile from {graph.fn_name}."""'
    body = "\n".join(("    " + ln) if ln else "" for ln in lines)
    src = "\n".join(_module_head(em)) + \
        f"\n\n\ndef {fn_name}({', '.join(args)}):\n{doc}\n{body}\n"
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
