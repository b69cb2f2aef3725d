"""gg.compile never returns a stale value: state read from outside is read on every call.

Each test runs the same function eagerly and compiled, changes the state it reads (in
place, or by rebinding a name), and checks that both still agree.
"""

from __future__ import annotations

import collections
import types
import warnings

import numpy as np
import pytest

import graphgrad as gg


def _ns(**kw):
    return types.SimpleNamespace(**kw)


def _agree(fn, *args):
    """fn eager and compiled (after the trace, so the generated code runs) agree."""
    want = fn(*args)
    got = _compiled[fn](*args)
    np.testing.assert_allclose(np.asarray(got.data), np.asarray(want.data), rtol=1e-6)
    return float(np.sum(got.data))


_compiled: dict = {}


def _compile(fn):
    _compiled[fn] = gg.compile(fn)
    return _compiled[fn]


# ------------------------------------------------------------ the case ----

def test_a_tensor_three_attributes_deep_is_never_stale():
    model = _ns(head=_ns(norm=_ns(scale=gg.tensor(2.0))))

    def f(x):
        return x * model.head.norm.scale

    cf = _compile(f)
    x = gg.tensor(1.0)
    assert float(cf(x)) == 2.0 and float(cf(x)) == 2.0  # traced, then generated code
    model.head.norm.scale.fill_(5.0)  # changed in place
    assert float(f(x)) == 5.0 and float(cf(x)) == 5.0
    model.head.norm.scale.data[...] = 6.0  # changed behind graphgrad's back
    assert float(cf(x)) == 6.0
    model.head.norm.scale = gg.tensor(7.0)  # rebound
    assert float(f(x)) == 7.0 and float(cf(x)) == 7.0
    model.head = _ns(norm=_ns(scale=gg.tensor(8.0)))  # a level above rebound
    assert float(cf(x)) == 8.0
    assert cf.constants == []  # nothing it reads was frozen
    assert "model_head_norm_scale" in cf.source  # read as an argument, by name


def test_a_tensor_deeper_than_the_search_is_still_read_by_reference():
    leaf = gg.tensor(2.0)
    obj = leaf
    for _ in range(12):  # deeper than the search goes
        obj = _ns(child=obj)

    def f(x):
        o = obj
        while isinstance(o, types.SimpleNamespace):
            o = o.child
        return x * o

    cf = _compile(f)
    x = gg.tensor(1.0)
    assert _agree(f, x) == 2.0
    leaf.fill_(5.0)
    assert _agree(f, x) == 5.0
    assert cf.constants == [] and "captured" in cf.source


# ----------------------------------------------------------------- containers ----

def test_tensors_in_lists_dicts_and_tuples_inside_captured_objects():
    net = _ns(layers=[{"w": gg.tensor([1.0, 2.0]), "b": (gg.tensor(0.5),)},
                      {"w": gg.tensor([3.0, 4.0]), "b": (gg.tensor(-1.0),)}])

    def f(x):
        for layer in net.layers:
            x = x * layer["w"] + layer["b"][0]
        return x

    _compile(f)
    x = gg.tensor([1.0, 1.0])
    _agree(f, x)
    _agree(f, x)
    net.layers[0]["w"].mul_(3.0)
    net.layers[1]["b"][0].fill_(2.0)
    _agree(f, x)
    net.layers[1]["b"] = (gg.tensor(10.0),)  # a new tuple in the dict
    assert _agree(f, x) == _agree(f, x)
    net.layers[0] = {"w": gg.tensor([0.0, 1.0]), "b": (gg.tensor(0.0),)}
    _agree(f, x)
    assert _compiled[f].constants == []


def test_tensors_in_slots_namedtuples_and_a_container_the_search_does_not_open():
    Pair = collections.namedtuple("Pair", "w b")

    class Slotted:
        __slots__ = ("pair",)

        def __init__(self, pair):
            self.pair = pair

    hidden = collections.deque([gg.tensor(3.0)])  # not searched: read by reference still
    obj = Slotted(Pair(gg.tensor(2.0), gg.tensor(1.0)))

    def f(x):
        return x * obj.pair.w + obj.pair.b + hidden[0]

    cf = _compile(f)
    x = gg.tensor(1.0)
    _agree(f, x)
    obj.pair.w.fill_(4.0)
    hidden[0].fill_(-3.0)
    assert _agree(f, x) == 2.0
    obj.pair = Pair(gg.tensor(1.0), gg.tensor(1.0))
    assert _agree(f, x) == -1.0
    assert "obj_pair_w" in cf.source and cf.constants == []


# -------------------------------------------------------------------- globals ----

G = gg.tensor([1.0, 2.0])
TABLE = {"scale": gg.tensor(3.0)}


def _uses_globals(x):
    return x * G * TABLE["scale"]


def test_module_level_globals_changed_in_place_and_rebound():
    global G
    old = G
    try:
        cf = _compile(_uses_globals)
        x = gg.tensor([1.0, 1.0])
        _agree(_uses_globals, x)
        G.mul_(2.0)
        TABLE["scale"].fill_(0.5)
        assert _agree(_uses_globals, x) == 3.0
        G = gg.tensor([10.0, 20.0])
        assert _agree(_uses_globals, x) == 15.0
        TABLE["scale"] = gg.tensor(1.0)
        assert _agree(_uses_globals, x) == 30.0
        assert "def _uses_globals(x, G, TABLE_scale)" in cf.source
    finally:
        G = old
        TABLE["scale"] = gg.tensor(3.0)


# ------------------------------------------------------------------ ndarrays ----

def test_a_captured_ndarray_mutated_in_place_or_rebound():
    state = _ns(mask=np.array([1.0, 0.0, 1.0], dtype=np.float32))
    big = np.ones(100_000, dtype=np.float32)

    def f(x):
        return gg.sum(x * state.mask) + gg.sum(big[:3] * x)

    cf = _compile(f)
    x = gg.tensor([1.0, 2.0, 3.0])
    assert _agree(f, x) == 10.0
    state.mask[1] = 5.0  # in place
    big[:3] = 2.0
    assert _agree(f, x) == 26.0
    state.mask = np.zeros(3, dtype=np.float32)  # rebound
    assert _agree(f, x) == 12.0
    assert cf.constants == []


def test_an_index_array_captured_by_the_function():
    idx = np.array([2, 0])

    def f(x):
        return x[idx] * 2.0

    cf = _compile(f)
    x = gg.tensor([1.0, 2.0, 3.0])
    _agree(f, x)
    idx[0] = 1
    np.testing.assert_array_equal(cf(x).data, [4.0, 2.0])


# ------------------------------------------------ made during the trace ----

def test_values_made_during_the_trace_are_frozen_and_listed():
    def f(x):
        scale = gg.tensor([1.0, 2.0, 3.0])  # made during the trace, held by nobody
        return x * scale + gg.tensor(2.0) * gg.tensor(3.0)

    cf = gg.compile(f)
    cf(gg.ones(3))
    np.testing.assert_allclose(cf(gg.ones(3) * 2).data, [8.0, 10.0, 12.0])
    consts = cf.constants
    assert [c.shape for c in consts] == [(3,), ()]  # gg.tensor(2.0) * gg.tensor(3.0): folded
    c = consts[0]
    assert c.dtype == np.float32 and c.name in cf.source
    assert "test_compile_state.py:" in c.where and "return x * scale" in c.where  # read here
    assert cf.graph.count("mul") == 1


def test_state_created_during_the_trace_and_kept_is_read_by_reference():
    class Buffer:
        def __init__(self):
            self.m = None

        def __call__(self, x):
            if self.m is None:  # made lazily, on the first (traced) call
                self.m = gg.zeros(3)
            return x + self.m

    buf = Buffer()
    cf = gg.compile(buf)
    x = gg.ones(3)
    np.testing.assert_array_equal(cf(x).data, [1.0, 1.0, 1.0])
    buf.m.fill_(2.0)
    np.testing.assert_array_equal(cf(x).data, [3.0, 3.0, 3.0])
    assert cf.constants == []


def test_a_tensor_made_during_the_trace_over_captured_data():
    raw = np.array([1.0, 2.0], dtype=np.float32)

    def shares(x):
        return x * gg.Tensor(raw)  # a new Tensor each call, sharing raw's memory

    def copies(x):
        return x * gg.tensor(raw)  # a copy of raw made outside graphgrad ops

    _compile(shares)
    cc = gg.compile(copies)
    x = gg.ones(2)
    _agree(shares, x)
    cc(x)
    raw *= 10
    assert _agree(shares, x) == 30.0  # read by reference: sees the change
    # the copy is a snapshot taken at trace time: frozen, and listed where it was made
    assert [(c.shape, c.where.split(": ")[1]) for c in cc.constants] == \
        [((2,), "return x * gg.tensor(raw)  # a copy of raw made outside graphgrad ops")]


# -------------------------------------------------- shapes, flags, statics ----

def test_a_captured_tensor_reshaped_or_flagged_traces_again():
    w = gg.tensor([1.0, 2.0])

    def f(x):
        return gg.sum(x * w)

    cf = _compile(f)
    x = gg.tensor(2.0)
    _agree(f, x)
    w.data = np.array([1.0, 2.0, 3.0], dtype=np.float32)  # new shape: new code
    assert _agree(f, x) == 12.0
    w.requires_grad = True
    assert _agree(f, x) == 12.0
    assert cf.retraces == 2


def test_an_equal_but_different_static_object_traces_again():
    @dataclasses_frozen
    class Cfg:
        key: int

    w1, w2 = gg.tensor(2.0), gg.tensor(3.0)
    owner = {}

    def f(x, cfg):
        return x * owner[id(cfg)]

    cf = gg.compile(f, static_argnums=1)
    a, b = Cfg(1), Cfg(1)  # equal, so the same cache key; different state
    owner[id(a)], owner[id(b)] = w1, w2
    x = gg.tensor(1.0)
    assert float(cf(x, a)) == 2.0 and float(cf(x, a)) == 2.0
    assert float(cf(x, b)) == 3.0


def dataclasses_frozen(cls):
    import dataclasses
    return dataclasses.dataclass(frozen=True)(cls)


def test_rebinding_on_every_call_warns_once():
    state = _ns(w=gg.tensor(1.0))
    cf = gg.compile(lambda x: x * state.w)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for i in range(12):
            state.w = gg.tensor(float(i))
            assert float(cf(gg.tensor(2.0))) == 2.0 * i
    msgs = [str(w.message) for w in seen if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1 and "state_w" in msgs[0] and "in place" in msgs[0]


def test_a_gradient_accumulated_before_the_call_is_read_each_call():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    gg.sum(w * w).backward()

    def f(x):
        return x * w.grad

    cf = _compile(f)
    x = gg.tensor([1.0, 1.0])
    _agree(f, x)
    w.grad.mul_(2.0)  # in place
    assert _agree(f, x) == 12.0
    w.grad = gg.tensor([5.0, 6.0])  # rebound
    assert _agree(f, x) == 11.0
    assert "grad_w" in cf.source


# ----------------------------------------------------------------- pytrees ----

def test_namedtuple_arguments_and_results_are_pytrees():
    Batch = collections.namedtuple("Batch", "x y")

    @gg.compile
    def f(batch):
        return Batch(batch.x * 2, batch.y + 1)

    f(Batch(gg.ones(2), gg.zeros(2)))
    out = f(Batch(gg.tensor([1.0, 2.0]), gg.tensor([3.0, 4.0])))
    assert isinstance(out, Batch)
    np.testing.assert_array_equal(out.x.data, [2.0, 4.0])
    np.testing.assert_array_equal(out.y.data, [4.0, 5.0])
    assert f.cache_size == 1
    assert "def f(batch_x, batch_y)" in f.source


def test_a_bad_argument_names_its_place_in_the_tree():
    f = gg.compile(lambda d: d["a"])
    with pytest.raises(TypeError, match=r"argument d_b_1 of type set"):
        f({"a": gg.ones(1), "b": [1, {2}]})


# -------------------------------------------------------------------- numbers ----

LR = 0.5


def _scaled(x):
    return x * LR + CFG["shift"] + _OPT.momentum


CFG = {"shift": 1.0}
_OPT = types.SimpleNamespace(momentum=0.25, unrelated=3)


def test_captured_numbers_are_baked_in_and_a_change_traces_again():
    global LR
    try:
        cf = _compile(_scaled)
        x = gg.tensor(2.0)
        assert _agree(_scaled, x) == 2.25
        assert "0.5" in cf.source  # a literal in the generated code
        LR = 2.0
        CFG["shift"] = -1.0
        assert _agree(_scaled, x) == 3.25
        _OPT.momentum = 0.0
        assert _agree(_scaled, x) == 3.0
        n = cf.retraces
        _OPT.unrelated = 4  # not read by the function: no new trace
        assert _agree(_scaled, x) == 3.0 and cf.retraces == n
    finally:
        LR = 0.5
        CFG["shift"] = 1.0
        _OPT.momentum = 0.25


def test_the_constants_example_of_the_docs_runs():
    import pathlib
    import re
    text = (pathlib.Path(__file__).parent.parent / "docs" / "compile.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "constants" in b]
    assert len(blocks) == 1
    ns: dict = {"gg": gg}
    exec(blocks[0], ns)  # noqa: S102 - the docs' example
    assert [(c.name, c.shape) for c in ns["f"].constants] == [("c0", (2,))]
    assert "c0" in ns["f"].source


def test_static_values_that_are_equal_do_not_trace_again():
    calls = []

    def f(x, shape, dtype):
        calls.append(1)
        return gg.reshape(x, shape).astype(dtype)

    cf = gg.compile(f, static_argnums=(1, 2))
    for n in range(3):
        shape = tuple([2, 3 + n - n])  # a new, equal tuple each call
        cf(gg.ones(6), shape, np.dtype("float64"))
    assert len(calls) == 1 and cf.retraces == 0


def test_a_layer_appended_to_a_captured_list_traces_again():
    layers = [gg.tensor(2.0), gg.tensor(3.0)]
    table = {"a": gg.tensor(1.0)}

    def f(x):
        for w in layers:
            x = x * w
        return x + sum(table.values())

    cf = _compile(f)
    x = gg.tensor(1.0)
    assert _agree(f, x) == 7.0
    layers.append(gg.tensor(10.0))
    assert _agree(f, x) == 61.0
    table["b"] = gg.tensor(1.0)
    assert _agree(f, x) == 62.0
    assert cf.retraces == 2


def test_new_module_globals_do_not_trace_again():
    cf = _compile(_uses_globals)
    x = gg.tensor([1.0, 1.0])
    _agree(_uses_globals, x)
    globals()["_SOMETHING_NEW"] = gg.tensor(1.0)  # the module's globals dict grows
    try:
        _agree(_uses_globals, x)
        assert cf.retraces == 0
    finally:
        del globals()["_SOMETHING_NEW"]


def test_a_learning_rate_read_by_a_method_of_a_captured_object():
    class SGD:
        def __init__(self, params, lr):
            self.params, self.lr = params, lr

        def step(self):
            with gg.no_grad():
                for p in self.params:
                    p.sub_(self.lr * p.grad)

    w = gg.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.5)

    @gg.compile
    def train_step(x):
        w.grad = None
        loss = gg.sum(w * x)
        loss.backward()
        opt.step()
        return loss

    x = gg.tensor([1.0, 1.0])
    train_step(x)
    train_step(x)
    np.testing.assert_allclose(w.data, [0.0, 1.0])
    opt.lr = 0.25  # a learning-rate schedule
    train_step(x)
    np.testing.assert_allclose(w.data, [-0.25, 0.75])
    assert train_step.retraces == 1


def test_storing_a_computed_value_in_captured_state_warns():
    log = _ns(last=None)

    @gg.compile
    def f(x):
        y = x * 2
        log.last = y  # not replayed by the generated code
        return y + 1

    with pytest.warns(RuntimeWarning, match=r"stores values it computes in log_last"):
        f(gg.ones(2))


def test_writing_into_captured_state_in_place_does_not_warn():
    log = _ns(last=gg.zeros(2))

    @gg.compile
    def f(x):
        y = x * 2
        log.last.copy_(y)  # replayed: a write into an existing tensor
        return y + 1

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(gg.ones(2))
        f(gg.tensor([3.0, 4.0]))
    np.testing.assert_array_equal(log.last.data, [6.0, 8.0])


def test_optimizer_state_created_lazily_during_the_trace():
    class Momentum:
        def __init__(self, params, lr=0.1, mu=0.9):
            self.params, self.lr, self.mu, self.v = params, lr, mu, None

        def step(self):
            if self.v is None:  # made on the first (traced) call, then updated in place
                self.v = [gg.zeros_like(p) for p in self.params]
            with gg.no_grad():
                for p, v in zip(self.params, self.v):
                    v.mul_(self.mu).add_(p.grad)
                    p.sub_(self.lr * v)

    def make():
        w = gg.tensor([1.0, -2.0], requires_grad=True)
        opt = Momentum([w])

        def step(x):
            w.grad = None
            loss = gg.sum(w * w * x)
            loss.backward()
            opt.step()
            return loss
        return w, opt, step

    we, opt_e, eager = make()
    wc, opt_c, step = make()
    compiled = gg.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(5):
            x = gg.tensor([1.0 + i, 0.5])
            np.testing.assert_allclose(compiled(x).data, eager(x).data, rtol=1e-6)
            if i == 2:
                opt_e.lr = opt_c.lr = 0.05
    np.testing.assert_allclose(wc.data, we.data, rtol=1e-6)
    np.testing.assert_allclose(opt_c.v[0].data, opt_e.v[0].data, rtol=1e-6)
    assert compiled.retraces == 1  # the new learning rate
