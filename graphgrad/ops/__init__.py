"""The primitive table, grouped by family, and the public op functions."""

from ..core.primitive import PRIMITIVES  # noqa: F401

# the two-argument functions with PyTorch's keywords (the primitives stay in elementwise)
from .binary import add, atan2, div, matmul, maximum, minimum, mul, pow, sub, where  # noqa: F401
from .composite import gelu, square  # noqa: F401
from .elementwise import (  # noqa: F401
    abs,
    astype,
    clip,
    cos,
    equal,
    erf,
    exp,
    greater,
    greater_equal,
    hypot,
    identity,
    isfinite,
    isnan,
    leaky_relu,
    less,
    less_equal,
    log,
    log1p,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    neg,
    not_equal,
    relu,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    tanh,
)
from .elementwise import clip as clamp  # noqa: F401
from .index import gather, getitem, index_select, scatter_add, take_along_axis  # noqa: F401
from .linalg import dot, einsum, norm, outer  # noqa: F401
from .losses import (  # noqa: F401
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
    mse_loss,
    softmax,
)
from .reduce import (  # noqa: F401
    amax,
    amin,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from .shape import (  # noqa: F401
    broadcast_to,
    cat,
    concatenate,
    expand_dims,
    flatten,
    flip,
    moveaxis,
    pad,
    permute,
    repeat,
    repeat_interleave,
    reshape,
    split,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    tile,
    transpose,
    unsqueeze,
)
