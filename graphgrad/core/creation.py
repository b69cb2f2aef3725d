"""Making tensors: from data, filled, ranges, and random (seeded by ``manual_seed``)."""

from __future__ import annotations

import numpy as np

from . import backend as B
from .backend import xp
from .dtypes import check_device
from .tensor import Tensor

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed graphgrad's random generator (rand, randn, and nn initialisers)."""
    global _rng
    _rng = np.random.default_rng(seed)


def default_rng() -> np.random.Generator:
    return _rng


def _float_dtype(dtype):
    return B.as_dtype(dtype) if dtype is not None else B.DEFAULT_FLOAT


def _shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def tensor(data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A tensor from a number, nested lists, a NumPy array or another tensor (copied).

    Python floats become float32; NumPy arrays keep their dtype unless ``dtype`` is given.

    >>> tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    check_device(device, "tensor")
    if isinstance(data, Tensor):
        data = data.data
    arr = B.asarray(data, dtype)
    if arr is data:
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*shape, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    check_device(device, "zeros")
    return Tensor(xp.zeros(_shape(shape), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    check_device(device, "ones")
    return Tensor(xp.ones(_shape(shape), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False,
         device=None) -> Tensor:
    check_device(device, "full")
    if isinstance(shape, int):
        shape = (shape,)
    if dtype is None:  # as PyTorch: bool -> bool, int -> int64, float -> float32
        if isinstance(fill_value, bool):
            dtype = B.bool_
        elif isinstance(fill_value, int):
            dtype = B.int64
        else:
            dtype = B.DEFAULT_FLOAT
    return Tensor(xp.full(tuple(shape), fill_value, dtype=B.as_dtype(dtype)),
                  requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False,
        device=None) -> Tensor:
    check_device(device, "eye")
    return Tensor(xp.eye(n, m, dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False,
           device=None) -> Tensor:
    """As NumPy's arange: integers give int64, any float gives float32."""
    check_device(device, "arange")
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, stop, step))
        dtype = B.DEFAULT_FLOAT if floats else B.int64
    return Tensor(xp.arange(start, stop, step, dtype=B.as_dtype(dtype)),
                  requires_grad=requires_grad)


def linspace(start, stop, num: int = 50, dtype=None, requires_grad: bool = False,
             device=None) -> Tensor:
    check_device(device, "linspace")
    return Tensor(xp.linspace(start, stop, num, dtype=_float_dtype(dtype)),
                  requires_grad=requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    check_device(device, "zeros_like")
    data = t.data if isinstance(t, Tensor) else xp.asarray(t)
    return Tensor(xp.zeros(xp.shape(data), dtype=dtype or getattr(data, "dtype", None)),
                  requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    check_device(device, "ones_like")
    data = t.data if isinstance(t, Tensor) else xp.asarray(t)
    return Tensor(xp.ones(xp.shape(data), dtype=dtype or getattr(data, "dtype", None)),
                  requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad: bool = False,
              device=None) -> Tensor:
    check_device(device, "full_like")
    data = t.data if isinstance(t, Tensor) else xp.asarray(t)
    return Tensor(xp.full(xp.shape(data), fill_value, dtype=dtype or data.dtype),
                  requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Uniform on [0, 1)."""
    check_device(device, "rand")
    data = _rng.random(_shape(shape)).astype(_float_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def randn(*shape, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Standard normal."""
    check_device(device, "randn")
    data = _rng.standard_normal(_shape(shape)).astype(_float_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def randint(low: int, high: int, size, dtype=None, device=None) -> Tensor:
    check_device(device, "randint")
    if isinstance(size, int):
        size = (size,)
    return Tensor(_rng.integers(low, high, size=tuple(size)).astype(dtype or B.int64))
