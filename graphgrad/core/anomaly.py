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

When off, it costs nothing: switching it on puts a checking interpreter on this thread's
interpreter stack (state.py), and the backward engine asks it to check each gradient.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .backend import array_module, is_array
from .errors import AnomalyError, _raw, summarize
from .graph import format_site, user_site
from .state import Interpreter, current_stack, find, push, remove


class AnomalyChecker(Interpreter):
    """Raises at the first op whose forward output holds NaN or Inf; the engine calls
    ``check_grad`` on each gradient a rule returns."""

    def __init__(self, check_inf: bool = True):
        self.check_inf = check_inf
        self._errstate = None

    def process(self, prim, args, params, out) -> None:
        data = out.data
        counts = _bad_counts(data, self.check_inf)
        if counts is not None:
            site = out._node.site if out._node is not None else None
            raise AnomalyError(
                f"detect_anomaly: {prim.name} produced {_what(counts, data.size)} in its "
                f"forward output {summarize(data)}; inputs: {_inputs(args)}",
                site=site or user_site(1))

    def check_grad(self, node, i, a, g, gi) -> None:
        """Called by the backward engine for each input gradient a rule returns."""
        data = _raw(gi)
        counts = _bad_counts(data, self.check_inf)
        if counts is None:
            return
        raise AnomalyError(
            f"detect_anomaly: the backward of {node.prim.name} (created at "
            f"{format_site(node.site)}) produced {_what(counts, data.size)} in the gradient "
            f"of input {i} {summarize(a)}; incoming gradient: "
            f"{summarize(g)}; inputs: {_inputs(node.inputs)}",
            site=node.site)


def active() -> AnomalyChecker | None:
    """This thread's anomaly checker, or None when detection is off."""
    return find(AnomalyChecker) if current_stack() else None


def is_anomaly_enabled() -> bool:
    """Whether ``detect_anomaly`` is active (in this thread)."""
    return active() is not None


def _bad_counts(data, check_inf: bool = True):
    """(nan, inf) counts of a floating array, or None when it is all finite / not float."""
    if not is_array(data) or data.dtype.kind not in "fc":
        return None
    xp = array_module(data)
    if check_inf:
        if xp.isfinite(data).all():
            return None
    elif not xp.isnan(data).any():
        return None
    return int(xp.isnan(data).sum()), int(xp.isinf(data).sum())


def _what(counts, size) -> str:
    nan, inf = counts
    kinds = " and ".join(k for k, n in (("NaN", nan), ("Inf", inf)) if n)
    return f"{kinds} ({nan} NaN, {inf} Inf of {size} values)"


def _inputs(args) -> str:
    return "; ".join(f"[{i}] {summarize(a)}" for i, a in enumerate(args))


def set_detect_anomaly(enabled: bool, check_inf: bool = True) -> bool:
    """Switch anomaly detection on or off in this thread; returns the previous setting.

    ``check_inf=False`` reports NaN only (useful when -inf is used as a mask). While it
    is on, NumPy's floating-point warnings are off: the checker says more, and earlier.
    """
    old = active()
    if old is not None:
        remove(old)
        if old._errstate is not None:
            old._errstate.__exit__(None, None, None)
    if enabled:
        checker = AnomalyChecker(bool(check_inf))
        checker._errstate = np.errstate(all="ignore")
        checker._errstate.__enter__()
        push(checker)
    return old is not None


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager (and decorator): raise ``AnomalyError`` at the first op whose
    forward output, or whose gradient in backward, holds NaN or Inf, naming the op, the
    user's line that created it and its inputs' shapes, dtypes, ranges and NaN counts."""

    def __init__(self, check_inf: bool = True):
        self.check_inf = check_inf

    def __enter__(self):
        old = active()
        self._old = (old is not None, old.check_inf if old is not None else True)
        set_detect_anomaly(True, self.check_inf)
        return self

    def __exit__(self, *exc):
        set_detect_anomaly(*self._old)
        return False
