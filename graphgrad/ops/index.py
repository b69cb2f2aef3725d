"""Indexing primitives: ``getitem`` and its adjoint, a scatter-add into zeros.

Advanced indices may repeat; the scatter accumulates (``np.add.at``), so repeated
indices sum their gradients. take_along_axis, gather, index_select and scatter_add are
composites over these two.
"""

from __future__ import annotations

import numbers

from ..core.backend import array_module, is_array, xp
from ..core.errors import fmt_shape, shape_of
from ..core.primitive import Primitive
from ._util import raw


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


def _getitem_diagnosis(prim, args, params):
    shape = shape_of(args[0])
    index = params.get("index")
    if shape is None or index is None:
        return None
    idx = index if isinstance(index, tuple) else (index,)
    axis = 0
    for pos, i in enumerate(idx):
        if i is None:
            continue
        if i is Ellipsis:  # the remaining indices address the last axes
            axis = len(shape) - sum(1 for j in idx[pos + 1:] if j is not None)
            continue
        if axis >= len(shape):
            return (f"{fmt_shape(shape)}[{_index_str(index)}]: too many indices for a tensor of "
                    f"{len(shape)} dimensions")
        size = shape[axis]
        if isinstance(i, numbers.Integral) and not isinstance(i, bool):
            if not -size <= i < size:
                return (f"{fmt_shape(shape)}[{_index_str(index)}]: index {int(i)} is out of range "
                        f"for axis {axis} of size {size}")
        elif is_array(i) and i.dtype.kind in "iu" and i.size:
            lo, hi = int(i.min()), int(i.max())
            bad = hi if hi >= size else lo
            if hi >= size or lo < -size:
                return (f"{fmt_shape(shape)}[{_index_str(index)}]: index {bad} is out of range "
                        f"for axis {axis} of size {size}")
        axis += 1
    return None


def _index_str(index) -> str:
    idx = index if isinstance(index, tuple) else (index,)
    parts = []
    for i in idx:
        if isinstance(i, slice):
            parts.append(":".join("" if v is None else str(v)
                                  for v in (i.start, i.stop, i.step)).rstrip(":") or ":")
        elif i is Ellipsis:
            parts.append("...")
        elif is_array(i):
            parts.append(f"<{i.dtype} array {i.shape}>")
        else:
            parts.append(repr(i))
    return ", ".join(parts)


getitem_p = Primitive("getitem", _getitem_impl, doc="x[index]")
scatter_p = Primitive("scatter_index", _scatter_impl,
                      doc="zeros(shape) with g added at index (repeats accumulate)")

getitem_p.defvjp(
    lambda g, out, x, index: scatter_p(g, index=index, shape=tuple(x.shape)),
).deflinear().defcodegen(
    lambda em, a, p: f"{a[0]}[{em.index(p['index'])}]",
).defdiagnose(_getitem_diagnosis)

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


index_put_p = Primitive("index_put", _index_put_impl,
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
