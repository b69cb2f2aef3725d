"""Functional transforms on pytrees (dicts, lists, tuples, namedtuples of Tensors, arrays
and numbers) and HIPS autograd's names, against finite differences and PyTorch."""

from collections import namedtuple

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.core.pytree import (
    register_pytree_node,
    tree_flatten,
    tree_flatten_up_to,
    tree_map,
    tree_structure,
    tree_unflatten,
)
from graphgrad.testing import gradcheck

RNG = np.random.default_rng(7)
Params = namedtuple("Params", ["w", "b"])


def fd_grad(f, tree, eps=1e-6):
    """Central finite differences of the scalar ``f(tree)`` (float64 NumPy leaves)."""
    leaves, td = tree_flatten(tree)
    leaves = [np.array(v, dtype=np.float64) for v in leaves]
    grads = []
    for j, x in enumerate(leaves):
        g = np.zeros_like(x)
        for k in np.ndindex(x.shape):
            up = [v.copy() for v in leaves]
            dn = [v.copy() for v in leaves]
            up[j][k] += eps
            dn[j][k] -= eps
            g[k] = (float(f(tree_unflatten(td, up))) - float(f(tree_unflatten(td, dn)))) / (2 * eps)
        grads.append(g)
    return tree_unflatten(td, grads)


def assert_tree_close(got, want, atol=1e-6):
    gl, gt = tree_flatten(got)
    wl, wt = tree_flatten(want)
    assert gt == wt, f"structure {gt} != {wt}"
    for g, w in zip(gl, wl):
        g = g.numpy() if isinstance(g, gg.Tensor) else np.asarray(g)
        assert g.shape == np.shape(w)
        np.testing.assert_allclose(g, w, atol=atol, rtol=1e-6)


def loss(p):
    """A scalar of a nested parameter tree, written in graphgrad ops."""
    h = gg.tanh(p["x"] @ p["layers"][0].w + p["layers"][0].b)
    return gg.sum(h * p["layers"][1][0]) + gg.sum(p["layers"][1][1] ** 2) * p["scale"]


def make_params():
    return {"x": RNG.normal(size=(2, 3)),
            "layers": [Params(RNG.normal(size=(3, 4)), RNG.normal(size=4)),
                       (RNG.normal(size=(2, 4)), RNG.normal(size=3))],
            "scale": np.float64(0.7),
            "unused": None}


def test_grad_of_a_nested_tree_has_its_structure_and_matches_finite_differences():
    p = make_params()
    g = gg.grad(loss)(p)
    assert isinstance(g, dict) and isinstance(g["layers"], list)
    assert isinstance(g["layers"][0], Params) and isinstance(g["layers"][1], tuple)
    assert g["unused"] is None
    assert tree_structure(g) == tree_structure(p)
    assert_tree_close(g, fd_grad(lambda q: loss(tree_map(gg.tensor, q)).item(), p))


def test_grad_of_a_tree_matches_torch():
    torch = pytest.importorskip("torch")
    p = make_params()
    tp = tree_map(lambda v: torch.tensor(v, requires_grad=True), p)
    h = torch.tanh(tp["x"] @ tp["layers"][0].w + tp["layers"][0].b)
    out = (h * tp["layers"][1][0]).sum() + (tp["layers"][1][1] ** 2).sum() * tp["scale"]
    out.backward()
    assert_tree_close(gg.grad(loss)(p), tree_map(lambda t: t.grad.numpy(), tp))


def test_leaves_may_be_tensors_arrays_or_numbers_and_keep_their_dtype():
    f = lambda d: d["t"] * d["a"].sum()
    g = gg.grad(f)({"t": gg.tensor(2.0, dtype=gg.float64), "a": np.array([1.0, 3.0])})
    assert g["t"].item() == 4.0 and g["t"].dtype == np.float64
    np.testing.assert_array_equal(g["a"].numpy(), [2.0, 2.0])
    assert g["a"].dtype == np.float64
    g = gg.grad(lambda d: d["n"] ** 2 * d["m"])({"n": 5.0, "m": 2.0})
    assert g["n"].item() == 20.0 and g["n"].dtype == np.float32  # a Python float: float32


def test_argnums_select_tree_arguments():
    f = lambda a, xs, c: (a * xs[0] + xs[1] * c).sum()
    a, xs, c = np.float64(2.0), [np.array([1.0, 2.0]), np.array([3.0, 4.0])], np.float64(3.0)
    ga, gxs = gg.grad(f, argnums=(0, 1))(a, xs, c)
    assert ga.item() == 3.0 and isinstance(gxs, list)
    np.testing.assert_array_equal(gxs[0].numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(gxs[1].numpy(), [3.0, 3.0])
    gxs2 = gg.grad(f, argnums=-2)(a, xs, c)
    assert isinstance(gxs2, list) and gxs2[1].tolist() == [3.0, 3.0]
    # HIPS autograd's spelling
    assert gg.grad(f, argnum=2)(a, xs, c).item() == 7.0


def test_bad_argnums_name_the_problem():
    with pytest.raises(TypeError, match="argnums=3 but the function was called with 2"):
        gg.grad(lambda a, b: a * b, argnums=3)(1.0, 2.0)


def test_value_and_grad_with_aux_on_a_tree():
    def f(p):
        y = p["w"] * p["w"]
        return y.sum(), {"y": y}

    (v, aux), g = gg.value_and_grad(f, has_aux=True)({"w": np.array([1.0, 2.0])})
    assert v.item() == 5.0 and aux["y"].tolist() == [1.0, 4.0]
    assert list(g) == ["w"] and g["w"].tolist() == [2.0, 4.0]
    with pytest.raises(TypeError, match="pair"):
        gg.grad(lambda p: p["w"].sum(), has_aux=True)({"w": np.ones(2)})


def test_grad_of_a_tree_is_differentiable_again():
    # the gradient of a tree-valued grad, itself checked against finite differences
    def first(a, b):
        g = gg.grad(lambda p: gg.sum(gg.sin(p["a"]) * p["b"][0] ** 2))({"a": a, "b": [b]})
        return g["a"] * 3 + g["b"][0]

    assert gradcheck(first, [RNG.normal(size=3), RNG.normal(size=3)])


def test_vjp_with_tree_primals_and_tree_outputs():
    torch = pytest.importorskip("torch")
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=3)
    out, f_vjp = gg.vjp(lambda p: {"s": gg.exp(p[0]) @ p[1], "t": p[1] * 2}, (a, b))
    assert set(out) == {"s", "t"} and out["s"].shape == (2,)
    cs, ct = RNG.normal(size=2), RNG.normal(size=3)
    (g,) = f_vjp({"s": cs, "t": ct})
    assert isinstance(g, tuple) and len(g) == 2
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ((torch.exp(ta) @ tb) @ torch.tensor(cs) + (tb * 2) @ torch.tensor(ct)).backward()
    np.testing.assert_allclose(g[0].numpy(), ta.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(g[1].numpy(), tb.grad.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="structure"):
        f_vjp([cs, ct])


def test_jvp_with_trees():
    p = {"a": np.array([0.5, 1.0]), "b": np.float64(2.0)}
    t = {"a": np.array([1.0, -1.0]), "b": np.float64(0.5)}
    out, tan = gg.jvp(lambda q: [q["a"] * q["b"], gg.sum(q["a"])], (p,), (t,))
    assert isinstance(out, list) and isinstance(tan, list)
    np.testing.assert_allclose(tan[0].numpy(), t["a"] * 2.0 + p["a"] * 0.5)
    assert tan[1].item() == 0.0
    with pytest.raises(ValueError, match="structure"):
        gg.jvp(lambda q: q["a"], (p,), ([1.0],))


def test_jacobian_of_trees_is_nested_as_jax():
    torch = pytest.importorskip("torch")
    from torch.autograd.functional import jacobian as t_jac
    a, b = RNG.normal(size=3), RNG.normal(size=(3, 2))
    f = lambda p: {"y": gg.tanh(p["a"] @ p["b"]), "z": gg.sum(p["a"] ** 3)}
    tf = lambda ta, tb: (torch.tanh(ta @ tb), (ta ** 3).sum())
    want = t_jac(tf, (torch.tensor(a), torch.tensor(b)))
    for mode in ("rev", "fwd"):
        J = gg.jacobian(f, mode=mode)({"a": a, "b": b})
        assert set(J) == {"y", "z"} and set(J["y"]) == {"a", "b"}
        assert J["y"]["b"].shape == (2, 3, 2) and J["z"]["a"].shape == (3,)
        for k, key in enumerate(("y", "z")):
            np.testing.assert_allclose(J[key]["a"].numpy(), want[k][0].numpy(), atol=1e-10)
            np.testing.assert_allclose(J[key]["b"].numpy(), want[k][1].numpy(), atol=1e-10)


def test_hessian_of_a_tree():
    torch = pytest.importorskip("torch")
    from torch.autograd.functional import hessian as t_hess
    a, b = RNG.normal(size=2), RNG.normal(size=2)
    H = gg.hessian(lambda p: gg.sum(gg.sin(p[0]) * p[1] ** 2))([a, b])
    want = t_hess(lambda ta, tb: (torch.sin(ta) * tb ** 2).sum(),
                  (torch.tensor(a), torch.tensor(b)))
    assert isinstance(H, list) and isinstance(H[0], list)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(H[i][j].numpy(), want[i][j].numpy(), atol=1e-10)


def test_elementwise_grad_to_third_order():
    x = np.linspace(-2, 2, 9)
    d1 = gg.elementwise_grad(gg.tanh)
    d3 = gg.elementwise_grad(gg.elementwise_grad(d1))
    t = np.tanh(x)
    np.testing.assert_allclose(d1(x).numpy(), 1 - t ** 2, atol=1e-12)
    np.testing.assert_allclose(d3(x).numpy(), -2 * (1 - t ** 2) * (1 - 3 * t ** 2), atol=1e-10)


def test_elementwise_grad_argnum_and_tree_output():
    g = gg.elementwise_grad(lambda x, y: [x * y, y ** 2], argnum=1)(np.array([1.0, 2.0]),
                                                                    np.array([3.0, 4.0]))
    np.testing.assert_allclose(g.numpy(), [1.0 + 6.0, 2.0 + 8.0])


def _hvp_case():
    torch = pytest.importorskip("torch")
    x, v = RNG.normal(size=4), RNG.normal(size=4)
    f = lambda x: gg.sum(gg.exp(x) * x[::-1]) * gg.sum(x ** 2)
    tf = lambda x: (torch.exp(x) * x.flip(0)).sum() * (x ** 2).sum()
    H = torch.autograd.functional.hessian(tf, torch.tensor(x)).numpy()
    return f, x, v, H @ v


def test_hessian_vector_product_matches_torch():
    f, x, v, want = _hvp_case()
    np.testing.assert_allclose(gg.hessian_vector_product(f)(x, v).numpy(), want, rtol=1e-9)
    # with another argument before the point (argnum), as HIPS autograd's signature
    g = lambda s, x: f(x) * s
    np.testing.assert_allclose(gg.hessian_vector_product(g, argnum=1)(2.0, x, v).numpy(),
                               2 * want, rtol=1e-6)
    assert gg.hessian_tensor_product is gg.hessian_vector_product


def test_make_hvp_reuses_the_gradient_for_many_vectors():
    f, x, v, want = _hvp_case()
    hvp, g = gg.make_hvp(f)(x)
    np.testing.assert_allclose(g.numpy(), gg.grad(f)(x).numpy(), rtol=1e-12)
    np.testing.assert_allclose(hvp(v).numpy(), want, rtol=1e-9)
    np.testing.assert_allclose(hvp(2 * v).numpy(), 2 * want, rtol=1e-9)


def test_hessian_vector_product_of_a_tree():
    f = lambda p: gg.sum(p["a"] ** 2 * p["b"])
    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    v = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    hv = gg.hessian_vector_product(f)(p, v)
    # H = [[2 diag(b), 2 diag(a)], [2 diag(a), 0]]
    np.testing.assert_allclose(hv["a"].numpy(), [2 * 3.0 * 1 + 0, 2 * 2.0 * 1])
    np.testing.assert_allclose(hv["b"].numpy(), [2 * 1.0 * 1, 0.0])


def test_cotangents_and_tangents_may_be_lists_below_a_leaf():
    x = np.array([1.0, 2.0])
    out, f_vjp = gg.vjp(lambda x: x * 3, x)
    assert f_vjp([1.0, 10.0])[0].tolist() == [3.0, 30.0]  # a list for an array output
    _, tan = gg.jvp(lambda x: x * x, (x,), ([1.0, 1.0],))
    assert tan.tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match=r"keys \['a'\] at \[0\], got a dict with keys "
                                         r"\['b'\]"):
        gg.jvp(lambda p: p["a"], ({"a": x},), ({"b": x},))


def test_tree_flatten_up_to():
    td = tree_structure({"a": 1, "b": (2, None)})
    assert tree_flatten_up_to(td, {"b": ([5], None), "a": 4}) == [4, [5]]
    with pytest.raises(ValueError, match=r"expected \(\*, None\) at \['b'\], got a list"):
        tree_flatten_up_to(td, {"a": 1, "b": [2, None]})
    with pytest.raises(ValueError, match=r"expected None at \['b'\]\[1\]"):
        tree_flatten_up_to(td, {"a": 1, "b": (2, 3)})


class Affine:
    """A user's parameter container, registered as a pytree node."""

    def __init__(self, w, b, name="affine"):
        self.w, self.b, self.name = w, b, name

    def __call__(self, x):
        return x @ self.w + self.b


register_pytree_node(Affine, lambda m: ((m.w, m.b), m.name),
                     lambda name, c: Affine(c[0], c[1], name))


def test_a_registered_class_is_a_pytree_for_the_transforms():
    torch = pytest.importorskip("torch")
    w, b, x = RNG.normal(size=(3, 2)), RNG.normal(size=2), RNG.normal(size=(4, 3))
    g = gg.grad(lambda m: gg.sum(gg.tanh(m(x))))(Affine(w, b, "layer1"))
    assert isinstance(g, Affine) and g.name == "layer1"
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.tanh(torch.tensor(x) @ tw + tb).sum().backward()
    np.testing.assert_allclose(g.w.numpy(), tw.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(g.b.numpy(), tb.grad.numpy(), rtol=1e-10)
    assert tree_structure(Affine(1, 2, "a")) != tree_structure(Affine(1, 2, "b"))
    with pytest.raises(ValueError, match="expected Affine"):
        tree_flatten_up_to(tree_structure(Affine(1, 2, "a")), Affine(1, 2, "b"))
    with pytest.raises(ValueError, match="expected Affine"):
        tree_flatten_up_to(tree_structure(Affine(1, 2, "a")), (1, 2))
    with pytest.raises(TypeError, match="built in"):
        register_pytree_node(dict, None, None)


def test_a_non_numeric_output_is_named():
    with pytest.raises(TypeError, match=r"jacobian: f returned a str among its outputs"):
        gg.jacobian(lambda x: {"y": x, "tag": "hello"})(np.ones(2))
