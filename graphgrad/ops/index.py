"""Indexing primitives: ``getitem`` and its adjoint, a scatter-add into zeros.

Advanced indices may repeat; the scatter accumulates (``np.add.at``), so repeated
indices sum their gradients. take_along_axis, gather, index_select and scatter_add are
composites over these two.
"""

from __future__ import annotations

from ..core.backend import xp
from ..core.primitive import Primitive
from ._util import raw

FAMILY = "index"


def _is_basic(index) -> bool:
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in index)


def _getitem_impl(x, index):
    return x[index]


def _scatter_impl(g, index, shape):
    out = xp.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g  # basic indexing never repeats an element
    else:
        xp.add.at(out, index, g)
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
        if isinstance(i, list):
            i = xp.asarray(i)
        if hasattr(i, "dtype") and getattr(i, "ndim", 1) == 0 and i.dtype.kind in "iu":
            i = int(i)
        out.append(i)
    return tuple(out)


def getitem(x, index):
    """Basic and advanced indexing, as NumPy."""
    return getitem_p(x, index=_clean_index(index))


def _along_axis_index(indices, axis: int, ndim: int):
    """The fancy index that makes ``x[idx] == take_along_axis(x, indices, axis)``."""
    indices = xp.asarray(raw(indices))
    shape = indices.shape
    grid = []
    for d in range(ndim):
        if d == axis:
            grid.append(indices)
        else:
            r = [1] * ndim
            r[d] = shape[d]
            grid.append(xp.arange(shape[d]).reshape(r))
    return tuple(grid)


def take_along_axis(x, indices, axis: int):
    """NumPy's take_along_axis (PyTorch's gather with ``dim=axis``)."""
    nd = len(x.shape)
    return getitem_p(x, index=_along_axis_index(indices, axis % nd, nd))


def gather(x, dim: int, index):
    """PyTorch's ``gather(input, dim, index)``."""
    return take_along_axis(x, index, dim)


def index_select(x, axis: int, index):
    """Select entries along ``axis`` by an integer index vector (repeats allowed)."""
    nd = len(x.shape)
    idx = xp.asarray(raw(index))
    return getitem_p(x, index=(slice(None),) * (axis % nd) + (idx,))


def scatter_add(x, dim: int, index, src):
    """PyTorch's ``x.scatter_add(dim, index, src)``: out = x, then out[index] += src."""
    nd = len(x.shape)
    idx = _along_axis_index(index, dim % nd, nd)
    return x + scatter_p(src, index=idx, shape=tuple(x.shape))


# ---- index_put: x[index] = values, out of place (Tensor.__setitem__ records it) ----

def _index_put_impl(x, values, index):
    out = x.copy()
    out[index] = values
    return out


def _index_put_vjp_values(g, out, x, values, index):
    from .shape import reshape, sum_to
    vshape = tuple(getattr(raw(values), "shape", ()))
    gsel = getitem_p(g, index=index)
    extra = len(vshape) - len(raw(gsel).shape)
    if extra > 0:  # values may carry leading 1s that the assignment drops (as NumPy)
        gsel = reshape(gsel, (1,) * extra + tuple(raw(gsel).shape))
    return sum_to(gsel, vshape)


def _index_put_jvp_values(t, out, x, values, index):
    from .shape import _zeros_like
    return index_put_p(_zeros_like(out), t, index=index)


index_put_p = Primitive("index_put", _index_put_impl, FAMILY,
                        doc="a copy of x with values (broadcast) written at index")
index_put_p.defvjp(
    lambda g, out, x, values, index: index_put_p(g, 0, index=index),
    _index_put_vjp_values,
).defjvp(
    lambda t, out, x, values, index: index_put_p(t, 0, index=index),
    _index_put_jvp_values,
)


def index_put(x, index, values):
    """``x`` with ``values`` written at ``index`` (ints, slices, integer arrays, a boolean
    mask), out of place; PyTorch's ``index_put`` (without ``accumulate``). Gradients: to
    ``x``, ``g`` with the written positions zeroed; to ``values``, ``g`` at the positions,
    summed to ``values``' shape.

    >>> import graphgrad as gg
    >>> x = gg.tensor([1.0, -2.0, 3.0])
    >>> index_put(x, x < 0, 0.0).tolist()
    [1.0, 0.0, 3.0]
    """
    return index_put_p(x, values, index=_clean_index(index))
