"""Reductions over ``axis`` (int, tuple or None) with ``keepdims``.

Each primitive takes a normalized ``axis`` (a sorted tuple, or None for all axes).
At ties, max/min split the gradient evenly among the tied elements, as PyTorch's amax.
"""

from __future__ import annotations

import builtins

from ..core import primitive as _prim
from ..core.backend import array_module, is_array, xp
from ..core.dtypes import MinMax
from ..core.primitive import Primitive
from ..core.state import tracer
from ._simplify import Rewrite, same
from ._util import keep, kept_shape, normalize_axis, pick, reduced_size
from ._util import raw as _raw
from .elementwise import exp, sqrt, where
from .shape import broadcast_to_p, reshape_p, transpose_p


def _expand(g, x, axis, keepdims):
    """Reshape a reduced ``g`` so it broadcasts against ``x`` (keepdims layout)."""
    if keepdims:
        return g
    kshape = kept_shape(tuple(x.shape), axis)
    return reshape_p(g, shape=kshape) if tuple(g.shape) != kshape else g


def _spread(g, x, axis, keepdims):
    """Broadcast a reduced ``g`` back to ``x``'s shape."""
    return broadcast_to_p(_expand(g, x, axis, keepdims), shape=tuple(x.shape))


def _reduce_source(fn: str):
    """Codegen of a reduction: ``np.sum(x, axis=1, keepdims=True)``."""
    def source(em, a, p):
        args = [a[0]]
        if p.get("axis") is not None:
            args.append(f"axis={em.axis(p['axis'])}")
        if p.get("keepdims"):
            args.append("keepdims=True")
        return f"{fn}({', '.join(args)})"
    return source


def _size1_axes(out, x, axis, keepdims):
    """A reduction over axes of size 1 changes no value: x itself, or a reshape."""
    shape = getattr(x, "shape", None)
    if not hasattr(x, "_node") or not shape or x.dtype.kind != "f":
        return None
    if not all(shape[i] == 1 for i in (range(len(shape)) if axis is None else axis)):
        return None
    if same(out, x):
        return x
    if out.dtype == x.dtype:
        return Rewrite(reshape_p, (x,), {"shape": tuple(out.shape)})
    return None


# ---- sum and mean ----
def _sum_impl(x, axis, keepdims):
    return array_module(x).sum(x, axis=axis, keepdims=keepdims)


sum_p = Primitive("sum", _sum_impl, doc="Sum over axes.").defvjp(
    lambda g, out, x, axis, keepdims: _spread(g, x, axis, keepdims),
).deflinear().defcodegen(_reduce_source("np.sum"), fresh=True).defsimplify(_size1_axes)


def _mean_impl(x, axis, keepdims):
    return array_module(x).mean(x, axis=axis, keepdims=keepdims)


mean_p = Primitive("mean", _mean_impl, doc="Mean over axes.").defvjp(
    lambda g, out, x, axis, keepdims:
        _spread(g, x, axis, keepdims) / reduced_size(tuple(x.shape), axis),
).deflinear().defcodegen(_reduce_source("np.mean"), fresh=True).defsimplify(_size1_axes)


# ---- max and min: ties share the gradient ----
def _tie_weights(x, out, axis, keepdims):
    mask = x == _expand(out, x, axis, True if keepdims else False)
    count = sum_p(mask, axis=axis, keepdims=True)
    return mask / count  # mask and count are constants, never differentiated


def _amax_impl(x, axis, keepdims):
    return array_module(x).max(x, axis=axis, keepdims=keepdims)


def _amin_impl(x, axis, keepdims):
    return array_module(x).min(x, axis=axis, keepdims=keepdims)


def _const(v):
    """The raw array of a value used as a constant; kept as a Tensor while gg.compile
    traces, so that the traced graph recomputes it instead of freezing it."""
    return v if tracer() is not None else _raw(v)


def _extreme_vjp(g, out, x, axis, keepdims):
    w = _tie_weights(_const(x), _const(out), axis, keepdims)
    return _expand(g, x, axis, keepdims) * w.astype(_raw(x).dtype)


def _extreme_jvp(t, out, x, axis, keepdims):
    w = _tie_weights(_const(x), _const(out), axis, keepdims).astype(_raw(x).dtype)
    return sum_p(t * w, axis=axis, keepdims=keepdims)


amax_p = Primitive("max", _amax_impl, doc="Max over axes; ties split the gradient evenly.")
amax_p.defvjp(_extreme_vjp).defjvp(_extreme_jvp)
amax_p.defcodegen(_reduce_source("np.max"), fresh=True).defsimplify(_size1_axes)
amin_p = Primitive("min", _amin_impl, doc="Min over axes; ties split the gradient evenly.")
amin_p.defvjp(_extreme_vjp).defjvp(_extreme_jvp)
amin_p.defcodegen(_reduce_source("np.min"), fresh=True).defsimplify(_size1_axes)


# ---- prod: exact at zeros ----
def _prod_impl(x, axis, keepdims):
    return array_module(x).prod(x, axis=axis, keepdims=keepdims)


def _prod_partials(x, out, axis, keepdims):
    """d prod / d x_i = the product of the other elements, differentiable again.

    Without zeros that is prod / x_i. With a zero in x, division would give 0/0, so each
    partial is an explicit product with x_i replaced by 1 (n x n per slice; zeros are rare).
    """
    if tracer() is None:  # traced: the general form
        rx = _raw(x)
        m = array_module(rx)
        if m is not xp and not isinstance(x, _prim.Tensor):
            return _exclusive_products(m, rx, axis)  # exact at zeros, no host sync
        if not m.any(rx == 0):
            return _expand(out, x, axis, keepdims) / x
    shape = tuple(x.shape)
    red = tuple(range(len(shape))) if axis is None else axis
    kept = tuple(d for d in range(len(shape)) if d not in red)
    n = reduced_size(shape, red)
    lead = tuple(shape[d] for d in kept)
    # reduced axes last, flattened to one axis of n; row i of the (n, n) block has x_i := 1
    xt = reshape_p(transpose_p(x, axes=kept + red), shape=lead + (1, n))
    eye = array_module(_raw(x)).eye(n, dtype=bool)
    others = prod_p(where(eye, 1.0, xt), axis=(len(lead) + 1,),
                    keepdims=False)
    back = reshape_p(others, shape=lead + tuple(shape[d] for d in red))
    inverse = tuple((kept + red).index(d) for d in range(len(shape)))
    return transpose_p(back, axes=inverse)


def _exclusive_products(m, x, axis):
    """The product of the other elements of each reduced slice, on raw arrays of module
    ``m``: prefix times suffix products, exact with zeros, with no data-dependent branch
    (a device would have to synchronise to test for zeros)."""
    shape = tuple(x.shape)
    red = tuple(range(len(shape))) if axis is None else axis
    kept = tuple(d for d in range(len(shape)) if d not in red)
    lead = tuple(shape[d] for d in kept)
    n = reduced_size(shape, red)
    if n == 0:  # empty slices: x has no elements to have partials
        return m.zeros(shape, dtype=x.dtype)
    xt = m.reshape(m.transpose(x, kept + red), lead + (n,))
    ones = m.ones(lead + (1,), dtype=x.dtype)
    before = m.cumprod(m.concatenate([ones, xt[..., :-1]], axis=-1), axis=-1)
    after = m.flip(m.cumprod(m.flip(m.concatenate([xt[..., 1:], ones], axis=-1), axis=-1),
                             axis=-1), axis=-1)
    back = m.reshape(before * after, lead + tuple(shape[d] for d in red))
    inverse = tuple((kept + red).index(d) for d in range(len(shape)))
    return m.transpose(back, inverse)


def _prod_vjp(g, out, x, axis, keepdims):
    grad = _expand(g, x, axis, keepdims) * _prod_partials(x, out, axis, keepdims)
    m = array_module(grad)
    if m is xp and (not is_array(grad) or m.isfinite(m.sum(g))):
        return grad  # recorded (a Tensor: a mask would cut the second derivative), or finite g
    # two or more zeros in a slice: every partial is exactly 0 and so is the gradient, even
    # under an inf or NaN cotangent (0 * inf = nan; PyTorch: 0 for a full product; fuzzer).
    # A device always masks: testing g first would synchronise with the host
    many = m.sum(x == 0, axis=axis, keepdims=True) >= 2
    return m.where(many, 0.0, grad)


prod_p = Primitive("prod", _prod_impl, doc="Product over axes (gradient exact with zeros).").defvjp(
    _prod_vjp,
).defjvp(
    lambda t, out, x, axis, keepdims:
        sum_p(t * _prod_partials(x, out, axis, keepdims), axis=axis, keepdims=keepdims),
).defcodegen(_reduce_source("np.prod"), fresh=True).defsimplify(_size1_axes)


# ---- logsumexp ----
def _logsumexp_impl(x, axis, keepdims):
    xm = array_module(x)
    if reduced_size(x.shape, axis) == 0:  # log of an empty sum: -inf, as PyTorch (fuzzer)
        return xm.full_like(xm.sum(x, axis=axis, keepdims=keepdims), -xp.inf)
    m = xm.max(x, axis=axis, keepdims=True)
    m = xm.where(xm.isfinite(m), m, 0)  # all -inf (or inf) slices: no shift
    s = xm.log(xm.sum(xm.exp(x - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return s
    return s.reshape(tuple(d for i, d in enumerate(x.shape) if axis is not None and i not in axis))


def _lse_weights(x, out, axis, keepdims):
    return exp(x - _expand(out, x, axis, keepdims))


logsumexp_p = Primitive("logsumexp", _logsumexp_impl,
                        doc="log(sum(exp(x))) without overflow.").defvjp(
    lambda g, out, x, axis, keepdims:
        _expand(g, x, axis, keepdims) * _lse_weights(x, out, axis, keepdims),
).defjvp(
    lambda t, out, x, axis, keepdims:
        sum_p(t * _lse_weights(x, out, axis, keepdims), axis=axis, keepdims=keepdims),
)

# ---- no gradient ----
def _argmax_impl(x, axis, keepdims):
    return array_module(x).argmax(x, axis=axis, keepdims=keepdims)


def _argmin_impl(x, axis, keepdims):
    return array_module(x).argmin(x, axis=axis, keepdims=keepdims)


argmax_p = Primitive("argmax", _argmax_impl, doc="Index of the max.", differentiable=False)
argmax_p.defcodegen(_reduce_source("np.argmax"))
argmin_p = Primitive("argmin", _argmin_impl, doc="Index of the min.", differentiable=False)
argmin_p.defcodegen(_reduce_source("np.argmin"))


# ---- public functions: NumPy's spellings (axis=, keepdims=) and PyTorch's (input=, dim=,
# keepdim=), so that code ported from either runs unchanged ----
def _nd(x) -> int:
    return len(getattr(x, "shape", ()))


def _axis(op: str, x, axis, dim):
    return normalize_axis(pick(op, axis, dim), _nd(x), op)


def sum(input, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Sum over ``axis`` / ``dim`` (int, tuple or None for all).

    >>> import graphgrad as gg
    >>> gg.sum(gg.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1, keepdim=True).tolist()
    [[3.0], [7.0]]
    """
    return sum_p(input, axis=_axis("sum", input, axis, dim),
                 keepdims=keep("sum", keepdims, keepdim))


def mean(input, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Mean over ``axis`` / ``dim``.

    >>> import graphgrad as gg
    >>> gg.mean(gg.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=0).tolist()
    [2.0, 3.0]
    """
    return mean_p(input, axis=_axis("mean", input, axis, dim),
                  keepdims=keep("mean", keepdims, keepdim))


def _extreme(op, prim, arg, input, axis, keepdims, dim, keepdim):
    if dim is not None:  # PyTorch's max(x, dim): the values and their indices
        if axis is not None:
            pick(op, axis, dim)  # raises: both spellings
        if isinstance(dim, (tuple, list)):
            raise TypeError(f"{op}: dim= takes one int (PyTorch's (values, indices) form); "
                            f"for several axes use axis={tuple(dim)} or amax/amin")
        k = keep(op, keepdims, keepdim)
        ax = normalize_axis(dim, _nd(input), op)
        return MinMax(prim(input, axis=ax, keepdims=k), arg(input, ax[0], k))
    return prim(input, axis=normalize_axis(axis, _nd(input), op),
                keepdims=keep(op, keepdims, keepdim))


def max(input, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Max over ``axis`` (the reduction; for two tensors use ``maximum``). With ``dim=``, as
    PyTorch: a ``(values, indices)`` pair.

    >>> import graphgrad as gg
    >>> x = gg.tensor([[1.0, 5.0], [7.0, 3.0]])
    >>> gg.max(x, axis=1).tolist(), gg.max(x, dim=1).indices.tolist()
    ([5.0, 7.0], [1, 0])
    """
    return _extreme("max", amax_p, argmax, input, axis, keepdims, dim, keepdim)


def min(input, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Min over ``axis``; with ``dim=``, as PyTorch: a ``(values, indices)`` pair.

    >>> import graphgrad as gg
    >>> gg.min(gg.tensor([[1.0, 5.0], [7.0, 3.0]]), dim=0).values.tolist()
    [1.0, 3.0]
    """
    return _extreme("min", amin_p, argmin, input, axis, keepdims, dim, keepdim)


def amax(input, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Max over ``axis`` / ``dim`` (values only, any number of axes).

    >>> import graphgrad as gg
    >>> gg.amax(gg.tensor([[1.0, 5.0], [7.0, 3.0]]), dim=(0, 1)).item()
    7.0
    """
    return amax_p(input, axis=_axis("amax", input, axis, dim),
                  keepdims=keep("amax", keepdims, keepdim))


def amin(input, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Min over ``axis`` / ``dim`` (values only, any number of axes).

    >>> import graphgrad as gg
    >>> gg.amin(gg.tensor([[1.0, 5.0], [7.0, 3.0]]), dim=1).tolist()
    [1.0, 3.0]
    """
    return amin_p(input, axis=_axis("amin", input, axis, dim),
                  keepdims=keep("amin", keepdims, keepdim))


def prod(input, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Product over ``axis`` / ``dim``.

    >>> import graphgrad as gg
    >>> gg.prod(gg.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1).tolist()
    [2.0, 12.0]
    """
    return prod_p(input, axis=_axis("prod", input, axis, dim),
                  keepdims=keep("prod", keepdims, keepdim))


def logsumexp(input, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """log(sum(exp(x))) over ``axis`` / ``dim``, without overflow.

    >>> import graphgrad as gg
    >>> round(gg.logsumexp(gg.tensor([0.0, 0.0]), dim=0).item(), 4)
    0.6931
    """
    return logsumexp_p(input, axis=_axis("logsumexp", input, axis, dim),
                       keepdims=keep("logsumexp", keepdims, keepdim))


def var(input, axis=None, correction: int = 1, keepdims: bool = False, ddof=None, *,
        dim=None, keepdim=None, unbiased=None):
    """Variance; ``correction=1`` (unbiased) by default as PyTorch, ``ddof`` as NumPy,
    ``unbiased=`` as older PyTorch.

    >>> import graphgrad as gg
    >>> gg.var(gg.tensor([[1.0, 3.0], [2.0, 2.0]]), dim=1).tolist()
    [2.0, 0.0]
    """
    if ddof is not None:
        correction = ddof
    if unbiased is not None:
        correction = 1 if unbiased else 0
    ax = _axis("var", input, axis, dim)
    n = reduced_size(tuple(input.shape), ax)
    d = input - mean_p(input, axis=ax, keepdims=True)
    return sum_p(d * d, axis=ax, keepdims=keep("var", keepdims, keepdim)) / builtins.max(
        n - correction, 0)


def std(input, axis=None, correction: int = 1, keepdims: bool = False, ddof=None, *,
        dim=None, keepdim=None, unbiased=None):
    """sqrt(var); where the variance is 0 the gradient is 0, not 0 * inf = nan (PyTorch's
    subgradient, as norm's at 0; found by the fuzzer).

    >>> import graphgrad as gg
    >>> gg.std(gg.tensor([[1.0, 3.0], [2.0, 2.0]]), dim=1, unbiased=False).tolist()
    [1.0, 0.0]
    """
    v = var(input, axis=axis, correction=correction, keepdims=keepdims, ddof=ddof, dim=dim,
            keepdim=keepdim, unbiased=unbiased)
    zero = _const(v) == 0
    return where(zero, 0.0, sqrt(where(zero, 1.0, v)))


def argmax(input, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Index of the max (of the flattened tensor when no axis is given).

    >>> import graphgrad as gg
    >>> gg.argmax(gg.tensor([[1.0, 5.0], [7.0, 3.0]]), dim=1).tolist()
    [1, 0]
    """
    return argmax_p(input, axis=pick("argmax", axis, dim),
                    keepdims=keep("argmax", keepdims, keepdim))


def argmin(input, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
    """Index of the min (of the flattened tensor when no axis is given).

    >>> import graphgrad as gg
    >>> gg.argmin(gg.tensor([[1.0, 5.0], [7.0, 3.0]]), dim=0).tolist()
    [0, 1]
    """
    return argmin_p(input, axis=pick("argmin", axis, dim),
                    keepdims=keep("argmin", keepdims, keepdim))
