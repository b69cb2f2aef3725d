"""Gradients at kinks and edges, each checked against PyTorch where PyTorch defines it.

Finite differences are meaningless exactly at a kink, so here the convention is the
oracle: graphgrad picks the same subgradient as PyTorch (and forward mode agrees with
reverse mode). Also the NaN-through-``where`` trap and its safe pattern, and the fused
losses (cross-entropy, BCE with logits, MSE) against PyTorch, including extreme logits.

Each kink test also states the expected subgradient itself, so without torch the tests
still run (forward mode against reverse mode, and the stated values); only the tests
whose sole oracle is PyTorch (marked ``torch``) skip.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg

try:
    import torch
    TF = torch.nn.functional
except ImportError:  # torch is only an oracle: see the module docstring
    torch = TF = None


def gg_grads(f, *arrays):
    """f's value and gradients (reverse mode) at float64 arrays."""
    xs = [gg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = f(*xs)
    gs = gg.grad_of(gg.sum(out), xs)
    return out.numpy(), [g.numpy() for g in gs]


def torch_grads(f, *arrays):
    xs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = f(*xs)
    gs = torch.autograd.grad(out.sum(), xs, allow_unused=True)
    gs = [torch.zeros_like(x) if g is None else g for g, x in zip(gs, xs)]
    return out.detach().numpy(), [g.numpy() for g in gs]


def assert_like_torch(f, tf, *arrays, check_fwd=True):
    """Same values and gradients as PyTorch (when installed; ``tf`` is called only then);
    forward-mode Jacobian == reverse-mode one. Returns graphgrad's gradients, which the
    tests also compare with the values they expect."""
    v, gs = gg_grads(f, *arrays)
    if torch is not None:
        tv, tgs = torch_grads(tf, *arrays)
        np.testing.assert_allclose(v, tv, rtol=1e-12, atol=0)
        for g, tg in zip(gs, tgs):
            np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-300)
    if check_fwd:
        for i, a in enumerate(arrays):
            def fi(x, i=i):
                args = [gg.tensor(np.asarray(b, dtype=np.float64)) for b in arrays]
                args[i] = x
                return f(*args)
            x = np.asarray(a, dtype=np.float64)
            jr = gg.jacobian(fi, mode="rev")(x).numpy()
            jf = gg.jacobian(fi, mode="fwd")(x).numpy()
            np.testing.assert_allclose(jf, jr, rtol=1e-12, atol=0)
    return gs


# ------------------------------------------------------------- kinks at zero ----

def test_abs_at_zero_has_zero_gradient():
    gs = assert_like_torch(gg.abs, lambda x: torch.abs(x), [-1.5, 0.0, 2.0])
    np.testing.assert_array_equal(gs[0], [-1.0, 0.0, 1.0])


def test_relu_at_zero_has_zero_gradient():
    gs = assert_like_torch(gg.relu, lambda x: torch.relu(x), [-1.5, 0.0, 2.0])
    np.testing.assert_array_equal(gs[0], [0.0, 0.0, 1.0])


@pytest.mark.parametrize("slope", [0.01, 0.3])
def test_leaky_relu_at_zero_has_the_negative_slope(slope):
    gs = assert_like_torch(lambda x: gg.leaky_relu(x, negative_slope=slope),
                           lambda x: TF.leaky_relu(x, slope), [-1.0, 0.0, 2.0])
    assert gs[0][1] == slope


def test_clip_at_its_bounds_passes_the_gradient():
    x = [-2.0, -0.5, 0.0, 0.7, 3.0]
    gs = assert_like_torch(lambda x: gg.clip(x, min=-0.5, max=0.7),
                           lambda x: torch.clamp(x, -0.5, 0.7), x)
    np.testing.assert_array_equal(gs[0], [0.0, 1.0, 1.0, 1.0, 0.0])
    assert_like_torch(lambda x: gg.clip(x, min=-0.5), lambda x: torch.clamp(x, min=-0.5), x)
    assert_like_torch(lambda x: gg.clip(x, max=0.7), lambda x: torch.clamp(x, max=0.7), x)


def test_sqrt_at_zero_is_infinite_without_a_warning():
    # the project's pytest settings turn RuntimeWarnings raised inside graphgrad into errors
    gs = assert_like_torch(gg.sqrt, lambda x: torch.sqrt(x), [0.0, 4.0], check_fwd=False)
    assert gs[0][0] == np.inf and gs[0][1] == 0.25
    _, t = gg.jvp(gg.sqrt, (np.array([0.0, 4.0]),), (np.ones(2),))
    np.testing.assert_array_equal(t.numpy(), [np.inf, 0.25])


@pytest.mark.parametrize("shape,axis", [((3,), None), ((2, 3), 1), ((2, 3), None),
                                        ((2, 3), (0, 1))])
def test_vector_norm_at_zero_has_zero_gradient(shape, axis):
    x = np.zeros(shape)
    gs = assert_like_torch(lambda x: gg.norm(x, axis=axis),
                           lambda x: torch.linalg.vector_norm(x, dim=axis), x)
    np.testing.assert_array_equal(gs[0], np.zeros(shape))


def test_norm_with_one_zero_row_is_zero_there_only():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    gs = assert_like_torch(lambda x: gg.norm(x, axis=1),
                           lambda x: torch.linalg.vector_norm(x, dim=1), x)
    np.testing.assert_allclose(gs[0], [[0.0, 0.0], [0.6, 0.8]])


def test_regression_relu_and_clip_block_nan_gradients():
    # found by the fuzzer (tests/test_fuzz.py): a NaN gradient leaked through the kink
    x = gg.tensor([-1.0, 2.0], requires_grad=True)
    with np.errstate(invalid="ignore"):  # sqrt(-1) = nan upstream of relu's zero
        (gg.sqrt(gg.relu(x) - 1)).sum().backward()
    assert x.grad.numpy()[0] == 0.0 and x.grad.numpy()[1] == pytest.approx(0.5)
    z = gg.tensor([-5.0, 0.5], requires_grad=True)
    with np.errstate(invalid="ignore"):
        (gg.sqrt(gg.clip(z, -1.0, 1.0) - 0.9)).sum().backward()
    assert z.grad.numpy()[0] == 0.0 and np.isnan(z.grad.numpy()[1])


# ------------------------------------------------------------------- ties ----

TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])


def _split_evenly(x, extreme, axis):
    """The gradient of sum(max(x, axis)): 1 shared evenly by the ties of each slice."""
    hit = x == extreme(x, axis=axis, keepdims=True)
    return hit / hit.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_and_min_reductions_split_ties_evenly(axis, keepdims):
    dims = (0, 1) if axis is None else axis
    gmax = assert_like_torch(lambda x: gg.max(x, axis=axis, keepdims=keepdims),
                             lambda x: torch.amax(x, dim=dims, keepdim=keepdims), TIES)
    gmin = assert_like_torch(lambda x: gg.min(x, axis=axis, keepdims=keepdims),
                             lambda x: torch.amin(x, dim=dims, keepdim=keepdims), TIES)
    np.testing.assert_allclose(gmax[0], _split_evenly(TIES, np.max, axis), rtol=1e-15)
    np.testing.assert_allclose(gmin[0], _split_evenly(TIES, np.min, axis), rtol=1e-15)
    if axis == 1:
        np.testing.assert_allclose(gmax[0], [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_maximum_and_minimum_split_equal_inputs_evenly():
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 5.0, 3.0])
    gs = assert_like_torch(gg.maximum, lambda a, b: torch.maximum(a, b), x, y)
    np.testing.assert_array_equal(gs[0], [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(gs[1], [0.5, 1.0, 0.5])
    gs = assert_like_torch(gg.minimum, lambda a, b: torch.minimum(a, b), x, y)
    np.testing.assert_array_equal(gs[0], [0.5, 1.0, 0.5])
    np.testing.assert_array_equal(gs[1], [0.5, 0.0, 0.5])
    # broadcasting: the shared operand collects its halves
    gs = assert_like_torch(gg.maximum, lambda a, b: torch.maximum(a, b),
                           [[1.0, 2.0], [0.0, 1.0]], [1.0])
    np.testing.assert_array_equal(gs[0], [[0.5, 1.0], [0.0, 0.5]])
    np.testing.assert_array_equal(gs[1], [2.0])


# ------------------------------------------------------------------- where ----

def test_where_gives_zero_gradient_to_the_branch_not_taken():
    c = np.array([True, False, True])
    gs = assert_like_torch(lambda x, y: gg.where(c, x * 2, y * 3),
                           lambda x, y: torch.where(torch.tensor(c), x * 2, y * 3),
                           [1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(gs[0], [2.0, 0.0, 2.0])
    np.testing.assert_array_equal(gs[1], [0.0, 3.0, 0.0])


def test_nan_through_where_trap_matches_torch():
    """The untaken branch's infinite derivative times a zero cotangent is NaN (0 * inf),
    in graphgrad as in PyTorch: where() does not protect the branch's own gradient."""
    x = np.array([0.0, -1.0, 2.0])
    with np.errstate(all="ignore"):  # log(0) and log(-1) in the branch that is not taken
        v, (g,) = gg_grads(lambda x: gg.where(x > 0, gg.log(x), 0.0), x)
    np.testing.assert_array_equal(v, [0.0, 0.0, np.log(2.0)])
    np.testing.assert_array_equal(g, [np.nan, 0.0, 0.5])  # 0 * (1/0) = NaN; 0 * (1/-1) = 0
    if torch is not None:
        tv, (tg,) = torch_grads(lambda x: torch.where(x > 0, torch.log(x), 0.0), x)
        np.testing.assert_array_equal(v, tv)
        np.testing.assert_array_equal(g, tg)  # NaN where torch has NaN


def test_double_where_pattern_gives_finite_gradients():
    """The documented safe pattern: make the untaken branch's input harmless first."""
    x = np.array([0.0, -1.0, 2.0])

    def safe_log(x):
        ok = x > 0
        return gg.where(ok, gg.log(gg.where(ok, x, 1.0)), 0.0)

    # no errstate here: the safe pattern computes nothing invalid, so warns about nothing
    v, (g,) = gg_grads(safe_log, x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.5])
    np.testing.assert_array_equal(v, [0.0, 0.0, np.log(2.0)])
    if torch is not None:
        tv, (tg,) = torch_grads(
            lambda x: torch.where(x > 0, torch.log(torch.where(x > 0, x, 1.0)), 0.0), x)
        np.testing.assert_array_equal(g, tg)
        np.testing.assert_array_equal(v, tv)
    # and the second derivative is finite too: -1/x**2 where x > 0, else 0
    hess = gg.hessian(lambda x: gg.sum(safe_log(x)))(x).numpy()
    np.testing.assert_array_equal(hess, np.diag([0.0, 0.0, -0.25]))


# ---------------------------------------------------------- fused losses ----

CE_CASES = [  # (logits shape, index-target shape)
    ((5,), ()),
    ((3, 5), (3,)),
    ((2, 5, 3), (2, 3)),
]


@pytest.mark.torch
@pytest.mark.parametrize("lshape,tshape", CE_CASES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kind", ["index", "probs"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_torch(lshape, tshape, kind, reduction):
    rng = np.random.default_rng(len(lshape) * 10 + len(reduction))
    logits = rng.standard_normal(lshape) * 3
    if kind == "index":
        target = rng.integers(0, lshape[0 if len(lshape) == 1 else 1], tshape)
        gt, tt = gg.tensor(target), torch.tensor(target)
    else:
        target = rng.uniform(size=lshape)
        gt, tt = gg.tensor(target), torch.tensor(target)
    x = gg.tensor(logits, requires_grad=True)
    out = gg.cross_entropy(x, gt, reduction=reduction)
    w = rng.standard_normal(out.shape)
    gg.sum(out * w).backward()
    tx = torch.tensor(logits, requires_grad=True)
    tout = TF.cross_entropy(tx, tt, reduction=reduction)
    (tout * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def _softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradient_is_softmax_minus_onehot_at_extreme_logits(reduction):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0.0, 0.0, -1e4]])
    target = np.array([1, 0, 2])
    x = gg.tensor(logits, requires_grad=True)
    loss = gg.cross_entropy(x, gg.tensor(target), reduction=reduction)
    loss.backward()
    assert np.isfinite(loss.item())
    g = x.grad.numpy()
    assert np.all(np.isfinite(g))
    expected = _softmax(logits, 1) - np.eye(3)[target]
    if reduction == "mean":
        expected = expected / 3
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-15)
    if torch is not None:
        tx = torch.tensor(logits, requires_grad=True)
        tloss = TF.cross_entropy(tx, torch.tensor(target), reduction=reduction)
        tloss.backward()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
        np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    # probability targets: the same, with y in place of the one-hot
    y = np.array([[0.2, 0.8, 0.0], [0.5, 0.25, 0.25], [1.0, 0.0, 0.0]])
    x2 = gg.tensor(logits, requires_grad=True)
    gg.cross_entropy(x2, gg.tensor(y), reduction=reduction).backward()
    expected = _softmax(logits, 1) - y
    if reduction == "mean":
        expected = expected / 3
    assert np.all(np.isfinite(x2.grad.numpy()))
    np.testing.assert_allclose(x2.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_matches_torch(reduction):
    logits = np.array([[-1e4, -3.0, 0.0], [0.5, 2.0, 1e4]])
    target = np.array([[0.0, 0.3, 1.0], [0.5, 1.0, 0.0]])
    f = lambda x, y: gg.binary_cross_entropy_with_logits(x, y, reduction=reduction)
    tf = lambda x, y: TF.binary_cross_entropy_with_logits(x, y, reduction=reduction)
    v, gs = gg_grads(f, logits, target)
    tv, tgs = torch_grads(tf, logits, target)
    np.testing.assert_allclose(v, tv, rtol=1e-12)
    for g, tg in zip(gs, tgs):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch(reduction):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    assert_like_torch(lambda x, y: gg.mse_loss(x, y, reduction=reduction),
                      lambda x, y: TF.mse_loss(x, y, reduction=reduction), a, b)


@pytest.mark.parametrize("k", [0, 0.5, 1, 2, 3])
def test_pow_at_zero_base_matches_torch(k):
    """x ** k at x = 0: 0 for k = 0 (constant), +inf for k = 0.5, k * 0 ** (k - 1) else."""
    x = [0.0, 1.5]
    gs = assert_like_torch(lambda x: x ** k, lambda x: x ** k, x, check_fwd=k != 0.5)
    assert gs[0][0] == {0: 0.0, 0.5: np.inf, 1: 1.0, 2: 0.0, 3: 0.0}[k]


def test_pow_with_tensor_exponent_at_zero_base_matches_torch():
    x, y = [0.0, 0.0, 2.0], [0.0, 2.0, 0.0]
    gs = assert_like_torch(gg.pow, lambda x, y: torch.pow(x, y), x, y)
    np.testing.assert_array_equal(gs[0], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(gs[1], [0.0, 0.0, np.log(2.0)])
