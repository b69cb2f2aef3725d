"""Every primitive compiles: for each primitive in ``gg.PRIMITIVES``, the cases of its
op-table entries are run through ``gg.compile`` (with and without the graph passes) and
the compiled forward, and for differentiable entries the compiled gradient, must equal
eager mode. A primitive without an op-table entry fails here (as in test_ops.py).

The compiled function is traced on one set of inputs and then called on fresh floating
point values: a value frozen at trace time would show up as a mismatch.
"""

from __future__ import annotations

import numpy as np
import pytest
from op_table import ENTRIES

import graphgrad as gg
from graphgrad.core.tensor import Tensor

PRIMS = sorted(gg.PRIMITIVES)


def _entries(name: str) -> list:
    return [e for e in ENTRIES if name in e.covers]


def _leaves(out) -> list:
    """The arrays of a result (a Tensor, an array, a number, or a list/tuple of them)."""
    if isinstance(out, (list, tuple)):
        return [leaf for o in out for leaf in _leaves(o)]
    if isinstance(out, Tensor):
        return [out.data]
    return [np.asarray(out)]


def _assert_same(got, want, what: str) -> None:
    got, want = _leaves(got), _leaves(want)
    assert len(got) == len(want), f"{what}: {len(got)} results, eager gives {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"{what}: result {i} has shape {g.shape}, eager {w.shape}"
        assert g.dtype == w.dtype, f"{what}: result {i} has dtype {g.dtype}, eager {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, equal_nan=True,
                                   err_msg=f"{what}: result {i}")


def _floats(inputs) -> list:
    return [i for i, a in enumerate(inputs) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]


def _fresh(inputs, seed: int) -> tuple:
    """The same inputs with new values in the float arrays (same shapes, same domain)."""
    rng = np.random.default_rng(seed)
    out = list(inputs)
    for i in _floats(inputs):
        a = inputs[i]
        # a small multiplicative nudge keeps each value in its domain (positive stays
        # positive, away from kinks stays away) and ties stay ties
        out[i] = a * rng.uniform(0.97, 1.03, a.shape)
    return tuple(out)


def _forward(entry, test, optimize: bool):
    """Compile the entry's forward; return (compiled fn, the graph it ran)."""
    params = test.params
    f = gg.compile(lambda *a: entry.fn(*a, **params), optimize=optimize)
    inputs = test.make_inputs()
    _assert_same(f(*inputs), entry.fn(*inputs, **params), f"{test.name} (traced run)")
    fresh = _fresh(inputs, test.seed + 1)
    _assert_same(f(*fresh), entry.fn(*fresh, **params),
                 f"{test.name} compiled (optimize={optimize})")
    return f


def _loss_fn(entry, test, inputs):
    """A scalar of the entry's float inputs: each result weighted by a fixed array."""
    pos = _floats(inputs)
    eager = entry.fn(*inputs, **test.params)
    rng = np.random.default_rng(test.seed + 2)
    weights = [rng.uniform(0.5, 1.5, w.shape) for w in _leaves(eager)]

    def loss(*xs):
        a = list(inputs)
        for i, x in zip(pos, xs):
            a[i] = x
        outs = entry.fn(*a, **test.params)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        total = 0.0
        for o, w in zip(outs, weights):
            total = total + gg.sum(o * w)
        return total

    return loss, [inputs[i] for i in pos]


def _gradient(entry, test, optimize: bool):
    inputs = test.make_inputs()
    loss, xs = _loss_fn(entry, test, inputs)
    if not xs:
        return None
    grad = gg.grad(loss, tuple(range(len(xs))))
    f = gg.compile(grad, optimize=optimize)
    xs = [Tensor(x) for x in xs]
    _assert_same(f(*xs), grad(*xs), f"{test.name}: gradient (traced run)")
    fresh = [Tensor(x) for x in _fresh(tuple(x.data for x in xs), test.seed + 3)]
    _assert_same(f(*fresh), grad(*fresh), f"{test.name}: compiled gradient "
                 f"(optimize={optimize})")
    return f


def test_every_primitive_has_an_entry_to_compile():
    missing = [n for n in PRIMS if not _entries(n)]
    assert not missing, f"primitives with no op-table entry to compile: {missing}"


@pytest.mark.parametrize("name", PRIMS)
def test_primitive_compiles_and_matches_eager(name):
    entries = _entries(name)
    assert entries, f"{name}: no entry in tests/op_table.py covers it"
    emitted = False  # the primitive reached code generation in at least one case
    for entry in entries:
        for _, test in entry.cases():
            for optimize in (False, True):
                f = _forward(entry, test, optimize)
                emitted |= not optimize and f.graph.count(name) > 0
                if entry.differentiable and gg.PRIMITIVES[name].differentiable:
                    g = _gradient(entry, test, optimize)
                    emitted |= g is not None and not optimize and g.graph.count(name) > 0
    assert emitted, f"{name}: no case of its entries put it in a compiled graph"
