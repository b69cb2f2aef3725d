"""NumPy's dispatch protocols on Tensor: ``np.exp(t)``, ``np.sum(t, axis=1)``,
``np.dot(a, t)`` and ``ndarray + t`` run graphgrad's op (so they stay differentiable);
a NumPy function with no graphgrad op is an error naming it, never a silent exit from
the graph. ``np.asarray(t)`` (``__array__``) stays the way out: it returns the data.

The tables are filled by ``graphgrad.numpy``, which holds the NumPy-signature functions
over graphgrad ops; this module only routes.

>>> import numpy as np
>>> import graphgrad as gg
>>> x = gg.tensor(np.array([0.0, 1.0]), requires_grad=True)  # float64
>>> y = np.sum(np.exp(x) * np.array([1.0, 2.0]))
>>> y.backward(); np.round(x.grad.numpy(), 3).tolist()
[1.0, 5.437]
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import primitive as P
from .pytree import tree_leaves, tree_map
from .state import tracer

UFUNCS: dict = {}  # np.ufunc -> graphgrad function of the same arguments
REDUCES: dict = {}  # np.ufunc -> its reduction (np.add.reduce -> sum), as f(x, axis, keepdims)
FUNCTIONS: dict = {}  # NumPy function -> graphgrad function with NumPy's signature
# NumPy functions whose results carry no gradient, run on the data. STATIC ones read only
# shapes and dtypes (fine while tracing); the others read values (not while tracing).
STATIC: set = set()
VALUE_QUERIES: set = set()


def numpy_name(func) -> str:
    """``np.fft.fft`` for ``numpy.fft.fft``: the name a user wrote."""
    mod = getattr(func, "__module__", None) or "numpy"
    if mod.startswith("numpy"):
        mod = "np" + mod[len("numpy"):]
        mod = mod.split("._", 1)[0]  # np.linalg._linalg -> np.linalg
    return f"{mod}.{getattr(func, '__name__', repr(func))}"


def no_op_error(name: str) -> TypeError:
    return TypeError(f"{name} on a graphgrad Tensor: no graphgrad op; use .numpy() to leave "
                     "the graph (the result then carries no gradient)")


def _data(v):
    return v.data if isinstance(v, P.Tensor) else v


def _tracing_error(name: str) -> TypeError:
    return TypeError(f"{name} on a Tensor while tracing (gg.compile / gg.static): it reads "
                     "the values, which would be fixed at trace time")


def array_ufunc(self, ufunc, method: str, *inputs, **kwargs) -> Any:
    """``Tensor.__array_ufunc__``: a ufunc with a Tensor among its operands."""
    out = kwargs.pop("out", None)
    if out is not None:
        return _into_arrays(ufunc, method, inputs, out, kwargs)
    name = f"np.{ufunc.__name__}"
    if method == "__call__":
        fn = UFUNCS.get(ufunc)
        if fn is None:
            raise no_op_error(name)
        if kwargs:
            raise TypeError(f"{name} on a graphgrad Tensor: argument(s) {sorted(kwargs)} "
                            "are not supported")
        return fn(*inputs)
    if method == "reduce" and ufunc in REDUCES:
        extra = set(kwargs) - {"axis", "keepdims"}
        if extra:
            raise TypeError(f"{name}.reduce on a graphgrad Tensor: argument(s) "
                            f"{sorted(extra)} are not supported")
        return REDUCES[ufunc](inputs[0], kwargs.get("axis", 0), kwargs.get("keepdims", False))
    raise no_op_error(f"{name}.{method}")


def _into_arrays(ufunc, method, inputs, out, kwargs):
    """``ndarray -= t`` (``out=`` an ndarray): computed on the data, written in place.

    An array cannot hold a gradient, so this is refused where one would be dropped: a
    Tensor that requires grad, carries a forward-mode tangent, or is being traced.
    """
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    outs = out if isinstance(out, tuple) else (out,)
    if any(isinstance(o, P.Tensor) for o in outs):
        raise TypeError(f"{name}(..., out=<Tensor>): NumPy cannot write into a Tensor; use "
                        "its in-place methods (t.add_(x), t.sub_(x), t.mul_(x)) or rebind "
                        "(t = t - x)")
    if tracer() is not None:
        raise _tracing_error(f"{name}(..., out=<ndarray>)")
    for a in inputs:
        if isinstance(a, P.Tensor) and (a._rg or a._fw):
            raise TypeError(f"{name}(..., out=<ndarray>): writing a Tensor that requires grad "
                            f"(shape {a.shape}) into a NumPy array would drop its gradient; "
                            "write `arr = arr - t` to stay in the graph, or use t.detach()")
    raw = [_data(a) for a in inputs]
    try:
        return getattr(ufunc, method)(*raw, out=out, **kwargs)
    except (TypeError, ValueError) as e:  # casting, shapes: name them, not NumPy's frames
        shapes = ", ".join(f"{getattr(a, 'shape', ())} {getattr(a, 'dtype', type(a).__name__)}"
                           for a in raw)
        into = ", ".join(f"{o.shape} {o.dtype}" for o in outs if hasattr(o, "shape"))
        raise TypeError(f"{name}(..., out=<ndarray>) on operands [{shapes}] into [{into}]: "
                        f"{e}") from None


def array_function(self, func: Callable, types, args, kwargs) -> Any:
    """``Tensor.__array_function__``: a NumPy function with a Tensor among its arguments."""
    fn = FUNCTIONS.get(func)
    if fn is not None:
        return fn(*args, **kwargs)
    if func in STATIC or func in VALUE_QUERIES:
        if func in VALUE_QUERIES and tracer() is not None:
            raise _tracing_error(numpy_name(func))
        return func(*tree_map(_data, list(args)), **tree_map(_data, dict(kwargs)))
    if any(not issubclass(t, (P.Tensor, np.ndarray)) for t in types):
        return NotImplemented  # another library's array: let it answer
    raise no_op_error(numpy_name(func))


def has_tensor(tree) -> bool:
    """Whether a Tensor is among the leaves of ``tree`` (lists, tuples, dicts)."""
    return any(isinstance(v, P.Tensor) for v in tree_leaves(tree))


__all__ = ["FUNCTIONS", "REDUCES", "STATIC", "UFUNCS", "VALUE_QUERIES", "array_function",
           "array_ufunc", "has_tensor", "no_op_error", "numpy_name"]
