"""The array namespace every op computes with.

NumPy is the default backend. Another one (CuPy, or the tests' stand-in device) registers
its array type and its module; from then on an op takes its module from its inputs
(``array_module(x, y)``), so the same impl and the same rules run on either. Nothing else
in graphgrad calls NumPy on data: modules import it for dtype constants only, type checks
go through ``is_array``, random numbers through ``generator``.

>>> import numpy as np
>>> array_module(np.ones(2)) is np, is_array(np.ones(2)), is_array(2.0)
(True, True, False)
"""

from __future__ import annotations

import numpy as np

xp = np  # the default array module (dtype constants; calls on data use array_module)

ndarray = np.ndarray

# ---- backends: an array type and the module that computes on it ------------------------
# Until a second backend registers, ``foreign_active`` stays False and every helper below
# answers NumPy after one global read: the NumPy path pays nothing for the seam.
_modules: dict = {np.ndarray: np}
ARRAY_TYPES: tuple = (np.ndarray,)
foreign_active = False


def register_backend(array_type: type, module, select=None) -> None:
    """Compute with ``module`` on arrays of ``array_type`` (e.g. ``cupy.ndarray, cupy``).

    ``select(cond, g)`` (optional) is the backend's masked select for gradient rules;
    by default ``module.where(cond, g, 0)``, which needs no host synchronisation.

    >>> import numpy as np
    >>> class Host(np.ndarray): pass
    >>> saved = dict(_modules), ARRAY_TYPES, foreign_active
    >>> register_backend(Host, np); is_array(np.ones(1).view(Host))
    True
    >>> unregister_backend(Host); is_array(np.ones(1).view(Host))
    False
    """
    global ARRAY_TYPES, foreign_active
    from . import primitive
    _modules[array_type] = module
    if select is not None:
        _selects[module] = select
    ARRAY_TYPES = tuple(_modules)
    foreign_active = True
    primitive.ARRAY_TYPES = ARRAY_TYPES
    primitive.Primitive._foreign = True


def asarray_like(x, like_args):
    """``x`` (an op's result: maybe a scalar) as an array of the backend of ``like_args``."""
    return array_module(*like_args).asarray(x)


def unregister_backend(array_type: type) -> None:
    """Undo ``register_backend`` (tests use it to leave no trace)."""
    global ARRAY_TYPES, foreign_active
    module = _modules.pop(array_type, None)
    if module is not None and module not in _modules.values() and module is not np:
        _selects.pop(module, None)
        _rngs.pop(module, None)
    ARRAY_TYPES = tuple(_modules)
    foreign_active = len(_modules) > 1


def array_module(*xs):
    """The array module of the first array of another backend among ``xs``; NumPy when
    there is none (numbers, NumPy arrays, tracers).

    >>> import numpy as np
    >>> array_module(1.0, np.zeros(2)) is np
    True
    """
    if not foreign_active:  # the NumPy path: one global read
        return np
    for x in xs:
        m = _modules.get(type(x))
        if m is not None and m is not np:
            return m
    return np


# gg.compile copies the impls it has no template for into its NumPy source; there the
# module is always NumPy (the registry is not part of the generated code)
array_module.__codegen__ = "def array_module(*xs):\n    return np\n"


def is_array(x) -> bool:
    """Whether ``x`` is an array of a registered backend (not a Tensor, not a number).

    >>> import numpy as np
    >>> is_array(np.float64(1.0)), is_array(np.zeros(()))
    (False, True)
    """
    return type(x) in _modules


def implementation(np_impl, module):
    """``np_impl`` (the NumPy forward of a primitive) on ``module``: a NumPy function is
    replaced by ``module``'s function of the same name; a Python function is returned as
    it is (it takes its array module from its inputs).

    >>> import numpy as np
    >>> implementation(np.exp, np) is np.exp
    True
    """
    if module is np:
        return np_impl
    name = getattr(np_impl, "__name__", None)
    if isinstance(np_impl, np.ufunc) or getattr(np_impl, "__module__", "").startswith("numpy"):
        f = getattr(module, name, None)
        if f is None:
            raise NotImplementedError(f"the backend {module.__name__} has no {name}")
        return f
    return np_impl


def to_numpy(x):
    """``x`` as a NumPy array on the host (for error messages and printing; it copies
    from a device, so nothing on a hot path calls it).

    >>> to_numpy([1, 2]).tolist()
    [1, 2]
    """
    m = array_module(x)
    if m is np:
        return np.asarray(x)
    asnumpy = getattr(m, "asnumpy", None)  # CuPy's name for the device-to-host copy
    return asnumpy(x) if asnumpy is not None else np.asarray(x)


def errstate(**kw):
    """NumPy's floating-point error state (other backends do not warn: it costs nothing
    there), for rules whose infinities are the documented answer.

    >>> with errstate(divide="ignore"):
    ...     float(1 / np.zeros(()))
    inf
    """
    return np.errstate(**kw)


# ---- masked select: the gradient of relu, clip, max ------------------------------------

def _numpy_select(cond, g):
    # A masked select is ~20x slower than a multiply on NumPy, and ``g * cond`` is exact
    # where g is finite; a finite sum proves every element is (NaN or inf anywhere makes
    # it NaN or inf). With NaN/inf in g, ``where`` keeps them out of the zeros (PyTorch).
    if type(g) is np.ndarray and type(cond) is np.ndarray and np.isfinite(np.sum(g)):
        return g * cond
    return np.where(cond, g, 0.0)


def _where_select(module):
    def select(cond, g):
        return module.where(cond, g, 0.0)
    return select


_selects: dict = {np: _numpy_select}


def select(cond, g):
    """``g`` where ``cond`` holds, else 0, on raw arrays. NumPy multiplies by the mask
    when ``g`` is finite (fast, exact); other backends use ``where``, which needs no
    host synchronisation (the finite test would read a device value on every op).

    >>> select(np.array([True, False]), np.array([2.0, np.nan])).tolist()
    [2.0, 0.0]
    """
    if not foreign_active:
        return _numpy_select(cond, g)
    m = array_module(g, cond)
    f = _selects.get(m)
    if f is None:
        f = _selects[m] = _where_select(m)
    return f(cond, g)


# ---- random numbers: one generator per backend, all seeded by manual_seed --------------
_seed = None  # None: fresh entropy
_rngs: dict = {}


def manual_seed(seed: int) -> None:
    """Seed the random generator of every backend (each is made from ``seed`` when first
    used).

    >>> manual_seed(0); a = generator().random(); manual_seed(0); a == generator().random()
    True
    """
    global _seed
    _seed = seed
    _rngs.clear()


def generator(module=None):
    """The random generator of ``module`` (NumPy's by default): ``module.random.
    default_rng`` seeded by the last ``manual_seed``.

    >>> generator().standard_normal((2,)).shape
    (2,)
    """
    if module is None:
        module = np
    rng = _rngs.get(module)
    if rng is None:
        rng = _rngs[module] = module.random.default_rng(_seed)
    return rng


# ---- dtypes ----------------------------------------------------------------------------
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


def asarray(value, dtype=None):
    """Turn user data into an array following graphgrad's dtype rules.

    Python floats (and lists of them) become float32, Python ints int64, bools bool;
    arrays keep their dtype (float64 stays float64) and their backend (a device array
    stays on its device), unless ``dtype`` is given.

    >>> asarray([1.0, 2.0]).dtype, asarray(np.zeros(2)).dtype
    (dtype('float32'), dtype('float64'))
    """
    t = type(value)
    if t is np.ndarray and dtype is None:
        return value
    m = _modules.get(t) if foreign_active else None
    if m is not None and m is not np:  # an array of another backend: its module converts
        return value if dtype is None else m.asarray(value, dtype=as_dtype(dtype))
    if dtype is not None:
        return np.asarray(value, dtype=as_dtype(dtype))
    if isinstance(value, np.ndarray):  # NumPy subclasses (memmap...) as they are
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    arr = np.asarray(value)
    if arr.dtype == float64:  # Python floats: float32 unless asked otherwise
        arr = arr.astype(DEFAULT_FLOAT)
    return arr

# PyTorch's dtype names (gg.float, gg.double, gg.long, gg.half, gg.int, gg.bool are
# exported under those names by the package; here they would shadow builtins)
double = float64
long = int64
half = float16
short = int16
