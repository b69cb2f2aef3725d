"""Functional transforms on the engine: grad, value_and_grad, vjp, jvp, jacobian,
hessian, HIPS autograd's elementwise_grad and Hessian-vector products, and custom
differentiation rules (custom_vjp).

Every transform takes pytrees (``graphgrad.core.pytree``): an argument may be a list,
tuple, namedtuple or dict of Tensors, arrays or numbers, and its gradient comes back in
the same structure.

>>> import graphgrad as gg
>>> g = gg.grad(lambda p: (p["w"] * p["x"][0]).sum())({"w": 2.0, "x": [3.0]})
>>> g["w"].item(), g["x"][0].item()
(3.0, 2.0)
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from ..ops import identity
from . import backend as _backend
from . import state as _state
from .backend import xp
from .engine import _topo_order, grad_of
from .errors import BackwardError, ShapeError
from .forward import ForwardLevel, forward_active, get_tangent, set_tangent
from .primitive import unwrap
from .pytree import tree_flatten, tree_flatten_up_to, tree_leaves, tree_unflatten
from .state import enable_grad, is_grad_enabled, tracer
from .tensor import Tensor

# ---------------------------------------------------------- pytree arguments ----


def _argnums(argnums, argnum=None):
    """JAX's ``argnums``, or HIPS autograd's ``argnum`` when that is given."""
    return argnum if argnum is not None else argnums


def _argnums_tuple(argnums, nargs: int, name: str) -> tuple:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    out = []
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise TypeError(f"{name}: argnums={argnums!r} but the function was called with "
                            f"{nargs} positional argument(s)")
        out.append(i % nargs)
    return tuple(out)


class _Args:
    """The selected arguments of a call flattened to one list of leaves, and the way
    back: the call's arguments with new leaves, or per-leaf results in the arguments'
    structure."""

    def __init__(self, args, argnums, name: str, convert):
        self.args = list(args)
        self.argnums = argnums
        self.nums = _argnums_tuple(argnums, len(self.args), name)
        self.trees = []
        self.leaves = []
        for i in self.nums:
            ls, td = tree_flatten(self.args[i])
            self.trees.append(td)
            self.leaves.extend(convert(leaf) for leaf in ls)

    def _parts(self, leaves):
        parts, k = [], 0
        for td in self.trees:
            n = td.num_leaves
            parts.append(tree_unflatten(td, leaves[k:k + n]))
            k += n
        return parts

    def call_args(self, leaves) -> list:
        """The call's positional arguments with the selected ones rebuilt from ``leaves``."""
        args = list(self.args)
        for i, part in zip(self.nums, self._parts(leaves)):
            args[i] = part
        return args

    def structure(self, leaves):
        """``leaves`` (one per selected leaf) shaped as the selected argument(s)."""
        parts = self._parts(leaves)
        return parts[0] if isinstance(self.argnums, int) else tuple(parts)


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


def _needs_graph(outs, xs):
    """Whether gradients must be recorded: a surrounding transform or graph wants them."""
    if forward_active() or tracer() is not None:
        return True
    if not is_grad_enabled():
        return False
    fresh = {id(x) for x in xs}
    for t in _topo_order(list(outs)):
        if t._node is None and id(t) not in fresh:
            return True  # depends on an outer leaf (a closed-over parameter)
        if t._node is not None and any(need and id(a) in fresh and a._node is not None
                                       for a, need in zip(t._node.inputs, t._node.needs)):
            return True
    return any(x._node is not None for x in xs)


def _zeros(like: Tensor, shape: tuple | None = None) -> Tensor:
    """Zeros of ``like``'s dtype (and shape, unless given) on ``like``'s backend."""
    shape = like.shape if shape is None else shape
    return Tensor(_backend.array_module(like.data).zeros(shape, dtype=like.dtype))


def _to_tensor(v):
    return v if isinstance(v, Tensor) else Tensor(v)


def _grads(outs, xs, cotangents=None, retain: bool = False, create: bool = False):
    """d(outs)/d(xs) (weighted by ``cotangents``); zeros where nothing connects them."""
    live = [k for k, o in enumerate(outs) if o._rg]
    if not live:
        return [_zeros(x) for x in xs]
    roots = [outs[k] for k in live]
    cts = None if cotangents is None else [cotangents[k] for k in live]
    create = create or _needs_graph(roots, xs)
    return list(grad_of(roots, xs, grad_outputs=cts, create_graph=create,
                        retain_graph=create or retain))


# ------------------------------------------------------------ functional API ----


def value_and_grad(f: Callable, argnums=0, has_aux: bool = False, *, argnum=None) -> Callable:
    """``value_and_grad(f)(*args) -> (f(*args), df/dargs)`` for a scalar-valued ``f``.

    ``argnums`` (an int or a tuple; HIPS autograd's ``argnum`` also works) selects the
    arguments; each may be a pytree, and its gradient has its structure.

    >>> import graphgrad as gg
    >>> gg.value_and_grad(lambda x: x * x)(3.0)[1].item()
    6.0
    """
    argnums = _argnums(argnums, argnum)

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        sel = _Args(args, argnums, "grad", _diff_input)
        with enable_grad():
            res = f(*sel.call_args(sel.leaves), **kwargs)
        if has_aux:
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise TypeError("grad(has_aux=True): f must return a pair (value, aux), got "
                                f"{type(res).__name__}")
            out, aux = res
        else:
            out, aux = res, None
        out = _to_tensor(out)
        if out.data.size != 1:
            raise BackwardError(f"grad: f must return a scalar, got shape {out.shape}; use "
                                "gg.vjp or gg.jacobian for vector outputs")
        g = sel.structure(_grads([out], sel.leaves))
        return ((out, aux), g) if has_aux else (out, g)

    return wrapped


def grad(f: Callable, argnums=0, has_aux: bool = False, *, argnum=None) -> Callable:
    """The gradient function of a scalar-valued ``f``; nests to any order.

    Arguments may be pytrees (lists, tuples, dicts of Tensors, arrays or numbers); the
    gradient has the same structure.

    >>> import graphgrad as gg
    >>> gg.grad(gg.grad(lambda x: x ** 3))(2.0).item()
    12.0
    >>> gg.grad(lambda ws: ws[0] * ws[1])([2.0, 5.0])[1].item()
    2.0
    """
    vg = value_and_grad(f, argnums, has_aux, argnum=argnum)

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        r = vg(*args, **kwargs)
        if has_aux:
            (_, aux), g = r
            return g, aux
        return r[1]

    return wrapped


def _out_leaves(res, name: str):
    """f's output as Tensor leaves and its tree; a leaf that is not numeric is an error."""
    leaves, tree = tree_flatten(res)
    out = []
    for v in leaves:
        t = _to_tensor(v)
        if t.data.dtype.kind not in "biuf":
            raise TypeError(f"{name}: f returned a {type(v).__name__} among its outputs "
                            f"({tree}); outputs must be tensors, arrays or numbers")
        out.append(t)
    return out, tree


def vjp(f: Callable, *primals) -> tuple[Any, Callable]:
    """``out, vjp_fn = vjp(f, *primals)``; ``vjp_fn(cotangent)`` returns one gradient per
    primal (each shaped as its primal, a pytree for a pytree). ``out`` may be a pytree;
    the cotangent then has its structure. The graph is kept, so vjp_fn may be called
    many times.

    >>> import graphgrad as gg
    >>> out, f_vjp = gg.vjp(lambda x: x * 3.0, gg.tensor([1.0, 2.0]))
    >>> f_vjp(gg.tensor([1.0, 10.0]))[0].tolist()
    [3.0, 30.0]
    """
    sel = _Args(primals, tuple(range(len(primals))), "vjp", _diff_input)
    with enable_grad():
        res = f(*sel.call_args(sel.leaves))
    outs, out_tree = _out_leaves(res, "vjp")
    out = tree_unflatten(out_tree, outs)

    def vjp_fn(cotangent):
        try:
            cts = tree_flatten_up_to(out_tree, cotangent)
        except ValueError as e:
            raise ValueError(f"vjp: the cotangent does not have the structure of f's output "
                             f"{out_tree}: {e}") from None
        for o, c in zip(outs, cts):
            u = unwrap(c)
            cshape = tuple(u.shape) if hasattr(u, "shape") else xp.shape(u)  # lists too
            if cshape != o.shape:
                raise ShapeError(f"vjp: cotangent of shape {cshape} for an output of shape "
                                 f"{o.shape}")
        create = any(isinstance(c, Tensor) and c._rg for c in cts)
        gs = _grads(outs, sel.leaves, cts, retain=True, create=create)
        return tuple(sel._parts(gs))

    return out, vjp_fn


def _jvp_leaves(g, xs, tangents):
    """Push ``tangents`` (None: no tangent) on the leaves ``xs`` through ``g(leaves)``:
    ``(output leaves, output tree, output tangents)``."""
    level = ForwardLevel()
    _state.push(level)
    try:
        fresh = []
        for x, t in zip(xs, tangents):
            x = identity(x) if isinstance(x, Tensor) else Tensor(x)
            if t is not None:
                t = _to_tensor(t)
                if t.shape != x.shape:
                    raise ShapeError(f"jvp: tangent of shape {t.shape} for a primal of "
                                     f"shape {x.shape}")
                if t.dtype != x.dtype:
                    t = t.astype(x.dtype)
                set_tangent(x, level, t)
            fresh.append(x)
        outs, tree = _out_leaves(g(fresh), "jvp")
        tans = [get_tangent(o, level) for o in outs]
    finally:
        _state.pop(level)
    return outs, tree, [_zeros(o) if t is None else t for o, t in zip(outs, tans)]


def jvp(f: Callable, primals, tangents) -> tuple[Any, Any]:
    """Forward mode: ``(f(*primals), J @ tangents)`` computed from the JVP rules.

    ``primals`` and ``tangents`` are tuples of the same structure (pytrees allowed); the
    output tangent has the structure of ``f``'s output.

    >>> import graphgrad as gg
    >>> gg.jvp(lambda x: x * x, (3.0,), (1.0,))[1].item()
    6.0
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    sel = _Args(primals, tuple(range(len(primals))), "jvp", lambda v: v)
    ptree = tree_flatten(primals)[1]
    try:
        tl = tree_flatten_up_to(ptree, tangents)
    except ValueError as e:
        raise ValueError(f"jvp: the tangents do not have the structure of the primals "
                         f"{ptree}: {e}") from None
    outs, tree, tans = _jvp_leaves(lambda leaves: f(*sel.call_args(leaves)), sel.leaves, tl)
    return tree_unflatten(tree, outs), tree_unflatten(tree, tans)


def _one_hot(k: int, n: int, shape: tuple, dtype, like) -> Tensor:
    """The k-th basis vector of n, shaped ``shape``, on the backend of ``like``'s data."""
    e = _backend.array_module(like).zeros(n, dtype=dtype)
    e[k] = 1
    return Tensor._from_array(e.reshape(shape))


def _stack_rows(rows, shape):
    from ..ops import reshape, stack
    if not rows:
        return None
    return reshape(stack(rows, 0), shape)


def jacobian(f: Callable, argnums=0, mode: str = "rev", *, argnum=None) -> Callable:
    """The Jacobian, shaped ``out.shape + in.shape``; mode "rev" (a VJP per output
    element) or "fwd" (a JVP per input element).

    With pytrees (as JAX): the result has the structure of ``f``'s output, each output
    leaf replaced by the structure of the input(s), holding ``out.shape + in.shape``
    blocks.

    >>> import graphgrad as gg
    >>> gg.jacobian(lambda x: x * x)(gg.tensor([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    argnums = _argnums(argnums, argnum)
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    @functools.wraps(f)
    def wrapped(*args):
        sel = _Args(args, argnums, "jacobian", _to_tensor)

        def g(leaves):
            return f(*sel.call_args(leaves))

        outs, tree, J = (_jac_rev if mode == "rev" else _jac_fwd)(g, sel.leaves)
        return tree_unflatten(tree, [sel.structure(row) for row in J])

    return wrapped


def _jac_rev(g, xs):
    """``(output leaves, output tree, J)`` with ``J[k][j]`` = d out_k / d x_j."""
    xs = [_diff_input(x) for x in xs]
    with enable_grad():
        outs, tree = _out_leaves(g(xs), "jacobian")
    J = []
    for o in outs:
        n = o.data.size
        cols: list = [[] for _ in xs]
        for k in range(n):
            for j, gj in enumerate(_grads([o], xs, [_one_hot(k, n, o.shape, o.dtype, o.data)],
                                          retain=True)):
                cols[j].append(gj)
        J.append([_stack_rows(c, o.shape + x.shape) if n else
                  _zeros(x, o.shape + x.shape)
                  for c, x in zip(cols, xs)])
    return outs, tree, J


def _jac_fwd(g, xs):
    from ..ops import transpose
    per_input = []  # per input leaf: the output tangents of each of its one-hot tangents
    outs = tree = None
    for j, x in enumerate(xs):
        n = x.data.size
        runs = []
        for k in range(n):
            t = [None] * len(xs)
            t[j] = _one_hot(k, n, x.shape, x.dtype, x.data)
            outs, tree, tans = _jvp_leaves(g, xs, t)
            runs.append(tans)
        per_input.append(runs)
    if outs is None:  # every input is empty
        outs, tree = _out_leaves(g(xs), "jacobian")
    J = []
    for k, o in enumerate(outs):
        row = []
        for x, runs in zip(xs, per_input):
            if not runs:
                row.append(_zeros(x, o.shape + x.shape))
                continue
            jac = _stack_rows([r[k] for r in runs], x.shape + o.shape)  # (in..., out...)
            nin, nout = len(x.shape), len(o.shape)
            row.append(transpose(jac, tuple(range(nin, nin + nout)) + tuple(range(nin))))
        J.append(row)
    return outs, tree, J


def hessian(f: Callable, argnums=0, *, argnum=None) -> Callable:
    """Second derivatives of a scalar ``f``: forward-over-reverse, ``jacobian(grad(f))``.

    With a tuple ``argnums`` the result is nested as JAX's: ``H[i][j]`` holds
    d2f/(dx_i dx_j), shaped ``x_i.shape + x_j.shape``; pytree arguments nest the same way.

    >>> import graphgrad as gg
    >>> gg.hessian(lambda x: (x ** 3).sum())(gg.tensor([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    argnums = _argnums(argnums, argnum)
    return jacobian(grad(f, argnums), argnums, mode="fwd")


# ---------------------------------------------------- HIPS autograd's names ----


def elementwise_grad(fun: Callable, argnum: int = 0) -> Callable:
    """HIPS autograd's ``elementwise_grad``: the gradient of ``sum(fun(x))``, which is the
    elementwise derivative when ``fun`` acts elementwise. Nests to any order.

    >>> import graphgrad as gg
    >>> gg.elementwise_grad(lambda x: x ** 3)(gg.tensor([1.0, 2.0])).tolist()
    [3.0, 12.0]
    """
    from ..ops import sum as _sum

    @functools.wraps(fun)
    def total(*args, **kwargs):
        leaves = tree_leaves(fun(*args, **kwargs))
        if not leaves:
            raise TypeError("elementwise_grad: fun returned no values")
        s = _sum(_to_tensor(leaves[0]))
        for v in leaves[1:]:
            s = s + _sum(_to_tensor(v))
        return s

    return grad(total, argnum)


def _at(args, argnum: int, x):
    args = list(args)
    args[argnum] = x
    return args


def hessian_vector_product(fun: Callable, argnum: int = 0) -> Callable:
    """HIPS autograd's ``hessian_vector_product``: ``hvp(*args, vector)`` is the Hessian of
    the scalar ``fun`` with respect to argument ``argnum``, times ``vector`` (shaped as
    that argument; a pytree for a pytree). Forward-over-reverse: no Hessian is built.

    >>> import graphgrad as gg
    >>> hvp = gg.hessian_vector_product(lambda x: (x ** 3).sum())
    >>> hvp(gg.tensor([1.0, 2.0]), gg.tensor([1.0, 1.0])).tolist()
    [6.0, 12.0]
    """
    g = grad(fun, argnum)

    def hvp(*args_and_vector):
        *args, vector = args_and_vector
        if not -len(args) <= argnum < len(args):
            raise TypeError(f"hessian_vector_product: argnum={argnum} but the function was "
                            f"called with {len(args)} argument(s) before the vector")
        return jvp(lambda x: g(*_at(args, argnum, x)), (args[argnum],), (vector,))[1]

    return hvp


hessian_tensor_product = hessian_vector_product  # HIPS autograd's other name


def make_hvp(fun: Callable, argnum: int = 0) -> Callable:
    """HIPS autograd's ``make_hvp``: ``make_hvp(fun)(*args) -> (hvp, grad_value)`` where
    ``hvp(v)`` is the Hessian at ``args`` times ``v``; the gradient's graph is built once
    and reused for every ``v``.

    >>> import graphgrad as gg
    >>> hvp, g = gg.make_hvp(lambda x: (x ** 3).sum())(gg.tensor([1.0, 2.0]))
    >>> hvp(gg.tensor([1.0, 0.0])).tolist(), g.tolist()
    ([6.0, 0.0], [3.0, 12.0])
    """
    g = grad(fun, argnum)

    def at(*args):
        out, f_vjp = vjp(lambda x: g(*_at(args, argnum, x)), args[argnum])
        return (lambda v: f_vjp(v)[0]), out  # a Hessian is symmetric: its VJP is the HVP

    return at


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
