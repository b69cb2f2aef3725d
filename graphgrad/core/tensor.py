"""Tensor: an array, its gradient, and the Node that made it."""

from __future__ import annotations

import numpy as np

from . import backend as B
from . import interop as _interop
from . import primitive as _prim
from .state import tracer


class Tensor:
    """An n-dimensional array that remembers how it was computed.

    >>> a = Tensor(2.0, requires_grad=True)
    >>> e = (a + 1) * a
    >>> e.backward(); float(a.grad)
    5.0
    """

    __slots__ = ("data", "grad", "_rg", "_node", "_fw", "_hooks", "_version", "name",
                 "__weakref__")
    # np.exp(t), np.sum(t), ndarray + t run graphgrad's ops (core/interop.py)
    __array_ufunc__ = _interop.array_ufunc
    __array_function__ = _interop.array_function
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, requires_grad: bool = False, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = B.asarray(data, dtype)
        self.grad = None
        self._rg = False
        self._node = None
        self._fw = None
        self._hooks = None
        self._version = 0
        self.name = name
        if requires_grad:
            self.requires_grad = True

    # ---- properties ----
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and not B.is_floating(self.data.dtype):
            from .errors import DTypeError
            raise DTypeError(
                f"requires_grad=True needs a floating-point tensor, got dtype {self.data.dtype}; "
                "only floats have gradients (convert with .float() or dtype=gg.float32)")
        if not value and self._node is not None and self._rg:
            raise RuntimeError("requires_grad can only be turned off on a leaf tensor; "
                               "use .detach() for a tensor computed by ops")
        if value and not self._rg:
            self._node = None  # a record of non-differentiable ops: it becomes a leaf
        self._rg = bool(value)

    def requires_grad_(self, value: bool = True) -> "Tensor":
        self.requires_grad = value
        return self

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True unless computed by a recorded op that gradients flow through (as PyTorch:
        every tensor that does not require grad is a leaf)."""
        return self._node is None or not self._rg

    @property
    def grad_fn(self):
        """The Node that made this tensor (None for leaves)."""
        return self._node if self._rg else None

    @property
    def T(self) -> "Tensor":
        return _ops.transpose(self)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    # ---- conversion ----
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared, not copied)."""
        return self.data

    def item(self):
        if tracer() is not None:
            raise _value_escape_error(self, "item()")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing the data, cut from the graph."""
        return Tensor._from_array(self.data)

    def __float__(self) -> float:
        if tracer() is not None:
            raise _value_escape_error(self, "float()")
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __index__(self) -> int:
        return self.data.__index__()

    def __bool__(self) -> bool:
        if tracer() is not None:
            from .errors import tracing_bool_error
            raise tracing_bool_error(self)
        return bool(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def astype(self, dtype) -> "Tensor":
        return _ops.astype(self, dtype=B.as_dtype(dtype))

    def float(self) -> "Tensor":
        return self.astype(B.float32)

    def double(self) -> "Tensor":
        return self.astype(B.float64)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = []
        if self.data.dtype != B.float32 and self.data.dtype != B.int64 \
                and self.data.dtype != B.bool_:
            extra.append(f"dtype={self.data.dtype}")
        if self._node is not None and self._rg:
            extra.append(f"grad_fn={self._node.prim.name}")
        elif self._rg:
            extra.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extra) + ")"

    # ---- autodiff ----
    def backward(self, gradient=None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``.grad`` accumulates across calls until you zero it (``x.grad = None``), as in
        PyTorch. The graph is freed afterwards unless ``retain_graph=True``.
        """
        from .engine import backward
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def register_hook(self, fn):
        """Call ``fn(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a handle whose ``remove()`` unregisters it."""
        if not self._rg:
            raise RuntimeError("register_hook: this tensor does not require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _HookHandle(self._hooks, fn)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (a leaf keeps it anyway)."""
        if self.is_leaf:
            return

        def _keep(g, t=self):
            if g._rg or g._node is not None:  # create_graph: keep the recorded gradient
                t.grad = g if t.grad is None else t.grad + g
            else:  # own the buffer (the engine may hand the same array on to a leaf)
                t.grad = Tensor._from_array(
                    g.data.copy() if t.grad is None else t.grad.data + g.data)
        _keep._retain = True
        self.register_hook(_keep)

    def zero_grad(self) -> None:
        self.grad = None

    # ---- internal ----
    @staticmethod
    def _from_array(arr) -> "Tensor":
        t = Tensor.__new__(Tensor)
        t.data = arr
        t.grad = None
        t._rg = False
        t._node = None
        t._fw = None
        t._hooks = None
        t._version = 0
        t.name = None
        return t


    # ---- in-place ops (graphgrad/inplace.py): each bumps _version -------------------
    def add_(self, other, alpha=1) -> "Tensor":
        """``self += alpha * other`` in place (see docs/errors.md for the rules)."""
        return _inplace.add_(self, other, alpha)

    def sub_(self, other, alpha=1) -> "Tensor":
        """``self -= alpha * other`` in place."""
        return _inplace.sub_(self, other, alpha)

    def mul_(self, other) -> "Tensor":
        """``self *= other`` in place."""
        return _inplace.mul_(self, other)

    def div_(self, other) -> "Tensor":
        """``self /= other`` in place."""
        return _inplace.div_(self, other)

    def clamp_(self, min=None, max=None) -> "Tensor":
        """Clamp to ``[min, max]`` in place."""
        return _inplace.clamp_(self, min, max)

    clip_ = clamp_

    def fill_(self, value) -> "Tensor":
        """Set every element to ``value``."""
        return _inplace.fill_(self, value)

    def zero_(self) -> "Tensor":
        """Set every element to 0."""
        return _inplace.zero_(self)

    def copy_(self, src) -> "Tensor":
        """Copy ``src`` (broadcast) into this tensor; gradients flow to ``src``."""
        return _inplace.copy_(self, src)

    assign_ = copy_
    # ---- end of in-place ops ---------------------------------------------------------

    # ---- op methods (PyTorch-style spellings) ----
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops.sum(self, axis if dim is None else dim, keepdims or bool(keepdim))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops.mean(self, axis if dim is None else dim, keepdims or bool(keepdim))

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis, keepdims)

    def prod(self, axis=None, keepdims=False):
        return _ops.prod(self, axis, keepdims)

    def var(self, axis=None, correction=1, keepdims=False):
        return _ops.var(self, axis, correction=correction, keepdims=keepdims)

    def std(self, axis=None, correction=1, keepdims=False):
        return _ops.std(self, axis, correction=correction, keepdims=keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        return _ops.logsumexp(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _ops.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _ops.argmin(self, axis, keepdims)

    def norm(self, ord=None, axis=None, keepdims=False):
        return _ops.norm(self, ord, axis, keepdims)

    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops.flatten(self, start_dim, end_dim)

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis)

    def unsqueeze(self, axis):
        return _ops.unsqueeze(self, axis)

    def transpose(self, *axes):
        if len(axes) == 2 and all(isinstance(a, int) for a in axes):
            return _ops.swapaxes(self, *axes)  # PyTorch's transpose(dim0, dim1)
        return _ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def permute(self, *axes):
        return _ops.permute(self, *axes)

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    expand = broadcast_to

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def tanh(self):
        return _ops.tanh(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def relu(self):
        return _ops.relu(self)

    def clip(self, min=None, max=None):
        return _ops.clip(self, min=min, max=max)

    clamp = clip

    def softmax(self, axis=-1):
        return _ops.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return _ops.log_softmax(self, axis)

    def matmul(self, other):
        return _ops.matmul(self, other)

    def dot(self, other):
        return _ops.dot(self, other)

    # ---- Python operators ----
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __lt__(self, other):
        return _ops.less(self, other)

    def __le__(self, other):
        return _ops.less_equal(self, other)

    def __gt__(self, other):
        return _ops.greater(self, other)

    def __ge__(self, other):
        return _ops.greater_equal(self, other)

    def __eq__(self, other):  # elementwise, as in NumPy and PyTorch
        return _ops.equal(self, other)

    def __ne__(self, other):
        return _ops.not_equal(self, other)

    __hash__ = object.__hash__

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))


def _value_escape_error(t, what: str) -> Exception:
    """A traced tensor's value turned into a Python number would be frozen in the graph."""
    from .graph import format_site, user_site
    return TypeError(
        f"{what} on a tensor of shape {t.shape} at {format_site(user_site(3))} while tracing "
        "(gg.compile / gg.static): the number would be fixed at trace time. Return the "
        "tensor instead, or pass the value as a static argument (static_argnums).")


class _HookHandle:
    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


_prim.Tensor = Tensor

from .. import ops as _ops  # noqa: E402  (operators need the op table; it needs Tensor)
from . import inplace as _inplace  # noqa: E402
