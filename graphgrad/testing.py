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
from .core.graph import format_site
from .core.primitive import Primitive
from .core.state import enable_grad
from .core.tensor import Tensor
from .core.transforms import jvp, vjp
from .ops import concatenate, reshape

__all__ = ["gradcheck", "GradcheckError", "OpTest", "CheckReport"]

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


def _compare(label: str, analytic, numeric, atol: float, rtol: float,
             log: list | None = None) -> str | None:
    """None when ``analytic`` and ``numeric`` agree, else what differs. Each comparison
    made is appended to ``log`` as (label, max abs error), so a caller can show that
    something really was compared (an empty Jacobian compares nothing)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        return f"{label}: shape {analytic.shape} but finite differences give {numeric.shape}"
    with np.errstate(invalid="ignore"):
        err = float(np.max(np.abs(analytic - numeric))) if analytic.size else 0.0
    if log is not None:
        log.append((label, err))
    if np.allclose(analytic, numeric, atol=atol, rtol=rtol):
        return None
    return (f"{label}: max |analytic - numeric| = {err:.3g} (atol={atol}, rtol={rtol}); "
            f"analytic {_short(analytic)}, finite differences {_short(numeric)}")


def _derivative_checks(G: Callable, xs: list[np.ndarray], modes, rng, what: str,
                       eps: float, atol: float, rtol: float, log=None) -> str | None:
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
        bad = _compare(label, got, want, atol, rtol, log)
        if bad:
            return bad
    return None


def _check(F: Callable, xs: list[np.ndarray], order: int, modes, eps: float, atol: float,
           rtol: float, seed: int, log=None) -> str | None:
    """The first disagreement with finite differences, described; None when all agree."""
    rng = np.random.default_rng(seed)
    bad = _derivative_checks(F, xs, modes, rng, "first derivative", eps, atol, rtol, log)
    if bad or order < 2:
        return bad
    m = F(*xs).data.size
    for first in modes:
        probe = ([rng.standard_normal(m)] if first == "rev"
                 else [rng.standard_normal(x.shape) for x in xs])
        G = _first_order_map(F, first, probe)
        what = f"second derivative (of the {_MODE_NAMES[first]} map)"
        bad = _derivative_checks(G, xs, modes, rng, what, eps, atol, rtol, log)
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

def _run_gradcheck(f: Callable, inputs: Any, order: int, modes: Sequence[str], eps: float,
                   atol: float, rtol: float, seed: int) -> list[tuple[str, float]]:
    """gradcheck's work: the comparisons made, as (label, max abs error); raises on the
    first mismatch."""
    modes = tuple(modes)
    for m in modes:
        if m not in _MODE_NAMES:
            raise ValueError(f"gradcheck: mode must be 'fwd' or 'rev', got {m!r}")
    if not modes:
        raise ValueError("gradcheck: modes is empty, so nothing would be checked")
    if order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order!r}")
    problem = _Problem(f, inputs)
    if not problem.xs:
        # with nothing to differentiate every comparison is of empty arrays: a pass that
        # could not have failed
        kinds = [type(_raw(a)).__name__ for a in problem.args]
        raise ValueError(f"gradcheck: no floating-point input to differentiate (inputs: "
                         f"{kinds}); pass float arrays, Tensors or floats")
    log: list[tuple[str, float]] = []
    bad = _check(problem.F, problem.xs, order, modes, eps, atol, rtol, seed, log)
    if bad is None:
        return log
    where = _locate(problem, order, modes, eps, atol, rtol, seed)
    raise GradcheckError(f"gradcheck failed: {bad}\n{where}")


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
    ``f``'s graph whose rule is wrong, with the source line that created it, and
    ``ValueError`` when there is nothing to check (no floating-point input, no mode).

    >>> import numpy as np, graphgrad as gg
    >>> from graphgrad.testing import gradcheck
    >>> gradcheck(lambda x, y: gg.sum(gg.exp(x) * y), [np.ones(3), np.arange(3.0)])
    True
    """
    _run_gradcheck(f, inputs, order, modes, eps, atol, rtol, seed)
    return True


# ---------------------------------------------------------------- op harness ----

@dataclasses.dataclass(frozen=True)
class CheckReport:
    """What one ``OpTest`` check compared: one ``(label, max abs error)`` per comparison.

    A check that finds a mismatch raises (an AssertionError); one that returns says what
    it compared, so a test can assert that something was (``assert report``: a check that
    compared nothing is falsy).

    >>> r = CheckReport("tanh", "forward", (("output 0", 0.0),))
    >>> bool(r), r.max_error
    (True, 0.0)
    """

    op: str
    check: str
    comparisons: tuple = ()

    def __bool__(self) -> bool:
        return len(self.comparisons) > 0

    @property
    def max_error(self) -> float:
        """The largest absolute difference seen (0.0 when nothing was compared)."""
        return max((e for _, e in self.comparisons), default=0.0)

    def __str__(self) -> str:
        if not self.comparisons:
            return f"{self.op}: {self.check}: nothing compared"
        return (f"{self.op}: {self.check}: {len(self.comparisons)} comparisons, "
                f"max |error| {self.max_error:.3g}")


def _fail(msg: str) -> None:
    # an explicit raise, not `assert`: the checks must hold under `python -O` too
    raise AssertionError(msg)


@dataclasses.dataclass
class OpTest:
    """One op-test declaration (as Chainer's op tests): drives forward, backward and
    double-backward checks.

    ``fn(*inputs, **params)`` is the graphgrad call, ``inputs(rng)`` makes its inputs
    (float arrays are differentiated; integer arrays and the like are constants),
    ``reference(*inputs, **params)`` is the NumPy forward (or None). Each check raises
    an AssertionError on a mismatch (``GradcheckError`` for derivatives), a ValueError
    when it has nothing to compare against, and otherwise returns a ``CheckReport``.

    >>> import numpy as np, graphgrad as gg
    >>> t = OpTest("tanh", gg.tanh, lambda rng: (rng.standard_normal((2, 3)),), np.tanh)
    >>> [str(r).split(":")[1].strip() for r in t.run()]
    ['forward', 'first derivatives', 'second derivatives']
    >>> t.check_forward().max_error < 1e-15
    True
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

    def check_forward(self) -> CheckReport:
        """Values (and dtypes' kind and shapes) against the NumPy reference."""
        if self.reference is None:
            raise ValueError(f"{self.name}: no NumPy reference to check the forward against")
        inputs = self.make_inputs()
        got = self.call(*inputs)
        want = self.reference(*inputs, **self.params)
        gots = got if isinstance(got, (list, tuple)) else [got]
        wants = want if isinstance(want, (list, tuple)) else [want]
        if len(gots) != len(wants):
            _fail(f"{self.name}: {len(gots)} outputs, NumPy gives {len(wants)}")
        done = []
        for i, (g, w) in enumerate(zip(gots, wants)):
            g, w = np.asarray(_raw(g)), np.asarray(w)
            if g.shape != w.shape:
                _fail(f"{self.name}: output {i} has shape {g.shape}, NumPy gives {w.shape}")
            if w.dtype.kind in "biu":
                np.testing.assert_array_equal(g, w, err_msg=self.name)
                err = float(np.any(g != w))
            else:
                np.testing.assert_allclose(g, w, atol=self.forward_atol, rtol=self.forward_rtol,
                                           err_msg=self.name)
                with np.errstate(invalid="ignore"):
                    diff = np.abs(g.astype(np.float64) - w.astype(np.float64))
                err = float(np.nanmax(diff)) if diff.size and not np.all(np.isnan(diff)) \
                    else 0.0
            done.append((f"output {i} {w.shape}", err))
        return CheckReport(self.name, "forward", tuple(done))

    def _gradcheck(self, order: int, what: str) -> CheckReport:
        if not self.differentiable:
            raise ValueError(f"{self.name}: declared not differentiable; no {what} to check")
        inputs = self.make_inputs()
        log = _run_gradcheck(lambda *a: self.fn(*a, **self.params), inputs, order,
                             self.modes, self.eps, self.atol, self.rtol, self.seed)
        return CheckReport(self.name, what, tuple(log))

    def check_backward(self) -> CheckReport:
        """First derivatives (forward and reverse mode) against finite differences."""
        return self._gradcheck(1, "first derivatives")

    def check_double_backward(self) -> CheckReport:
        """Second derivatives (all four mode pairs) against finite differences; the first
        derivatives are compared on the way."""
        if self.order < 2:
            raise ValueError(f"{self.name}: declared order {self.order}; no second "
                             "derivatives to check")
        return self._gradcheck(2, "second derivatives")

    def check_derivatives(self) -> CheckReport:
        """Every derivative the declaration promises: up to ``order``."""
        return self.check_double_backward() if self.order >= 2 else self.check_backward()

    def run(self) -> list[CheckReport]:
        """Every check that applies to the declaration; their reports."""
        reports = []
        if self.reference is not None:
            reports.append(self.check_forward())
        if self.differentiable:
            reports.append(self.check_backward())
            if self.order >= 2:
                reports.append(self.check_double_backward())
        if not reports:
            raise ValueError(f"{self.name}: no reference and not differentiable: nothing "
                             "to check")
        return reports
