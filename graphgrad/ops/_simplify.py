"""Helpers for the algebraic identities the primitives declare (``defsimplify``).

A rule sees the values of a traced graph (``gg.compile``): a value has ``shape``,
``dtype`` and ``_node`` (the op that computes it, None for inputs and constants); a
constant has ``kind == "const"`` and its array in ``value``. Literals (Python numbers)
appear as they are. Written with duck typing: ops do not import the compiler.
"""

from __future__ import annotations

from ..core.backend import xp
from ..core.primitive import Rewrite  # noqa: F401 (re-exported for the families)


def is_value(a, number) -> bool:
    """``a`` is the number ``number``: a literal, or a (small) constant full of it."""
    if getattr(a, "kind", None) == "const":
        return a.value.size <= 4096 and bool(xp.all(a.value == number))
    if hasattr(a, "_node") or isinstance(a, (bool, xp.bool_)):
        return False
    if isinstance(a, (int, float, xp.number)):
        return a == number
    return False


def same(out, a) -> bool:
    """Using ``a`` instead of ``out`` keeps the shape and dtype (and ``a`` is a value)."""
    return hasattr(a, "_node") and tuple(a.shape) == tuple(out.shape) and a.dtype == out.dtype


def made_by(a, prim):
    """The node computing ``a`` when ``prim`` computes it, else None."""
    node = getattr(a, "_node", None)
    return node if node is not None and node.prim is prim else None


def unchanged(out, x, *args, **params):
    """An op that gives back its input where shape and dtype do not change (casts,
    reshapes, broadcasts to the same shape, identity)."""
    return x if same(out, x) else None


def unit(number, commutative: bool = False):
    """``op(x, number) == x`` (x + 0, x - 0, x * 1, x / 1, x ** 1); with ``commutative``
    also ``op(number, y) == y`` (0 + y, 1 * y)."""
    def rule(out, x, y):
        if is_value(y, number) and same(out, x):
            return x
        if commutative and is_value(x, number) and same(out, y):
            return y
        return None
    return rule
