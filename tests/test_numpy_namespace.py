"""``import graphgrad.numpy as np``: NumPy's names over graphgrad ops."""

import numpy
import pytest

import graphgrad as gg
import graphgrad.numpy as np

RNG = numpy.random.default_rng(11)


def test_creation_gives_numpy_arrays_as_numpy_does():
    for a, want in [(np.array([1.0, 2.0]), numpy.array([1.0, 2.0])),
                    (np.asarray([[1, 2]]), numpy.asarray([[1, 2]])),
                    (np.zeros((2, 3)), numpy.zeros((2, 3))), (np.ones(3), numpy.ones(3)),
                    (np.arange(4), numpy.arange(4)), (np.linspace(0, 1, 5),
                                                       numpy.linspace(0, 1, 5)),
                    (np.eye(2), numpy.eye(2)), (np.zeros_like(numpy.ones(2)), numpy.zeros(2))]:
        assert type(a) is numpy.ndarray and a.dtype == want.dtype
        numpy.testing.assert_array_equal(a, want)


def test_array_of_tensors_is_stacked_and_differentiable():
    x = gg.tensor(numpy.array(2.0), requires_grad=True)
    a = np.array([[x, 1.0], [3.0, x * x]])
    assert isinstance(a, gg.Tensor) and a.shape == (2, 2) and a.dtype == numpy.float64
    np.sum(a).backward()
    assert x.grad.item() == 1.0 + 4.0
    t = np.asarray(x)
    assert t is x  # a Tensor stays a Tensor (in the graph)


def test_constants_dtypes_and_random_are_numpys():
    assert np.pi == numpy.pi and np.e == numpy.e and np.inf == numpy.inf
    assert np.newaxis is None and np.float32 is numpy.float32 and np.float64 is numpy.float64
    assert np.random is numpy.random and np.ndarray is numpy.ndarray
    assert np.random.RandomState(0).randn(3).shape == (3,)
    import graphgrad.numpy.linalg as la
    import graphgrad.numpy.random as npr
    assert npr is numpy.random and la is np.linalg


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sin", "cos", "sqrt", "abs", "log1p",
                                  "tan", "sinh", "cosh", "log2", "log10", "square",
                                  "reciprocal", "negative"])
def test_elementwise_match_numpy_and_differentiate(name):
    xv = RNG.uniform(0.5, 1.5, size=4)
    numpy.testing.assert_allclose(getattr(np, name)(xv), getattr(numpy, name)(xv), rtol=1e-12)
    assert gg.testing.gradcheck(getattr(np, name), [xv], order=1)


@pytest.mark.parametrize("name,args,kwargs", [
    ("sum", [(2, 3)], {"axis": 1}), ("mean", [(2, 3)], {"axis": 0, "keepdims": True}),
    ("max", [(2, 3)], {"axis": 1}), ("min", [(2, 3)], {}), ("prod", [(2, 3)], {"axis": 0}),
    ("var", [(2, 3)], {}), ("std", [(2, 3)], {"axis": 1, "ddof": 1}),
    ("dot", [(2, 3), (3,)], {}), ("matmul", [(2, 3), (3, 4)], {}),
    ("tensordot", [(2, 3, 4), (4, 3)], {"axes": ([1, 2], [1, 0])}),
    ("outer", [(3,), (2,)], {}), ("reshape", [(2, 3)], {"shape": (3, 2)}),
    ("transpose", [(2, 3, 4)], {"axes": (1, 2, 0)}), ("maximum", [(2, 3), (3,)], {}),
    ("minimum", [(2, 3), (2, 3)], {}), ("clip", [(2, 3)], {"a_min": -0.3, "a_max": 0.4}),
    ("expand_dims", [(2, 3)], {"axis": 1}), ("squeeze", [(2, 1, 3)], {}),
    ("ravel", [(2, 3)], {}), ("swapaxes", [(2, 3)], {"axis1": 0, "axis2": 1}),
    ("trace", [(3, 3)], {}), ("inner", [(3,), (3,)], {}),
])
def test_functions_match_numpy_and_differentiate(name, args, kwargs):
    xs = [RNG.normal(size=s) for s in args]
    got = getattr(np, name)(*xs, **kwargs)
    numpy.testing.assert_allclose(got, getattr(numpy, name)(*xs, **kwargs), rtol=1e-12)
    assert gg.testing.gradcheck(lambda *v: getattr(np, name)(*v, **kwargs), xs, order=1)


def test_joining():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    for name in ("concatenate", "stack", "hstack", "vstack"):
        numpy.testing.assert_array_equal(getattr(np, name)([a, b]), getattr(numpy, name)([a, b]))
        assert gg.testing.gradcheck(lambda x, y, n=name: getattr(np, n)([x, y]) * 1.0, [a, b],
                                    order=1)
    v = RNG.normal(size=3)
    numpy.testing.assert_array_equal(np.hstack([v, v]), numpy.hstack([v, v]))
    numpy.testing.assert_array_equal(np.vstack([v, v]), numpy.vstack([v, v]))
    numpy.testing.assert_array_equal(np.concatenate([a, b], axis=None),
                                     numpy.concatenate([a, b], axis=None))


def test_where_einsum_and_linalg_norm():
    x = RNG.normal(size=(3, 3))
    numpy.testing.assert_array_equal(np.where(x > 0, x, 0.0), numpy.where(x > 0, x, 0.0))
    assert [a.tolist() for a in np.where(x > 0)] == [a.tolist() for a in numpy.where(x > 0)]
    numpy.testing.assert_allclose(np.einsum("ij,jk->ik", x, x), x @ x, rtol=1e-12)
    assert np.linalg.norm(x) == pytest.approx(numpy.linalg.norm(x))
    assert gg.testing.gradcheck(lambda v: np.linalg.norm(v, axis=1), [x], order=1)


def test_logaddexp_and_expm1_where_graphgrad_has_them():
    for name in ("logaddexp", "expm1"):
        if hasattr(gg, name):
            assert getattr(np, name) is getattr(gg, name)
        else:
            with pytest.raises(AttributeError, match=name):
                getattr(np, name)


@pytest.mark.parametrize("name", ["sort", "cumsum", "fft", "floor", "unique", "vectorize"])
def test_names_graphgrad_does_not_differentiate_are_clear_errors(name):
    with pytest.raises(AttributeError, match=rf"graphgrad\.numpy has no '{name}'.*not be "
                                             "differentiable"):
        getattr(np, name)
    with pytest.raises(AttributeError, match=r"linalg\.inv"):
        np.linalg.inv


def test_unknown_names_are_plain_attribute_errors():
    with pytest.raises(AttributeError, match="has no attribute 'not_a_numpy_name'"):
        np.not_a_numpy_name


def test_unsupported_arguments_are_named():
    x = gg.tensor(numpy.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match=r"np\.sum on graphgrad values.*'out'"):
        np.sum(x, out=numpy.zeros(()))


def test_lists_are_taken_as_numpy_takes_them():
    assert np.linalg.norm([3.0, 4.0]) == 5.0
    assert np.matmul([[1.0, 2.0]], [[3.0], [4.0]]).tolist() == [[11.0]]
    assert np.outer([1.0, 2.0], [3.0]).tolist() == [[3.0], [6.0]]
    assert np.sum([[1.0, 2.0], [3.0, 4.0]], axis=0).tolist() == [4.0, 6.0]
    assert np.flip([1.0, 2.0]).tolist() == [2.0, 1.0]
    assert np.tile([1.0], 3).tolist() == [1.0, 1.0, 1.0]
    x = gg.tensor(numpy.array(2.0), requires_grad=True)
    y = np.dot([x, 1.0], [3.0, 4.0])  # a list holding a Tensor stays in the graph
    y.backward()
    assert y.item() == 10.0 and x.grad.item() == 3.0
