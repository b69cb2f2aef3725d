"""PyTorch's keyword spellings on the public ops (input=, other=, dim=, keepdim=), checked
against torch itself."""

import numpy as np
import pytest

import graphgrad as gg

torch = pytest.importorskip("torch")

X = np.arange(24, dtype=np.float64).reshape(2, 3, 4) % 7 - 3.0
Y = np.linspace(-2.0, 2.0, 24).reshape(2, 3, 4)


def _close(got, want):
    np.testing.assert_allclose(np.asarray(got), want.detach().numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "logsumexp", "amax", "amin",
                                  "var", "std", "norm"])
@pytest.mark.parametrize("dim", [1, -1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_take_dim_and_keepdim(name, dim, keepdim):
    if name == "prod" and isinstance(dim, tuple):
        pytest.skip("torch.prod takes one dim")
    got = getattr(gg, name)(input=gg.tensor(X), dim=dim, keepdim=keepdim)
    want = getattr(torch, name)(input=torch.tensor(X), dim=dim, keepdim=keepdim)
    _close(got, want)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_give_values_and_indices(name, keepdim):
    got = getattr(gg, name)(gg.tensor(X), dim=1, keepdim=keepdim)
    want = getattr(torch, name)(torch.tensor(X), dim=1, keepdim=keepdim)
    _close(got.values, want.values)
    np.testing.assert_array_equal(np.asarray(got.indices), want.indices.numpy())


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_take_dim(name):
    got = getattr(gg, name)(gg.tensor(Y), dim=2, keepdim=True)
    want = getattr(torch, name)(torch.tensor(Y), dim=2, keepdim=True)
    np.testing.assert_array_equal(np.asarray(got), want.numpy())


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_takes_dim(name):
    _close(getattr(gg, name)(gg.tensor(X), dim=1), getattr(torch, name)(torch.tensor(X), dim=1))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "minimum", "atan2",
                                  "matmul"])
def test_binary_ops_take_input_and_other(name):
    a, b = (X, Y.transpose(0, 2, 1)) if name == "matmul" else (X, Y)
    got = getattr(gg, name)(input=gg.tensor(a), other=gg.tensor(b))
    _close(got, getattr(torch, name)(input=torch.tensor(a), other=torch.tensor(b)))


def test_add_sub_alpha_pow_exponent_and_where():
    a, b = gg.tensor(X), gg.tensor(Y)
    ta, tb = torch.tensor(X), torch.tensor(Y)
    _close(gg.add(a, b, alpha=3), torch.add(ta, tb, alpha=3))
    _close(gg.sub(a, other=b, alpha=0.5), torch.sub(ta, other=tb, alpha=0.5))
    _close(gg.pow(input=b, exponent=2), torch.pow(input=tb, exponent=2))
    _close(gg.where(a > 0, input=a, other=b), torch.where(ta > 0, input=ta, other=tb))


def test_shape_functions_take_dim():
    a, ta = gg.tensor(X), torch.tensor(X)
    _close(gg.cat([a, a], dim=1), torch.cat([ta, ta], dim=1))
    _close(gg.stack([a, a], dim=-1), torch.stack([ta, ta], dim=-1))
    _close(gg.unsqueeze(a, dim=1), torch.unsqueeze(ta, dim=1))
    _close(gg.flatten(a, start_dim=1), torch.flatten(ta, start_dim=1))
    _close(gg.transpose(a, 0, 2), torch.transpose(ta, 0, 2))
    _close(gg.transpose(a, dim0=1, dim1=2), torch.transpose(ta, dim0=1, dim1=2))
    _close(gg.swapaxes(a, 0, 1), torch.swapaxes(ta, 0, 1))
    s, ts = gg.tensor(X[:, :1]), torch.tensor(X[:, :1])
    _close(gg.squeeze(s, dim=1), torch.squeeze(ts, dim=1))
    _close(gg.squeeze(s, dim=0), torch.squeeze(ts, dim=0))  # size 2: left as it is


def test_keywords_keep_the_gradient():
    x = gg.tensor(X, requires_grad=True)
    gg.sum(gg.mul(input=x, other=x), dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * X)


@pytest.mark.parametrize("call", [
    lambda a: gg.sum(a, axis=0, dim=1),
    lambda a: gg.max(a, axis=0, dim=1),
    lambda a: gg.cat([a, a], axis=0, dim=1),
    lambda a: gg.softmax(a, axis=0, dim=1),
    lambda a: gg.mean(a, keepdims=True, keepdim=False),
])
def test_both_spellings_raise_a_type_error_naming_the_op(call):
    with pytest.raises(TypeError, match=r"^(sum|max|concatenate|softmax|mean): got both"):
        call(gg.tensor(X))


def test_numpy_shares_memory_and_array_converts():
    t = gg.tensor(X)
    assert np.shares_memory(t.numpy(), t.data)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert "tensor(" in repr(t)
