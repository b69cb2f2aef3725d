"""Small helpers shared by the op families (axis handling, shape of a reduction)."""

from __future__ import annotations

import operator

from ..core.errors import ShapeError
from ..core.primitive import unwrap as raw  # noqa: F401 (the ops' name for it)


def normalize_axis(axis, ndim: int, op: str = "op"):
    """None stays None; an int or a sequence becomes a sorted tuple of non-negative ints."""
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        axes = [operator.index(a) for a in axis]
    else:
        axes = [operator.index(axis)]
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(a % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def kept_shape(shape: tuple, axis) -> tuple:
    """Shape of a reduction over ``axis`` with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


def reduced_size(shape: tuple, axis) -> int:
    n = 1
    for i, s in enumerate(shape):
        if axis is None or i in axis:
            n *= s
    return n


def pick(op: str, axis, dim, names: tuple = ("axis", "dim")):
    """``axis`` (NumPy's spelling) or ``dim`` (PyTorch's), whichever was given; both is an
    error rather than a silent choice."""
    if dim is None:
        return axis
    if axis is not None:
        raise TypeError(f"{op}: got both {names[0]}={axis!r} and {names[1]}={dim!r}; "
                        f"they are two spellings of one argument, pass one")
    return dim


def keep(op: str, keepdims, keepdim) -> bool:
    """``keepdims`` (NumPy) or ``keepdim`` (PyTorch); both given and different is an error."""
    if keepdim is None:
        return bool(keepdims)
    if keepdims and not keepdim:
        raise TypeError(f"{op}: got both keepdims={keepdims!r} and keepdim={keepdim!r}; "
                        "they are two spellings of one argument, pass one")
    return bool(keepdim)
