"""Shape primitives (reshape, broadcast_to, transpose, concatenate, pad, flip) and the
composites built on them (squeeze, unsqueeze, flatten, stack, split, repeat, tile)."""

from __future__ import annotations

import math
import operator

from ..core.backend import array_module
from ..core.errors import ShapeError, fmt_shape, shape_of
from ..core.primitive import Primitive
from ._simplify import Rewrite, made_by, same, unchanged
from ._util import normalize_axis, pick, raw


def _shape_of(x) -> tuple:
    return tuple(getattr(x, "shape", ()))


def sum_to(g, shape: tuple):
    """Sum ``g`` down to ``shape``: the inverse of broadcasting (used by the engine)."""
    gshape = _shape_of(g)
    shape = tuple(shape)
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1)
    from .reduce import sum as _sum
    if axes:
        g = _sum(g, axis=axes, keepdims=False)
    if _shape_of(g) != shape:
        g = reshape(g, shape=shape)
    return g


# ---- primitives ----
def _reshape_impl(x, shape):
    return array_module(x).reshape(x, shape)


def _reshape_diagnosis(prim, args, params):
    src = shape_of(args[0])
    dst = params.get("shape")
    if src is None or dst is None:
        return None
    n_src = math.prod(src)
    n_dst = math.prod(d for d in dst if d != -1)
    return (f"cannot reshape {fmt_shape(src)} ({n_src} elements) into {tuple(dst)} "
            f"({n_dst} elements)")


def _reshape_of_reshape(out, x, shape):
    inner = made_by(x, reshape_p)
    return Rewrite(reshape_p, (inner.inputs[0],), {"shape": shape}) if inner else None


reshape_p = Primitive("reshape", _reshape_impl, doc="Same data, new shape.").defvjp(
    lambda g, out, x, shape: reshape_p(g, shape=_shape_of(x)),
).deflinear().defcodegen(
    lambda em, a, p: f"np.reshape({a[0]}, {em.lit(tuple(p['shape']))})",
).defsimplify(unchanged).defsimplify(_reshape_of_reshape).defdiagnose(_reshape_diagnosis)


def _broadcast_impl(x, shape):
    return array_module(x).broadcast_to(x, shape)


broadcast_to_p = Primitive("broadcast_to", _broadcast_impl, doc="Broadcast to a shape.").defvjp(
    lambda g, out, x, shape: sum_to(g, _shape_of(x)),
).deflinear().defcodegen(
    lambda em, a, p: f"np.broadcast_to({a[0]}, {em.lit(tuple(p['shape']))})",
).defsimplify(unchanged)


def _transpose_impl(x, axes):
    return array_module(x).transpose(x, axes)


def _inverse_perm(axes):
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a] = i
    return tuple(inv)


def _transpose_source(em, a, p):
    axes = tuple(p["axes"])
    if axes == tuple(reversed(range(len(axes)))):
        return f"{a[0]}.T"
    return f"np.transpose({a[0]}, {em.lit(axes)})"


def _transpose_simplify(out, x, axes):
    """No permutation at all; a transpose of a transpose is one transpose (or none)."""
    if tuple(axes) == tuple(range(len(axes))) and same(out, x):
        return x
    inner = made_by(x, transpose_p)
    if inner is None:
        return None
    composed = tuple(inner.params["axes"][i] for i in axes)
    return Rewrite(transpose_p, (inner.inputs[0],), {"axes": composed})


transpose_p = Primitive("transpose", _transpose_impl, doc="Permute the axes.").defvjp(
    lambda g, out, x, axes: transpose_p(g, axes=_inverse_perm(axes)),
).deflinear().defcodegen(_transpose_source).defsimplify(_transpose_simplify)


def _concat_impl(*xs, axis):
    return array_module(*xs).concatenate(xs, axis=axis)


def _concat_vjp(i, g, out, *xs, axis):
    start = sum(_shape_of(x)[axis] for x in xs[:i])
    stop = start + _shape_of(xs[i])[axis]
    index = (slice(None),) * axis + (slice(start, stop),)
    from .index import getitem_p
    return getitem_p(g, index=index)


def _concat_jvp(tangents, out, *xs, axis):
    parts = [t if t is not None else _zeros_like(x) for t, x in zip(tangents, xs)]
    return concatenate_p(*parts, axis=axis)


def _zeros_like(x):
    data = raw(x)
    return array_module(data).zeros(_shape_of(data), dtype=getattr(data, "dtype", None))


def _concat_diagnosis(prim, args, params):
    axis = params.get("axis", 0)
    shapes = [shape_of(a) for a in args]
    head = "[" + ", ".join(fmt_shape(s) for s in shapes) + f"] along axis {axis}"
    nds = {len(s or ()) for s in shapes}
    if len(nds) > 1:
        return f"{head}: all tensors need the same number of dimensions, got {sorted(nds)}"
    nd = nds.pop()
    if not -max(nd, 1) <= axis < max(nd, 1) or nd == 0:
        return f"{head}: axis {axis} is out of range for tensors of {nd} dimensions"
    first = shapes[0]
    for i, s in enumerate(shapes[1:], 1):
        for d in range(nd):
            if d != axis % nd and s[d] != first[d]:
                return (f"{head}: tensor {i} has size {s[d]} in dimension {d} but tensor 0 "
                        f"has {first[d]} (all dimensions except the axis must match)")
    return None


concatenate_p = Primitive("concatenate", _concat_impl, doc="Join tensors along an existing axis.")
concatenate_p.defvjp_argnum(_concat_vjp).defjvp_joint(_concat_jvp).defcodegen(
    lambda em, a, p: f"np.concatenate(({', '.join(a)},), axis={em.lit(p['axis'])})",
    fresh=True).defdiagnose(_concat_diagnosis)


def _pad_impl(x, pad_width, value=0.0):
    return array_module(x).pad(x, pad_width, mode="constant", constant_values=value)


def _unpad(g, pad_width):
    from .index import getitem_p
    shape = _shape_of(g)
    index = tuple(slice(lo, shape[i] - hi) for i, (lo, hi) in enumerate(pad_width))
    return getitem_p(g, index=index)


pad_p = Primitive("pad", _pad_impl, doc="Pad with a constant value.").defvjp(
    lambda g, out, x, pad_width, value=0.0: _unpad(g, pad_width),
).defjvp(
    lambda t, out, x, pad_width, value=0.0: pad_p(t, pad_width=pad_width, value=0.0),
)


def _flip_impl(x, axis):
    return array_module(x).flip(x, axis)


flip_p = Primitive("flip", _flip_impl, doc="Reverse the order of elements along axes.").defvjp(
    lambda g, out, x, axis: flip_p(g, axis=axis),
).deflinear().defcodegen(lambda em, a, p: f"np.flip({a[0]}, {em.axis(p['axis'])})")


# ---- public functions ----
def _norm_shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(operator.index(s) for s in shape)


def reshape(x, *shape, **kw):
    """``reshape(x, (2, 3))`` or ``reshape(x, 2, 3)``; one entry may be -1."""
    if "shape" in kw:
        shape = (kw.pop("shape"),)
    shape = _norm_shape(shape)
    xshape = _shape_of(x)
    if -1 in shape:  # resolve -1 here so the recorded shape is concrete
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        total = 1
        for s in xshape:
            total *= s
        if known == 0 or total % known:
            raise ShapeError(f"reshape: cannot reshape {xshape} ({total} elements) into "
                             f"{shape}: {total} is not a multiple of {known}")
        shape = tuple(total // known if s == -1 else s for s in shape)
    if shape == xshape:
        return x
    return reshape_p(x, shape=shape)


def broadcast_to(x, shape):
    shape = tuple(shape)
    if _shape_of(x) == shape:
        return x
    return broadcast_to_p(x, shape=shape)


def transpose(input, axes=None, dim1=None, *, dim0=None):
    """Permute axes (reverse them when ``axes`` is None, as NumPy), or swap two of them as
    PyTorch: ``transpose(x, 0, 1)`` / ``transpose(x, dim0=0, dim1=1)``.

    >>> import graphgrad as gg
    >>> gg.transpose(gg.zeros(2, 3, 4), 0, 2).shape, gg.transpose(gg.zeros(2, 3, 4)).shape
    ((4, 3, 2), (4, 3, 2))
    """
    if dim0 is not None or dim1 is not None:
        dim0 = pick("transpose", axes, dim0, ("axes", "dim0"))
        if dim0 is None or dim1 is None:
            raise TypeError("transpose: swapping two axes needs both dim0 and dim1, got "
                            f"dim0={dim0!r}, dim1={dim1!r}")
        return swapaxes(input, dim0, dim1)
    x = input
    nd = len(_shape_of(x))
    axes = tuple(reversed(range(nd))) if axes is None else tuple(a % nd for a in axes)
    if axes == tuple(range(nd)):
        return x
    return transpose_p(x, axes=axes)


def permute(x, *axes):
    return transpose(x, _norm_shape(axes))


def swapaxes(input, axis0: int | None = None, axis1: int | None = None, *,
             dim0: int | None = None, dim1: int | None = None):
    """Swap two axes (PyTorch's ``swapaxes(x, axis0, axis1)`` / ``swapdims(x, dim0, dim1)``).

    >>> import graphgrad as gg
    >>> gg.swapaxes(gg.zeros(2, 3, 4), dim0=0, dim1=1).shape
    (3, 2, 4)
    """
    a = pick("swapaxes", axis0, dim0, ("axis0", "dim0"))
    b = pick("swapaxes", axis1, dim1, ("axis1", "dim1"))
    if a is None or b is None:
        raise TypeError(f"swapaxes: needs two axes, got {a!r} and {b!r}")
    x = input
    nd = len(_shape_of(x))
    axes = list(range(nd))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, tuple(axes))


def moveaxis(x, source: int, destination: int):
    nd = len(_shape_of(x))
    order = [i for i in range(nd) if i != source % nd]
    order.insert(destination % nd, source % nd)
    return transpose(x, tuple(order))


def squeeze(input, axis=None, *, dim=None):
    """Drop axes of length 1: all of them, or those of ``axis`` (an error, as NumPy, if one
    has another length; PyTorch's ``dim=`` leaves such an axis as it is).

    >>> import graphgrad as gg
    >>> gg.squeeze(gg.zeros(1, 3, 1)).shape, gg.squeeze(gg.zeros(2, 1), dim=0).shape
    ((3,), (2, 1))
    """
    x = input
    shape = _shape_of(x)
    if dim is not None:
        pick("squeeze", axis, dim)  # raises when both are given
        dims = normalize_axis(dim, len(shape), "squeeze") or ()
        return reshape(x, tuple(s for i, s in enumerate(shape) if i not in dims or s != 1))
    axes = normalize_axis(axis, len(shape), "squeeze")
    if axes is None:
        axes = tuple(i for i, s in enumerate(shape) if s == 1)
    for a in axes:
        if shape[a] != 1:
            raise ShapeError(f"squeeze: axis {a} of shape {shape} has size {shape[a]}, not 1")
    return reshape(x, tuple(s for i, s in enumerate(shape) if i not in axes))


def unsqueeze(input, axis: int | None = None, *, dim: int | None = None):
    """Insert an axis of length 1 at ``axis`` / ``dim``.

    >>> import graphgrad as gg
    >>> gg.unsqueeze(gg.zeros(2, 3), dim=-1).shape
    (2, 3, 1)
    """
    axis = pick("unsqueeze", axis, dim)
    if axis is None:
        raise TypeError("unsqueeze: missing the axis (axis= or dim=)")
    shape = list(_shape_of(input))
    if not -(len(shape) + 1) <= axis <= len(shape):
        raise ShapeError(f"unsqueeze: dim {axis} is out of range for a tensor of shape "
                         f"{tuple(shape)} (expected {-(len(shape) + 1)} to {len(shape)})")
    axis = axis % (len(shape) + 1)
    shape.insert(axis, 1)
    return reshape(input, tuple(shape))


expand_dims = unsqueeze


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    """Merge axes ``start_dim`` to ``end_dim`` into one, as PyTorch.

    >>> import graphgrad as gg
    >>> gg.flatten(gg.zeros(2, 3, 4), start_dim=1).shape
    (2, 12)
    """
    x = input
    shape = _shape_of(x)
    if not shape:
        return reshape(x, (1,))
    s, e = start_dim % len(shape), end_dim % len(shape)
    n = 1
    for d in shape[s:e + 1]:
        n *= d
    return reshape(x, shape[:s] + (n,) + shape[e + 1:])


def concatenate(tensors, axis: int | None = None, *, dim: int | None = None):
    """Join tensors along an existing ``axis`` / ``dim`` (0 by default).

    >>> import graphgrad as gg
    >>> gg.cat([gg.zeros(2, 3), gg.ones(2, 1)], dim=1).shape
    (2, 4)
    """
    axis = pick("concatenate", axis, dim)
    axis = 0 if axis is None else axis
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("concatenate: needs at least one tensor")
    nd = len(_shape_of(tensors[0]))
    return concatenate_p(*tensors, axis=axis % max(nd, 1))


cat = concatenate


def stack(tensors, axis: int | None = None, *, dim: int | None = None):
    """Join same-shaped tensors along a new ``axis`` / ``dim`` (0 by default).

    >>> import graphgrad as gg
    >>> gg.stack([gg.zeros(2, 3), gg.ones(2, 3)], dim=1).shape
    (2, 2, 3)
    """
    axis = pick("stack", axis, dim)
    axis = 0 if axis is None else axis
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("stack: needs at least one tensor")
    shapes = {_shape_of(t) for t in tensors}
    if len(shapes) != 1:
        got = ", ".join(str(_shape_of(t)) for t in tensors)
        raise ShapeError(f"stack: all tensors need the same shape, got [{got}]")
    return concatenate([unsqueeze(t, axis) for t in tensors], axis=axis)


def split(x, indices_or_sections, axis: int = 0):
    """NumPy's split: a number of equal sections, or the indices to split at."""
    from .index import getitem
    shape = _shape_of(x)
    axis = axis % len(shape)
    n = shape[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ShapeError(f"split: axis of size {n} does not divide into "
                             f"{indices_or_sections} equal sections")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step)) if step else [0] * (indices_or_sections + 1)
    else:
        bounds = [0] + list(indices_or_sections) + [n]
    lead = (slice(None),) * axis
    return [getitem(x, lead + (slice(a, b),)) for a, b in zip(bounds[:-1], bounds[1:])]


def pad(x, pad_width, value: float = 0.0):
    """Constant padding; ``pad_width`` as in NumPy (an int, a pair, or a pair per axis)."""
    nd = len(_shape_of(x))
    if isinstance(pad_width, int):
        pad_width = ((pad_width, pad_width),) * nd
    elif len(pad_width) == 2 and isinstance(pad_width[0], int):
        pad_width = (tuple(pad_width),) * nd
    pad_width = tuple((int(a), int(b)) for a, b in pad_width)
    return pad_p(x, pad_width=pad_width, value=value)


def flip(x, axis=None):
    nd = len(_shape_of(x))
    axes = normalize_axis(axis, nd, "flip")
    return flip_p(x, axis=axes if axes is not None else tuple(range(nd)))


def repeat(x, repeats: int, axis=None):
    """NumPy's repeat (PyTorch's repeat_interleave): each element ``repeats`` times."""
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    shape = _shape_of(x)
    axis = axis % len(shape)
    if not isinstance(repeats, int):
        from .index import index_select
        m = array_module(raw(x))  # the index lives where x does
        idx = m.repeat(m.arange(shape[axis]), m.asarray(raw(repeats)))
        return index_select(x, axis, idx)
    y = unsqueeze(x, axis + 1)
    y = broadcast_to(y, shape[:axis + 1] + (repeats,) + shape[axis + 1:])
    return reshape(y, shape[:axis] + (shape[axis] * repeats,) + shape[axis + 1:])


repeat_interleave = repeat


def tile(x, reps):
    """NumPy's tile (PyTorch's Tensor.repeat): the whole tensor ``reps`` times per axis."""
    if isinstance(reps, int):
        reps = (reps,)
    reps = tuple(reps)
    shape = _shape_of(x)
    nd = max(len(shape), len(reps))
    shape = (1,) * (nd - len(shape)) + shape
    reps = (1,) * (nd - len(reps)) + reps
    y = reshape(x, tuple(d for s in shape for d in (1, s)))
    y = broadcast_to(y, tuple(d for r, s in zip(reps, shape) for d in (r, s)))
    return reshape(y, tuple(r * s for r, s in zip(reps, shape)))
