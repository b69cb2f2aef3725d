"""Op tests driven by the table in op_table.py: forward vs NumPy, derivatives vs finite
differences (float64, order 2, forward and reverse mode), values and derivatives vs
torch.autograd; and the checks that every primitive is in the table and has its rules.

Without torch everything but ``test_matches_torch`` runs (torch is only an oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from op_table import ENTRIES, NOT_OPS

import graphgrad as gg
import graphgrad.ops as gg_ops
from graphgrad.core import engine as autodiff
from graphgrad.core.primitive import Primitive
from graphgrad.testing import CheckReport, GradcheckError, OpTest, gradcheck

try:
    import torch
except ImportError:  # the torch comparisons skip (marked `torch`); the rest runs
    torch = None

CASES = [(entry, cid, test) for entry in ENTRIES for cid, test in entry.cases()]
IDS = [cid for _, cid, _ in CASES]
DIFF_CASES = [c for c in CASES if c[0].differentiable]
DIFF_IDS = [cid for _, cid, _ in DIFF_CASES]


# ------------------------------------------------------------------ coverage ----

def _covered() -> set:
    return {name for e in ENTRIES for name in e.covers}


def test_every_primitive_has_a_table_entry():
    missing = sorted(set(gg.PRIMITIVES) - _covered())
    assert not missing, f"primitives with no entry in tests/op_table.py: {missing}"


def test_every_differentiable_primitive_has_vjp_and_jvp_rules():
    no_vjp = sorted(n for n, p in gg.PRIMITIVES.items() if p.differentiable and not p.has_vjp)
    no_jvp = sorted(n for n, p in gg.PRIMITIVES.items() if p.differentiable and not p.has_jvp)
    assert not no_vjp, f"differentiable primitives without a VJP rule: {no_vjp}"
    assert not no_jvp, f"differentiable primitives without a JVP rule: {no_jvp}"


def test_every_public_op_has_a_table_entry():
    covered = _covered()
    covered_objs = {id(getattr(gg_ops, n)) for n in covered if hasattr(gg_ops, n)}
    public = [n for n in dir(gg_ops) if not n.startswith("_") and n not in NOT_OPS
              and callable(getattr(gg_ops, n)) and not isinstance(getattr(gg_ops, n), type)]
    missing = sorted(n for n in public
                     if n not in covered and id(getattr(gg_ops, n)) not in covered_objs)
    assert not missing, f"public ops with no entry in tests/op_table.py: {missing}"


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.differentiable],
                         ids=lambda e: e.name)
def test_entry_exercises_the_primitives_it_claims(entry):
    """An entry must really record the primitives it says it covers."""
    _, test = entry.cases()[0]
    args = [gg.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
            else a for a in test.make_inputs()]
    out = entry.fn(*args, **test.params)
    outs = out if isinstance(out, (list, tuple)) else [out]
    seen = {t._node.prim.name for t in autodiff._topo_order([o for o in outs if o.requires_grad])
            if t._node is not None}
    claimed = {n for n in entry.covers if n in gg.PRIMITIVES}
    assert claimed <= seen, f"{entry.name}: claims {sorted(claimed - seen)} but records {seen}"


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.differentiable
                                   and not e.name.startswith("astype")], ids=lambda e: e.name)
def test_float32_stays_float32_in_every_derivative(entry):
    """float32 inputs: output, reverse-mode, forward-mode and second derivatives stay float32."""
    _, test = entry.cases()[0]
    args = [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
            for a in test.make_inputs()]
    pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]

    def f(*xs):
        a = list(args)
        for i, x in zip(pos, xs):
            a[i] = x
        out = entry.fn(*a, **test.params)
        return _sum_dot([gg.sum(o) for o in _flat_gg(out)], 0.0)

    xs = [args[i] for i in pos]
    argnums = tuple(range(len(xs)))
    value, grads = gg.value_and_grad(f, argnums)(*xs)
    _, tangent = gg.jvp(f, xs, [np.ones_like(x) for x in xs])
    second = gg.grad(lambda *x: gg.sum(gg.grad(f, argnums)(*x)[0]), 0)(*xs)
    dtypes = [value.dtype, tangent.dtype, second.dtype] + [g.dtype for g in grads]
    assert all(d == np.float32 for d in dtypes), f"{entry.name}: {dtypes}"


# ------------------------------------------------------------ table-driven ----

@pytest.mark.parametrize("entry,cid,test", CASES, ids=IDS)
def test_forward_matches_numpy(entry, cid, test):
    assert entry.ref is not None, f"{cid}: no NumPy reference"
    report = test.check_forward()  # raises on a mismatch
    assert report.check == "forward" and report, report


@pytest.mark.parametrize("entry,cid,test", DIFF_CASES, ids=DIFF_IDS)
def test_derivatives_match_finite_differences(entry, cid, test):
    """First and second derivatives, forward and reverse mode (all four pairs)."""
    report = test.check_derivatives()  # raises GradcheckError on a mismatch
    # what was compared: each mode at first order, each pair of modes at second order
    want = len(test.modes) * (1 + len(test.modes) * (test.order >= 2))
    assert len(report.comparisons) == want, report.comparisons


def _to_torch(a):
    if isinstance(a, np.ndarray):
        t = torch.from_numpy(a.copy())
        return t.requires_grad_(True) if a.dtype.kind == "f" else t
    return a


def _to_gg(a):
    if isinstance(a, np.ndarray):
        return gg.tensor(a, requires_grad=a.dtype.kind == "f")
    return a


def _flat_gg(out):
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [o if isinstance(o, gg.Tensor) else gg.tensor(np.asarray(o)) for o in outs]


def _flat_torch(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _sum_dot(terms, zero):
    total = zero
    for t in terms:
        total = total + t
    return total


@pytest.mark.torch
@pytest.mark.parametrize("entry,cid,test", CASES, ids=IDS)
def test_matches_torch(entry, cid, test):
    """Values, first derivatives (a random VJP) and second derivatives (a random
    Hessian-vector product of that VJP) equal torch.autograd's, in float64."""
    assert entry.torch is not None, f"{cid}: no PyTorch reference"
    inputs = test.make_inputs()
    g_in = [_to_gg(a) for a in inputs]
    t_in = [_to_torch(a) for a in inputs]
    g_out = _flat_gg(entry.fn(*g_in, **test.params))
    t_out = _flat_torch(entry.torch(*t_in, **test.params))
    assert len(g_out) == len(t_out)
    for g, t in zip(g_out, t_out):
        tv = t.detach().numpy(force=True)
        assert g.shape == tv.shape, f"{cid}: shape {g.shape}, torch gives {tv.shape}"
        np.testing.assert_allclose(g.numpy(), tv, rtol=1e-9, atol=1e-12, err_msg=cid)
    if not entry.differentiable:
        return
    rng = np.random.default_rng(test.seed + 1)
    g_x = [a for a in g_in if isinstance(a, gg.Tensor) and a.requires_grad]
    t_x = [a for a in t_in if isinstance(a, torch.Tensor) and a.requires_grad]
    vs = [rng.standard_normal(g.shape) for g in g_out]
    ws = [rng.standard_normal(x.shape) for x in g_x]

    # first order: d <out, v> / dx
    g_s = _sum_dot([gg.sum(o * v) for o, v in zip(g_out, vs)], gg.tensor(0.0, dtype="float64"))
    t_s = _sum_dot([(o * torch.from_numpy(v)).sum() for o, v in zip(t_out, vs)],
                   torch.zeros((), dtype=torch.float64))
    g_g = gg.grad_of(g_s, g_x, create_graph=True) if g_s.requires_grad else \
        [gg.zeros(x.shape, dtype="float64") for x in g_x]
    t_g = torch.autograd.grad(t_s, t_x, create_graph=True, allow_unused=True)
    t_g = [torch.zeros_like(x) if g is None else g for g, x in zip(t_g, t_x)]
    for i, (g, t) in enumerate(zip(g_g, t_g)):
        np.testing.assert_allclose(g.numpy(), t.detach().numpy(force=True), rtol=1e-8, atol=1e-10,
                                   err_msg=f"{cid}: gradient of input {i}")

    # second order: d <d<out, v>/dx, w> / dx
    g_s2 = _sum_dot([gg.sum(g * w) for g, w in zip(g_g, ws)], gg.tensor(0.0, dtype="float64"))
    t_s2 = _sum_dot([(g * torch.from_numpy(w)).sum() for g, w in zip(t_g, ws)],
                    torch.zeros((), dtype=torch.float64))
    g_h = gg.grad_of(g_s2, g_x, allow_unused=True) if g_s2.requires_grad else [None] * len(g_x)
    t_h = (torch.autograd.grad(t_s2, t_x, allow_unused=True) if t_s2.requires_grad
           else [None] * len(t_x))
    for i, (g, t, x) in enumerate(zip(g_h, t_h, g_x)):
        g = np.zeros(x.shape) if g is None else g.numpy()
        t = np.zeros(x.shape) if t is None else t.numpy(force=True)
        np.testing.assert_allclose(g, t, rtol=1e-8, atol=1e-10,
                                   err_msg=f"{cid}: second derivative, input {i}")


# ------------------------------------------------- gradcheck finds bad rules ----

def _bad_primitive(name, vjp, jvp):
    """A throwaway primitive x -> x * x with the given rules (removed after the test)."""
    return Primitive(name, lambda x: x * x).defvjp(vjp).defjvp(jvp)


@pytest.fixture
def planted():
    made = []

    def make(name, vjp, jvp):
        p = _bad_primitive(name, vjp, jvp)
        made.append(name)
        return p

    yield make
    for name in made:
        gg.PRIMITIVES.pop(name, None)


def _raises_naming(f, inputs, name, **kw):
    with pytest.raises(GradcheckError) as info:
        gradcheck(f, inputs, **kw)
    msg = str(info.value)
    assert f"first op whose rule is wrong: `{name}`" in msg, msg
    return msg


def test_gradcheck_names_the_op_with_a_wrong_vjp(planted):
    bad = planted("test_gradcheck_bad_vjp_square", lambda g, out, x: g * x,  # misses the 2
                  lambda t, out, x: 2 * t * x)

    def f(x):
        h = gg.sin(x) * 3
        y = bad(h)  # the culprit's line
        return gg.sum(gg.exp(gg.tanh(y)))

    msg = _raises_naming(f, [np.linspace(0.1, 0.9, 4)], "test_gradcheck_bad_vjp_square")
    line = f.__code__.co_firstlineno + 2
    assert f"test_ops.py:{line}" in msg, msg
    assert "reverse mode" in msg
    assert "`sin`" not in msg and "`exp`" not in msg


def test_gradcheck_names_the_op_with_a_wrong_jvp(planted):
    bad = planted("test_gradcheck_bad_jvp_square", lambda g, out, x: 2 * g * x,
                  lambda t, out, x: t * x)  # misses the 2
    f = lambda x: gg.mean(bad(gg.exp(x)))
    msg = _raises_naming(f, [np.linspace(-1.0, 1.0, 3)], "test_gradcheck_bad_jvp_square")
    assert "forward mode" in msg
    # reverse mode alone is right
    assert gradcheck(f, [np.linspace(-1.0, 1.0, 3)], order=2, modes=("rev",))


def test_gradcheck_names_a_rule_wrong_only_at_second_order(planted):
    # the VJP is right in value but reads the raw data: its own derivative is lost
    bad = planted("test_gradcheck_bad_second_order",
                  lambda g, out, x: g * 2 * gg.tensor(x.data if isinstance(x, gg.Tensor) else x),
                  lambda t, out, x: 2 * t * x)
    f = lambda x: gg.sum(gg.sin(bad(x)))
    x = [np.array([0.3, -0.7, 1.1])]
    assert gradcheck(f, x, order=1)
    msg = _raises_naming(f, x, "test_gradcheck_bad_second_order", order=2)
    assert "second derivative" in msg


def test_gradcheck_accepts_constant_inputs_and_list_outputs():
    idx = np.array([2, 0, 2])
    f = lambda x, i: gg.split(gg.index_select(x, 0, i) * x[:1], 3, axis=0)
    assert gradcheck(f, [np.arange(1.0, 4.0), idx])


def test_gradcheck_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode must be 'fwd' or 'rev', got 'sideways'"):
        gradcheck(gg.exp, [np.ones(2)], modes=("sideways",))
    with pytest.raises(ValueError, match="order must be 1 or 2, got 3"):
        gradcheck(gg.exp, [np.ones(2)], order=3)


def test_op_harness_catches_a_wrong_reference():
    t = OpTest("exp-vs-wrong", gg.exp, lambda rng: (rng.standard_normal(3),), np.expm1)
    with pytest.raises(AssertionError, match="exp-vs-wrong"):
        t.check_forward()
    reports = OpTest("exp", gg.exp, lambda rng: (rng.standard_normal(3),), np.exp).run()
    assert [r.check for r in reports] == ["forward", "first derivatives", "second derivatives"]
    assert all(reports) and all(r.max_error < 1e-5 for r in reports), reports


def test_op_harness_catches_a_wrong_rule(planted):
    bad = planted("test_harness_bad_vjp", lambda g, out, x: g * x,  # misses the 2
                  lambda t, out, x: 2 * t * x)
    t = OpTest("square", bad, lambda rng: (rng.standard_normal(3),), np.square)
    assert t.check_forward()
    with pytest.raises(GradcheckError, match="test_harness_bad_vjp"):
        t.check_backward()
    with pytest.raises(GradcheckError, match="reverse mode"):
        t.run()


def test_op_harness_refuses_checks_that_would_compare_nothing():
    no_ref = OpTest("exp", gg.exp, lambda rng: (rng.standard_normal(3),))
    with pytest.raises(ValueError, match="no NumPy reference"):
        no_ref.check_forward()
    flat = OpTest("sign", gg.sign, lambda rng: (rng.standard_normal(3),), differentiable=False)
    with pytest.raises(ValueError, match="not differentiable"):
        flat.check_backward()
    with pytest.raises(ValueError, match="nothing to check"):
        flat.run()
    first = OpTest("exp", gg.exp, lambda rng: (rng.standard_normal(3),), order=1)
    with pytest.raises(ValueError, match="order 1"):
        first.check_double_backward()
    assert len(first.check_derivatives().comparisons) == 2
    ints = OpTest("neg", gg.neg, lambda rng: (rng.integers(0, 5, 3),))
    with pytest.raises(ValueError, match="no floating-point input"):
        ints.check_backward()
    assert not CheckReport("x", "forward")  # an empty report is falsy


def test_gradcheck_refuses_to_compare_nothing():
    with pytest.raises(ValueError, match="no floating-point input"):
        gradcheck(lambda i: gg.sum(i * 2), [np.arange(3)])
    with pytest.raises(ValueError, match="modes is empty"):
        gradcheck(gg.exp, [np.ones(2)], modes=())


def test_astype_gradient_keeps_the_input_dtype():
    x = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    gg.sum(gg.astype(x, dtype=gg.float32) * 3).backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_gradcheck_is_reachable_as_gg_testing():
    import subprocess
    import sys
    code = ("import numpy as np, graphgrad as gg\n"
            "print(gg.testing.gradcheck(lambda x: gg.tanh(x) * x, [np.array([0.3, -0.2])]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_erf_matches_the_standard_library_across_its_series():
    import math
    # dense across both series and their joins at |x| = 2 and 6, plus the far tails
    x = np.concatenate([np.linspace(-7.0, 7.0, 20001), [0.0, 1e-300, -3e-9, 2.0, -6.0, 40.0]])
    ref = np.array([math.erf(v) for v in x])
    ours = gg.erf(x)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, ref, rtol=1e-14, atol=1e-15)
    special = gg.erf(np.array([np.inf, -np.inf, np.nan]))
    assert special[0] == 1.0 and special[1] == -1.0 and np.isnan(special[2])
    x32 = x.astype(np.float32)
    out32 = gg.erf(x32)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, [math.erf(float(v)) for v in x32], atol=3e-7)
    assert gg.erf(np.float64(0.5)).shape == ()
    assert abs(gg.erf(np.array(0.5)) - math.erf(0.5)) < 1e-15
