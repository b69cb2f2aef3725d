"""Define-and-run graphs in the style of TensorFlow 1 and SimpleFlow, on graphgrad's ops.

Building a graph records ordinary graphgrad Nodes (the one graph structure of the
package): a ``placeholder`` is a tensor that stands for a value fed later, a ``Variable``
is a tensor that keeps its value between runs, and every graphgrad op or operator applied
to them records a node. ``Session.run`` evaluates what the fetches need with the fed
values, once per run, through ``gg.compile``: each (fetches, feeds) pair is traced once
per feed shapes and afterwards runs generated NumPy code.

>>> import graphgrad.static as sf
>>> with sf.Graph().as_default():
...     a = sf.constant(2.0); b = sf.constant(3.0); z = sf.constant(6.0)
...     loss = sf.multiply(z, sf.add(a, b))
...     da, dz = sf.gradients(loss, [a, z])
...     with sf.Session() as sess:
...         print(sess.run([loss, da, dz]))
[array(30., dtype=float32), array(6., dtype=float32), array(5., dtype=float32)]

Variables are initialised automatically, when they are created (as SimpleFlow does);
``global_variables_initializer()`` returns an op that resets them to their initial
values, so TF1 code that runs it works unchanged. Variable values live in the Variable
(shared by all sessions), not in the session.
"""

from __future__ import annotations

import contextlib

import numpy as np

import graphgrad as _gg

from ..core import backend as B
from ..core import engine as _ad
from ..core.errors import DTypeError, GraphgradError, ShapeError
from ..core.graph import Node, user_site
from ..core.tensor import Tensor

float32, float64, int32, int64, bool_ = B.float32, B.float64, B.int32, B.int64, B.bool_


class FeedError(GraphgradError, ValueError):
    """A placeholder was not fed, or fed a value that does not fit it."""


# ------------------------------------------------------------------- graphs ----

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

    @contextlib.contextmanager
    def as_default(self):
        _graph_stack.append(self)
        try:
            yield self
        finally:
            _graph_stack.pop()

    def __enter__(self):
        _graph_stack.append(self)
        return self

    def __exit__(self, *exc):
        _graph_stack.pop()
        return False


_default_graph = Graph()
_graph_stack: list = []


def get_default_graph() -> Graph:
    """The innermost graph made current by ``as_default()`` (a global one otherwise)."""
    return _graph_stack[-1] if _graph_stack else _default_graph


def reset_default_graph() -> None:
    global _default_graph
    _default_graph = Graph()


def _as_array(value, dtype):
    if isinstance(value, Tensor):
        value = value.data
    if dtype is not None:
        return np.array(value, dtype=B.as_dtype(dtype))
    if isinstance(value, np.ndarray):
        return value.copy()
    arr = np.array(value)
    if arr.dtype.kind in "iuf":  # Python numbers: float32 (graphgrad's and TF1's default)
        arr = arr.astype(B.float32)
    return arr


class Placeholder(Tensor):
    """A value fed at ``Session.run``; ``shape`` may contain None (any size) or be None."""

    __slots__ = ("declared_shape", "declared_dtype")

    def __init__(self, dtype=None, shape=None, name: str | None = None):
        self.declared_shape = None if shape is None else tuple(shape)
        self.declared_dtype = B.as_dtype(dtype)
        dummy_shape = () if shape is None else tuple(1 if s is None else s for s in shape)
        # a stand-in value (ones: harmless for log, division...) so that ops can be recorded
        super().__init__(np.ones(dummy_shape, dtype=self.declared_dtype or B.float32),
                         name=name)
        self._rg = True  # so that every op on it records a node (it is never differentiated)
        get_default_graph().placeholders.append(self)

    def __repr__(self) -> str:
        return (f"<placeholder {self.name or '?'} shape={self.declared_shape} "
                f"dtype={self.declared_dtype}>")


def placeholder(dtype=float32, shape=None, name: str | None = None) -> Placeholder:
    """A tensor fed at run time (TF1: ``tf.placeholder(tf.float32, shape=(None, 784))``).

    >>> import graphgrad.static as sf
    >>> x = sf.placeholder(shape=(None, 3), name="x")
    >>> y = (x * 2).sum(axis=1)
    >>> sf.Session().run(y, {x: [[1.0, 2.0, 3.0]]}).tolist()
    [12.0]
    """
    return Placeholder(dtype, shape, name)


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
        if trainable and B.is_floating(arr.dtype):
            self._rg = True
        get_default_graph().variables.append(self)

    def assign(self, value):
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
    if B.is_floating(t.data.dtype):
        t._rg = True  # a graph node: gradients with respect to it can be asked for
    return t


# ------------------------------------------------------------- special ops ----

class _Special:
    """Stands in for a Primitive in nodes that Session.run evaluates itself."""

    differentiable = True
    name = "special"
    vjps = None


class _CallPrim(_Special):
    """A graphgrad function applied at run time (for ops whose shapes are not known yet)."""

    def __init__(self, fn, kwargs):
        self.fn = fn
        self.kwargs = kwargs
        self.name = getattr(fn, "__name__", "call")

    def run(self, args, env):
        return self.fn(*args, **self.kwargs)


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


def _op(prim, inputs, dummy=None) -> Tensor:
    """A graph node made by Session.run itself (gradients, training, assignment)."""
    t = Tensor(np.ones((), dtype=B.float32) if dummy is None else dummy)
    t._rg = True
    t._node = Node(prim, tuple(inputs), {}, tuple(isinstance(a, Tensor) for a in inputs),
                   user_site(2))
    get_default_graph().operations.append(t)
    return t


def gradients(ys, xs):
    """Graph nodes for d(sum of ys)/d(each of xs) (TF1's ``tf.gradients``).

    >>> import graphgrad.static as sf
    >>> x = sf.placeholder(shape=())
    >>> (g,) = sf.gradients(x * x, [x])
    >>> float(sf.Session().run(g, {x: 3.0}))
    6.0
    """
    ys = [ys] if isinstance(ys, Tensor) else list(ys)
    single = isinstance(xs, Tensor)
    xs = [xs] if single else list(xs)
    group = object()
    outs = [_op(_GradPrim(group, len(ys), i), ys + xs, np.ones_like(x.data))
            for i, x in enumerate(xs)]
    return outs


def global_variables_initializer(graph: Graph | None = None) -> Tensor:
    """An op that resets every variable of the graph to its initial value.

    Variables are initialised when created, so running this is optional.
    """
    g = graph or get_default_graph()
    return _op(_InitPrim(g.variables), ())


initialize_all_variables = global_variables_initializer


def group(*ops) -> Tensor:
    """One op that runs all of ``ops``."""
    return _op(_GroupPrim(), ops)


# ---------------------------------------------------------- evaluation ----

def _topo(fetches):
    order, seen = [], set()
    for root in fetches:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(_inputs(root)))]
        while stack:
            t, it = stack[-1]
            for p in it:
                if id(p) not in seen:
                    seen.add(id(p))
                    stack.append((p, iter(_inputs(p))))
                    break
            else:
                stack.pop()
                order.append(t)
    return order


def _inputs(t):
    node = t._node
    if node is None:
        return ()
    return [a for a in node.inputs if isinstance(a, Tensor)]


def _evaluate(order, feeds: dict, counter: list | None = None):
    """Values of every tensor in ``order`` (each once) given ``feeds``: id -> Tensor."""
    env: dict = {}
    for t in order:
        k = id(t)
        if k in feeds:
            env[k] = feeds[k]
            continue
        node = t._node
        if node is None:
            env[k] = t  # Variables and constants are their own value
            continue
        args = [env[id(a)] if isinstance(a, Tensor) else a for a in node.inputs]
        if counter is not None:
            counter[0] += 1
        prim = node.prim
        if isinstance(prim, _Special):
            env[k] = prim.run(args, env)
        else:
            env[k] = prim(*args, **(node.params or {}))
    return env


def _flatten_fetches(fetches, out: list):
    if isinstance(fetches, Tensor):
        out.append(fetches)
        return ("T",)
    if isinstance(fetches, (list, tuple)):
        return (type(fetches), tuple(_flatten_fetches(f, out) for f in fetches))
    if isinstance(fetches, dict):
        return (dict, tuple(fetches), tuple(_flatten_fetches(f, out) for f in fetches.values()))
    raise TypeError(f"Session.run: cannot fetch {type(fetches).__name__}; fetch graph "
                    "tensors, or a list or dict of them")


def _build(tree, it):
    if tree[0] == "T":
        return next(it)
    if tree[0] is dict:
        return {k: _build(c, it) for k, c in zip(tree[1], tree[2])}
    return tree[0](_build(c, it) for c in tree[1])


def _label(p) -> str:
    return repr(p.name) if p.name else f"<unnamed placeholder of shape {p.declared_shape}>"


class Session:
    """Runs graphs: ``sess.run(fetches, feed_dict)``.

    Each distinct (fetches, fed placeholders) pair is compiled with ``gg.compile`` (traced
    once per feed shapes, generated NumPy afterwards); ``compile=False`` evaluates eagerly.

    >>> import graphgrad.static as sf
    >>> x = sf.placeholder(shape=(None,), name="x")
    >>> with sf.Session() as sess:
    ...     sess.run({"double": x * 2}, feed_dict={x: [1.0, 2.0]})["double"].tolist()
    [2.0, 4.0]
    """

    def __init__(self, graph: Graph | None = None, compile: bool = True):
        self.graph = graph or get_default_graph()
        self.compile = compile
        self._runners: dict = {}
        self.last_op_count = 0
        self._last_runner = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self) -> None:
        self._runners.clear()

    def run(self, fetches, feed_dict=None, **kwargs):
        """Evaluate ``fetches`` (a tensor, list, tuple or dict) with ``feed_dict``.

        Returns NumPy arrays (None for ops such as a train step), in the fetches' structure.
        """
        if feed_dict is None:
            feed_dict = kwargs.pop("feed_dict", None)
        if kwargs:
            raise TypeError(f"Session.run: unexpected arguments {sorted(kwargs)}")
        flat: list = []
        tree = _flatten_fetches(fetches, flat)
        feed_dict = dict(feed_dict or {})
        fed = [p for p in feed_dict]
        for p in fed:
            if not isinstance(p, Tensor):
                raise TypeError(f"Session.run: feed_dict keys must be placeholders, got "
                                f"{type(p).__name__}")
        key = (tuple(id(f) for f in flat), tuple(id(p) for p in fed))
        runner = self._runners.get(key)
        if runner is None:
            runner = _Runner(flat, fed, self.compile)
            self._runners[key] = runner
        self._last_runner = runner
        values = [_check_feed(p, feed_dict[p]) for p in fed]
        for p in runner.needed:
            if id(p) not in runner.fed_ids:
                raise FeedError(f"Session.run: placeholder {_label(p)} must be fed a value "
                                "(add it to feed_dict)")
        outs = runner(values)
        self.last_op_count = runner.last_count
        res = [None if o is None else np.asarray(o.data) for o in outs]
        return _build(tree, iter(res))

    @property
    def last_graph(self):
        """The compiled graph of the most recent ``run`` (see ``gg.compile``)."""
        r = self._last_runner
        return r.compiled.graph if r is not None and r.compiled is not None else None

    @property
    def last_source(self) -> str | None:
        r = self._last_runner
        return r.compiled.source if r is not None and r.compiled is not None else None


def _check_feed(p, value) -> np.ndarray:
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if isinstance(p, Placeholder):
        want = p.declared_dtype
        if want is None:
            want = B.float32 if arr.dtype.kind == "f" else arr.dtype
        if arr.dtype != want:
            if not np.can_cast(arr.dtype, want, "same_kind"):
                raise FeedError(
                    f"Session.run: placeholder {_label(p)} of dtype {want} and shape "
                    f"{p.declared_shape} was fed a value of dtype {arr.dtype} and shape "
                    f"{arr.shape}")
            arr = arr.astype(want)
        shape = p.declared_shape
        if shape is not None and (len(shape) != arr.ndim or any(
                s is not None and s != d for s, d in zip(shape, arr.shape))):
            raise FeedError(f"Session.run: placeholder {_label(p)} has shape {shape} but was "
                            f"fed a value of shape {arr.shape}")
    return arr


class _Runner:
    """Evaluates one fetch list with one set of fed placeholders."""

    def __init__(self, fetches, fed, compile_: bool):
        self.fetches = fetches
        self.fed = fed
        self.fed_ids = {id(p) for p in fed}
        self.order = _topo(fetches)
        self.needed = [t for t in self.order if isinstance(t, Placeholder)]
        self.last_count = 0
        self.compiled = _gg.compile(self._body) if compile_ else None

    def _body(self, values):
        feeds = {}
        for p, v in zip(self.fed, values):
            if isinstance(v, Tensor) and v.data.dtype.kind == "f":
                x = _gg.identity(v)  # a fresh leaf that records: gradients w.r.t. feeds
                x._node = None
                x._rg = True
                v = x
            feeds[id(p)] = v
        counter = [0]
        with _ad.enable_grad():
            env = _evaluate(self.order, feeds, counter)
        self.last_count = counter[0]
        return [env[id(f)] if isinstance(env[id(f)], Tensor) else None for f in self.fetches]

    def __call__(self, values):
        if self.compiled is not None:
            return self.compiled([Tensor._from_array(v) for v in values])
        return self._body([Tensor._from_array(v) for v in values])


# -------------------------------------------- ops: TF1 and SimpleFlow names ----

def _shapeless(args) -> bool:
    """Whether any argument depends on a placeholder declared without a shape."""
    ts = [a for a in args if isinstance(a, Tensor)]
    return any(isinstance(t, Placeholder) and t.declared_shape is None for t in _topo(ts))


def _call(fn, args, kwargs):
    """Apply ``fn`` now if it can be (shapes known), else record it to apply at run time."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        if not _shapeless(args):
            raise
        return _op(_CallPrim(fn, kwargs), args)


def _lazy(fn, name):
    def op(*args, name: str | None = None, **kwargs):
        out = _call(fn, args, kwargs)
        if isinstance(out, Tensor) and name is not None and out.name is None:
            out.name = name
        return out
    op.__name__ = name
    op.__doc__ = f"``{fn.__name__}`` on graph tensors (takes an optional ``name``)."
    return op


add = _lazy(_gg.add, "add")
subtract = _lazy(_gg.sub, "subtract")
multiply = _lazy(_gg.mul, "multiply")
divide = _lazy(_gg.div, "divide")
matmul = _lazy(_gg.matmul, "matmul")
negative = _lazy(_gg.neg, "negative")
square = _lazy(lambda x: x * x, "square")
sigmoid = _lazy(_gg.sigmoid, "sigmoid")
log = _lazy(_gg.log, "log")
exp = _lazy(_gg.exp, "exp")
tanh = _lazy(_gg.tanh, "tanh")
relu = _lazy(_gg.relu, "relu")
sqrt = _lazy(_gg.sqrt, "sqrt")


def _reduce(fn, name):
    def op(x, axis=None, keepdims: bool = False, name: str | None = None):
        if axis is not None and _shapeless([x]):  # the axis needs the real shape
            out = _op(_CallPrim(fn, {"axis": axis, "keepdims": keepdims}), (x,))
        else:
            out = fn(x, axis=axis, keepdims=keepdims)
        if name is not None and isinstance(out, Tensor):
            out.name = name
        return out
    op.__name__ = name
    op.__doc__ = f"``{name}(x, axis=None)`` on graph tensors."
    return op


reduce_sum = _reduce(_gg.sum, "reduce_sum")
reduce_mean = _reduce(_gg.mean, "reduce_mean")
reduce_max = _reduce(_gg.max, "reduce_max")
reduce_min = _reduce(_gg.min, "reduce_min")


def __getattr__(name):
    """Every other graphgrad op works on graph tensors: ``sf.softmax`` is ``gg.softmax``."""
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return getattr(_gg, name)
    except AttributeError:
        raise AttributeError(f"module 'graphgrad.static' has no attribute {name!r}") from None


from . import train  # noqa: E402,F401
from .train import (  # noqa: E402
    AdamOptimizer,
    GradientDescentOptimizer,
    MomentumOptimizer,
    Optimizer,
)

__all__ = [
    "Graph", "Session", "Variable", "Placeholder", "placeholder", "constant", "gradients",
    "global_variables_initializer", "get_default_graph", "reset_default_graph", "group",
    "GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer", "Optimizer",
    "add", "subtract", "multiply", "divide", "matmul", "negative", "square", "sigmoid",
    "log", "exp", "tanh", "relu", "sqrt", "reduce_sum", "reduce_mean", "reduce_max",
    "reduce_min", "FeedError", "ShapeError", "DTypeError", "float32", "float64", "int32",
    "int64", "bool_",
]
