"""Making tensors: from data, filled, ranges, and random (seeded by ``manual_seed``)."""

from __future__ import annotations

import numpy as np

from . import backend as B
from .dtypes import check_device
from .tensor import Tensor

xp = B.xp  # new tensors are made on the default backend (NumPy)


def manual_seed(seed: int) -> None:
    """Seed graphgrad's random generators, one per backend (rand, randn, randint, and nn
    initialisers).

    >>> manual_seed(0); a = rand(1).item(); manual_seed(0); a == rand(1).item()
    True
    """
    B.manual_seed(seed)


def default_rng() -> np.random.Generator:
    """The default backend's random generator (seeded by ``manual_seed``).

    >>> manual_seed(1); default_rng().integers(0, 10, 3).shape
    (3,)
    """
    return B.generator()


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
    """Zeros (float32 unless ``dtype`` is given).

    >>> zeros(2, 3).shape
    (2, 3)
    """
    check_device(device, "zeros")
    return Tensor(xp.zeros(_shape(shape), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Ones (float32 unless ``dtype`` is given).

    >>> ones((2,)).tolist()
    [1.0, 1.0]
    """
    check_device(device, "ones")
    return Tensor(xp.ones(_shape(shape), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``fill_value`` everywhere; the dtype follows the value as in PyTorch.

    >>> full(2, 7).dtype, full((1,), True).dtype
    (dtype('int64'), dtype('bool'))
    """
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
    """The identity matrix (n x m).

    >>> eye(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    check_device(device, "eye")
    return Tensor(xp.eye(n, m, dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False,
           device=None) -> Tensor:
    """As NumPy's arange: integers give int64, any float gives float32.

    >>> arange(3).tolist(), arange(0.0, 1.0, 0.5).dtype
    ([0, 1, 2], dtype('float32'))
    """
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
    """``num`` evenly spaced values from start to stop (both included).

    >>> linspace(0, 1, 3).tolist()
    [0.0, 0.5, 1.0]
    """
    check_device(device, "linspace")
    return Tensor(xp.linspace(start, stop, num, dtype=_float_dtype(dtype)),
                  requires_grad=requires_grad)


def _like(t):
    """``t``'s data and array module: a ``*_like`` tensor lives on ``t``'s backend."""
    if isinstance(t, Tensor):
        data = t.data
    else:  # an array as it is (any backend); numbers and lists as NumPy reads them
        data = t if B.is_array(t) else np.asarray(t)
    return data, B.array_module(data)


def zeros_like(t, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Zeros of ``t``'s shape, dtype and backend.

    >>> zeros_like(ones(2, dtype="float64")).tolist()
    [0.0, 0.0]
    """
    check_device(device, "zeros_like")
    data, m = _like(t)
    return Tensor(m.zeros(data.shape, dtype=dtype or data.dtype), requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Ones of ``t``'s shape, dtype and backend.

    >>> ones_like(zeros(2)).dtype
    dtype('float32')
    """
    check_device(device, "ones_like")
    data, m = _like(t)
    return Tensor(m.ones(data.shape, dtype=dtype or data.dtype), requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``fill_value`` in ``t``'s shape, dtype and backend.

    >>> full_like(zeros(2), 3.0).tolist()
    [3.0, 3.0]
    """
    check_device(device, "full_like")
    data, m = _like(t)
    return Tensor(m.full(data.shape, fill_value, dtype=dtype or data.dtype),
                  requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Uniform on [0, 1).

    >>> rand(2, 3).shape
    (2, 3)
    """
    check_device(device, "rand")
    data = B.generator().random(_shape(shape)).astype(_float_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def randn(*shape, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Standard normal.

    >>> randn(4, dtype="float64").dtype
    dtype('float64')
    """
    check_device(device, "randn")
    data = B.generator().standard_normal(_shape(shape)).astype(_float_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def randint(low: int, high: int, size, dtype=None, device=None) -> Tensor:
    """Integers in [low, high), int64 unless ``dtype`` is given.

    >>> randint(0, 3, 5).dtype
    dtype('int64')
    """
    check_device(device, "randint")
    if isinstance(size, int):
        size = (size,)
    return Tensor(B.generator().integers(low, high, size=tuple(size)).astype(dtype or B.int64))
