"""Per-thread state and the interpreter stack: modes set in one thread stay in it."""

import threading

import numpy as np

import graphgrad as gg
from graphgrad.core import state


def _in_thread(fn):
    out = []
    err = []

    def run():
        try:
            out.append(fn())
        except BaseException as e:  # surface the worker's failure in the test
            err.append(e)

    th = threading.Thread(target=run)
    th.start()
    th.join()
    if err:
        raise err[0]
    return out[0]


def test_no_grad_in_a_loader_thread_does_not_switch_off_recording_here():
    entered, release = threading.Event(), threading.Event()
    seen = []

    def loader():
        with gg.no_grad():
            seen.append(gg.is_grad_enabled())
            entered.set()
            release.wait(10)

    th = threading.Thread(target=loader)
    th.start()
    try:
        assert entered.wait(10)
        # the loader thread is inside no_grad right now; this thread still records
        x = gg.tensor([1.0, 2.0], requires_grad=True)
        y = (x * 3.0).sum()
        assert gg.is_grad_enabled() and y.requires_grad
        y.backward()
        np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    finally:
        release.set()
        th.join()
    assert seen == [False]


def test_no_grad_here_is_not_seen_by_another_thread():
    with gg.no_grad():
        assert not gg.is_grad_enabled()
        assert _in_thread(gg.is_grad_enabled) is True
        x = gg.tensor(2.0, requires_grad=True)
        assert not (x * x).requires_grad
        assert _in_thread(lambda: (x * x).requires_grad) is True


def test_forward_mode_level_is_per_thread():
    # while a jvp runs here, ops in another thread carry no tangent and see no level
    def body(x):
        other = _in_thread(lambda: (len(state.state.stack), (gg.tensor(1.0) * 2)._fw))
        assert other == (0, None)
        return x * x

    _, tan = gg.jvp(body, (gg.tensor(3.0),), (gg.tensor(1.0),))
    assert tan.item() == 6.0
    assert state.state.stack == ()


def test_interpreter_stack_sees_every_tensor_op_after_its_result():
    seen = []

    class Spy(state.Interpreter):
        def process(self, prim, args, params, out):
            seen.append((prim.name, out.shape))

    x = gg.tensor([1.0, 2.0])
    with state.interpreting(Spy()):
        gg.exp(x) + 1.0
        np.exp(np.ones(2))  # raw NumPy: not an op of ours
    gg.exp(x)  # popped: unseen
    assert seen == [("exp", (2,)), ("add", (2,))]


def test_stack_out_of_order_pop_is_an_error():
    a, b = state.Interpreter(), state.Interpreter()
    state.push(a)
    state.push(b)
    try:
        try:
            state.pop(a)
        except RuntimeError as e:
            assert "out of order" in str(e)
        else:
            raise AssertionError("popping a non-top interpreter must fail")
    finally:
        state.remove(b)
        state.remove(a)
    assert state.state.stack == ()


def test_grad_buffer_is_the_same_object_across_backward_calls():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    g = w.grad
    buf = g.data
    (w * 3.0).sum().backward()
    assert w.grad is g and w.grad.data is buf  # accumulated in place
    np.testing.assert_allclose(g.numpy(), [2.0 + 3.0, 4.0 + 3.0])


def test_first_grad_does_not_alias_another_leafs_grad():
    # add hands the same cotangent to both inputs: each leaf must own its buffer
    a = gg.tensor([1.0], requires_grad=True)
    b = gg.tensor([1.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad.data is not b.grad.data
    (a * 5.0).sum().backward()
    assert a.grad.item() == 6.0 and b.grad.item() == 1.0
