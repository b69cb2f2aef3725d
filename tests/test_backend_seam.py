"""The backend seam, proved on CPU: every op of the table computes on a second array
namespace (``fake_device``: a NumPy subclass that NumPy refuses to compute on) and gives
NumPy's answers, forward, VJP (with a backward that never synchronises with the host),
JVP and second order. An op whose forward or rules reach NumPy directly fails here."""

from __future__ import annotations

import numpy as np
import pytest
from fake_device import DeviceArray, HostArrayError, device, no_host_sync, to_device
from op_table import ENTRIES

import graphgrad as gg
from graphgrad.core import backend as B
from graphgrad.core.primitive import PRIMITIVES, Primitive

CASES = [(entry, cid, test) for entry in ENTRIES for cid, test in entry.cases()]
IDS = [cid for _, cid, _ in CASES]
DIFF_CASES = [c for c in CASES if c[0].differentiable]
DIFF_IDS = [cid for _, cid, _ in DIFF_CASES]


@pytest.fixture
def on_device():
    """The stand-in device registered for one test, and the registry restored after."""
    import fake_device
    fake_device.register()
    try:
        yield device
    finally:
        fake_device.unregister()


# ------------------------------------------------------------------ helpers ----

def _host(a):
    """A plain NumPy copy of a device array (what the comparisons read)."""
    return device.asnumpy(a) if type(a) is DeviceArray else np.asarray(a)


def _outputs(out) -> list:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _data(t):
    return t.data if isinstance(t, gg.Tensor) else t


def _assert_same(got, want, what: str, on_device: bool = True) -> None:
    """``got`` (device) holds ``want`` (NumPy): same type of array, shape, dtype, values."""
    got, want = _data(got), _data(want)
    if on_device:
        assert type(got) is DeviceArray, (
            f"{what}: the result left the device (a {type(got).__name__}): something "
            "converted it with NumPy")
    assert got.shape == want.shape, f"{what}: shape {got.shape}, NumPy gives {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, NumPy gives {want.dtype}"
    np.testing.assert_allclose(_host(got), _host(want), rtol=1e-10, atol=1e-13,
                               equal_nan=True, err_msg=what)


def _float_positions(inputs) -> list:
    return [i for i, a in enumerate(inputs) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]


class _Problem:
    """One case as a function of its floating-point inputs, returning one tensor."""

    def __init__(self, entry, test, inputs):
        self.entry, self.params = entry, test.params
        self.inputs = inputs
        self.pos = _float_positions(test.make_inputs())

    def __call__(self, *xs):
        args = [gg.Tensor(a) if isinstance(a, (np.ndarray, DeviceArray)) else a
                for a in self.inputs]
        for i, x in zip(self.pos, xs):
            args[i] = x
        outs = _outputs(self.entry.fn(*args, **self.params))
        if len(outs) == 1:
            return outs[0]
        return gg.concatenate([gg.reshape(o, (-1,)) for o in outs])

    def primals(self):
        return [self.inputs[i] for i in self.pos]


def _probes(test, shapes, salt):
    rng = np.random.default_rng(test.seed + salt)
    return [rng.standard_normal(s) for s in shapes]


# ------------------------------------------------------------- table-driven ----

@pytest.mark.parametrize("entry,cid,test", CASES, ids=IDS)
def test_forward_on_device_matches_numpy(on_device, entry, cid, test):
    inputs = test.make_inputs()
    ins = [gg.Tensor(a) if isinstance(a, np.ndarray) else a for a in inputs]
    want = _outputs(entry.fn(*ins, **test.params))
    dev = [gg.Tensor(a) if type(a) is DeviceArray else a for a in to_device(inputs)]
    got = _outputs(entry.fn(*dev, **test.params))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert type(_data(w)) is np.ndarray, f"{cid}: the NumPy run left NumPy"
        _assert_same(g, w, f"{cid}: output {k}")


@pytest.mark.parametrize("entry,cid,test", DIFF_CASES, ids=DIFF_IDS)
def test_vjp_on_device_matches_numpy_without_host_sync(on_device, entry, cid, test):
    inputs = test.make_inputs()
    host, dev = _Problem(entry, test, inputs), _Problem(entry, test, to_device(inputs))
    out_h, fn_h = gg.vjp(host, *host.primals())
    out_d, fn_d = gg.vjp(dev, *dev.primals())
    _assert_same(out_d, out_h, f"{cid}: output")
    (v,) = _probes(test, [out_h.shape], 1)
    want = fn_h(gg.Tensor(v))
    with no_host_sync():  # the backward of a device never waits for the host
        got = fn_d(gg.Tensor(device.asarray(v)))
    for i, (g, w) in enumerate(zip(got, want)):
        _assert_same(g, w, f"{cid}: VJP, input {i}")


@pytest.mark.parametrize("entry,cid,test", DIFF_CASES, ids=DIFF_IDS)
def test_jvp_on_device_matches_numpy(on_device, entry, cid, test):
    inputs = test.make_inputs()
    host, dev = _Problem(entry, test, inputs), _Problem(entry, test, to_device(inputs))
    us = _probes(test, [x.shape for x in host.primals()], 2)
    out_h, tan_h = gg.jvp(host, host.primals(), [gg.Tensor(u) for u in us])
    out_d, tan_d = gg.jvp(dev, dev.primals(), [gg.Tensor(device.asarray(u)) for u in us])
    _assert_same(out_d, out_h, f"{cid}: output")
    _assert_same(tan_d, tan_h, f"{cid}: JVP")


@pytest.mark.parametrize("entry,cid,test", DIFF_CASES, ids=DIFF_IDS)
def test_second_order_on_device_matches_numpy(on_device, entry, cid, test):
    """Rules run on Tensors (create_graph): a Hessian-vector product of a random VJP."""
    inputs = test.make_inputs()
    results = []
    for prob, move in ((_Problem(entry, test, inputs), np.asarray),
                       (_Problem(entry, test, to_device(inputs)), device.asarray)):
        xs = [gg.Tensor(x, requires_grad=True) for x in prob.primals()]
        out = prob(*xs)
        v, *ws = _probes(test, [out.shape] + [x.shape for x in xs], 3)
        s = gg.sum(out * gg.Tensor(move(v)))
        if not s.requires_grad:
            pytest.skip("output does not depend on the inputs")
        gs = gg.grad_of(s, xs, create_graph=True)
        s2 = None
        for g, w in zip(gs, ws):
            term = gg.sum(g * gg.Tensor(move(w)))
            s2 = term if s2 is None else s2 + term
        hs = gg.grad_of(s2, xs, allow_unused=True) if s2.requires_grad else [None] * len(xs)
        results.append((gs, hs))
    (gs_h, hs_h), (gs_d, hs_d) = results
    for i, (g, w) in enumerate(zip(gs_d, gs_h)):
        _assert_same(g, w, f"{cid}: first derivative, input {i}")
    for i, (h, w) in enumerate(zip(hs_d, hs_h)):
        if h is None or w is None:
            assert h is None and w is None, f"{cid}: second derivative, input {i}"
            continue
        _assert_same(h, w, f"{cid}: second derivative, input {i}")


# --------------------------------------------- the harness catches a leak ----

@pytest.fixture
def planted():
    made = []

    def make(name, impl, vjp=None):
        p = Primitive(name, impl, "test")
        if vjp is not None:
            p.defvjp(vjp)
        made.append(name)
        return p

    yield make
    for name in made:
        PRIMITIVES.pop(name, None)


def test_a_forward_calling_numpy_fails_on_device(on_device, planted):
    leak = planted("test_seam_numpy_exp", lambda x: np.exp(x) + 1)
    x = gg.Tensor(device.asarray([0.5, 1.0]))
    with pytest.raises(Exception, match="reached NumPy directly: exp"):
        leak(x)


def test_a_forward_converting_with_numpy_fails_the_type_check(on_device, planted):
    # np.asarray does not dispatch: it silently copies to the host; the check sees it
    leak = planted("test_seam_numpy_asarray", lambda x: np.asarray(x) * 2)
    x = gg.Tensor(device.asarray([0.5, 1.0]))
    with pytest.raises(AssertionError, match="left the device"):
        _assert_same(leak(x), gg.Tensor(np.array([1.0, 2.0])), "leak")


def test_a_rule_making_numpy_arrays_fails_on_device(on_device, planted):
    def rule(g, out, x):
        return g * np.ones(x.shape)  # a host array mixed with a device one
    leak = planted("test_seam_numpy_rule", lambda x: x * 1.0, rule)
    x = gg.Tensor(device.asarray([0.5, 1.0]), requires_grad=True)
    with pytest.raises(Exception, match="reached NumPy directly|host"):
        gg.grad_of(gg.sum(leak(x)), x)


def test_a_host_sync_in_the_backward_fails(on_device, planted):
    def rule(g, out, x):
        if gg.isfinite(gg.sum(g)):  # the pattern the seam removed from _select
            return g
        return g * 0
    leak = planted("test_seam_sync_rule", lambda x: x * 1.0, rule)
    x = gg.Tensor(device.asarray([0.5, 1.0]), requires_grad=True)
    out, fn = gg.vjp(leak, x)
    with no_host_sync(), pytest.raises(Exception, match="host synchronisation"):
        fn(gg.Tensor(device.asarray([1.0, 1.0])))


# ----------------------------------------------------------- the registry ----

def test_registering_the_device_leaves_no_trace():
    import fake_device
    before = (dict(B._modules), B.ARRAY_TYPES, B.foreign_active, dict(B._selects))
    fake_device.register()
    assert B.foreign_active and B.is_array(device.asarray([1.0]))
    gg.exp(gg.Tensor(device.asarray([1.0])))  # caches the device's exp on the primitive
    fake_device.unregister()
    assert (dict(B._modules), B.ARRAY_TYPES, B.foreign_active, dict(B._selects)) == before
    assert not B.is_array(device.asarray([1.0]))
    assert all(device not in p._impls for p in PRIMITIVES.values())


def test_tensors_keep_device_arrays(on_device):
    d = device.asarray(np.arange(3.0))
    assert type(gg.Tensor(d).data) is DeviceArray
    assert gg.Tensor(d).dtype == np.float64  # as a NumPy array: the dtype is kept
    t = gg.Tensor(d, dtype="float32")
    assert type(t.data) is DeviceArray and t.dtype == np.float32
    assert type(gg.tensor(d).data) is DeviceArray
    for like in (gg.zeros_like, gg.ones_like):
        z = like(t)
        assert type(z.data) is DeviceArray and z.dtype == np.float32 and z.shape == (3,)
    f = gg.full_like(t, 2.5)
    assert type(f.data) is DeviceArray and _host(f.data).tolist() == [2.5, 2.5, 2.5]


def test_manual_seed_seeds_every_backend(on_device):
    gg.manual_seed(7)
    a = B.generator(device).standard_normal((3,))
    host_a = gg.randn(3).numpy()
    gg.manual_seed(7)
    b = B.generator(device).standard_normal((3,))
    host_b = gg.randn(3).numpy()
    assert type(a) is DeviceArray
    np.testing.assert_array_equal(_host(a), _host(b))
    np.testing.assert_array_equal(host_a, host_b)


def test_select_needs_no_host_sync_on_a_device(on_device):
    cond = device.asarray([True, False, True])
    g = device.asarray([1.0, np.nan, np.inf])
    with no_host_sync():
        r = B.select(cond, g)
    assert type(r) is DeviceArray
    np.testing.assert_array_equal(_host(r), [1.0, 0.0, np.inf])


def test_numpy_select_keeps_nan_out_of_the_zeros():
    cond = np.array([True, False, True])
    np.testing.assert_array_equal(B.select(cond, np.array([1.0, 2.0, 3.0])), [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(B.select(cond, np.array([1.0, np.nan, 3.0])),
                                  [1.0, 0.0, 3.0])


def test_numpy_path_unchanged_while_a_device_is_registered(on_device):
    x = gg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = gg.sum(gg.relu(x) * gg.exp(x))
    y.backward()
    assert type(y.data) is np.ndarray and type(x.grad.data) is np.ndarray
    np.testing.assert_allclose(x.grad.numpy(), [2 * np.e, 0.0])


def test_errors_name_the_op_on_device(on_device):
    a, b = gg.Tensor(device.asarray(np.ones((2, 3)))), gg.Tensor(device.asarray(np.ones((4, 5))))
    with pytest.raises(gg.ShapeError, match="matmul"):
        a @ b


def test_host_arrays_are_refused_by_the_device(on_device):
    with pytest.raises(HostArrayError):
        device.exp(np.ones(2))
    with pytest.raises(HostArrayError):
        device.asarray([1.0]) + np.ones(1)


def test_compiled_numpy_code_does_not_read_the_registry(on_device):
    # impls copied into gg.compile's source ask array_module for their module: there it is
    # NumPy, whatever is registered when compiling
    y = np.array([0, 2])
    f = gg.compile(lambda x: gg.cross_entropy(gg.softplus(x), y))
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])
    want = gg.cross_entropy(gg.softplus(gg.Tensor(x)), y).numpy()
    np.testing.assert_allclose(np.asarray(_data(f(x))), want)
    assert "def array_module(*xs):\n    return np\n" in f.source
    assert "_modules" not in f.source and "foreign_active" not in f.source


def test_in_place_fills_stay_on_the_device(on_device):
    t = gg.Tensor(device.asarray(np.arange(3.0)))
    for op, want in ((lambda: t.fill_(2.0), [2.0] * 3), (lambda: t.zero_(), [0.0] * 3),
                     (lambda: t.copy_(np.array([1.0, 2.0, 3.0])), [1.0, 2.0, 3.0])):
        op()
        assert type(t.data) is DeviceArray
        assert _host(t.data).tolist() == want


# ------------------------------------------------ a static check of the ops ----

# Attributes of the NumPy module that are not computations: dtypes and constants.
_NOT_COMPUTING = {"dtype", "intp", "inf", "nan", "newaxis", "pi", "e", "float16", "float32",
                  "float64", "int8", "int16", "int32", "int64", "uint8", "bool_"}
# Functions that really are host-only, and why.
_HOST_ONLY = {
    ("_erf.py", "_fit"): "fits the series once, at import, on the host",
    ("index.py", "_clean_index"): "a list index becomes a host index (devices accept them)",
    ("_simplify.py", "is_value"): "compile-time constants of a traced graph live on the host",
}


def _numpy_calls_in_functions(path):
    """(function, line, attribute) for every ``np.X`` / ``xp.X`` read inside a function
    body (impls and rules must take their module from their inputs instead)."""
    import ast
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            name = func
            if isinstance(child, (ast.FunctionDef, ast.Lambda)):
                name = getattr(child, "name", func or "<lambda>")
            if (func is not None and isinstance(child, ast.Attribute)
                    and isinstance(child.value, ast.Name) and child.value.id in ("np", "xp")
                    and child.attr not in _NOT_COMPUTING):
                found.append((func, child.lineno, f"{child.value.id}.{child.attr}"))
            visit(child, name)

    visit(tree, None)
    return found


def test_op_impls_and_rules_never_call_numpy_directly():
    import pathlib

    import graphgrad.ops
    bad = []
    for path in sorted(pathlib.Path(graphgrad.ops.__file__).parent.glob("*.py")):
        for func, line, attr in _numpy_calls_in_functions(path):
            if (path.name, func) not in _HOST_ONLY:
                bad.append(f"{path.name}:{line} in {func}: {attr}")
    assert not bad, ("ops reach NumPy directly (use array_module(x) of the inputs): "
                     + "; ".join(bad))


def test_the_static_check_sees_a_direct_call(tmp_path):
    src = tmp_path / "leaky.py"
    src.write_text("import numpy as np\nadd = np.add\n\ndef impl(x):\n    return np.exp(x)\n"
                   "rule = lambda g: xp.zeros(g.shape, dtype=xp.float32)\n")
    assert _numpy_calls_in_functions(src) == [("impl", 5, "np.exp"),
                                              ("<lambda>", 6, "xp.zeros")]
