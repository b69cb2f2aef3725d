"""In-place ops bump the version counter; backward never uses a changed saved tensor."""

from __future__ import annotations

import os

import numpy as np
import pytest

import graphgrad as gg

HERE = os.path.basename(__file__)


def test_saved_input_modified_in_place_raises_at_backward():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    z = y * y  # saves y
    before = y._version
    y.add_(1)
    assert y._version > before  # stamped from the global in-place counter
    with pytest.raises(gg.BackwardError) as e:
        z.sum().backward()
    msg = str(e.value)
    assert "mul" in msg and "modified in place" in msg and "(3,)" in msg and HERE in msg


def test_saved_output_modified_under_no_grad_raises():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = gg.exp(x)  # exp's rule reads its output
    with gg.no_grad():
        y.mul_(2)
    with pytest.raises(gg.BackwardError, match="output of exp"):
        y.sum().backward()


def test_recorded_in_place_gives_the_right_gradient():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.mul_(x)  # y = 2x * x
    y.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.numpy())


def test_leaf_requiring_grad_needs_no_grad():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(gg.BackwardError, match="no_grad"):
        w.sub_(1)
    versions = [w._version]
    with gg.no_grad():
        w.sub_(gg.tensor([0.5, 0.5]))
        versions.append(w._version)
        w.mul_(2).clamp_(max=2.0)
        versions.append(w._version)
    assert w.tolist() == [1.0, 2.0] and w.requires_grad
    assert versions == sorted(set(versions))  # every in-place op moved the version on


def test_optimizer_step_after_forward_before_backward_is_caught():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with gg.no_grad():
        w.sub_(0.1 * gg.ones(2))
    with pytest.raises(gg.BackwardError, match="modified in place"):
        loss.backward()


def test_value_semantics_for_shared_buffers():
    a = gg.tensor([1.0, 2.0, 3.0])
    b = a.detach()
    v = a[1:]
    a.add_(1)
    assert a.tolist() == [2.0, 3.0, 4.0]
    assert b.tolist() == [1.0, 2.0, 3.0] and v.tolist() == [2.0, 3.0]


def test_write_into_own_buffer_when_unshared():
    a = gg.zeros(3)
    address = a.data.ctypes.data  # an int: holds no reference to the buffer
    a.fill_(2.0)
    assert a.data.ctypes.data == address and a.tolist() == [2.0, 2.0, 2.0]
    a.zero_()
    assert a.tolist() == [0.0, 0.0, 0.0]


def test_copy_and_dtype_rules():
    a = gg.zeros(2, 2)
    a.copy_(gg.tensor([1.0, 2.0]))
    assert a.tolist() == [[1.0, 2.0], [1.0, 2.0]] and a.dtype == np.float32
    i = gg.zeros(2, dtype=gg.int64)
    with pytest.raises(gg.DTypeError):
        i.add_(0.5)
    with pytest.raises(gg.ShapeError, match="shape"):
        gg.zeros(2).add_(gg.zeros(3, 2))


def test_copy_gradient_flows_to_source():
    src = gg.tensor([1.0, 2.0], requires_grad=True)
    y = gg.zeros(2) * src  # a computed tensor
    y.copy_(src * 3)
    y.sum().backward()
    np.testing.assert_allclose(src.grad.numpy(), [3.0, 3.0])
