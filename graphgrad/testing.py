"""Gradient checks against finite differences, and the op-test harness.

``gradcheck(f, inputs)`` compares the derivatives graphgrad computes (reverse mode through
``vjp``, forward mode through ``jvp``) with central finite differences in float64, to first
and second order. When a check fails, the error names the first op of ``f``'s recorded
graph whose own rule fails the same check at the values it was recorded with, and the
user's source line that created it.

``OpTest`` is the op-test harness: one declaration per op (the graphgrad call, its input
generator, a NumPy reference) drives the forward, backward and double-backward checks.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from .core import engine as _ad
from .core.engine import enable_grad
from .core.graph import format_site
from .core.primitive import Primitive
from .core.tensor import Tensor
from .core.transforms import jvp, vjp
from .ops import concatenate, reshape

__all__ = ["gradcheck", "GradcheckError", "OpTest"]

_MODE_NAMES = {"rev": "reverse mode (vjp)", "fwd": "forward mode (jvp)"}


class GradcheckError(AssertionError):
    """A derivative disagrees with finite differences (an AssertionError)."""


# ------------------------------------------------------------------ helpers ----

def _raw(a):
    return a.data if isinstance(a, Tensor) else a


def _is_diff_input(a) -> bool:
    a = _raw(a)
    if isinstance(a, bool):
        return False
    if isinstance(a, float):
        return True
    return isinstance(a, (np.ndarray, np.generic)) and a.dtype.kind == "f"


def _flatten(out) -> Tensor:
    """Any output (a tensor, a number, a list of tensors) as one 1-D tensor."""
    if isinstance(out, (list, tuple)):
        parts = [_flatten(o) for o in out]
        if not parts:
            return Tensor(np.zeros(0))
        return parts[0] if len(parts) == 1 else concatenate(parts, 0)
    if not isinstance(out, Tensor):
        out = Tensor(np.asarray(out, dtype=np.float64))
    return reshape(out, (-1,))


def _short(a: np.ndarray, n: int = 6) -> str:
    flat = np.asarray(a).ravel()
    body = np.array2string(flat[:n], precision=6, separator=", ")
    return body[:-1] + ", ...]" if flat.size > n else body


class _Problem:
    """``f`` as a map from its floating-point inputs (float64) to a flat output."""

    def __init__(self, f: Callable, inputs: Sequence):
        if not isinstance(inputs, (list, tuple)):
            inputs = (inputs,)
        self.f = f
        self.args = []
        self.pos = []  # positions of the differentiable inputs
        for i, a in enumerate(inputs):
            if _is_diff_input(a):
                self.args.append(np.array(_raw(a), dtype=np.float64))
                self.pos.append(i)
            else:
                self.args.append(_raw(a))
        self.xs = [self.args[i] for i in self.pos]

    def F(self, *xs) -> Tensor:
        args = list(self.args)
        for i, x in zip(self.pos, xs):
            args[i] = x if isinstance(x, Tensor) else Tensor(x)
        return _flatten(self.f(*args))


# ------------------------------------------------------- first-order maps ----

def _first_order_map(F: Callable, mode: str, probe: list[np.ndarray]) -> Callable:
    """x -> J(x)^T v (mode "rev") or x -> J(x) u (mode "fwd"), built with graphgrad ops,
    so that its own derivative can be checked (the second-order test)."""
    if mode == "rev":
        v = probe[0]

        def G(*xs):
            _, fn = vjp(F, *xs)
            return _flatten(list(fn(Tensor(v))))
    else:
        def G(*xs):
            _, t = jvp(F, xs, [Tensor(u) for u in probe])
            return _flatten(t)
    return G


def _fd_jacobian(F: Callable, xs: list[np.ndarray], eps: float) -> np.ndarray:
    """Central differences: a matrix (outputs, total input size)."""
    cols = []
    for i, x in enumerate(xs):
        for j in range(x.size):
            outs = []
            for sign in (1.0, -1.0):
                xi = x.copy()
                xi.flat[j] += sign * eps
                args = list(xs)
                args[i] = xi
                outs.append(np.asarray(F(*args).data, dtype=np.float64))
            cols.append((outs[0] - outs[1]) / (2 * eps))
    if not cols:
        return np.zeros((F(*xs).data.size, 0))
    return np.stack(cols, axis=1)


def _compare(label: str, analytic, numeric, atol: float, rtol: float) -> str | None:
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        return f"{label}: shape {analytic.shape} but finite differences give {numeric.shape}"
    if np.allclose(analytic, numeric, atol=atol, rtol=rtol):
        return None
    with np.errstate(invalid="ignore"):
        err = np.nanmax(np.abs(analytic - numeric)) if analytic.size else 0.0
    return (f"{label}: max |analytic - numeric| = {err:.3g} (atol={atol}, rtol={rtol}); "
            f"analytic {_short(analytic)}, finite differences {_short(numeric)}")


def _derivative_checks(G: Callable, xs: list[np.ndarray], modes, rng, what: str,
                       eps: float, atol: float, rtol: float) -> str | None:
    """Compare G's derivative by each mode in ``modes`` with finite differences."""
    try:
        J = _fd_jacobian(G, xs, eps)
    except Exception as exc:  # the map itself (e.g. a first-order rule) failed to run
        return f"{what}: evaluating it raised {type(exc).__name__}: {exc}"
    m, n = J.shape
    for mode in modes:
        label = f"{what}, {_MODE_NAMES[mode]}"
        try:
            if mode == "rev":
                v = rng.standard_normal(m)
                _, fn = vjp(G, *xs)
                got = _flatten(list(fn(Tensor(v)))).data
                want = v @ J
            else:
                us = [rng.standard_normal(x.shape) for x in xs]
                u = np.concatenate([a.ravel() for a in us]) if us else np.zeros(0)
                _, t = jvp(G, xs, [Tensor(a) for a in us])
                got = _flatten(t).data
                want = J @ u
        except Exception as exc:
            return f"{label}: raised {type(exc).__name__}: {exc}"
        bad = _compare(label, got, want, atol, rtol)
        if bad:
            return bad
    return None


def _check(F: Callable, xs: list[np.ndarray], order: int, modes, eps: float, atol: float,
           rtol: float, seed: int) -> str | None:
    """The first disagreement with finite differences, described; None when all agree."""
    rng = np.random.default_rng(seed)
    bad = _derivative_checks(F, xs, modes, rng, "first derivative", eps, atol, rtol)
    if bad or order < 2:
        return bad
    m = F(*xs).data.size
    for first in modes:
        probe = ([rng.standard_normal(m)] if first == "rev"
                 else [rng.standard_normal(x.shape) for x in xs])
        G = _first_order_map(F, first, probe)
        what = f"second derivative (of the {_MODE_NAMES[first]} map)"
        bad = _derivative_checks(G, xs, modes, rng, what, eps, atol, rtol)
        if bad:
            return bad
    return None


# ------------------------------------------------------ locating the culprit ----

def _describe_node(node) -> str:
    shapes = ", ".join(str(tuple(np.shape(_raw(a)))) for a in node.inputs)
    params = ", ".join(f"{k}={v!r}" for k, v in node.params.items())
    return f"inputs [{shapes}]" + (f", {params}" if params else "")


def _locate(problem: _Problem, order: int, modes, eps, atol, rtol, seed) -> str:
    """Check every op of f's graph locally, in topological order; name the first bad one."""
    xs = [Tensor(x, requires_grad=True) for x in problem.xs]
    try:
        with enable_grad():
            out = problem.F(*xs)
    except Exception as exc:  # pragma: no cover - f ran fine just before
        return f"(could not record f's graph: {type(exc).__name__}: {exc})"
    if not out.requires_grad:
        return "f's output does not depend on its floating-point inputs through any op"
    custom = []  # nodes of custom rules (custom_vjp): no forward to check them against
    for t in _ad._topo_order([out]):
        node = t._node
        if node is not None and not isinstance(node.prim, Primitive):
            custom.append(f"`{node.prim.name}` created at {format_site(node.site)}")
        if node is None or not isinstance(node.prim, Primitive) or not node.prim.differentiable:
            continue
        prim, params = node.prim, node.params
        raw = [_raw(a) for a in node.inputs]
        pos = [i for i, need in enumerate(node.needs) if need and _is_diff_input(raw[i])]
        if not pos:
            continue

        def local(*ds, prim=prim, raw=raw, pos=pos, params=params):
            args = list(raw)
            for i, d in zip(pos, ds):
                args[i] = d
            return _flatten(prim(*args, **params))

        bad = _check(local, [np.array(raw[i], dtype=np.float64) for i in pos], order, modes,
                     eps, atol, rtol, seed)
        if bad:
            return (f"first op whose rule is wrong: `{prim.name}` created at "
                    f"{format_site(node.site)} ({_describe_node(node)}): {bad}")
    if custom:
        return ("every primitive of f's graph passes the same check on its own; suspect the "
                "custom rule " + ", ".join(custom))
    return ("every op of f's graph passes the same check on its own: look at the composition "
            "(a kink or a discontinuity near these inputs)")


# ------------------------------------------------------------------ gradcheck ----

def gradcheck(f: Callable, inputs: Any, order: int = 2, modes: Sequence[str] = ("fwd", "rev"),
              eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4, seed: int = 0) -> bool:
    """Check ``f``'s derivatives against central finite differences, in float64.

    ``inputs`` is one input or a sequence; floating-point arrays, Tensors and floats are
    differentiated (converted to float64), anything else (integer indices, flags) is passed
    unchanged. ``f`` may return a tensor or a list of tensors. Order 1 compares a random
    vector-Jacobian product (``"rev"``) and a random Jacobian-vector product (``"fwd"``)
    with finite differences; order 2 does the same for the first-order maps
    ``x -> vjp(f)(x, v)`` and ``x -> jvp(f)(x, u)``, so reverse-over-reverse,
    forward-over-reverse, reverse-over-forward and forward-over-forward are all covered.

    Returns True; raises ``GradcheckError`` (an AssertionError) naming the first op of
    ``f``'s graph whose rule is wrong, with the source line that created it.

    >>> import numpy as np, graphgrad as gg
    >>> from graphgrad.testing import gradcheck
    >>> gradcheck(lambda x, y: gg.sum(gg.exp(x) * y), [np.ones(3), np.arange(3.0)])
    True
    """
    modes = tuple(modes)
    for m in modes:
        if m not in _MODE_NAMES:
            raise ValueError(f"gradcheck: mode must be 'fwd' or 'rev', got {m!r}")
    if order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order!r}")
    problem = _Problem(f, inputs)
    bad = _check(problem.F, problem.xs, order, modes, eps, atol, rtol, seed)
    if bad is None:
        return True
    where = _locate(problem, order, modes, eps, atol, rtol, seed)
    raise GradcheckError(f"gradcheck failed: {bad}\n{where}")


# ---------------------------------------------------------------- op harness ----

@dataclasses.dataclass
class OpTest:
    """One op-test declaration (as Chainer's op tests): drives forward, backward and
    double-backward checks.

    ``fn(*inputs, **params)`` is the graphgrad call, ``inputs(rng)`` makes its inputs
    (float arrays are differentiated; integer arrays and the like are constants),
    ``reference(*inputs, **params)`` is the NumPy forward (or None).

    >>> import numpy as np, graphgrad as gg
    >>> t = OpTest("tanh", gg.tanh, lambda rng: (rng.standard_normal((2, 3)),), np.tanh)
    >>> t.run()
    """

    name: str
    fn: Callable[..., Any]
    inputs: Callable[[np.random.Generator], tuple]
    reference: Callable[..., Any] | None = None
    params: dict = dataclasses.field(default_factory=dict)
    differentiable: bool = True
    order: int = 2
    modes: tuple = ("fwd", "rev")
    eps: float = 1e-6
    atol: float = 1e-5
    rtol: float = 1e-4
    forward_atol: float = 1e-12
    forward_rtol: float = 1e-10
    seed: int = 0

    def make_inputs(self) -> tuple:
        """The inputs, float arrays in float64 (seeded: the same every call)."""
        rng = np.random.default_rng(self.seed)
        out = []
        for a in self.inputs(rng):
            if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                a = a.astype(np.float64)
            out.append(a)
        return tuple(out)

    def call(self, *inputs):
        """Run the graphgrad op with floats wrapped as Tensors."""
        args = [Tensor(a) if isinstance(a, np.ndarray) else a for a in inputs]
        return self.fn(*args, **self.params)

    def check_forward(self) -> None:
        """Values (and dtypes' kind and shapes) against the NumPy reference."""
        if self.reference is None:
            return
        inputs = self.make_inputs()
        got = self.call(*inputs)
        want = self.reference(*inputs, **self.params)
        gots = got if isinstance(got, (list, tuple)) else [got]
        wants = want if isinstance(want, (list, tuple)) else [want]
        assert len(gots) == len(wants), f"{self.name}: {len(gots)} outputs, want {len(wants)}"
        for g, w in zip(gots, wants):
            g, w = np.asarray(_raw(g)), np.asarray(w)
            assert g.shape == w.shape, f"{self.name}: shape {g.shape}, NumPy gives {w.shape}"
            if w.dtype.kind in "biu":
                np.testing.assert_array_equal(g, w, err_msg=self.name)
            else:
                np.testing.assert_allclose(g, w, atol=self.forward_atol, rtol=self.forward_rtol,
                                           err_msg=self.name)

    def _gradcheck(self, order: int) -> None:
        if not self.differentiable:
            return
        inputs = self.make_inputs()
        gradcheck(lambda *a: self.fn(*a, **self.params), inputs, order=order,
                  modes=self.modes, eps=self.eps, atol=self.atol, rtol=self.rtol,
                  seed=self.seed)

    def check_backward(self) -> None:
        """First derivatives (forward and reverse mode) against finite differences."""
        self._gradcheck(1)

    def check_double_backward(self) -> None:
        """Second derivatives (all four mode pairs) against finite differences."""
        if self.order >= 2:
            self._gradcheck(2)

    def run(self) -> None:
        self.check_forward()
        self.check_backward()
        self.check_double_backward()
