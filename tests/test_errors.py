"""Every error names the op, the shapes and the line of *this* file that caused it."""

from __future__ import annotations

import inspect
import os
import warnings

import numpy as np
import pytest

import graphgrad as gg
from graphgrad.core import errors

HERE = os.path.basename(__file__)


def _line() -> int:
    """The line number of the caller (the line that is about to fail)."""
    return inspect.currentframe().f_back.f_lineno + 1


def _check(exc_info, line: int, *parts: str) -> str:
    msg = str(exc_info.value)
    assert f"{HERE}:{line}" in msg, msg
    for p in parts:
        assert p in msg, (p, msg)
    return msg


def test_matmul_inner_dimensions():
    a, b = gg.zeros(64, 784), gg.zeros(256, 128)
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        a @ b
    _check(e, line, "matmul: (64, 784) @ (256, 128): inner dimensions 784 and 256 differ")


def test_matmul_batch_and_scalar():
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        gg.matmul(gg.zeros(2, 3, 4), gg.zeros(3, 4, 5))
    _check(e, line, "matmul", "(2, 3, 4)", "(3, 4, 5)", "batch dimensions")
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        gg.matmul(gg.zeros(()), gg.zeros(3))
    _check(e, line, "matmul", "scalar")


@pytest.mark.parametrize("fn, sym", [(lambda a, b: a + b, "+"), (lambda a, b: a * b, "*"),
                                     (lambda a, b: a / b, "/"), (lambda a, b: a - b, "-")])
def test_broadcasting_binary_ops(fn, sym):
    a, b = gg.zeros(3, 4, requires_grad=True), gg.zeros(5)
    with pytest.raises(gg.ShapeError) as e:
        fn(a, b)
    # the failing op is on the lambda's own line, in this file
    _check(e, fn.__code__.co_firstlineno, f"(3, 4) {sym} (5,)", "dimension -1", "broadcast")


def test_broadcast_error_is_a_value_error():
    with pytest.raises(ValueError):
        gg.maximum(gg.zeros(2), gg.zeros(3))


def test_reshape():
    x = gg.zeros(2, 3)
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        x.reshape(4, 2)
    _check(e, line, "reshape", "(2, 3)", "6 elements", "(4, 2)", "8 elements")
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        x.reshape(4, -1)
    _check(e, line, "reshape", "(2, 3)", "(4, -1)")


def test_concatenate_and_stack():
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        gg.concatenate([gg.zeros(3, 4), gg.zeros(2, 5)], axis=0)
    _check(e, line, "concatenate", "(3, 4)", "(2, 5)", "dimension 1")
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        gg.concatenate([gg.zeros(3, 4), gg.zeros(3)], axis=0)
    _check(e, line, "concatenate", "number of dimensions")
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        gg.stack([gg.zeros(2), gg.zeros(3)])
    _check(e, line, "stack", "(2,)", "(3,)")


def test_cross_entropy_shapes_and_classes():
    logits = gg.zeros(4, 3, requires_grad=True)
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        gg.cross_entropy(logits, gg.tensor([0, 1, 2]))
    _check(e, line, "cross_entropy", "(3,)", "(4, 3)", "expected (4,)")
    with pytest.raises(IndexError) as e:
        line = _line()
        gg.cross_entropy(logits, gg.tensor([0, 1, 2, 3]))
    _check(e, line, "cross_entropy", "class 3", "3 classes")
    with pytest.raises(gg.DTypeError) as e:
        line = _line()
        gg.cross_entropy(gg.tensor([[1, 2]]), gg.tensor([0]))
    _check(e, line, "cross_entropy", "int64", "floating")


def test_getitem_out_of_range_is_an_index_error():
    x = gg.zeros(3, 4)
    with pytest.raises(IndexError) as e:
        line = _line()
        x[5]
    _check(e, line, "getitem", "(3, 4)", "index 5", "axis 0 of size 3")
    assert isinstance(e.value, gg.ShapeError)
    with pytest.raises(gg.IndexOutOfRangeError) as e:
        line = _line()
        x[:, np.array([1, 7])]
    _check(e, line, "getitem", "index 7", "axis 1 of size 4")
    with pytest.raises(gg.IndexOutOfRangeError) as e:
        line = _line()
        x[..., 9]
    _check(e, line, "getitem", "index 9", "axis 1")


def test_generic_fallback_names_op_and_operands():
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        gg.einsum("ij,jk->ik", gg.zeros(2, 3), gg.zeros(4, 5))
    _check(e, line, "einsum")


def test_reduction_axis_out_of_range():
    with pytest.raises(gg.ShapeError) as e:
        line = _line()
        gg.sum(gg.zeros(2, 3), axis=3)
    _check(e, line, "sum", "axis 3")


def test_exception_in_backward_rule_names_forward_op_and_line():
    @gg.custom_vjp
    def f(x):
        return x * 2

    def bwd(res, g):
        raise ZeroDivisionError("planted")

    f.defvjp(lambda x: (x * 2, None), bwd)
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    line = _line()
    y = f(x)
    with pytest.raises(gg.BackwardError) as e:
        y.sum().backward()
    _check(e, line, "custom_vjp(f)", "ZeroDivisionError", "planted")


def test_exception_in_hook_names_forward_op_and_line():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    line = _line()
    y = gg.exp(x)

    def bad_hook(g):
        raise RuntimeError("hook failed")

    y.register_hook(bad_hook)
    with pytest.raises(gg.BackwardError) as e:
        y.sum().backward()
    _check(e, line, "exp", "bad_hook", "hook failed")


def test_hook_on_leaf_names_the_hook():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: 1 / 0)
    with pytest.raises(gg.BackwardError) as e:
        line = _line()
        (x * 2).sum().backward()
    _check(e, line, "leaf tensor", "(2,)", "ZeroDivisionError")


def test_backward_on_non_scalar():
    y = gg.zeros(2, 3, requires_grad=True) * 2
    with pytest.raises(gg.BackwardError) as e:
        line = _line()
        y.backward()
    _check(e, line, "(2, 3)", "not a scalar", "gradient")


def test_backward_on_tensor_without_grad():
    y = gg.zeros(3) * 2
    with pytest.raises(gg.BackwardError) as e:
        line = _line()
        y.sum().backward()
    _check(e, line, "does not require grad")


def test_backward_twice_through_freed_graph():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    line = _line()
    y = (gg.exp(x)).sum()
    y.backward()
    with pytest.raises(gg.BackwardError) as e:
        y.backward()
    _check(e, line, "second time", "retain_graph=True")


def test_requires_grad_on_integers():
    with pytest.raises(gg.DTypeError) as e:
        line = _line()
        gg.tensor([1, 2, 3], requires_grad=True)
    _check(e, line, "int64", "floating")
    assert isinstance(e.value, TypeError)


def test_float32_float64_upcast_warns_once():
    errors.reset_warnings()
    a = gg.tensor([1.0, 2.0])
    b = gg.tensor(np.array([1.0, 2.0]))
    with pytest.warns(gg.GraphgradWarning) as rec:
        line = _line()
        c = a * b
    assert c.dtype == np.float64
    msg = str(rec[0].message)
    assert "mul" in msg and "float32" in msg and "float64" in msg
    assert os.path.basename(rec[0].filename) == HERE and rec[0].lineno == line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a * b  # once only
    errors.reset_warnings()


def test_no_upcast_warning_for_python_scalars_or_same_dtype():
    errors.reset_warnings()
    a = gg.tensor([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a * 2.0 + 1 - 0.5 / a
        gg.where(a > 1, a, 0.0)
        d = gg.tensor(np.array([1.0])) * 3.0
        assert d.dtype == np.float64
        a.astype(gg.float64)  # explicit conversion
    errors.reset_warnings()


def test_integer_tensor_keeps_float32_without_warning():
    # PyTorch's promotion: an int64 tensor does not widen a float32 one (NumPy: float64)
    errors.reset_warnings()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (gg.tensor([1.0]) * gg.tensor([2])).dtype == np.float32
    with pytest.warns(gg.GraphgradWarning):  # a float64 array still widens float32
        assert (gg.tensor([1.0]) * gg.tensor(np.array([2.0]))).dtype == np.float64
    errors.reset_warnings()


def test_record_source_switch():
    x = gg.tensor([1.0], requires_grad=True)
    old = gg.set_record_source(False)
    try:
        y = x * 2
        assert y.grad_fn.site is None
    finally:
        gg.set_record_source(old)
    line = _line()
    y = x * 2
    assert y.grad_fn.site == (__file__, line) or y.grad_fn.site[1] == line
    assert f"{HERE}:{line}" in repr(y.grad_fn)
