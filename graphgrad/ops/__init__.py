"""The primitive table, grouped by family, and the public op functions."""

from .elementwise import (  # noqa: F401
    abs, add, astype, clip, cos, div, equal, erf, exp, greater, greater_equal, identity,
    isfinite, isnan, leaky_relu, less, less_equal, log, log1p, logical_and, logical_not,
    logical_or, maximum, minimum, mul, neg, not_equal, pow, relu, sigmoid, sign, sin,
    softplus, sqrt, sub, tanh, where,
)
from .elementwise import clip as clamp  # noqa: F401
from .composite import gelu, square  # noqa: F401
from .index import gather, getitem, index_select, scatter_add, take_along_axis  # noqa: F401
from .linalg import dot, einsum, matmul, norm, outer  # noqa: F401
from .nn import (  # noqa: F401
    binary_cross_entropy_with_logits, cross_entropy, log_softmax, mse_loss, softmax,
)
from .reduce import (  # noqa: F401
    amax, amin, argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var,
)
from .shape import (  # noqa: F401
    broadcast_to, cat, concatenate, expand_dims, flatten, flip, moveaxis, pad, permute,
    repeat, repeat_interleave, reshape, split, squeeze, stack, sum_to, swapaxes, tile,
    transpose, unsqueeze,
)
from ..primitive import PRIMITIVES  # noqa: F401
