"""Whole programs from tutorials, with only the import line changed.

TF1's "MNIST for beginners" softmax regression (on synthetic 10-class data, checked
against the same model in plain NumPy) and the examples of SimpleFlow (the TF1-like
framework of the seed post: quick start, feedforward, the Loss = z(x + y) graph of the
backpropagation post, and its linear regression).
"""

from __future__ import annotations

import numpy as np

import graphgrad.static as tf


class _Blobs:
    """MNIST's shape on synthetic data: 784 features, one-hot labels over 10 classes."""

    def __init__(self, n: int, seed: int, centres: np.ndarray):
        rng = np.random.default_rng(seed)
        self.labels_int = rng.integers(0, 10, n)
        self.images = (centres[self.labels_int] + rng.standard_normal((n, 784))
                       ).astype(np.float32)
        self.labels = np.eye(10, dtype=np.float32)[self.labels_int]
        self._at = 0

    def next_batch(self, size: int):
        i = self._at
        self._at = (i + size) % len(self.images)
        return self.images[i:i + size], self.labels[i:i + size]


def _data():
    centres = np.random.default_rng(0).standard_normal((10, 784)) * 0.06
    return _Blobs(3000, 1, centres), _Blobs(1000, 2, centres)


def _numpy_softmax_regression(train, test, steps: int):
    """The same model, the same batches and the same updates, written in NumPy."""
    W = np.zeros((784, 10), np.float32)
    b = np.zeros(10, np.float32)
    for _ in range(steps):
        xs, ys = train.next_batch(100)
        z = xs @ W + b
        z = z - z.max(1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        dz = (p - ys) / len(xs)  # d mean(-sum(y_ log softmax)) / dz
        W -= np.float32(0.5) * (xs.T @ dz)
        b -= np.float32(0.5) * dz.sum(0)
    pred = (test.images @ W + b).argmax(1)
    return float((pred == test.labels.argmax(1)).mean()), W


def test_tf1_mnist_for_beginners_accuracy_matches_numpy():
    mnist_train, mnist_test = _data()
    with tf.Graph().as_default():
        # --- the tutorial's code, unchanged ---
        x = tf.placeholder(tf.float32, [None, 784])
        W = tf.Variable(tf.zeros([784, 10]))
        b = tf.Variable(tf.zeros([10]))
        y = tf.nn.softmax(tf.matmul(x, W) + b)
        y_ = tf.placeholder(tf.float32, [None, 10])
        cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
        train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
        sess = tf.InteractiveSession()
        tf.global_variables_initializer().run()
        correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        before = sess.run(accuracy, feed_dict={x: mnist_test.images, y_: mnist_test.labels})
        for _ in range(60):
            batch_xs, batch_ys = mnist_train.next_batch(100)
            sess.run(train_step, feed_dict={x: batch_xs, y_: batch_ys})
        after = sess.run(accuracy, feed_dict={x: mnist_test.images, y_: mnist_test.labels})
        on_train = accuracy.eval(feed_dict={x: mnist_train.images, y_: mnist_train.labels})
        W_value = W.eval()
        sess.close()
    # W = 0: every prediction is class 0, so the accuracy is the share of class 0
    assert before == np.float32((mnist_test.labels_int == 0).mean())
    want, W_numpy = _numpy_softmax_regression(*_data(), steps=60)
    assert 0.3 < want < 0.95  # a task where a frozen accuracy (1.0 or 0.1) would show
    assert abs(float(after) - want) <= 2 / len(mnist_test.images)
    np.testing.assert_allclose(W_value, W_numpy, rtol=1e-3, atol=1e-5)
    assert float(on_train) != float(after)  # a different feed gives its own accuracy
    assert after.dtype == np.float32


def test_simpleflow_quick_start_and_feedforward_examples():
    import graphgrad.static as sf
    printed = []
    # Create a graph
    with sf.Graph().as_default():
        a = sf.constant(1.0, name='a')
        b = sf.constant(2.0, name='b')
        result = sf.add(a, b, name='a+b')

        # Create a session to run the graph
        with sf.Session() as sess:
            printed.append(sess.run(result))
    with sf.Graph().as_default():
        a = sf.constant(1.0, name='a')
        b = sf.constant(2.0, name='b')
        result = a + b

        # Create a session to run the graph
        with sf.Session() as sess:
            printed.append(sess.run(result))
    with sf.Graph().as_default():
        a = sf.constant([[2.0, 2.0, 3.0], [3.0, 3.0, 3.0]], name='ma')
        b = sf.constant([3.0, 4.0, 5.0], name='mb')
        result = sf.matmul(a, b)

        with sf.Session() as sess:
            printed.append(sess.run(result))
    assert float(printed[0]) == 3.0 and float(printed[1]) == 3.0
    np.testing.assert_array_equal(printed[2], [29.0, 36.0])
    assert result.name is None and sf.add(a, a, name='a+a').name == 'a+a'


def test_simpleflow_backprop_post_graphs_and_gradient_rules():
    import graphgrad.static as sf
    # Loss(x, y, z) = z (x + y) at x = 2, y = 3, z = 6: dLoss/dx = dLoss/dy = z, dz = x + y
    with sf.Graph().as_default():
        x = sf.placeholder(name='x')
        y = sf.placeholder(name='y')
        z = sf.placeholder(name='z')
        loss = sf.multiply(z, sf.add(x, y))
        grads = sf.gradients(loss, [x, y, z])
        with sf.Session() as sess:
            for xv, yv, zv in ((2.0, 3.0, 6.0), (1.0, -1.0, 4.0)):
                out = sess.run([loss] + grads, feed_dict={x: xv, y: yv, z: zv})
                assert [float(v) for v in out] == [zv * (xv + yv), zv, zv, xv + yv]
    # the post's rules: square -> 2x G; add with a broadcast b -> G summed over the
    # broadcast axes; matmul C = AB -> G B^T and A^T G
    rng = np.random.default_rng(0)
    Av, Bv, bv = (rng.standard_normal(s).astype(np.float32) for s in ((3, 2), (2, 4), (1, 4)))
    with sf.Graph().as_default():
        A = sf.placeholder(sf.float32, [3, 2])
        B = sf.placeholder(sf.float32, [2, 4])
        b = sf.Variable(bv)
        s = sf.constant(0.5)
        C = sf.add(sf.matmul(A, B), b)
        G_weights = sf.constant(rng.standard_normal((3, 4)).astype(np.float32))
        loss = sf.reduce_sum(sf.multiply(sf.square(C), G_weights)) + s
        dA, dB, db, ds = sf.gradients(loss, [A, B, b, s])
        with sf.Session() as sess:
            dAv, dBv, dbv, dsv = sess.run([dA, dB, db, ds], {A: Av, B: Bv})
            Gw = sess.run(G_weights)
    G = 2 * (Av @ Bv + bv) * Gw  # dLoss/dC
    np.testing.assert_allclose(dAv, G @ Bv.T, rtol=1e-5)
    np.testing.assert_allclose(dBv, Av.T @ G, rtol=1e-5)
    np.testing.assert_allclose(dbv, G.sum(0, keepdims=True), rtol=1e-5)
    assert float(dsv) == 1.0


def test_simpleflow_linear_regression_example():
    import graphgrad.static as sf
    rng = np.random.default_rng(3)
    input_x = np.linspace(-1, 1, 100)
    input_y = input_x*3 + rng.standard_normal(input_x.shape[0])*0.5

    # Placeholder for training data
    x = sf.Placeholder()
    y_ = sf.Placeholder()

    # Variables for linear regression
    w = sf.Variable([[1.0]], name='weight')
    b = sf.Variable(0.0, name='threshold')

    # Predicted class by model
    y = x*w + b

    # Build loss function
    loss = sf.reduce_sum(sf.square(y - y_))

    # Optimizer
    train_op = sf.GradientDescentOptimizer(learning_rate=0.005).minimize(loss)

    feed_dict = {x: input_x, y_: input_y}

    losses = []
    with sf.Session() as sess:
        for step in range(20):
            loss_value = sess.run(loss, feed_dict=feed_dict)
            losses.append(loss_value)
            sess.run(train_op, feed_dict)
        w_value = sess.run(w, feed_dict=feed_dict)
        b_value = sess.run(b, feed_dict=feed_dict)
    # NumPy: the same 20 steps of gradient descent on the summed squared error
    wn, bn = 1.0, 0.0
    for _ in range(20):
        r = input_x * wn + bn - input_y
        wn, bn = wn - 0.005 * 2 * (r * input_x).sum(), bn - 0.005 * 2 * r.sum()
    np.testing.assert_allclose(w_value, [[wn]], rtol=1e-4)
    np.testing.assert_allclose(b_value, bn, atol=1e-4)
    assert losses[-1] < losses[0] / 4
