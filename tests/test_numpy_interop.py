"""NumPy's protocols on Tensor: NumPy functions and ufuncs applied to Tensors run
graphgrad's ops and stay differentiable; the rest is a clear error."""

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.testing import gradcheck

RNG = np.random.default_rng(3)


def t64(a, requires_grad=True):
    return gg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def test_ufuncs_on_a_tensor_are_differentiable():
    x = t64([0.5, 1.5])
    y = np.exp(x) + np.sin(x) * np.tanh(x) - np.log(x) / np.sqrt(x)
    assert isinstance(y, gg.Tensor) and y.requires_grad
    np.sum(y).backward()
    v = np.array([0.5, 1.5])
    want = (np.exp(v) + np.cos(v) * np.tanh(v) + np.sin(v) * (1 - np.tanh(v) ** 2)
            - (1 / v * np.sqrt(v) - np.log(v) * 0.5 / np.sqrt(v)) / v)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def test_numpy_functions_dispatch_to_graphgrad_ops():
    torch = pytest.importorskip("torch")
    a, xv = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))
    x = t64(xv)
    out = np.sum(np.dot(a, x) ** 2, axis=1)
    assert isinstance(out, gg.Tensor) and out.shape == (3,)
    np.mean(np.concatenate([out, np.max(x, axis=0)])).backward()
    tx = torch.tensor(xv, requires_grad=True)
    tout = ((torch.tensor(a) @ tx) ** 2).sum(1)
    torch.cat([tout, tx.max(0).values]).mean().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("name,f", [
    ("einsum", lambda x: np.einsum("ij,jk->ik", x, x.T)),
    ("tensordot", lambda x: np.tensordot(x, x, axes=([1], [1]))),
    ("reshape-transpose", lambda x: np.transpose(np.reshape(x, (3, 2)))),
    ("stack-where", lambda x: np.where(x > 0, np.stack([x, x])[0], -x)),
    ("clip-maximum", lambda x: np.clip(x, -0.5, 0.5) + np.maximum(x, 0.1)),
    ("var-std", lambda x: np.var(x, axis=1) + np.std(x)),
    ("norm-prod", lambda x: np.linalg.norm(x) * np.prod(x, axis=0)),
    ("hstack-vstack", lambda x: np.hstack([x, x]) @ np.vstack([x.T, x.T])),
    ("outer-trace", lambda x: np.trace(np.outer(x[0], x[1]))),
])
def test_dispatched_functions_pass_gradcheck(name, f):
    assert gradcheck(f, [RNG.normal(size=(2, 3))], order=1)


def test_var_and_std_keep_numpys_ddof():
    xv = RNG.normal(size=5)
    assert np.var(t64(xv)).item() == pytest.approx(np.var(xv))
    assert np.std(t64(xv), ddof=1).item() == pytest.approx(np.std(xv, ddof=1))


def test_ndarray_operators_with_a_tensor():
    x = t64([1.0, 2.0])
    a = np.array([3.0, 4.0])
    for y in (a + x, a * x, a - x, a / x, a ** x, a @ x):
        assert isinstance(y, gg.Tensor) and y.requires_grad
    (a - x).sum().backward()
    assert x.grad.tolist() == [-1.0, -1.0]


def test_inplace_on_an_ndarray_computes_on_the_data():
    w = np.array([1.0, 2.0])
    ref = w
    w -= gg.tensor([0.5, 0.5], dtype=gg.float64) * 2
    assert w is ref and w.tolist() == [0.0, 1.0]
    w += gg.tensor([1.0, 1.0], dtype=gg.float64)
    assert w.tolist() == [1.0, 2.0]
    np.multiply(w, gg.tensor(3.0, dtype=gg.float64), out=w)
    assert w.tolist() == [3.0, 6.0]


def test_writing_a_tensor_that_requires_grad_into_an_ndarray_is_refused():
    w = np.zeros(2)
    with pytest.raises(TypeError, match="drop its gradient"):
        w -= t64([1.0, 1.0])
    assert w.tolist() == [0.0, 0.0]


def test_numpy_cannot_write_into_a_tensor():
    x = t64([1.0, 2.0], requires_grad=False)
    with pytest.raises(TypeError, match="in-place methods"):
        np.add(x, 1.0, out=x)


def test_a_numpy_function_without_a_graphgrad_op_is_named():
    x = t64([1.0, 2.0])
    with pytest.raises(TypeError, match=r"np\.fft\.fft on a graphgrad Tensor: no graphgrad op"):
        np.fft.fft(x)
    with pytest.raises(TypeError, match=r"np\.sort on a graphgrad Tensor"):
        np.sort(x)
    with pytest.raises(TypeError, match=r"np\.floor on a graphgrad Tensor.*\.numpy\(\)"):
        np.floor(x)
    with pytest.raises(TypeError, match=r"np\.add\.accumulate"):
        np.add.accumulate(x)
    with pytest.raises(TypeError, match=r"np\.sum on graphgrad values: .*'where'"):
        np.sum(x, where=np.array([True, False]))


def test_asarray_and_queries_use_the_data():
    x = t64([1.0, 2.0])
    a = np.asarray(x)
    assert type(a) is np.ndarray and a is x.data  # the way out of the graph
    assert np.shape(x) == (2,) and np.ndim(x) == 1 and np.size(x) == 2
    assert np.allclose(x, [1.0, 2.0]) and not np.array_equal(x, [1.0, 3.0])
    z = np.zeros_like(x)
    assert type(z) is np.ndarray and z.dtype == np.float64
    np.testing.assert_allclose(x, [1.0, 2.0])


def test_ufunc_reduce_methods():
    x = t64([[1.0, 2.0], [3.0, 4.0]])
    s = np.add.reduce(x, axis=1)
    assert s.tolist() == [3.0, 7.0] and s.requires_grad
    assert np.maximum.reduce(x).tolist() == [3.0, 4.0]  # NumPy's default axis 0


def test_value_queries_refused_while_tracing():
    @gg.compile
    def f(x):
        if np.allclose(x, 0):
            return x
        return x * 2

    with pytest.raises(TypeError, match="while tracing"):
        f(np.ones(2))


def test_dispatch_works_inside_compile():
    @gg.compile
    def f(x):
        return np.sum(np.exp(x) * 2.0)

    x = np.array([0.0, 1.0])
    np.testing.assert_allclose(np.asarray(f(x)), 2 * np.exp(x).sum())


def test_inplace_into_an_int_array_names_the_operands():
    w = np.zeros(2, dtype=np.int64)
    with pytest.raises(TypeError, match=r"np\.add\(\.\.\., out=<ndarray>\) on operands "
                                        r"\[\(2,\) int64, \(2,\) float64\] into \[\(2,\) int64\]"):
        w += gg.tensor([0.5, 0.5], dtype=gg.float64)
