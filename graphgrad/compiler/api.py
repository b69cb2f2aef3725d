"""``gg.compile``: trace once per input signature, simplify, generate NumPy, cache."""

from __future__ import annotations

import functools
import inspect

from ..core import state as _state
from ..core.backend import xp
from ..core.tensor import Tensor
from . import codegen, passes
from .trace import GradOf, Graph, Tracer, Var, trace

_ndarray = xp.ndarray


# ------------------------------------------------------------------ pytrees ----

def _flatten(obj, leaves: list, path: str, names: list):
    """Structure key of ``obj``; dynamic leaves (Tensors, arrays) appended to ``leaves``."""
    if isinstance(obj, Tensor):
        leaves.append(obj)
        names.append(path)
        return ("T", obj.data.shape, obj.data.dtype.str, obj._rg)
    if isinstance(obj, _ndarray):
        leaves.append(obj)
        names.append(path)
        return ("A", obj.shape, obj.dtype.str)
    t = type(obj)
    if t is list or t is tuple:
        return (t.__name__, tuple(_flatten(o, leaves, f"{path}_{i}", names)
                                  for i, o in enumerate(obj)))
    if t is dict:
        keys = tuple(obj)
        return ("dict", keys, tuple(_flatten(obj[k], leaves, f"{path}_{k}", names)
                                    for k in keys))
    try:
        hash(obj)
    except TypeError:
        raise TypeError(
            f"gg.compile: argument {path} of type {t.__name__} is neither a tensor, an "
            "array, a number nor a list/tuple/dict of them; pass it with static_argnums "
            "(it must then be hashable) or close over it") from None
    return ("S", t, obj)


def _unflatten(tree, it):
    kind = tree[0]
    if kind in ("T", "A"):
        return next(it)
    if kind == "list":
        return [_unflatten(c, it) for c in tree[1]]
    if kind == "tuple":
        return tuple(_unflatten(c, it) for c in tree[1])
    if kind == "dict":
        return {k: _unflatten(c, it) for k, c in zip(tree[1], tree[2])}
    return tree[2]


def _out_flatten(obj, tracer: Tracer, leaves: list):
    """Structure of fn's result; its tensor leaves become Vars (or literals)."""
    if isinstance(obj, Tensor):
        v = tracer.var_of.get(id(obj))
        if v is None:
            v = tracer.value(obj)
        leaves.append(v)
        return ("T",)
    if isinstance(obj, _ndarray):
        leaves.append(tracer.value(obj))
        return ("A",)
    t = type(obj)
    if t is list or t is tuple:
        return (t.__name__, tuple(_out_flatten(o, tracer, leaves) for o in obj))
    if t is dict:
        return ("dict", tuple(obj), tuple(_out_flatten(obj[k], tracer, leaves) for k in obj))
    leaves.append(obj)
    return ("L",)


def _out_build(tree, it):
    kind = tree[0]
    if kind == "T":
        return Tensor._from_array(_as_array(next(it)))
    if kind == "A":
        return _as_array(next(it))
    if kind == "L":
        return next(it)
    if kind == "list":
        return [_out_build(c, it) for c in tree[1]]
    if kind == "tuple":
        return tuple(_out_build(c, it) for c in tree[1])
    return {k: _out_build(c, it) for k, c in zip(tree[1], tree[2])}


def _as_array(a):
    return a if type(a) is _ndarray else xp.asarray(a)


def _detach_tree(obj):
    if isinstance(obj, Tensor):
        return Tensor._from_array(obj.data)
    t = type(obj)
    if t is list or t is tuple:
        return t(_detach_tree(o) for o in obj)
    if t is dict:
        return {k: _detach_tree(v) for k, v in obj.items()}
    return obj


# ------------------------------------------------------------ names of params ----

def _param_names(fn) -> dict:  # noqa: C901 (to split)
    """id(Tensor) -> a name, from fn's closure, the globals it uses and their attributes.

    Searched breadth first, so a tensor named directly (``W1``) wins over a path to it
    (``params_0``, ``model_fc1_weight``).
    """
    found: dict[int, str] = {}
    roots: list = []
    fns = [fn]
    done: set = set()
    while fns:
        f = fns.pop()
        if id(f) in done:
            continue
        done.add(id(f))
        f = getattr(f, "__wrapped__", f)
        if isinstance(f, functools.partial):
            roots.extend((a, f"arg{i}") for i, a in enumerate(f.args))
            f = f.func
        if inspect.ismethod(f):
            roots.append((f.__self__, "self"))
            f = f.__func__
        code = getattr(f, "__code__", None)
        if code is None:
            if hasattr(f, "__dict__"):
                roots.append((f, "self"))
            continue
        for name, cell in zip(code.co_freevars, f.__closure__ or ()):
            try:
                val = cell.cell_contents
            except ValueError:
                continue
            if inspect.isfunction(val):
                fns.append(val)
            else:
                roots.append((val, name))
        g = f.__globals__
        codes = [code]
        while codes:
            c = codes.pop()
            for name in c.co_names:
                val = g.get(name)
                if val is None or inspect.ismodule(val) or inspect.isclass(val):
                    continue
                if inspect.isfunction(val):
                    if val.__module__ == f.__module__:
                        fns.append(val)
                else:
                    roots.append((val, name))
            codes.extend(k for k in c.co_consts if inspect.iscode(k))
    seen: set = set()
    level = roots
    for _ in range(4):
        nxt = []
        for obj, name in level:
            if isinstance(obj, Tensor):
                found.setdefault(id(obj), name)
                continue
            if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type)) \
                    or inspect.isroutine(obj) or inspect.ismodule(obj):
                continue
            seen.add(id(obj))
            if isinstance(obj, (list, tuple)) and len(obj) <= 1000:
                nxt.extend((o, f"{name}_{i}") for i, o in enumerate(obj))
            elif isinstance(obj, dict) and len(obj) <= 1000:
                nxt.extend((o, f"{name}_{k}") for k, o in obj.items())
            elif hasattr(obj, "__dict__"):
                nxt.extend((o, f"{name}_{k.lstrip('_')}") for k, o in vars(obj).items()
                           if not k.startswith("__"))
        level = nxt
    return found


# ------------------------------------------------------------------- compile ----

class _Entry:
    """One cache entry: the generated function for one input signature."""

    __slots__ = ("fn", "source", "graph", "params", "n_out", "out_tree", "grad_writes",
                 "const_outs")

    def run(self, leaves):
        arrays = [a.data if isinstance(a, Tensor) else a for a in leaves]
        for t in self.params:
            arrays.append(t.data if type(t) is not GradOf else t.get())
        res = self.fn(*arrays)
        for holder, k in self.grad_writes:
            t = holder.ref if holder.kind == "param" else leaves[holder.index]
            if isinstance(t, Tensor):
                t.grad = None if k is None else Tensor._from_array(_as_array(res[k]))
        return _out_build(self.out_tree, iter(res[:self.n_out]))


class Compiled:
    """A function compiled to NumPy code, one version per input shapes/dtypes.

    >>> import graphgrad as gg
    >>> f = gg.compile(lambda x: gg.tanh(x) * 2)
    >>> f(gg.ones(3)).shape
    (3,)
    >>> "np.tanh" in f.source
    True
    """

    def __init__(self, fn, static_argnums=(), optimize: bool = True):
        self.fn = fn
        if isinstance(static_argnums, int):
            static_argnums = (static_argnums,)
        self.static_argnums = tuple(static_argnums)
        self.optimize = optimize
        self._cache: dict = {}
        self._last = None
        try:
            self._argnames = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            self._argnames = []
        functools.update_wrapper(self, fn)

    def _arg_name(self, i: int) -> str:
        if i < len(self._argnames):
            return self._argnames[i]
        return f"arg{i}"

    def __call__(self, *args, **kwargs):
        if _state.state.stack:  # inside a trace, a jvp or anomaly mode: run it as Python
            return self.fn(*args, **kwargs)
        leaves: list = []
        names: list = []
        key = []
        nums = self.static_argnums
        for i, a in enumerate(args):
            if i in nums:
                try:
                    hash(a)
                except TypeError:
                    raise TypeError(f"gg.compile: static argument {i} must be hashable, got "
                                    f"{type(a).__name__}") from None
                key.append(("S", type(a), a))
            else:
                key.append(_flatten(a, leaves, self._arg_name(i), names))
        if kwargs:
            key.append(("kw", _flatten(kwargs, leaves, "kw", names)))
        key = tuple(key)
        entry = self._cache.get(key)
        if entry is not None:
            self._last = entry
            return entry.run(leaves)
        return self._trace(key, args, kwargs, leaves, names)

    def _trace(self, key, args, kwargs, leaves, names):
        tracer = Tracer()
        traced = []
        for i, (leaf, name) in enumerate(zip(leaves, names)):
            t = leaf if isinstance(leaf, Tensor) else Tensor._from_array(leaf)
            tracer.add_input(t, i, name)
            traced.append(t)
        it = iter(traced)
        targs = []
        for i, a in enumerate(args):
            if i in self.static_argnums:
                targs.append(a)
            else:
                targs.append(_unflatten(_flatten(a, [], "", []), it))
        tkwargs = _unflatten(_flatten(kwargs, [], "", []), it) if kwargs else {}
        result = trace(self.fn, tuple(targs), tkwargs, tracer)
        graph = self._finish(tracer, result)
        entry = _Entry()
        entry.graph = graph
        if self.optimize:
            passes.optimize(graph)
        else:
            passes.dce(graph)
        src, fn, layout = codegen.generate(graph, getattr(self.fn, "__name__", "fn"))
        entry.source = src
        entry.fn = fn
        entry.params = [v.ref for v in graph.params]
        entry.n_out = len(graph.outputs)
        entry.out_tree = graph.out_tree
        entry.grad_writes = layout
        self._cache[key] = entry
        self._last = entry
        # the trace itself was a real run: hand back its results, cut from the trace
        _detach_grads(tracer)
        return _detach_tree(result)

    def _finish(self, tracer: Tracer, result) -> Graph:  # noqa: C901 (to split)
        g = tracer.graph
        g.fn_name = _ident(getattr(self.fn, "__name__", "fn"))
        leaves: list = []
        g.out_tree = _out_flatten(result, tracer, leaves)
        g.outputs = leaves
        names = _param_names(self.fn)
        for t, v in tracer.externals:
            written = id(t) in tracer.writes
            if isinstance(v.ref, GradOf):
                v.kind = "param"
                g.params.append(v)
            elif written or t._rg or id(t) in names or t.name:
                v.kind = "param"
                if v.name is None:
                    v.name = names.get(id(t))
                g.params.append(v)
            else:
                v.kind = "const"
                v.value = t.data
                v.ref = None
        for k, (t, nv) in tracer.writes.items():
            g.writes.append((tracer.holders[k][1], nv))
        for k, (t, hv) in tracer.holders.items():
            if hv.kind == "const":
                continue
            gr = t.grad
            if gr is None:
                if t._rg:
                    g.grad_writes.append((hv, None))
                continue
            gv = tracer.var_of.get(id(gr))
            if gv is not None and gv is not hv:
                g.grad_writes.append((hv, gv))
        for v in g.ops:
            n = tracer.names.get(id(v))
            if isinstance(n, str):
                v.name = n
        for hv, nv in g.writes:  # the new value of a parameter carries its name
            if nv.kind == "op" and hv.name:
                nv.name = hv.name
        for hv, gv in g.grad_writes:  # its gradient: "d" + its name
            if gv is not None and gv.kind == "op" and hv.name:
                gv.name = "d" + hv.name
        for v in g.ops:  # gradients: "d" + the name of the value they are the gradient of
            n = tracer.names.get(id(v))
            if isinstance(n, tuple) and n[1].name:
                v.name = "d" + n[1].name
        return g

    # ---- inspection ----
    @property
    def source(self) -> str:
        """The generated NumPy source of the most recent signature."""
        if self._last is None:
            raise RuntimeError("compile: call the function once first (it traces on the "
                               "first call with each input signature)")
        return self._last.source

    @property
    def graph(self) -> Graph:
        """The traced and simplified graph of the most recent signature."""
        if self._last is None:
            raise RuntimeError("compile: call the function once first")
        return self._last.graph

    @property
    def cache_size(self) -> int:
        return len(self._cache)

    def clear_cache(self) -> None:
        self._cache.clear()
        self._last = None


def _detach_grads(tracer: Tracer) -> None:
    for t, _ in tracer.holders.values():
        if isinstance(t.grad, Tensor) and t.grad._node is not None:
            t.grad = Tensor._from_array(t.grad.data)


def _ident(name: str) -> str:
    s = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    if not s or s[0].isdigit():
        s = "fn_" + s
    return s


def compile(fn=None, *, static_argnums=(), optimize: bool = True):
    """Compile ``fn`` to plain NumPy code, traced once per input shapes/dtypes.

    Inputs and outputs are Tensors, arrays, numbers and nested lists/tuples/dicts of them;
    Python numbers are static (a new value retraces), as are the arguments named in
    ``static_argnums``. Tensors ``fn`` closes over (parameters) are read on every call;
    in-place updates of them (``p.sub_(lr * p.grad)``) and ``.grad`` set by a
    ``backward()`` inside ``fn`` happen on every call, as in eager mode.

    >>> import graphgrad as gg
    >>> w = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> step = gg.compile(lambda x: gg.sum(w * x))
    >>> float(step(gg.tensor([3.0, 4.0])))
    11.0
    >>> float(step(gg.tensor([1.0, 1.0])))
    3.0
    """
    if fn is None:
        return functools.partial(compile, static_argnums=static_argnums, optimize=optimize)
    return Compiled(fn, static_argnums=static_argnums, optimize=optimize)


__all__ = ["compile", "Compiled", "Var"]
