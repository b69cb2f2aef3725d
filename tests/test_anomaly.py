"""detect_anomaly finds the first op whose output or gradient holds NaN/Inf."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import graphgrad as gg

HERE = os.path.basename(__file__)

# NaN and Inf are planted on purpose: silence NumPy's floating-point warnings
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _line() -> int:
    return inspect.currentframe().f_back.f_lineno + 1


def test_forward_nan_names_the_planted_op_line_and_inputs():
    x = gg.tensor([1.0, -2.0, 4.0], requires_grad=True)
    with gg.detect_anomaly():
        y = x * 3  # fine
        with pytest.raises(gg.AnomalyError) as e:
            line = _line()
            gg.log(y)  # log(-6) = nan: the planted NaN
    msg = str(e.value)
    assert "log" in msg and f"{HERE}:{line}" in msg
    assert "(3,) float32" in msg and "min=-6" in msg and "nan=0" in msg and "1 NaN" in msg
    assert not gg.is_anomaly_enabled()


def test_backward_nan_names_the_forward_op():
    x = gg.tensor([0.0, 1.0], requires_grad=True)
    with gg.detect_anomaly():
        line = _line()
        y = gg.sqrt(x)  # finite forward, infinite gradient at 0
        z = (y * 0).sum()
        with pytest.raises(gg.AnomalyError) as e:
            z.backward()
    msg = str(e.value)
    assert "backward of sqrt" in msg and f"{HERE}:{line}" in msg and "gradient" in msg


def test_global_switch_is_an_interpreter_and_off_leaves_the_stack_empty():
    from graphgrad.core import state
    assert state.state.stack == ()
    old = gg.set_detect_anomaly(True)
    try:
        assert gg.is_anomaly_enabled() and len(state.state.stack) == 1
        with pytest.raises(gg.AnomalyError):
            gg.tensor([1.0]) / gg.tensor([0.0])
    finally:
        gg.set_detect_anomaly(old)
    assert state.state.stack == ()  # off: the plain hot path, nothing on the stack
    assert np.isinf((gg.tensor([1.0]) / gg.tensor([0.0])).item())


def test_anomaly_mode_is_per_thread():
    import threading
    seen = []

    def other():
        seen.append(gg.is_anomaly_enabled())
        seen.append(np.isinf((gg.tensor([1.0]) / gg.tensor([0.0])).item()))

    with gg.detect_anomaly():
        th = threading.Thread(target=other)
        th.start()
        th.join()
        with pytest.raises(gg.AnomalyError):
            gg.tensor([1.0]) / gg.tensor([0.0])
    assert seen == [False, True]


def test_check_inf_false_allows_masks():
    with gg.detect_anomaly(check_inf=False):
        s = gg.softmax(gg.tensor([0.0, -np.inf]).astype(gg.float32), axis=-1)
        assert s.tolist() == [1.0, 0.0]
        with pytest.raises(gg.AnomalyError):
            gg.tensor([0.0]) / gg.tensor([0.0])


def test_decorator_and_clean_run():
    @gg.detect_anomaly()
    def f(x):
        return (gg.tanh(x) * x).sum()

    x = gg.tensor([0.5, 1.5], requires_grad=True)
    f(x).backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    assert not gg.is_anomaly_enabled()
