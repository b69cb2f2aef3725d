"""Fused primitives for stability and speed: softmax, log_softmax, cross-entropy,
binary cross-entropy with logits; mse_loss as a composite.

cross_entropy's gradient is ``softmax(logits) - y`` computed directly (seed 004, 2.8.7),
never through log(softmax), so it stays finite for logits of +-1e4.
"""

from __future__ import annotations

import math

from ..core import primitive as _prim
from ..core.backend import array_module, xp
from ..core.errors import DTypeError, IndexOutOfRangeError, ShapeError
from ..core.primitive import Primitive
from ._util import pick, raw
from .elementwise import exp, sigmoid
from .reduce import mean, sum_p
from .shape import moveaxis, reshape_p


def _softmax_impl(x, axis):
    if x.shape[axis] == 0:  # an empty axis: nothing to normalise, as PyTorch (fuzzer)
        return x.copy()
    m = array_module(x)
    e = m.exp(x - m.max(x, axis=axis, keepdims=True))
    return e / m.sum(e, axis=axis, keepdims=True)


def _log_softmax_impl(x, axis):
    if x.shape[axis] == 0:  # as softmax
        return x.copy()
    m = array_module(x)
    s = x - m.max(x, axis=axis, keepdims=True)
    return s - m.log(m.sum(m.exp(s), axis=axis, keepdims=True))


softmax_p = Primitive("softmax", _softmax_impl, doc="exp(x) / sum(exp(x)) along an axis.").defvjp(
    lambda g, out, x, axis: out * (g - sum_p(g * out, axis=(axis,), keepdims=True)),
).defjvp(
    lambda t, out, x, axis: out * (t - sum_p(t * out, axis=(axis,), keepdims=True)),
).defcodegen(fresh=True)  # the forward copied in as a helper; its result is new

log_softmax_p = Primitive("log_softmax", _log_softmax_impl,
                          doc="x - logsumexp(x) along an axis.").defvjp(
    lambda g, out, x, axis: g - exp(out) * sum_p(g, axis=(axis,), keepdims=True),
).defjvp(
    lambda t, out, x, axis: t - sum_p(exp(out) * t, axis=(axis,), keepdims=True),
).defcodegen(fresh=True)


def _softmax_axis(op: str, x, axis, dim) -> int:
    axis = pick(op, axis, dim)
    return (-1 if axis is None else axis) % max(len(x.shape), 1)


def softmax(input, axis: int | None = None, *, dim: int | None = None):
    """exp(x) / sum(exp(x)) along ``axis`` / ``dim`` (the last one by default).

    >>> import graphgrad as gg
    >>> gg.softmax(gg.tensor([[0.0, 0.0]]), dim=1).tolist()
    [[0.5, 0.5]]
    """
    return softmax_p(input, axis=_softmax_axis("softmax", input, axis, dim))


def log_softmax(input, axis: int | None = None, *, dim: int | None = None):
    """log(softmax(x)) along ``axis`` / ``dim`` (the last one by default), stably.

    >>> import graphgrad as gg
    >>> round(gg.log_softmax(gg.tensor([0.0, 0.0]), dim=0)[0].item(), 4)
    -0.6931
    """
    return log_softmax_p(input, axis=_softmax_axis("log_softmax", input, axis, dim))


# ---- cross-entropy over the last axis (the public function moves PyTorch's class dim) ----
def _is_index_target(y) -> bool:
    return getattr(y, "dtype", xp.dtype("float32")).kind in "iu"


def _onehot(y, n, dtype):
    m = array_module(raw(y))  # the classes live where the targets do
    if isinstance(y, _prim.Tensor):  # recorded (create_graph, gg.compile): stays in the graph
        from .elementwise import astype, equal
        return astype(equal(m.arange(n), reshape_p(y, shape=tuple(y.shape) + (1,))),
                      dtype=xp.dtype(dtype))
    return (m.arange(n) == m.asarray(raw(y))[..., None]).astype(dtype)


def _reduce_loss(per, reduction):
    """The forward's reduction of per-element losses ('mean', 'sum' or 'none')."""
    if reduction == "mean":
        return array_module(per).mean(per)
    if reduction == "sum":
        return array_module(per).sum(per)
    return per


def _ce_impl(logits, target, reduction):
    m = array_module(logits, target)
    lsm = _log_softmax_impl(logits, -1)
    if _is_index_target(target):
        per = -m.take_along_axis(lsm, target[..., None].astype(xp.intp), axis=-1)[..., 0]
    else:
        per = -m.sum(target * lsm, axis=-1)
    return _reduce_loss(per, reduction)


def _ce_scale(g, logits, reduction):
    """The output cotangent, shaped to broadcast over the class axis."""
    if reduction == "none":
        return reshape_p(g, shape=tuple(g.shape) + (1,))
    if reduction == "mean":
        n = 1
        for s in logits.shape[:-1]:
            n *= s
        return g / max(n, 1)
    return g


def _ce_vjp_logits(g, out, logits, target, reduction):
    p = softmax_p(logits, axis=len(logits.shape) - 1)
    if _is_index_target(target):
        y = _onehot(target, logits.shape[-1], getattr(logits, "dtype", None))
        return (p - y) * _ce_scale(g, logits, reduction)
    total = sum_p(target, axis=(len(logits.shape) - 1,), keepdims=True)
    return (p * total - target) * _ce_scale(g, logits, reduction)


def _ce_vjp_target(g, out, logits, target, reduction):
    return -log_softmax_p(logits, axis=len(logits.shape) - 1) * _ce_scale(g, logits, reduction)


def _ce_jvp(tangents, out, logits, target, reduction):
    tl, tt = tangents
    last = len(logits.shape) - 1
    per = None
    if tl is not None:  # d(per-sample loss)/d logits, as in the VJP
        p = softmax_p(logits, axis=last)
        if _is_index_target(target):
            d = p - _onehot(target, logits.shape[-1], getattr(logits, "dtype", None))
        else:
            d = p * sum_p(target, axis=(last,), keepdims=True) - target
        per = sum_p(tl * d, axis=(last,), keepdims=False)
    if tt is not None:
        part = -sum_p(tt * log_softmax_p(logits, axis=last), axis=(last,), keepdims=False)
        per = part if per is None else per + part
    if reduction == "none":
        return per
    total = sum_p(per, axis=None, keepdims=False)
    return _ce_scale(total, logits, reduction)


cross_entropy_p = Primitive("cross_entropy", _ce_impl,
                            doc="Softmax cross-entropy over the last axis (fused, stable).")
cross_entropy_p.defvjp(_ce_vjp_logits, _ce_vjp_target).defjvp_joint(_ce_jvp)


def cross_entropy(logits, target, reduction: str = "mean"):
    """Softmax cross-entropy, as PyTorch's ``F.cross_entropy``.

    ``logits`` is (C,), (N, C) or (N, C, d1, ...) with the classes on axis 1 (axis 0 for
    1-D); ``target`` holds class indices (integers) or probabilities (same shape as
    logits). Gradient w.r.t. the logits: ``softmax(logits) - y`` (over N for 'mean').
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")
    nd = len(logits.shape)
    index_target = _is_index_target(target)
    user_l, user_t = tuple(logits.shape), tuple(getattr(target, "shape", ()))
    if getattr(logits, "dtype", xp.dtype("float32")).kind != "f":
        raise DTypeError(f"cross_entropy: logits {user_l} have dtype {logits.dtype}; they "
                         "must be floating point (convert with .float())")
    if nd == 0:
        raise ShapeError("cross_entropy: logits are a scalar; they need a class axis")
    if index_target and nd > 1 and user_t != user_l[:1] + user_l[2:]:
        raise ShapeError(f"cross_entropy: class-index target of shape {user_t} does not fit "
                         f"logits of shape {user_l} (expected {user_l[:1] + user_l[2:]})")
    if not index_target and user_t != user_l:
        raise ShapeError(f"cross_entropy: probability target of shape {user_t} must match "
                         f"logits of shape {user_l}")
    if index_target and getattr(raw(target), "size", 1):
        classes = user_l[1] if nd > 1 else user_l[0]
        t_raw = raw(target)
        t_raw = array_module(t_raw).asarray(t_raw)
        lo, hi = int(t_raw.min()), int(t_raw.max())  # reads the targets (a device syncs)
        if lo < 0 or hi >= classes:
            bad = lo if lo < 0 else hi
            raise IndexOutOfRangeError(
                f"cross_entropy: target holds class {bad}, out of range for logits "
                f"{user_l} with {classes} classes (classes are 0..{classes - 1})")
    if nd > 2:  # classes on axis 1, as PyTorch: move them last
        logits = moveaxis(logits, 1, -1)
        if not index_target:
            target = moveaxis(target, 1, -1)
    tshape = tuple(getattr(target, "shape", ()))
    lshape = tuple(logits.shape)
    if index_target and tshape != lshape[:-1]:
        raise ShapeError(f"cross_entropy: class-index target of shape {tshape} does not fit "
                         f"logits of shape {lshape} (expected {lshape[:-1]})")
    if not index_target and tshape != lshape:
        raise ShapeError(f"cross_entropy: probability target of shape {tshape} must match "
                         f"logits of shape {lshape}")
    return cross_entropy_p(logits, target, reduction=reduction)


# ---- binary cross-entropy with logits ----
def _bce_impl(x, y, reduction):
    # max(x, 0) - x * y, written so that an infinite logit gives inf, not inf - inf = nan
    # (PyTorch: inf at x = +inf; found by the fuzzer)
    m = array_module(x, y)
    per = (1 - y) * m.maximum(x, 0) + y * m.maximum(-x, 0) + m.log1p(m.exp(-m.abs(x)))
    return _reduce_loss(per, reduction)


def _bce_scale(g, x, reduction):
    if reduction == "mean":
        return g / max(math.prod(x.shape), 1)
    return g


bce_with_logits_p = Primitive("binary_cross_entropy_with_logits", _bce_impl,
                              doc="Sigmoid + binary cross-entropy, fused and stable.").defvjp(
    lambda g, out, x, y, reduction: (sigmoid(x) - y) * _bce_scale(g, x, reduction),
    lambda g, out, x, y, reduction: -x * _bce_scale(g, x, reduction),
).defjvp(
    lambda t, out, x, y, reduction: _bce_reduce(t * (sigmoid(x) - y), reduction),
    lambda t, out, x, y, reduction: _bce_reduce(-t * x, reduction),
)


def _bce_reduce(per, reduction):
    if reduction == "mean":
        return mean(per)
    if reduction == "sum":
        return sum_p(per, axis=None, keepdims=False)
    return per


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean"):
    """PyTorch's ``F.binary_cross_entropy_with_logits``: targets in [0, 1]."""
    if tuple(logits.shape) != tuple(getattr(target, "shape", ())):
        raise ShapeError(f"binary_cross_entropy_with_logits: logits {tuple(logits.shape)} and "
                         f"target {tuple(getattr(target, 'shape', ()))} differ in shape")
    return bce_with_logits_p(logits, target, reduction=reduction)


def mse_loss(pred, target, reduction: str = "mean"):
    """Mean (or summed) squared error."""
    d = pred - target
    if reduction == "mean":
        return mean(d * d)
    if reduction == "sum":
        from .reduce import sum as _sum
        return _sum(d * d)
    return d * d
