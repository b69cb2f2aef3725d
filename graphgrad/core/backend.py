"""The array namespace every op computes with.

All array work goes through ``xp`` (NumPy by default), so that a second backend
(CuPy) can be swapped in at one place. Nothing else in graphgrad imports NumPy to
compute on data; modules import it only for type checks and dtype constants.
"""

from __future__ import annotations

import numpy as np

xp = np  # the default array module

ndarray = np.ndarray

# ---- backends: an array type and the module that computes on it ------------------------
# NumPy is the default. Another backend (CuPy, or the tests' stand-in device) registers
# its array type; from then on ops look at their inputs to choose the module. Until one
# registers, ``foreign_active`` stays False and the hot path costs one global read.
_modules: dict = {np.ndarray: np}
ARRAY_TYPES: tuple = (np.ndarray,)
foreign_active = False


def register_backend(array_type: type, module) -> None:
    """Compute with ``module`` on arrays of ``array_type`` (e.g. ``cupy.ndarray, cupy``)."""
    global ARRAY_TYPES, foreign_active
    _modules[array_type] = module
    ARRAY_TYPES = tuple(_modules)
    foreign_active = True


def array_module(*xs):
    """The array module of the first array among ``xs`` (NumPy when there is none)."""
    for x in xs:
        m = _modules.get(type(x))
        if m is not None and m is not np:
            return m
    return np


def is_array(x) -> bool:
    """Whether ``x`` is an array of a registered backend (not a Tensor, not a number)."""
    return type(x) in _modules


def implementation(np_impl, module):
    """``np_impl`` (the NumPy forward of a primitive) on ``module``: a NumPy function is
    replaced by ``module``'s function of the same name; a Python function is returned as
    it is (it takes its array module from its inputs)."""
    if module is np:
        return np_impl
    name = getattr(np_impl, "__name__", None)
    if isinstance(np_impl, np.ufunc) or getattr(np_impl, "__module__", "").startswith("numpy"):
        f = getattr(module, name, None)
        if f is None:
            raise NotImplementedError(f"the backend {module.__name__} has no {name}")
        return f
    return np_impl

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

DEFAULT_FLOAT = float32


def is_floating(dtype) -> bool:
    """True for floating-point dtypes (the only ones that carry gradients)."""
    return np.dtype(dtype).kind == "f"


def as_dtype(dtype) -> np.dtype | None:
    """Accept a NumPy dtype, a string such as "float32", a Python type, or None."""
    if dtype is None:
        return None
    return np.dtype(dtype)


def asarray(value, dtype=None) -> np.ndarray:
    """Turn user data into an array following graphgrad's dtype rules.

    Python floats (and lists of them) become float32, Python ints int64, bools bool;
    NumPy arrays keep their dtype (float64 stays float64), unless ``dtype`` is given.
    """
    if dtype is not None:
        return xp.asarray(value, dtype=as_dtype(dtype))
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic):
        return xp.asarray(value)
    arr = xp.asarray(value)
    if arr.dtype == float64:  # Python floats: float32 unless asked otherwise
        arr = arr.astype(DEFAULT_FLOAT)
    return arr

# PyTorch's dtype names (gg.float, gg.double, gg.long, gg.half, gg.int, gg.bool are
# exported under those names by the package; here they would shadow builtins)
double = float64
long = int64
half = float16
short = int16
