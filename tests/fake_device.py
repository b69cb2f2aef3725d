"""A stand-in accelerator for the backend-seam tests: ``DeviceArray`` and its namespace.

``DeviceArray`` is a NumPy subclass that NumPy refuses to compute on: any ufunc or array
function reached with one (``np.exp(d)``, ``np.sum(d)``, ``ndarray + d``) raises
``AssertionError("reached NumPy directly: ...")``. It computes only through ``device``,
a module-like namespace (as CuPy is) that views its inputs as plain arrays, computes with
NumPy and wraps the results back, and through its own operators and methods (as a CuPy
array has). Like a real device it refuses plain NumPy arrays as operands (a host array
must be moved with ``device.asarray`` first); Python numbers and NumPy scalars are fine.

    >>> register(); d = device.asarray([1.0, 2.0]); type(d * 2).__name__
    'DeviceArray'
    >>> unregister()
"""

from __future__ import annotations

import numpy as np

from graphgrad.core import backend as B


class HostArrayError(TypeError):
    """A plain NumPy array reached a device operation (a real device would refuse it)."""


_no_sync = []  # non-empty while reading a device value on the host is forbidden


class DeviceArray(np.ndarray):
    """An array on the stand-in device: NumPy itself must never compute on it, and
    inside ``no_host_sync()`` its values must not be read on the host."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise AssertionError(f"reached NumPy directly: {ufunc.__name__}.{method}")

    def __array_function__(self, func, types, args, kwargs):
        raise AssertionError(f"reached NumPy directly: {func.__name__}")

    def __repr__(self) -> str:
        return f"DeviceArray({np.ndarray.view(self, np.ndarray)!r})"

    __str__ = __repr__

    def __getitem__(self, index):
        return _wrap(_plain(self)[_unwrap_index(index)])

    def __setitem__(self, index, value):
        _plain(self)[_unwrap_index(index)] = _unwrap(value)


def _host_read(name):
    def read(self, *args):
        if _no_sync:
            raise AssertionError(f"host synchronisation: {name} of a device array of shape "
                                 f"{self.shape} inside no_host_sync()")
        return getattr(np.ndarray, name)(_plain(self), *args)
    read.__name__ = name
    return read


for _n in ("__bool__", "__float__", "__int__", "__index__", "__complex__", "item", "tolist"):
    setattr(DeviceArray, _n, _host_read(_n))


class no_host_sync:
    """Inside, reading a device value on the host (``bool``, ``float``, ``.item()``: what
    ``if xp.isfinite(xp.sum(g))`` does) raises: a GPU would stall there."""

    def __enter__(self):
        _no_sync.append(True)
        return self

    def __exit__(self, *exc):
        _no_sync.pop()
        return False


def _plain(x):
    return np.ndarray.view(x, np.ndarray)


def _unwrap(x, host_ok: bool = False):
    """A DeviceArray's plain view; a plain ndarray is refused (it lives on the host)."""
    t = type(x)
    if t is DeviceArray:
        return _plain(x)
    if t is np.ndarray and not host_ok:
        raise HostArrayError(f"a host (NumPy) array of shape {x.shape} was passed to the "
                             "device; move it with device.asarray first")
    if t in (list, tuple):
        return t(_unwrap(v, host_ok) for v in x)
    return x


def _unwrap_index(index):
    # an index may hold host arrays (CuPy accepts them and moves them)
    if isinstance(index, tuple):
        return tuple(_unwrap(i, host_ok=True) for i in index)
    return _unwrap(index, host_ok=True)


def _wrap(r):
    if isinstance(r, np.ndarray):
        return r.view(DeviceArray)
    if isinstance(r, np.generic):  # a device returns 0-d arrays, never host scalars
        return np.asarray(r).view(DeviceArray)
    if isinstance(r, tuple):
        return tuple(_wrap(v) for v in r)
    if isinstance(r, list):
        return [_wrap(v) for v in r]
    return r


def _compute(fn, args, kwargs):
    args = [_unwrap(a) for a in args]
    kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
    if "out" in kwargs:
        raise HostArrayError("out= is not supported by the stand-in device")
    return _wrap(fn(*args, **kwargs))


# ---- operators and methods: what a device array does itself ---------------------------

def _binary(ufunc, reflected=False):
    def op(self, other):
        if getattr(type(other), "__array_ufunc__", 0) is None:  # a Tensor: let it answer
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        return _compute(ufunc, (a, b), {})
    return op


def _inplace(ufunc):
    def op(self, other):
        ufunc(_plain(self), _unwrap(other), out=_plain(self))
        return self
    return op


def _unary(ufunc):
    return lambda self: _compute(ufunc, (self,), {})


_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
           "floordiv": np.floor_divide, "mod": np.remainder, "pow": np.power,
           "matmul": np.matmul}
for _n, _u in _BINARY.items():
    setattr(DeviceArray, f"__{_n}__", _binary(_u))
    setattr(DeviceArray, f"__r{_n}__", _binary(_u, reflected=True))
    setattr(DeviceArray, f"__i{_n}__", _inplace(_u))
for _n, _u in {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}.items():
    # & | ^ are bitwise on integers and logical on bools, as NumPy's
    setattr(DeviceArray, f"__{_n}__", _binary(_u))
    setattr(DeviceArray, f"__r{_n}__", _binary(_u, reflected=True))
for _n, _u in {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
               "eq": np.equal, "ne": np.not_equal}.items():
    setattr(DeviceArray, f"__{_n}__", _binary(_u))
for _n, _u in {"neg": np.negative, "pos": np.positive, "abs": np.absolute,
               "invert": np.invert}.items():
    setattr(DeviceArray, f"__{_n}__", _unary(_u))
DeviceArray.__hash__ = None


def _method(name):
    def method(self, *args, **kwargs):
        return _compute(getattr(np.ndarray, name), (self,) + args, kwargs)
    method.__name__ = name
    return method


for _n in ("sum", "prod", "mean", "std", "var", "max", "min", "any", "all", "argmax", "argmin",
           "clip", "round", "cumsum", "cumprod", "dot", "nonzero"):
    setattr(DeviceArray, _n, _method(_n))


# ---- the namespace ---------------------------------------------------------------------

class _Ufunc:
    """A NumPy ufunc on the device, with ``.at`` (scatter) and ``.reduce``."""

    def __init__(self, ufunc):
        self._u = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _compute(self._u, args, kwargs)

    def reduce(self, *args, **kwargs):
        return _compute(self._u.reduce, args, kwargs)

    def at(self, a, index, b=None):
        if type(a) is not DeviceArray:
            raise HostArrayError(f"{self.__name__}.at: the target must be a device array")
        args = (_unwrap_index(index),) + (() if b is None else (_unwrap(b),))
        self._u.at(_plain(a), *args)


class _Random:
    """``device.random``: a generator whose arrays are made on the device."""

    @staticmethod
    def default_rng(seed=None):
        return _Generator(np.random.default_rng(seed))


class _Generator:
    def __init__(self, rng):
        self._rng = rng

    def __getattr__(self, name):
        f = getattr(self._rng, name)
        return lambda *a, **k: _wrap(f(*a, **k))


class DeviceNamespace:
    """The stand-in device's array module: NumPy's names, computing on DeviceArrays.

    Functions take DeviceArrays (and numbers), refuse host arrays, and return
    DeviceArrays; ``asarray`` is the host-to-device copy, ``asnumpy`` the way back.
    Types (dtypes, ``errstate``) and constants (``newaxis``, ``pi``, ``inf``) are NumPy's.
    """

    __name__ = "fake_device"
    ndarray = DeviceArray
    random = _Random()

    def __getattr__(self, name):
        obj = getattr(np, name)  # AttributeError: NumPy has no such name either
        if isinstance(obj, type) or not callable(obj):
            return obj  # dtypes, errstate, newaxis, pi, inf
        if isinstance(obj, np.ufunc):
            f = _Ufunc(obj)
        else:
            def f(*args, _fn=obj, **kwargs):
                return _compute(_fn, args, kwargs)
            f.__name__ = name
        setattr(self, name, f)  # cached: the next lookup is a plain attribute
        return f

    @staticmethod
    def asarray(x, dtype=None):
        """Host to device (or a device array as it is, converted to ``dtype``)."""
        if type(x) is DeviceArray:
            return x if dtype is None or x.dtype == dtype else x.astype(dtype)
        return np.asarray(x, dtype=dtype).view(DeviceArray)

    @staticmethod
    def asnumpy(x):
        """Device to host: a plain NumPy copy."""
        return np.array(_plain(x)) if type(x) is DeviceArray else np.asarray(x)

    @staticmethod
    def errstate(**kw):
        return np.errstate(**kw)


device = DeviceNamespace()


def to_device(x):
    """A NumPy array (or anything) on the device: arrays become DeviceArrays, containers
    are converted inside, anything else is returned as it is."""
    if type(x) is np.ndarray:
        return device.asarray(x)
    if isinstance(x, tuple):
        return tuple(to_device(v) for v in x)
    if isinstance(x, list):
        return [to_device(v) for v in x]
    return x


# ---- registration, undone without a trace ----------------------------------------------
_saved: list = []


def register() -> None:
    """Register the device with graphgrad's backend registry (undo with ``unregister``)."""
    _saved.append((dict(B._modules), B.ARRAY_TYPES, B.foreign_active, dict(B._selects),
                   dict(B._rngs)))
    B.register_backend(DeviceArray, device)


def unregister() -> None:
    """Restore the registry exactly as ``register`` found it."""
    modules, types, active, selects, rngs = _saved.pop()
    B._modules.clear()
    B._modules.update(modules)
    B.ARRAY_TYPES = types
    B.foreign_active = active
    B._selects.clear()
    B._selects.update(selects)
    B._rngs.clear()
    B._rngs.update(rngs)
    from graphgrad.core.primitive import PRIMITIVES
    for p in PRIMITIVES.values():  # forget the device forwards looked up meanwhile
        p._impls.pop(device, None)
