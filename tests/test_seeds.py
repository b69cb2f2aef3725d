"""Every worked example of the seed posts, with the numbers the posts state.

000/003: e = (a+b)(b+1), y = x*x as two uses of one variable, the three-step RNN.
001: f = (x+y)(x+z), the matrix-product gradients, the two-layer regression network.
002: Loss = z(x+y), a node feeding two paths, broadcasting and matmul gradients.
004: the Jacobians of W@x, x@W, x, f(x); dJ/dW; softmax + cross-entropy = yhat - y.
"""

import numpy as np
import pytest

import graphgrad as gg

try:
    import torch
except ImportError:  # only the two PyTorch comparisons (marked `torch`) skip
    torch = None


def t64(a, requires_grad=True):
    return gg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------- seeds 000 / 003 ----

def _e(a, b):
    c = a + b
    d = b + 1
    return c * d


def test_seed_000_003_e_reverse_mode_a2_b1():
    a = gg.tensor(2.0, requires_grad=True)
    b = gg.tensor(1.0, requires_grad=True)
    c = a + b
    d = b + 1
    c.retain_grad()
    d.retain_grad()
    e = c * d
    assert c.item() == 3 and d.item() == 2
    assert e.item() == 6  # "当a=2, b=1的时候 ... 我们可以算出e=6"
    e.backward()
    assert c.grad.item() == 2  # de/dc = d = 2
    assert d.grad.item() == 3  # de/dd = c = 3
    assert a.grad.item() == 2  # de/da = 2
    assert b.grad.item() == 5  # de/db = 5: two paths, b->c->e and b->d->e


def test_seed_000_e_reverse_mode_a3_b2():
    a = gg.tensor(3.0, requires_grad=True)
    b = gg.tensor(2.0, requires_grad=True)
    e = _e(a, b)
    e.backward()
    assert b.grad.item() == 8  # "假如a=3,b=2，求e对b的导数" = 8
    assert a.grad.item() == 3  # one path e -> c -> a: de/dc = d = b + 1 = 3


def test_seed_000_e_forward_mode():
    # forward mode: start from 1 at the input and push it up the graph
    e, de_db = gg.jvp(_e, (3.0, 2.0), (0.0, 1.0))
    assert e.item() == 15
    assert de_db.item() == 8
    e, de_da = gg.jvp(_e, (2.0, 1.0), (1.0, 0.0))
    assert e.item() == 6 and de_da.item() == 2
    _, de_db = gg.jvp(_e, (2.0, 1.0), (0.0, 1.0))
    assert de_db.item() == 5


def test_seed_000_e_functional_transforms():
    de = gg.grad(_e, argnums=(0, 1))(2.0, 1.0)
    assert (de[0].item(), de[1].item()) == (2, 5)
    jac = gg.jacobian(lambda ab: _e(ab[0], ab[1]), mode="fwd")(t64([3.0, 2.0]))
    np.testing.assert_allclose(jac.numpy(), [3.0, 8.0])


def test_seed_000_x_times_x_two_uses_of_one_variable():
    # "v=x², ... 这里x*x相当于是两个变量，要区分对待，当做x1、x2"
    x = t64(3.0)
    y = x * x
    y.backward()
    assert x.grad.item() == 6  # dy/dx = 2x
    # the x1 / x2 paths: each contributes the other factor, and they add up
    x1, x2 = t64(3.0), t64(3.0)
    (x1 * x2).backward()
    assert x1.grad.item() == 3 and x2.grad.item() == 3
    assert x1.grad.item() + x2.grad.item() == x.grad.item()
    # the same on a vector, elementwise
    xs = t64([-2.0, 0.5, 4.0])
    (xs * xs).sum().backward()
    np.testing.assert_array_equal(xs.grad.numpy(), [-4.0, 1.0, 8.0])


def test_seed_003_shared_parameter_paths_add_up():
    # "先把每个x假装是完全不一样的变量计算。最后的时候再全部合并到一起"
    def f(x):
        y = x * x
        return gg.exp(y) * gg.sin(x)

    x0 = 0.7
    g = gg.grad(f)(t64(x0)).item()
    # three copies of x: the two factors of y and the argument of sin
    copies = [t64(x0), t64(x0), t64(x0)]
    out = gg.exp(copies[0] * copies[1]) * gg.sin(copies[2])
    out.backward()
    assert g == pytest.approx(sum(c.grad.item() for c in copies), rel=1e-12)
    analytic = np.exp(x0 * x0) * (2 * x0 * np.sin(x0) + np.cos(x0))
    assert g == pytest.approx(analytic, rel=1e-12)


# -------------------------------------------------------------------- seed 001 ----

def test_seed_001_chain_rule_f_xy_xz():
    x, y, z = gg.tensor(-3.0, requires_grad=True), gg.tensor(2.0, requires_grad=True), \
        gg.tensor(5.0, requires_grad=True)
    p = x + y
    q = x + z
    p.retain_grad()
    q.retain_grad()
    f = p * q
    assert p.item() == -1  # p = -1
    assert q.item() == 2  # q = 2
    f.backward()
    assert p.grad.item() == 2  # df/dp = q = 2
    assert q.grad.item() == -1  # df/dq = p = -1
    assert x.grad.item() == 1  # df/dx = 1
    assert y.grad.item() == 2  # df/dy = 2
    assert z.grad.item() == -1  # df/dz = -1


def test_seed_001_chain_rule_forward_mode():
    f = lambda x, y, z: (x + y) * (x + z)
    prim = (-3.0, 2.0, 5.0)
    for k, want in enumerate([1.0, 2.0, -1.0]):
        tangents = tuple(1.0 if i == k else 0.0 for i in range(3))
        out, t = gg.jvp(f, prim, tangents)
        assert out.item() == -2 and t.item() == want


def test_seed_001_matmul_gradients():
    rng = np.random.default_rng(1)
    W = t64(rng.standard_normal((5, 10)))
    X = t64(rng.standard_normal((10, 3)))
    D = W @ X
    dD = rng.standard_normal(D.shape)  # "这里假定dD是后面传播过来的梯度项"
    D.backward(gg.tensor(dD))
    np.testing.assert_allclose(W.grad.numpy(), dD.dot(X.numpy().T), rtol=1e-12)  # dW
    np.testing.assert_allclose(X.grad.numpy(), W.numpy().T.dot(dD), rtol=1e-12)  # dX
    assert W.grad.shape == (5, 10) and X.grad.shape == (10, 3)


# seed 001's "简单两层神经网络回归模型"
N, D_IN, H, O = 32, 100, 200, 10


def _net_data(seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        X=rng.standard_normal((N, D_IN)), y=rng.standard_normal((N, O)),
        W1=rng.standard_normal((D_IN, H)), b1=np.zeros((H,)),
        W2=rng.standard_normal((H, O)), b2=np.zeros((O,)),
    )


def _net_loss(lib, X, y, W1, b1, W2, b2):
    h = X @ W1 + b1
    h_relu = lib.relu(h)
    pred = h_relu @ W2 + b2
    return ((y - pred) ** 2).sum()


NET_PARAMS = ["W1", "b1", "W2", "b2"]


def _net_grads(d):
    gp = {k: t64(d[k]) for k in NET_PARAMS}
    loss = _net_loss(gg, t64(d["X"], False), t64(d["y"], False), **gp)
    loss.backward()
    return loss, gp


@pytest.mark.torch
def test_seed_001_network_autodiff_matches_torch():
    d = _net_data()
    loss, gp = _net_grads(d)
    tp = {k: torch.tensor(d[k], requires_grad=True) for k in NET_PARAMS}
    tloss = _net_loss(torch, torch.tensor(d["X"]), torch.tensor(d["y"]), **tp)
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    for k in NET_PARAMS:
        np.testing.assert_allclose(gp[k].grad.numpy(), tp[k].grad.numpy(), rtol=1e-10,
                                   atol=1e-8, err_msg=k)


def test_seed_001_network_autodiff_is_the_right_manual_backward_not_the_posts_dW2():
    d = _net_data()
    _, gp = _net_grads(d)
    # the post's manual backward pass, line by line
    X, y, W1, b1, W2, b2 = (d[k] for k in ["X", "y", "W1", "b1", "W2", "b2"])
    h = X.dot(W1) + b1
    h_relu = np.maximum(h, 0)
    pred = h_relu.dot(W2) + b2
    dpred = 2.0 * (pred - y)
    db2 = np.sum(dpred, axis=0)
    # fact 1: the post's dW2 = h_relu.T.dot(db2) is wrong -- it does not even have W2's
    # shape (here it fails outright: (200, 32) . (10,))
    with pytest.raises(ValueError):
        h_relu.T.dot(db2)
    # fact 2: the right one, h_relu.T.dot(dpred), is what autodiff computed
    np.testing.assert_allclose(gp["W2"].grad.numpy(), h_relu.T.dot(dpred), rtol=1e-10)
    np.testing.assert_allclose(gp["b2"].grad.numpy(), db2, rtol=1e-10)
    # the post's dh_relu = db2.dot(W2.T) is wrong in the same way; dpred.dot(W2.T) is right
    post_dh = (h > 0) * db2.dot(W2.T)
    right_dh = (h > 0) * dpred.dot(W2.T)
    np.testing.assert_allclose(gp["W1"].grad.numpy(), X.T.dot(right_dh), rtol=1e-10)
    np.testing.assert_allclose(gp["b1"].grad.numpy(), right_dh.sum(0), rtol=1e-10)
    assert not np.allclose(gp["W1"].grad.numpy(), X.T.dot(post_dh))


def test_seed_001_network_sgd_steps_reduce_the_loss():
    d = _net_data(1)
    params = {k: t64(d[k]) for k in ["W1", "b1", "W2", "b2"]}
    X, y = t64(d["X"], False), t64(d["y"], False)
    # the post's learning rate 1e-2 diverges with its unscaled randn weights (the loss is
    # ~1e6); a step size fitted to that scale makes plain SGD descend
    learning_rate = 3e-6
    losses = []
    for _ in range(10):
        loss = _net_loss(gg, X, y, **params)
        losses.append(loss.item())
        for p in params.values():
            p.grad = None
        loss.backward()
        with gg.no_grad():
            for k, p in params.items():
                params[k] = gg.tensor(p.data - learning_rate * p.grad.data, requires_grad=True)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.2 * losses[0]


# -------------------------------------------------------------------- seed 002 ----

def test_seed_002_loss_z_times_x_plus_y():
    # Loss(x, y, z) = g(z, f(x, y)) = z (x + y), with x + y = 5 and z = 6
    x = gg.tensor(2.0, requires_grad=True)
    y = gg.tensor(3.0, requires_grad=True)
    z = gg.tensor(6.0, requires_grad=True)
    f = x + y
    f.retain_grad()
    loss = z * f
    loss.retain_grad()
    assert f.item() == 5 and loss.item() == 30
    loss.backward()
    assert loss.grad.item() == 1  # dLoss/dg = 1
    assert f.grad.item() == 6  # dLoss/df = 1 * z = 6
    assert z.grad.item() == 5  # dg/dz = x + y = 5
    assert x.grad.item() == 6  # dLoss/dx = 1 * z * 1 = 6
    assert y.grad.item() == 6  # dLoss/dy = 6


def test_seed_002_node_feeding_two_paths():
    # x feeds h and l; f = f(h, l); Loss = g(f): dLoss/dx is the sum over both paths
    x0, z0 = 1.5, 6.0
    x = t64(x0)
    z = t64(z0, requires_grad=False)
    h = x * 2.0
    l = gg.sin(x)
    f = h * l
    loss = z * f
    loss.backward()
    dg_df = z0
    path_h = dg_df * np.sin(x0) * 2.0  # dg/df * df/dh * dh/dx
    path_l = dg_df * (2.0 * x0) * np.cos(x0)  # dg/df * df/dl * dl/dx
    assert x.grad.item() == pytest.approx(path_h + path_l, rel=1e-12)


def test_seed_002_square_gradient():
    x = t64([[1.0, -2.0], [3.0, 0.5]])
    G = np.array([[1.0, 2.0], [3.0, 4.0]])
    (x * x).backward(gg.tensor(G))
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() * G)


def test_seed_002_broadcast_add_gradient():
    A = t64([[1.0, 2.0], [3.0, 4.0]])
    G = np.array([[1.0, 2.0], [3.0, 4.0]])
    # b a scalar: dL/db = sum of every element of G
    b = t64(0.5)
    (A + b).backward(gg.tensor(G))
    assert b.grad.item() == G.sum()
    np.testing.assert_array_equal(A.grad.numpy(), G)
    # b a column vector [b0; b1]: each row of G summed
    bc = t64([[0.5], [1.5]])
    (A.detach() + bc).backward(gg.tensor(G))
    np.testing.assert_array_equal(bc.grad.numpy(), G.sum(axis=1, keepdims=True))
    # b a row (1-D, length 2) broadcast over rows: each column of G summed
    br = t64([0.5, 1.5])
    (A.detach() + br).backward(gg.tensor(G))
    np.testing.assert_array_equal(br.grad.numpy(), G.sum(axis=0))


def test_seed_002_matmul_dimension_analysis():
    rng = np.random.default_rng(2)
    M, Nn, K = 4, 3, 5
    A = t64(rng.standard_normal((M, Nn)))
    B = t64(rng.standard_normal((Nn, K)))
    G = rng.standard_normal((M, K))
    (A @ B).backward(gg.tensor(G))
    np.testing.assert_allclose(B.grad.numpy(), A.numpy().T @ G)  # A^T G
    np.testing.assert_allclose(A.grad.numpy(), G @ B.numpy().T)  # G B^T


# -------------------------------------------------------------------- seed 004 ----

@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_seed_004_jacobian_of_Wx_is_W(mode):
    rng = np.random.default_rng(3)
    n, m = 4, 3
    W = rng.standard_normal((n, m))
    x = rng.standard_normal(m)
    J = gg.jacobian(lambda x: t64(W, False) @ x, mode=mode)(t64(x, False))
    assert J.shape == (n, m)
    np.testing.assert_allclose(J.numpy(), W, rtol=1e-14)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_seed_004_jacobian_of_xW_is_W_transposed(mode):
    rng = np.random.default_rng(4)
    n, m = 4, 3
    W = rng.standard_normal((n, m))
    x = rng.standard_normal(n)
    J = gg.jacobian(lambda x: x @ t64(W, False), mode=mode)(t64(x, False))
    assert J.shape == (m, n)  # rows: z's size, columns: x's size
    np.testing.assert_allclose(J.numpy(), W.T, rtol=1e-14)


@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_seed_004_jacobian_of_identity_is_I(mode):
    J = gg.jacobian(lambda x: x, mode=mode)(t64([1.0, -2.0, 3.0, 0.0], False))
    np.testing.assert_array_equal(J.numpy(), np.eye(4))


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("name,f,df", [
    ("tanh", gg.tanh, lambda x: 1 - np.tanh(x) ** 2),
    ("sigmoid", gg.sigmoid, lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    ("exp", gg.exp, np.exp),
])
def test_seed_004_jacobian_of_elementwise_is_diagonal(name, f, df, mode):
    x = np.array([-1.5, -0.2, 0.0, 0.7, 2.0])
    J = gg.jacobian(f, mode=mode)(t64(x, False)).numpy()
    np.testing.assert_allclose(J, np.diag(df(x)), rtol=1e-12, atol=1e-15)
    assert np.count_nonzero(J - np.diag(np.diag(J))) == 0  # exactly diagonal


def test_seed_004_dJ_dW_for_Wx_is_outer_delta_x():
    rng = np.random.default_rng(5)
    n, m = 4, 3
    W = rng.standard_normal((n, m))
    x = rng.standard_normal(m)
    delta = rng.standard_normal(n)  # dJ/dz
    z, vjp_fn = gg.vjp(lambda W: W @ t64(x, False), t64(W, False))
    (dW,) = vjp_fn(gg.tensor(delta))
    assert dW.shape == (n, m)
    np.testing.assert_allclose(dW.numpy(), np.outer(delta, x), rtol=1e-14)  # delta x^T


def test_seed_004_dJ_dW_for_xW_is_x_transposed_delta():
    rng = np.random.default_rng(6)
    n, m = 4, 3
    W = rng.standard_normal((n, m))
    x = rng.standard_normal((1, n))  # a row vector
    delta = rng.standard_normal((1, m))
    z, vjp_fn = gg.vjp(lambda W: t64(x, False) @ W, t64(W, False))
    (dW,) = vjp_fn(gg.tensor(delta))
    np.testing.assert_allclose(dW.numpy(), x.T @ delta, rtol=1e-14)  # x^T delta


def _softmax_np(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def test_seed_004_softmax_cross_entropy_gradient_is_yhat_minus_y():
    theta = np.array([1.0, -0.5, 2.0, 0.3])
    y = np.array([0.0, 0.0, 1.0, 0.0])
    yhat = _softmax_np(theta)
    # the fused op, with a probability target and with a class index
    g1 = gg.grad(lambda t: gg.cross_entropy(t, gg.tensor(y), reduction="sum"))(t64(theta))
    np.testing.assert_allclose(g1.numpy(), yhat - y, rtol=1e-12, atol=1e-15)
    g2 = gg.grad(lambda t: gg.cross_entropy(t[None], gg.tensor([2])))(t64(theta))
    np.testing.assert_allclose(g2.numpy(), yhat - y, rtol=1e-12, atol=1e-15)
    # hand-written: J = -sum(y * log(softmax(theta)))
    g3 = gg.grad(lambda t: -(gg.tensor(y) * gg.log(gg.softmax(t))).sum())(t64(theta))
    np.testing.assert_allclose(g3.numpy(), yhat - y, rtol=1e-12, atol=1e-15)
    # and with softmax written out from exp and sum
    def hand(t):
        e = gg.exp(t)
        return -(gg.tensor(y) * gg.log(e / e.sum())).sum()
    g4 = gg.grad(hand)(t64(theta))
    np.testing.assert_allclose(g4.numpy(), yhat - y, rtol=1e-12, atol=1e-15)


def test_seed_004_softmax_jacobian():
    theta = np.array([0.2, -1.0, 0.5])
    yhat = _softmax_np(theta)
    want = np.diag(yhat) - np.outer(yhat, yhat)  # yhat_i (1[i=k] - yhat_k)
    for mode in ("rev", "fwd"):
        J = gg.jacobian(gg.softmax, mode=mode)(t64(theta, False))
        np.testing.assert_allclose(J.numpy(), want, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------- the RNN of seeds 000 / 003 ----

T_STEPS, N_IN, N_HID, N_OUT = 3, 4, 5, 3


def _rnn_data(seed=7):
    rng = np.random.default_rng(seed)
    return dict(
        xs=rng.standard_normal((T_STEPS, N_IN)),
        targets=[2, 0, 1],
        Wi=rng.standard_normal((N_HID, N_IN)) * 0.5,
        Wh=rng.standard_normal((N_HID, N_HID)) * 0.5,
        Wo=rng.standard_normal((N_OUT, N_HID)) * 0.5,
    )


def _rnn_loss_gg(xs, targets, Wi, Whs, Wo):
    """C = C1 + C2 + C3; h_t = sigma(Wi x_t + Wh h_{t-1}); y_t = softmax(Wo h_t).

    ``Whs`` holds the Wh used at each step (the same tensor three times, or copies)."""
    h = gg.zeros(N_HID, dtype=gg.float64)
    C = 0.0
    for t in range(T_STEPS):
        h = gg.sigmoid(Wi @ xs[t] + Whs[t] @ h)
        y = gg.softmax(Wo @ h)
        C = C + -gg.log(y[targets[t]])  # cross-entropy C_t = -log y_r
    return C


def _rnn_grads(d):
    Wi, Wh, Wo = t64(d["Wi"]), t64(d["Wh"]), t64(d["Wo"])
    C = _rnn_loss_gg(t64(d["xs"], False), d["targets"], Wi, [Wh] * T_STEPS, Wo)
    C.backward()
    return C, Wi, Wh, Wo


@pytest.mark.torch
def test_rnn_matches_torch():
    d = _rnn_data()
    C, Wi, Wh, Wo = _rnn_grads(d)
    tWi, tWh, tWo = (torch.tensor(d[k], requires_grad=True) for k in ["Wi", "Wh", "Wo"])
    h = torch.zeros(N_HID, dtype=torch.float64)
    tC = 0.0
    for t in range(T_STEPS):  # the RNN unrolled in PyTorch
        h = torch.sigmoid(tWi @ torch.tensor(d["xs"][t]) + tWh @ h)
        y = torch.softmax(tWo @ h, dim=0)
        tC = tC - torch.log(y[d["targets"][t]])
    tC.backward()
    assert C.item() == pytest.approx(tC.item(), rel=1e-12)
    for mine, theirs in [(Wi, tWi), (Wh, tWh), (Wo, tWo)]:
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10,
                                   atol=1e-14)


def test_rnn_dC_dWh_sums_every_step():
    d = _rnn_data()
    xs = t64(d["xs"], False)
    _, _, Wh, _ = _rnn_grads(d)
    # the seed's path argument: give each step its own copy of Wh (Wh(1), Wh(2), Wh(3));
    # dC/dWh is the sum of the three copies' gradients
    copies = [t64(d["Wh"]) for _ in range(T_STEPS)]
    C2 = _rnn_loss_gg(xs, d["targets"], t64(d["Wi"]), copies, t64(d["Wo"]))
    C2.backward()
    total = sum(c.grad.numpy() for c in copies)
    np.testing.assert_allclose(Wh.grad.numpy(), total, rtol=1e-12, atol=1e-15)
    # every copy contributes (copy 1 by three paths, copy 2 by two, copy 3 by one) ...
    assert all(np.abs(c.grad.numpy()).sum() > 1e-6 for c in copies[1:])
    # ... and no single copy is the whole gradient
    assert not any(np.allclose(c.grad.numpy(), total) for c in copies)


def test_rnn_last_copy_has_the_single_path_C3_y3_h3():
    d = _rnn_data()
    xs = t64(d["xs"], False)
    copies = [t64(d["Wh"]) for _ in range(T_STEPS)]
    Wi, Wo = t64(d["Wi"], False), t64(d["Wo"], False)
    # only C3 reaches Wh(3), through y3 and h3: its gradient is the same with C = C3 alone
    C = _rnn_loss_gg(xs, d["targets"], Wi, copies, Wo)
    g_full = gg.grad_of(C, copies[2])
    h = gg.zeros(N_HID, dtype=gg.float64)
    for t in range(T_STEPS):
        h = gg.sigmoid(Wi @ xs[t] + copies[t] @ h)
    C3 = -gg.log(gg.softmax(Wo @ h)[d["targets"][2]])
    g_c3 = gg.grad_of(C3, copies[2])
    np.testing.assert_allclose(g_full.numpy(), g_c3.numpy(), rtol=1e-12, atol=1e-15)
