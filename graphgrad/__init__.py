"""graphgrad: computational graphs, autodiff of any order, and readable compiled NumPy.

>>> import graphgrad as gg
>>> a = gg.tensor(2.0, requires_grad=True); b = gg.tensor(1.0, requires_grad=True)
>>> e = (a + b) * (b + 1)
>>> e.backward(); (e.item(), a.grad.item(), b.grad.item())
(6.0, 2.0, 5.0)
"""

from . import autograd, numpy, ops  # noqa: F401  (numpy: fills the NumPy-protocol tables)
from .compiler import compile  # noqa: F401,A004
from .core.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly  # noqa: F401
from .core.backend import (  # noqa: F401
    bool_,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from .core.backend import bool_ as bool  # noqa: F401,A004  (PyTorch's dtype names)
from .core.backend import float32 as float  # noqa: F401,A004
from .core.backend import int32 as int  # noqa: F401,A004
from .core.creation import (  # noqa: F401
    arange,
    eye,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .core.dtypes import device, promote_types, result_type  # noqa: F401
from .core.engine import grad_of  # noqa: F401
from .core.errors import (  # noqa: F401
    AnomalyError,
    BackwardError,
    DTypeError,
    GraphgradError,
    GraphgradWarning,
    IndexOutOfRangeError,
    ShapeError,
)
from .core.graph import Node, set_record_source  # noqa: F401
from .core.state import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .core.tensor import Tensor  # noqa: F401
from .core.transforms import (  # noqa: F401
    custom_vjp,
    elementwise_grad,
    grad,
    hessian,
    hessian_tensor_product,
    hessian_vector_product,
    jacobian,
    jvp,
    make_hvp,
    value_and_grad,
    vjp,
)
from .draw import draw, to_dot  # noqa: F401
from .ops import *  # noqa: F401,F403
from .ops import PRIMITIVES  # noqa: F401
from .utils import allclose  # noqa: F401

__version__ = "0.1.0"


def __getattr__(name: str):
    # gg.static (the TF1 / SimpleFlow API) and gg.testing load on first use: static
    # imports the compiler and cannot be imported while this package initialises, and
    # neither is needed to train a model.
    if name in ("static", "testing"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'graphgrad' has no attribute {name!r}")
