"""Small conveniences that are not ops (they record nothing)."""

from __future__ import annotations

from .core.backend import xp
from .core.tensor import Tensor


def allclose(a, b, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """True when two tensors (or arrays, or numbers) agree elementwise within tolerance.

    >>> import graphgrad as gg
    >>> gg.allclose(gg.tensor([1.0, 2.0]), [1.0, 2.0 + 1e-9])
    True
    """
    a = a.data if isinstance(a, Tensor) else a
    b = b.data if isinstance(b, Tensor) else b
    return bool(xp.allclose(a, b, rtol=rtol, atol=atol))
