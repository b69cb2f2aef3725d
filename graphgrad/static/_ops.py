"""TF1 and SimpleFlow op names over graphgrad's ops, with TF1's argument spellings.

Ops apply graphgrad's functions to graph tensors, which records Nodes; where an op needs
a shape that a placeholder leaves open (a matmul on ``Placeholder()``, ``reshape(x, [-1,
...])`` on a batch of unknown size), it is recorded to be applied at run time instead.

>>> import graphgrad.static as tf
>>> x = tf.placeholder(tf.float32, [None, 2])
>>> y = tf.reduce_sum(tf.square(x), reduction_indices=[1], keep_dims=True)
>>> tf.Session().run([y, tf.argmax(x, 1)], {x: [[1.0, 2.0], [3.0, 0.0]]})
[array([[5.],
       [9.]], dtype=float32), array([1, 0])]
"""

from __future__ import annotations

import numpy as _np

from .. import ops as _gg
from ..core import creation as _creation
from ..core.tensor import Tensor
from ._graph import (
    Placeholder,
    _CallPrim,
    _op,
    _RandomPrim,
    _topo,
    as_dtype,
    constant,
    float32,
    int64,
)


def _open_shape(args) -> bool:
    """Whether an argument depends on a placeholder whose shape is not fully declared."""
    ts = [a for a in args if isinstance(a, Tensor)]
    return any(isinstance(t, Placeholder) and (t.declared_shape is None or None in
                                                t.declared_shape) for t in _topo(ts))


def _shapeless(args) -> bool:
    """Whether an argument depends on a placeholder declared without any shape."""
    ts = [a for a in args if isinstance(a, Tensor)]
    return any(isinstance(t, Placeholder) and t.declared_shape is None for t in _topo(ts))


def _deferred(fn, args, kwargs, stand_in) -> Tensor:
    """``fn(*args, **kwargs)`` recorded to run at Session.run, on the fed shapes; until
    then its value is ``fn`` of the stand-in values, or ``stand_in`` where that fails
    (a batch of one may not fit where the fed batch will)."""
    try:
        dummy = fn(*args, **kwargs).data
    except Exception:
        dummy = stand_in
    return _op(_CallPrim(fn, kwargs), args, dummy, cls=Tensor)


def _call(fn, args, kwargs):
    """Apply ``fn`` now if it can be (shapes known), else record it to apply at run time."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        if not _shapeless(args):
            raise
        return _op(_CallPrim(fn, kwargs), args, cls=Tensor)


def _named(out, name):
    if isinstance(out, Tensor) and name is not None and out.name is None:
        out.name = name
    return out


def _lazy(fn, name: str):
    def op(*args, name: str | None = None, **kwargs):
        return _named(_call(fn, args, kwargs), name)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}`` on graph tensors (graphgrad's ``{fn.__name__}``; an optional " \
                 "``name``)."
    return op


add = _lazy(_gg.add, "add")
subtract = _lazy(_gg.sub, "subtract")
multiply = _lazy(_gg.mul, "multiply")
divide = _lazy(_gg.div, "divide")
negative = _lazy(_gg.neg, "negative")
square = _lazy(_gg.square, "square")
sigmoid = _lazy(_gg.sigmoid, "sigmoid")
log = _lazy(_gg.log, "log")
exp = _lazy(_gg.exp, "exp")
tanh = _lazy(_gg.tanh, "tanh")
relu = _lazy(_gg.relu, "relu")
sqrt = _lazy(_gg.sqrt, "sqrt")
abs = _lazy(_gg.abs, "abs")  # noqa: A001 - TF1's name
maximum = _lazy(_gg.maximum, "maximum")
minimum = _lazy(_gg.minimum, "minimum")
pow = _lazy(_gg.pow, "pow")  # noqa: A001 - TF1's name
equal = _lazy(_gg.equal, "equal")
not_equal = _lazy(_gg.not_equal, "not_equal")
less = _lazy(_gg.less, "less")
less_equal = _lazy(_gg.less_equal, "less_equal")
greater = _lazy(_gg.greater, "greater")
greater_equal = _lazy(_gg.greater_equal, "greater_equal")
where = _lazy(_gg.where, "where")
transpose = _lazy(_gg.transpose, "transpose")


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False,
           name: str | None = None) -> Tensor:
    """``a @ b`` (TF1's ``tf.matmul``), optionally transposing either operand.

    >>> import graphgrad.static as tf
    >>> tf.Session().run(tf.matmul(tf.constant([[1.0, 2.0]]), tf.constant([[3.0, 4.0]]),
    ...                            transpose_b=True)).tolist()
    [[11.0]]
    """
    if transpose_a:
        a = _call(_gg.swapaxes, (a, -1, -2), {})
    if transpose_b:
        b = _call(_gg.swapaxes, (b, -1, -2), {})
    return _named(_call(_gg.matmul, (a, b), {}), name)


def reshape(tensor, shape, name: str | None = None) -> Tensor:
    """``tensor`` with a new ``shape`` (one entry may be -1), resolved on every run when
    a placeholder leaves the batch size open.

    >>> import graphgrad.static as tf
    >>> x = tf.placeholder(tf.float32, [None, 4])
    >>> tf.Session().run(tf.reshape(x, [-1, 2, 2]), {x: _np.ones((3, 4))}).shape
    (3, 2, 2)
    """
    shape = tuple(int(s) for s in shape)
    if _open_shape([tensor]):  # the stand-in's -1 would be frozen into the graph
        stand_in = _np.ones(tuple(1 if s == -1 else s for s in shape), tensor.dtype)
        return _named(_deferred(_gg.reshape, (tensor,), {"shape": shape}, stand_in), name)
    return _named(_gg.reshape(tensor, shape), name)


def cast(x, dtype, name: str | None = None) -> Tensor:
    """``x`` converted to ``dtype`` (TF1's ``tf.cast``; floats to ints truncate).

    >>> import graphgrad.static as tf
    >>> tf.Session().run(tf.cast(tf.constant([1.7, -1.7]) > 0, tf.float32)).tolist()
    [1.0, 0.0]
    """
    return _named(_gg.astype(x, dtype=as_dtype(dtype)), name)


def _arg_reduce(fn, label):
    def op(input, axis=None, name: str | None = None, dimension=None, output_type=int64):
        if axis is not None and dimension is not None:
            raise TypeError(f"{label}: give axis or dimension, not both")
        axis = dimension if axis is None else axis
        out = _call(fn, (input,), {"axis": 0 if axis is None else int(axis)})  # TF1: 0
        if as_dtype(output_type) != out.dtype:
            out = _gg.astype(out, dtype=as_dtype(output_type))
        return _named(out, name)
    op.__name__ = op.__qualname__ = label
    op.__doc__ = (f"Index of the {label[3:]} along ``axis`` (or TF1's ``dimension``; 0 when "
                  "neither is given), as int64.")
    return op


argmax = _arg_reduce(_gg.argmax, "argmax")
argmin = _arg_reduce(_gg.argmin, "argmin")


def _reduce(fn, label):
    def op(input_tensor, axis=None, keepdims=None, name: str | None = None,
           reduction_indices=None, keep_dims=None):
        if axis is not None and reduction_indices is not None:
            raise TypeError(f"{label}: give axis or reduction_indices, not both")
        if keepdims is not None and keep_dims is not None:
            raise TypeError(f"{label}: give keepdims or keep_dims, not both")
        axis = reduction_indices if axis is None else axis
        if isinstance(axis, (list, tuple)):
            axis = tuple(int(a) for a in axis)
        kw = {"axis": axis, "keepdims": bool(keepdims or keep_dims)}
        if axis is not None and _shapeless([input_tensor]):  # the axis needs the real rank
            out = _op(_CallPrim(fn, kw), (input_tensor,), cls=Tensor)
        else:
            out = fn(input_tensor, **kw)
        return _named(out, name)
    op.__name__ = op.__qualname__ = label
    op.__doc__ = (f"``{label}(x, axis=None, keepdims=False)``; TF1's ``reduction_indices=`` "
                  "and ``keep_dims=`` are accepted too.")
    return op


reduce_sum = _reduce(_gg.sum, "reduce_sum")
reduce_mean = _reduce(_gg.mean, "reduce_mean")
reduce_max = _reduce(_gg.max, "reduce_max")
reduce_min = _reduce(_gg.min, "reduce_min")


def zeros(shape, dtype=float32, name: str | None = None) -> Tensor:
    """A constant of zeros (TF1: float32 unless ``dtype`` says).

    >>> import graphgrad.static as tf
    >>> tf.Session().run(tf.zeros([2])).tolist()
    [0.0, 0.0]
    """
    return constant(_np.zeros(tuple(shape), as_dtype(dtype)), name=name)


def ones(shape, dtype=float32, name: str | None = None) -> Tensor:
    """A constant of ones (TF1: float32 unless ``dtype`` says)."""
    return constant(_np.ones(tuple(shape), as_dtype(dtype)), name=name)


# ------------------------------------------------------------------ random ----

class _Seed:
    rng = None  # set by set_random_seed; graphgrad's generator (gg.manual_seed) otherwise


def set_random_seed(seed: int) -> None:
    """Seed the random ops of gg.static (TF1's graph-level seed).

    >>> import graphgrad.static as tf
    >>> tf.set_random_seed(1); a = tf.Session().run(tf.random_uniform([2]))
    >>> tf.set_random_seed(1); b = tf.Session().run(tf.random_uniform([2]))
    >>> bool((a == b).all())
    True
    """
    _Seed.rng = _np.random.default_rng(seed)


def _generator(seed):
    """The generator an op draws from: its own for an op-level seed, else the shared one."""
    if seed is not None:
        return _np.random.default_rng(seed)
    return None


def _rng(own):
    if own is not None:
        return own
    return _Seed.rng if _Seed.rng is not None else _creation.default_rng()


def _random(draw, shape, dtype, seed, name) -> Tensor:
    """A node drawing ``draw(rng, shape)`` anew on every run."""
    shape, dtype, own = tuple(int(s) for s in shape), as_dtype(dtype), _generator(seed)

    def sample():
        return Tensor(draw(_rng(own), shape).astype(dtype))
    sample.__name__ = name
    return _op(_RandomPrim(sample, {}), (), sample().data, cls=Tensor)


def random_normal(shape, mean: float = 0.0, stddev: float = 1.0, dtype=float32,
                  seed: int | None = None, name: str | None = None) -> Tensor:
    """Normal samples, new on every run (a Variable made from it keeps its first draw).

    >>> import graphgrad.static as tf
    >>> tf.Session().run(tf.random_normal([2, 3], stddev=0.1)).shape
    (2, 3)
    """
    return _named(_random(lambda r, s: r.normal(mean, stddev, s), shape, dtype, seed,
                          "random_normal"), name)


def random_uniform(shape, minval: float = 0.0, maxval: float | None = None, dtype=float32,
                   seed: int | None = None, name: str | None = None) -> Tensor:
    """Uniform samples in ``[minval, maxval)`` (maxval 1 by default), new on every run."""
    hi = 1.0 if maxval is None else maxval
    return _named(_random(lambda r, s: r.uniform(minval, hi, s), shape, dtype, seed,
                          "random_uniform"), name)


def _truncated(r, shape, mean, stddev):
    out = r.standard_normal(shape)
    bad = _np.abs(out) > 2
    while bad.any():  # TF1: values beyond two standard deviations are drawn again
        out[bad] = r.standard_normal(int(bad.sum()))
        bad = _np.abs(out) > 2
    return mean + stddev * out


def truncated_normal(shape, mean: float = 0.0, stddev: float = 1.0, dtype=float32,
                     seed: int | None = None, name: str | None = None) -> Tensor:
    """Normal samples cut at two standard deviations (redrawn), new on every run."""
    return _named(_random(lambda r, s: _truncated(r, s, mean, stddev), shape, dtype, seed,
                          "truncated_normal"), name)
