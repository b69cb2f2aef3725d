"""The public two-argument functions, with PyTorch's keyword names (``input=``, ``other=``,
``exponent=``, ``alpha=``), over the elementwise and matmul primitives.

The primitives themselves take positional operands only (their keywords are the op's
parameters, passed to the implementation). These thin functions pass positional
arguments straight on, so ``gg.add(a, b)`` costs one Python call more than the primitive;
the Tensor operators (``a + b``) call the primitives directly and pay nothing.
"""

from __future__ import annotations

from . import elementwise as _E
from . import linalg as _L


def _no_rounding(op: str, rounding_mode) -> None:
    raise ValueError(f"{op}: rounding_mode={rounding_mode!r} is not supported (only true "
                     "division, rounding_mode=None)")


def add(input, other, *, alpha=None):
    """input + alpha * other, broadcasting (PyTorch's ``torch.add``).

    >>> import graphgrad as gg
    >>> gg.add(input=gg.tensor([1.0, 2.0]), other=gg.tensor([10.0, 20.0]), alpha=2).tolist()
    [21.0, 42.0]
    """
    if alpha is None:
        return _E.add(input, other)
    return _E.add(input, _E.mul(other, alpha))


def sub(input, other, *, alpha=None):
    """input - alpha * other, broadcasting.

    >>> import graphgrad as gg
    >>> gg.sub(gg.tensor([5.0]), other=gg.tensor([2.0])).tolist()
    [3.0]
    """
    if alpha is None:
        return _E.sub(input, other)
    return _E.sub(input, _E.mul(other, alpha))


def mul(input, other):
    """input * other, broadcasting.

    >>> import graphgrad as gg
    >>> gg.mul(input=gg.tensor([2.0]), other=gg.tensor([3.0])).tolist()
    [6.0]
    """
    return _E.mul(input, other)


def div(input, other, *, rounding_mode=None):
    """input / other (true division), broadcasting.

    >>> import graphgrad as gg
    >>> gg.div(gg.tensor([3.0]), other=gg.tensor([2.0])).tolist()
    [1.5]
    """
    if rounding_mode is not None:
        _no_rounding("div", rounding_mode)
    return _E.div(input, other)


def pow(input, exponent):
    """input ** exponent, broadcasting.

    >>> import graphgrad as gg
    >>> gg.pow(input=gg.tensor([3.0]), exponent=2).tolist()
    [9.0]
    """
    return _E.pow(input, exponent)


def maximum(input, other):
    """The larger of two tensors, elementwise; ties share the gradient.

    >>> import graphgrad as gg
    >>> gg.maximum(gg.tensor([1.0, 5.0]), other=gg.tensor([3.0, 2.0])).tolist()
    [3.0, 5.0]
    """
    return _E.maximum(input, other)


def minimum(input, other):
    """The smaller of two tensors, elementwise; ties share the gradient.

    >>> import graphgrad as gg
    >>> gg.minimum(gg.tensor([1.0, 5.0]), other=gg.tensor([3.0, 2.0])).tolist()
    [1.0, 2.0]
    """
    return _E.minimum(input, other)


def atan2(input, other):
    """atan2(input, other): the angle of the point (other, input), in [-pi, pi]. Its
    gradient at the origin is NaN (0/0), as in PyTorch.

    >>> import graphgrad as gg
    >>> round(float(gg.atan2(input=gg.tensor(1.0), other=gg.tensor(1.0))), 4)
    0.7854
    """
    return _E.atan2(input, other)


def matmul(input, other):
    """Matrix product with NumPy's (and PyTorch's) rules.

    >>> import graphgrad as gg
    >>> gg.matmul(input=gg.ones(2, 3), other=gg.ones(3, 4)).shape
    (2, 4)
    """
    return _L.matmul(input, other)


def where(condition, input, other):
    """``input`` where ``condition`` holds, else ``other`` (``torch.where``).

    The branch not taken gets a zero gradient. A NaN in the untaken branch's *gradient*
    still poisons the result (0 * nan = nan): make the untaken branch's input safe first,
    e.g. ``gg.where(x > 0, gg.log(gg.where(x > 0, x, 1.0)), 0.0)`` (the double-where trick).

    >>> import graphgrad as gg
    >>> x = gg.tensor([-1.0, 2.0])
    >>> gg.where(x > 0, input=x, other=gg.zeros(2)).tolist()
    [0.0, 2.0]
    """
    return _E.where(condition, input, other)
