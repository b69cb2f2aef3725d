"""gg.static: TF1 / SimpleFlow graphs, sessions, gradients and optimizers."""

from __future__ import annotations

import numpy as np
import pytest

import graphgrad as gg
import graphgrad.static as sf


def test_simpleflow_readme_graph():
    with sf.Graph().as_default():
        w = sf.constant([[1, 2, 3], [3, 4, 5]], name="w")
        x = sf.constant([[9, 8], [7, 6], [10, 11]], name="x")
        b = sf.constant(1.0, "b")
        result = sf.matmul(w, x) + b
        with sf.Session() as sess:
            np.testing.assert_array_equal(sess.run(result), [[54.0, 54.0], [106.0, 104.0]])


def test_seed_graph_loss_z_times_x_plus_y_both_apis():
    # the seed's numbers: x + y = 5, z = 6, Loss = 30, dLoss/dx = dLoss/dy = 6, dLoss/dz = 5
    with sf.Graph().as_default():
        x, y, z = sf.constant(2.0), sf.constant(3.0), sf.constant(6.0)
        loss = sf.multiply(z, sf.add(x, y))
        grads = sf.gradients(loss, [x, y, z])
        with sf.Session() as sess:
            out = sess.run([loss] + grads)
    assert [float(v) for v in out] == [30.0, 6.0, 6.0, 5.0]
    f = gg.compile(gg.value_and_grad(lambda x, y, z: z * (x + y), argnums=(0, 1, 2)))
    for _ in range(2):
        v, g = f(gg.tensor(2.0), gg.tensor(3.0), gg.tensor(6.0))
        assert [float(v)] + [float(t) for t in g] == [30.0, 6.0, 6.0, 5.0]


def test_seed_graph_node_with_two_paths_of_different_lengths():
    # x feeds g through h (two ops away) and through l (one op away): contributions add
    x = sf.placeholder(shape=(), name="x")
    z = sf.constant(3.0)
    h = sf.square(sf.sigmoid(x))
    l_ = sf.multiply(x, 4.0)
    g = sf.multiply(z, sf.add(h, l_))
    (dx,) = sf.gradients(g, [x])
    xv = 0.7
    s = 1 / (1 + np.exp(-xv))
    want = 3 * (2 * s * s * (1 - s) + 4)
    with sf.Session() as sess:
        np.testing.assert_allclose(sess.run(dx, {x: xv}), want, rtol=1e-6)


def test_matmul_x_x_gets_both_contributions():
    x = sf.placeholder(shape=(3, 3), name="x")
    loss = sf.reduce_sum(sf.matmul(x, x))
    (dx,) = sf.gradients(loss, [x])
    xv = np.arange(9, dtype=np.float32).reshape(3, 3) / 10
    ones = np.ones((3, 3), np.float32)
    with sf.Session() as sess:
        np.testing.assert_allclose(sess.run(dx, {x: xv}), ones @ xv.T + xv.T @ ones, rtol=1e-6)


def test_node_feeding_an_op_off_the_path_to_the_loss():
    x = sf.placeholder(shape=(2,), name="x")
    a = sf.square(x)
    side = sf.log(a)  # noqa: F841 - consumes `a` but does not lead to the loss
    loss = sf.reduce_sum(a * 3.0)
    (dx,) = sf.gradients(loss, [x])
    with sf.Session() as sess:
        np.testing.assert_allclose(sess.run(dx, {x: [1.0, -2.0]}), [6.0, -12.0])


def test_shared_subgraph_computed_once_per_run():
    x = sf.placeholder(shape=(3,), name="x")
    shared = sf.exp(sf.multiply(x, 2.0))
    a = sf.reduce_sum(shared)
    b = sf.reduce_mean(shared)
    eager = sf.Session(compile=False)
    ra, rb = eager.run([a, b], {x: [0.0, 1.0, 2.0]})
    assert eager.last_op_count == 4  # mul, exp, sum, mean: the shared part once
    with sf.Session() as sess:
        ca, cb = sess.run([a, b], {x: [0.0, 1.0, 2.0]})
        assert sess.last_graph.count("exp") == 1
    np.testing.assert_allclose([ca, cb], [ra, rb])
    np.testing.assert_allclose(ra, np.exp([0.0, 2.0, 4.0]).sum(), rtol=1e-6)


def test_linear_regression_notebook_converges_to_least_squares():
    rng = np.random.default_rng(0)
    input_x = np.linspace(-1, 1, 100)
    input_y = input_x * 3 + rng.standard_normal(input_x.shape[0]) * 0.5
    with sf.Graph().as_default():
        x = sf.Placeholder()
        y_ = sf.Placeholder()
        w = sf.Variable([[1.0]], name="weight")
        b = sf.Variable(0.0, name="threshold")
        y = x * w + b
        loss = sf.reduce_sum(sf.square(y - y_))
        train_op = sf.GradientDescentOptimizer(learning_rate=0.005).minimize(loss)
        feed_dict = {x: input_x, y_: input_y}
        with sf.Session() as sess:
            losses = []
            for _ in range(60):
                losses.append(sess.run(loss, feed_dict=feed_dict))
                sess.run(train_op, feed_dict)
            w_value = sess.run(w, feed_dict=feed_dict)
            b_value = sess.run(b, feed_dict=feed_dict)
    slope, intercept = np.polyfit(input_x, input_y, 1)
    np.testing.assert_allclose(w_value, [[slope]], rtol=1e-4)
    np.testing.assert_allclose(b_value, intercept, atol=1e-5)
    assert losses[-1] < losses[0]


def test_tf1_mlp_with_placeholders_and_optimizers():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((32, 4)).astype(np.float32)
    yv = (xv[:, 0] > 0).astype(np.int64)
    for make in (lambda: sf.train.GradientDescentOptimizer(0.5),
                 lambda: sf.train.MomentumOptimizer(0.1, 0.9),
                 lambda: sf.train.AdamOptimizer(0.05)):
        with sf.Graph().as_default():
            x = sf.placeholder(sf.float32, shape=(None, 4), name="x")
            y = sf.placeholder(sf.int64, shape=(None,), name="y")
            W = sf.Variable(rng.standard_normal((4, 2)).astype(np.float32) * 0.1, name="W")
            b = sf.Variable(np.zeros(2, np.float32), name="b")
            loss = gg.cross_entropy(gg.matmul(x, W) + b, y)
            train = make().minimize(loss)
            with sf.Session() as sess:
                sess.run(sf.global_variables_initializer())
                first = sess.run(loss, {x: xv, y: yv})
                for _ in range(30):
                    sess.run(train, {x: xv, y: yv})
                last = sess.run({"loss": loss}, feed_dict={x: xv, y: yv})["loss"]
        assert last < 0.5 * first


def test_adam_matches_the_tf1_formula():
    w = sf.Variable(np.array([1.0, -2.0], np.float32))
    loss = sf.reduce_sum(w * w * w)
    train = sf.train.AdamOptimizer(0.1).minimize(loss)
    wv = np.array([1.0, -2.0], np.float64)
    m = v = np.zeros(2)
    with sf.Session() as sess:
        for t in range(1, 6):
            sess.run(train)
            g = 3 * wv ** 2
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            wv = wv - 0.1 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 1e-8)
        np.testing.assert_allclose(sess.run(w), wv, rtol=1e-5)


def test_missing_feed_names_the_placeholder():
    x = sf.placeholder(shape=(2,), name="inputs")
    with pytest.raises(sf.FeedError, match="'inputs' must be fed"):
        sf.Session().run(x * 2)


def test_wrong_shape_or_dtype_feed_names_placeholder_and_shapes():
    x = sf.placeholder(sf.float32, shape=(None, 3), name="images")
    sess = sf.Session()
    with pytest.raises(sf.FeedError) as info:
        sess.run(x * 2, {x: np.zeros((2, 4))})
    assert "'images'" in str(info.value) and "(None, 3)" in str(info.value) \
        and "(2, 4)" in str(info.value)
    y = sf.placeholder(sf.int64, shape=(2,), name="labels")
    with pytest.raises(sf.FeedError, match="'labels'.*float64"):
        sess.run(y + 1, {y: np.zeros(2)})


def test_every_gg_op_on_graph_tensors_and_fetch_structures():
    x = sf.placeholder(shape=(2, 3), name="x")
    p = gg.softmax(x, axis=-1)
    s = sf.tanh(x).sum()
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    with sf.Session() as sess:
        out = sess.run({"p": p, "both": (s, x)}, feed_dict={x: xv})
    e = np.exp(xv - xv.max(1, keepdims=True))
    np.testing.assert_allclose(out["p"], e / e.sum(1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(out["both"][0], np.tanh(xv).sum(), rtol=1e-6)
    np.testing.assert_array_equal(out["both"][1], xv)
    assert isinstance(out["both"], tuple)


def test_shapeless_placeholder_with_matmul_is_deferred_to_run_time():
    x = sf.Placeholder()
    w = sf.Variable([[2.0]], name="w")
    y = sf.matmul(x, w)
    (dw,) = sf.gradients(sf.reduce_sum(y), [w])
    with sf.Session() as sess:
        yv, dwv = sess.run([y, dw], {x: np.array([[1.0], [3.0]])})
    np.testing.assert_allclose(yv, [[2.0], [6.0]])
    np.testing.assert_allclose(dwv, [[4.0]])


def test_static_is_reachable_as_an_attribute_of_the_package():
    import subprocess
    import sys
    code = ("import graphgrad as gg\n"
            "g = gg.static.Graph()\n"
            "with g.as_default():\n"
            "    x = gg.static.placeholder(name='x')\n"
            "    y = x * gg.static.Variable(2.0, name='w')\n"
            "with gg.static.Session(g) as s:\n"
            "    print(s.run(y, feed_dict={x: 3.0}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == 6.0
