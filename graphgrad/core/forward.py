"""Forward mode: each active ``gg.jvp`` is an interpreter on the per-thread stack.

Tangents live on tensors (``t._fw``), keyed by their level. When an op runs, each level
that has a tangent on an input pushes it through the op's JVP rule. A level's own rule
evaluations are not pushed through that level again; they are through the outer levels:
that is how jvp-of-jvp and forward-over-reverse work.
"""

from __future__ import annotations

from . import primitive as _prim
from .state import Interpreter, current_stack


class ForwardLevel(Interpreter):
    """One active ``jvp``."""

    __slots__ = ("busy",)

    def __init__(self):
        self.busy = False

    def process(self, prim, args, params, out) -> None:
        if self.busy or not prim.differentiable:
            return
        T = _prim.Tensor
        tangents = [a._fw.get(self) if isinstance(a, T) and a._fw else None for a in args]
        if not any(t is not None for t in tangents):
            return
        self.busy = True
        try:
            tan = prim.jvp(tangents, out, args, params)
        finally:
            self.busy = False
        if tan is None:
            return
        if not isinstance(tan, T):
            tan = T(tan)
        if tan.shape != out.shape:  # a tangent of a broadcast input: spread it out
            from ..ops.shape import broadcast_to_p
            tan = broadcast_to_p(tan, shape=out.shape)
        set_tangent(out, self, tan)


def forward_active() -> bool:
    """Whether a ``jvp`` is running in this thread."""
    return any(isinstance(i, ForwardLevel) for i in current_stack())


def get_tangent(t, level: ForwardLevel):
    fw = getattr(t, "_fw", None)
    if fw is None:
        return None
    return fw.get(level)


def set_tangent(t, level: ForwardLevel, tangent) -> None:
    if t._fw is None:
        t._fw = {}
    t._fw[level] = tangent
