"""Primitives: each op of the table, and its __call__, the single entry point of every op.

A Primitive is declared once with its forward (``impl``, on the backend), one VJP rule
per input and one JVP rule per input (or one joint JVP rule), written with graphgrad's
own ops so that they are differentiable themselves.

``prim(*args, **params)`` is the op. Given only raw arrays and numbers it just computes
and returns a raw array (this is how rules run at NumPy speed in a plain backward pass).
Given at least one Tensor it returns a Tensor and, when gradients are being recorded,
attaches a Node. Forward-mode levels and tracers are served at the same place.
"""

from __future__ import annotations

from . import backend as _backend
from . import graph as _graph
from .backend import xp
from .dtypes import fix_float64 as _fix_float64
from .errors import op_error
from .graph import Node, stamp_site

PRIMITIVES: dict[str, "Primitive"] = {}

# ---- global autodiff state (module globals: the cheapest lookups on the hot path) ----
_grad_enabled = True
_fw_levels: list = []  # active forward-mode levels, outermost first
_trace_hook = None  # set while tracing a static graph (gg.compile / gg.static)

Tensor = None  # filled in by tensor.py (avoids a circular import)
_ndarray = xp.ndarray
_F64 = xp.dtype("float64")
_warn_upcast = True  # cleared once the float32 -> float64 upcast warning has been shown


def is_grad_enabled() -> bool:
    return _grad_enabled


def set_grad_enabled(enabled: bool) -> bool:
    """Switch gradient recording on or off; returns the previous setting."""
    global _grad_enabled
    old = _grad_enabled
    _grad_enabled = bool(enabled)
    return old


class Primitive:
    """One op of the table: forward, VJP rules and JVP rules side by side."""

    def __init__(self, name: str, impl, family: str, differentiable: bool = True,
                 doc: str | None = None):
        self.name = name
        self.impl = impl  # the NumPy forward
        self._impls: dict = {}  # array module -> forward, for other backends
        self.family = family
        self.differentiable = differentiable
        self.vjps = None  # tuple: vjps[i](g, out, *args, **params) -> grad of input i
        self.vjp_argnum = None  # or one rule vjp_argnum(i, g, out, *args, **params)
        self.jvps = None  # tuple: jvps[i](t_i, out, *args, **params) -> tangent part
        self.jvp_joint = None  # or jvp_joint(tangents, out, *args, **params)
        self.__doc__ = doc
        self.__name__ = name
        if name in PRIMITIVES:
            raise ValueError(f"primitive {name!r} declared twice")
        PRIMITIVES[name] = self

    # -- declaring rules --
    def defvjp(self, *rules):
        self.vjps = rules
        return self

    def defvjp_argnum(self, rule):
        self.vjp_argnum = rule
        return self

    def defjvp(self, *rules):
        self.jvps = rules
        return self

    def defjvp_joint(self, rule):
        self.jvp_joint = rule
        return self

    def deflinear(self):
        """JVP of an op linear in its (single) differentiable input: apply it to the tangent."""
        self.jvps = (lambda t, out, *args, **params: self(t, *args[1:], **params),)
        return self

    def impl_for(self, module):
        """This op's forward on the array module ``module``."""
        f = self._impls.get(module)
        if f is None:
            f = self._impls[module] = _backend.implementation(self.impl, module)
        return f

    def _call_foreign(self, args, params, raw, like):
        """Raw arrays of another backend: its module computes."""
        impl = self.impl_for(_backend.array_module(*raw)) if like is None else \
            self.impl_for(_backend.array_module(like))
        return impl(*raw, **params)

    @property
    def has_vjp(self) -> bool:
        return self.vjps is not None or self.vjp_argnum is not None

    @property
    def has_jvp(self) -> bool:
        return self.jvps is not None or self.jvp_joint is not None

    def vjp(self, i, g, out, args, params):
        if self.vjps is not None:
            rule = self.vjps[i] if i < len(self.vjps) else None
            if rule is None:
                raise NotImplementedError(f"{self.name}: no VJP rule for input {i}")
            return rule(g, out, *args, **params)
        if self.vjp_argnum is None:
            raise NotImplementedError(f"{self.name}: no VJP rule")
        return self.vjp_argnum(i, g, out, *args, **params)

    def jvp(self, tangents, out, args, params):
        """Tangent of the output given tangents of the inputs (None where absent)."""
        if self.jvp_joint is not None:
            return self.jvp_joint(tangents, out, *args, **params)
        if self.jvps is None:
            raise NotImplementedError(f"{self.name}: no JVP rule")
        total = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            rule = self.jvps[i] if i < len(self.jvps) else None
            if rule is None:
                raise NotImplementedError(f"{self.name}: no JVP rule for input {i}")
            part = rule(t, out, *args, **params)
            total = part if total is None else total + part
        return total

    def __call__(self, *args, **params):  # noqa: C901 (the hot path, inlined on purpose)
        """Apply the op: raw in, raw out; any Tensor in, Tensor out (recorded if needed).

        This is the hot path of eager mode: one pass over the arguments, no helper calls
        unless a Node must be made, forward mode is active, or a trace is recording.
        """
        T = Tensor
        raw = None
        needs = False  # an input requires grad
        linked = False  # an input was computed by a recorded op (maybe not differentiable)
        foreign = None  # an input array of another backend than NumPy
        for i, a in enumerate(args):
            if isinstance(a, T):
                if raw is None:
                    raw = list(args)
                d = raw[i] = a.data
                if type(d) is not _ndarray:
                    foreign = d
                if a._rg:
                    needs = True
                elif a._node is not None:
                    linked = True
        if raw is None:  # raw arrays in, raw out (gradient rules in a plain backward)
            if _backend.foreign_active:
                return self._call_foreign(args, params, args, None)
            return self.impl(*args, **params)
        try:
            if foreign is None:
                out = self.impl(*raw, **params)
            else:
                out = self._call_foreign(args, params, raw, foreign)
        except Exception as exc:  # name the op, the operands and the user's line
            raise op_error(self, args, params, exc) from exc
        if type(out) is not _ndarray and foreign is None:
            out = xp.asarray(out)
        if out.dtype is _F64:  # PyTorch's promotion, or a float32 upcast warning
            out = _fix_float64(self, args, out)
        t = T.__new__(T)  # Tensor._from_array, inlined: this is the hottest line
        t.data = out
        t._grad = None
        t._node = None
        t._fw = None
        t._hooks = None
        t._version = 0
        t.name = None
        if (needs or linked) and _grad_enabled:
            # Comparisons, argmax, casts of masks... carry no gradient, but they are
            # recorded too (output requires_grad False), so that graph readers
            # (gg.static's Session.run, draw, explain) see every op a value went through.
            diff = needs and self.differentiable
            t._rg = diff
            t._node = node = Node(self, args, params,
                                  tuple([isinstance(a, T) and a._rg for a in args])
                                  if diff else (False,) * len(args),
                                  None, _graph.inplace_epoch)
            if _graph._record_source:
                stamp_site(node, 2)
        else:
            t._rg = False
        if _fw_levels and self.differentiable:
            _forward_mode(self, args, params, t)
        if _trace_hook is not None:
            _trace_hook(self, args, params, t)
        return t

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


# ---- forward mode --------------------------------------------------------------------

class ForwardLevel:
    """One active ``jvp``: tangents live on tensors, keyed by their level."""

    __slots__ = ("busy",)

    def __init__(self):
        self.busy = False


def push_forward_level() -> ForwardLevel:
    level = ForwardLevel()
    _fw_levels.append(level)
    return level


def pop_forward_level(level: ForwardLevel) -> None:
    assert _fw_levels and _fw_levels[-1] is level
    _fw_levels.pop()


def forward_active() -> bool:
    return bool(_fw_levels)


def get_tangent(t, level):
    fw = getattr(t, "_fw", None)
    if fw is None:
        return None
    return fw.get(level)


def set_tangent(t, level, tangent) -> None:
    if t._fw is None:
        t._fw = {}
    t._fw[level] = tangent


def _forward_mode(prim, args, params, out):
    """Push tangents through ``prim`` for every active level that has one on an input.

    A level's own rule evaluations are not pushed through that level again (they are
    through the outer levels: that is how jvp-of-jvp and fwd-over-rev work).
    """
    T = Tensor
    for level in _fw_levels:
        if level.busy:
            continue
        tangents = [a._fw.get(level) if isinstance(a, T) and a._fw else None for a in args]
        if not any(t is not None for t in tangents):
            continue
        level.busy = True
        try:
            tan = prim.jvp(tangents, out, args, params)
        finally:
            level.busy = False
        if tan is None:
            continue
        if not isinstance(tan, T):
            tan = T(tan)
        if tan.shape != out.shape:  # a tangent of a broadcast input: spread it out
            from ..ops.shape import broadcast_to_p
            tan = broadcast_to_p(tan, shape=out.shape)
        set_tangent(out, level, tan)
