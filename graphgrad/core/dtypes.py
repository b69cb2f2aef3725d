"""Type promotion, as PyTorch: ``result_type``, ``promote_types`` and the fix-up applied
to every elementwise op whose NumPy result is float64.

graphgrad computes with NumPy, whose rules (NEP 50) differ from PyTorch's where NumPy
gives float64 and PyTorch a narrower float:

- an integer or bool tensor with a float32 (float16) tensor or a Python float: PyTorch
  keeps the float tensor's dtype (or the default float32 for a Python float);
- integer / integer true division, and float functions (sqrt, exp...) of integers:
  PyTorch gives the default float32;
- a 0-d float64 tensor with a float32 tensor of more dimensions: PyTorch keeps float32
  (a 0-d tensor only decides the dtype when its category, bool < int < float, is higher).

The fix-up runs only when an op's output is float64 (one identity test on the hot path),
and returns at once when every operand is float64 already.

>>> import graphgrad as gg
>>> (gg.tensor([1.0, 2.0]) ** gg.tensor([2, 3])).dtype
dtype('float32')
>>> gg.result_type(gg.tensor([1, 2]), 2.5)
dtype('float32')
"""

from __future__ import annotations

import numpy as np

from . import backend as B
from . import primitive as _prim
from .errors import warn_upcast

_F64 = np.dtype("float64")
_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


def _category(dt: np.dtype) -> int:
    k = dt.kind
    return _BOOL if k == "b" else _INT if k in "iu" else _COMPLEX if k == "c" else _FLOAT


def promote_types(a, b) -> np.dtype:
    """The dtype two tensors of dtypes ``a`` and ``b`` combine to, as ``torch.promote_types``:
    an integer or bool with a float gives that float (NumPy would widen int64 + float32
    to float64); otherwise as NumPy.

    >>> promote_types("int64", "float32"), promote_types("uint8", "int8")
    (dtype('float32'), dtype('int16'))
    """
    a, b = np.dtype(a), np.dtype(b)
    ca, cb = _category(a), _category(b)
    if ca != cb and _FLOAT in (ca, cb) and _COMPLEX not in (ca, cb):
        return a if ca == _FLOAT else b
    return np.promote_types(a, b)


def _scalar_dtype(x) -> np.dtype:
    """A Python number's dtype in PyTorch's promotion ("wrapped number")."""
    if isinstance(x, bool):
        return B.bool_
    if isinstance(x, int):
        return B.int64
    if isinstance(x, complex):
        return np.dtype("complex64")
    return B.DEFAULT_FLOAT


def _combine(higher, lower):
    """PyTorch's combine_categories: ``lower`` decides only if its category is higher."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    ch, cl = _category(higher), _category(lower)
    if ch >= cl:
        return higher if ch != _BOOL else promote_types(higher, lower)
    return promote_types(higher, lower)


def _operand_dtypes(operands):
    """(dims, zero_dim, wrapped): the promoted dtype of each group of operands (or None)."""
    groups = [None, None, None]
    for x in operands:
        data = x.data if isinstance(x, _prim.Tensor) else x  # (ndarray.data is a buffer)
        if isinstance(data, np.generic):  # NumPy scalars count as numbers, as in PyTorch
            data = data.item()
        dt = getattr(data, "dtype", None)
        if dt is not None:  # tensors, arrays
            k = 0 if data.ndim > 0 else 1
        elif isinstance(data, (bool, int, float, complex)):
            dt, k = _scalar_dtype(data), 2
        else:
            continue
        groups[k] = dt if groups[k] is None else promote_types(groups[k], dt)
    return groups


def result_type(*operands) -> np.dtype:
    """The dtype of an elementwise op on ``operands`` (tensors, arrays, Python numbers),
    by PyTorch's rules: tensors with dimensions decide, unless a 0-d tensor or a Python
    number is of a higher category (bool < integer < float); Python floats count as the
    default float32.

    >>> import graphgrad as gg
    >>> gg.result_type(gg.tensor([1.0]), gg.tensor(2.0, dtype=gg.float64))
    dtype('float32')
    """
    dims, zero, wrapped = _operand_dtypes(operands)
    out = _combine(_combine(dims, zero), wrapped)
    if out is None:
        raise TypeError("result_type: no tensor, array or number among the operands")
    return out


def fix_float64(prim, args, out):
    """Called by ``Primitive.__call__`` when ``out`` is float64: the output cast to
    PyTorch's result dtype for elementwise ops; warns (once) when a float32 operand met a
    float64 one and the result really is float64."""
    for a in args:  # pure float64 (gradient checks): nothing to do
        if type(a) is _prim.Tensor:
            if a.data.dtype is not _F64:
                break
        elif isinstance(a, np.ndarray):
            if a.dtype is not _F64:
                break
        elif isinstance(a, float):
            continue
        else:
            break
    else:
        return out
    if prim.promotes:  # PyTorch's rules
        dt = result_type(*args)
        if dt.kind != "f" and dt.kind != "c":  # float function of ints: default float
            dt = B.DEFAULT_FLOAT
        if dt != _F64:
            return out.astype(dt)
    if _prim._warn_upcast:
        warn_upcast(prim, args)
    return out


# ---- devices: graphgrad computes where its arrays live (NumPy: the CPU) ----

class device:
    """PyTorch's ``torch.device``: ``device("cpu")``; accepted wherever ``device=`` is.

    >>> import graphgrad as gg
    >>> gg.device("cpu"), gg.device("cpu") == "cpu"
    (device(type='cpu'), True)
    """

    __slots__ = ("type", "index")

    def __init__(self, type: "str | device" = "cpu", index: int | None = None):
        if isinstance(type, device):
            type, index = type.type, type.index
        name, _, num = str(type).partition(":")
        if name not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device type {type!r}; graphgrad runs on 'cpu' "
                             "(NumPy) or 'cuda' (CuPy)")
        self.type = name
        self.index = int(num) if num else index

    def __eq__(self, other) -> bool:
        try:
            other = device(other)
        except (ValueError, TypeError):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        extra = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{extra})"


CPU = device("cpu")


def device_of(data) -> device:
    """The device of an array: the CPU for NumPy, ``cuda`` for another backend's arrays."""
    return CPU if isinstance(data, np.ndarray) else device("cuda")


def check_device(dev, op: str = "tensor") -> None:
    """Accept ``device=None`` and ``device="cpu"``; anything else is a clear error (graphgrad
    moves data between backends only through ``register_backend``)."""
    if dev is None:
        return
    if device(dev).type != "cpu":
        raise ValueError(f"{op}: device={dev!r} is not available; graphgrad computes on "
                         "NumPy arrays (device 'cpu')")


def _is_dtype_like(x) -> bool:
    if isinstance(x, (np.dtype, type)):
        return True
    if isinstance(x, str):
        try:
            device(x)
            return False
        except ValueError:
            return True
    return False


def parse_to(t, args, kwargs):
    """The dtype asked for by ``Tensor.to(*args, **kwargs)`` (None: no change)."""
    dtype = kwargs.pop("dtype", None)
    check_device(kwargs.pop("device", None), "to")
    kwargs.pop("non_blocking", None)
    kwargs.pop("copy", None)
    if kwargs:
        raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, _prim.Tensor):
            dtype = a.data.dtype
        elif _is_dtype_like(a):
            dtype = B.DEFAULT_FLOAT if a is float else np.dtype(a)
        else:
            check_device(a, "to")
    return None if dtype is None else B.as_dtype(dtype)


class MinMax(tuple):
    """``(values, indices)`` of ``max(dim=)`` / ``min(dim=)``, as PyTorch's named tuple."""

    __slots__ = ()

    def __new__(cls, values, indices):
        return tuple.__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]
