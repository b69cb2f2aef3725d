"""Error types and the messages that name the op, the operands and the user's line.

Every graphgrad error ends with `` — at file.py:42``, the first line outside graphgrad
that led to it. Shape and dtype problems in a forward op are explained from the
operands' shapes rather than by NumPy's message: each primitive declares its diagnosis
(``Primitive.defdiagnose``: matmul's inner dimensions, broadcasting, reshape's sizes,
indexing, ...), computed only once the op has failed, so it costs nothing on the hot path.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from . import backend as _B
from .graph import _PKG_DIR, format_site, user_site

_AT = " — at "


class GraphgradError(Exception):
    """Base class for graphgrad's own errors.

    The message gets `` — at file.py:line`` (the user's line that led to the error)
    appended unless it already names one; pass ``site`` to name another line.
    """

    def __init__(self, message: str = "", site=None):
        message = str(message)
        if _AT not in message:
            site = site if site is not None else user_site(2)
            if site is not None:
                message = f"{message}{_AT}{format_site(site)}"
        super().__init__(message)


class ShapeError(GraphgradError, ValueError):
    """Operands' shapes do not fit the op."""


class DTypeError(GraphgradError, TypeError):
    """Operands' dtypes do not fit the op."""


class IndexOutOfRangeError(ShapeError, IndexError):
    """An index is out of range for the indexed axis (also an IndexError)."""


class BackwardError(GraphgradError, RuntimeError):
    """A failure while computing gradients (misuse of backward, or a rule or hook failed)."""


class AnomalyError(GraphgradError, FloatingPointError):
    """``detect_anomaly``: an op's output or gradient holds NaN or Inf."""


class GraphgradWarning(UserWarning):
    """Something that works but is probably not what was meant (e.g. a silent upcast)."""


# ---------------------------------------------------------------- descriptions ----

def _raw(value):
    """The array inside a Tensor (primitive.unwrap; imported here on use: errors.py sits
    below primitive.py, and this runs only while an error is being described)."""
    from .primitive import unwrap
    return unwrap(value)


def describe(value) -> str:
    """Short description of an operand: shape and dtype for arrays, repr for numbers."""
    data = _raw(value)
    shape = getattr(data, "shape", None)
    dtype = getattr(data, "dtype", None)
    if shape is None:
        return repr(value)
    return f"{tuple(shape)} {dtype}"


def summarize(value) -> str:
    """Shape, dtype, min/max (over finite values) and NaN/Inf counts of an operand."""
    data = _raw(value)
    if not (_B.is_array(data) or isinstance(data, np.generic)):
        return repr(value)
    data = _B.to_numpy(data)  # an error message: a device array is copied to the host
    head = f"{tuple(data.shape)} {data.dtype}"
    if data.size == 0:
        return head + " (empty)"
    if data.dtype.kind not in "fiub":
        return head
    if data.dtype.kind != "f":
        return f"{head} min={data.min()} max={data.max()}"
    nan = int(np.isnan(data).sum())
    inf = int(np.isinf(data).sum())
    finite = data[np.isfinite(data)]
    rng = (f"min={finite.min():.4g} max={finite.max():.4g}" if finite.size
           else "no finite values")
    return f"{head} {rng} nan={nan} inf={inf}"


# ------------------------------------------------------------ per-op diagnoses ----
# A primitive declares its own (``Primitive.defdiagnose``, next to its rules); these are
# the pieces they share. A diagnosis returns a precise sentence (without the op name and
# site), or None to fall back on the backend's message. It runs only after the op failed.

def shape_of(a) -> tuple | None:
    """The shape of an operand (a Tensor, an array), None for a number."""
    data = _raw(a)
    s = getattr(data, "shape", None)
    return tuple(s) if s is not None else None


def fmt_shape(shape) -> str:
    """``(2, 3)``, or ``scalar`` for None."""
    return str(tuple(shape)) if shape is not None else "scalar"



def broadcast_problem(shapes) -> str | None:
    """Why ``shapes`` do not broadcast together (the first clashing dimension), or None.

    >>> broadcast_problem([(2, 3), (4, 3)])
    'shapes do not broadcast: dimension -2 is 2 in one operand and 4 in another (sizes \
must match or be 1)'
    """
    shapes = [s for s in shapes if s is not None]
    nd = max((len(s) for s in shapes), default=0)
    for k in range(1, nd + 1):
        sizes = {s[-k] for s in shapes if len(s) >= k and s[-k] != 1}
        if len(sizes) > 1:
            a, b = sorted(sizes)[:2]
            return (f"shapes do not broadcast: dimension {-k} is {a} in one operand and {b} "
                    "in another (sizes must match or be 1)")
    return None


def diagnose_broadcast(symbol: str | None = None):
    """The diagnosis of an elementwise op whose operands do not broadcast; ``symbol``
    (``"+"``) writes a binary op as ``(2, 3) + (4, 3)``.

    >>> import graphgrad as gg
    >>> d = diagnose_broadcast("+")
    >>> d(gg.PRIMITIVES["add"], (gg.zeros(2, 3), gg.zeros(4, 3)), {}).split(":")[0]
    '(2, 3) + (4, 3)'
    """
    def diagnose(prim, args, params):
        shapes = [shape_of(a) for a in args]
        problem = broadcast_problem(shapes)
        if problem is None:
            return None
        if symbol and len(args) == 2:
            head = f"{fmt_shape(shapes[0])} {symbol} {fmt_shape(shapes[1])}"
        else:
            head = ", ".join(fmt_shape(s) for s in shapes)
        return f"{head}: {problem}"
    return diagnose


def op_error(prim, args, params, exc: BaseException, site=None) -> Exception:
    """Turn a backend exception raised inside ``prim``'s forward into a clear error.

    >>> import graphgrad as gg
    >>> try:
    ...     gg.zeros(64, 784) @ gg.zeros(256, 128)
    ... except gg.ShapeError as e:
    ...     print(str(e).split(" — ")[0])
    matmul: (64, 784) @ (256, 128): inner dimensions 784 and 256 differ (the left \
operand's columns must equal the right operand's rows)
    """
    if isinstance(exc, (GraphgradError, Warning)):  # warnings turned into errors: as they are
        return exc
    site = site or user_site(3)
    detail = None
    diagnose = getattr(prim, "diagnose", None)
    if diagnose is not None:
        try:
            detail = diagnose(prim, args, params)
        except Exception:  # a diagnosis must never hide the real error
            detail = None
    diagnosed = detail is not None  # the diagnoses explain shapes
    if detail is None:
        operands = ", ".join(describe(a) for a in args)
        extra = ""
        if params:
            extra = " with " + ", ".join(f"{k}={_short(v)}" for k, v in params.items())
        detail = f"operands [{operands}]{extra}: {exc}"
    msg = f"{prim.name}: {detail}"
    if isinstance(exc, IndexError):
        return IndexOutOfRangeError(msg, site=site)
    text = str(exc).lower()
    if not diagnosed and (isinstance(exc, TypeError) or "dtype" in text or "casting" in text
                          or "ufunc" in text and "not supported" in text):
        return DTypeError(msg, site=site)
    return ShapeError(msg, site=site)


def _short(v) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


# ------------------------------------------------------------------ warnings ----

def _user_stacklevel() -> int:
    """``stacklevel`` for warnings.warn that points at the first frame outside graphgrad."""
    f = sys._getframe(1)
    level = 1
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back
        level += 1
    return level


def warn_upcast(prim, args) -> None:
    """Warn, once per process, that float32 operands were silently promoted to float64."""
    from . import primitive as P
    kinds = []
    low = False
    high = False
    for a in args:
        data = _raw(a)
        dt = getattr(data, "dtype", None)
        if dt is None:
            continue  # Python numbers never upcast (NumPy's weak scalars)
        kinds.append(f"{describe(a)}")
        if dt.kind == "f" and dt.itemsize < 8:
            low = True
        elif dt.kind in "iuf" and not (dt.kind == "f" and dt.itemsize < 8):
            high = high or dt.itemsize >= 4 or dt.kind == "f"
    if not (low and high):
        return
    P._warn_upcast = False
    warnings.warn(
        f"{prim.name}: operands [{', '.join(kinds)}] give a float64 result: the float32 "
        "operand was silently upcast (memory and time double). Convert explicitly, e.g. "
        "x.astype(gg.float32), or use a Python number. (Shown once.)",
        GraphgradWarning, stacklevel=_user_stacklevel())


def reset_warnings() -> None:
    """Let the once-only warnings fire again (for tests)."""
    from . import primitive as P
    P._warn_upcast = True


def tracing_bool_error(tensor) -> Exception:
    """Python control flow on a traced tensor's value cannot be recorded in a graph."""
    site = user_site(2)
    return TypeError(
        f"a Python `if`/`while`/`bool()` on a tensor's value at {format_site(site)} cannot be "
        "traced into a static graph: the branch would be fixed at trace time. Use gg.where(cond, "
        "a, b) to select values, or pass the value as a static argument (static_argnums).")
