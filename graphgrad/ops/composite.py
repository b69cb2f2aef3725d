"""Composite functions written with primitives: their gradients come for free."""

from __future__ import annotations

import math

from .elementwise import erf, tanh


def square(x):
    return x * x


def gelu(x, approximate: str = "none"):
    """Gaussian error linear unit; ``approximate='tanh'`` for the tanh form (as PyTorch)."""
    if approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        return 0.5 * x * (1 + tanh(c * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2.0))))
