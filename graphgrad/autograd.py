"""PyTorch's ``torch.autograd`` names: ``grad``, ``backward`` and ``Function`` (a custom
differentiation rule as a class), on graphgrad's engine and its ``custom_vjp``.

>>> import graphgrad as gg
>>> x = gg.tensor(3.0, requires_grad=True)
>>> gg.autograd.grad(x ** 2, x)[0].item()
6.0
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

from .core.engine import grad_of
from .core.errors import BackwardError
from .core.state import is_grad_enabled, no_grad
from .core.tensor import Tensor
from .core.transforms import custom_vjp

__all__ = ["Function", "FunctionCtx", "backward", "grad"]


def _as_list(x) -> list:
    return [x] if isinstance(x, Tensor) else list(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``:
    a tuple with one entry per input; ``.grad`` is not touched. An input that ``outputs``
    do not depend on is an error unless ``allow_unused=True`` (it gets None) or
    ``materialize_grads=True`` (it gets zeros).

    >>> import graphgrad as gg
    >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = gg.autograd.grad((x ** 3).sum(), x, create_graph=True)
    >>> g.tolist(), gg.autograd.grad(g.sum(), x)[0].tolist()
    ([3.0, 12.0], [6.0, 12.0])
    """
    outs, ins = _as_list(outputs), _as_list(inputs)
    for x in ins:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise BackwardError("autograd.grad: every input must be a Tensor that requires "
                                f"grad, got {x!r:.60}")
    if grad_outputs is not None:
        grad_outputs = _as_list(grad_outputs) if not isinstance(grad_outputs, (int, float)) \
            else [grad_outputs]
        if len(grad_outputs) != len(outs):
            raise BackwardError(f"autograd.grad: {len(grad_outputs)} grad_outputs for "
                                f"{len(outs)} outputs")
    for o in outs:
        if not o.requires_grad:
            raise BackwardError("autograd.grad: an output does not require grad (no input "
                                "had requires_grad=True, or it was computed under no_grad)")
    res = grad_of(outs, ins, grad_outputs=grad_outputs, retain_graph=retain_graph,
                  create_graph=create_graph, allow_unused=True)
    out = []
    for i, (x, r) in enumerate(zip(ins, res)):
        if r is None:
            if materialize_grads:
                from .core.creation import zeros_like
                r = zeros_like(x)
            elif not allow_unused:
                raise BackwardError(
                    f"autograd.grad: input {i} (shape {x.shape}) was not used to compute "
                    "the outputs; pass allow_unused=True to get None for it")
        out.append(r)
    return tuple(out)


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate the gradients of ``tensors`` into the leaves' ``.grad`` (as
    ``torch.autograd.backward``).

    >>> import graphgrad as gg
    >>> x = gg.tensor(2.0, requires_grad=True)
    >>> gg.autograd.backward([x * x]); x.grad.item()
    4.0
    """
    ts = _as_list(tensors)
    gs = [None] * len(ts) if grad_tensors is None else _as_list(grad_tensors)
    if len(gs) != len(ts):
        raise BackwardError(f"autograd.backward: {len(gs)} grad_tensors for {len(ts)} tensors")
    for k, (t, g) in enumerate(zip(ts, gs)):
        keep = bool(retain_graph) or create_graph or k < len(ts) - 1
        t.backward(g, retain_graph=keep, create_graph=create_graph)


class FunctionCtx:
    """The ``ctx`` handed to a ``Function``'s ``forward`` and ``backward``: keeps the
    tensors saved for backward, and any attributes you set on it."""

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad
        self._saved: tuple = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors) -> None:
        """Keep ``tensors`` (inputs or outputs of forward, or None) for ``backward``."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: expects tensors (or None), got "
                                f"{type(t).__name__}; keep other values as ctx attributes")
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``."""
        return self._saved

    def mark_non_differentiable(self, *tensors) -> None:
        """Accepted for compatibility; outputs of a Function are differentiable."""

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)


class Function:
    """A differentiable function with a hand-written backward, as ``torch.autograd.Function``.

    >>> import graphgrad as gg
    >>> class Exp(gg.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         y = x.exp()
    ...         ctx.save_for_backward(y)
    ...         return y
    ...     @staticmethod
    ...     def backward(ctx, grad_output):
    ...         (y,) = ctx.saved_tensors
    ...         return grad_output * y
    >>> x = gg.tensor(0.0, requires_grad=True)
    >>> Exp.apply(x).backward(); x.grad.item()
    1.0

    ``forward`` runs without recording (as in PyTorch); ``backward`` gets one gradient
    per output and returns one per input of ``forward`` (None where there is none). Written
    with graphgrad ops, ``backward`` can be differentiated again (``create_graph=True``).
    Built on ``gg.custom_vjp``.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Call the function on ``args``; records the custom rule when an input needs a
        gradient."""
        rule = cls.__dict__.get("_gg_rule")
        if rule is None:
            rule = _make_rule(cls)
            cls._gg_rule = rule
        if not is_grad_enabled():
            return _run_forward(cls, args)[0]
        return rule(*args)

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple, output: Any) -> None:
        """Override (with a ``forward(*args)`` that takes no ctx) to fill ``ctx`` from the
        inputs and the output, as PyTorch 2 allows."""


_DEFAULT_SETUP = Function.__dict__["setup_context"]


def _forward_without_ctx(cls) -> bool:
    """PyTorch 2's style: ``forward(*args)`` without ctx, and a ``setup_context``."""
    return inspect.getattr_static(cls, "setup_context") is not _DEFAULT_SETUP


def _run_forward(cls, args: Sequence) -> tuple:
    ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
    with no_grad():
        if _forward_without_ctx(cls):
            out = cls.forward(*args)
            cls.setup_context(ctx, tuple(args), out)
        else:
            out = cls.forward(ctx, *args)
    if isinstance(out, (tuple, list)):
        raise NotImplementedError(f"{cls.__name__}.forward returned {len(out)} values: a "
                                  "graphgrad Function has one output tensor")
    return (out if isinstance(out, Tensor) else Tensor(out)), ctx


def _make_rule(cls) -> custom_vjp:
    def fun(*args):
        return _run_forward(cls, args)[0]

    fun.__name__ = fun.__qualname__ = cls.__name__

    def fwd(*args):
        out, ctx = _run_forward(cls, args)
        return out, (ctx, len(args))

    def bwd(res, g):
        ctx, n = res
        gs = cls.backward(ctx, g)
        gs = tuple(gs) if isinstance(gs, (tuple, list)) else (gs,)
        if len(gs) != n:
            raise BackwardError(f"{cls.__name__}.backward returned {len(gs)} gradients, but "
                                f"forward took {n} inputs (return None for an input without "
                                "one)")
        return gs

    return custom_vjp(fun).defvjp(fwd, bwd)
