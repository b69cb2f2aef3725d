"""HIPS autograd's own examples, ported by changing their import lines only:

    import autograd.numpy as np            ->  import graphgrad.numpy as np
    import autograd.numpy.random as npr    ->  import graphgrad.numpy.random as npr
    from autograd import grad, elementwise_grad  ->  from graphgrad import ...

The example bodies below are autograd's (README tanh, examples/logistic_regression.py,
examples/neural_net.py); only plotting, data loading and autograd.misc helpers are
replaced. Results are checked against finite differences and PyTorch."""

import graphgrad.numpy.random as npr
import numpy
import pytest

import graphgrad.numpy as np
from graphgrad import elementwise_grad as egrad
from graphgrad import grad, logsumexp
from graphgrad.core.pytree import tree_flatten, tree_leaves, tree_map, tree_unflatten
from graphgrad.testing import gradcheck

# ------------------------------------------------------------- README: tanh ----


def tanh(x):  # Define a function
    return (1.0 - np.exp((-2 * x))) / (1.0 + np.exp(-(2 * x)))


def test_readme_tanh_gradient_matches_finite_differences():
    grad_tanh = grad(tanh)  # Obtain its gradient function
    g = grad_tanh(1.0)  # Evaluate the gradient at x = 1.0
    fd = (tanh(1.0001) - tanh(0.9999)) / 0.0002  # Compare to finite differences
    assert float(g) == pytest.approx(0.41997434161402603, rel=1e-6)  # float32: 1.0 is
    assert float(g) == pytest.approx(fd, rel=1e-5)  # a Python float (see the guide)
    g64 = grad_tanh(np.array(1.0))  # float64, as autograd computes
    assert float(g64) == pytest.approx(0.41997434161402603, rel=1e-12)


def test_readme_tanh_six_derivatives_match_torch():
    torch = pytest.importorskip("torch")
    x = np.linspace(-7, 7, 700)
    ours = [tanh(x),
            egrad(tanh)(x),  # first  derivative
            egrad(egrad(tanh))(x),  # second derivative
            egrad(egrad(egrad(tanh)))(x),  # third  derivative
            egrad(egrad(egrad(egrad(tanh))))(x),  # fourth derivative
            egrad(egrad(egrad(egrad(egrad(tanh)))))(x),  # fifth  derivative
            egrad(egrad(egrad(egrad(egrad(egrad(tanh))))))(x)]  # sixth  derivative
    tx = torch.tensor(numpy.asarray(x), requires_grad=True)
    d = torch.tanh(tx)
    want = [d.detach().numpy()]
    for _ in range(6):
        (d,) = torch.autograd.grad(d.sum(), tx, create_graph=True)
        want.append(d.detach().numpy())
    for k, (a, b) in enumerate(zip(ours, want)):
        numpy.testing.assert_allclose(numpy.asarray(a), b, atol=1e-9 * 10 ** k,
                                      err_msg=f"derivative {k}")


# ------------------------------------------- examples/logistic_regression.py ----


def sigmoid(x):
    return 0.5 * (np.tanh(x) + 1)


def logistic_predictions(weights, inputs):
    # Outputs probability of a label being true according to logistic model.
    return sigmoid(np.dot(inputs, weights))


def training_loss(weights):
    # Training loss is the negative log-likelihood of the training labels.
    preds = logistic_predictions(weights, inputs)
    label_probabilities = preds * targets + (1 - preds) * (1 - targets)
    return -np.sum(np.log(label_probabilities))


# Build a toy dataset.
inputs = np.array([[0.52, 1.12, 0.77],
                   [0.88, -1.08, 0.15],
                   [0.52, 0.06, -1.30],
                   [0.74, -2.49, 1.39]])
targets = np.array([True, True, False, True])


def test_logistic_regression_trains_as_in_torch():
    torch = pytest.importorskip("torch")
    # Define a function that returns gradients of training loss using autograd.
    training_gradient_fun = grad(training_loss)

    # Check the gradients numerically, just to be safe.
    weights = np.array([0.0, 0.0, 0.0])
    assert gradcheck(training_loss, [weights], order=2)

    # Optimize weights using gradient descent.
    initial = training_loss(weights)
    for i in range(100):
        weights -= training_gradient_fun(weights) * 0.01
    trained = training_loss(weights)

    assert type(weights) is numpy.ndarray and weights.dtype == numpy.float64
    tw = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    ti, tt = torch.tensor(inputs), torch.tensor(targets, dtype=torch.float64)
    for i in range(100):
        preds = 0.5 * (torch.tanh(ti @ tw) + 1)
        loss = -torch.log(preds * tt + (1 - preds) * (1 - tt)).sum()
        (g,) = torch.autograd.grad(loss, tw)
        with torch.no_grad():
            tw -= g * 0.01
    numpy.testing.assert_allclose(weights, tw.detach().numpy(), rtol=1e-10)
    assert float(initial) == pytest.approx(4 * numpy.log(2))
    assert float(trained) < 0.5 * float(initial)


# --------------------------------------------------- examples/neural_net.py ----


def init_random_params(scale, layer_sizes, rs=npr.RandomState(0)):
    """Build a list of (weights, biases) tuples,
       one for each layer in the net."""
    return [(scale * rs.randn(m, n),  # weight matrix
             scale * rs.randn(n))  # bias vector
            for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]


def neural_net_predict(params, inputs):
    """Implements a deep neural network for classification.
       params is a list of (weights, bias) tuples.
       inputs is an (N x D) matrix.
       returns normalized class log-probabilities."""
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs, axis=1, keepdims=True)


def flatten(params):  # autograd.misc.flatten, in two lines
    return np.concatenate([np.ravel(p) for p in tree_leaves(params)]), None


def l2_norm(params):
    """Computes l2 norm of params by flattening them into a vector."""
    flattened, _ = flatten(params)
    return np.dot(flattened, flattened)


def log_posterior(params, inputs, targets, L2_reg):
    log_prior = -L2_reg * l2_norm(params)
    log_lik = np.sum(neural_net_predict(params, inputs) * targets)
    return log_prior + log_lik


def accuracy(params, inputs, targets):
    target_class = np.argmax(targets, axis=1)
    predicted_class = np.argmax(neural_net_predict(params, inputs), axis=1)
    return np.mean(predicted_class == target_class)


def _data(n=12, d=5, k=3, seed=1):
    rs = numpy.random.RandomState(seed)
    x = rs.randn(n, d)
    labels = numpy.eye(k)[rs.randint(0, k, size=n)]
    return x, labels


def test_neural_net_gradient_of_a_list_of_tuples_matches_finite_differences():
    layer_sizes, L2_reg = [5, 4, 3], 0.1
    params = init_random_params(0.3, layer_sizes, rs=npr.RandomState(0))
    x, y = _data()
    objective = lambda params: -log_posterior(params, x, y, L2_reg)
    g = grad(objective)(params)
    assert isinstance(g, list) and all(isinstance(layer, tuple) for layer in g)
    leaves, tree = tree_flatten(params)
    eps = 1e-6
    for j, p in enumerate(leaves):
        for k in numpy.ndindex(p.shape):
            up = [q.copy() for q in leaves]
            dn = [q.copy() for q in leaves]
            up[j][k] += eps
            dn[j][k] -= eps
            fd = (float(objective(tree_unflatten(tree, up)))
                  - float(objective(tree_unflatten(tree, dn)))) / (2 * eps)
            assert float(tree_leaves(g)[j].numpy()[k]) == pytest.approx(fd, abs=1e-6)


def test_neural_net_training_matches_torch():
    torch = pytest.importorskip("torch")
    layer_sizes, L2_reg, step = [5, 6, 3], 0.01, 0.05
    params = init_random_params(0.5, layer_sizes, rs=npr.RandomState(2))
    x, y = _data(n=20)
    objective_grad = grad(lambda params: -log_posterior(params, x, y, L2_reg))
    before = accuracy(params, x, y)
    tparams = [tuple(torch.tensor(p, requires_grad=True) for p in layer) for layer in params]
    for _ in range(30):
        params = tree_map(lambda p, g: p - step * g, params, objective_grad(params))
        inp = torch.tensor(x)
        for W, b in tparams:
            out = inp @ W + b
            inp = torch.tanh(out)
        logp = out - torch.logsumexp(out, 1, keepdim=True)
        flat = torch.cat([p.reshape(-1) for layer in tparams for p in layer])
        loss = -(-L2_reg * flat @ flat + (logp * torch.tensor(y)).sum())
        grads = torch.autograd.grad(loss, [p for layer in tparams for p in layer])
        it = iter(grads)
        tparams = [tuple((p - step * next(it)).detach().requires_grad_() for p in layer)
                   for layer in tparams]
    for ours, theirs in zip(tree_leaves(params), [p for layer in tparams for p in layer]):
        numpy.testing.assert_allclose(numpy.asarray(ours), theirs.detach().numpy(),
                                      rtol=1e-9, atol=1e-12)
    after = accuracy(params, x, y)
    assert 0.0 <= float(before) <= 1.0 and float(after) > float(before)


def test_neural_net_with_a_dict_of_parameters():
    # the same network, its parameters named in a dict: the gradient is a dict
    x, y = _data()
    rs = numpy.random.RandomState(4)
    params = {"hidden": {"W": 0.3 * rs.randn(5, 4), "b": 0.3 * rs.randn(4)},
              "out": {"W": 0.3 * rs.randn(4, 3), "b": 0.3 * rs.randn(3)}}
    as_list = lambda p: [(p["hidden"]["W"], p["hidden"]["b"]), (p["out"]["W"], p["out"]["b"])]
    g = grad(lambda p: -log_posterior(as_list(p), x, y, 0.1))(params)
    g_list = grad(lambda p: -log_posterior(p, x, y, 0.1))(as_list(params))
    assert set(g) == {"hidden", "out"} and set(g["out"]) == {"W", "b"}
    for a, b in zip(tree_leaves(as_list(g)), tree_leaves(g_list)):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())


def test_docs_examples_run():
    import pathlib
    import re
    doc = pathlib.Path(__file__).resolve().parents[1] / "docs" / "autograd.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/autograd.md block {i}", "exec"), {"__name__": f"doc_{i}"})
