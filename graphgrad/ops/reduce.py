"""Reductions over ``axis`` (int, tuple or None) with ``keepdims``.

Each primitive takes a normalized ``axis`` (a sorted tuple, or None for all axes).
At ties, max/min split the gradient evenly among the tied elements, as PyTorch's amax.
"""

from __future__ import annotations

import builtins

from ..core import primitive as _prim
from ..core.backend import array_module, is_array, xp
from ..core.primitive import Primitive
from ..core.state import tracer
from ._simplify import Rewrite, same
from ._util import kept_shape, normalize_axis, reduced_size
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


# ---- public functions ----
def _nd(x) -> int:
    return len(getattr(x, "shape", ()))


def sum(x, axis=None, keepdims: bool = False):
    """Sum over ``axis`` (int, tuple or None for all)."""
    return sum_p(x, axis=normalize_axis(axis, _nd(x), "sum"), keepdims=keepdims)


def mean(x, axis=None, keepdims: bool = False):
    return mean_p(x, axis=normalize_axis(axis, _nd(x), "mean"), keepdims=keepdims)


def max(x, axis=None, keepdims: bool = False):
    """Max over ``axis`` (the reduction; for two tensors use ``maximum``)."""
    return amax_p(x, axis=normalize_axis(axis, _nd(x), "max"), keepdims=keepdims)


def min(x, axis=None, keepdims: bool = False):
    return amin_p(x, axis=normalize_axis(axis, _nd(x), "min"), keepdims=keepdims)


amax, amin = max, min


def prod(x, axis=None, keepdims: bool = False):
    return prod_p(x, axis=normalize_axis(axis, _nd(x), "prod"), keepdims=keepdims)


def logsumexp(x, axis=None, keepdims: bool = False):
    return logsumexp_p(x, axis=normalize_axis(axis, _nd(x), "logsumexp"), keepdims=keepdims)


def var(x, axis=None, correction: int = 1, keepdims: bool = False, ddof=None):
    """Variance; ``correction=1`` (unbiased) by default as PyTorch, ``ddof`` as NumPy."""
    if ddof is not None:
        correction = ddof
    ax = normalize_axis(axis, _nd(x), "var")
    n = reduced_size(tuple(x.shape), ax)
    d = x - mean_p(x, axis=ax, keepdims=True)
    return sum_p(d * d, axis=ax, keepdims=keepdims) / builtins.max(n - correction, 0)


def std(x, axis=None, correction: int = 1, keepdims: bool = False, ddof=None):
    """sqrt(var); where the variance is 0 the gradient is 0, not 0 * inf = nan (PyTorch's
    subgradient, as norm's at 0; found by the fuzzer)."""
    v = var(x, axis=axis, correction=correction, keepdims=keepdims, ddof=ddof)
    zero = _const(v) == 0
    return where(zero, 0.0, sqrt(where(zero, 1.0, v)))


def argmax(x, axis=None, keepdims: bool = False):
    return argmax_p(x, axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims: bool = False):
    return argmin_p(x, axis=axis, keepdims=keepdims)
