"""Elementwise primitives: forward, VJP and JVP side by side.

Rules receive ``g`` (the output's cotangent) or ``t`` (an input's tangent), ``out`` (the
forward result) and the forward inputs. They use operators and graphgrad ops only, so
they run on raw arrays in a plain backward pass and on Tensors when differentiated
again. Broadcasting is undone by the engine, never here.
"""

from __future__ import annotations

import math

from ..core import backend as _B
from ..core import primitive as _prim
from ..core.backend import array_module, xp
from ..core.primitive import Primitive
from ._erf import erf as _erf_impl

FAMILY = "elementwise"


def _p(name, impl, doc=None, differentiable=True):
    return Primitive(name, impl, FAMILY, differentiable=differentiable, doc=doc)


# ---- arithmetic ----
add = _p("add", xp.add, "x + y, broadcasting.").defvjp(
    lambda g, out, x, y: g,
    lambda g, out, x, y: g,
).defjvp(
    lambda t, out, x, y: t,
    lambda t, out, x, y: t,
)

sub = _p("sub", xp.subtract, "x - y, broadcasting.").defvjp(
    lambda g, out, x, y: g,
    lambda g, out, x, y: -g,
).defjvp(
    lambda t, out, x, y: t,
    lambda t, out, x, y: -t,
)

mul = _p("mul", xp.multiply, "x * y, broadcasting.").defvjp(
    lambda g, out, x, y: g * y,
    lambda g, out, x, y: g * x,
).defjvp(
    lambda t, out, x, y: t * y,
    lambda t, out, x, y: x * t,
)

div = _p("div", xp.true_divide, "x / y, broadcasting.").defvjp(
    lambda g, out, x, y: g / y,
    lambda g, out, x, y: -g * out / y,
).defjvp(
    lambda t, out, x, y: t / y,
    lambda t, out, x, y: -t * out / y,
)

neg = _p("neg", xp.negative, "-x.").defvjp(
    lambda g, out, x: -g,
).deflinear()


def _pow_impl(x, y):
    return array_module(x, y).power(x, y)


def _log_base(x, out):
    # d(x**y)/dy = x**y * log(x); defined as 0 where x == 0 (as PyTorch), so that
    # 0 ** y does not give 0 * -inf = nan for the exponent's gradient.
    zero = x == 0
    return where(zero, 0.0, out * log(where(zero, 1.0, x)))


def _pow_slope(g, x, y):
    # d(x**y)/dx = y * x**(y-1); 0 where y == 0 (x**0 is constant, even at x = 0, as
    # PyTorch) and +-inf at x = 0 for 0 < y < 1 (as sqrt), without warnings
    if isinstance(y, (int, float)):
        if y == 0:
            return g * 0
        with _B.errstate(divide="ignore"):
            return g * y * x ** (y - 1)
    with _B.errstate(divide="ignore", invalid="ignore"):
        return where(y == 0, 0.0, g * y * x ** (y - 1))


pow = _p("pow", _pow_impl,
         "x ** y, broadcasting; d/dx is 0 where y == 0, d/dy 0 where x == 0.").defvjp(
    lambda g, out, x, y: _pow_slope(g, x, y),
    lambda g, out, x, y: g * _log_base(x, out),
).defjvp(
    lambda t, out, x, y: _pow_slope(t, x, y),
    lambda t, out, x, y: t * _log_base(x, out),
)

# ---- transcendental ----
exp = _p("exp", xp.exp, "e ** x.").defvjp(
    lambda g, out, x: g * out,
).defjvp(
    lambda t, out, x: t * out,
)

log = _p("log", xp.log, "Natural logarithm.").defvjp(
    lambda g, out, x: g / x,
).defjvp(
    lambda t, out, x: t / x,
)

log1p = _p("log1p", xp.log1p, "log(1 + x), accurate for small x.").defvjp(
    lambda g, out, x: g / (x + 1),
).defjvp(
    lambda t, out, x: t / (x + 1),
)

def _sqrt_slope(g, out):
    with _B.errstate(divide="ignore"):  # +inf at 0 is the documented answer, not a mistake
        return g / (out * 2)


sqrt = _p("sqrt", xp.sqrt, "Square root. Its gradient at 0 is +inf, as in PyTorch.").defvjp(
    lambda g, out, x: _sqrt_slope(g, out),
).defjvp(
    lambda t, out, x: _sqrt_slope(t, out),
)

sin = _p("sin", xp.sin, "Sine.").defvjp(
    lambda g, out, x: g * cos(x),
).defjvp(
    lambda t, out, x: t * cos(x),
)

cos = _p("cos", xp.cos, "Cosine.").defvjp(
    lambda g, out, x: -g * sin(x),
).defjvp(
    lambda t, out, x: -t * sin(x),
)

tanh = _p("tanh", xp.tanh, "Hyperbolic tangent.").defvjp(
    lambda g, out, x: g * (1 - out * out),
).defjvp(
    lambda t, out, x: t * (1 - out * out),
)


def _sigmoid_impl(x):
    # exp of -|x| never overflows; both branches are exact in their half.
    m = array_module(x)
    e = m.exp(-m.abs(x))
    return m.where(x >= 0, 1 / (1 + e), e / (1 + e))


sigmoid = _p("sigmoid", _sigmoid_impl, "1 / (1 + exp(-x)), without overflow.").defvjp(
    lambda g, out, x: g * out * (1 - out),
).defjvp(
    lambda t, out, x: t * out * (1 - out),
)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

erf = _p("erf", _erf_impl, "The error function (accurate to ~1e-15; see ops/_erf.py).").defvjp(
    lambda g, out, x: g * _TWO_OVER_SQRT_PI * exp(-(x * x)),
).defjvp(
    lambda t, out, x: t * _TWO_OVER_SQRT_PI * exp(-(x * x)),
)

# ---- piecewise (kinks documented) ----
abs = _p("abs", xp.abs, "|x|. Gradient at 0 is 0 (sign(0) = 0), as in PyTorch.").defvjp(
    lambda g, out, x: g * sign(x),
).defjvp(
    lambda t, out, x: t * sign(x),
)

sign = _p("sign", xp.sign, "Sign of x (-1, 0 or 1); its gradient is 0 everywhere.").defvjp(
    lambda g, out, x: g * 0,
).defjvp(
    lambda t, out, x: t * 0,
)


def _select(cond, g):
    """``g`` where ``cond`` holds, else 0, as ``where`` (a NaN in ``g`` stays out of the
    zeros, as in PyTorch). On raw arrays the backend's select: NumPy's runs at the speed
    of a multiply when ``g`` is finite, a device's needs no host synchronisation.
    Recorded (Tensors: create_graph, gg.compile), it is the ``where`` primitive."""
    T = _prim.Tensor
    if isinstance(g, T) or isinstance(cond, T):
        return where(cond, g, 0.0)
    return _B.select(cond, g)


def _relu_impl(x):
    return array_module(x).maximum(x, 0)


relu = _p("relu", _relu_impl, "max(x, 0). Gradient at 0 is 0, as in PyTorch.").defvjp(
    lambda g, out, x: _select(x > 0, g),
).defjvp(
    lambda t, out, x: _select(x > 0, t),
)


def _leaky_relu_impl(x, negative_slope=0.01):
    return array_module(x).where(x > 0, x, x * negative_slope)


def _leaky_slope(g, x, negative_slope):
    return where(x > 0, g, g * negative_slope)


leaky_relu = _p("leaky_relu", _leaky_relu_impl,
                "x for x > 0, negative_slope * x otherwise (slope at 0 is negative_slope).").defvjp(
    lambda g, out, x, negative_slope=0.01: _leaky_slope(g, x, negative_slope),
).defjvp(
    lambda t, out, x, negative_slope=0.01: _leaky_slope(t, x, negative_slope),
)


def _softplus_impl(x):
    return array_module(x).logaddexp(0, x).astype(x.dtype, copy=False)


softplus = _p("softplus", _softplus_impl, "log(1 + exp(x)), without overflow.").defvjp(
    lambda g, out, x: g * sigmoid(x),
).defjvp(
    lambda t, out, x: t * sigmoid(x),
)


def _max_share(g, x, y):
    # all of g where x wins, half at ties (split evenly, as in PyTorch), else 0;
    # selected with where, not multiplied by a mask: a NaN in g must not leak into the
    # input that lost (0 * nan = nan; PyTorch gives 0 there; found by the fuzzer).
    # "x did not lose" rather than "x won": where x or y is NaN (unordered) both inputs
    # get all of g, as in PyTorch (found by the fuzzer)
    return _select(logical_not(x < y), g) - _select(x == y, g) * 0.5


maximum = _p("maximum", xp.maximum,
             "Elementwise max; at equal inputs the gradient is split evenly.").defvjp(
    lambda g, out, x, y: _max_share(g, x, y),
    lambda g, out, x, y: _max_share(g, y, x),
).defjvp(
    lambda t, out, x, y: _max_share(t, x, y),
    lambda t, out, x, y: _max_share(t, y, x),
)

minimum = _p("minimum", xp.minimum,
             "Elementwise min; at equal inputs the gradient is split evenly.").defvjp(
    lambda g, out, x, y: _max_share(g, y, x),
    lambda g, out, x, y: _max_share(g, x, y),
).defjvp(
    lambda t, out, x, y: _max_share(t, y, x),
    lambda t, out, x, y: _max_share(t, x, y),
)


def _where_impl(cond, x, y):
    return array_module(cond, x, y).where(cond, x, y)


where = _p("where", _where_impl, """where(cond, x, y): x where cond holds, else y.

The branch not taken gets a zero gradient. A NaN in the untaken branch's *gradient*
still poisons the result (0 * nan = nan): make the untaken branch's input safe first,
e.g. ``gg.where(x > 0, gg.log(gg.where(x > 0, x, 1.0)), 0.0)`` (the double-where trick).
""").defvjp(
    None,
    lambda g, out, c, x, y: where(c, g, 0.0),
    lambda g, out, c, x, y: where(c, 0.0, g),
).defjvp(
    None,
    lambda t, out, c, x, y: where(c, t, 0.0),
    lambda t, out, c, x, y: where(c, 0.0, t),
)


def _clip_impl(x, min=None, max=None):
    return array_module(x).clip(x, min, max)


def _clip_mask(x, lo, hi):
    # gradient 1 inside [lo, hi] (ends included, as PyTorch's clamp), 0 outside
    if lo is None:
        return x <= hi
    if hi is None:
        return x >= lo
    return (x >= lo) * (x <= hi)


clip = _p("clip", _clip_impl, "Clamp to [min, max]; gradient 1 inside (ends included).").defvjp(
    lambda g, out, x, min=None, max=None: _select(_clip_mask(x, min, max), g),
).defjvp(
    lambda t, out, x, min=None, max=None: _select(_clip_mask(x, min, max), t),
)

identity = _p("identity", lambda x: x, "x itself (a fresh node in the graph).").defvjp(
    lambda g, out, x: g,
).deflinear()


def _astype_impl(x, dtype):
    return x.astype(dtype, copy=False)


astype = _p("astype", _astype_impl, "Convert to another dtype.").defvjp(
    lambda g, out, x, dtype: astype(g, dtype=x.dtype),
).deflinear()

# ---- comparisons: results carry no gradient ----
less = _p("less", xp.less, "x < y", differentiable=False)
less_equal = _p("less_equal", xp.less_equal, "x <= y", differentiable=False)
greater = _p("greater", xp.greater, "x > y", differentiable=False)
greater_equal = _p("greater_equal", xp.greater_equal, "x >= y", differentiable=False)
equal = _p("equal", xp.equal, "x == y", differentiable=False)
not_equal = _p("not_equal", xp.not_equal, "x != y", differentiable=False)
logical_and = _p("logical_and", xp.logical_and, "x and y", differentiable=False)
logical_or = _p("logical_or", xp.logical_or, "x or y", differentiable=False)
logical_not = _p("logical_not", xp.logical_not, "not x", differentiable=False)
isnan = _p("isnan", xp.isnan, "NaN test", differentiable=False)
isfinite = _p("isfinite", xp.isfinite, "finite test", differentiable=False)
