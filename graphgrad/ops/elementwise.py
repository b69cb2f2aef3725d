"""Elementwise primitives: forward, VJP and JVP side by side.

Rules receive ``g`` (the output's cotangent) or ``t`` (an input's tangent), ``out`` (the
forward result) and the forward inputs. They use operators and graphgrad ops only, so
they run on raw arrays in a plain backward pass and on Tensors when differentiated
again. Broadcasting is undone by the engine, never here.
"""

from __future__ import annotations

import math
import numbers

from ..core import backend as _B
from ..core import primitive as _prim
from ..core.backend import array_module, xp
from ..core.errors import diagnose_broadcast
from ..core.primitive import Primitive
from ._erf import erf as _erf_impl
from ._simplify import unchanged, unit

# ---- arithmetic ----
add = Primitive("add", xp.add, doc="x + y, broadcasting.").defvjp(
    lambda g, out, x, y: g,
    lambda g, out, x, y: g,
).defjvp(
    lambda t, out, x, y: t,
    lambda t, out, x, y: t,
).defcodegen("{0} + {1}", ufunc="np.add").defsimplify(unit(0, commutative=True)).defdiagnose(
    diagnose_broadcast("+"))

sub = Primitive("sub", xp.subtract, doc="x - y, broadcasting.").defvjp(
    lambda g, out, x, y: g,
    lambda g, out, x, y: -g,
).defjvp(
    lambda t, out, x, y: t,
    lambda t, out, x, y: -t,
).defcodegen("{0} - {1}", ufunc="np.subtract").defsimplify(unit(0)).defdiagnose(
    diagnose_broadcast("-"))

mul = Primitive("mul", xp.multiply, doc="x * y, broadcasting.").defvjp(
    lambda g, out, x, y: g * y,
    lambda g, out, x, y: g * x,
).defjvp(
    lambda t, out, x, y: t * y,
    lambda t, out, x, y: x * t,
).defcodegen("{0} * {1}", ufunc="np.multiply").defsimplify(unit(1, commutative=True)).defdiagnose(
    diagnose_broadcast("*"))

div = Primitive("div", xp.true_divide, doc="x / y, broadcasting.").defvjp(
    lambda g, out, x, y: g / y,
    lambda g, out, x, y: -g * out / y,
).defjvp(
    lambda t, out, x, y: t / y,
    lambda t, out, x, y: -t * out / y,
).defcodegen("{0} / {1}", ufunc="np.true_divide").defsimplify(unit(1)).defdiagnose(
    diagnose_broadcast("/"))

neg = Primitive("neg", xp.negative, doc="-x.").defvjp(
    lambda g, out, x: -g,
).deflinear().defcodegen("-{0}", ufunc="np.negative")


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


pow = Primitive("pow", _pow_impl,
                doc="x ** y, broadcasting; d/dx is 0 where y == 0, d/dy 0 where x == 0.").defvjp(
    lambda g, out, x, y: _pow_slope(g, x, y),
    lambda g, out, x, y: g * _log_base(x, out),
).defjvp(
    lambda t, out, x, y: _pow_slope(t, x, y),
    lambda t, out, x, y: t * _log_base(x, out),
).defcodegen(ufunc="np.power").defsimplify(unit(1)).defdiagnose(diagnose_broadcast("**"))


# ---- two-argument functions ----
def _atan2_scale(g, y, x):
    return g / (x * x + y * y)


atan2 = Primitive("atan2", xp.arctan2, doc="""atan2(y, x): the angle of the point (x, y), in
[-pi, pi], broadcasting. Its gradient at the origin is NaN (0/0), as in PyTorch.

>>> import graphgrad as gg
>>> round(float(gg.atan2(gg.tensor(1.0), gg.tensor(1.0))), 4)
0.7854
""").defvjp(
    lambda g, out, y, x: _atan2_scale(g, y, x) * x,
    lambda g, out, y, x: -_atan2_scale(g, y, x) * y,
).defjvp(
    lambda t, out, y, x: _atan2_scale(t, y, x) * x,
    lambda t, out, y, x: -_atan2_scale(t, y, x) * y,
).defcodegen(ufunc="np.arctan2").defdiagnose(diagnose_broadcast())

logaddexp = Primitive("logaddexp", xp.logaddexp, doc="""log(exp(x) + exp(y)), broadcasting,
without overflow; its gradients exp(x - out), exp(y - out) stay in [0, 1].

>>> import graphgrad as gg
>>> float(gg.logaddexp(gg.tensor(1000.0), gg.tensor(1000.0))) > 1000
True
""").defvjp(
    lambda g, out, x, y: g * exp(x - out),
    lambda g, out, x, y: g * exp(y - out),
).defjvp(
    lambda t, out, x, y: t * exp(x - out),
    lambda t, out, x, y: t * exp(y - out),
).defcodegen(ufunc="np.logaddexp").defdiagnose(diagnose_broadcast())


def _hypot_share(g, x, out):
    # x / out, with 0 at the origin (out == 0) rather than 0/0: the subgradient gg.norm
    # uses there too (PyTorch's hypot gives NaN)
    zero = out == 0
    return g * where(zero, 0.0, x / where(zero, 1.0, out))


hypot = Primitive("hypot", xp.hypot, doc="""sqrt(x**2 + y**2), broadcasting, without
overflow; its gradient at the origin is 0 (as gg.norm's).

>>> import graphgrad as gg
>>> float(gg.hypot(gg.tensor(3.0), gg.tensor(4.0)))
5.0
""").defvjp(
    lambda g, out, x, y: _hypot_share(g, x, out),
    lambda g, out, x, y: _hypot_share(g, y, out),
).defjvp(
    lambda t, out, x, y: _hypot_share(t, x, out),
    lambda t, out, x, y: _hypot_share(t, y, out),
).defcodegen(ufunc="np.hypot").defdiagnose(diagnose_broadcast())

# ---- transcendental ----
exp = Primitive("exp", xp.exp, doc="e ** x.").defvjp(
    lambda g, out, x: g * out,
).defjvp(
    lambda t, out, x: t * out,
).defcodegen(ufunc="np.exp")

log = Primitive("log", xp.log, doc="Natural logarithm.").defvjp(
    lambda g, out, x: g / x,
).defjvp(
    lambda t, out, x: t / x,
).defcodegen(ufunc="np.log")

log1p = Primitive("log1p", xp.log1p, doc="log(1 + x), accurate for small x.").defvjp(
    lambda g, out, x: g / (x + 1),
).defjvp(
    lambda t, out, x: t / (x + 1),
).defcodegen(ufunc="np.log1p")

def _sqrt_slope(g, out):
    with _B.errstate(divide="ignore"):  # +inf at 0 is the documented answer, not a mistake
        return g / (out * 2)


sqrt = Primitive("sqrt", xp.sqrt,
                 doc="Square root. Its gradient at 0 is +inf, as in PyTorch.").defvjp(
    lambda g, out, x: _sqrt_slope(g, out),
).defjvp(
    lambda t, out, x: _sqrt_slope(t, out),
).defcodegen(ufunc="np.sqrt")

sin = Primitive("sin", xp.sin, doc="Sine.").defvjp(
    lambda g, out, x: g * cos(x),
).defjvp(
    lambda t, out, x: t * cos(x),
).defcodegen(ufunc="np.sin")

cos = Primitive("cos", xp.cos, doc="Cosine.").defvjp(
    lambda g, out, x: -g * sin(x),
).defjvp(
    lambda t, out, x: -t * sin(x),
).defcodegen(ufunc="np.cos")

tanh = Primitive("tanh", xp.tanh, doc="Hyperbolic tangent.").defvjp(
    lambda g, out, x: g * (1 - out * out),
).defjvp(
    lambda t, out, x: t * (1 - out * out),
).defcodegen(ufunc="np.tanh")


def _sigmoid_impl(x):
    # exp of -|x| never overflows; both branches are exact in their half.
    m = array_module(x)
    e = m.exp(-m.abs(x))
    return m.where(x >= 0, 1 / (1 + e), e / (1 + e))


sigmoid = Primitive("sigmoid", _sigmoid_impl, doc="1 / (1 + exp(-x)), without overflow.").defvjp(
    lambda g, out, x: g * out * (1 - out),
).defjvp(
    lambda t, out, x: t * out * (1 - out),
)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

erf = Primitive("erf", _erf_impl,
                doc="The error function (accurate to ~1e-15; see ops/_erf.py).").defvjp(
    lambda g, out, x: g * _TWO_OVER_SQRT_PI * exp(-(x * x)),
).defjvp(
    lambda t, out, x: t * _TWO_OVER_SQRT_PI * exp(-(x * x)),
)

# ---- piecewise (kinks documented) ----
abs = Primitive("abs", xp.abs, doc="|x|. Gradient at 0 is 0 (sign(0) = 0), as in PyTorch.").defvjp(
    lambda g, out, x: g * sign(x),
).defjvp(
    lambda t, out, x: t * sign(x),
).defcodegen(ufunc="np.abs")

sign = Primitive("sign", xp.sign,
                 doc="Sign of x (-1, 0 or 1); its gradient is 0 everywhere.").defvjp(
    lambda g, out, x: g * 0,
).defjvp(
    lambda t, out, x: t * 0,
).defcodegen(ufunc="np.sign")


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


relu = Primitive("relu", _relu_impl, doc="max(x, 0). Gradient at 0 is 0, as in PyTorch.").defvjp(
    lambda g, out, x: _select(x > 0, g),
).defjvp(
    lambda t, out, x: _select(x > 0, t),
).defcodegen("np.maximum({0}, 0)", out="np.maximum({0}, 0, out={out})", inplace=True)


def _leaky_relu_impl(x, negative_slope=0.01):
    return array_module(x).where(x > 0, x, x * negative_slope)


def _leaky_slope(g, x, negative_slope):
    return where(x > 0, g, g * negative_slope)


leaky_relu = Primitive("leaky_relu", _leaky_relu_impl,
                       doc="x for x > 0, negative_slope * x otherwise (slope at 0 is "
                           "negative_slope).").defvjp(
    lambda g, out, x, negative_slope=0.01: _leaky_slope(g, x, negative_slope),
).defjvp(
    lambda t, out, x, negative_slope=0.01: _leaky_slope(t, x, negative_slope),
)


def _softplus_impl(x):
    return array_module(x).logaddexp(0, x).astype(x.dtype, copy=False)


softplus = Primitive("softplus", _softplus_impl, doc="log(1 + exp(x)), without overflow.").defvjp(
    lambda g, out, x: g * sigmoid(x),
).defjvp(
    lambda t, out, x: t * sigmoid(x),
).defcodegen("np.logaddexp(0.0, {0})", out="np.logaddexp(0.0, {0}, out={out})", inplace=True)


def _max_share(g, x, y):
    # all of g where x wins, half at ties (split evenly, as in PyTorch), else 0;
    # selected with where, not multiplied by a mask: a NaN in g must not leak into the
    # input that lost (0 * nan = nan; PyTorch gives 0 there; found by the fuzzer).
    # "x did not lose" rather than "x won": where x or y is NaN (unordered) both inputs
    # get all of g, as in PyTorch (found by the fuzzer)
    return _select(logical_not(x < y), g) - _select(x == y, g) * 0.5


maximum = Primitive("maximum", xp.maximum,
                    doc="Elementwise max; at equal inputs the gradient is split evenly.").defvjp(
    lambda g, out, x, y: _max_share(g, x, y),
    lambda g, out, x, y: _max_share(g, y, x),
).defjvp(
    lambda t, out, x, y: _max_share(t, x, y),
    lambda t, out, x, y: _max_share(t, y, x),
).defcodegen(ufunc="np.maximum").defdiagnose(diagnose_broadcast())

minimum = Primitive("minimum", xp.minimum,
                    doc="Elementwise min; at equal inputs the gradient is split evenly.").defvjp(
    lambda g, out, x, y: _max_share(g, y, x),
    lambda g, out, x, y: _max_share(g, x, y),
).defjvp(
    lambda t, out, x, y: _max_share(t, y, x),
    lambda t, out, x, y: _max_share(t, x, y),
).defcodegen(ufunc="np.minimum").defdiagnose(diagnose_broadcast())


_WHERE_INTO = '''def _where_into(cond, x, y):
    """np.where(cond, x, y) written into x (x is not needed afterwards)."""
    if np.ndim(y) == 0 and y == 0 and np.isfinite(np.sum(x)):
        return np.multiply(x, cond, out=x)  # same result, ~20x faster than a masked copy
    np.copyto(x, y, where=np.logical_not(cond))
    return x
'''


def _where_into_source(em, a, p, out):
    return f"{em.add_helper('_where_into', _WHERE_INTO)}({a[0]}, {out}, {a[2]})"


def _where_into_input(inputs):
    """where(c, x, 0.0): the result may overwrite x (when x dies there)."""
    return 1 if isinstance(inputs[2], numbers.Number) else None


def _where_impl(cond, x, y):
    return array_module(cond, x, y).where(cond, x, y)


where = Primitive("where", _where_impl, doc="""where(cond, x, y): x where cond holds, else y.

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
).defcodegen("np.where({0}, {1}, {2})", out=_where_into_source, fresh=True,
             into=_where_into_input).defdiagnose(diagnose_broadcast())


def _clip_impl(x, min=None, max=None):
    return array_module(x).clip(x, min, max)


# clamp with bounds that are numbers, None or tensors (broadcasting), as torch.clamp: the
# gradient goes to x inside [lo, hi] (ends included), to lo below it and to hi above it;
# where lo > hi the result is hi and all of it goes to hi (torch's backward rules, ties
# included). The JVP is the same linear map (torch's forward mode differs at ties).
def _clip_mask(x, lo, hi):
    if lo is None:
        return x <= hi
    if hi is None:
        return x >= lo
    return (x >= lo) * (x <= hi)  # and, of two masks (a multiply: out= may reuse one)


def _clip_lo_mask(x, lo, hi):
    if hi is None:
        return x < lo
    return (x < lo) * (lo < hi)


def _clip_hi_mask(x, lo, hi):
    if lo is None:
        return x > hi
    return logical_or(x > hi, hi < lo)


clip_p = Primitive("clip", _clip_impl, doc="clip(x, lo, hi): x clamped to [lo, hi].").defvjp(
    lambda g, out, x, lo, hi: _select(_clip_mask(x, lo, hi), g),
    lambda g, out, x, lo, hi: _select(_clip_lo_mask(x, lo, hi), g),
    lambda g, out, x, lo, hi: _select(_clip_hi_mask(x, lo, hi), g),
).defjvp(
    lambda t, out, x, lo, hi: _select(_clip_mask(x, lo, hi), t),
    lambda t, out, x, lo, hi: _select(_clip_lo_mask(x, lo, hi), t),
    lambda t, out, x, lo, hi: _select(_clip_hi_mask(x, lo, hi), t),
).defcodegen("np.clip({0}, {1}, {2})", fresh=True).defdiagnose(diagnose_broadcast())


def clip(x, min=None, max=None):
    """Clamp ``x`` to ``[min, max]`` (PyTorch's ``clamp``); either bound may be None, a
    number or a tensor (bounds broadcast against ``x``). The gradient goes to ``x``
    inside the interval (ends included), to ``min`` below it, to ``max`` above it.

    >>> import graphgrad as gg
    >>> gg.clip(gg.tensor([-2.0, 0.5, 3.0]), -1.0, gg.tensor([1.0, 1.0, 2.0])).tolist()
    [-1.0, 0.5, 2.0]
    """
    if min is None and max is None:
        raise ValueError("clip: give min, max or both (both are None)")
    return clip_p(x, min, max)


identity = Primitive("identity", lambda x: x, doc="x itself (a fresh node in the graph).").defvjp(
    lambda g, out, x: g,
).deflinear().defcodegen("{0}").defsimplify(unchanged)


def _astype_impl(x, dtype):
    return x.astype(dtype, copy=False)


astype = Primitive("astype", _astype_impl, doc="Convert to another dtype.").defvjp(
    lambda g, out, x, dtype: astype(g, dtype=x.dtype),
).deflinear().defcodegen(
    lambda em, a, p: f"{a[0]}.astype({em.lit(p['dtype'])}, copy=False)",
).defsimplify(unchanged)

# ---- comparisons: results carry no gradient ----
_broadcast = diagnose_broadcast()


def _compare(name, impl, doc, source, fresh=True):
    return Primitive(name, impl, doc=doc, differentiable=False).defcodegen(
        source, fresh=fresh).defdiagnose(_broadcast)


less = _compare("less", xp.less, "x < y", "{0} < {1}")
less_equal = _compare("less_equal", xp.less_equal, "x <= y", "{0} <= {1}")
greater = _compare("greater", xp.greater, "x > y", "{0} > {1}")
greater_equal = _compare("greater_equal", xp.greater_equal, "x >= y", "{0} >= {1}")
equal = _compare("equal", xp.equal, "x == y", "np.equal({0}, {1})")
not_equal = _compare("not_equal", xp.not_equal, "x != y", "np.not_equal({0}, {1})")
logical_and = _compare("logical_and", xp.logical_and, "x and y", "np.logical_and({0}, {1})",
                       fresh=False)
logical_or = _compare("logical_or", xp.logical_or, "x or y", "np.logical_or({0}, {1})",
                      fresh=False)
logical_not = Primitive("logical_not", xp.logical_not, doc="not x",
                        differentiable=False).defcodegen("np.logical_not({0})")
isnan = Primitive("isnan", xp.isnan, doc="NaN test", differentiable=False).defcodegen(
    "np.isnan({0})")
isfinite = Primitive("isfinite", xp.isfinite, doc="finite test",
                     differentiable=False).defcodegen("np.isfinite({0})")


# PyTorch's type promotion (core/dtypes.py) applies to every elementwise op but the cast
for _op in [v for v in list(globals().values()) if isinstance(v, Primitive)]:
    _op.promotes = _op is not astype
del _op
