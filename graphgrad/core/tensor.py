"""Tensor: an array, its gradient, and the Node that made it."""

from __future__ import annotations

import numpy as np

from . import backend as B
from . import interop as _interop
from . import primitive as _prim
from .errors import ShapeError
from .state import tracer


class Tensor:
    """An n-dimensional array that remembers how it was computed.

    >>> a = Tensor(2.0, requires_grad=True)
    >>> e = (a + 1) * a
    >>> e.backward(); float(a.grad)
    5.0
    """

    __slots__ = ("data", "_grad", "_rg", "_node", "_fw", "_hooks", "_version", "name",
                 "__weakref__")
    # np.exp(t), np.sum(t), ndarray + t run graphgrad's ops (core/interop.py)
    __array_ufunc__ = _interop.array_ufunc
    __array_function__ = _interop.array_function
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, requires_grad: bool = False, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = B.asarray(data, dtype)
        self._grad = None
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

    def size(self, dim: int | None = None):
        """The shape (as PyTorch's ``size()``), or the length of axis ``dim``.

        >>> Tensor([[1.0, 2.0, 3.0]]).size(), Tensor([[1.0, 2.0, 3.0]]).size(-1)
        ((1, 3), 3)
        """
        if dim is None:
            return self.data.shape
        return self.data.shape[_axis(dim, self.data.ndim, "size")]

    def numel(self) -> int:
        """The number of elements.

        >>> Tensor([[1.0, 2.0, 3.0]]).numel()
        3
        """
        return self.data.size

    nelement = numel

    def dim(self) -> int:
        """The number of axes (``ndim``).

        >>> Tensor([[1.0, 2.0]]).dim()
        2
        """
        return self.data.ndim

    ndimension = dim

    @property
    def device(self) -> "_dt.device":
        """Where the data lives: ``device("cpu")`` for NumPy arrays."""
        return _dt.device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def grad(self) -> "Tensor | None":
        """The accumulated gradient (a Tensor of this tensor's shape), or None.

        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> try:
        ...     x.grad = 0.0
        ... except TypeError as e:
        ...     print("TypeError")
        TypeError
        """
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got "
                                f"{type(value).__name__} (as in PyTorch); for a constant "
                                "gradient use e.g. gg.full_like(x, 0.5)")
            if value.data.shape != self.data.shape:
                raise GradShapeError(f"assigned grad has shape {value.data.shape}, but the "
                                     f"tensor has shape {self.data.shape}")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

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
        """All axes reversed."""
        return _ops.transpose(self)

    @property
    def mT(self) -> "Tensor":
        """The last two axes swapped (a batch of matrices transposed)."""
        if self.data.ndim < 2:
            raise _shape_error(f"mT: needs at least 2 dimensions, got shape {self.shape}")
        return _ops.swapaxes(self, -2, -1)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    # ---- conversion ----
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array: shared, not copied, for NumPy data; copied to the host
        from a device (CuPy).

        >>> t = Tensor([1.0, 2.0]); t.numpy()[0] = 5.0; t.tolist()
        [5.0, 2.0]
        """
        return B.to_numpy(self.data)

    def item(self):
        if tracer() is not None:
            raise _value_escape_error(self, "item()")
        if self.data.size != 1:
            raise _shape_error(f"item(): the tensor has shape {self.shape} "
                               f"({self.data.size} elements); only a one-element tensor "
                               "converts to a Python number (use .tolist())")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing the data, cut from the graph."""
        return Tensor._from_array(self.data)

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph (it becomes a leaf that does not require grad)."""
        self._node = None
        self._rg = False
        return self

    def clone(self) -> "Tensor":
        """A copy with its own buffer; gradients flow back to this tensor.

        >>> x = Tensor([1.0, 2.0]); y = x.clone(); y[0] = 5.0; x.tolist()
        [1.0, 2.0]
        """
        r = _ops.identity(self)
        if tracer() is None:  # a tracer keys values by buffer: keep it
            r.data = r.data.copy()
        return r

    def contiguous(self) -> "Tensor":
        """This tensor (graphgrad has no strides to make contiguous)."""
        return self

    def cpu(self) -> "Tensor":
        """This tensor (on NumPy)."""
        return self

    def to(self, *args, **kwargs) -> "Tensor":
        """PyTorch's ``to``: ``to(dtype)``, ``to("cpu")``, ``to(device, dtype)``,
        ``to(other)`` (other's dtype); returns ``self`` when nothing changes.

        >>> Tensor([1, 2]).to("float32").dtype
        dtype('float32')
        """
        dtype = _dt.parse_to(self, args, kwargs)
        return self if dtype is None else self._cast(dtype)

    def type_as(self, other: "Tensor") -> "Tensor":
        """This tensor in ``other``'s dtype."""
        return self._cast(other.dtype)

    def _cast(self, dtype) -> "Tensor":
        dtype = B.as_dtype(dtype)
        return self if dtype == self.data.dtype else _ops.astype(self, dtype=dtype)

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
        # NumPy asks for host memory: device data is copied over (to_numpy), NumPy data is
        # handed over as it is
        a = B.to_numpy(self.data)
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def astype(self, dtype) -> "Tensor":
        return _ops.astype(self, dtype=B.as_dtype(dtype))

    def float(self) -> "Tensor":
        """As float32 (``self`` if it is already)."""
        return self._cast(B.float32)

    def double(self) -> "Tensor":
        """As float64 (``self`` if it is already)."""
        return self._cast(B.float64)

    def half(self) -> "Tensor":
        """As float16."""
        return self._cast(B.float16)

    def long(self) -> "Tensor":
        """As int64."""
        return self._cast(B.int64)

    def int(self) -> "Tensor":
        """As int32."""
        return self._cast(B.int32)

    def bool(self) -> "Tensor":
        """As bool."""
        return self._cast(B.bool_)

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def __repr__(self) -> str:
        body = np.array2string(B.to_numpy(self.data), separator=", ", prefix="tensor(")
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

        ``.grad`` accumulates across calls until you zero it (``x.grad = None`` or
        ``x.grad.zero_()``), as in PyTorch. The graph is freed afterwards unless
        ``retain_graph=True``.
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
                t._grad = g if t._grad is None else t._grad + g
            elif t._grad is None:  # own the buffer (the engine may hand it on to a leaf)
                t._grad = Tensor._from_array(g.data.copy())
            elif t._grad.data.flags.writeable and t._grad.data.shape == g.data.shape:
                t._grad.data += g.data  # one buffer across backward calls, as PyTorch
            else:
                t._grad = Tensor._from_array(t._grad.data + g.data)
        _keep._retain = True
        self.register_hook(_keep)

    def zero_grad(self) -> None:
        self._grad = None

    # ---- internal ----
    @staticmethod
    def _from_array(arr) -> "Tensor":
        t = Tensor.__new__(Tensor)
        t.data = arr
        t._grad = None
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

    # ---- op methods (NumPy's and PyTorch's spellings: axis= or dim=, keepdims= or
    # keepdim=, other=) ----
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
        r = _ops.sum(self, _pick(axis, dim), _keep(keepdims, keepdim))
        return r if dtype is None else r._cast(dtype)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops.mean(self, _pick(axis, dim), _keep(keepdims, keepdim))

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The maximum (over ``axis``); with ``dim=`` as PyTorch: ``(values, indices)``."""
        if dim is not None:
            return _minmax(self, _ops.max, _ops.argmax, dim, _keep(keepdims, keepdim))
        return _ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The minimum (over ``axis``); with ``dim=`` as PyTorch: ``(values, indices)``."""
        if dim is not None:
            return _minmax(self, _ops.min, _ops.argmin, dim, _keep(keepdims, keepdim))
        return _ops.min(self, axis, keepdims)

    def amax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops.max(self, _pick(axis, dim), _keep(keepdims, keepdim))

    def amin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops.min(self, _pick(axis, dim), _keep(keepdims, keepdim))

    def prod(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops.prod(self, _pick(axis, dim), _keep(keepdims, keepdim))

    def var(self, axis=None, correction=1, keepdims=False, *, dim=None, keepdim=None,
            unbiased=None):
        correction = correction if unbiased is None else int(bool(unbiased))
        return _ops.var(self, _pick(axis, dim), correction=correction,
                        keepdims=_keep(keepdims, keepdim))

    def std(self, axis=None, correction=1, keepdims=False, *, dim=None, keepdim=None,
            unbiased=None):
        correction = correction if unbiased is None else int(bool(unbiased))
        return _ops.std(self, _pick(axis, dim), correction=correction,
                        keepdims=_keep(keepdims, keepdim))

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops.logsumexp(self, _pick(axis, dim), _keep(keepdims, keepdim))

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops.argmax(self, _pick(axis, dim), _keep(keepdims, keepdim))

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return _ops.argmin(self, _pick(axis, dim), _keep(keepdims, keepdim))

    def norm(self, ord=None, axis=None, keepdims=False, *, p=None, dim=None, keepdim=None):
        return _ops.norm(self, ord if p is None else p, _pick(axis, dim),
                         _keep(keepdims, keepdim))

    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    def view(self, *shape):
        """PyTorch's ``view``: a reshape (graphgrad tensors have value semantics, so it
        never aliases; ``view(dtype)`` is not supported)."""
        if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)) \
                and not hasattr(shape[0], "__index__"):
            raise TypeError(f"view: expected a shape, got {shape[0]!r}; to change the dtype "
                            "use .to(dtype)")
        return _ops.reshape(self, *shape)

    def view_as(self, other: "Tensor") -> "Tensor":
        return _ops.reshape(self, other.shape)

    def reshape_as(self, other: "Tensor") -> "Tensor":
        return _ops.reshape(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops.flatten(self, start_dim, end_dim)

    def squeeze(self, axis=None, *, dim=None):
        """Drop axes of length 1 (all of them, or those of ``dim`` that have length 1, as
        PyTorch: an axis of another length is left as it is)."""
        axis = _pick(axis, dim)
        if axis is None:
            return _ops.squeeze(self)
        nd = self.data.ndim
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        keep = tuple(a for a in axes if self.data.shape[_axis(a, nd, "squeeze")] == 1)
        return _ops.squeeze(self, keep) if keep else self

    def unsqueeze(self, axis=None, *, dim=None):
        axis = _pick(axis, dim)
        nd = self.data.ndim
        if not -nd - 1 <= axis <= nd:
            raise _index_error(f"unsqueeze: dim {axis} out of range for a tensor of shape "
                               f"{self.shape} (expected -{nd + 1} to {nd})")
        return _ops.unsqueeze(self, axis)

    def transpose(self, *axes, dim0=None, dim1=None):
        if dim0 is not None:
            axes = (dim0, dim1)
        if len(axes) == 2 and all(isinstance(a, int) for a in axes):
            return _ops.swapaxes(self, *axes)  # PyTorch's transpose(dim0, dim1)
        return _ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def t(self) -> "Tensor":
        """The transpose of a matrix (0-d and 1-d tensors are returned as they are)."""
        if self.data.ndim > 2:
            raise _shape_error(f"t(): expects a tensor with at most 2 dimensions, got shape "
                               f"{self.shape}; use .mT or .transpose(a, b)")
        return _ops.transpose(self) if self.data.ndim == 2 else self

    def permute(self, *axes, dims=None):
        return _ops.permute(self, *(axes if dims is None else (dims,)))

    def broadcast_to(self, shape):
        return _ops.broadcast_to(self, shape)

    def expand(self, *sizes):
        """PyTorch's ``expand``: broadcast to ``sizes``; -1 keeps an axis's length."""
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) \
            else sizes
        lead = len(sizes) - self.data.ndim
        if lead < 0:
            raise _shape_error(f"expand: {len(sizes)} sizes {sizes} for a tensor of shape "
                               f"{self.shape}; give at least one size per dimension")
        shape = tuple(self.data.shape[i - lead] if s == -1 and i >= lead else s
                      for i, s in enumerate(sizes))
        return _ops.broadcast_to(self, shape)

    def expand_as(self, other: "Tensor") -> "Tensor":
        return _ops.broadcast_to(self, other.shape)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def log1p(self):
        return _ops.log1p(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def sin(self):
        return _ops.sin(self)

    def cos(self):
        return _ops.cos(self)

    def abs(self):
        return _ops.abs(self)

    def sign(self):
        return _ops.sign(self)

    def tanh(self):
        return _ops.tanh(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def relu(self):
        return _ops.relu(self)

    def neg(self):
        return _ops.neg(self)

    def square(self):
        return _ops.square(self)

    def clip(self, min=None, max=None):
        return _ops.clip(self, min=min, max=max)

    clamp = clip

    def softmax(self, axis=-1, *, dim=None):
        return _ops.softmax(self, _pick(axis, dim))

    def log_softmax(self, axis=-1, *, dim=None):
        return _ops.log_softmax(self, _pick(axis, dim))

    def add(self, other, *, alpha=1):
        return _ops.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        return _ops.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other):
        return _ops.mul(self, other)

    def div(self, other):
        return _ops.div(self, other)

    def pow(self, exponent):
        return _ops.pow(self, exponent)

    def maximum(self, other):
        return _ops.maximum(self, other)

    def minimum(self, other):
        return _ops.minimum(self, other)

    def matmul(self, other):
        return _ops.matmul(self, other)

    def mm(self, mat2):
        """Matrix product of two 2-d tensors (``matmul`` broadcasts; ``mm`` does not)."""
        if self.data.ndim != 2 or _ndim(mat2) != 2:
            raise _shape_error(f"mm: expects two matrices (2-d), got shapes {self.shape} and "
                               f"{_shape(mat2)}; use matmul (@) for other shapes")
        return _ops.matmul(self, mat2)

    def mv(self, vec):
        """Matrix times vector."""
        if self.data.ndim != 2 or _ndim(vec) != 1:
            raise _shape_error(f"mv: expects a matrix (2-d) and a vector (1-d), got shapes "
                               f"{self.shape} and {_shape(vec)}")
        return _ops.matmul(self, vec)

    def dot(self, other):
        return _ops.dot(self, other)

    def eq(self, other):
        return _ops.equal(self, other)

    def ne(self, other):
        return _ops.not_equal(self, other)

    def lt(self, other):
        return _ops.less(self, other)

    def le(self, other):
        return _ops.less_equal(self, other)

    def gt(self, other):
        return _ops.greater(self, other)

    def ge(self, other):
        return _ops.greater_equal(self, other)

    # ---- Python operators ----
    def __add__(self, other):
        return _ops.elementwise.add(self, other)

    def __radd__(self, other):
        return _ops.elementwise.add(other, self)

    def __sub__(self, other):
        return _ops.elementwise.sub(self, other)

    def __rsub__(self, other):
        return _ops.elementwise.sub(other, self)

    def __mul__(self, other):
        return _ops.elementwise.mul(self, other)

    def __rmul__(self, other):
        return _ops.elementwise.mul(other, self)

    def __truediv__(self, other):
        return _ops.elementwise.div(self, other)

    def __rtruediv__(self, other):
        return _ops.elementwise.div(other, self)

    def __pow__(self, other):
        return _ops.elementwise.pow(self, other)

    def __rpow__(self, other):
        return _ops.elementwise.pow(other, self)

    def __matmul__(self, other):
        return _ops.linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.linalg.matmul(other, self)

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

    # ---- augmented assignment: in place, as PyTorch (core/inplace.py's version checks
    # and leaf rule). `@=` rebinds, as in PyTorch. ----
    def __iadd__(self, other):
        return _inplace.augmented(self, "__iadd__", _ops.add, other)

    def __isub__(self, other):
        return _inplace.augmented(self, "__isub__", _ops.sub, other)

    def __imul__(self, other):
        return _inplace.augmented(self, "__imul__", _ops.mul, other)

    def __itruediv__(self, other):
        return _inplace.augmented(self, "__itruediv__", _ops.div, other)

    def __ipow__(self, other):
        return _inplace.augmented(self, "__ipow__", _ops.pow, other)

    def pow_(self, exponent) -> "Tensor":
        """``self **= exponent`` in place."""
        return _inplace.augmented(self, "pow_", _ops.pow, exponent)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        """``x[index] = value`` in place (ints, slices, integer arrays, boolean masks);
        recorded as PyTorch's index_put, so gradients flow to ``x``'s other entries and
        to ``value``.

        >>> x = Tensor([1.0, -2.0, 3.0]); x[x < 0] = 0.0; x.tolist()
        [1.0, 0.0, 3.0]
        """
        _inplace.setitem(self, index, value)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))


class GradShapeError(ShapeError, TypeError):
    """A gradient of another shape assigned to ``.grad``."""


def _pick(axis, dim):
    """``axis`` (NumPy's name) or ``dim`` (PyTorch's), whichever was given."""
    return axis if dim is None else dim


def _keep(keepdims, keepdim) -> bool:
    return bool(keepdims) if keepdim is None else bool(keepdim)


def _axis(dim: int, nd: int, op: str) -> int:
    if not -max(nd, 1) <= dim < max(nd, 1):
        raise _index_error(f"{op}: dim {dim} out of range for a tensor with {nd} "
                           f"dimensions (expected -{max(nd, 1)} to {max(nd, 1) - 1})")
    return dim % max(nd, 1)


def _ndim(x) -> int:
    return len(_shape(x))


def _shape(x) -> tuple:
    return tuple(getattr(x.data if isinstance(x, Tensor) else x, "shape", ()))


def _shape_error(msg: str):
    from .errors import ShapeError
    return ShapeError(msg)


def _index_error(msg: str):
    from .errors import IndexOutOfRangeError
    return IndexOutOfRangeError(msg)


def _minmax(x, reduce, arg, dim, keepdim):
    """PyTorch's ``max(dim=)`` / ``min(dim=)``: the values and their indices."""
    return _dt.MinMax(reduce(x, dim, keepdim), arg(x, dim, keepdim))


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
from . import dtypes as _dt  # noqa: E402
from . import inplace as _inplace  # noqa: E402
