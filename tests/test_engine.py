"""The reverse-mode engine and the Tensor API around it."""

import numpy as np
import pytest

import graphgrad as gg

try:  # torch is only a test oracle: without it the torch comparisons skip
    import torch
except ImportError:
    torch = None


def t64(a, requires_grad=True):
    return gg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def counting_identity():
    """A custom_vjp identity whose bwd counts its calls."""
    calls = []

    @gg.custom_vjp
    def ident(x):
        return x

    def fwd(x):
        return x, None

    def bwd(res, g):
        calls.append(1)
        return (g,)

    ident.defvjp(fwd, bwd)
    return ident, calls


# ------------------------------------------------------------- accumulation ----

def test_x_times_x():
    x = t64([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0, 6.0])


def test_x_matmul_x_feeds_both_inputs():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    x = t64(a)
    (x @ x).sum().backward()
    ones = np.ones((3, 3))
    np.testing.assert_allclose(x.grad.numpy(), ones @ a.T + a.T @ ones, rtol=1e-12)


@pytest.mark.torch
def test_x_matmul_x_feeds_both_inputs_vs_torch():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    x = t64(a)
    (x @ x).sum().backward()
    tx = torch.tensor(a, requires_grad=True)
    (tx @ tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_two_paths_of_different_lengths():
    x = t64(1.5)
    a = x * x
    z = a + a * a  # dz/dx = (1 + 2a) * 2x
    z.backward()
    assert x.grad.item() == pytest.approx((1 + 2 * 1.5 ** 2) * 2 * 1.5, rel=1e-14)


def test_shared_subgraph():
    x = t64([0.5, -1.0])
    s = gg.tanh(x) * 3.0  # shared by three consumers
    out = (s * s + gg.exp(s) - s).sum()
    out.backward()
    ts = np.tanh(x.numpy()) * 3.0
    ds = 2 * ts + np.exp(ts) - 1
    np.testing.assert_allclose(x.grad.numpy(), ds * 3.0 * (1 - np.tanh(x.numpy()) ** 2),
                               rtol=1e-12)


def test_branch_that_does_not_reach_the_loss_runs_no_rule():
    ident, calls = counting_identity()
    x = t64([1.0, 2.0])
    seen = []
    side = ident(x) * 10.0  # a branch of x that the loss never uses
    side.register_hook(lambda g: seen.append(g))
    loss = (x * 3.0).sum()
    loss.backward()
    assert calls == [] and seen == []
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    # sanity: the counter does count when the branch is used
    (ident(x) * 10.0).sum().backward()
    assert calls == [1]


def test_branch_towards_an_unrequested_input_runs_no_rule():
    ident, calls = counting_identity()
    x, w = t64([1.0, 2.0]), t64([3.0, 4.0])
    loss = (x * x).sum() + ident(w).sum()  # the ident branch reaches w only
    gx = gg.grad_of(loss, x)
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    assert calls == []
    assert w.grad is None and x.grad is None  # grad_of does not touch .grad


def test_chain_of_100000_ops_has_no_recursion_limit():
    x = t64(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert x.grad.item() == pytest.approx(1.00001 ** 100_000, rel=1e-9)


# ------------------------------------------------------ graph lifetime ----

def test_graph_freed_after_backward_and_second_backward_is_a_clear_error():
    x = t64([1.0, 2.0])
    y = gg.exp(x).sum()
    node = y.grad_fn
    assert node is not None and not node.freed
    y.backward()
    assert node.freed
    with pytest.raises(gg.BackwardError) as err:
        y.backward()
    msg = str(err.value)
    assert "sum" in msg  # names the op
    assert "retain_graph=True" in msg and "second time" in msg
    assert "test_engine.py" in msg  # and the user's line that created it


def test_retain_graph_allows_two_backwards_and_grad_accumulates_until_zeroed():
    x = t64([1.0, 2.0])
    y = (x * x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 12.0])
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 24.0])  # accumulated
    x.grad = None
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 12.0])
    x.zero_grad()
    assert x.grad is None
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 12.0])


def test_grad_buffers_are_not_shared_between_leaves():
    a, b = t64([1.0]), t64([2.0])
    (a + b).sum().backward()
    a.grad.data += 5
    assert b.grad.item() == 1.0


# ------------------------------------------------------------- grad mode ----

def test_no_grad_context_and_decorator():
    x = t64([1.0, 2.0])
    with gg.no_grad():
        y = x * 2
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @gg.no_grad()
    def f(v):
        return gg.exp(v)

    z = f(x)
    assert not z.requires_grad and z.grad_fn is None
    assert gg.is_grad_enabled()
    with gg.no_grad():
        with gg.enable_grad():
            w = x * 2
    assert w.requires_grad


def test_detach():
    x = t64([1.0, 2.0])
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), x.numpy())
    y = (x * d).sum()  # d is a constant: dy/dx = d
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])


# ------------------------------------------------------------ hooks ----

def test_register_hook_sees_and_replaces_the_gradient_and_can_be_removed():
    x = t64([1.0, 2.0])
    h = x * 3.0
    seen = []

    def hook(g):
        seen.append(g.numpy().copy())
        return g * 10

    handle = h.register_hook(hook)
    (h * h).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(seen[0], 2 * h.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), 2 * h.numpy() * 10 * 3)
    handle.remove()
    x.grad = None
    (h * h).sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(x.grad.numpy(), 2 * h.numpy() * 3)


def test_hook_on_a_leaf():
    x = t64([1.0, 2.0])
    x.register_hook(lambda g: g * 0.5)
    (x * 4.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_retain_grad():
    x = t64([1.0, 2.0])
    h = gg.exp(x)
    h.retain_grad()
    out = (h * h).sum()
    out.backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * np.exp([1.0, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([2.0, 4.0]))
    assert out.grad is None  # not retained


# ----------------------------------------------------------- custom_vjp ----

def test_custom_vjp_replaces_the_gradient():
    @gg.custom_vjp
    def straight_through_sign(x):
        return gg.sign(x)

    straight_through_sign.defvjp(lambda x: (gg.sign(x), None), lambda res, g: (g,))
    x = t64([-2.0, 0.5, 3.0])
    y = straight_through_sign(x)
    np.testing.assert_array_equal(y.numpy(), [-1.0, 1.0, 1.0])
    (y * t64([1.0, 2.0, 3.0], False)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])  # sign's would be 0


def test_custom_vjp_bwd_is_differentiable_under_grad_of_grad():
    @gg.custom_vjp
    def cube(x):
        return x * x * x

    def fwd(x):
        return x * x * x, x

    def bwd(x, g):
        return (g * 3 * x * x,)

    cube.defvjp(fwd, bwd)
    d1 = gg.grad(lambda x: cube(x))
    d2 = gg.grad(d1)
    d3 = gg.grad(d2)
    assert d1(t64(2.0, False)).item() == pytest.approx(12.0)
    assert d2(t64(2.0, False)).item() == pytest.approx(12.0)  # 6x
    assert d3(t64(2.0, False)).item() == pytest.approx(6.0)
    # and through backward(create_graph=True)
    x = t64(2.0)
    cube(x).backward(create_graph=True)
    g = x.grad
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(12.0)


def test_custom_vjp_with_two_inputs_and_none():
    @gg.custom_vjp
    def scaled(x, k):
        return x * k

    scaled.defvjp(lambda x, k: (x * k, k), lambda k, g: (g * k * 100, None))
    x, k = t64([1.0, 2.0]), t64(3.0)
    scaled(x, k).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [300.0, 300.0])
    assert k.grad is None


# --------------------------------------------- create_graph and gradients ----

@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_create_graph_gradient_penalty_vs_torch():
    rng = np.random.default_rng(1)
    xv, wv = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    x, w = t64(xv), t64(wv)
    y = gg.tanh(x @ w).sum()
    y.backward(create_graph=True)
    gx = x.grad
    assert gx.requires_grad
    x.grad = None
    w.grad = None
    penalty = ((gx * gx).sum() - 1.0) ** 2
    penalty.backward()

    tx, tw = torch.tensor(xv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    ty = torch.tanh(tx @ tw).sum()
    ty.backward(create_graph=True)
    tgx = tx.grad
    tx.grad = None
    tw.grad = None
    tpen = ((tgx * tgx).sum() - 1.0) ** 2
    tpen.backward()
    np.testing.assert_allclose(gx.numpy(), tgx.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_backward_on_non_scalar_without_gradient_is_an_error():
    x = t64([1.0, 2.0])
    with pytest.raises(gg.BackwardError, match="scalar"):
        (x * 2).backward()


def test_backward_on_a_tensor_that_needs_no_grad_is_an_error():
    with pytest.raises(gg.BackwardError, match="does not require grad"):
        gg.tensor([1.0]).sum().backward()


@pytest.mark.torch
def test_backward_with_a_gradient_tensor_vs_torch():
    rng = np.random.default_rng(2)
    xv, gv = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
    x = t64(xv)
    y = gg.sin(x).T @ x
    y.backward(gg.tensor(gv))
    tx = torch.tensor(xv, requires_grad=True)
    (torch.sin(tx).T @ tx).backward(torch.tensor(gv))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_backward_with_a_gradient_tensor():
    rng = np.random.default_rng(2)
    xv, gv = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
    x = t64(xv)
    (gg.sin(x).T @ x).backward(gg.tensor(gv))
    # y = sin(x)^T x: dL/dx = cos(x) * (x G^T) + sin(x) G
    want = np.cos(xv) * (xv @ gv.T) + np.sin(xv) @ gv
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)
    with pytest.raises(gg.ShapeError):
        (x * 2).backward(gg.ones(3, 2))


# ------------------------------------------------------------ dtypes ----

def test_requires_grad_on_an_integer_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="floating-point"):
        gg.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError):
        gg.arange(3).requires_grad = True
    with pytest.raises(TypeError):
        gg.tensor(np.array([True, False]), requires_grad=True)


def test_float32_default_and_float64_kept():
    assert gg.tensor(1.0).dtype == gg.float32
    assert gg.tensor([1.0, 2.0]).dtype == gg.float32
    assert gg.tensor([1, 2]).dtype == gg.int64
    assert gg.zeros(2).dtype == gg.float32
    assert gg.randn(2).dtype == gg.float32
    a = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert a.dtype == gg.float64
    b = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    assert b.dtype == gg.float64
    assert gg.ones(2, dtype=gg.float64).dtype == gg.float64
    # Python numbers do not change a tensor's dtype, nor do they change the gradient's
    for t, dt in [(a, gg.float64), (gg.tensor([1.0, 2.0], requires_grad=True), gg.float32)]:
        y = (t * 2.5 + 1) / 3 - t ** 2
        assert y.dtype == dt
        y.sum().backward()
        assert t.grad.dtype == dt
    np.testing.assert_array_equal(gg.tensor(np.float64(3.0)).numpy(), 3.0)


def test_python_numbers_everywhere():
    a = gg.tensor(2.0, requires_grad=True)
    e = (a + 1) * a
    assert e.item() == 6.0
    e.backward()
    assert a.grad.item() == 5.0  # 2a + 1
    a.grad = None
    f = 1 - a + 3 * a - a / 4 + 8 / a + a ** 2 + 2 ** a
    f.backward()
    want = -1 + 3 - 0.25 - 8 / 4 + 2 * 2 + 4 * np.log(2)
    assert a.grad.item() == pytest.approx(want, rel=1e-6)


def test_reflected_operators():
    x = t64([1.0, 2.0])
    n = np.array([3.0, 4.0])
    for y, want_val, want_grad in [
        (5 - x, [4.0, 3.0], [-1.0, -1.0]),
        (6 / x, [6.0, 3.0], [-6.0, -1.5]),
        (2 ** x, [2.0, 4.0], [2 * np.log(2), 4 * np.log(2)]),
        (n + x, [4.0, 6.0], [1.0, 1.0]),
        (n * x, [3.0, 8.0], [3.0, 4.0]),
        (n - x, [2.0, 2.0], [-1.0, -1.0]),
        (-x, [-1.0, -2.0], [-1.0, -1.0]),
    ]:
        assert isinstance(y, gg.Tensor)
        np.testing.assert_allclose(y.numpy(), want_val)
        x.grad = None
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), want_grad)
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = m @ x
    assert isinstance(y, gg.Tensor)
    x.grad = None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), m.sum(0))


def test_comparisons_return_tensors_without_gradient():
    x = t64([1.0, 2.0, 3.0])
    for c, want in [(x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]), (x < 2, [1, 0, 0]),
                    (x <= 2, [1, 1, 0]), (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]),
                    (2 < x, [0, 0, 1])]:
        assert isinstance(c, gg.Tensor)
        assert c.dtype == gg.bool_
        assert not c.requires_grad and c.grad_fn is None
        np.testing.assert_array_equal(c.numpy(), np.array(want, dtype=bool))
    y = (x * (x > 1.5)).sum()  # a mask multiplies as a constant
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0])


# ------------------------------------------------------------ indexing ----

INDICES = [
    1, -1, slice(1, 3), (slice(None), 0), (Ellipsis, 1), (None, slice(None, None, 2)),
    ([0, 2, 0],), (np.array([1, 1, 1]),), ([0, 1], [2, 2]), (slice(None), [3, 0, 3]),
    (np.array([True, False, True]),), "tensor index",
]


@pytest.mark.parametrize("index", INDICES)
def test_getitem_basic_and_advanced_vs_numpy(index):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 4))
    if index == "tensor index":  # an integer Tensor used as an index
        index, npindex = gg.tensor([2, 2]), np.array([2, 2])
    else:
        npindex = index
    x = t64(a)
    y = x[index]
    np.testing.assert_array_equal(y.numpy(), a[npindex])
    w = rng.standard_normal(y.shape)
    (y * w).sum().backward()
    # the gradient scatters w back, summing where an index repeats
    want = np.zeros_like(a)
    np.add.at(want, npindex, w)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-14)


@pytest.mark.parametrize("index", INDICES)
@pytest.mark.torch
def test_getitem_basic_and_advanced_vs_torch(index):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 4))
    if index == "tensor index":  # an integer Tensor used as an index
        index = gg.tensor([2, 2])
        tindex = torch.tensor([2, 2])
    else:
        tindex = index
        if isinstance(index, tuple):
            tindex = tuple(torch.tensor(i) if isinstance(i, (list, np.ndarray)) else i
                           for i in index)
    x = t64(a)
    y = x[index]
    tx = torch.tensor(a, requires_grad=True)
    ty = tx[tindex]
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    w = rng.standard_normal(y.shape)
    (y * w).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-14)


def test_repeated_advanced_indices_accumulate():
    x = t64([10.0, 20.0, 30.0])
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


# ------------------------------------------------------------ creation ----

def test_creation_functions():
    assert gg.zeros(2, 3).shape == (2, 3) and gg.zeros((2, 3)).shape == (2, 3)
    assert np.all(gg.zeros(2, 3).numpy() == 0)
    assert np.all(gg.ones(4).numpy() == 1) and gg.ones(4).dtype == gg.float32
    f = gg.full((2, 2), 7.5)
    assert f.dtype == gg.float32 and np.all(f.numpy() == 7.5)
    assert gg.full(3, 2).dtype == gg.int64 and gg.full(3, True).dtype == gg.bool_
    assert gg.full(3, 2, dtype=gg.float64).dtype == gg.float64
    np.testing.assert_array_equal(gg.eye(3).numpy(), np.eye(3))
    assert gg.eye(2, 3).shape == (2, 3)
    r = gg.arange(5)
    np.testing.assert_array_equal(r.numpy(), np.arange(5))
    assert r.dtype == gg.int64
    assert gg.arange(0.0, 1.0, 0.25).dtype == gg.float32
    np.testing.assert_allclose(gg.arange(2, 8, 2).numpy(), [2, 4, 6])
    ls = gg.linspace(0, 1, 5)
    np.testing.assert_allclose(ls.numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    assert ls.dtype == gg.float32
    base = gg.tensor(np.ones((2, 3)))
    z = gg.zeros_like(base)
    o = gg.ones_like(base)
    assert z.shape == (2, 3) and z.dtype == gg.float64 and np.all(z.numpy() == 0)
    assert o.shape == (2, 3) and o.dtype == gg.float64 and np.all(o.numpy() == 1)
    assert gg.zeros(2, requires_grad=True).requires_grad
    u = gg.rand(1000)
    assert u.dtype == gg.float32 and u.numpy().min() >= 0 and u.numpy().max() < 1
    n = gg.randn(2000, dtype=gg.float64)
    assert n.dtype == gg.float64 and abs(n.numpy().mean()) < 0.15
    assert 0.85 < n.numpy().std() < 1.15


def test_manual_seed_reproducibility():
    gg.manual_seed(123)
    a, b = gg.randn(5), gg.rand(3)
    gg.manual_seed(123)
    c, d = gg.randn(5), gg.rand(3)
    np.testing.assert_array_equal(a.numpy(), c.numpy())
    np.testing.assert_array_equal(b.numpy(), d.numpy())
    gg.manual_seed(124)
    assert not np.array_equal(gg.randn(5).numpy(), a.numpy())


def test_tensor_copies_its_data():
    arr = np.array([1.0, 2.0])
    t = gg.tensor(arr)
    arr[0] = 99
    assert t.numpy()[0] == 1.0


# ------------------------------------------------------------ attributes ----

def test_tensor_attributes():
    x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert isinstance(x.data, np.ndarray)
    assert x.shape == (2, 3) and x.ndim == 2 and x.numel() == 6 and x.size() == (2, 3)
    assert x.dtype == gg.float32
    np.testing.assert_array_equal(x.T.numpy(), x.numpy().T)
    assert x.grad is None and x.requires_grad and x.is_leaf
    assert isinstance(x.numpy(), np.ndarray)
    assert x[1, 2].item() == 6.0 and isinstance(x.sum().item(), float)
    d = x.detach()
    assert not d.requires_grad
    y = (x * 2).sum()
    y.backward()
    assert x.grad.shape == (2, 3) and np.all(x.grad.numpy() == 2)
    assert not y.is_leaf


def test_repr_contains_values_and_grad_fn():
    x = gg.tensor([1.5, -2.0], requires_grad=True)
    r = repr(x)
    assert "1.5" in r and "-2." in r and "requires_grad=True" in r
    y = x * 3
    assert "4.5" in repr(y) and "grad_fn=mul" in repr(y)
    z = gg.tensor(np.array([1.0, 2.0]))
    assert "float64" in repr(z)
    assert "grad_fn" not in repr(z)


# ------------------------------------------------------------ regressions ----

def test_gradients_of_0d_tensors_are_arrays():
    a = gg.tensor(2.0, requires_grad=True)
    (a * a).backward()
    assert type(a.grad.data) is np.ndarray and a.grad.shape == () and a.grad.item() == 4.0
    g = gg.grad_of(a * a * a, a)
    assert type(g.data) is np.ndarray and g.item() == 12.0
    seen = []
    b = gg.tensor(1.0, requires_grad=True)
    b.register_hook(lambda g: seen.append(type(g.data)))
    (b * 2).backward()
    assert seen == [np.ndarray]


def test_retain_grad_on_a_leaf_does_not_double_the_gradient():
    x = t64([1.0, 2.0])
    x.retain_grad()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_retained_grad_does_not_share_a_buffer_with_a_leaf():
    x = t64([1.0, 2.0])
    h = x + 0.0  # add's rule hands its cotangent on unchanged
    h.retain_grad()
    h.sum().backward()
    x.grad.data[0] = 100.0
    np.testing.assert_array_equal(h.grad.numpy(), [1.0, 1.0])


@pytest.mark.filterwarnings("ignore:.*silently upcast")  # the mixing is the point here
def test_gradient_dtype_follows_the_input():
    x32 = gg.tensor([1.0, 2.0], requires_grad=True)
    y64 = gg.tensor(np.array([3.0, 4.0]))
    out = (x32 * y64).sum()
    assert out.dtype == gg.float64
    assert gg.grad_of(out, x32, retain_graph=True).dtype == gg.float32
    out.backward()
    assert x32.grad.dtype == gg.float32
    np.testing.assert_array_equal(x32.grad.numpy(), [3.0, 4.0])


def test_backward_on_a_leaf_and_grad_of_an_unused_input():
    s = gg.tensor(3.0, requires_grad=True)
    s.backward()
    assert s.grad.item() == 1.0
    x, w = t64([1.0]), t64([2.0])
    y = (x * 2).sum()
    gw = gg.grad_of(y, w, retain_graph=True)
    np.testing.assert_array_equal(gw.numpy(), [0.0])
    assert gg.grad_of(y, [x, w], allow_unused=True)[1] is None


def test_backward_through_a_partly_freed_graph_names_the_op():
    x = t64([1.0, 2.0])
    y = gg.exp(x)
    y.sum().backward()
    with pytest.raises(gg.BackwardError, match="exp"):
        (y * 3).sum().backward()


def test_backward_emits_no_numpy_warnings():
    # sqrt'(0) = inf times d(0 * w)/dw = 0 is NaN; NumPy would warn about the inf * 0
    # inside a gradient rule, which says nothing useful to the user
    import warnings

    w = gg.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gg.sqrt(w * 0.0).sum().backward()
    assert np.isnan(w.grad.numpy()).all()


@pytest.mark.torch
def test_backward_nan_matches_torch():
    # sqrt'(0) = inf times d(0 * w)/dw = 0 is NaN in PyTorch too
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    gg.sqrt(w * 0.0).sum().backward()
    wt = torch.tensor([1.0, 2.0], requires_grad=True)
    torch.sqrt(wt * 0.0).sum().backward()
    np.testing.assert_array_equal(np.isnan(w.grad.numpy()), torch.isnan(wt.grad).numpy())
    assert np.isnan(w.grad.numpy()).all()


def test_edge_vjp_is_the_engines_step_rule_and_unbroadcast():
    from graphgrad.core.engine import edge_vjp
    x = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = gg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x * b  # b is broadcast over the rows
    g = np.ones((2, 3))
    args = [x.data, b.data]
    gb = edge_vjp(y._node, 1, g, y.data, args)
    assert gb.shape == (3,)  # broadcasting undone to b's shape
    np.testing.assert_array_equal(gb, x.data.sum(axis=0))
    y.sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), gb)  # the engine took the same step


def test_edge_vjp_failure_names_the_op_and_line():
    from graphgrad.core.engine import edge_vjp
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = gg.exp(x)
    with pytest.raises(gg.BackwardError) as e:
        edge_vjp(y._node, 0, "not an array", y.data, [x.data])
    assert "backward of exp" in str(e.value) and "test_engine.py" in str(e.value)
