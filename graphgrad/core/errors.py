"""Error types and the messages that name the op, the operands and the user's line.

Every graphgrad error ends with `` — at file.py:42``, the first line outside graphgrad
that led to it. Shape and dtype problems in a forward op are explained from the
operands' shapes (matmul, broadcasting, reshape, concatenate, indexing, ...) rather than
by NumPy's message; the precise explanation is computed only once an op has failed, so
it costs nothing on the hot path.
"""

from __future__ import annotations

import math
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
    """The array inside a Tensor; arrays and numbers as they are (ndarray.data is a buffer)."""
    if _B.is_array(value) or isinstance(value, np.ndarray):  # NumPy subclasses too
        return value
    return getattr(value, "data", value)


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


def _shape(a) -> tuple | None:
    data = _raw(a)
    s = getattr(data, "shape", None)
    return tuple(s) if s is not None else None


def _fmt(shape) -> str:
    return str(tuple(shape)) if shape is not None else "scalar"


# ------------------------------------------------------------ per-op diagnoses ----
# Each returns a precise sentence (without the op name and site), or None to fall back
# on the backend's message. They run only after the op has already failed.

_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def _broadcast_problem(shapes) -> str | None:
    shapes = [s for s in shapes if s is not None]
    nd = max((len(s) for s in shapes), default=0)
    for k in range(1, nd + 1):
        sizes = {s[-k] for s in shapes if len(s) >= k and s[-k] != 1}
        if len(sizes) > 1:
            a, b = sorted(sizes)[:2]
            return (f"shapes do not broadcast: dimension {-k} is {a} in one operand and {b} "
                    "in another (sizes must match or be 1)")
    return None


def _diag_broadcast(prim, args, params):
    shapes = [_shape(a) for a in args]
    problem = _broadcast_problem(shapes)
    if problem is None:
        return None
    sym = _SYMBOL.get(prim.name)
    if sym and len(args) == 2:
        head = f"{_fmt(shapes[0])} {sym} {_fmt(shapes[1])}"
    else:
        head = ", ".join(_fmt(s) for s in shapes)
    return f"{head}: {problem}"


def _diag_matmul(prim, args, params):
    if len(args) != 2:
        return None
    a, b = _shape(args[0]), _shape(args[1])
    head = f"{_fmt(a)} @ {_fmt(b)}"
    if not a or not b:
        which = "left" if not a else "right"
        return f"{head}: the {which} operand is a scalar; use * to scale"
    k_a = a[-1]
    k_b = b[0] if len(b) == 1 else b[-2]
    if k_a != k_b:
        where_b = "size" if len(b) == 1 else "rows"
        return (f"{head}: inner dimensions {k_a} and {k_b} differ (the left operand's "
                f"columns must equal the right operand's {where_b})")
    batch_a, batch_b = a[:-2], b[:-2]
    problem = _broadcast_problem([batch_a, batch_b])
    if problem:
        return f"{head}: batch dimensions {batch_a} and {batch_b} do not broadcast"
    return None


def _diag_reshape(prim, args, params):
    src = _shape(args[0])
    dst = params.get("shape")
    if src is None or dst is None:
        return None
    n_src = math.prod(src)
    n_dst = math.prod(d for d in dst if d != -1)
    return (f"cannot reshape {_fmt(src)} ({n_src} elements) into {tuple(dst)} "
            f"({n_dst} elements)")


def _diag_concatenate(prim, args, params):
    axis = params.get("axis", 0)
    shapes = [_shape(a) for a in args]
    head = "[" + ", ".join(_fmt(s) for s in shapes) + f"] along axis {axis}"
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


def _diag_getitem(prim, args, params):
    shape = _shape(args[0])
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
            return (f"{_fmt(shape)}[{_index_str(index)}]: too many indices for a tensor of "
                    f"{len(shape)} dimensions")
        size = shape[axis]
        if isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            if not -size <= i < size:
                return (f"{_fmt(shape)}[{_index_str(index)}]: index {int(i)} is out of range "
                        f"for axis {axis} of size {size}")
        elif _B.is_array(i) and i.dtype.kind in "iu" and i.size:
            lo, hi = int(i.min()), int(i.max())
            bad = hi if hi >= size else lo
            if hi >= size or lo < -size:
                return (f"{_fmt(shape)}[{_index_str(index)}]: index {bad} is out of range "
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
        elif _B.is_array(i):
            parts.append(f"<{i.dtype} array {i.shape}>")
        else:
            parts.append(repr(i))
    return ", ".join(parts)


_DIAGNOSES = {
    "matmul": _diag_matmul,
    "reshape": _diag_reshape,
    "concatenate": _diag_concatenate,
    "getitem": _diag_getitem,
}
for _name in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "less",
              "less_equal", "greater", "greater_equal", "equal", "not_equal", "logical_and",
              "logical_or"):
    _DIAGNOSES[_name] = _diag_broadcast


def register_diagnosis(name: str, fn) -> None:
    """Add a precise explanation for a failing op: ``fn(prim, args, params) -> str | None``."""
    _DIAGNOSES[name] = fn


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
    diagnose = _DIAGNOSES.get(getattr(prim, "name", ""))
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
