"""gg.compile: compiled results equal eager ones; passes, codegen, cache and errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from op_table import ENTRIES

import graphgrad as gg

RTOL = 1e-6


def _close(a, b, rtol=RTOL, atol=1e-7):
    a = a.data if isinstance(a, gg.Tensor) else a
    b = b.data if isinstance(b, gg.Tensor) else b
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64),
                               np.asarray(b, dtype=np.float64), rtol=rtol, atol=atol)


# ------------------------------------------------------- every op of the table ----

def _first_case(entry):
    cid, test = entry.cases()[0]
    return cid, test


def _op_fn(entry, test, inputs):
    """f(*array_inputs) -> (sum of float outputs, raw outputs); other inputs closed over."""
    pos = [i for i, a in enumerate(inputs) if isinstance(a, np.ndarray)]

    def call(*xs):
        a = list(inputs)
        for i, x in zip(pos, xs):
            a[i] = x
        return entry.fn(*a, **test.params)

    return pos, call


def _flat(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_compiled_op_matches_eager(entry):
    """Each op compiled (values, and gradients for differentiable ones), run on new data
    of the same shapes (the generated code, not the trace) equals eager mode."""
    cid, test = _first_case(entry)
    first = test.make_inputs()
    second = dataclasses.replace(test, seed=test.seed + 1).make_inputs()
    pos, call = _op_fn(entry, test, first)
    floats = [i for i in pos if first[i].dtype.kind == "f"]

    if not entry.differentiable or not floats:
        fn = gg.compile(call)
        fn(*[first[i] for i in pos])  # trace
        got = _flat(fn(*[second[i] for i in pos]))
        want = _flat(call(*[gg.tensor(second[i]) for i in pos]))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.asarray(g.data), np.asarray(w.data))
        return

    argnums = tuple(pos.index(i) for i in floats)

    def loss(*xs):
        total = 0.0
        for k, o in enumerate(_flat(call(*xs))):
            if o.dtype.kind == "f":
                total = total + gg.sum(o * (k + 1.5))
        return total

    vg = gg.value_and_grad(loss, argnums=argnums)
    cvg = gg.compile(vg)
    cvg(*[gg.tensor(first[i]) for i in pos])  # trace
    v_c, g_c = cvg(*[gg.tensor(second[i]) for i in pos])
    v_e, g_e = vg(*[gg.tensor(second[i]) for i in pos])
    _close(v_c, v_e, rtol=1e-9)
    for a, b in zip(g_c, g_e):
        _close(a, b, rtol=1e-9, atol=1e-12)
    assert cvg.cache_size == 1


def test_the_op_table_is_there():
    assert len(ENTRIES) > 40


# ------------------------------------------------------------- training steps ----

def _mlp_params(seed=0, sizes=(12, 16, 8, 3)):
    rng = np.random.default_rng(seed)
    ps = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        ps.append(gg.tensor((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32),
                            requires_grad=True))
        ps.append(gg.zeros(b, requires_grad=True))
    return ps


def _mlp_loss(ps, x, y):
    h = x
    for i in range(0, len(ps) - 2, 2):
        h = gg.relu(h @ ps[i] + ps[i + 1])
    logits = h @ ps[-2] + ps[-1]
    return gg.cross_entropy(logits, y)


def _data(seed, n=16, d=12, k=3):
    rng = np.random.default_rng(seed)
    return (gg.tensor(rng.standard_normal((n, d)).astype(np.float32)),
            gg.tensor(rng.integers(0, k, n)))


def test_pytorch_style_sgd_step_matches_eager_after_50_steps():
    eager_ps, comp_ps = _mlp_params(), _mlp_params()

    def make_step(ps):
        def step(x, y):
            for p in ps:
                p.grad = None
            loss = _mlp_loss(ps, x, y)
            loss.backward()
            with gg.no_grad():
                for p in ps:
                    p.sub_(0.1 * p.grad)
            return loss
        return step

    eager, compiled = make_step(eager_ps), gg.compile(make_step(comp_ps))
    for i in range(50):
        x, y = _data(i)
        le, lc = eager(x, y), compiled(x, y)
        _close(lc, le, rtol=1e-5)
    for a, b in zip(comp_ps, eager_ps):
        _close(a, b)
        _close(a.grad, b.grad)
    assert compiled.cache_size == 1
    src = compiled.source
    assert "# ---- backward ----" in src and "# ---- update ----" in src
    assert src.index("# ---- forward ----") < src.index("# ---- backward ----")
    assert "np.subtract(ps_0, " in src and "out=ps_0)" in src  # in-place update, no copy


def _adam_step(ps, state, x, y, lr=0.01, b1=0.9, b2=0.999, eps=1e-8):
    """A functional Adam written with graphgrad ops: returns new params and state."""
    loss, grads = gg.value_and_grad(lambda *p: _mlp_loss(list(p), x, y),
                                    argnums=tuple(range(len(ps))))(*ps)
    t = state["t"] + 1
    new_ps, ms, vs = [], [], []
    for p, g, m, v in zip(ps, grads, state["m"], state["v"]):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1 ** t)
        vhat = v / (1 - b2 ** t)
        new_ps.append(p - lr * mhat / (gg.sqrt(vhat) + eps))
        ms.append(m)
        vs.append(v)
    return loss, new_ps, {"t": t, "m": ms, "v": vs}


def test_functional_adam_with_nested_state_matches_eager():
    ps = [p.detach() for p in _mlp_params(1)]
    state = {"t": gg.tensor(0.0), "m": [gg.zeros_like(p) for p in ps],
             "v": [gg.zeros_like(p) for p in ps]}
    cstep = gg.compile(_adam_step)
    eps_, estate = list(ps), state
    cps, cstate = list(ps), state
    for i in range(20):
        x, y = _data(100 + i)
        le, eps_, estate = _adam_step(eps_, estate, x, y)
        lc, cps, cstate = cstep(cps, cstate, x, y)
        _close(lc, le, rtol=1e-5)
    for a, b in zip(cps, eps_):
        _close(a, b, rtol=1e-5, atol=1e-6)
    assert isinstance(cstate, dict) and len(cstate["m"]) == len(ps)
    assert cstep.cache_size == 1


def test_tanh_rnn_forward_and_backward_through_time():
    rng = np.random.default_rng(3)
    Wx = gg.tensor(rng.standard_normal((4, 6)).astype(np.float32) * 0.5)
    Wh = gg.tensor(rng.standard_normal((6, 6)).astype(np.float32) * 0.5)
    b = gg.zeros(6)

    def rnn_loss(Wx, Wh, b, xs):
        h = gg.zeros((xs.shape[1], 6))
        for t in range(xs.shape[0]):
            h = gg.tanh(xs[t] @ Wx + h @ Wh + b)
        return gg.sum(h * h)

    vg = gg.value_and_grad(rnn_loss, argnums=(0, 1, 2))
    cvg = gg.compile(vg)
    for seed in range(3):
        xs = gg.tensor(np.random.default_rng(seed).standard_normal((7, 2, 4)).astype(np.float32))
        (vc, gc), (ve, ge) = cvg(Wx, Wh, b, xs), vg(Wx, Wh, b, xs)
        _close(vc, ve)
        for a, e in zip(gc, ge):
            _close(a, e, rtol=1e-5, atol=1e-6)
    assert cvg.graph.count("tanh") == 7


def test_jacobian_and_hessian_compiled():
    def f(x):
        return gg.sum(gg.sin(x) * x ** 3)

    def g(x):
        return gg.tanh(x) * gg.sum(x)

    jac, hes = gg.compile(gg.jacobian(g)), gg.compile(gg.hessian(f))
    for seed in range(2):
        x = gg.tensor(np.random.default_rng(seed).standard_normal(4))
        _close(jac(x), gg.jacobian(g)(x), rtol=1e-10)
        _close(hes(x), gg.hessian(f)(x), rtol=1e-10)
    xv = np.random.default_rng(1).standard_normal(4)
    want = np.diag(-np.sin(xv) * xv ** 3 + 6 * np.cos(xv) * xv ** 2 + 6 * np.sin(xv) * xv)
    _close(hes(gg.tensor(xv)), want, rtol=1e-10)


def test_grad_called_inside_a_compiled_function():
    w = gg.tensor([0.5, -1.0, 2.0], requires_grad=True)

    @gg.compile
    def f(x):
        g = gg.grad(lambda w: gg.sum(gg.exp(w * x)))(w)
        return g * 2

    for seed in range(2):
        x = gg.tensor(np.random.default_rng(seed).standard_normal(3).astype(np.float32))
        _close(f(x), 2 * x.data * np.exp(w.data * x.data))


# ------------------------------------------------------------------- codegen ----

def test_source_is_valid_python_that_runs_with_numpy_alone():
    W = gg.tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32),
                  requires_grad=True)

    @gg.compile
    def f(x, y):
        h = gg.tanh(x @ W)
        return gg.value_and_grad(lambda W: gg.cross_entropy(gg.tanh(x @ W), y))(W), h

    x = gg.tensor(np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32))
    y = gg.tensor(np.array([0, 2, 1, 1]))
    (loss, dW), h = f(x, y)
    ns: dict = {}
    exec(f.source, ns)  # noqa: S102 - the point of the test
    fn = ns[[k for k in ns if k == "f"][0]]
    out = fn(x.data, y.data, W.data)
    _close(out[0], loss)
    _close(out[1], dW)
    _close(out[2], h)
    assert "# " in f.source and "x @ W" in f.source  # names and source lines


def test_names_comments_and_graph():
    b = gg.zeros(3, requires_grad=True)

    def step(inp):
        hidden = gg.relu(inp + b)
        return gg.sum(hidden)

    f = gg.compile(step)
    f(gg.ones(3))
    src = f.source
    assert "hidden = np.maximum(" in src
    assert "def step(inp, b):" in src
    assert "test_compile.py:" in src and "hidden = gg.relu(inp + b)" in src
    assert f.graph.count("relu") == 1
    assert all(isinstance(n, gg.Node) for n in f.graph.nodes)


def test_buffer_reuse_and_in_place_ufuncs():
    @gg.compile
    def f(x):
        a = gg.exp(x)
        b = a * 2.0
        c = b + 1.0
        return gg.tanh(c)

    x = gg.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    f(x)
    assert "out=" in f.source
    _close(f(x + 0.5), np.tanh(np.exp(x.data + 0.5) * 2 + 1))
    _close(x, np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))  # inputs untouched


def test_passes_dce_cse_folding_identities():
    @gg.compile
    def f(x):
        unused = gg.exp(x) * 3  # noqa: F841 - dead code
        y = (x * 1 + 0) - 0
        z = y.T.T  # double transpose
        s = gg.sum(gg.reshape(z, (2, 3, 1)), axis=2)  # reduction over a size-1 axis
        k = gg.tensor(2.0) * gg.tensor(3.0)  # constant
        return gg.sin(s) + gg.sin(s) + gg.broadcast_to(z, (2, 3)) * k

    x = gg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    f(x)
    got = f(x + 1)
    xv = x.data + 1
    _close(got, 2 * np.sin(xv) + xv * 6)
    g = f.graph
    assert g.count("exp") == 0 and g.count("transpose") == 0
    assert g.count("sin") == 1 and g.count("sum") == 0
    assert g.count("mul") == 1  # only z * k survives; k was folded to 6.0
    # tensors made inside the function are private to the trace: frozen, and listed
    assert [(c.shape, c.dtype) for c in f.constants] == [((), np.float32)]
    assert f"{f.constants[0].name} = np.array(6.0" in f.source


# --------------------------------------------------------- cache and inputs ----

def test_retrace_on_new_shapes_and_dtypes_and_static_argnums():
    calls = []

    def f(x, n):
        calls.append(1)
        return x * n

    cf = gg.compile(f, static_argnums=1)
    cf(gg.ones(2), 3)
    cf(gg.ones(2), 3)
    assert len(calls) == 1
    cf(gg.ones(3), 3)
    cf(gg.ones(2, dtype=gg.float64), 3)
    _close(cf(gg.ones(2), 4), [4.0, 4.0])
    assert cf.cache_size == 4 and len(calls) == 4


def test_nested_inputs_outputs_and_arrays():
    @gg.compile
    def f(d):
        return {"s": d["a"] + d["b"][0], "p": [d["b"][1] * 2, 7]}

    a = np.ones(2, dtype=np.float32)
    f({"a": a, "b": [a, a]})
    out = f({"a": a, "b": [a * 2, a * 3]})
    _close(out["s"], [3.0, 3.0])
    _close(out["p"][0], [6.0, 6.0])
    assert out["p"][1] == 7


def test_python_control_flow_on_a_tensor_is_a_clear_error():
    @gg.compile
    def f(x):
        if gg.sum(x) > 0:
            return x
        return -x

    with pytest.raises(TypeError) as info:
        f(gg.ones(2))
    msg = str(info.value)
    assert "gg.where" in msg and "static" in msg and "test_compile.py" in msg


def test_item_while_tracing_is_a_clear_error():
    f = gg.compile(lambda x: gg.sum(x).item())
    with pytest.raises(TypeError, match="fixed at trace time"):
        f(gg.ones(2))


def test_first_call_runs_once_and_results_are_plain_tensors():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    f = gg.compile(lambda x: gg.sum(w * x))
    r1 = f(gg.tensor([1.0, 1.0]))
    r2 = f(gg.tensor([1.0, 1.0]))
    assert float(r1) == float(r2) == 3.0
    assert r1.grad_fn is None and r2.grad_fn is None
    with gg.no_grad():
        w.mul_(2.0)
    assert float(f(gg.tensor([1.0, 1.0]))) == 6.0  # parameters are read on every call


def test_results_do_not_share_buffers_kept_across_calls():
    @gg.compile
    def f(x):
        a = gg.exp(x) + 1.0  # intermediates live in buffers kept across calls
        return gg.reshape(a * 2.0, (3, 2)), gg.tanh(a)

    x = gg.tensor(np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3))
    f(x)
    r1, t1 = f(x)
    keep = r1.data.copy(), t1.data.copy()
    f(x + 3)
    np.testing.assert_array_equal(r1.data, keep[0])
    np.testing.assert_array_equal(t1.data, keep[1])
    assert "_buf" in f.source


def test_backward_lines_name_the_forward_op_and_the_users_line():
    import os
    W = gg.tensor(np.random.default_rng(0).standard_normal((3, 2)), requires_grad=True)

    @gg.compile
    def step(x):
        W.grad = None
        loss = gg.sum(gg.tanh(x @ W))  # the line the backward comments must name
        loss.backward()
        return loss

    step(gg.tensor(np.ones((4, 3))))
    here = os.path.basename(__file__)
    backward = step.source.split("# ---- backward ----")[1]
    lines = [ln for ln in backward.splitlines() if "= " in ln and "return" not in ln]
    assert lines, step.source
    for ln in lines:  # every backward line says which forward op and user line it serves
        assert "# grad of " in ln and here + ":" in ln, ln
    assert any("grad of tanh" in ln for ln in lines) and any("grad of matmul" in ln for ln in lines)
