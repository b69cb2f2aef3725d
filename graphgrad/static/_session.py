"""Sessions: evaluate what the fetches need, with the fed values, on every run.

Every node between the fetches and the placeholders and variables is recomputed on each
``Session.run`` (comparisons, argmax and casts too: they record nodes like any op). A
(fetches, fed placeholders) pair is compiled with ``gg.compile`` once per feed shapes;
graphs that draw random numbers run eagerly, so that each run draws anew.
"""

from __future__ import annotations

import threading

import numpy as _np

from ..compiler import compile as _compile
from ..core import backend as _B
from ..core import engine as _ad
from ..core.graph import format_site, topo_order
from ..core.tensor import Tensor
from ..ops import identity as _identity
from ._graph import FeedError, Placeholder, _deps, _Special, get_default_graph


class _Defaults(threading.local):
    """Per thread, as in TF1: the sessions made default (``with``, InteractiveSession)."""

    def __init__(self):
        self.sessions: list = []


_defaults = _Defaults()


def get_default_session():
    """The session of the innermost ``with tf.Session() as sess:`` (or InteractiveSession).

    >>> import graphgrad.static as sf
    >>> with sf.Session() as sess:
    ...     sf.get_default_session() is sess
    True
    >>> sf.get_default_session() is None
    True
    """
    stack = _defaults.sessions
    return stack[-1] if stack else None


def _session_for(t, session, what: str):
    if session is None:
        session = get_default_session()
    if session is None:
        raise ValueError(f"{what}: no default session for {t!r}; call it inside "
                         "`with tf.Session() as sess:` (or after tf.InteractiveSession()), "
                         "or pass session=sess")
    return session


def _tensor_eval(self, feed_dict=None, session=None):
    """The value of this graph tensor in ``session`` (default: the session of the
    ``with`` block), as TF1's ``Tensor.eval``.

    >>> import graphgrad.static as sf
    >>> x = sf.placeholder(sf.float32, [None])
    >>> with sf.Session():
    ...     (x * 2).eval(feed_dict={x: [1.0, 2.0]}).tolist()
    [2.0, 4.0]
    """
    return _session_for(self, session, "eval").run(self, feed_dict)


# Graph tensors are ordinary Tensors (any gg op makes one), so TF1's ``t.eval()`` has to
# be a Tensor method; it exists once graphgrad.static is imported, and touches no op.
if not hasattr(Tensor, "eval"):
    Tensor.eval = _tensor_eval


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
    ``with Session() as sess:`` makes it the default session (``t.eval()``, ``op.run()``)
    and closes it at the end of the block.

    >>> import graphgrad.static as sf
    >>> x = sf.placeholder(shape=(None,), name="x")
    >>> with sf.Session() as sess:
    ...     sess.run({"double": x * 2}, feed_dict={x: [1.0, 2.0]})["double"].tolist()
    [2.0, 4.0]
    """

    def __init__(self, target: str = "", graph=None, config=None, compile: bool = True):
        if graph is None and not isinstance(target, str):  # SimpleFlow: Session(graph)
            target, graph = "", target
        self.graph = graph or get_default_graph()
        self.compile = compile
        self._runners: dict = {}
        self.last_op_count = 0
        self._last_runner = None
        self._closed = False

    def __enter__(self):
        _defaults.sessions.append(self)
        return self

    def __exit__(self, *exc):
        self._pop_default()
        self.close()
        return False

    def _pop_default(self) -> None:
        stack = _defaults.sessions
        if self in stack:
            del stack[len(stack) - 1 - stack[::-1].index(self)]

    def close(self) -> None:
        """Free the compiled runs; the session cannot run afterwards."""
        self._runners.clear()
        self._closed = True

    def run(self, fetches, feed_dict=None, **kwargs):
        """Evaluate ``fetches`` (a tensor, list, tuple or dict) with ``feed_dict``.

        Returns NumPy arrays (None for ops such as a train step), in the fetches' structure.
        """
        if feed_dict is None:
            feed_dict = kwargs.pop("feed_dict", None)
        if kwargs:
            raise TypeError(f"Session.run: unexpected arguments {sorted(kwargs)}")
        if self._closed:
            raise RuntimeError("Session.run: this session was closed (a `with tf.Session() "
                               "as sess:` block closes it at its end); make a new Session")
        flat: list = []
        tree = _flatten_fetches(fetches, flat)
        feed_dict = dict(feed_dict or {})
        fed = list(feed_dict)
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
        res = [None if o is None else _np.asarray(o.data) for o in outs]
        return _build(tree, iter(res))

    @property
    def last_graph(self):
        """The compiled graph of the most recent ``run`` (see ``gg.compile``)."""
        r = self._last_runner
        return r.compiled.graph if r is not None and r.compiled is not None else None

    @property
    def last_source(self) -> str | None:
        """The generated code of the most recent ``run`` (None when it ran eagerly)."""
        r = self._last_runner
        return r.compiled.source if r is not None and r.compiled is not None else None


class InteractiveSession(Session):
    """A session that makes itself the default until ``close()`` (TF1, for notebooks).

    >>> import graphgrad.static as sf
    >>> sess = sf.InteractiveSession()
    >>> float((sf.constant(2.0) * 3).eval())
    6.0
    >>> sess.close()
    """

    def __init__(self, target: str = "", graph=None, config=None, compile: bool = True):
        super().__init__(target, graph, config, compile)
        _defaults.sessions.append(self)

    def close(self) -> None:
        self._pop_default()
        super().close()


def _check_feed(p, value) -> _np.ndarray:
    arr = value.data if isinstance(value, Tensor) else _np.asarray(value)
    if isinstance(p, Placeholder):
        want = p.declared_dtype
        if want is None:
            want = _B.float32 if arr.dtype.kind == "f" else arr.dtype
        if arr.dtype != want:
            if not _np.can_cast(arr.dtype, want, "same_kind"):
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


_NOTE = "(in Session.run:"


def _evaluate(order, feeds: dict, counter: list | None = None) -> dict:
    """Values of every tensor in ``order`` (each once) given ``feeds``: id -> Tensor.

    Every node is recomputed: nothing computed when the graph was built is reused.
    """
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
        try:
            if isinstance(prim, _Special):
                env[k] = prim.run(args, env)
            else:
                env[k] = prim(*args, **(node.params or {}))
        except Exception as exc:  # the line that matters is where the op was built
            if not any(n.startswith(_NOTE) for n in getattr(exc, "__notes__", ())):
                exc.add_note(f"{_NOTE} the graph op {prim.name!r} built at "
                             f"{format_site(node.site)})")
            raise
    return env


class _Runner:
    """Evaluates one fetch list with one set of fed placeholders."""

    def __init__(self, fetches, fed, compile_: bool):
        self.fetches = fetches
        self.fed = fed
        self.fed_ids = {id(p) for p in fed}
        # a fed tensor is a value, not a computation: the walk stops there (TF1 lets any
        # tensor be fed, which cuts the graph above it)
        ids = self.fed_ids
        self.order = topo_order(fetches, lambda t: () if id(t) in ids else _deps(t))
        self.needed = [t for t in self.order if isinstance(t, Placeholder)]
        self.last_count = 0
        # a traced random draw would be a constant of the generated code: run those eagerly
        random = any(t._node is not None and getattr(t._node.prim, "random", False)
                     for t in self.order)
        self.compiled = _compile(self._body) if compile_ and not random else None

    def _body(self, values):
        feeds = {}
        for p, v in zip(self.fed, values):
            if isinstance(v, Tensor) and v.data.dtype.kind == "f":
                v = _leaf(v)
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


def _leaf(v):
    """A fresh leaf that requires grad (gradients with respect to feeds can be asked
    for), made by a recorded op so that a trace sees it."""
    x = _identity(v)
    x._node = None
    x._rg = True
    return x
