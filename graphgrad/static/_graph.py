"""Graphs, placeholders, variables, constants, and the ops Session.run runs itself.

Graph tensors are ordinary graphgrad Tensors: a placeholder holds a stand-in value and
every op applied to it records a Node (differentiable or not), so a graph is the one graph
structure of the package. The special ops here (gradients, train steps, assignments,
random draws) are Nodes whose ``prim`` Session.run evaluates itself.
"""

from __future__ import annotations

import threading

import numpy as _np

from ..core import backend as _B
from ..core import engine as _ad
from ..core.errors import GraphgradError
from ..core.graph import Node, topo_order, user_site
from ..core.tensor import Tensor

float32, float64, int32, int64, bool_ = _B.float32, _B.float64, _B.int32, _B.int64, _B.bool_

# TF1's dtype strings where NumPy reads them otherwise ("float" is float64 to NumPy)
_TF_DTYPE_NAMES = {"float": float32, "double": float64, "int": int32, "bool": bool_}


def as_dtype(dtype):
    """A NumPy dtype from a TF1 spelling: ``tf.float32``, ``"float"`` (float32), None."""
    if isinstance(dtype, str) and dtype in _TF_DTYPE_NAMES:
        return _TF_DTYPE_NAMES[dtype]
    return _B.as_dtype(dtype)


class FeedError(GraphgradError, ValueError):
    """A placeholder was not fed, or fed a value that does not fit it."""


# ------------------------------------------------------------------- graphs ----

class _Stack(threading.local):
    """Per thread, as in TF1: the graphs made current by ``as_default()``."""

    def __init__(self):
        self.graphs: list = []


_graph_stack = _Stack()


class Graph:
    """A container of placeholders, variables and ops; ``as_default()`` makes it current.

    >>> import graphgrad.static as sf
    >>> g = sf.Graph()
    >>> with g.as_default():
    ...     x = sf.placeholder(shape=(2,))
    >>> x in g.placeholders
    True
    """

    def __init__(self):
        self.placeholders: list = []
        self.variables: list = []
        self.operations: list = []

    def as_default(self) -> Graph:
        """Use as ``with g.as_default():`` (the graph is current inside the block)."""
        return self

    def __enter__(self):
        _graph_stack.graphs.append(self)
        return self

    def __exit__(self, *exc):
        _graph_stack.graphs.pop()
        return False


_default_graph = Graph()


def get_default_graph() -> Graph:
    """The innermost graph made current by ``as_default()`` (a global one otherwise).

    >>> import graphgrad.static as sf
    >>> with sf.Graph().as_default() as g:
    ...     sf.get_default_graph() is g
    True
    """
    stack = _graph_stack.graphs
    return stack[-1] if stack else _default_graph


def reset_default_graph() -> None:
    """Replace the global default graph by an empty one."""
    global _default_graph
    _default_graph = Graph()


def _as_array(value, dtype):
    if isinstance(value, Tensor):
        value = value.data
    if dtype is not None:
        return _np.array(value, dtype=as_dtype(dtype))
    if isinstance(value, _np.ndarray):
        return value.copy()
    arr = _np.array(value)
    if arr.dtype.kind in "iuf":  # Python numbers: float32 (graphgrad's and TF1's default)
        arr = arr.astype(float32)
    return arr


class Placeholder(Tensor):
    """A value fed at ``Session.run``; ``shape`` may contain None (any size) or be None."""

    __slots__ = ("declared_shape", "declared_dtype")

    def __init__(self, dtype=None, shape=None, name: str | None = None):
        self.declared_shape = None if shape is None else tuple(shape)
        self.declared_dtype = as_dtype(dtype)
        dummy_shape = () if shape is None else tuple(1 if s is None else s for s in shape)
        # a stand-in value (ones: harmless for log, division...) so that ops can be recorded
        super().__init__(_np.ones(dummy_shape, dtype=self.declared_dtype or float32),
                         name=name)
        self._rg = True  # so that every op on it records a node (it is never differentiated)
        get_default_graph().placeholders.append(self)

    def __repr__(self) -> str:
        return (f"<placeholder {self.name or '?'} shape={self.declared_shape} "
                f"dtype={self.declared_dtype}>")

    # A placeholder's data is a stand-in: reading it as a value would be a silent wrong
    # answer (a Python `if`, a NumPy call, a length), so each of these says so instead.
    def _no_value(self, what: str):
        label = repr(self.name) if self.name else "(unnamed)"
        raise FeedError(f"{what} of placeholder {label}: a placeholder has no value until "
                        "Session.run feeds it; build the computation with graph ops and "
                        "fetch it with sess.run(..., feed_dict={...})")

    def __bool__(self):
        self._no_value("bool()")

    def __float__(self):
        self._no_value("float()")

    def __int__(self):
        self._no_value("int()")

    def __index__(self):
        self._no_value("use as an index")

    def __array__(self, dtype=None, copy=None):
        self._no_value("NumPy conversion")

    def __len__(self):
        shape = self.declared_shape
        if not shape or shape[0] is None:
            self._no_value("len()")
        return shape[0]

    def __iter__(self):
        self._no_value("iteration")

    def item(self):
        self._no_value("item()")

    def numpy(self):
        self._no_value("numpy()")

    def tolist(self):
        self._no_value("tolist()")


def placeholder(dtype=float32, shape=None, name: str | None = None) -> Placeholder:
    """A tensor fed at run time (TF1: ``tf.placeholder(tf.float32, [None, 784])``;
    the dtype ``"float"`` is float32, as in TF1).

    >>> import graphgrad.static as sf
    >>> x = sf.placeholder(shape=(None, 3), name="x")
    >>> y = (x * 2).sum(axis=1)
    >>> sf.Session().run(y, {x: [[1.0, 2.0, 3.0]]}).tolist()
    [12.0]
    """
    return Placeholder(dtype, shape, name)


class Operation(Tensor):
    """A graph op run for its effect (train step, assignment, initializer): fetching it
    gives None (an assignment: the new value); ``op.run(feed_dict)`` runs it in the
    default session, as in TF1."""

    __slots__ = ()

    def run(self, feed_dict=None, session=None) -> None:
        """Run this op in ``session`` (default: the session of the ``with`` block)."""
        from ._session import _session_for
        _session_for(self, session, "run").run(self, feed_dict)


class Variable(Tensor):
    """A tensor whose value persists across runs; optimizers update it.

    >>> import graphgrad.static as sf
    >>> w = sf.Variable([[1.0]], name="weight")
    >>> sf.Session().run(w).tolist()
    [[1.0]]
    """

    __slots__ = ("initial_value", "trainable")

    def __init__(self, initial_value, name: str | None = None, dtype=None,
                 trainable: bool = True):
        arr = _as_array(initial_value, dtype)
        super().__init__(arr.copy(), name=name)
        self.initial_value = arr
        self.trainable = trainable
        # every op on a variable records a node, whatever its dtype or trainability: its
        # value changes (assign, train steps), so nothing computed from it may be frozen
        self._rg = True
        get_default_graph().variables.append(self)

    def assign(self, value) -> Operation:
        """An op that sets the variable to ``value`` when run."""
        return _op(_AssignPrim(), (self, value))

    def __repr__(self) -> str:
        return f"<Variable {self.name or '?'} shape={self.shape} dtype={self.dtype}>"


def constant(value, name: str | None = None, dtype=None) -> Tensor:
    """A fixed value in the graph (Python numbers become float32 unless ``dtype`` says).

    >>> import graphgrad.static as sf
    >>> sf.Session().run(sf.constant(1.0, "b") + 1).tolist()
    2.0
    """
    t = Tensor(_as_array(value, dtype), name=name)
    if _B.is_floating(t.data.dtype):
        t._rg = True  # a graph node: gradients with respect to it can be asked for
    return t


# ------------------------------------------------------------- special ops ----

class _Special:
    """Stands in for a Primitive in nodes that Session.run evaluates itself."""

    differentiable = True
    name = "special"
    vjps = None
    random = False  # draws new values every run: such graphs are not compiled


class _CallPrim(_Special):
    """A graphgrad function applied at run time (for ops whose shapes are not known yet)."""

    def __init__(self, fn, kwargs):
        self.fn = fn
        self.kwargs = kwargs
        self.name = getattr(fn, "__name__", "call")

    def run(self, args, env):
        return self.fn(*args, **self.kwargs)


class _RandomPrim(_CallPrim):
    """A random draw, new on every run: ``fn(*args, **kwargs)`` samples."""

    random = True


class _GradPrim(_Special):
    """Output ``index`` of ``gradients(ys, xs)``: inputs are ys + xs."""

    name = "gradients"

    def __init__(self, group, n_ys, index):
        self.group, self.n_ys, self.index = group, n_ys, index

    def run(self, args, env):
        key = ("grads", id(self.group))
        res = env.get(key)
        if res is None:
            ys, xs = list(args[:self.n_ys]), list(args[self.n_ys:])
            res = _ad.grad_of(ys, xs, create_graph=True, allow_unused=True)
            env[key] = res
        return res[self.index]


class _TrainPrim(_Special):
    name = "train"

    def __init__(self, optimizer, n_vars):
        self.optimizer, self.n_vars = optimizer, n_vars

    def run(self, args, env):
        loss, vars_ = args[0], list(args[1:])
        grads = _ad.grad_of([loss], vars_, create_graph=True, allow_unused=True)
        with _ad.no_grad():
            self.optimizer._apply(vars_, grads)
        return None


class _AssignPrim(_Special):
    name = "assign"

    def run(self, args, env):
        var, value = args
        with _ad.no_grad():
            var.copy_(value)
        return var


class _InitPrim(_Special):
    name = "init"

    def __init__(self, variables):
        self.variables = list(variables)

    def run(self, args, env):
        with _ad.no_grad():
            for v in self.variables:
                v.copy_(Tensor(v.initial_value))
        return None


class _GroupPrim(_Special):
    name = "group"

    def run(self, args, env):
        return None


def _op(prim, inputs, dummy=None, cls=Operation) -> Tensor:
    """A graph node made by Session.run itself (gradients, training, assignment)."""
    t = cls(_np.ones((), dtype=float32) if dummy is None else dummy)
    t._rg = True
    t._node = Node(prim, tuple(inputs), {}, tuple(isinstance(a, Tensor) for a in inputs),
                   user_site(2))
    get_default_graph().operations.append(t)
    return t


def _deps(t) -> list:
    """The tensors ``t`` was computed from (none for placeholders, variables, constants)."""
    node = t._node
    if node is None:
        return []
    return [a for a in node.inputs if isinstance(a, Tensor)]


def _topo(fetches) -> list:
    """Every tensor the fetches need, each after its inputs."""
    return topo_order(fetches, _deps)


def gradients(ys, xs) -> list:
    """Graph nodes for d(sum of ys)/d(each of xs) (TF1's ``tf.gradients``).

    >>> import graphgrad.static as sf
    >>> x = sf.placeholder(shape=())
    >>> (g,) = sf.gradients(x * x, [x])
    >>> float(sf.Session().run(g, {x: 3.0}))
    6.0
    """
    ys = [ys] if isinstance(ys, Tensor) else list(ys)
    xs = [xs] if isinstance(xs, Tensor) else list(xs)
    group = object()
    return [_op(_GradPrim(group, len(ys), i), ys + xs, _np.ones_like(x.data), cls=Tensor)
            for i, x in enumerate(xs)]


def global_variables_initializer(graph: Graph | None = None) -> Operation:
    """An op that resets every variable of the graph to its initial value.

    Variables are initialised when created, so running this is optional.

    >>> import graphgrad.static as sf
    >>> with sf.Graph().as_default():
    ...     w = sf.Variable(1.0)
    ...     with sf.Session() as sess:
    ...         _ = sess.run(w.assign(5.0))
    ...         sess.run(sf.global_variables_initializer())
    ...         float(sess.run(w))
    1.0
    """
    g = graph or get_default_graph()
    return _op(_InitPrim(g.variables), ())


initialize_all_variables = global_variables_initializer


def group(*ops) -> Operation:
    """One op that runs all of ``ops``."""
    return _op(_GroupPrim(), ops)
