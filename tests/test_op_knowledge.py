"""Per-op knowledge lives on the primitive (codegen template, algebraic identities, error
diagnosis), and the ops added to prove it (atan2, logaddexp, hypot, clamp with tensor
bounds) behave at their edges: ties, the origin, huge values, bad shapes."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.compiler import codegen, passes
from graphgrad.core import errors
from graphgrad.core.primitive import PRIMITIVES, Primitive, Rewrite
from graphgrad.ops._simplify import unit

try:  # torch is only a test oracle: without it the torch comparisons skip
    import torch
except ImportError:
    torch = None


# ------------------------------------------------- no tables keyed by op names ----

@pytest.mark.parametrize("module", [codegen, passes, errors], ids=lambda m: m.__name__)
def test_no_table_keyed_by_primitive_names(module):
    """Knowledge about an op is declared on it, not in a table of another file."""
    names = set(PRIMITIVES)
    for attr, value in vars(module).items():
        if attr.startswith("__"):
            continue
        if isinstance(value, (dict, set, frozenset)):
            keyed = names & {k for k in value if isinstance(k, str)}
            assert not keyed, f"{module.__name__}.{attr} is keyed by op names: {sorted(keyed)}"


def test_primitive_declares_no_family():
    assert not hasattr(gg.PRIMITIVES["add"], "family")
    assert not hasattr(errors, "register_diagnosis")


# ------------------------------------- a new op needs its own declaration only ----

@pytest.fixture
def cube():
    """A throwaway primitive x**3 declared with everything compile and errors read."""
    def diagnose(prim, args, params):
        return f"cannot cube {errors.describe(args[0])}"

    p = Primitive("cube_for_test", lambda x, scale: np.power(x, 3) * scale).defvjp(
        lambda g, out, x, scale: g * 3 * scale * x * x,
    ).defjvp(
        lambda t, out, x, scale: t * 3 * scale * x * x,
    ).defcodegen("np.power({0}, 3) * {scale}").defsimplify(
        lambda out, x, scale: None,  # declines: the next rule is asked
    ).defsimplify(
        lambda out, x, scale: Rewrite(PRIMITIVES["mul"], (x, 0.0), {}) if scale == 0 else None,
    ).defdiagnose(diagnose)
    yield p
    del PRIMITIVES["cube_for_test"]


def test_new_primitive_compiles_with_its_own_template(cube):
    f = gg.compile(lambda x: cube(x, scale=2.0) + 1.0)
    x = gg.tensor(np.array([1.0, -2.0, 0.5]))
    np.testing.assert_allclose(f(x).data, 2 * x.data ** 3 + 1)
    assert "np.power(x, 3) * 2.0" in f.source
    g = gg.compile(gg.grad(lambda x: gg.sum(cube(x, scale=2.0))))
    np.testing.assert_allclose(g(x).data, 6 * x.data ** 2)


def test_new_primitive_simplification_rewrites_it(cube):
    f = gg.compile(lambda x: cube(x, scale=0.0) + 1.0)
    x = gg.tensor(np.array([1.0, -2.0]))
    np.testing.assert_allclose(f(x).data, [1.0, 1.0])
    assert f.graph.count("cube_for_test") == 0 and f.graph.count("mul") == 1


def test_new_primitive_diagnosis_names_op_and_operands(cube):
    with pytest.raises(gg.ShapeError, match=r"cube_for_test: cannot cube \(2,\) <U1"):
        cube(gg.tensor(np.array(["a", "b"])), scale=1.0)


def test_simplification_rules_are_asked_in_turn():
    """add's rule drops x + 0 on either side; the graph keeps only the exp."""
    f = gg.compile(lambda x: 0.0 + gg.exp(x) + 0.0)
    x = gg.tensor(np.array([0.0, 1.0]))
    np.testing.assert_allclose(f(x).data, np.exp(x.data))
    assert f.graph.count("add") == 0 and f.graph.count("exp") == 1


def test_unit_rule_keeps_a_broadcasting_operation():
    """x * ones((2, 3)) with x of shape (3,) broadcasts: it must not be simplified away."""
    rule = unit(1, commutative=True)

    class V:  # a traced value, as the rules see it
        def __init__(self, shape, kind="op", value=None):
            self.shape, self.dtype, self.kind, self.value, self._node = (
                shape, np.dtype("float64"), kind, value, None)

    x = V((3,))
    ones = V((2, 3), "const", np.ones((2, 3)))
    assert rule(V((2, 3)), x, ones) is None
    assert rule(V((3,)), x, 1.0) is x
    assert rule(V((3,)), 1, x) is x


def test_transpose_chain_of_three_becomes_one():
    f = gg.compile(lambda x: gg.exp(gg.transpose(gg.transpose(gg.transpose(
        x, (1, 2, 0)), (1, 2, 0)), (2, 0, 1))))
    x = gg.tensor(np.arange(24.0).reshape(2, 3, 4))
    want = np.exp(np.transpose(x.data, (1, 2, 0)))
    np.testing.assert_allclose(f(x).data, want)
    assert f.graph.count("transpose") == 1


def test_generated_module_binds_np_to_the_backend_module():
    f = gg.compile(lambda x: gg.atan2(x, 2.0))
    f(gg.tensor(np.ones(3)))
    assert "import numpy as np" in f.source


def test_new_ufuncs_compile_to_numpy_calls_and_reuse_buffers():
    f = gg.compile(lambda x, y: gg.hypot(gg.logaddexp(gg.atan2(x, y) * 2, y), x) + 1)
    x, y = gg.tensor(np.linspace(0.5, 1, 6).reshape(2, 3)), gg.tensor(np.ones((2, 3)))
    want = np.hypot(np.logaddexp(np.arctan2(x.data, y.data) * 2, y.data), x.data) + 1
    np.testing.assert_allclose(f(x, y).data, want)
    src = f.source
    assert "np.arctan2(x, y, out=" in src and "np.logaddexp(" in src and "np.hypot(" in src
    assert "out=" in src  # dead intermediates lend their buffers


def test_softplus_compiles_to_one_numpy_call():
    f = gg.compile(lambda x: gg.softplus(x) * 2)
    x = gg.tensor(np.array([-800.0, 0.0, 800.0], dtype=np.float32))
    got = f(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.data, 2 * np.logaddexp(0, x.data.astype(np.float64)),
                               rtol=1e-6)
    assert "np.logaddexp(0.0, x, out=" in f.source and "def _softplus_impl" not in f.source


# -------------------------------------------------------- clamp with tensor bounds ----

def _grads_gg(x, lo, hi):
    ts = [gg.tensor(a, requires_grad=True) if a is not None else None for a in (x, lo, hi)]
    out = gg.clamp(ts[0], ts[1], ts[2])
    gg.sum(out * np.arange(1.0, out.numel() + 1).reshape(out.shape)).backward()
    return out.data, [t.grad.data if t is not None and t.grad is not None
                      else (np.zeros(np.shape(a)) if a is not None else None)
                      for t, a in zip(ts, (x, lo, hi))]


def _grads_torch(x, lo, hi):
    ts = [torch.tensor(a, requires_grad=True) if a is not None else None for a in (x, lo, hi)]
    out = torch.clamp(ts[0], min=ts[1], max=ts[2])
    (out * torch.arange(1.0, out.numel() + 1, dtype=out.dtype).reshape(out.shape)).sum() \
        .backward()
    return out.detach().numpy(), [t.grad.numpy() if t is not None and t.grad is not None
                                  else (np.zeros(np.shape(a)) if a is not None else None)
                                  for t, a in zip(ts, (x, lo, hi))]


TIES = {
    "x at lo, x at hi": (np.array([0.0, 1.0, 0.5, -1.0, 2.0]), np.zeros(5), np.ones(5)),
    "lo == hi": (np.array([0.0, 1.0, -1.0]), np.zeros(3), np.zeros(3)),
    "lo > hi": (np.array([0.0, 1.0, 0.5, 3.0, -3.0]), np.ones(5), np.zeros(5)),
    "lo only, ties": (np.array([0.0, -1.0, 1.0]), np.zeros(3), None),
    "hi only, ties": (np.array([0.0, -1.0, 1.0]), None, np.zeros(3)),
    "broadcast bounds": (np.array([[0.0, 1.0, 2.0], [-1.0, 0.5, 3.0]]), np.array([0.0]),
                         np.array([[1.0], [0.5]])),
}


@pytest.mark.torch
@pytest.mark.parametrize("case", list(TIES), ids=list(TIES))
def test_clamp_gradient_at_ties_matches_torch(case):
    x, lo, hi = TIES[case]
    out, grads = _grads_gg(x, lo, hi)
    t_out, t_grads = _grads_torch(x, lo, hi)
    np.testing.assert_array_equal(out, t_out)
    for name, g, t in zip(("x", "min", "max"), grads, t_grads):
        if t is not None:
            np.testing.assert_array_equal(g, t, err_msg=f"{case}: gradient of {name}")


@pytest.mark.parametrize("case", list(TIES), ids=list(TIES))
def test_clamp_forward_mode_agrees_with_reverse_mode(case):
    """JVP in the direction e_k of each input = column k of the (reverse-mode) Jacobian."""
    x, lo, hi = TIES[case]
    args = [a for a in (x, lo, hi) if a is not None]
    pos = [i for i, a in enumerate((x, lo, hi)) if a is not None]

    def f(*xs):
        full = [None, None, None]
        for i, a in zip(pos, xs):
            full[i] = a
        return gg.clamp(*full)

    for k in range(len(args)):
        jac = gg.jacobian(f, k)(*args).data
        tangents = [np.zeros_like(a) for a in args]
        for j in range(args[k].size):
            tangents[k] = np.zeros(args[k].size)
            tangents[k][j] = 1.0
            tangents[k] = tangents[k].reshape(args[k].shape)
            _, tan = gg.jvp(f, args, tangents)
            np.testing.assert_array_equal(
                tan.data, jac.reshape(tan.shape + (-1,))[..., j])


def test_clamp_with_bounds_larger_than_x_gradchecks():
    rng = np.random.default_rng(0)
    x, lo, hi = rng.uniform(-2, 2, (3, 1)), rng.uniform(-2, 0, (1, 4)), rng.uniform(0, 2, ())
    gg.testing.gradcheck(lambda x, lo, hi: gg.clamp(x, lo, hi), (x, lo, hi))


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="clip: give min, max or both"):
        gg.clamp(gg.ones(2))


def test_tensor_clamp_method_takes_tensor_bounds():
    x = gg.tensor([-2.0, 0.0, 2.0])
    np.testing.assert_array_equal(x.clamp(gg.tensor([-1.0, 1.0, 0.0]), 1.5).data,
                                  [-1.0, 1.0, 1.5])


# ----------------------------------------------------------------- new ufuncs ----

def test_atan2_covers_the_four_quadrants():
    y = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 0.0])
    x = np.array([1.0, -1.0, -1.0, 1.0, -1.0, 1.0])
    np.testing.assert_allclose(gg.atan2(gg.tensor(y), gg.tensor(x)).data, np.arctan2(y, x))
    gy, gx = gg.grad(lambda a, b: gg.sum(gg.atan2(a, b)), (0, 1))(y, x)
    r2 = x * x + y * y  # d atan2(y, x) = (x dy - y dx) / (x^2 + y^2), in every quadrant
    np.testing.assert_allclose(gy.data, x / r2)
    np.testing.assert_allclose(gx.data, -y / r2)


@pytest.mark.torch
def test_atan2_gradient_in_the_four_quadrants_matches_torch():
    y = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 0.0])
    x = np.array([1.0, -1.0, -1.0, 1.0, -1.0, 1.0])
    ty, tx = torch.tensor(y, requires_grad=True), torch.tensor(x, requires_grad=True)
    torch.atan2(ty, tx).sum().backward()
    gy, gx = gg.grad(lambda a, b: gg.sum(gg.atan2(a, b)), (0, 1))(y, x)
    np.testing.assert_allclose(gy.data, ty.grad.numpy())
    np.testing.assert_allclose(gx.data, tx.grad.numpy())


def test_logaddexp_is_stable_for_huge_inputs():
    x, y = np.array([1e4, -1e4, 1e4]), np.array([1e4, -1e4, -1e4])
    out = gg.logaddexp(gg.tensor(x), gg.tensor(y)).data
    np.testing.assert_allclose(out, [1e4 + np.log(2), -1e4 + np.log(2), 1e4])
    gx, gy = gg.grad(lambda a, b: gg.sum(gg.logaddexp(a, b)), (0, 1))(x, y)
    np.testing.assert_allclose(gx.data, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(gy.data, [0.5, 0.5, 0.0])


def test_hypot_gradient_is_zero_at_the_origin_and_finite_for_huge_values():
    x, y = np.array([0.0, 3e200]), np.array([0.0, 4e200])
    np.testing.assert_allclose(gg.hypot(gg.tensor(x), gg.tensor(y)).data, [0.0, 5e200])
    gx, gy = gg.grad(lambda a, b: gg.sum(gg.hypot(a, b)), (0, 1))(x, y)
    np.testing.assert_allclose(gx.data, [0.0, 0.6])
    np.testing.assert_allclose(gy.data, [0.0, 0.8])


@pytest.mark.parametrize("op", [gg.atan2, gg.logaddexp, gg.hypot, gg.clamp],
                         ids=lambda f: f.__name__)
def test_new_ops_explain_shapes_that_do_not_broadcast(op):
    with pytest.raises(gg.ShapeError, match=r"\(2, 3\), \(4, 3\).*do not broadcast") as e:
        op(gg.zeros(2, 3), gg.zeros(4, 3))
    assert "test_op_knowledge.py" in str(e.value)  # the user's line


def test_new_ops_are_exported():
    for name in ("atan2", "logaddexp", "hypot", "clamp", "clip", "softplus"):
        assert callable(getattr(gg, name)), name
    assert {"atan2", "logaddexp", "hypot", "clip", "softplus"} <= set(gg.PRIMITIVES)
