"""Primitives: each op of the table, and its __call__, the single entry point of every op.

A Primitive is declared once with its forward (``impl``, on the backend), one VJP rule
per input and one JVP rule per input (or one joint JVP rule), written with graphgrad's
own ops so that they are differentiable themselves.

``prim(*args, **params)`` is the op. Given only raw arrays and numbers it just computes
and returns a raw array (this is how rules run at NumPy speed in a plain backward pass).
Given at least one Tensor it returns a Tensor and, when gradients are being recorded,
attaches a Node. Forward-mode levels, tracers and anomaly checking are interpreters on
a per-thread stack (state.py) that see every op after it is computed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import backend as _backend
from . import graph as _graph
from .backend import ARRAY_TYPES, xp
from .dtypes import fix_float64 as _fix_float64
from .errors import op_error
from .graph import Node, stamp_site
from .state import nondefault, state

PRIMITIVES: dict[str, "Primitive"] = {}

Tensor = None  # filled in by tensor.py (avoids a circular import)
_ndarray = xp.ndarray
_F64 = xp.dtype("float64")
_warn_upcast = True  # cleared once the float32 -> float64 upcast warning has been shown
_state = state  # per-thread grad mode and interpreter stack


def unwrap(v):
    """The array inside a Tensor; anything else unchanged (the one unwrap of the package).

    Not ``getattr(v, "data", v)``: an ndarray's ``.data`` is a memoryview.
    """
    return v.data if isinstance(v, Tensor) else v


class Primitive:
    """One op of the table: forward, VJP rules and JVP rules side by side."""

    def __init__(self, name: str, impl, differentiable: bool = True, doc: str | None = None):
        self.name = name
        self.impl = impl  # the NumPy forward
        self._impls: dict = {}  # array module -> forward, for other backends
        self.differentiable = differentiable
        # PyTorch's type promotion applies to the result (elementwise ops; dtypes.py)
        self.promotes = False
        self.vjps = None  # tuple: vjps[i](g, out, *args, **params) -> grad of input i
        self.vjp_argnum = None  # or one rule vjp_argnum(i, g, out, *args, **params)
        self.jvps = None  # tuple: jvps[i](t_i, out, *args, **params) -> tangent part
        self.jvp_joint = None  # or jvp_joint(tangents, out, *args, **params)
        # what other parts of graphgrad know about the op, declared next to its rules
        # (read by gg.compile and by error messages, never on the eager hot path)
        self.codegen = None  # CodegenRule: how gg.compile writes it as NumPy source
        self.simplifications: tuple = ()  # rule(out, *inputs, **params) -> value | None
        self.diagnose = None  # diagnose(prim, args, params) -> sentence | None
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

    # -- declaring what compile and the error messages know --
    def defcodegen(self, expr=None, *, ufunc: str | None = None, out=None,
                   inplace: bool | None = None, fresh: bool | None = None, into=None):
        """How ``gg.compile`` writes this op as one NumPy expression.

        ``expr`` is a format string over the inputs' source (``"{0} + {1}"``; parameters
        by name, as source literals) or ``expr(em, args, params) -> str`` (``em`` the
        emitter: ``em.lit(value)``, ``em.axis(axis)``, ``em.index(index)``,
        ``em.add_helper(name, source)``); None copies the forward in as a helper.
        ``ufunc``: a NumPy ufunc (``"np.add"``): the default ``expr`` and ``out`` calls,
        and ``inplace``. ``out``: the same written into a buffer (``{out}`` in the
        format string). ``inplace``: that buffer may be one of the op's own inputs (an
        elementwise op), and an update of a parameter may be written straight into it.
        ``fresh``: the result is a new array, never a view of an input (default: when
        there is an ``out``). ``into(inputs) -> i | None``: with no ``out`` buffer of
        its own, the result may be written into input ``i`` when that input dies here.

        >>> import graphgrad as gg
        >>> gg.PRIMITIVES["add"].codegen.ufunc
        'np.add'
        """
        if ufunc is not None:
            expr = expr or (lambda em, a, p: f"{ufunc}({', '.join(a)})")
            out = out or (lambda em, a, p, out: f"{ufunc}({', '.join(a)}, out={out})")
            inplace = True if inplace is None else inplace
        self.codegen = CodegenRule(expr, ufunc, out, bool(inplace),
                                   out is not None if fresh is None else fresh, into)
        return self

    def defsimplify(self, rule):
        """An algebraic identity for the graph passes of ``gg.compile``.

        ``rule(out, *inputs, **params)`` gets the traced value (``out.shape``,
        ``out.dtype``) and the op's inputs (traced values or literals) and returns a
        value to use instead (an input, say), a ``Rewrite(prim, inputs, params)`` of the
        op into a simpler one, or None. Several rules are asked in turn.

        >>> import graphgrad as gg
        >>> len(gg.PRIMITIVES["mul"].simplifications)
        1
        """
        self.simplifications = self.simplifications + (rule,)
        return self

    def defdiagnose(self, fn):
        """A precise explanation of a failed forward: ``fn(prim, args, params)`` returns
        a sentence naming the shapes (without the op name) or None for the backend's
        message. It runs only once the op has failed.

        >>> import graphgrad as gg
        >>> gg.PRIMITIVES["matmul"].diagnose is not None
        True
        """
        self.diagnose = fn
        return self

    def impl_for(self, module):
        """This op's forward on the array module ``module``."""
        f = self._impls.get(module)
        if f is None:
            f = self._impls[module] = _backend.implementation(self.impl, module)
        return f

    #: True once a backend other than NumPy is registered (backend.register_backend):
    #: from then on every op picks its module from its inputs; until then, NumPy directly
    _foreign = False

    def _call_foreign(self, raw, params):
        """Compute with the array module of the inputs (NumPy's or another backend's)."""
        return self.impl_for(_backend.array_module(*raw))(*raw, **params)

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

        This is the hot path of eager mode, and the base of the interpreter stack (eager
        evaluation and recording, inlined): one pass over the arguments, no helper calls
        unless a Node must be made; then every interpreter on this thread's stack (see
        state.py) sees the op and its result.
        """
        T = Tensor
        raw = None
        needs = False  # an input requires grad
        linked = False  # an input was computed by a recorded op (maybe not differentiable)
        for i, a in enumerate(args):
            if isinstance(a, T):
                if raw is None:
                    raw = list(args)
                raw[i] = a.data
                if a._rg:
                    needs = True
                elif a._node is not None:
                    linked = True
        if raw is None:  # raw arrays in, raw out (gradient rules in a plain backward)
            if self._foreign:
                return self._call_foreign(args, params)
            return self.impl(*args, **params)
        try:
            out = self._call_foreign(raw, params) if self._foreign else self.impl(*raw, **params)
        except Exception as exc:  # name the op, the operands and the user's line
            raise op_error(self, args, params, exc) from exc
        if type(out) is not _ndarray and (not self._foreign or type(out) not in ARRAY_TYPES):
            out = _backend.asarray_like(out, raw)
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
        if nondefault[0]:  # some thread switched a mode: read this thread's state
            st = _state
            record, stack = st.grad_enabled, st.stack
        else:  # the default everywhere: grad on, no interpreter (no per-thread lookup)
            record, stack = True, None
        if (needs or linked) and record:
            # Comparisons, argmax, casts of masks... carry no gradient, but they are
            # recorded too (output requires_grad False), so that graph readers
            # (gg.static's Session.run, draw, explain) see every op a value went through.
            t._rg = diff = needs and self.differentiable
            t._node = node = Node(self, args, params,
                                  tuple([isinstance(a, T) and a._rg for a in args])
                                  if diff else (False,) * len(args),
                                  None, _graph.inplace_epoch)
            if _graph._record_source:
                stamp_site(node, 2)
        else:
            t._rg = False
        if stack:  # forward-mode levels, tracers, anomaly checking: outermost first
            for interp in stack:
                interp.process(self, args, params, t)
        return t

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


class CodegenRule(NamedTuple):
    """What ``Primitive.defcodegen`` declared (see there)."""

    expr: Any
    ufunc: str | None
    out: Any
    inplace: bool
    fresh: bool
    into: Any


class Rewrite(NamedTuple):
    """A simplification's answer: compute the value as ``prim(*inputs, **params)``."""

    prim: Primitive
    inputs: tuple
    params: dict
