"""The array namespace every op computes with.

All array work goes through ``xp`` (NumPy by default), so that a second backend
(CuPy) can be swapped in at one place. Nothing else in graphgrad imports NumPy to
compute on data; modules import it only for type checks and dtype constants.
"""

from __future__ import annotations

import numpy as np

xp = np  # the active array module

ndarray = np.ndarray

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
