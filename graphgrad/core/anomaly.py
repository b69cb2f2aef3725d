"""Anomaly detection: stop at the first op whose output or gradient holds NaN or Inf.

>>> import graphgrad as gg
>>> x = gg.tensor([1.0, -1.0], requires_grad=True)
>>> with gg.detect_anomaly():
...     try:
...         y = gg.sqrt(x)
...     except gg.AnomalyError as e:
...         print(str(e).split(":")[0])
detect_anomaly
>>> gg.is_anomaly_enabled()
False

When off, it costs nothing: switching it on swaps in a checking ``Primitive.__call__``
(and makes the backward engine check each gradient); switching it off puts the plain
one back.
"""

from __future__ import annotations

import contextlib

import numpy as np

from . import primitive as P
from .errors import AnomalyError, _raw, summarize
from .graph import format_site, user_site

_enabled = False  # read by the backward engine
_check_inf = True
_plain_call = None  # Primitive.__call__ while anomaly detection is on


def is_anomaly_enabled() -> bool:
    """Whether ``detect_anomaly`` is active."""
    return _enabled


def _bad_counts(data):
    """(nan, inf) counts of a floating array, or None when it is all finite / not float."""
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "fc":
        return None
    if _check_inf:
        if np.isfinite(data).all():
            return None
    elif not np.isnan(data).any():
        return None
    return int(np.isnan(data).sum()), int(np.isinf(data).sum())


def _what(counts, size) -> str:
    nan, inf = counts
    kinds = " and ".join(k for k, n in (("NaN", nan), ("Inf", inf)) if n)
    return f"{kinds} ({nan} NaN, {inf} Inf of {size} values)"


def _inputs(args) -> str:
    return "; ".join(f"[{i}] {summarize(a)}" for i, a in enumerate(args))


def _checked_call(self, *args, **params):
    with np.errstate(all="ignore"):  # NumPy's warnings would only say less, earlier
        out = _plain_call(self, *args, **params)
    if isinstance(out, P.Tensor):  # a Tensor result: a user-facing forward op
        data = out.data
        counts = _bad_counts(data)
        if counts is not None:
            site = out._node.site if out._node is not None else None
            raise AnomalyError(
                f"detect_anomaly: {self.name} produced {_what(counts, data.size)} in its "
                f"forward output {summarize(data)}; inputs: {_inputs(args)}",
                site=site or user_site(1))
    return out


def check_grad(node, i, a, g, gi) -> None:
    """Called by the backward engine (when on) for each input gradient a rule returns."""
    data = _raw(gi)
    counts = _bad_counts(data)
    if counts is None:
        return
    raise AnomalyError(
        f"detect_anomaly: the backward of {node.prim.name} (created at "
        f"{format_site(node.site)}) produced {_what(counts, data.size)} in the gradient of "
        f"input {i} {summarize(a)}; incoming gradient: "
        f"{summarize(g)}; inputs: {_inputs(node.inputs)}",
        site=node.site)


def set_detect_anomaly(enabled: bool, check_inf: bool = True) -> bool:
    """Switch anomaly detection on or off globally; returns the previous setting.

    ``check_inf=False`` reports NaN only (useful when -inf is used as a mask).
    """
    global _enabled, _check_inf, _plain_call
    old = _enabled
    _check_inf = bool(check_inf)
    if enabled and not _enabled:
        _plain_call = P.Primitive.__call__
        P.Primitive.__call__ = _checked_call
    elif not enabled and _enabled:
        P.Primitive.__call__ = _plain_call
        _plain_call = None
    _enabled = bool(enabled)
    return old


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager (and decorator): raise ``AnomalyError`` at the first op whose
    forward output, or whose gradient in backward, holds NaN or Inf, naming the op, the
    user's line that created it and its inputs' shapes, dtypes, ranges and NaN counts."""

    def __init__(self, check_inf: bool = True):
        self.check_inf = check_inf

    def __enter__(self):
        self._old = (_enabled, _check_inf)
        set_detect_anomaly(True, self.check_inf)
        return self

    def __exit__(self, *exc):
        set_detect_anomaly(*self._old)
        return False
