"""The op table: one declaration per primitive and per public composite.

Each entry names what it covers (primitive names and public function names), the
graphgrad call, the NumPy reference forward, the PyTorch reference, the input
configurations (broadcasting pairs, size-1 and size-0 axes where the op allows, domain
constraints) and the parameters to vary. ``tests/test_ops.py`` turns every entry into
forward, finite-difference (order 2, forward and reverse mode) and PyTorch checks.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import zlib
from typing import Any, Callable

import numpy as np

import graphgrad as gg
from graphgrad.testing import OpTest

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - torch is a dev dependency
    torch = None
    TF = None


# ------------------------------------------------------------------ inputs ----

@dataclasses.dataclass(frozen=True)
class Arg:
    """How to make one input: a shape and a domain."""

    shape: tuple
    kind: str = "real"  # real, pos, away, distinct, zeros, prob, unit, int, bool, special
    high: int = 0  # for kind "int": values in [0, high)
    avoid: tuple = ()  # for kind "real": keep 0.05 away from these points (kinks)

    def make(self, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(self._make(rng))

    def _make(self, rng: np.random.Generator):
        shape, n = self.shape, int(np.prod(self.shape))
        if self.kind == "real":
            x = rng.uniform(-2.0, 2.0, shape)
            for p in self.avoid:
                x = np.where(np.abs(x - p) < 0.05, x + 0.1, x)
            return x
        if self.kind == "pos":  # for log, sqrt, div by, pow base
            return rng.uniform(0.5, 2.0, shape)
        if self.kind == "unit":  # log1p's domain, away from -1
            return rng.uniform(-0.5, 2.0, shape)
        if self.kind == "prob":  # probabilities in (0, 1)
            return rng.uniform(0.05, 0.95, shape)
        if self.kind == "away":  # |x| in [0.3, 2]: away from the kink at 0
            return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        if self.kind == "distinct":  # no ties, gaps >> finite-difference step
            return (rng.permutation(n) * 0.37 - 0.37 * n / 2).reshape(shape)
        if self.kind == "zeros":  # some exact zeros (prod's special cases)
            x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
            x.flat[:: max(n // 2, 1)] = 0.0
            return x
        if self.kind == "int":
            return rng.integers(0, self.high, shape)
        if self.kind == "bool":
            return rng.uniform(size=shape) < 0.5
        if self.kind == "special":  # nan, inf and ordinary numbers
            x = rng.uniform(-2.0, 2.0, shape)
            x.flat[::3] = np.nan
            x.flat[1::4] = np.inf
            return x
        raise ValueError(self.kind)

    def __repr__(self) -> str:
        s = "x".join(map(str, self.shape)) or "scalar"
        return s if self.kind in ("real", "pos", "unit", "prob", "away") else f"{self.kind}{s}"


def R(*shape, avoid=()):
    return Arg(shape, "real", avoid=tuple(avoid))


def P(*shape):
    return Arg(shape, "pos")


def Away(*shape):
    return Arg(shape, "away")


def D(*shape):
    return Arg(shape, "distinct")


def Idx(high, *shape):
    return Arg(shape, "int", high=high)


def B(*shape):
    return Arg(shape, "bool")


# ------------------------------------------------------------------ entries ----

@dataclasses.dataclass
class Entry:
    """One table row: an op (or composite), its references, inputs and parameters."""

    name: str
    covers: tuple  # primitive names and public function names checked by this entry
    fn: Callable[..., Any]  # fn(*inputs, **params) with graphgrad
    ref: Callable[..., Any] | None  # the same with NumPy
    torch: Callable[..., Any] | None  # the same with PyTorch (float64 tensors in)
    inputs: list  # input configurations: each a tuple of Args
    params: Any = dataclasses.field(default_factory=dict)  # {name: [values]} or [dicts]
    differentiable: bool = True
    order: int = 2
    atol: float = 1e-5
    rtol: float = 1e-4

    def param_sets(self) -> list[dict]:
        if isinstance(self.params, list):
            return self.params or [{}]
        keys = list(self.params)
        return [dict(zip(keys, vals)) for vals in itertools.product(*self.params.values())]

    def cases(self) -> list[tuple[str, OpTest]]:
        out = []
        for ci, cfg in enumerate(self.inputs):
            for params in self.param_sets():
                pid = ",".join(f"{k}={_short(v)}" for k, v in params.items())
                cid = f"{self.name}[{'|'.join(map(_short, cfg))}{';' + pid if pid else ''}]"
                seed = zlib.crc32(cid.encode())
                out.append((cid, OpTest(
                    cid, self.fn, lambda rng, cfg=cfg: tuple(_make(a, rng) for a in cfg),
                    self.ref, params, differentiable=self.differentiable, order=self.order,
                    atol=self.atol, rtol=self.rtol, seed=seed)))
        return out


def _make(a, rng):
    return a.make(rng) if isinstance(a, Arg) else a


def _short(v) -> str:
    if isinstance(v, np.ndarray):
        return v.dtype.kind + "[" + ",".join(map(str, v.ravel()[:4])) + "]"
    if isinstance(v, tuple) and any(isinstance(i, np.ndarray) for i in v):
        return "(" + ",".join(_short(i) for i in v) + ")"
    return repr(v).replace(" ", "")


# ---- small helpers for the references ----

def _tdims(x, axis):
    """graphgrad/NumPy axis (None, int, tuple) as a tuple of dims for PyTorch."""
    if axis is None:
        return tuple(range(x.ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _tprod(x, axis=None, keepdims=False):
    for d in sorted((a % max(x.ndim, 1) for a in _tdims(x, axis)), reverse=True):
        x = torch.prod(x, dim=d, keepdim=keepdims)
    return x


def _tidx(index):
    """A NumPy index with arrays turned into torch tensors."""
    if isinstance(index, tuple):
        return tuple(_tidx(i) for i in index)
    return torch.as_tensor(index) if isinstance(index, np.ndarray) else index


def _tgetitem(x, index):
    if isinstance(index, tuple) and isinstance(index[0], slice) and index[0].step == -1:
        # torch has no negative steps
        return torch.flip(x, (0,))
    return x[_tidx(index)]


def _np_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _np_log_softmax(x, axis):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _np_reduce(per, reduction):
    return {"mean": np.mean, "sum": np.sum}.get(reduction, lambda p: p)(per)


def _np_cross_entropy(logits, target, reduction="mean"):
    axis = 0 if logits.ndim == 1 else 1
    lsm = _np_log_softmax(logits, axis)
    if target.dtype.kind in "iu":
        per = -np.take_along_axis(lsm, np.expand_dims(target, axis), axis).squeeze(axis)
    else:
        per = -(target * lsm).sum(axis=axis)
    return _np_reduce(per, reduction)


def _np_bce(x, y, reduction="mean"):
    return _np_reduce(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))), reduction)


def _np_gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _np_erf(x / math.sqrt(2)))


def _split_sizes(n, sections):
    if isinstance(sections, int):
        return n // sections
    bounds = [0] + list(sections) + [n]
    return [b - a for a, b in zip(bounds[:-1], bounds[1:])]


def _torch_clamp(x, min, max):
    """torch.clamp with one bound a tensor takes no number for the other: make it one."""
    def bound(b):
        return torch.as_tensor(b, dtype=x.dtype) if isinstance(b, (int, float)) else b
    return torch.clamp(x, min=bound(min), max=bound(max))


def _torch_pad(pad_width):
    flat = []
    for lo, hi in reversed(pad_width):
        flat += [lo, hi]
    return tuple(flat)


# ---- input configurations shared by families ----
UNARY = [(R(2, 3),), (R(),), (R(1, 4),), (R(2, 0, 3),)]
BINARY = [(R(2, 3), R(2, 3)), (R(3, 1), R(1, 4)), (R(2, 3), R()), (R(4,), R(2, 1, 4)),
          (R(0, 3), R(1, 3))]
RED_SHAPES = [(R(2, 3, 2),), (R(2, 1, 3),)]
AXES = {"axis": [None, 1, -1, (0, 2)], "keepdims": [False, True]}


def unary(name, fn, ref, tfn, kind="real", cfgs=None, **kw) -> Entry:
    make = {"real": R, "pos": P, "away": Away,
            "unit": lambda *s: Arg(s, "unit")}[kind]
    cfgs = cfgs or [tuple(make(*a.shape) for a in c) for c in UNARY]
    return Entry(name, (name,), fn, ref, tfn, cfgs, **kw)


def binary(name, fn, ref, tfn, cfgs=None, **kw) -> Entry:
    return Entry(name, (name,), fn, ref, tfn, cfgs or BINARY, **kw)


def comparison(name, fn, ref, tfn, cfgs=None) -> Entry:
    return Entry(name, (name,), fn, ref, tfn, cfgs or BINARY[:4], differentiable=False)


ENTRIES: list[Entry] = [
    # ------------------------------------------------------------ elementwise ----
    binary("add", gg.add, np.add, torch.add if torch else None),
    binary("sub", gg.sub, np.subtract, torch.sub if torch else None),
    binary("mul", gg.mul, np.multiply, torch.mul if torch else None),
    binary("div", gg.div, np.divide, torch.div if torch else None,
           cfgs=[(R(2, 3), Away(2, 3)), (R(3, 1), Away(1, 4)), (R(2, 3), Away()),
                 (R(0, 3), Away(1, 3))]),
    unary("neg", gg.neg, np.negative, torch.neg if torch else None),
    binary("pow", gg.pow, np.power, torch.pow if torch else None,
           cfgs=[(P(2, 3), R(2, 3)), (P(3, 1), R(1, 4)), (P(2, 3), R()), (P(0, 3), R(1, 3))]),
    Entry("pow[integer exponent]", ("pow",), lambda x, k: x ** k, lambda x, k: x ** k,
          lambda x, k: x ** k, [(R(2, 3),), (R(),)], {"k": [2, 3, -1]}),
    unary("exp", gg.exp, np.exp, torch.exp if torch else None),
    unary("log", gg.log, np.log, torch.log if torch else None, kind="pos"),
    unary("log1p", gg.log1p, np.log1p, torch.log1p if torch else None, kind="unit"),
    unary("sqrt", gg.sqrt, np.sqrt, torch.sqrt if torch else None, kind="pos"),
    unary("sin", gg.sin, np.sin, torch.sin if torch else None),
    unary("cos", gg.cos, np.cos, torch.cos if torch else None),
    unary("tanh", gg.tanh, np.tanh, torch.tanh if torch else None),
    unary("sigmoid", gg.sigmoid, lambda x: 1 / (1 + np.exp(-x)),
          torch.sigmoid if torch else None,
          cfgs=[(R(2, 3),), (R(),), (Arg((2, 0), "real"),)]),
    unary("erf", gg.erf, _np_erf, torch.erf if torch else None),
    unary("abs", gg.abs, np.abs, torch.abs if torch else None, kind="away"),
    unary("sign", gg.sign, np.sign, torch.sign if torch else None, kind="away"),
    unary("relu", gg.relu, lambda x: np.maximum(x, 0), torch.relu if torch else None,
          kind="away"),
    Entry("leaky_relu", ("leaky_relu",), gg.leaky_relu,
          lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
          TF.leaky_relu if TF else None, [(Away(2, 3),), (Away(),)],
          {"negative_slope": [0.01, 0.2]}),
    unary("softplus", gg.softplus, lambda x: np.log1p(np.exp(x)),
          TF.softplus if TF else None),
    binary("maximum", gg.maximum, np.maximum, torch.maximum if torch else None),
    binary("minimum", gg.minimum, np.minimum, torch.minimum if torch else None),
    Entry("where", ("where",), gg.where, np.where, torch.where if torch else None,
          [(B(2, 3), R(2, 3), R(2, 3)), (B(2, 3), R(1, 3), R(2, 1)),
           (B(2, 3), R(2, 3), R()), (B(1, 3), R(2, 1), R(2, 3)), (B(0, 3), R(0, 3), R(1, 3))]),
    Entry("clip", ("clip", "clamp"), gg.clip, np.clip,
          lambda x, min, max: torch.clamp(x, min=min, max=max),
          [(R(2, 3, avoid=(-0.5, 0.7)),), (R(0, 2),)],
          [{"min": -0.5, "max": 0.7}, {"min": None, "max": 0.7}, {"min": -0.5, "max": None}]),
    Entry("clip[tensor bounds]", ("clip", "clamp"), gg.clamp, np.clip, _torch_clamp,
          [(R(2, 3), R(2, 3), R(2, 3)), (R(2, 3), R(1, 3), R(2, 1)), (R(3, 4), R(1, 4), R()),
           (R(2, 3), R(2, 3), None), (R(2, 3), None, R(3)), (R(2, 3), -0.5, R(2, 3)),
           (R(0, 3), R(1, 3), R(0, 1))]),
    binary("atan2", gg.atan2, np.arctan2, torch.atan2 if torch else None,
           cfgs=[(R(2, 3), Away(2, 3)), (R(3, 1), Away(1, 4)), (Away(2, 3), R()),
                 (R(0, 3), Away(1, 3))]),
    binary("logaddexp", gg.logaddexp, np.logaddexp, torch.logaddexp if torch else None),
    binary("hypot", gg.hypot, np.hypot, torch.hypot if torch else None,
           cfgs=[(Away(2, 3), R(2, 3)), (Away(3, 1), R(1, 4)), (R(2, 3), Away()),
                 (Away(0, 3), R(1, 3))]),
    unary("identity", gg.identity, lambda x: x.copy(),
          (lambda x: x.clone()) if torch else None),
    Entry("astype", ("astype",), lambda x: gg.astype(x, dtype=gg.float64),
          lambda x: x.astype(np.float64), lambda x: x.to(torch.float64),
          [(R(2, 3),), (R(),)]),
    Entry("square", ("square",), gg.square, np.square, torch.square if torch else None,
          UNARY[:3]),
    Entry("gelu", ("gelu",), gg.gelu, _np_gelu, TF.gelu if TF else None,
          [(R(2, 3),), (R(),)], {"approximate": ["none", "tanh"]}),
    # comparisons and logic: forward only, no gradient
    comparison("less", gg.less, np.less, torch.lt if torch else None),
    comparison("less_equal", gg.less_equal, np.less_equal, torch.le if torch else None),
    comparison("greater", gg.greater, np.greater, torch.gt if torch else None),
    comparison("greater_equal", gg.greater_equal, np.greater_equal,
               torch.ge if torch else None),
    comparison("equal", gg.equal, np.equal, torch.eq if torch else None,
               cfgs=[(Idx(3, 2, 3), Idx(3, 2, 3)), (Idx(2, 3, 1), Idx(2, 1, 4))]),
    comparison("not_equal", gg.not_equal, np.not_equal, torch.ne if torch else None,
               cfgs=[(Idx(3, 2, 3), Idx(3, 2, 3)), (Idx(2, 3, 1), Idx(2, 1, 4))]),
    comparison("logical_and", gg.logical_and, np.logical_and,
               torch.logical_and if torch else None, cfgs=[(B(2, 3), B(2, 3)), (B(3, 1), B(4))]),
    comparison("logical_or", gg.logical_or, np.logical_or,
               torch.logical_or if torch else None, cfgs=[(B(2, 3), B(2, 3)), (B(3, 1), B(4))]),
    comparison("logical_not", gg.logical_not, np.logical_not,
               torch.logical_not if torch else None, cfgs=[(B(2, 3),), (B(0,),)]),
    comparison("isnan", gg.isnan, np.isnan, torch.isnan if torch else None,
               cfgs=[(Arg((3, 4), "special"),)]),
    comparison("isfinite", gg.isfinite, np.isfinite, torch.isfinite if torch else None,
               cfgs=[(Arg((3, 4), "special"),)]),
    # ------------------------------------------------------------ reductions ----
    Entry("sum", ("sum",), gg.sum, np.sum,
          lambda x, axis, keepdims: torch.sum(x, dim=_tdims(x, axis), keepdim=keepdims),
          RED_SHAPES + [(R(2, 0, 3),)], AXES),
    Entry("mean", ("mean",), gg.mean, np.mean,
          lambda x, axis, keepdims: torch.mean(x, dim=_tdims(x, axis), keepdim=keepdims),
          RED_SHAPES, AXES),
    Entry("mean[size-0 kept axis]", ("mean",), gg.mean, np.mean,
          lambda x, axis, keepdims: torch.mean(x, dim=_tdims(x, axis), keepdim=keepdims),
          [(R(0, 3),)], {"axis": [1], "keepdims": [False, True]}),
    Entry("max", ("max", "amax"), gg.max, np.max,
          lambda x, axis, keepdims: torch.amax(x, dim=_tdims(x, axis), keepdim=keepdims),
          [(D(2, 3, 2),), (D(2, 1, 3),)], AXES),
    Entry("min", ("min", "amin"), gg.min, np.min,
          lambda x, axis, keepdims: torch.amin(x, dim=_tdims(x, axis), keepdim=keepdims),
          [(D(2, 3, 2),), (D(2, 1, 3),)], AXES),
    Entry("max[size-0 kept axis]", ("max",), gg.max, np.max,
          lambda x, axis, keepdims: torch.amax(x, dim=axis, keepdim=keepdims),
          [(R(0, 3),)], {"axis": [1], "keepdims": [False, True]}),
    Entry("prod", ("prod",), gg.prod, np.prod, _tprod,
          [(Away(2, 3, 2),), (Arg((2, 1, 3), "zeros"),), (Arg((2, 3, 2), "zeros"),),
           (R(2, 0, 3),)], AXES),
    Entry("logsumexp", ("logsumexp",), gg.logsumexp,
          lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
          lambda x, axis, keepdims: torch.logsumexp(x, dim=_tdims(x, axis), keepdim=keepdims),
          RED_SHAPES, AXES),
    Entry("argmax", ("argmax",), gg.argmax, np.argmax,
          lambda x, axis, keepdims: torch.argmax(x, dim=axis, keepdim=keepdims),
          [(D(2, 3, 2),), (D(1, 4),)], {"axis": [None, 0, -1], "keepdims": [False, True]},
          differentiable=False),
    Entry("argmin", ("argmin",), gg.argmin, np.argmin,
          lambda x, axis, keepdims: torch.argmin(x, dim=axis, keepdim=keepdims),
          [(D(2, 3, 2),), (D(1, 4),)], {"axis": [None, 0, -1], "keepdims": [False, True]},
          differentiable=False),
    Entry("var", ("var",), gg.var,
          lambda x, axis, correction, keepdims: np.var(x, axis=axis, ddof=correction,
                                                       keepdims=keepdims),
          lambda x, axis, correction, keepdims: torch.var(
              x, dim=_tdims(x, axis), correction=correction, keepdim=keepdims),
          [(R(3, 2, 2),)], {"axis": [None, 0, (0, 2)], "correction": [0, 1],
                            "keepdims": [False, True]}),
    Entry("std", ("std",), gg.std,
          lambda x, axis, correction, keepdims: np.std(x, axis=axis, ddof=correction,
                                                       keepdims=keepdims),
          lambda x, axis, correction, keepdims: torch.std(
              x, dim=_tdims(x, axis), correction=correction, keepdim=keepdims),
          [(R(3, 2, 2),)], {"axis": [None, 0, (0, 2)], "correction": [0, 1],
                            "keepdims": [False, True]}),
    # -------------------------------------------------------- linear algebra ----
    Entry("matmul", ("matmul",), gg.matmul, np.matmul, torch.matmul if torch else None,
          [(R(3,), R(3,)), (R(2, 3), R(3,)), (R(3,), R(3, 4)), (R(2, 3), R(3, 4)),
           (R(2, 2, 3), R(3, 4)), (R(2, 1, 2, 3), R(3, 3, 2)), (R(3,), R(2, 3, 2)),
           (R(2, 2, 3), R(3,)), (R(0, 3), R(3, 2)), (R(2, 0), R(0, 3))]),
    Entry("einsum", ("einsum",), lambda a, b, spec: gg.einsum(spec, a, b),
          lambda a, b, spec: np.einsum(spec, a, b),
          lambda a, b, spec: torch.einsum(spec, a, b),
          [(R(2, 3), R(3, 2))],
          {"spec": ["ij,jk->ik", "ij,jk", "ij,ki->j", "ij,jk->", "ij,kl->ijkl",
                    "ij,ji->", "...j,jk->...k"]}),
    Entry("einsum[batched]", ("einsum",), lambda a, b, spec: gg.einsum(spec, a, b),
          lambda a, b, spec: np.einsum(spec, a, b),
          lambda a, b, spec: torch.einsum(spec, a, b),
          [(R(2, 2, 3), R(2, 3, 2))], {"spec": ["bij,bjk->bik", "bij,bjk->kb"]}),
    Entry("einsum[one operand]", ("einsum",), lambda a, spec: gg.einsum(spec, a),
          lambda a, spec: np.einsum(spec, a), lambda a, spec: torch.einsum(spec, a),
          [(R(2, 3),)], {"spec": ["ij->j", "ij->ji", "ij->"]}),
    Entry("dot", ("dot",), gg.dot, np.dot, lambda a, b: torch.matmul(a, b),
          [(R(3,), R(3,)), (R(2, 3), R(3,)), (R(2, 3), R(3, 2))]),
    Entry("outer", ("outer",), gg.outer, np.outer, torch.outer if torch else None,
          [(R(3,), R(2,)), (R(0,), R(2,))]),
    Entry("norm", ("norm",), gg.norm,
          lambda x, axis, keepdims: np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)),
          lambda x, axis, keepdims: torch.linalg.vector_norm(x, dim=_tdims(x, axis),
                                                             keepdim=keepdims),
          [(R(2, 3),), (R(4,),)], {"axis": [None, 0, -1], "keepdims": [False, True]}),
    Entry("norm[frobenius]", ("norm",), lambda x: gg.norm(x, "fro"),
          lambda x: np.linalg.norm(x, "fro"), lambda x: torch.linalg.matrix_norm(x, "fro"),
          [(R(3, 2),)]),
    # ----------------------------------------------------------------- shape ----
    Entry("reshape", ("reshape",), gg.reshape, np.reshape,
          lambda x, shape: torch.reshape(x, shape),
          [(R(2, 3),)], {"shape": [(3, 2), (6,), (-1, 2), (1, 6, 1)]}),
    Entry("reshape[size-0]", ("reshape",), gg.reshape, np.reshape,
          lambda x, shape: torch.reshape(x, shape), [(R(0, 3),)], {"shape": [(3, 0)]}),
    Entry("broadcast_to", ("broadcast_to",), gg.broadcast_to, np.broadcast_to,
          torch.broadcast_to if torch else None,
          [(R(3, 1), (2, 3, 4)), (R(), (2, 2)), (R(1, 3), (0, 3))]),
    Entry("transpose", ("transpose",), gg.transpose, np.transpose,
          lambda x, axes: torch.permute(x, axes or tuple(reversed(range(x.ndim)))),
          [(R(2, 3, 2),)], {"axes": [None, (2, 0, 1), (0, 2, 1)]}),
    Entry("permute", ("permute",), gg.permute, lambda x, *a: np.transpose(x, a),
          lambda x, *a: torch.permute(x, a), [(R(2, 3, 2), 1, 2, 0)]),
    Entry("swapaxes", ("swapaxes",), gg.swapaxes, np.swapaxes,
          torch.swapaxes if torch else None, [(R(2, 3, 2), 0, 2), (R(2, 3), -1, -2)]),
    Entry("moveaxis", ("moveaxis",), gg.moveaxis, np.moveaxis,
          torch.moveaxis if torch else None, [(R(2, 3, 2), 0, -1), (R(2, 3, 2), 2, 0)]),
    Entry("concatenate", ("concatenate", "cat"), lambda a, b, c, axis: gg.concatenate(
              [a, b, c], axis), lambda a, b, c, axis: np.concatenate([a, b, c], axis),
          lambda a, b, c, axis: torch.cat([a, b, c], axis),
          [(R(2, 3), R(1, 3), R(0, 3))], {"axis": [0]}),
    Entry("concatenate[axis 1]", ("concatenate",), lambda a, b, axis: gg.concatenate(
              [a, b], axis), lambda a, b, axis: np.concatenate([a, b], axis),
          lambda a, b, axis: torch.cat([a, b], axis),
          [(R(2, 3), R(2, 1))], {"axis": [1, -1]}),
    Entry("stack", ("stack",), lambda a, b, c, axis: gg.stack([a, b, c], axis),
          lambda a, b, c, axis: np.stack([a, b, c], axis),
          lambda a, b, c, axis: torch.stack([a, b, c], axis),
          [(R(2, 3), R(2, 3), R(2, 3))], {"axis": [0, 1, -1]}),
    Entry("split", ("split",), gg.split, np.split,
          lambda x, indices_or_sections, axis: torch.split(
              x, _split_sizes(x.shape[axis], indices_or_sections), axis),
          [(R(6, 2),)], [{"indices_or_sections": 3, "axis": 0},
                         {"indices_or_sections": [1, 4], "axis": 0},
                         {"indices_or_sections": 2, "axis": 1}]),
    Entry("pad", ("pad",), gg.pad,
          lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value),
          lambda x, pad_width, value: TF.pad(x, _torch_pad(pad_width), value=value),
          [(R(2, 3),)], {"pad_width": [((1, 0), (2, 1)), ((0, 0), (0, 2))],
                         "value": [0.0, 1.5]}),
    Entry("flip", ("flip",), gg.flip, np.flip,
          lambda x, axis: torch.flip(x, _tdims(x, axis)),
          [(R(2, 3, 2),)], {"axis": [None, 0, (0, 2)]}),
    Entry("squeeze", ("squeeze",), gg.squeeze, np.squeeze,
          lambda x, axis: torch.squeeze(x, _tdims(x, axis)) if axis is not None
          else torch.squeeze(x), [(R(1, 3, 1),)], {"axis": [None, 0, (0, 2)]}),
    Entry("unsqueeze", ("unsqueeze", "expand_dims"), gg.unsqueeze, np.expand_dims,
          torch.unsqueeze if torch else None, [(R(2, 3),)], {"axis": [0, 1, -1]}),
    Entry("flatten", ("flatten",), gg.flatten,
          lambda x, start_dim, end_dim: x.reshape(
              x.shape[:start_dim] + (-1,) + x.shape[end_dim % x.ndim + 1:]),
          torch.flatten if torch else None,
          [(R(2, 3, 2),)], [{"start_dim": 0, "end_dim": -1}, {"start_dim": 1, "end_dim": 2},
                            {"start_dim": 0, "end_dim": 1}]),
    Entry("tile", ("tile",), gg.tile, np.tile,
          lambda x, reps: torch.tile(x, (reps,) if isinstance(reps, int) else reps),
          [(R(2, 3),)], {"reps": [2, (2, 1), (2, 1, 2)]}),
    Entry("repeat", ("repeat", "repeat_interleave"), gg.repeat, np.repeat,
          lambda x, repeats, axis: torch.repeat_interleave(x, _tidx(repeats), dim=axis),
          [(R(3, 2),)], [{"repeats": 2, "axis": 0}, {"repeats": 2, "axis": 1},
                         {"repeats": 2, "axis": None},
                         {"repeats": np.array([1, 0, 2]), "axis": 0}]),
    Entry("sum_to", ("sum_to",), gg.sum_to, lambda x, shape: x.sum(0).sum(1, keepdims=True),
          lambda x, shape: x.sum_to_size(shape), [(R(2, 3, 4),)], {"shape": [(3, 1)]}),
    # -------------------------------------------------------------- indexing ----
    Entry("getitem", ("getitem",), gg.getitem, lambda x, index: x[index],
          lambda x, index: _tgetitem(x, index), [(R(3, 4),)],
          {"index": [1, (slice(None), slice(1, 3)), (slice(None, None, -1),),
                     (None, Ellipsis, -1), (-1, slice(None, None, 2)),
                     np.array([0, 2, 0]), (slice(None), np.array([[3, 0], [3, 3]])),
                     (np.array([0, 2, 2]), np.array([1, 1, 3])),
                     np.array([True, False, True]), (slice(0, 0),)]}),
    Entry("take_along_axis", ("take_along_axis",), gg.take_along_axis,
          np.take_along_axis, lambda x, idx, axis: torch.take_along_dim(x, idx, axis),
          [(R(3, 4), Idx(4, 3, 2), 1), (R(3, 4), Idx(3, 2, 4), 0), (R(3, 4), Idx(4, 3, 5), -1)]),
    Entry("gather", ("gather",), gg.gather,
          lambda x, dim, idx: np.take_along_axis(x, idx, dim), torch.gather if torch else None,
          [(R(3, 4), 1, Idx(4, 3, 2)), (R(3, 4), 0, Idx(3, 2, 4))]),
    Entry("index_select", ("index_select",), gg.index_select,
          lambda x, axis, idx: np.take(x, idx, axis), torch.index_select if torch else None,
          [(R(3, 4), 0, Idx(3, 5)), (R(3, 4), 1, Idx(4, 3)), (R(3, 4), 1, Idx(4, 0))]),
    Entry("scatter_add", ("scatter_add", "scatter_index", "add"), gg.scatter_add,
          lambda x, dim, idx, src: _np_scatter_add(x, dim, idx, src),
          torch.scatter_add if torch else None,
          [(R(3, 4), 0, Idx(3, 2, 4), R(2, 4)), (R(3, 4), 1, Idx(4, 3, 6), R(3, 6))]),
    Entry("index_put", ("index_put",), lambda x, v, index: gg.ops.index.index_put(x, index, v),
          lambda x, v, index: _np_index_put(x, index, v),
          lambda x, v, index: _tindex_put(x, index, v), [(R(3, 4), R())],
          {"index": [1, (slice(None), slice(1, 3)), np.array([0, 2]),
                     np.array([True, False, True]), (np.array([0, 2]), np.array([1, 3])),
                     np.array([[True, False, False, True]] * 3), (Ellipsis, -1)]}),
    Entry("index_put[values]", ("index_put",),
          lambda x, v, index: gg.ops.index.index_put(x, index, v),
          lambda x, v, index: _np_index_put(x, index, v),
          lambda x, v, index: _tindex_put(x, index, v), [(R(3, 4), R(4)), (R(3, 4), R(1, 4))],
          {"index": [np.array([True, False, True]), 2, np.array([1, 0]),
                     (slice(0, 2),)]}),
    # ------------------------------------------------------------ nn (fused) ----
    Entry("softmax", ("softmax",), gg.softmax,
          lambda x, axis: np.exp(_np_log_softmax(x, axis)), torch.softmax if torch else None,
          [(R(4,),), (R(2, 3, 2),)], {"axis": [0, -1]}),
    Entry("log_softmax", ("log_softmax",), gg.log_softmax, _np_log_softmax,
          torch.log_softmax if torch else None, [(R(4,),), (R(2, 3, 2),)], {"axis": [0, -1]}),
    Entry("cross_entropy", ("cross_entropy",), gg.cross_entropy, _np_cross_entropy,
          TF.cross_entropy if TF else None,
          [(R(4,), Arg((), "int", high=4)), (R(3, 4), Idx(4, 3)), (R(3, 4), Arg((3, 4), "prob")),
           (R(2, 3, 2), Idx(3, 2, 2)), (R(2, 3, 2), Arg((2, 3, 2), "prob"))],
          {"reduction": ["mean", "sum", "none"]}),
    Entry("cross_entropy[size-0 batch]", ("cross_entropy",), gg.cross_entropy,
          _np_cross_entropy, TF.cross_entropy if TF else None,
          [(R(0, 3), Idx(3, 0)), (R(0, 3), Arg((0, 3), "prob"))],
          {"reduction": ["sum", "none"]}),
    Entry("binary_cross_entropy_with_logits", ("binary_cross_entropy_with_logits",),
          gg.binary_cross_entropy_with_logits, _np_bce,
          TF.binary_cross_entropy_with_logits if TF else None,
          [(R(2, 3), Arg((2, 3), "prob")), (R(), Arg((), "prob"))],
          {"reduction": ["mean", "sum", "none"]}),
    Entry("mse_loss", ("mse_loss",), gg.mse_loss,
          lambda a, b, reduction: _np_reduce((a - b) ** 2, reduction),
          TF.mse_loss if TF else None, [(R(2, 3), R(2, 3)), (R(4,), R(4,))],
          {"reduction": ["mean", "sum", "none"]}),
]


def _np_index_put(x, index, v):
    out = x.copy()
    out[index] = v
    return out


def _tindex_put(x, index, v):
    out = x.clone()  # torch: x[index] = v on a copy is its index_put, differentiable
    out[_tidx(index)] = v
    return out


def _np_scatter_add(x, dim, idx, src):
    out = x.copy()
    grid = list(np.indices(idx.shape))
    grid[dim] = idx
    np.add.at(out, tuple(grid), src)
    return out


# Public names in graphgrad.ops that are not ops to test (helpers, the table itself).
NOT_OPS = {"PRIMITIVES"}
