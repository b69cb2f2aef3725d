"""Property tests: random programs of 2-6 ops, run in graphgrad and in PyTorch (float64).

A program starts from 1-3 inputs of mutually broadcastable shapes and applies unary
elementwise ops, broadcasting binary ops, reductions (with and without keepdims),
softmax, transposes, advanced indexing with repeats and matmul where the shapes allow,
taking its operands from every value computed so far (so intermediate values are
reused). Values, gradients (reverse mode), tangents (forward mode) and second-order
gradients must agree with PyTorch's; without torch, the same programs' first and second
derivatives (both modes) are checked against finite differences instead.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import graphgrad as gg
from graphgrad.testing import gradcheck

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the PyTorch comparisons (marked `torch`) skip
    torch = F = None

# torch.func uses a deprecated torch.jit path internally; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

RTOL, ATOL = 1e-9, 1e-11


def _perm(L, x):
    axes = tuple(reversed(range(x.ndim)))
    return gg.transpose(x, axes) if L is gg else x.permute(axes)


UNARY = {
    "tanh": lambda L, x: L.tanh(x),
    "sin": lambda L, x: L.sin(x),
    "cos": lambda L, x: L.cos(x),
    "sigmoid": lambda L, x: L.sigmoid(x),
    "neg": lambda L, x: -x,
    "square": lambda L, x: x * x,
    "exp_tanh": lambda L, x: L.exp(L.tanh(x)),
    "softplus": lambda L, x: gg.softplus(x) if L is gg else F.softplus(x),
    "relu": lambda L, x: L.relu(x),
    "abs": lambda L, x: L.abs(x),
    "sqrt1p": lambda L, x: L.sqrt(x * x + 1.0),
    "log1p_sq": lambda L, x: L.log1p(x * x),
    "affine": lambda L, x: 0.5 * x - 1.5,
    "rpow": lambda L, x: 2.0 ** L.tanh(x),
    "transpose": _perm,
}
SMOOTH_UNARY = [k for k in UNARY if k not in ("relu", "abs")]

BINARY = {
    "add": lambda L, x, y: x + y,
    "sub": lambda L, x, y: x - y,
    "mul": lambda L, x, y: x * y,
    "div": lambda L, x, y: x / (1.0 + y * y),
    "maximum": lambda L, x, y: L.maximum(x, y),
    "minimum": lambda L, x, y: L.minimum(x, y),
    "pow": lambda L, x, y: (x * x + 0.5) ** L.tanh(y),
}
SMOOTH_BINARY = ["add", "sub", "mul", "div", "pow"]


def _dims(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


def _reduce(name, L, x, axis, keepdims):
    if L is gg:
        fn = {"sum": gg.sum, "mean": gg.mean, "max": gg.max, "logsumexp": gg.logsumexp}[name]
        return fn(x, axis=axis, keepdims=keepdims)
    d = _dims(x, axis)
    if name == "sum":
        return x.sum(dim=d, keepdim=keepdims)
    if name == "mean":
        return x.mean(dim=d, keepdim=keepdims)
    if name == "max":
        return torch.amax(x, dim=d, keepdim=keepdims)
    return torch.logsumexp(x, dim=d, keepdim=keepdims)


def _softmax(L, x, axis, log):
    if L is gg:
        return gg.log_softmax(x, axis) if log else gg.softmax(x, axis)
    return torch.log_softmax(x, dim=axis) if log else torch.softmax(x, dim=axis)


def _index(L, x, idx):
    return x[..., idx] if L is gg else x[..., torch.tensor(idx)]


def _apply(L, step, vals):
    kind, name, args, params = step
    ops = [vals[i] for i in args]
    if kind == "unary":
        return UNARY[name](L, *ops)
    if kind == "binary":
        return BINARY[name](L, *ops)
    if kind == "reduce":
        return _reduce(name, L, *ops, **params)
    if kind == "softmax":
        return _softmax(L, *ops, **params)
    if kind == "index":
        return _index(L, *ops, **params)
    if kind == "matmul":
        return ops[0] @ ops[1]
    raise AssertionError(kind)


def run(L, program, inputs):
    vals = list(inputs)
    for step in program:
        vals.append(_apply(L, step, vals))
    return vals[-1]


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _matmulable(a, b):
    if len(a) == 0 or len(b) == 0:
        return False
    try:
        np.matmul(np.zeros(a), np.zeros(b))
        return True
    except ValueError:
        return False


KINDS = ["unary", "binary", "reduce", "softmax", "index", "matmul"]


@st.composite
def programs(draw, smooth=False, focus=None):
    """(input shapes, program, seed); ``focus`` is a kind of op the program must use."""
    base = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    n_in = draw(st.integers(1, 3))
    shapes = []
    for _ in range(n_in):
        drop = draw(st.integers(0, len(base)))
        s = [d if draw(st.booleans()) else 1 for d in base[drop:]]
        shapes.append(tuple(s))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    unary = SMOOTH_UNARY if smooth else list(UNARY)
    binary = SMOOTH_BINARY if smooth else list(BINARY)
    reductions = ["sum", "mean", "logsumexp"] + ([] if smooth else ["max"])
    vshapes = list(shapes)
    program = []
    placed = focus is None
    for _ in range(draw(st.integers(2, 6))):
        kind = focus if not placed else draw(st.sampled_from(KINDS))
        candidates = list(range(len(vshapes)))
        if kind != "unary" and any(len(v) > 0 for v in vshapes):
            candidates = [k for k in candidates if len(vshapes[k]) > 0]
        i = draw(st.sampled_from(candidates))
        x = vshapes[i]
        step = None
        if kind == "binary" or kind == "matmul":
            ok = _matmulable if kind == "matmul" else _broadcastable
            partners = [j for j, s in enumerate(vshapes) if ok(x, s)]
            if partners:
                j = draw(st.sampled_from(partners))
                if kind == "matmul":
                    step = ("matmul", "matmul", (i, j), {})
                    out = np.matmul(np.zeros(x), np.zeros(vshapes[j])).shape
                else:
                    step = ("binary", draw(st.sampled_from(binary)), (i, j), {})
                    out = np.broadcast_shapes(x, vshapes[j])
        elif kind == "reduce" and len(x) > 0:
            axis = draw(st.one_of(st.none(), st.integers(0, len(x) - 1)))
            axis = axis if axis is None else (axis,)
            keep = draw(st.booleans())
            step = ("reduce", draw(st.sampled_from(reductions)), (i,),
                    {"axis": axis, "keepdims": keep})
            if keep:
                out = tuple(1 if axis is None or k in axis else d for k, d in enumerate(x))
            else:
                out = tuple(d for k, d in enumerate(x) if axis is not None and k not in axis)
        elif kind == "softmax" and len(x) > 0:
            axis = draw(st.integers(0, len(x) - 1))
            step = ("softmax", "softmax", (i,), {"axis": axis, "log": draw(st.booleans())})
            out = x
        elif kind == "index" and len(x) > 0:
            idx = draw(st.lists(st.integers(0, x[-1] - 1), min_size=1, max_size=4))
            step = ("index", "index", (i,), {"idx": idx})
            out = x[:-1] + (len(idx),)
        if step is None:  # the op does not fit: fall back to a unary one
            step = ("unary", draw(st.sampled_from(unary)), (i,), {})
            out = tuple(reversed(x)) if step[1] == "transpose" else x
        placed = placed or step[0] == focus
        program.append(step)
        vshapes.append(tuple(out))
    return shapes, program, seed


def _inputs(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2.0, 2.0, size=s) for s in shapes], rng


def _close(a, b, what):
    b = np.zeros_like(a) if b is None else b
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


def _gg_grads(out, xs, w, create_graph=False):
    return gg.grad_of((out * gg.tensor(w)).sum(), xs, allow_unused=True,
                      create_graph=create_graph)


@pytest.mark.torch
@pytest.mark.parametrize("focus", [None] + KINDS)
@SETTINGS
@given(data=st.data())
def test_random_programs_values_gradients_and_tangents_match_torch(focus, data):
    shapes, program, seed = data.draw(programs(focus=focus))
    for step in program:
        event(step[0])
    arrays, rng = _inputs(shapes, seed)
    xs = [gg.tensor(a, requires_grad=True) for a in arrays]
    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = run(gg, program, xs)
    tout = run(torch, program, txs)
    assert out.dtype == gg.float64
    assert out.shape == tuple(tout.shape), program
    _close(out.numpy(), tout.detach().numpy(), f"value {program}")

    w = rng.standard_normal(out.shape)
    grads = _gg_grads(out, xs, w)
    tgrads = torch.autograd.grad((tout * torch.tensor(w)).sum(), txs, allow_unused=True)
    for k, (g, tg) in enumerate(zip(grads, tgrads)):
        assert g is None or g.shape == shapes[k]
        _close(np.zeros(shapes[k]) if g is None else g.numpy(),
               None if tg is None else tg.numpy(), f"grad of input {k}: {program}")

    tangents = [rng.standard_normal(s) for s in shapes]
    _, tan = gg.jvp(lambda *a: run(gg, program, a), [gg.tensor(a) for a in arrays],
                    [gg.tensor(t) for t in tangents])
    _, ttan = torch.func.jvp(lambda *a: run(torch, program, a),
                             tuple(torch.tensor(a) for a in arrays),
                             tuple(torch.tensor(t) for t in tangents))
    _close(tan.numpy(), ttan.numpy(), f"tangent {program}")


@pytest.mark.torch
@pytest.mark.parametrize("focus", [None, "reduce", "softmax", "matmul"])
@SETTINGS
@given(data=st.data())
def test_random_programs_second_order_match_torch(focus, data):
    shapes, program, seed = data.draw(programs(smooth=True, focus=focus))
    arrays, rng = _inputs(shapes, seed)
    xs = [gg.tensor(a, requires_grad=True) for a in arrays]
    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = run(gg, program, xs)
    tout = run(torch, program, txs)
    w = rng.standard_normal(out.shape)
    grads = _gg_grads(out, xs, w, create_graph=True)
    tgrads = torch.autograd.grad((tout * torch.tensor(w)).sum(), txs, allow_unused=True,
                                 create_graph=True)
    vs = [rng.standard_normal(s) for s in shapes]
    # d/dx of sum_k <grad_k, v_k>: a Hessian-vector product through the whole program
    s = sum((g * gg.tensor(v)).sum() for g, v in zip(grads, vs) if g is not None)
    ts = sum((g * torch.tensor(v)).sum() for g, v in zip(tgrads, vs) if g is not None)
    if not isinstance(ts, torch.Tensor) or not ts.requires_grad:
        event("linear program")
        return  # the program is linear in its inputs: nothing of second order
    h = gg.grad_of(s, xs, allow_unused=True) if isinstance(s, gg.Tensor) and s.requires_grad \
        else [None] * len(xs)
    th = torch.autograd.grad(ts, txs, allow_unused=True)
    for k, (a, b) in enumerate(zip(h, th)):
        _close(np.zeros(shapes[k]) if a is None else a.numpy(),
               None if b is None else b.detach().numpy(), f"hvp of input {k}: {program}")


@pytest.mark.parametrize("focus", [None, "binary", "reduce", "softmax", "index", "matmul"])
@settings(SETTINGS, max_examples=10)
@given(data=st.data())
def test_random_programs_derivatives_match_finite_differences(focus, data):
    """No oracle but calculus: first and second derivatives of smooth random programs,
    forward and reverse mode, against central differences (float64)."""
    shapes, program, seed = data.draw(programs(smooth=True, focus=focus))
    arrays, _ = _inputs(shapes, seed)
    assert gradcheck(lambda *xs: run(gg, program, xs), arrays, order=2, seed=seed % 1000)
