"""``gg.compile``: trace once per input signature, simplify, generate NumPy, cache.

What the function reads besides its arguments is read on every call (see ``capture``);
what the generated code freezes is listed on ``Compiled.constants``.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import NamedTuple

from ..core import state as _state
from ..core.backend import xp
from ..core.graph import format_site
from ..core.pytree import LEAF, TreeDef, tree_flatten, tree_map, tree_unflatten
from ..core.tensor import Tensor
from . import codegen, passes
from .capture import Path, Slot, Stale, find_state, function_roots, make_reader, probe
from .trace import GradOf, Graph, Tracer, Var, source_line, trace

_ndarray = xp.ndarray
_WARN_RETRACES = 10  # rebinding captured state this often is worth a warning
_STATIC_ATOMS = (int, float, complex, bool, str, bytes, type(None))


# ------------------------------------------------------------------ pytrees ----

def _signature(obj, leaves: list, statics: list, name: str):
    """Cache key of one argument; its dynamic leaves (Tensors, arrays) go to ``leaves``,
    static leaves that are objects (compared by identity on every call) to ``statics``."""
    if isinstance(obj, Tensor):  # the common case, without building a TreeDef
        leaves.append(obj)
        return ("T", obj.data.shape, obj.data.dtype.str, obj._rg)
    flat, td = tree_flatten(obj)
    sig = []
    for i, x in enumerate(flat):
        if isinstance(x, Tensor):
            leaves.append(x)
            sig.append(("T", x.data.shape, x.data.dtype.str, x._rg))
        elif isinstance(x, _ndarray):
            leaves.append(x)
            sig.append(("A", x.shape, x.dtype.str))
        else:
            try:
                hash(x)
            except TypeError:
                raise TypeError(
                    f"gg.compile: argument {_leaf_names(td, name)[i]} of type "
                    f"{type(x).__name__} is neither a tensor, an array, a number nor a "
                    "list/tuple/dict of them; pass it with static_argnums (it must then "
                    "be hashable) or close over it") from None
            if _holds_state(x):
                statics.append(x)
            sig.append(("S", type(x), x))
    return td, tuple(sig)


def _holds_state(x) -> bool:
    """A static object that may hold tensors (compared by identity on every call: an
    equal but different object may hold other values)."""
    return not isinstance(x, _STATIC_ATOMS) and not _is_dynamic(x) and \
        (hasattr(x, "__dict__") or hasattr(type(x), "__slots__")) and \
        not (inspect.isroutine(x) or inspect.isclass(x) or inspect.ismodule(x))


def _is_dynamic(x) -> bool:
    return isinstance(x, (Tensor, _ndarray))


def _leaf_names(td: TreeDef, prefix: str) -> list:
    """A Python-ish name for each leaf of ``td``: ``d_w``, ``params_0``."""
    if td.kind is None:
        return [prefix]
    if td.kind is dict:
        keys = td.meta
    elif hasattr(td.kind, "_fields"):  # a namedtuple
        keys = td.kind._fields
    else:
        keys = range(len(td.children))
    out = []
    for k, c in zip(keys, td.children):
        out.extend(_leaf_names(c, f"{prefix}_{k}"))
    return out


def _out_flatten(obj, tracer: Tracer):
    """fn's result as (treedef, leaf kinds) and its leaves as Vars (or literals)."""
    flat, td = tree_flatten(obj)
    kinds, leaves = [], []
    for x in flat:
        if isinstance(x, Tensor):
            v = tracer.var_of.get(id(x))
            leaves.append(v if v is not None else tracer.value(x))
            kinds.append("T")
        elif isinstance(x, _ndarray):
            leaves.append(tracer.value(x))
            kinds.append("A")
        else:
            leaves.append(x)
            kinds.append("L")
    return (td, tuple(kinds)), leaves


def _out_build(out_tree, results):
    td, kinds = out_tree
    leaves = [Tensor._from_array(_as_array(r)) if k == "T" else _as_array(r) if k == "A"
              else r for k, r in zip(kinds, results)]
    return leaves[0] if td is LEAF else tree_unflatten(td, leaves)


def _as_array(a):
    return a if type(a) is _ndarray else xp.asarray(a)


def _detach_tree(obj):
    return tree_map(lambda x: Tensor._from_array(x.data) if isinstance(x, Tensor) else x, obj)


# ------------------------------------------------------------ state and slots ----

class Constant(NamedTuple):
    """A value frozen into the generated code (see ``Compiled.constants``)."""

    name: str  # its name in ``Compiled.source``
    shape: tuple
    dtype: object
    where: str  # the user's line that first reads it


# ------------------------------------------------------------------- compile ----

class _Entry:
    """One cache entry: the generated function for one input signature."""

    __slots__ = ("fn", "source", "graph", "slots", "n_out", "out_tree", "grad_writes",
                 "statics", "constants", "read")

    def run(self, leaves, statics):
        if statics:
            for a, b in zip(statics, self.statics):
                if a is not b:  # an equal but different object: its state may differ
                    raise Stale("a static argument")
        arrays = [a.data if isinstance(a, Tensor) else a for a in leaves]
        arrays += self.read(leaves)  # the state it reads; raises Stale if rebound
        res = self.fn(*arrays)
        for holder, k in self.grad_writes:
            t = holder.ref if holder.kind == "param" else leaves[holder.index]
            if isinstance(t, Tensor):
                t.grad = None if k is None else Tensor._from_array(_as_array(res[k]))
        return _out_build(self.out_tree, res[:self.n_out])


class Compiled:
    """A function compiled to NumPy code, one version per input shapes/dtypes.

    ``source`` and ``graph`` show the most recent version, ``constants`` what it froze;
    ``retraces`` counts the traces caused by rebound state (not by new input shapes).

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
        self.retraces = 0  # traces caused by rebound state (not by new input signatures)
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
        if _state.current_stack():  # inside a trace, a jvp or anomaly mode: run it as Python
            return self.fn(*args, **kwargs)
        leaves: list = []
        statics: list = []
        key = []
        nums = self.static_argnums
        for i, a in enumerate(args):
            if i in nums:
                try:
                    hash(a)
                except TypeError:
                    raise TypeError(f"gg.compile: static argument {i} must be hashable, got "
                                    f"{type(a).__name__}") from None
                statics += [x for x in tree_flatten(a)[0] if _holds_state(x)]
                key.append(("S", type(a), a))
            else:
                key.append(_signature(a, leaves, statics, self._arg_name(i)))
        if kwargs:
            key.append(("kw", _signature(kwargs, leaves, statics, "kw")))
        key = tuple(key)
        entry = self._cache.get(key)
        if entry is not None:
            self._last = entry
            try:
                return entry.run(leaves, statics)
            except Stale as e:
                self._stale(str(e))
        return self._trace(key, args, kwargs, leaves, statics)

    def _stale(self, what: str) -> None:
        self.retraces += 1
        if self.retraces == _WARN_RETRACES:
            warnings.warn(
                f"gg.compile({getattr(self.fn, '__name__', 'fn')}): traced again "
                f"{self.retraces} times because state it reads was rebound or reshaped "
                f"(last: {what}); update tensors in place (w.sub_(...), w.copy_(...)) or "
                "pass them as arguments", RuntimeWarning, stacklevel=3)

    def _trace(self, key, args, kwargs, leaves, statics):
        tracer = Tracer()
        names = self._input_names(args, kwargs)
        traced = []
        for i, (leaf, name) in enumerate(zip(leaves, names)):
            t = leaf if isinstance(leaf, Tensor) else Tensor._from_array(leaf)
            tracer.add_input(t, i, name)
            traced.append(t)
        it = iter(traced)
        targs = tuple(a if i in self.static_argnums else _retree(a, it)
                      for i, a in enumerate(args))
        tkwargs = _retree(kwargs, it) if kwargs else {}
        result = trace(self.fn, targs, tkwargs, tracer)
        names: set = set()
        scalars: list = []
        state = find_state(self._roots(args, kwargs, names), names, scalars)
        self._check_stored(tracer, state)
        graph, probes = self._finish(tracer, result, state)
        # the trace itself was a real run: hand back its results, cut from the trace
        _detach_grads(tracer)
        out = _detach_tree(result)
        # let go of everything the trace touched, so that what nobody else holds is freed
        del tracer, result, targs, tkwargs, traced, it
        _settle(graph, probes, state)
        entry = self._build(graph, state, statics, scalars)
        self._cache[key] = entry
        self._last = entry
        return out

    def _check_stored(self, tracer: Tracer, state: dict) -> None:
        """A value computed inside the function and stored where it can be reached (
        ``self.last = loss``) is updated by the traced call only: say so."""
        handled = set()
        for t, _ in tracer.holders.values():  # their new values and .grad are written back
            handled.update((id(t), id(t.data), id(t.grad)))
        stored = []
        for i, (name, _) in state.items():
            v = tracer.var_of.get(i) or tracer.data_of.get(i)
            if v is not None and v.kind == "op" and i not in handled:
                stored.append(name)
        if stored:
            warnings.warn(
                f"gg.compile({getattr(self.fn, '__name__', 'fn')}): the function stores "
                f"values it computes in {', '.join(stored[:3])}; compiled calls do not "
                "update them (only this first, traced call did). Return them instead, or "
                "write into an existing tensor in place (t.copy_(value))",
                RuntimeWarning, stacklevel=3)

    def _input_names(self, args, kwargs) -> list:
        names = []
        for i, a in enumerate(args):
            if i not in self.static_argnums:
                flat, td = tree_flatten(a)
                names += [n for x, n in zip(flat, _leaf_names(td, self._arg_name(i)))
                          if _is_dynamic(x)]
        if kwargs:
            flat, td = tree_flatten(kwargs)
            names += [n for x, n in zip(flat, _leaf_names(td, "kw")) if _is_dynamic(x)]
        return names

    def _roots(self, args, kwargs, names: set) -> list:
        """Where the function finds its state: what it closes over, and its static args."""
        roots = function_roots(self.fn, names)
        named = [(self._arg_name(i), a) for i, a in enumerate(args)] + list(kwargs.items())
        for name, a in named:
            roots += [(x, name, Path(x, ())) for x in tree_flatten(a)[0] if _holds_state(x)]
        return roots

    def _finish(self, tracer: Tracer, result, state: dict):
        g = tracer.graph
        g.fn_name = _ident(getattr(self.fn, "__name__", "fn"))
        g.out_tree, g.outputs = _out_flatten(result, tracer)
        candidates = _candidates(tracer, g, state)
        _writes(tracer, g)
        _name_ops(tracer, g)
        return g, [(v, probe_or_none(v, obj)) for v, obj in candidates]

    def _build(self, graph: Graph, state: dict, statics: list, scalars: list) -> _Entry:
        if self.optimize:
            passes.optimize(graph)
        else:
            passes.dce(graph)
        for v in graph.params:
            if v.name is None:  # read from somewhere the search did not look
                v.name = "captured"
        entry = _Entry()
        entry.constants = _name_constants(graph)
        src, fn, layout = codegen.generate(graph, getattr(self.fn, "__name__", "fn"))
        entry.graph = graph
        entry.source = src
        entry.fn = fn
        inputs = {id(v.ref): v.index for v in graph.inputs}
        entry.slots = [Slot(v, _paths_of(v, state), _grad_of_input(v, inputs))
                       for v in graph.params]
        entry.read = make_reader(entry.slots, scalars)
        entry.n_out = len(graph.outputs)
        entry.out_tree = graph.out_tree
        entry.grad_writes = layout
        entry.statics = list(statics)
        return entry

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
    def constants(self) -> list:
        """The values frozen into the most recent signature's code, as ``Constant``
        (name, shape, dtype, where). Only values made during the trace that nothing
        outside it holds are frozen; every tensor or array the function reads from its
        closure, globals or captured objects is read on every call instead.

        >>> import graphgrad as gg
        >>> f = gg.compile(lambda x: x * gg.tensor([1.0, 2.0]))
        >>> _ = f(gg.ones(2))
        >>> [(c.shape, str(c.dtype)) for c in f.constants]
        [((2,), 'float32')]
        """
        if self._last is None:
            raise RuntimeError("compile: call the function once first")
        return list(self._last.constants)

    @property
    def cache_size(self) -> int:
        return len(self._cache)

    def clear_cache(self) -> None:
        self._cache.clear()
        self._last = None


def _retree(a, it):
    """``a`` with its dynamic leaves replaced, in order, by the next values of ``it``."""
    flat, td = tree_flatten(a)
    return tree_unflatten(td, [next(it) if _is_dynamic(x) else x for x in flat])


# ------------------------------------------------------ finishing a trace ----

def _candidates(tracer: Tracer, g: Graph, state: dict) -> list:
    """Externals that must be read by reference become params now; the others (and the
    raw arrays ops read) are returned as (Var, value): frozen if nobody else holds them."""
    out = []
    for t, v in tracer.externals:
        if v.name is None and id(t) in state:
            v.name = state[id(t)][0]
        if isinstance(v.ref, GradOf) or id(t) in tracer.writes or t._rg:
            v.kind = "param"
            g.params.append(v)
        else:
            out.append((v, t))
    out += [(v, v.value) for v in tracer.consts]
    memo: dict = {}  # id(array) -> its Var: one array read by several ops is one value
    for v in g.ops:  # arrays given to ops as parameters (an index array, say)
        node = v._node
        if node.params:
            node.params = {k: _params_arrays(p, memo, out) for k, p in node.params.items()}
    return out


def _params_arrays(p, memo: dict, out: list):
    if isinstance(p, tuple):
        return tuple(_params_arrays(q, memo, out) for q in p)
    if isinstance(p, list):
        return [_params_arrays(q, memo, out) for q in p]
    if isinstance(p, _ndarray):
        c = memo.get(id(p))
        if c is None:
            c = memo[id(p)] = Var("const", p.shape, p.dtype, value=p)
            out.append((c, p))
        return c
    return p


def probe_or_none(v: Var, obj):
    """Prepare ``v`` to be frozen: keep a copy of the value, drop our reference to it."""
    pr = probe(obj)
    if pr is None:  # a view: always read by reference
        v.kind = "param"
        v.ref = obj
        v.value = None
        return obj
    arr = obj.data if isinstance(obj, Tensor) else obj
    v.value = arr.copy()
    v.kind = "const"
    v.ref = None
    return pr


def _settle(graph: Graph, probes: list, state: dict) -> None:
    """Values still alive once the trace let go are shared: read them by reference.
    Frozen arrays in op parameters go back to being literals (constant folding)."""
    for v, pr in probes:
        if v.kind == "param":  # a view, decided already
            graph.params.append(v)
            continue
        obj = pr.shared()
        if obj is None:
            continue
        v.kind = "param"
        v.ref = obj
        v.value = None
        if v.name is None and id(obj) in state:
            v.name = state[id(obj)][0]
        graph.params.append(v)
    for v in graph.ops:
        node = v._node
        if node.params:
            node.params = {k: _unwrap_consts(p) for k, p in node.params.items()}


def _unwrap_consts(p):
    if isinstance(p, tuple):
        return tuple(_unwrap_consts(q) for q in p)
    if isinstance(p, list):
        return [_unwrap_consts(q) for q in p]
    if isinstance(p, Var) and p.kind == "const" and p._node is None:
        return p.value
    return p


def _writes(tracer: Tracer, g: Graph) -> None:
    """In-place writes into inputs and params; ``.grad`` set on them by a backward."""
    for t, nv in tracer.writes.values():
        g.writes.append((tracer.holders[id(t)][1], nv))
    for t, hv in tracer.holders.values():
        if hv.kind not in ("input", "param"):
            continue
        gr = t.grad
        if gr is None:
            if t._rg:
                g.grad_writes.append((hv, None))
            continue
        gv = tracer.var_of.get(id(gr))
        if gv is not None and gv is not hv:
            g.grad_writes.append((hv, gv))


def _name_ops(tracer: Tracer, g: Graph) -> None:
    """Names from the user's variables; a parameter's new value and its gradient (``dW``)
    after the parameter; other gradients after the value they are the gradient of."""
    for v in g.ops:
        n = tracer.names.get(id(v))
        if isinstance(n, str):
            v.name = n
    for hv, nv in g.writes:
        if nv.kind == "op" and hv.name:
            nv.name = hv.name
    for hv, gv in g.grad_writes:
        if gv is not None and gv.kind == "op" and hv.name:
            gv.name = "d" + hv.name
    for v in g.ops:
        n = tracer.names.get(id(v))
        if isinstance(n, tuple) and n[1].name:
            v.name = "d" + n[1].name


def _name_constants(graph: Graph) -> list:
    """Every constant the code will hold, as a ``Constant``; arrays left in op parameters
    become constant Vars so that the code and the list use the same names."""
    found: dict[int, tuple] = {}
    taken = {v.name for v in graph.inputs + graph.params + graph.ops if v.name}

    def see(a, user):
        if isinstance(a, _ndarray):
            a = Var("const", a.shape, a.dtype, value=a)
        if isinstance(a, Var) and a.kind == "const" and id(a) not in found:
            if a.name is None or a.name in taken:
                a.name = _fresh(f"c{len(found)}", taken)
            taken.add(a.name)
            found[id(a)] = (a, user)
        return a

    for v in graph.ops:
        node = v._node
        node.inputs = tuple(see(a, v) for a in node.inputs)
        if node.params:
            node.params = {k: _map_leaves(p, lambda a, v=v: see(a, v))
                           for k, p in node.params.items()}
    for o in graph.outputs + [w for _, w in graph.writes + graph.grad_writes]:
        see(o, None)
    return [Constant(c.name, c.shape, c.dtype, _where(u)) for c, u in found.values()]


def _map_leaves(p, f):
    if isinstance(p, tuple):
        return tuple(_map_leaves(q, f) for q in p)
    if isinstance(p, list):
        return [_map_leaves(q, f) for q in p]
    return f(p)


def _fresh(base: str, taken: set) -> str:
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


def _where(user) -> str:
    if user is None:
        return "returned"
    site = user.site
    code = source_line(site)
    return f"{format_site(site)}: {code}" if code else format_site(site)


def _paths_of(v: Var, state: dict) -> list:
    ref = v.ref.holder if isinstance(v.ref, GradOf) else v.ref
    hit = state.get(id(ref))
    return hit[1] if hit is not None else []


def _grad_of_input(v: Var, inputs: dict):
    if isinstance(v.ref, GradOf):
        return inputs.get(id(v.ref.holder))
    return None


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
    ``static_argnums``. Tensors and arrays ``fn`` reads from its closure, its globals or
    captured objects are read on every call (a changed value is seen; a name rebound to
    another object traces again); in-place updates of them (``p.sub_(lr * p.grad)``) and
    ``.grad`` set by a ``backward()`` inside ``fn`` happen on every call, as in eager
    mode. Only values made during the trace are frozen: see ``Compiled.constants``.

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


__all__ = ["compile", "Compiled", "Constant", "Var"]
