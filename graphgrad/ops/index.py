"""Indexing primitives: ``getitem`` and its adjoint, a scatter-add into zeros.

Advanced indices may repeat; the scatter accumulates (``np.add.at``), so repeated
indices sum their gradients. take_along_axis, gather, index_select and scatter_add are
composites over these two.
"""

from __future__ import annotations

from ..core.backend import array_module, xp
from ..core.primitive import Primitive
from ._util import raw

FAMILY = "index"


def _is_basic(index) -> bool:
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in index)


def _getitem_impl(x, index):
    return x[index]


def _scatter_impl(g, index, shape):
    m = array_module(g)
    out = m.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g  # basic indexing never repeats an element
    else:
        m.add.at(out, index, g)
    return out


getitem_p = Primitive("getitem", _getitem_impl, FAMILY, doc="x[index]")
scatter_p = Primitive("scatter_index", _scatter_impl, FAMILY,
                      doc="zeros(shape) with g added at index (repeats accumulate)")

getitem_p.defvjp(
    lambda g, out, x, index: scatter_p(g, index=index, shape=tuple(x.shape)),
).deflinear()

scatter_p.defvjp(
    lambda g, out, y, index, shape: getitem_p(g, index=index),
).deflinear()


def _clean_index(index):
    """A tuple index of ints, slices, None, Ellipsis and integer/bool arrays."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        i = raw(i)  # Tensors used as indices
        if isinstance(i, list):  # a host index (a device array indexes with a host one)
            i = xp.asarray(i)
        if hasattr(i, "dtype") and getattr(i, "ndim", 1) == 0 and i.dtype.kind in "iu":
            i = int(i)
        out.append(i)
    return tuple(out)


def getitem(x, index):
    """Basic and advanced indexing, as NumPy."""
    return getitem_p(x, index=_clean_index(index))


def _along_axis_index(indices, axis: int, ndim: int, like=None):
    """The fancy index that makes ``x[idx] == take_along_axis(x, indices, axis)``, on the
    backend of ``indices`` or else of ``like`` (the indexed array)."""
    indices = raw(indices)
    m = array_module(indices, raw(like))
    indices = m.asarray(indices)  # a list or a host array moves to x's device
    shape = indices.shape
    grid = []
    for d in range(ndim):
        if d == axis:
            grid.append(indices)
        else:
            r = [1] * ndim
            r[d] = shape[d]
            grid.append(m.arange(shape[d]).reshape(r))
    return tuple(grid)


def take_along_axis(x, indices, axis: int):
    """NumPy's take_along_axis (PyTorch's gather with ``dim=axis``)."""
    nd = len(x.shape)
    return getitem_p(x, index=_along_axis_index(indices, axis % nd, nd, x))


def gather(x, dim: int, index):
    """PyTorch's ``gather(input, dim, index)``."""
    return take_along_axis(x, index, dim)


def index_select(x, axis: int, index):
    """Select entries along ``axis`` by an integer index vector (repeats allowed)."""
    nd = len(x.shape)
    idx = raw(index)
    idx = array_module(idx, raw(x)).asarray(idx)
    return getitem_p(x, index=(slice(None),) * (axis % nd) + (idx,))


def scatter_add(x, dim: int, index, src):
    """PyTorch's ``x.scatter_add(dim, index, src)``: out = x, then out[index] += src."""
    nd = len(x.shape)
    idx = _along_axis_index(index, dim % nd, nd, x)
    return x + scatter_p(src, index=idx, shape=tuple(x.shape))
