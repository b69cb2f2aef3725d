"""Tracing: run a function once on real values and record every op into a Graph.

Concrete tracing: the function runs eagerly, on real values (so shapes and dtypes come for
free), while the Tracer, an interpreter on the per-thread stack, records each op that
touches a Tensor. Backward
passes run inside the trace (``gg.grad``, ``loss.backward()``) execute their rules on
Tensors, so the gradient computation is recorded too, op by op. In-place updates
(``Tensor.copy_`` / ``sub_`` / ``add_`` / ...) are recorded as *writes*: a new value for a
tensor that outlives the call.

The recorded graph uses the one node type of the package (``graphgrad.core.graph.Node``): a
``Var`` is to the graph what a Tensor is to an eager graph (it has ``shape``, ``dtype``
and ``_node``), so tools that walk eager graphs walk traced ones.
"""

from __future__ import annotations

import linecache
import os
import sys

from ..core import state as _state
from ..core.backend import xp
from ..core.graph import _PKG_DIR, Node, resolve_site
from ..core.tensor import Tensor

_COMPILE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class Var:
    """One value of a traced graph.

    kind: "input" (an argument of the compiled function), "param" (a tensor or array the
    function reads from outside, read by reference on every call; ``ref`` is it, or a
    ``GradOf``), "const" (a value made during the trace that nothing else holds, frozen)
    or "op" (computed by ``_node``).
    """

    __slots__ = ("kind", "name", "shape", "dtype", "value", "_node", "phase", "site",
                 "ctx", "ref", "index")

    def __init__(self, kind: str, shape, dtype, value=None, node=None):
        self.kind = kind
        self.shape = tuple(shape)
        self.dtype = dtype
        self.value = value  # constants: the array
        self._node = node  # ops: Node(prim, inputs (Vars or literals), params, ...)
        self.name = None  # the user's name for it, when known
        self.phase = "forward"  # "forward", "backward" or "update"
        self.site = None  # (file, line) of the user's line
        self.ctx = None  # backward ops: the forward Var whose gradient rule made it
        self.ref = None  # params: the Tensor (array, GradOf) read on every call
        self.index = None  # inputs: position among the dynamic inputs

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def prim(self):
        return self._node.prim if self._node is not None else None

    def __repr__(self) -> str:
        what = self._node.prim.name if self._node is not None else self.kind
        return f"<Var {self.name or '?'}: {what} {self.shape} {self.dtype}>"


def var_deps(v: Var) -> list:
    """The Vars an op reads: its inputs and any Var inside its parameters."""
    node = v._node
    if node is None:
        return []
    out = [a for a in node.inputs if isinstance(a, Var)]
    if node.params:
        _collect_vars(node.params, out)
    return out


def _collect_vars(obj, out):
    if isinstance(obj, Var):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _collect_vars(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _collect_vars(o, out)


class GradOf:
    """A parameter read as ``holder.grad`` on every call (zeros when it is None)."""

    __slots__ = ("holder",)

    def __init__(self, holder: Tensor):
        self.holder = holder

    def get(self):
        g = self.holder.grad
        if g is None:
            return xp.zeros(self.holder.data.shape, dtype=self.holder.data.dtype)
        return g.data


class Graph:
    """A traced function: inputs, params, ops in execution order, outputs and writes.

    ``outputs`` is a list of Vars or literals (the leaves of the returned structure);
    ``writes`` maps holder Vars (inputs or params) to the Var written into their data;
    ``grad_writes`` maps holders to the Var that becomes their ``.grad`` (None: cleared).
    """

    def __init__(self):
        self.inputs: list[Var] = []
        self.params: list[Var] = []
        self.ops: list[Var] = []
        self.outputs: list = []
        self.out_tree = None
        self.writes: list[tuple[Var, Var]] = []
        self.grad_writes: list[tuple[Var, Var | None]] = []
        self.fn_name = "fn"

    @property
    def nodes(self) -> list:
        """The ``graphgrad.core.graph.Node`` of every op, in execution order."""
        return [v._node for v in self.ops]

    def roots(self) -> list:
        out = [v for v in self.outputs if isinstance(v, Var)]
        out += [v for _, v in self.writes]
        out += [v for _, v in self.grad_writes if v is not None]
        return out

    def count(self, prim_name: str) -> int:
        """How many ops of one primitive the graph runs (``graph.count("matmul")``)."""
        return sum(1 for v in self.ops if v._node.prim.name == prim_name)

    def __repr__(self) -> str:
        return (f"<Graph {self.fn_name}: {len(self.inputs)} inputs, {len(self.params)} "
                f"params, {len(self.ops)} ops, {len(self.roots())} results>")


def _in_package(filename: str) -> bool:
    return filename.startswith(_PKG_DIR)


class Tracer(_state.Interpreter):
    """The interpreter that records every op while a function is traced.

    The engine tells it which node's rules it is running (``enter_backward``), so the ops
    those rules make are labelled as that forward op's gradient.
    """

    traces = True
    watches_backward = True

    def __init__(self):
        self.graph = Graph()
        self.var_of: dict[int, Var] = {}  # id(Tensor) -> current Var
        self.data_of: dict[int, Var] = {}  # id(ndarray) -> Var (raw data of a traced tensor)
        self.keep: list = []  # keeps traced objects alive so ids stay unique
        self.externals: list[tuple[Tensor, Var]] = []
        self.holders: dict[int, tuple[Tensor, Var]] = {}  # inputs and externals, by id
        self.writes: dict[int, tuple[Tensor, Var]] = {}
        self.seen_backward = False
        self.names: dict[int, str] = {}  # id(Var) -> user's variable name
        self._backward: list = []  # (node, t, g) of the nodes whose rules are running
        self.consts: list[Var] = []  # raw arrays ops read that no traced tensor holds

    # ---- registering values ----
    def _register(self, t: Tensor, v: Var) -> None:
        self.var_of[id(t)] = v
        self.data_of[id(t.data)] = v
        self.keep.append(t)
        self.keep.append(t.data)  # ids of arrays must stay unique while tracing

    def add_input(self, t: Tensor, index: int, name: str) -> Var:
        v = self.var_of.get(id(t))
        if v is not None:  # the same tensor passed twice
            return v
        v = Var("input", t.data.shape, t.data.dtype)
        v.index = index
        v.name = name
        v.ref = t
        self.graph.inputs.append(v)
        self.holders[id(t)] = (t, v)
        self._register(t, v)
        return v

    def _external(self, t: Tensor) -> Var:
        v = Var("external", t.data.shape, t.data.dtype)
        v.ref = t
        if t.name:
            v.name = t.name
        for h, hv in list(self.holders.values()):
            if h.grad is t:  # a gradient accumulated before the call: read it each call
                v.ref = GradOf(h)
                v.name = "grad_" + (hv.name or "p")
                break
        self.externals.append((t, v))
        self.holders[id(t)] = (t, v)
        self._register(t, v)
        return v

    def _adopt(self, t: Tensor) -> None:
        """``t``, written in place, was read only through a wrapper of its array (the
        in-place op computes on ``Tensor._from_array(t.data)``): ``t`` itself is the
        external tensor, so that the write is replayed on every call."""
        v = self.data_of.get(id(t.data))
        if v is None or v.kind != "external" or not isinstance(v.ref, Tensor) \
                or v.ref.data is not t.data:
            self.value(t)
            return
        w = v.ref
        v.ref = t
        if t.name and v.name is None:
            v.name = t.name
        self.externals = [(t, ev) if ev is v else (h, ev) for h, ev in self.externals]
        self.holders.pop(id(w), None)
        self.holders[id(t)] = (t, v)
        self.var_of[id(t)] = v
        self.keep.append(t)

    def value(self, a):
        """An op argument as the graph sees it: a Var, or a literal."""
        if isinstance(a, Tensor):
            v = self.var_of.get(id(a))
            if v is None:  # a new wrapper around a traced array (detach(), in-place ops)
                v = self.data_of.get(id(a.data))
            return v if v is not None else self._external(a)
        if isinstance(a, xp.ndarray):
            v = self.data_of.get(id(a))
            if v is not None:  # a rule unwrapped a traced tensor
                return v
            c = Var("const", a.shape, a.dtype, value=a)
            self.keep.append(a)
            self.data_of[id(a)] = c
            self.consts.append(c)  # frozen only if nothing outside the trace holds it
            return c
        return a

    def _fix_params(self, params):
        if not params:
            return params
        return {k: self._fix_param(p) for k, p in params.items()}

    def _fix_param(self, p):
        if isinstance(p, tuple):
            return tuple(self._fix_param(q) for q in p)
        if isinstance(p, xp.ndarray):
            v = self.data_of.get(id(p))
            return v if v is not None else p
        if isinstance(p, Tensor):
            return self.value(p)
        return p

    # ---- the interpreter ----
    def enter_backward(self, node, t, g) -> None:
        self._backward.append((node, t, g))

    def exit_backward(self) -> None:
        self._backward.pop()

    def process(self, prim, args, params, out) -> None:
        inputs = tuple(self.value(a) for a in args)
        v = Var("op", out.data.shape, out.data.dtype)
        v._node = Node(prim, inputs, self._fix_params(params), (), None)
        self._place(v)
        v._node.site = v.site
        self.graph.ops.append(v)
        self._register(out, v)

    def write(self, t: Tensor, new: Tensor) -> None:
        """``t``'s data was overwritten in place by ``new`` (same shape and dtype)."""
        nv = self.value(new)
        if not isinstance(nv, Var):
            raise TypeError("in-place write of a non-tensor value while tracing")
        if id(t) not in self.var_of:  # first seen now: a tensor from outside the function
            self._adopt(t)
        if id(t) in self.holders:  # an input or a captured tensor: a write that outlives us
            self.writes[id(t)] = (t, nv)
        self.var_of[id(t)] = nv
        self.data_of[id(t.data)] = nv
        self.keep.append(t.data)

    def _place(self, v: Var) -> None:
        """Where the op comes from: the user's line, forward or backward, names in scope."""
        f = sys._getframe(2)
        while f is not None and _in_package(f.f_code.co_filename):
            f = f.f_back
        if self._backward:
            self.seen_backward = True
            v.phase = "backward"
            node, t, g = self._backward[-1]
            v.site = resolve_site(node.site)
            fv = self.var_of.get(id(t))
            v.ctx = fv
            if isinstance(g, Tensor) and fv is not None:
                gv = self.var_of.get(id(g))
                if gv is not None and id(gv) not in self.names and gv.kind == "op":
                    self.names[id(gv)] = ("d", fv)
        else:
            if self.seen_backward:
                v.phase = "update"
            if f is not None:
                v.site = (f.f_code.co_filename, f.f_lineno)
        if f is not None:
            self.scan_locals(f)

    def scan_locals(self, frame) -> None:
        """Name traced values after the user's local variables that hold them."""
        try:
            items = list(frame.f_locals.items())
        except Exception:  # pragma: no cover - exotic frames
            return
        for name, val in items:
            if isinstance(val, Tensor) and not name.startswith("_"):
                v = self.var_of.get(id(val))
                if v is not None and id(v) not in self.names and v.kind == "op":
                    self.names[id(v)] = name
            elif isinstance(val, (list, tuple)) and len(val) <= 64:
                for i, item in enumerate(val):
                    if isinstance(item, Tensor):
                        v = self.var_of.get(id(item))
                        if v is not None and id(v) not in self.names and v.kind == "op":
                            self.names[id(v)] = f"{name}_{i}"

    def profile(self, frame, event, arg):
        """``sys.setprofile`` hook: names of locals when a user function returns."""
        if event == "return" and not _in_package(frame.f_code.co_filename):
            self.scan_locals(frame)


def source_line(site) -> str:
    if not site:
        return ""
    return linecache.getline(site[0], site[1]).strip()


def trace(fn, args: tuple, kwargs: dict, tracer: Tracer):
    """Run ``fn(*args, **kwargs)`` with ``tracer`` recording; returns fn's result."""
    old_prof = sys.getprofile()
    sys.setprofile(tracer.profile)
    try:
        with _state.interpreting(tracer):
            return fn(*args, **kwargs)
    finally:
        sys.setprofile(old_prof)
