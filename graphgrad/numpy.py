"""NumPy's names over graphgrad ops, so that HIPS-autograd-style code ports by its import
line: ``import graphgrad.numpy as np``.

Functions take Tensors, arrays, numbers and lists, and follow NumPy's signatures and
defaults (``var`` divides by ``n``, as NumPy). With a Tensor among the inputs they return
a differentiable Tensor; with only NumPy data they compute as NumPy does (creation
functions such as ``zeros`` and ``linspace`` return plain float64 arrays, as in
autograd). A NumPy function graphgrad cannot differentiate is not offered: using it is
an AttributeError that says so, never a silent loss of the gradient. Constants, dtypes
and ``random`` (for data) are NumPy's own.

>>> import graphgrad.numpy as np
>>> from graphgrad import grad
>>> def tanh(x):
...     y = np.exp(-2.0 * x)
...     return (1.0 - y) / (1.0 + y)
>>> round(grad(tanh)(np.array(1.0)).item(), 6)
0.419974
"""

from __future__ import annotations

import builtins
import functools
import sys
import types
from typing import Any

import numpy as _np

from . import ops as _ops
from .core import interop as _interop
from .core.tensor import Tensor as _Tensor

# ---- creation: constants, so plain NumPy arrays -----------------------------------------
zeros = _np.zeros
ones = _np.ones
empty = _np.empty
full = _np.full
zeros_like = _np.zeros_like
ones_like = _np.ones_like
empty_like = _np.empty_like
full_like = _np.full_like
arange = _np.arange
linspace = _np.linspace
logspace = _np.logspace
eye = _np.eye
identity = _np.identity
random = _np.random


def _has_tensor(obj) -> bool:
    if isinstance(obj, _Tensor):
        return True
    return isinstance(obj, (list, tuple)) and builtins.any(_has_tensor(o) for o in obj)


def _first_tensor(obj):
    if isinstance(obj, _Tensor):
        return obj
    for o in obj if isinstance(obj, (list, tuple)) else ():
        t = _first_tensor(o)
        if t is not None:
            return t
    return None


def _build(obj, dtype, like):
    if isinstance(obj, _Tensor):
        return obj if dtype is None or obj.dtype == _np.dtype(dtype) else obj.astype(dtype)
    if isinstance(obj, (list, tuple)) and _has_tensor(obj):
        return _ops.stack([_build(o, dtype, like) for o in obj], 0)
    if dtype is None and not isinstance(obj, (_np.ndarray, _np.generic)):
        dtype = like  # Python numbers beside Tensors take their dtype (no silent upcast)
    return _np.asarray(obj, dtype=dtype)


def _from_tensors(obj, dtype):
    like = _first_tensor(obj).dtype if dtype is None else None
    return _build(obj, dtype, like if like is not None and like.kind == "f" else None)


def _arr(x):
    """Lists and tuples as arrays (as NumPy takes them); Tensors, arrays, numbers as they are."""
    if isinstance(x, (list, tuple)):
        return _from_tensors(x, None) if _has_tensor(x) else _np.asarray(x)
    return x


def array(obj, dtype=None, copy: bool = True, **kwargs) -> Any:
    """NumPy's ``array``; nested lists holding Tensors are stacked (differentiably).

    >>> import graphgrad as gg
    >>> array([gg.tensor(1.0), 2.0]).tolist()
    [1.0, 2.0]
    """
    if _has_tensor(obj):
        return _from_tensors(obj, dtype)
    return _np.array(obj, dtype=dtype, copy=copy, **kwargs)


def asarray(obj, dtype=None) -> Any:
    """NumPy's ``asarray``; a Tensor (or a list holding Tensors) stays in the graph.

    >>> asarray([1, 2]).dtype
    dtype('int64')
    """
    return _from_tensors(obj, dtype) if _has_tensor(obj) else _np.asarray(obj, dtype=dtype)


# ---- elementwise: the primitives, and compositions of them -------------------------------
exp = _ops.exp
log = _ops.log
log1p = _ops.log1p
sqrt = _ops.sqrt
sin = _ops.sin
cos = _ops.cos
tanh = _ops.tanh
abs = absolute = _ops.abs
sign = _ops.sign
add = _ops.add
subtract = _ops.sub
multiply = _ops.mul
divide = true_divide = _ops.div
negative = _ops.neg
power = _ops.pow
maximum = _ops.maximum
minimum = _ops.minimum
square = _ops.square
greater, greater_equal, less, less_equal = (_ops.greater, _ops.greater_equal, _ops.less,
                                            _ops.less_equal)
equal, not_equal = _ops.equal, _ops.not_equal
logical_and, logical_or, logical_not = _ops.logical_and, _ops.logical_or, _ops.logical_not
isnan, isfinite = _ops.isnan, _ops.isfinite


def _lists_as_arrays(f, n: int = 1):
    """``f`` taking lists for its first ``n`` (array) arguments, as NumPy does."""
    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        return f(*[_arr(a) if i < n else a for i, a in enumerate(args)], **kwargs)
    return wrapped


matmul = _lists_as_arrays(_ops.matmul, 2)
outer = _lists_as_arrays(_ops.outer, 2)


def einsum(subscripts: str, *operands) -> Any:
    """Einstein summation over graphgrad ops.

    >>> float(einsum("i,i->", [1.0, 2.0], [3.0, 4.0]))
    11.0
    """
    return _ops.einsum(subscripts, *[_arr(o) for o in operands])
for _name in ("expm1", "logaddexp"):  # primitives that other work may add
    if hasattr(_ops, _name):
        globals()[_name] = getattr(_ops, _name)


def positive(x) -> Any:
    """+x (x itself).

    >>> positive(2.0)
    2.0
    """
    return x


def tan(x) -> Any:
    """Tangent, sin(x) / cos(x).

    >>> round(float(tan(0.5)), 6)
    0.546302
    """
    return _ops.sin(x) / _ops.cos(x)


def sinh(x) -> Any:
    """Hyperbolic sine, (e^x - e^-x) / 2.

    >>> round(float(sinh(1.0)), 6)
    1.175201
    """
    return (_ops.exp(x) - _ops.exp(-x)) * 0.5


def cosh(x) -> Any:
    """Hyperbolic cosine, (e^x + e^-x) / 2.

    >>> round(float(cosh(1.0)), 6)
    1.543081
    """
    return (_ops.exp(x) + _ops.exp(-x)) * 0.5


def log2(x) -> Any:
    """Base-2 logarithm.

    >>> float(log2(8.0))
    3.0
    """
    return _ops.log(x) / _np.log(2.0)


def log10(x) -> Any:
    """Base-10 logarithm.

    >>> round(float(log10(1000.0)), 12)
    3.0
    """
    return _ops.log(x) / _np.log(10.0)


def reciprocal(x) -> Any:
    """1 / x.

    >>> reciprocal(4.0)
    0.25
    """
    return 1.0 / x


# ---- reductions: NumPy's signatures -------------------------------------------------------
def _refuse(name: str, **given) -> None:
    bad = [k for k, v in given.items() if v is not None]
    if bad:
        raise TypeError(f"np.{name} on graphgrad values: argument(s) {bad} are not "
                        "supported")


def _cast(a, dtype):
    return a if dtype is None else _ops.astype(a, dtype=_np.dtype(dtype))


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None) -> Any:
    """Sum over ``axis`` (NumPy's signature; ``out``, ``initial``, ``where`` unsupported).

    >>> sum([[1.0, 2.0], [3.0, 4.0]], axis=1).tolist()
    [3.0, 7.0]
    """
    a = _arr(a)
    _refuse("sum", out=out, initial=initial, where=where)
    return _ops.sum(_cast(a, dtype), axis, keepdims)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, where=None) -> Any:
    """Mean over ``axis``.

    >>> float(mean([1.0, 2.0, 6.0]))
    3.0
    """
    a = _arr(a)
    _refuse("mean", out=out, where=where)
    return _ops.mean(_cast(a, dtype), axis, keepdims)


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None) -> Any:
    """Max over ``axis`` (ties share the gradient); two arrays: ``maximum``.

    >>> float(max([1.0, 5.0, 2.0]))
    5.0
    """
    a = _arr(a)
    _refuse("max", out=out, initial=initial, where=where)
    return _ops.max(a, axis, keepdims)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None) -> Any:
    """Min over ``axis``.

    >>> float(min([1.0, 5.0, 2.0]))
    1.0
    """
    a = _arr(a)
    _refuse("min", out=out, initial=initial, where=where)
    return _ops.min(a, axis, keepdims)


amax, amin = max, min


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None) -> Any:
    """Product over ``axis``.

    >>> float(prod([2.0, 3.0]))
    6.0
    """
    a = _arr(a)
    _refuse("prod", out=out, initial=initial, where=where)
    return _ops.prod(_cast(a, dtype), axis, keepdims)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None) -> Any:
    """Variance dividing by ``n - ddof`` (NumPy's default ``ddof=0``, not PyTorch's 1).

    >>> float(var([1.0, 3.0]))
    1.0
    """
    a = _arr(a)
    _refuse("var", out=out, where=where)
    return _ops.var(_cast(a, dtype), axis, correction=ddof, keepdims=keepdims)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None) -> Any:
    """Standard deviation dividing by ``n - ddof`` (NumPy's default ``ddof=0``).

    >>> float(std([1.0, 3.0]))
    1.0
    """
    a = _arr(a)
    _refuse("std", out=out, where=where)
    return _ops.std(_cast(a, dtype), axis, correction=ddof, keepdims=keepdims)


def argmax(a, axis=None, out=None, *, keepdims=False) -> Any:
    """Index of the max (no gradient).

    >>> int(argmax([1.0, 5.0, 2.0]))
    1
    """
    a = _arr(a)
    _refuse("argmax", out=out)
    return _ops.argmax(a, axis, keepdims)


def argmin(a, axis=None, out=None, *, keepdims=False) -> Any:
    """Index of the min (no gradient).

    >>> int(argmin([1.0, 5.0, 2.0]))
    0
    """
    a = _arr(a)
    _refuse("argmin", out=out)
    return _ops.argmin(a, axis, keepdims)


# ---- linear algebra -------------------------------------------------------------------------
def _nd(x) -> int:
    return len(_np.shape(x)) if not isinstance(x, _Tensor) else x.ndim


def dot(a, b, out=None) -> Any:
    """Inner product of vectors, matrix product of 2-D arrays.

    >>> float(dot([1.0, 2.0], [3.0, 4.0]))
    11.0
    """
    a, b = _arr(a), _arr(b)
    _refuse("dot", out=out)
    return _ops.dot(a, b)


def inner(a, b) -> Any:
    """Inner product over the last axes.

    >>> float(inner([1.0, 2.0], [3.0, 4.0]))
    11.0
    """
    a, b = _arr(a), _arr(b)
    if _nd(a) <= 1 and _nd(b) <= 1:
        return _ops.dot(a, b)
    return tensordot(a, b, ([-1], [-1]))


def tensordot(a, b, axes=2) -> Any:
    """NumPy's ``tensordot``: sum over the last ``axes`` axes of ``a`` and the first of
    ``b``, or over the axis lists ``axes = (axes_a, axes_b)``.

    >>> tensordot(ones((2, 3)), ones((3, 4)), 1).shape
    (2, 4)
    """
    a, b = _arr(a), _arr(b)
    na, nb = _nd(a), _nd(b)
    if isinstance(axes, int):
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = ([x] if isinstance(x, int) else list(x) for x in axes)
    if len(ax_a) != len(ax_b):
        raise ValueError(f"tensordot: axes {ax_a} and {ax_b} differ in number")
    ax_a, ax_b = [i % na for i in ax_a], [i % nb for i in ax_b]
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sa = [next(letters) for _ in range(na)]
    sb = [next(letters) for _ in range(nb)]
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    keep = [c for k, c in enumerate(sa) if k not in ax_a] + \
        [c for k, c in enumerate(sb) if k not in ax_b]
    return _ops.einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(keep)}", a, b)


def trace(a, offset=0, axis1=0, axis2=1) -> Any:
    """Sum of the main diagonal of a 2-D array.

    >>> float(trace(eye(3)))
    3.0
    """
    a = _arr(a)
    if (offset, axis1, axis2) != (0, 0, 1) or _nd(a) != 2:
        raise TypeError("np.trace on graphgrad values: only the main diagonal of a 2-D array")
    return _ops.sum(_ops.where(_np.eye(*_np.shape(a), dtype=bool), a, 0.0))


class _Linalg(types.ModuleType):
    """``np.linalg`` over graphgrad ops: ``norm`` (vector 2-norm, Frobenius)."""

    @staticmethod
    def norm(x, ord=None, axis=None, keepdims=False):
        return _ops.norm(_arr(x), ord, axis, keepdims)

    def __getattr__(self, name: str):
        raise _unavailable(f"linalg.{name}")


linalg = _Linalg("graphgrad.numpy.linalg")
# `import graphgrad.numpy.random as npr` (as autograd's examples import theirs) and linalg
sys.modules[__name__ + ".random"] = random
sys.modules[__name__ + ".linalg"] = linalg


# ---- shapes ---------------------------------------------------------------------------------
def reshape(a, shape, order="C", **kwargs) -> Any:
    """The same elements in a new shape (C order).

    >>> reshape(arange(6.0), (2, 3)).shape
    (2, 3)
    """
    a = _arr(a)
    if order != "C":
        raise TypeError("np.reshape on graphgrad values: only order='C'")
    return _ops.reshape(a, kwargs.get("newshape", shape))


def transpose(a, axes=None) -> Any:
    """Permute axes (reversed when ``axes`` is None).

    >>> transpose(ones((2, 3, 4)), (1, 2, 0)).shape
    (3, 4, 2)
    """
    a = _arr(a)
    return _ops.transpose(a, axes)


def ravel(a, order="C") -> Any:
    """Flattened to 1-D.

    >>> ravel(ones((2, 3))).shape
    (6,)
    """
    a = _arr(a)
    return reshape(a, (-1,), order)




def swapaxes(a, axis1, axis2) -> Any:
    """Exchange two axes.

    >>> swapaxes(ones((2, 3)), 0, 1).shape
    (3, 2)
    """
    a = _arr(a)
    return _ops.swapaxes(a, axis1, axis2)


moveaxis = _lists_as_arrays(_ops.moveaxis)
broadcast_to = _lists_as_arrays(_ops.broadcast_to)
tile = _lists_as_arrays(_ops.tile)
flip = _lists_as_arrays(_ops.flip)
split = _lists_as_arrays(_ops.split)
take_along_axis = _lists_as_arrays(_ops.take_along_axis, 2)


def squeeze(a, axis=None) -> Any:
    """Drop axes of length 1.

    >>> squeeze(ones((2, 1, 3))).shape
    (2, 3)
    """
    a = _arr(a)
    return _ops.squeeze(a, axis)


def expand_dims(a, axis) -> Any:
    """Insert an axis of length 1.

    >>> expand_dims(ones(3), 0).shape
    (1, 3)
    """
    a = _arr(a)
    return _ops.expand_dims(a, axis)


def repeat(a, repeats, axis=None) -> Any:
    """Each element ``repeats`` times (flattened when ``axis`` is None).

    >>> repeat([1.0, 2.0], 2).tolist()
    [1.0, 1.0, 2.0, 2.0]
    """
    a = _arr(a)
    return _ops.repeat(a, repeats, axis)


def concatenate(arrays, axis=0, out=None, **kwargs) -> Any:
    """Join arrays along an existing axis (``axis=None``: flattened first).

    >>> concatenate([ones(2), zeros(1)]).tolist()
    [1.0, 1.0, 0.0]
    """
    _refuse("concatenate", out=out, **kwargs)
    if axis is None:
        return _ops.concatenate([ravel(a) for a in arrays], 0)
    return _ops.concatenate([_arr(a) for a in arrays], axis)


def stack(arrays, axis=0, out=None, **kwargs) -> Any:
    """Join arrays along a new axis.

    >>> stack([ones(2), zeros(2)], axis=1).shape
    (2, 2)
    """
    _refuse("stack", out=out, **kwargs)
    return _ops.stack([_arr(a) for a in arrays], axis)


def atleast_1d(a) -> Any:
    """A 0-d array as shape (1,); others unchanged.

    >>> atleast_1d(1.0).shape
    (1,)
    """
    a = _arr(a)
    return reshape(a, (1,)) if _nd(a) == 0 else a


def atleast_2d(a) -> Any:
    """0-d and 1-d arrays as a row; others unchanged.

    >>> atleast_2d(ones(3)).shape
    (1, 3)
    """
    a = _arr(a)
    nd = _nd(a)
    return reshape(a, (1, 1)) if nd == 0 else reshape(a, (1, -1)) if nd == 1 else a


def hstack(tup, **kwargs) -> Any:
    """Join along the second axis (the first for 1-D arrays), as NumPy.

    >>> hstack([ones((2, 1)), zeros((2, 2))]).shape
    (2, 3)
    """
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, 0 if builtins.all(_nd(a) == 1 for a in arrs) else 1, **kwargs)


def vstack(tup, **kwargs) -> Any:
    """Join along the first axis, 1-D arrays as rows.

    >>> vstack([ones(3), zeros(3)]).shape
    (2, 3)
    """
    return concatenate([atleast_2d(a) for a in tup], 0, **kwargs)


def where(condition, x=None, y=None) -> Any:
    """``where(cond, x, y)``; with only ``cond`` it is NumPy's (indices, no gradient).

    >>> where(array([True, False]), 1.0, -1.0).tolist()
    [1.0, -1.0]
    """
    if x is None and y is None:
        return _np.where(_interop._data(condition))
    return _ops.where(condition, x, y)


def clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None) -> Any:
    """Clamp to [a_min, a_max] (NumPy 2's ``min``/``max`` also accepted).

    >>> clip([-2.0, 0.5, 3.0], -1.0, 1.0).tolist()
    [-1.0, 0.5, 1.0]
    """
    a = _arr(a)
    _refuse("clip", out=out)
    return _ops.clip(a, min=a_min if min is None else min, max=a_max if max is None else max)


def pad(array, pad_width, mode="constant", constant_values=0) -> Any:
    """Constant padding, ``pad_width`` as in NumPy.

    >>> pad(ones(2), 1).tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    if mode != "constant" or not isinstance(constant_values, (int, float)):
        raise TypeError("np.pad on graphgrad values: only mode='constant' with one value")
    return _ops.pad(_arr(array), pad_width, float(constant_values))


# ---- what passes through, what is refused ------------------------------------------------
shape, ndim, size = _np.shape, _np.ndim, _np.size
allclose, isclose, array_equal = _np.allclose, _np.isclose, _np.array_equal

# NumPy names that are not functions of values (dtypes, constants) or compute no gradient
_PASS_TYPES = (_np.ndarray, _np.dtype, _np.errstate, _np.finfo, _np.iinfo)
_PASS_FUNCS = {"result_type", "promote_types", "can_cast", "broadcast_shapes", "iscomplexobj",
               "isrealobj", "isscalar", "seterr", "geterr", "printoptions", "set_printoptions",
               "get_printoptions", "count_nonzero", "nonzero", "flatnonzero", "argwhere",
               "argsort", "any", "all", "array_equiv", "may_share_memory",
               "shares_memory"}


def _unavailable(name: str) -> AttributeError:
    if isinstance(getattr(_np, name, None), types.ModuleType):
        return AttributeError(
            f"graphgrad.numpy has no {name!r}: NumPy's {name} module has no graphgrad ops, so "
            "its functions would not be differentiable. Use numpy."
            f"{name} on the data outside the graph (t.numpy()).")
    return AttributeError(
        f"graphgrad.numpy has no {name!r}: NumPy's {name} has no graphgrad op, so it would "
        "not be differentiable. Compute it with NumPy on the data outside the graph "
        f"(numpy.{name}(t.numpy())), or write it with graphgrad ops.")


def __getattr__(name: str):
    v = getattr(_np, name, None)
    if v is None and not hasattr(_np, name):
        raise AttributeError(f"module 'graphgrad.numpy' has no attribute {name!r}")
    if name in _PASS_FUNCS or v is None:  # None: np.newaxis
        return v
    if isinstance(v, type) and (issubclass(v, (_np.generic,) + _PASS_TYPES)
                                or v in _PASS_TYPES):
        return v  # dtypes and plain NumPy types
    if not callable(v) and not isinstance(v, types.ModuleType):
        return v  # constants: pi, e, inf, nan
    raise _unavailable(name)


# ---- the dispatch tables behind Tensor.__array_ufunc__ / __array_function__ -------------
def _register() -> None:
    g = globals()
    for name in ("exp", "log", "log1p", "expm1", "logaddexp", "sqrt", "sin", "cos", "tan",
                 "tanh", "sinh", "cosh", "log2", "log10", "reciprocal", "absolute", "sign",
                 "add", "subtract", "multiply", "true_divide", "negative", "positive",
                 "power", "maximum", "minimum", "square", "greater", "greater_equal",
                 "less", "less_equal", "equal", "not_equal", "logical_and", "logical_or",
                 "logical_not", "isnan", "isfinite", "matmul"):
        if name in g:
            _interop.UFUNCS[getattr(_np, name)] = g[name]
    _interop.REDUCES.update({_np.add: _ops.sum, _np.multiply: _ops.prod,
                             _np.maximum: _ops.max, _np.minimum: _ops.min})
    for name in ("sum", "mean", "max", "min", "amax", "amin", "prod", "var", "std", "argmax",
                 "argmin", "dot", "inner", "tensordot", "outer", "einsum", "trace", "reshape",
                 "transpose", "ravel", "swapaxes", "moveaxis", "broadcast_to", "tile", "flip",
                 "split", "take_along_axis", "squeeze", "expand_dims", "repeat",
                 "concatenate", "stack", "atleast_1d", "atleast_2d", "hstack", "vstack",
                 "where", "clip", "pad", "array", "asarray"):
        f = getattr(_np, name, None)
        if f is not None:
            _interop.FUNCTIONS[f] = g[name]
    _interop.FUNCTIONS[_np.linalg.norm] = linalg.norm
    _interop.STATIC.update({_np.shape, _np.ndim, _np.size, _np.zeros_like, _np.ones_like,
                            _np.empty_like, _np.full_like, _np.result_type,
                            _np.iscomplexobj, _np.isrealobj})
    _interop.VALUE_QUERIES.update(
        {_np.allclose, _np.isclose, _np.array_equal, _np.array_equiv, _np.count_nonzero,
         _np.nonzero, _np.flatnonzero, _np.argwhere, _np.argsort, _np.any, _np.all,
         _np.may_share_memory, _np.shares_memory, _np.array_repr, _np.array_str,
         _np.array2string})


_register()
