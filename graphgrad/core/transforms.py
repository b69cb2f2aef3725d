"""Functional transforms on the engine: grad, value_and_grad, vjp, jvp, jacobian,
hessian, and custom differentiation rules (custom_vjp)."""

from __future__ import annotations

import functools

from ..ops import identity
from . import backend as _backend
from . import state as _state
from .engine import _topo_order, grad_of
from .errors import BackwardError, ShapeError
from .forward import ForwardLevel, forward_active, get_tangent, set_tangent
from .primitive import unwrap
from .state import enable_grad, is_grad_enabled, tracer
from .tensor import Tensor

# ------------------------------------------------------------ functional API ----


def _argnums_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _diff_input(x):
    """A fresh tensor to differentiate with respect to, still connected to ``x``."""
    if isinstance(x, Tensor):
        with enable_grad():
            xi = identity(x)  # keeps outer graphs and forward-mode tangents attached
        if not xi._rg:
            if xi.data.dtype.kind != "f":
                raise TypeError(f"grad: cannot differentiate with respect to an input of "
                                f"dtype {xi.dtype}; only floating-point inputs have gradients")
            xi._rg = True
            xi._node = None
        return xi
    return Tensor(x, requires_grad=True)


def _needs_graph(out, xs):
    """Whether gradients must be recorded: a surrounding transform or graph wants them."""
    if forward_active() or tracer() is not None:
        return True
    if not is_grad_enabled():
        return False
    fresh = {id(x) for x in xs}
    for t in _topo_order([out]):
        if t._node is None and id(t) not in fresh:
            return True  # depends on an outer leaf (a closed-over parameter)
        if t._node is not None and any(need and id(a) in fresh and a._node is not None
                                       for a, need in zip(t._node.inputs, t._node.needs)):
            return True
    return any(x._node is not None for x in xs)


def _zeros(shape, like: Tensor) -> Tensor:
    """Zeros of ``like``'s dtype on ``like``'s backend."""
    return Tensor(_backend.array_module(like.data).zeros(shape, dtype=like.dtype))


def _to_tensor(v):
    return v if isinstance(v, Tensor) else Tensor(v)


def value_and_grad(f, argnums=0, has_aux: bool = False):
    """``value_and_grad(f)(*args) -> (f(*args), df/dargs)`` for a scalar-valued ``f``.

    >>> import graphgrad as gg
    >>> gg.value_and_grad(lambda x: x * x)(3.0)[1].item()
    6.0
    """
    nums = _argnums_tuple(argnums)

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        args = list(args)
        xs = []
        for i in nums:
            args[i] = _diff_input(args[i])
            xs.append(args[i])
        with enable_grad():
            res = f(*args, **kwargs)
        out, aux = res if has_aux else (res, None)
        out = _to_tensor(out)
        if out.data.size != 1:
            raise BackwardError(f"grad: f must return a scalar, got shape {out.shape}; use "
                                "gg.vjp or gg.jacobian for vector outputs")
        if not out._rg:
            gs = [_zeros(x.shape, x) for x in xs]
        else:
            create = _needs_graph(out, xs)
            gs = grad_of([out], xs, create_graph=create, retain_graph=create)
        g = gs[0] if isinstance(argnums, int) else tuple(gs)
        return ((out, aux), g) if has_aux else (out, g)

    return wrapped


def grad(f, argnums=0, has_aux: bool = False):
    """The gradient function of a scalar-valued ``f``; nests to any order.

    >>> import graphgrad as gg
    >>> gg.grad(gg.grad(lambda x: x ** 3))(2.0).item()
    12.0
    """
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        r = vg(*args, **kwargs)
        if has_aux:
            (_, aux), g = r
            return g, aux
        return r[1]

    return wrapped


def vjp(f, *primals):
    """``out, vjp_fn = vjp(f, *primals)``; ``vjp_fn(cotangent)`` returns one gradient per
    primal. The graph is kept, so vjp_fn may be called many times."""
    xs = [_diff_input(p) for p in primals]
    with enable_grad():
        out = _to_tensor(f(*xs))

    def vjp_fn(cotangent):
        if not out._rg:
            return tuple(_zeros(x.shape, x) for x in xs)
        create = _needs_graph(out, xs) or (isinstance(cotangent, Tensor) and cotangent._rg)
        return tuple(grad_of([out], xs, grad_outputs=[cotangent], create_graph=create,
                             retain_graph=True))

    return out, vjp_fn


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J @ tangents)`` computed from the JVP rules."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    level = ForwardLevel()
    _state.push(level)
    try:
        xs = []
        for p, t in zip(primals, tangents):
            x = identity(p) if isinstance(p, Tensor) else Tensor(p)
            t = _to_tensor(t)
            if t.shape != x.shape:
                raise ShapeError(f"jvp: tangent of shape {t.shape} for a primal of shape "
                                 f"{x.shape}")
            if t.dtype != x.dtype:
                t = t.astype(x.dtype)
            set_tangent(x, level, t)
            xs.append(x)
        out = _to_tensor(f(*xs))
        tan = get_tangent(out, level)
    finally:
        _state.pop(level)
    if tan is None:
        tan = _zeros(out.shape, out)
    return out, tan


def jacobian(f, argnums=0, mode: str = "rev"):
    """The Jacobian, shaped ``out.shape + in.shape``; mode "rev" (a VJP per output
    element) or "fwd" (a JVP per input element)."""
    nums = _argnums_tuple(argnums)
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    def wrapped(*args):
        args = [_to_tensor(a) if i in nums else a for i, a in enumerate(args)]
        jacs = []
        for i in nums:
            x = args[i]

            def fi(xi, i=i):
                a = list(args)
                a[i] = xi
                return f(*a)

            jacs.append(_jac_rev(fi, x) if mode == "rev" else _jac_fwd(fi, x))
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    return wrapped


def _stack_rows(rows, shape):
    from ..ops import reshape, stack
    return reshape(stack(rows, 0), shape)


def _jac_rev(f, x):
    out, vjp_fn = vjp(f, x)
    n = out.data.size
    rows = []
    for k in range(n):
        e = _backend.array_module(out.data).zeros(n, dtype=out.dtype)
        e[k] = 1
        rows.append(vjp_fn(Tensor._from_array(e.reshape(out.shape)))[0])
    if n == 0:
        return _zeros(out.shape + x.shape, x)
    return _stack_rows(rows, out.shape + x.shape)


def _jac_fwd(f, x):
    from ..ops import moveaxis, reshape
    n = x.data.size
    cols = []
    out = None
    for k in range(n):
        e = _backend.array_module(x.data).zeros(n, dtype=x.dtype)
        e[k] = 1
        out, t = jvp(f, (x,), (Tensor._from_array(e.reshape(x.shape)),))
        cols.append(t)
    if n == 0:
        out = _to_tensor(f(x))
        return _zeros(out.shape + x.shape, x)
    jac = _stack_rows(cols, x.shape + out.shape)  # (in..., out...)
    nin = len(x.shape)
    for _ in range(nin):  # move the input axes behind the output axes
        jac = moveaxis(jac, 0, -1)
    return reshape(jac, out.shape + x.shape)


def hessian(f, argnums=0):
    """Second derivatives of a scalar ``f``: forward-over-reverse, ``jacobian(grad(f))``.

    With a tuple ``argnums`` the result is nested as JAX's: ``H[i][j]`` holds
    d2f/(dx_i dx_j), shaped ``x_i.shape + x_j.shape``.

    >>> import graphgrad as gg
    >>> gg.hessian(lambda x: (x ** 3).sum())(gg.tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    if isinstance(argnums, int):
        return jacobian(grad(f, argnums), argnums, mode="fwd")
    nums = _argnums_tuple(argnums)

    def wrapped(*args):
        return tuple(tuple(jacobian(grad(f, i), j, mode="fwd")(*args) for j in nums)
                     for i in nums)

    return wrapped


# ------------------------------------------------------ custom differentiation ----


class custom_vjp:
    """A function with a hand-written VJP (as JAX's ``custom_vjp``).

    >>> import graphgrad as gg
    >>> @gg.custom_vjp
    ... def clip_grad_identity(x):
    ...     return x
    >>> def fwd(x): return x, None
    >>> def bwd(res, g): return (gg.clip(g, -1.0, 1.0),)
    >>> _ = clip_grad_identity.defvjp(fwd, bwd)
    >>> x = gg.tensor(2.0, requires_grad=True)
    >>> (clip_grad_identity(x) * 5).backward(); x.grad.item()
    1.0

    ``fwd(*args) -> (out, residuals)`` runs on the inputs; ``bwd(residuals, g)`` returns
    one gradient per argument (None for none). ``bwd`` should use graphgrad ops so that
    it can be differentiated again (``grad(grad(f))`` differentiates ``bwd`` and the
    residuals). Forward mode (``jvp``) differentiates ``fwd`` itself.
    """

    def __init__(self, fun):
        self.fun = fun
        self.fwd = None
        self.bwd = None
        functools.update_wrapper(self, fun)

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args):
        if self.fwd is None:
            raise RuntimeError(f"custom_vjp {self.fun.__name__}: call defvjp(fwd, bwd) first")
        if not any(isinstance(a, Tensor) and a._rg for a in args) or not is_grad_enabled():
            return self.fun(*args)
        # fwd runs on the inputs themselves, recorded: residuals computed from them stay
        # connected, so bwd can be differentiated again (grad of grad, Hessians)
        out, res = self.fwd(*args)
        out = _to_tensor(out)
        prim = _CustomRule(self, res)
        t = Tensor._from_array(out.data)
        if out._fw:  # forward mode (jvp) differentiates fwd itself
            t._fw = dict(out._fw)
        needs = tuple(isinstance(a, Tensor) and a._rg for a in args)
        from .graph import Node, user_site
        t._rg = True
        t._node = Node(prim, tuple(args), {}, needs, user_site(2))
        return t


class _CustomRule:
    """Stands in for a Primitive in a Node made by a custom_vjp call."""

    differentiable = True
    vjps = None  # no per-input rule table: the engine calls .vjp()

    def __init__(self, fn, res):
        self.fn = fn
        self.res = res
        self.name = f"custom_vjp({fn.fun.__name__})"
        self._cache = None

    def vjp(self, i, g, out, args, params):
        if self._cache is None or self._cache[0] is not g:
            gs = self.fn.bwd(self.res, g if isinstance(g, Tensor) else Tensor._from_array(g))
            if not isinstance(gs, (tuple, list)):
                gs = (gs,)
            self._cache = (g, gs)
        gi = self._cache[1][i]
        if gi is None:
            return None
        return gi if isinstance(args[i], Tensor) else unwrap(gi)

    def jvp(self, tangents, out, args, params):
        raise NotImplementedError(f"{self.name}: forward mode is not defined for a custom_vjp")
