"""gg.static: every op is re-evaluated per run, and TF1's spellings from tutorials work."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.static as tf
from graphgrad.core.primitive import PRIMITIVES

# ------------------------------------------- re-evaluation on every Session.run ----

_FEED_A = np.array([[1.0, -2.0, np.nan], [np.inf, 0.5, 3.0]], np.float32)
_FEED_B = np.array([[-1.0, 2.0, 0.0], [4.0, np.nan, -np.inf]], np.float32)

# how to apply each non-differentiable primitive to a placeholder x (and its NumPy twin)
_NON_DIFF_CALLS = {
    "argmax": lambda p, x: p(x, axis=1, keepdims=False),
    "argmin": lambda p, x: p(x, axis=1, keepdims=False),
    "less": lambda p, x: p(x, 0.75),
    "less_equal": lambda p, x: p(x, 0.5),
    "greater": lambda p, x: p(x, 0.75),
    "greater_equal": lambda p, x: p(x, 0.5),
    "equal": lambda p, x: p(x, 0.5),
    "not_equal": lambda p, x: p(x, 0.5),
    "logical_and": lambda p, x: p(x > 0, x < 2),
    "logical_or": lambda p, x: p(x > 2, x < 0),
    "logical_not": lambda p, x: p(x > 0),
    "isnan": lambda p, x: p(x),
    "isfinite": lambda p, x: p(x),
}


def test_the_table_of_calls_covers_every_non_differentiable_primitive():
    non_diff = {name for name, p in PRIMITIVES.items() if not p.differentiable}
    assert non_diff == set(_NON_DIFF_CALLS), "add the new primitive to _NON_DIFF_CALLS"


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "eager"])
@pytest.mark.parametrize("name", sorted(_NON_DIFF_CALLS))
def test_non_differentiable_primitive_is_recomputed_for_every_feed(name, compiled):
    prim, call = PRIMITIVES[name], _NON_DIFF_CALLS[name]
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        out = call(prim, x)
        sess = tf.Session(compile=compiled)
        got = [sess.run(out, {x: v}) for v in (_FEED_A, _FEED_B, _FEED_A)]
    want = [call(prim.impl, v) for v in (_FEED_A, _FEED_B, _FEED_A)]
    assert not np.array_equal(want[0], want[1])  # the two feeds must tell apart
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
        assert g.dtype == w.dtype


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "eager"])
def test_masked_sum_argmax_and_cast_follow_the_feed(compiled):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    masked = tf.reduce_sum(x * tf.cast(x > 1.0, tf.float32))
    masked_op = tf.reduce_sum(x * (x > 1.0))
    am = tf.argmax(x, 1)
    sess = tf.Session(compile=compiled)
    for v in ([[0.5, 2.0, 3.0]], [[4.0, 0.0, 1.5], [2.0, 9.0, 0.0]]):
        v = np.array(v, np.float32)
        m, mo, a = sess.run([masked, masked_op, am], {x: v})
        assert float(m) == float(mo) == float((v * (v > 1)).sum())
        np.testing.assert_array_equal(a, v.argmax(1))


def test_ops_on_an_integer_or_untrainable_variable_follow_its_assignments():
    counter = tf.Variable(0, name="counter", dtype=tf.int32)
    step = tf.Variable(1.0, trainable=False, name="step")
    incremented = counter + 1
    update = counter.assign(incremented)
    doubled = step * 2.0
    grow = step.assign(doubled)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        seen = []
        for _ in range(3):
            sess.run([update, grow])
            seen.append((int(sess.run(counter)), float(sess.run(doubled))))
    assert seen == [(1, 4.0), (2, 8.0), (3, 16.0)]
    assert tf.Session().run(counter).dtype == np.int32


# --------------------------------------------------------------- TF1 spellings ----

def test_float_string_and_tf_float32_are_float32():
    assert tf.placeholder("float").declared_dtype == np.float32
    assert tf.placeholder(tf.float32, [None, 784]).declared_dtype == np.float32
    assert tf.placeholder("double").declared_dtype == np.float64
    x = tf.placeholder("float", [None, 2])
    assert tf.Session().run(x * 2, {x: np.ones((3, 2))}).dtype == np.float32


def test_reductions_take_reduction_indices_and_keep_dims():
    x = tf.placeholder(tf.float32, [None, 3])
    v = np.arange(6, dtype=np.float32).reshape(2, 3)
    fetches = [tf.reduce_sum(x, reduction_indices=[1]),
               tf.reduce_mean(x, reduction_indices=1, keep_dims=True),
               tf.reduce_max(x, axis=0, keepdims=True),
               tf.reduce_min(x, 1),
               tf.reduce_sum(x)]
    s, m, mx, mn, total = tf.Session().run(fetches, {x: v})
    np.testing.assert_array_equal(s, v.sum(1))
    np.testing.assert_array_equal(m, v.mean(1, keepdims=True))
    np.testing.assert_array_equal(mx, v.max(0, keepdims=True))
    np.testing.assert_array_equal(mn, v.min(1))
    assert float(total) == 15.0
    with pytest.raises(TypeError, match="reduce_sum.*both"):
        tf.reduce_sum(x, axis=1, reduction_indices=1)


def test_argmax_dimension_equal_cast_and_their_dtypes():
    x = tf.placeholder(tf.float32, [None, 3])
    v = np.array([[0.0, 5.0, 1.0], [7.0, 2.0, 3.0]], np.float32)
    a1, a0, ad = tf.argmax(x, 1), tf.argmax(x), tf.argmax(x, dimension=1)
    eq = tf.equal(a1, tf.constant([1, 1], dtype=tf.int64))
    as_f = tf.cast(eq, tf.float32)
    as_i = tf.cast(x * 1.5, tf.int32)
    out = tf.Session().run([a1, a0, ad, eq, as_f, as_i], {x: v})
    np.testing.assert_array_equal(out[0], [1, 0])
    np.testing.assert_array_equal(out[1], [1, 0, 1])  # TF1: axis defaults to 0
    np.testing.assert_array_equal(out[2], [1, 0])
    np.testing.assert_array_equal(out[3], [True, False])
    assert out[4].dtype == np.float32 and out[4].tolist() == [1.0, 0.0]
    assert out[5].dtype == np.int32 and out[5].tolist() == [[0, 7, 1], [10, 3, 4]]
    assert out[0].dtype == np.int64


def test_zeros_ones_and_arithmetic_names():
    a = tf.placeholder(tf.float32, [2, 2])
    w = tf.Variable(tf.zeros([2, 2]) + tf.ones([2, 2], dtype=tf.float32))
    y = tf.matmul(a, w)
    z = tf.subtract(tf.divide(tf.square(tf.log(tf.exp(a))), 2.0), tf.negative(y))
    v = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    got = tf.Session().run(z, {a: v})
    np.testing.assert_allclose(got, v * v / 2 + v @ np.ones((2, 2)), rtol=1e-6)
    assert tf.Session().run(tf.zeros([3], dtype=tf.int32)).dtype == np.int32


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "eager"])
def test_random_ops_draw_new_values_every_run(compiled):
    tf.set_random_seed(0)
    n = tf.random_normal([2000], mean=1.0, stddev=2.0)
    u = tf.random_uniform([2000], minval=-1.0, maxval=3.0)
    t = tf.truncated_normal([2000], stddev=0.5)
    sess = tf.Session(compile=compiled)
    (n1, u1, t1), (n2, u2, t2) = sess.run([n, u, t]), sess.run([n, u, t])
    assert not np.array_equal(n1, n2) and not np.array_equal(u1, u2)
    assert n1.dtype == u1.dtype == t1.dtype == np.float32
    assert abs(n1.mean() - 1.0) < 0.2 and abs(n1.std() - 2.0) < 0.2
    assert u1.min() >= -1.0 and u1.max() < 3.0 and abs(u1.mean() - 1.0) < 0.15
    assert np.abs(t1).max() <= 1.0 and np.abs(t2).max() <= 1.0  # cut at two stddevs


def test_variable_initialised_from_a_random_op_keeps_its_value():
    w = tf.Variable(tf.random_normal([3, 4], stddev=0.1, seed=3))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(w)
        np.testing.assert_array_equal(sess.run(w), first)
    assert first.shape == (3, 4) and 0 < np.abs(first).max() < 1


# ------------------------------------------------------------------- tf.nn ----

def test_nn_is_a_namespace_module_of_tf1_functions():
    import types
    assert isinstance(tf.nn, types.ModuleType) and tf.nn.__name__ == "graphgrad.static.nn"
    for name in ("relu", "sigmoid", "tanh", "softmax", "log_softmax", "l2_loss", "dropout",
                 "softmax_cross_entropy_with_logits",
                 "sparse_softmax_cross_entropy_with_logits",
                 "sigmoid_cross_entropy_with_logits"):
        assert callable(getattr(tf.nn, name)) and name in tf.nn.__all__
    with pytest.raises(AttributeError):
        tf.nn.np  # noqa: B018
    with pytest.raises(AttributeError):
        tf.nn.conv99d  # noqa: B018


def _np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_nn_activations_and_losses_match_numpy():
    rng = np.random.default_rng(1)
    zv = rng.standard_normal((4, 5)).astype(np.float32)
    pv = rng.dirichlet(np.ones(5), 4).astype(np.float32)
    iv = rng.integers(0, 5, 4)
    bv = (rng.random((4, 5)) > 0.5).astype(np.float32)
    z = tf.placeholder(tf.float32, [None, 5])
    p = tf.placeholder(tf.float32, [None, 5])
    i = tf.placeholder(tf.int64, [None])
    b = tf.placeholder(tf.float32, [None, 5])
    fetches = [tf.nn.relu(z), tf.nn.sigmoid(z), tf.nn.tanh(z), tf.nn.softmax(z),
               tf.nn.log_softmax(z), tf.nn.l2_loss(z),
               tf.nn.softmax_cross_entropy_with_logits(labels=p, logits=z),
               tf.nn.sparse_softmax_cross_entropy_with_logits(labels=i, logits=z),
               tf.nn.sigmoid_cross_entropy_with_logits(labels=b, logits=z)]
    out = tf.Session().run(fetches, {z: zv, p: pv, i: iv, b: bv})
    lsm = _np_log_softmax(zv)
    sig = 1 / (1 + np.exp(-zv))
    want = [np.maximum(zv, 0), sig, np.tanh(zv), np.exp(lsm), lsm, (zv * zv).sum() / 2,
            -(pv * lsm).sum(1), -lsm[np.arange(4), iv],
            -(bv * np.log(sig) + (1 - bv) * np.log(1 - sig))]
    for g, w in zip(out, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert out[6].shape == (4,) and out[7].shape == (4,)  # per-example losses


def test_softmax_cross_entropy_requires_named_arguments_and_gradient_is_p_minus_y():
    z = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match="labels=.*logits="):
        tf.nn.softmax_cross_entropy_with_logits(z, y)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z))
    (dz,) = tf.gradients(loss, [z])
    zv = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]], np.float32)
    yv = np.array([[0, 1, 0], [1, 0, 0]], np.float32)
    got = tf.Session().run(dz, {z: zv, y: yv})
    np.testing.assert_allclose(got, (np.exp(_np_log_softmax(zv)) - yv) / 2, rtol=1e-5)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "eager"])
def test_dropout_draws_a_new_mask_every_run_and_scales_kept_values(compiled):
    x = tf.placeholder(tf.float32, [None, 1000])
    keep = tf.placeholder(tf.float32)
    d = tf.nn.dropout(x, keep)
    sess = tf.Session(compile=compiled)
    ones = np.ones((3, 1000), np.float32)
    a, b = sess.run(d, {x: ones, keep: 0.25}), sess.run(d, {x: ones, keep: 0.25})
    assert a.shape == (3, 1000) and not np.array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 4.0}
    assert abs((a == 4.0).mean() - 0.25) < 0.05
    np.testing.assert_array_equal(sess.run(d, {x: ones, keep: 1.0}), ones)


# --------------------------------------------- default session: eval() and run() ----

def test_eval_and_run_use_the_session_of_the_with_block():
    x = tf.placeholder(tf.float32, [None])
    w = tf.Variable(2.0)
    y = x * w
    step = w.assign(w + 1.0)
    with tf.Session() as sess:
        assert tf.get_default_session() is sess
        np.testing.assert_array_equal(y.eval(feed_dict={x: [1.0, 2.0]}), [2.0, 4.0])
        step.run()
        np.testing.assert_array_equal(y.eval({x: [1.0]}), [3.0])
        tf.global_variables_initializer().run()
        assert float(w.eval()) == 2.0
    assert tf.get_default_session() is None
    other = tf.Session()
    np.testing.assert_array_equal(y.eval(feed_dict={x: [5.0]}, session=other), [10.0])
    step.run(session=other)
    assert float(w.eval(session=other)) == 3.0


def test_train_op_run_uses_the_default_session():
    x = tf.placeholder(tf.float32, [None])
    w = tf.Variable(0.0)
    loss = tf.reduce_mean(tf.square(x - w))
    train_step = tf.train.GradientDescentOptimizer(0.25).minimize(loss)
    with tf.Session():
        for _ in range(2):
            train_step.run(feed_dict={x: [2.0, 6.0]})  # w += 0.5 * (4 - w)
        assert float(w.eval()) == 3.0
        assert train_step.eval(feed_dict={x: [1.0]}) is None  # an op: its value is None


def test_eval_without_a_default_session_is_a_clear_error():
    y = tf.constant(1.0) * 3
    with pytest.raises(ValueError, match="no default session.*with tf.Session"):
        y.eval()


def test_interactive_session_is_default_until_closed():
    w = tf.Variable(3.0)
    sess = tf.InteractiveSession()
    try:
        assert tf.get_default_session() is sess
        assert float((w * 2).eval()) == 6.0
    finally:
        sess.close()
    assert tf.get_default_session() is None


# ------------------------------------------------------------ the namespace ----

def test_static_exports_exactly_its_public_api():
    public = {n for n in vars(tf) if not n.startswith("_")}
    assert public <= set(tf.__all__), sorted(public - set(tf.__all__))
    for name in tf.__all__:
        assert hasattr(tf, name), name
    for internal in ("np", "B", "contextlib", "Tensor", "Node", "softmax", "annotations",
                     "user_site", "cross_entropy"):
        with pytest.raises(AttributeError, match="graphgrad.static"):
            getattr(tf, internal)
    ns: dict = {}
    exec("from graphgrad.static import *", ns)
    assert set(ns) - {"__builtins__"} == set(tf.__all__)


def test_train_and_nn_and_dtypes_are_reachable():
    assert tf.train.GradientDescentOptimizer is tf.GradientDescentOptimizer
    assert tf.float32 is gg.float32 and tf.int64 is gg.int64
    assert {"nn", "train", "Session", "InteractiveSession", "cast", "argmax",
            "equal", "random_normal"} <= set(tf.__all__)


# ------------------------------------------- shapes left open by placeholders ----

@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "eager"])
def test_reshape_with_minus_one_follows_the_fed_batch_size(compiled):
    x = tf.placeholder(tf.float32, [None, 4])
    flat = tf.reshape(x, [-1, 2])
    odd = tf.reshape(x, [-1, 6])  # fits a batch of 3, not the stand-in batch of 1
    sess = tf.Session(compile=compiled)
    for n in (3, 6):
        v = np.arange(4 * n, dtype=np.float32).reshape(n, 4)
        got, got_odd = sess.run([flat, odd], {x: v})
        np.testing.assert_array_equal(got, v.reshape(-1, 2))
        np.testing.assert_array_equal(got_odd, v.reshape(-1, 6))


def test_an_op_failing_at_run_time_names_the_line_that_built_it():
    import traceback
    x = tf.placeholder(tf.float32, [None, 4])
    odd = tf.reshape(x, [-1, 3]); line = traceback.extract_stack()[-1].lineno  # noqa: E702
    with pytest.raises(gg.ShapeError, match=r"\(2, 4\).*\(-1, 3\)") as info:
        tf.Session(compile=False).run(odd, {x: np.ones((2, 4))})
    assert f"'reshape' built at test_static_tf1.py:{line}" in "".join(info.value.__notes__)


def test_compiled_run_computes_comparisons_and_argmax_in_the_generated_code():
    x = tf.placeholder(tf.float32, [None, 3])
    s = tf.reduce_sum(x * tf.cast(x > 1.0, tf.float32))
    with tf.Session() as sess:
        sess.run([s, tf.argmax(x, 1)], {x: np.ones((2, 3), np.float32)})
        src = sess.last_source
    assert "> 1.0" in src and "np.argmax(" in src


def test_a_closed_session_refuses_to_run():
    x = tf.constant(1.0) + 1
    with tf.Session() as sess:
        sess.run(x)
    with pytest.raises(RuntimeError, match="closed"):
        sess.run(x)


def test_default_session_and_graph_are_per_thread():
    import threading
    seen = {}

    def other():
        seen["session"] = tf.get_default_session()
        seen["graph"] = tf.get_default_graph()
    with tf.Graph().as_default() as g, tf.Session() as sess:
        assert tf.get_default_session() is sess and tf.get_default_graph() is g
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen["session"] is None and seen["graph"] is not g


def test_feeding_an_intermediate_tensor_cuts_the_graph_above_it():
    x = tf.placeholder(tf.float32, [None], name="x")
    h = tf.multiply(x, 10.0)
    y = h + 1.0
    for compiled in (True, False):
        sess = tf.Session(compile=compiled)
        np.testing.assert_array_equal(sess.run(y, {h: [1.0, 2.0]}), [2.0, 3.0])  # x unfed
        np.testing.assert_array_equal(sess.run(y, {x: [1.0]}), [11.0])


@pytest.mark.parametrize("read", [bool, float, int, len, list, np.asarray,
                                  lambda p: p.item(), lambda p: p.numpy(),
                                  lambda p: p.tolist(), lambda p: [0, 1][p]])
def test_reading_a_placeholder_as_a_value_is_an_error_not_its_stand_in(read):
    x = tf.placeholder(tf.float32, [None], name="images")
    with pytest.raises(tf.FeedError, match="placeholder 'images'.*no value until Session.run"):
        read(x)
    assert len(tf.placeholder(tf.float32, [3, 2])) == 3  # a declared size is known


def test_shapeless_placeholders_defer_axis_ops_to_run_time():
    # tf.placeholder("float") with no shape: the classic masked sum and argmax still work
    x = tf.placeholder("float")
    y = tf.placeholder("float")
    s = tf.reduce_sum(x * (x > 1.0))
    a = tf.argmax(x, 1)
    ok = tf.reduce_mean(tf.cast(tf.equal(a, tf.argmax(y, 1)), "float"))
    xent = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=x)
    sm = tf.nn.softmax(x)
    with tf.Session() as sess:
        for xv, yv in (([[0.0, 2.0, 3.0]], [[0.0, 0.0, 1.0]]),
                       ([[5.0, 2.0, 0.5], [1.0, 1.0, 9.0]], [[0, 1, 0], [0, 0, 1]])):
            xv, yv = np.array(xv, np.float32), np.array(yv, np.float32)
            got = sess.run([s, a, ok, xent, sm], {x: xv, y: yv})
            assert float(got[0]) == float((xv * (xv > 1)).sum())
            np.testing.assert_array_equal(got[1], xv.argmax(1))
            assert float(got[2]) == float((xv.argmax(1) == yv.argmax(1)).mean())
            lsm = _np_log_softmax(xv)
            np.testing.assert_allclose(got[3], -(yv * lsm).sum(1), rtol=1e-5)
            np.testing.assert_allclose(got[4], np.exp(lsm), rtol=1e-5)
