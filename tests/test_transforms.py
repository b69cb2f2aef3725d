"""Functional transforms: grad, value_and_grad, vjp, jvp, jacobian, hessian, and their
compositions, checked against analytic results and PyTorch."""

import numpy as np
import pytest

import graphgrad as gg

try:  # torch is only a test oracle: without it the torch comparisons skip
    import torch
    from torch.autograd.functional import hessian as t_hessian
    from torch.autograd.functional import jacobian as t_jacobian
except ImportError:
    torch = t_hessian = t_jacobian = None

# torch.func uses a deprecated torch.jit path internally; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


def t64(a, requires_grad=False):
    return gg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


RNG = np.random.default_rng(0)


# -------------------------------------------------------- grad / value_and_grad ----

def test_grad_argnums_int_and_tuple():
    f = lambda x, y: (x * x * y).sum()
    x, y = t64([1.0, 2.0]), t64(3.0)
    np.testing.assert_array_equal(gg.grad(f)(x, y).numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(gg.grad(f, argnums=1)(x, y).numpy(), 5.0)
    gx, gy = gg.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx.numpy(), [6.0, 12.0])
    assert gy.item() == 5.0 and gy.shape == ()
    (g1,) = gg.grad(f, argnums=(1,))(x, y)
    assert g1.item() == 5.0
    assert x.grad is None and not x.requires_grad  # inputs left untouched


def test_value_and_grad():
    f = lambda x: gg.sin(x).sum()
    v, g = gg.value_and_grad(f)(t64([0.0, 1.0]))
    assert v.item() == pytest.approx(np.sin(1.0))
    np.testing.assert_allclose(g.numpy(), np.cos([0.0, 1.0]))
    v, (ga, gb) = gg.value_and_grad(lambda a, b: a * b, argnums=(0, 1))(2.0, 5.0)
    assert (v.item(), ga.item(), gb.item()) == (10.0, 5.0, 2.0)


def test_has_aux():
    def f(x):
        y = x * x
        return y.sum(), {"y": y, "n": 3}

    (v, aux), g = gg.value_and_grad(f, has_aux=True)(t64([1.0, 2.0]))
    assert v.item() == 5.0 and aux["n"] == 3
    np.testing.assert_array_equal(aux["y"].numpy(), [1.0, 4.0])
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])
    g2, aux2 = gg.grad(f, has_aux=True)(t64([3.0]))
    np.testing.assert_array_equal(g2.numpy(), [6.0])
    assert aux2["n"] == 3


def test_grad_of_a_non_scalar_function_is_an_error():
    with pytest.raises(gg.BackwardError, match="scalar"):
        gg.grad(lambda x: x * 2)(t64([1.0, 2.0]))


def test_grad_of_a_constant_function_is_zero():
    g = gg.grad(lambda x: gg.tensor(3.0))(t64([1.0, 2.0]))
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0])


@pytest.mark.parametrize("f,derivs", [
    (gg.sin, [np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x), np.sin]),
    (lambda x: x ** 5, [lambda x: 5 * x ** 4, lambda x: 20 * x ** 3, lambda x: 60 * x ** 2,
                        lambda x: 120 * x]),
    (lambda x: gg.exp(x * x),
     [lambda x: 2 * x * np.exp(x * x),
      lambda x: (2 + 4 * x ** 2) * np.exp(x * x),
      lambda x: (12 * x + 8 * x ** 3) * np.exp(x * x),
      lambda x: (12 + 48 * x ** 2 + 16 * x ** 4) * np.exp(x * x)]),
    (gg.tanh, [lambda x: 1 - np.tanh(x) ** 2,
               lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2),
               lambda x: (6 * np.tanh(x) ** 2 - 2) * (1 - np.tanh(x) ** 2),
               lambda x: (16 * np.tanh(x) - 24 * np.tanh(x) ** 3) * (1 - np.tanh(x) ** 2)]),
])
def test_grad_of_grad_to_order_4(f, derivs):
    x0 = 0.7
    g = f
    for k, d in enumerate(derivs):
        g = gg.grad(g)
        assert g(t64(x0)).item() == pytest.approx(d(x0), rel=1e-10), f"order {k + 1}"


def test_grad_of_grad_two_variables():
    f = lambda x, y: x * x * y * y * y
    dxy = gg.grad(gg.grad(f, argnums=0), argnums=1)  # d2f/dxdy = 6xy^2
    assert dxy(2.0, 3.0).item() == pytest.approx(108.0)
    dyy = gg.grad(gg.grad(f, argnums=1), argnums=1)  # 6x^2 y
    assert dyy(2.0, 3.0).item() == pytest.approx(72.0)


# ---------------------------------------------------------------- vjp / jvp ----

def test_vjp():
    W = RNG.standard_normal((3, 4))
    xv = RNG.standard_normal(4)
    f = lambda x: gg.tanh(t64(W) @ x)
    out, vjp_fn = gg.vjp(f, t64(xv))
    np.testing.assert_allclose(out.numpy(), np.tanh(W @ xv))
    for _ in range(2):  # the graph is kept: vjp_fn may be called again
        ct = RNG.standard_normal(3)
        (g,) = vjp_fn(gg.tensor(ct))
        np.testing.assert_allclose(g.numpy(), W.T @ (ct * (1 - np.tanh(W @ xv) ** 2)),
                                   rtol=1e-12)


@pytest.mark.torch
def test_vjp_two_primals_vs_torch():
    av, bv, ct = RNG.standard_normal((2, 3)), RNG.standard_normal((3,)), RNG.standard_normal(2)
    out, fn = gg.vjp(lambda a, b: gg.exp(a) @ b, t64(av), t64(bv))
    ga, gb = fn(gg.tensor(ct))
    ta, tb = torch.func.vjp(lambda a, b: torch.exp(a) @ b, torch.tensor(av),
                            torch.tensor(bv))[1](torch.tensor(ct))
    np.testing.assert_allclose(ga.numpy(), ta.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), tb.numpy(), rtol=1e-12)


def _fns():
    W = RNG.standard_normal((3, 4))
    b = RNG.standard_normal((2, 1))
    return [
        ("matmul_tanh", lambda L, x: L.tanh(_c(L, W) @ x), (4,)),
        ("softmax", lambda L, x: _softmax(L, x), (5,)),
        ("broadcast", lambda L, x: L.exp(x * _c(L, b)) + x, (2, 3)),
        ("sum_sq", lambda L, x: (x * x).sum(0) / (1 + (x * x).sum()), (3, 2)),
        ("matmul_self", lambda L, x: x @ x.T, (2, 3)),
        ("cubic", lambda L, x: x * x * x - L.sin(x), (3,)),
    ]


def _c(L, a):
    if L is np:
        return a
    return gg.tensor(a) if L is gg else torch.tensor(a)


def _softmax(L, x):
    if L is np:
        e = np.exp(x - x.max())
        return e / e.sum()
    return gg.softmax(x) if L is gg else torch.softmax(x, dim=-1)


def _fd_jacobian(f, xv, eps=1e-6):
    """Central-difference Jacobian of a NumPy function, shaped out.shape + x.shape."""
    out = np.asarray(f(xv))
    J = np.empty(out.shape + xv.shape)
    for i in np.ndindex(xv.shape):
        d = np.zeros_like(xv)
        d[i] = eps
        J[(...,) + i] = (np.asarray(f(xv + d)) - np.asarray(f(xv - d))) / (2 * eps)
    return J


@pytest.mark.parametrize("name,f,shape", _fns(), ids=[f[0] for f in _fns()])
@pytest.mark.torch
def test_jvp_vs_torch(name, f, shape):
    xv, tv = RNG.standard_normal(shape), RNG.standard_normal(shape)
    out, tan = gg.jvp(lambda x: f(gg, x), (t64(xv),), (t64(tv),))
    tout, ttan = torch.func.jvp(lambda x: f(torch, x), (torch.tensor(xv),),
                                (torch.tensor(tv),))
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tan.numpy(), ttan.numpy(), rtol=1e-10, atol=1e-13)


def test_jvp_vs_finite_differences():
    f = lambda x: gg.log1p(x * x) * gg.cos(x).sum()
    xv, tv = RNG.standard_normal(4), RNG.standard_normal(4)
    _, tan = gg.jvp(f, (t64(xv),), (t64(tv),))
    eps = 1e-6
    fd = (f(t64(xv + eps * tv)).numpy() - f(t64(xv - eps * tv)).numpy()) / (2 * eps)
    np.testing.assert_allclose(tan.numpy(), fd, rtol=1e-7, atol=1e-9)


def test_jvp_is_true_forward_mode_no_graph_needed():
    # works under no_grad: tangents ride along the forward computation
    with gg.no_grad():
        out, tan = gg.jvp(lambda x: gg.exp(x) * 2, (t64([0.0, 1.0]),), (t64([1.0, 1.0]),))
    np.testing.assert_allclose(tan.numpy(), 2 * np.exp([0.0, 1.0]))


def test_jvp_checks_shapes():
    with pytest.raises(gg.ShapeError):
        gg.jvp(gg.exp, (t64([1.0, 2.0]),), (t64([1.0]),))


# ---------------------------------------------------------------- jacobian ----

@pytest.mark.parametrize("name,f,shape", _fns(), ids=[f[0] for f in _fns()])
@pytest.mark.torch
def test_jacobian_rev_and_fwd_agree_with_torch(name, f, shape):
    xv = RNG.standard_normal(shape)
    want = t_jacobian(lambda x: f(torch, x), torch.tensor(xv)).numpy()
    for mode in ("rev", "fwd"):
        J = gg.jacobian(lambda x: f(gg, x), mode=mode)(t64(xv))
        assert J.shape == want.shape, mode
        np.testing.assert_allclose(J.numpy(), want, rtol=1e-10, atol=1e-13, err_msg=mode)


@pytest.mark.parametrize("name,f,shape", _fns(), ids=[f[0] for f in _fns()])
def test_jacobian_rev_and_fwd_agree_with_finite_differences(name, f, shape):
    xv = RNG.standard_normal(shape)
    want = _fd_jacobian(lambda x: f(np, x), xv)
    for mode in ("rev", "fwd"):
        J = gg.jacobian(lambda x: f(gg, x), mode=mode)(t64(xv))
        assert J.shape == want.shape, mode
        np.testing.assert_allclose(J.numpy(), want, rtol=1e-6, atol=1e-8, err_msg=mode)


@pytest.mark.torch
def test_jacobian_argnums_tuple():
    av, bv = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
    Ja, Jb = gg.jacobian(lambda a, b: a @ b, argnums=(0, 1))(t64(av), t64(bv))
    ta, tb = t_jacobian(lambda a, b: a @ b, (torch.tensor(av), torch.tensor(bv)))
    np.testing.assert_allclose(Ja.numpy(), ta.numpy())
    np.testing.assert_allclose(Jb.numpy(), tb.numpy())


def test_jacobian_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        gg.jacobian(gg.exp, mode="sideways")


# ---------------------------------------------------------------- hessian ----

@pytest.mark.parametrize("which", range(4))
@pytest.mark.torch
def test_hessian_vs_torch(which):
    A = RNG.standard_normal((3, 3))
    fs = [
        lambda L, x: (x * x * x).sum() + (x[0] * x[1]) * x[2],
        lambda L, x: L.log(1 + (L.exp(x)).sum()),
        lambda L, x: (L.tanh(_c(L, A) @ x) ** 2).sum(),
        lambda L, x: (x @ _c(L, A) @ x) * L.sin(x).sum(),
    ]
    f = fs[which]
    xv = RNG.standard_normal(3) * 0.5
    H = gg.hessian(lambda x: f(gg, x))(t64(xv))
    want = t_hessian(lambda x: f(torch, x), torch.tensor(xv)).numpy()
    assert H.shape == (3, 3)
    np.testing.assert_allclose(H.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("which", range(4))
def test_hessian_vs_finite_differences_of_grad(which):
    A = RNG.standard_normal((3, 3))
    fs = [
        lambda x: (x * x * x).sum() + (x[0] * x[1]) * x[2],
        lambda x: gg.log(1 + (gg.exp(x)).sum()),
        lambda x: (gg.tanh(gg.tensor(A) @ x) ** 2).sum(),
        lambda x: (x @ gg.tensor(A) @ x) * gg.sin(x).sum(),
    ]
    f = fs[which]
    xv = RNG.standard_normal(3) * 0.5
    H = gg.hessian(f)(t64(xv))
    want = _fd_jacobian(lambda x: gg.grad(f)(t64(x)).numpy(), xv)
    assert H.shape == (3, 3)
    np.testing.assert_allclose(H.numpy(), H.numpy().T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H.numpy(), want, rtol=1e-6, atol=1e-8)


def test_hessian_of_a_matrix_input_vs_analytic():
    # f = x01 * sum(x^2): H[i,j,k,l] = 2 x01 d_ik d_jl + 2 x_ij d_(kl=01) + 2 x_kl d_(ij=01)
    xv = RNG.standard_normal((2, 2))
    H = gg.hessian(lambda x: (x * x).sum() * x[0, 1])(t64(xv))
    e01 = np.zeros((2, 2))
    e01[0, 1] = 1.0
    want = (2 * xv[0, 1] * np.einsum("ik,jl->ijkl", np.eye(2), np.eye(2))
            + 2 * np.einsum("ij,kl->ijkl", xv, e01) + 2 * np.einsum("ij,kl->ijkl", e01, xv))
    assert H.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(H.numpy(), want, rtol=1e-12, atol=1e-14)


@pytest.mark.torch
def test_hessian_of_a_matrix_input():
    xv = RNG.standard_normal((2, 2))
    H = gg.hessian(lambda x: (x * x).sum() * x[0, 1])(t64(xv))
    want = t_hessian(lambda x: (x * x).sum() * x[0, 1], torch.tensor(xv)).numpy()
    assert H.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(H.numpy(), want, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------- compositions ----

@pytest.mark.torch
def test_gradient_penalty_through_grad_closing_over_a_parameter():
    xv, wv = RNG.standard_normal((5, 3)), RNG.standard_normal((3, 2))
    w = t64(wv, requires_grad=True)

    def critic(x):
        return gg.tanh(x @ w).sum()

    g = gg.grad(critic)(t64(xv))
    assert g.requires_grad  # still connected to w
    penalty = ((g * g).sum(1).sqrt() - 1.0) ** 2
    penalty.sum().backward()

    tw = torch.tensor(wv, requires_grad=True)
    tx = torch.tensor(xv, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.tanh(tx @ tw).sum(), tx, create_graph=True)
    (((tg * tg).sum(1).sqrt() - 1.0) ** 2).sum().backward()
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)


def test_grad_does_not_record_when_nothing_needs_it():
    g = gg.grad(lambda x: (x * x).sum())(t64([1.0, 2.0]))
    assert not g.requires_grad and g.grad_fn is None


def test_hvp_compositions_agree_with_hessian():
    # jvp-of-grad and grad-of-jvp are both H v, and u^T H v is jvp-of-jvp
    A = RNG.standard_normal((3, 3))
    f = lambda x: gg.sin(x @ t64(A) @ x) + (x ** 4).sum()
    xv, u, v = RNG.standard_normal(3), RNG.standard_normal(3), RNG.standard_normal(3)
    H = _fd_jacobian(lambda x: gg.grad(f)(t64(x)).numpy(), xv)
    _, hvp_fwd = gg.jvp(gg.grad(f), (t64(xv),), (t64(v),))
    hvp_rev = gg.grad(lambda x: gg.jvp(f, (x,), (t64(v),))[1])(t64(xv))
    np.testing.assert_allclose(hvp_fwd.numpy(), H @ v, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(hvp_rev.numpy(), hvp_fwd.numpy(), rtol=1e-12, atol=1e-14)
    inner = lambda x: gg.jvp(f, (x,), (t64(u),))[1]
    _, d2 = gg.jvp(inner, (t64(xv),), (t64(v),))
    assert d2.item() == pytest.approx(u @ H @ v, rel=1e-6, abs=1e-8)


@pytest.mark.torch
def test_jvp_of_grad_is_hessian_vector_product():
    A = RNG.standard_normal((3, 3))
    f = lambda x: gg.sin(x @ t64(A) @ x) + (x ** 4).sum()
    xv, v = RNG.standard_normal(3), RNG.standard_normal(3)
    _, hvp = gg.jvp(gg.grad(f), (t64(xv),), (t64(v),))
    tf = lambda x: torch.sin(x @ torch.tensor(A) @ x) + (x ** 4).sum()
    want = t_hessian(tf, torch.tensor(xv)).numpy() @ v
    np.testing.assert_allclose(hvp.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.torch
def test_grad_of_jvp_is_hessian_vector_product():
    A = RNG.standard_normal((3, 3))
    f = lambda x: gg.sin(x @ t64(A) @ x) + (x ** 4).sum()
    xv, v = RNG.standard_normal(3), RNG.standard_normal(3)
    hvp = gg.grad(lambda x: gg.jvp(f, (x,), (t64(v),))[1])(t64(xv))
    tf = lambda x: torch.sin(x @ torch.tensor(A) @ x) + (x ** 4).sum()
    want = t_hessian(tf, torch.tensor(xv)).numpy() @ v
    np.testing.assert_allclose(hvp.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.torch
def test_jvp_of_jvp_second_directional_derivative():
    f = lambda x: gg.exp(x).sum() * gg.sin(x).sum()
    xv, u, v = RNG.standard_normal(3), RNG.standard_normal(3), RNG.standard_normal(3)
    inner = lambda x: gg.jvp(f, (x,), (t64(u),))[1]
    _, d2 = gg.jvp(inner, (t64(xv),), (t64(v),))
    tf = lambda x: torch.exp(x).sum() * torch.sin(x).sum()
    want = u @ t_hessian(tf, torch.tensor(xv)).numpy() @ v
    assert d2.item() == pytest.approx(want, rel=1e-10)


@pytest.mark.torch
def test_hessian_of_a_custom_vjp_function():
    @gg.custom_vjp
    def softclip(x):
        return gg.tanh(x)

    softclip.defvjp(lambda x: (gg.tanh(x), gg.tanh(x)), lambda y, g: (g * (1 - y * y),))
    xv = RNG.standard_normal(3)
    f = lambda x: (softclip(x) ** 2).sum()
    H = gg.hessian(f)(t64(xv))
    want = t_hessian(lambda x: (torch.tanh(x) ** 2).sum(), torch.tensor(xv)).numpy()
    np.testing.assert_allclose(H.numpy(), want, rtol=1e-10, atol=1e-12)
    _, tan = gg.jvp(softclip, (t64(xv),), (t64(np.ones(3)),))
    np.testing.assert_allclose(tan.numpy(), 1 - np.tanh(xv) ** 2, rtol=1e-12)


def test_hessian_argnums_tuple_is_nested():
    av, b0 = RNG.standard_normal(2), 0.7
    H = gg.hessian(lambda a, b: (a * a * b).sum() + gg.sin(b), argnums=(0, 1))(t64(av), t64(b0))
    np.testing.assert_allclose(H[0][0].numpy(), 2 * b0 * np.eye(2))
    np.testing.assert_allclose(H[0][1].numpy(), 2 * av)
    np.testing.assert_allclose(H[1][0].numpy(), 2 * av)
    assert H[1][1].item() == pytest.approx(-np.sin(b0))


def test_nested_grad_has_no_perturbation_confusion():
    # d/dx [ x * d/dy (x + y) ] = d/dx [ x ] = 1, not 2
    f = lambda x: x * gg.grad(lambda y: x + y)(t64(1.0))
    assert gg.grad(f)(t64(2.0)).item() == 1.0
    # d/dx [ d/dy sin(x y) at y = 1 ] = d/dx [ x cos(x) ] = cos(x) - x sin(x)
    g = lambda x: gg.grad(lambda y: gg.sin(x * y))(t64(1.0))
    x0 = 0.8
    assert gg.grad(g)(t64(x0)).item() == pytest.approx(np.cos(x0) - x0 * np.sin(x0), rel=1e-12)


def test_jvp_through_a_parameter_that_requires_grad():
    w = t64(2.0, requires_grad=True)
    _, tan = gg.jvp(lambda x: x * w * w, (t64(3.0),), (t64(1.0),))
    assert tan.item() == 4.0  # w^2
    tan.backward()
    assert w.grad.item() == 4.0  # d(w^2)/dw
