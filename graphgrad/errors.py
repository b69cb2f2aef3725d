"""Error types and the messages that name the op, the operands and the user's line."""

from __future__ import annotations

from .graph import format_site, user_site


class GraphgradError(Exception):
    """Base class for graphgrad's own errors."""


class ShapeError(GraphgradError, ValueError):
    """Operands' shapes do not fit the op."""


class DTypeError(GraphgradError, TypeError):
    """Operands' dtypes do not fit the op."""


class BackwardError(GraphgradError, RuntimeError):
    """A failure while computing gradients."""


def describe(value) -> str:
    """Short description of an operand: shape and dtype for arrays, repr for numbers."""
    data = getattr(value, "data", value)
    shape = getattr(data, "shape", None)
    dtype = getattr(data, "dtype", None)
    if shape is None:
        return repr(value)
    return f"{tuple(shape)} {dtype}"


def op_error(prim, args, params, exc: BaseException, site=None) -> Exception:
    """Turn a backend exception raised inside ``prim``'s forward into a clear error."""
    if isinstance(exc, GraphgradError):
        return exc
    site = site or user_site(3)
    operands = ", ".join(describe(a) for a in args)
    extra = ""
    if params:
        extra = " with " + ", ".join(f"{k}={v!r}" for k, v in params.items())
    msg = f"{prim.name}: operands [{operands}]{extra}: {exc} — at {format_site(site)}"
    text = str(exc).lower()
    if isinstance(exc, TypeError) or "dtype" in text or "cast" in text:
        return DTypeError(msg)
    return ShapeError(msg)


def tracing_bool_error(tensor) -> Exception:
    """Python control flow on a traced tensor's value cannot be recorded in a graph."""
    site = user_site(2)
    return TypeError(
        f"a Python `if`/`while`/`bool()` on a tensor's value at {format_site(site)} cannot be "
        "traced into a static graph: the branch would be fixed at trace time. Use gg.where(cond, "
        "a, b) to select values, or pass the value as a static argument (static_argnums).")
