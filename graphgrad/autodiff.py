"""The engine that owns the chain rule, and the functional transforms built on it.

Reverse mode walks, without recursion, the tensors that reach the target in reverse
topological order; each input of each node gets its own contribution (so ``x * x`` and
``x @ x`` are right), and contributions are summed per tensor. Broadcasting is undone
here, once, for every op. In a plain backward pass the rules run on raw arrays; with
``create_graph=True`` (or under an active ``jvp``) they run on Tensors and are recorded.
"""

from __future__ import annotations

import contextlib
import functools

from . import primitive as P
from .backend import xp
from .errors import BackwardError, ShapeError
from . import anomaly as _anomaly
from . import graph as _graph
from .graph import format_site
from .ops import identity
from .ops.shape import sum_to
from .tensor import Tensor

# ---------------------------------------------------------------- grad mode ----


class no_grad(contextlib.ContextDecorator):
    """Context manager (and decorator) under which ops record no graph."""

    def __enter__(self):
        self._old = P.set_grad_enabled(False)
        return self

    def __exit__(self, *exc):
        P.set_grad_enabled(self._old)
        return False


class enable_grad(contextlib.ContextDecorator):
    def __enter__(self):
        self._old = P.set_grad_enabled(True)
        return self

    def __exit__(self, *exc):
        P.set_grad_enabled(self._old)
        return False


is_grad_enabled = P.is_grad_enabled
set_grad_enabled = P.set_grad_enabled

# ---------------------------------------------------------------- the engine ----


def _freed_error(t) -> BackwardError:
    node = t._node
    return BackwardError(
        f"backward through the graph a second time: the graph of {node.prim.name} "
        f"(created at {format_site(node.site)}) was freed by an earlier backward(). "
        "Pass retain_graph=True to the first backward() to keep it.")


def _topo_order(roots):
    """Tensors that require grad and reach ``roots``, each before the tensors it feeds.

    Iterative depth-first post-order (no recursion limit): a tensor is appended once
    all the tensors it was computed from have been.
    """
    order = []
    seen = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, 0)]
        while stack:
            t, i = stack[-1]
            node = t._node
            if node is not None:
                inputs = node.inputs
                if inputs is None:
                    raise _freed_error(t)
                needs = node.needs
                n = len(inputs)
                while i < n:
                    a = inputs[i]
                    i += 1
                    if needs[i - 1] and id(a) not in seen:
                        seen.add(id(a))
                        stack[-1] = (t, i)
                        stack.append((a, 0))
                        break
                else:
                    stack.pop()
                    order.append(t)
                continue
            stack.pop()
            order.append(t)
    return order


def _hook_error(t, hook, exc) -> BackwardError:
    code = getattr(hook, "__code__", None)
    where = f" (defined at {format_site((code.co_filename, code.co_firstlineno))})" \
        if code is not None else ""
    name = getattr(hook, "__name__", type(hook).__name__)
    node = t._node
    made = (f"the output of {node.prim.name} created at {format_site(node.site)}"
            if node is not None else f"a leaf tensor of shape {t.shape}")
    return BackwardError(f"in the gradient hook {name}{where} registered on {made}: "
                         f"{type(exc).__name__}: {exc}", site=node.site if node else None)


def _check_versions(t, node):
    """Raise if the node's output or a saved input was changed in place after the node
    was made (their _version, stamped from the in-place counter, exceeds its epoch)."""
    epoch = node.epoch
    if t._version > epoch:  # rules may read the output
        raise BackwardError(
            f"the output of {node.prim.name} (created at {format_site(node.site)}), of shape "
            f"{t.shape}, was modified in place afterwards; its gradient would be wrong. Use "
            "an out-of-place op instead.", site=node.site)
    for i, a in enumerate(node.inputs):
        if isinstance(a, Tensor) and a._version > epoch:
            raise BackwardError(
                f"{node.prim.name} (created at {format_site(node.site)}) saved its input {i} "
                f"of shape {a.shape}, which was modified in place afterwards; its gradient "
                "would be wrong. Use an out-of-place op instead.", site=node.site)


def _as_raw(v):
    return v.data if isinstance(v, Tensor) else v


def _wrap(g) -> Tensor:
    """A Tensor around a raw gradient (rules on 0-d arrays may give NumPy scalars)."""
    if isinstance(g, Tensor):
        return g
    if type(g) is not xp.ndarray:
        g = xp.asarray(g)
    return Tensor._from_array(g)


def _call_hooks(t, g, create_graph):
    for hook in list(t._hooks):
        try:
            r = hook(_wrap(g))
        except Exception as exc:  # name the hook, and the op and line that made the tensor
            raise _hook_error(t, hook, exc) from exc
        if r is not None:
            g = r if create_graph else _as_raw(r)
    return g


def run_backward(roots, root_grads, targets=None, create_graph=False, retain_graph=False,
                 accumulate=True):
    """The reverse sweep.

    roots, root_grads: output tensors and their cotangents.
    targets: tensors whose gradients are returned (list, same order); None means
    accumulate into every leaf's ``.grad`` instead.

    NumPy's floating-point warnings are off during the sweep: an infinite local
    derivative times a zero (sqrt at 0, say) gives NaN exactly as in PyTorch, and a
    warning pointing into a gradient rule would only confuse; ``gg.detect_anomaly()``
    is the tool that names the op.
    """
    with xp.errstate(all="ignore"):
        return _sweep(roots, root_grads, targets, create_graph, retain_graph, accumulate)


def _sweep(roots, root_grads, targets, create_graph, retain_graph, accumulate):
    # gg.compile's tracer reads this frame's locals `node`, `t` and `g` to label the
    # backward ops it records (compile/trace.py): keep those names.
    order = _topo_order(roots)
    target_ids = None
    if targets is not None:
        target_ids = {id(t): i for i, t in enumerate(targets)}
        # only nodes with a path to a target need their rules run
        reach = set(target_ids)
        for t in order:
            node = t._node
            if node is not None and any(need and id(a) in reach
                                        for a, need in zip(node.inputs, node.needs)):
                reach.add(id(t))
    grads = {}
    for r, g in zip(roots, root_grads):
        k = id(r)
        grads[k] = g if k not in grads else grads[k] + g
    results = [None] * len(targets) if targets is not None else None
    handed = set()
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if t._hooks:
            g = _call_hooks(t, g, create_graph)
        node = t._node
        if target_ids is not None:
            i = target_ids.get(id(t))
            if i is not None:
                results[i] = g if results[i] is None else results[i] + g
        elif node is None and accumulate:
            _accumulate_leaf(t, g, create_graph, handed)
        if node is None:
            continue
        if target_ids is not None and id(t) not in reach:
            continue
        if node.epoch != _graph.inplace_epoch:  # an in-place op ran since: check
            _check_versions(t, node)
        prim, inputs, params = node.prim, node.inputs, node.params
        if create_graph:
            args, out = inputs, t
            if not isinstance(g, Tensor):
                g = Tensor._from_array(g)
        else:
            args = [a.data if isinstance(a, Tensor) else a for a in inputs]
            out = t.data
        for i, a in enumerate(inputs):
            if not node.needs[i] or (target_ids is not None and id(a) not in reach):
                continue
            try:
                rules = prim.vjps
                if rules is not None and i < len(rules) and rules[i] is not None:
                    gi = rules[i](g, out, *args, **params)
                else:
                    gi = prim.vjp(i, g, out, args, params)
            except Exception as exc:
                raise BackwardError(
                    f"in the backward of {prim.name} (created at {format_site(node.site)}), "
                    f"input {i} of shape {a.shape}: {type(exc).__name__}: {exc}") from exc
            if gi is None:
                continue
            ashape = a.data.shape
            if gi.shape != ashape:
                gi = sum_to(gi, ashape)
            if _anomaly._enabled:
                _anomaly.check_grad(node, i, a, g, gi)
            k = id(a)
            prev = grads.get(k)
            grads[k] = gi if prev is None else prev + gi
        if not retain_graph:
            node.inputs = None  # free the graph (saved tensors go with it)
    return results


def _accumulate_leaf(t, g, create_graph, handed):
    if create_graph:
        gt = g if isinstance(g, Tensor) else Tensor._from_array(g)
        t.grad = gt if t.grad is None else t.grad + gt
        return
    if isinstance(g, Tensor):
        g = g.data
    if type(g) is not xp.ndarray:  # a NumPy scalar from a rule on 0-d arrays
        g = xp.asarray(g)
    if t.grad is None:
        # own the buffer: a rule may return its input cotangent itself, shared by leaves
        if id(g) in handed or not g.flags.writeable or not g.flags.owndata:
            g = g.copy()
        handed.add(id(g))
        if g.dtype != t.data.dtype:
            g = g.astype(t.data.dtype)
        t.grad = Tensor._from_array(g)
    else:
        total = t.grad.data + g
        if total.dtype != t.data.dtype:
            total = total.astype(t.data.dtype)
        t.grad = Tensor._from_array(xp.asarray(total))


def _seed(out, gradient, op="backward"):
    if gradient is None:
        if out.data.size != 1:
            raise BackwardError(
                f"{op}: the output has shape {out.shape}, not a scalar; pass `gradient` "
                "(a tensor of that shape: the vector in the vector-Jacobian product)")
        return xp.ones(out.data.shape, dtype=out.data.dtype)
    g = _as_raw(gradient)
    g = xp.asarray(g, dtype=out.data.dtype)
    if g.shape != out.data.shape:
        raise ShapeError(f"{op}: gradient of shape {g.shape} does not match the output's "
                         f"shape {out.shape}")
    return g


def backward(tensor: Tensor, gradient=None, retain_graph=False, create_graph=False) -> None:
    """Accumulate gradients of ``tensor`` into the ``.grad`` of every leaf it depends on."""
    if not tensor._rg:
        raise BackwardError(
            "backward: this tensor does not require grad (no input had requires_grad=True, "
            "or it was computed under no_grad / detached)")
    g = _seed(tensor, gradient)
    if P._trace_hook is not None:  # compiling: the backward pass must be recorded too
        create_graph = True
    if create_graph:
        g = Tensor._from_array(g)
    with enable_grad() if create_graph else no_grad():
        run_backward([tensor], [g], None, create_graph=create_graph,
                     retain_graph=retain_graph or create_graph)


def grad_of(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
            allow_unused=False):
    """d(outputs)/d(inputs) without touching ``.grad`` (PyTorch's ``autograd.grad``)."""
    single = isinstance(outputs, Tensor)
    outputs = [outputs] if single else list(outputs)
    inputs_single = isinstance(inputs, Tensor)
    inputs = [inputs] if inputs_single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    seeds = [_seed(o, go, "grad") for o, go in zip(outputs, grad_outputs)]
    if P._trace_hook is not None:  # compiling: the backward pass must be recorded too
        create_graph = True
    if create_graph:
        seeds = [Tensor._from_array(s) for s in seeds]
    roots = [o for o in outputs if o._rg]
    seeds = [s for o, s in zip(outputs, seeds) if o._rg]
    if retain_graph is None:
        retain_graph = create_graph
    with enable_grad() if create_graph else no_grad():
        res = run_backward(roots, seeds, inputs, create_graph=create_graph,
                           retain_graph=retain_graph)
    out = []
    for x, r in zip(inputs, res):
        if r is None:
            if not allow_unused:
                r = xp.zeros(x.shape, dtype=x.dtype)
            else:
                out.append(None)
                continue
        r = _wrap(r)
        if r.dtype != x.dtype:  # a gradient has its input's dtype (as .grad does)
            r = r.astype(x.dtype) if create_graph else Tensor._from_array(
                r.data.astype(x.dtype))
        out.append(r)
    return out[0] if inputs_single else out


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
    if P.forward_active() or P._trace_hook is not None:
        return True
    if not P.is_grad_enabled():
        return False
    fresh = {id(x) for x in xs}
    for t in _topo_order([out]):
        if t._node is None and id(t) not in fresh:
            return True  # depends on an outer leaf (a closed-over parameter)
        if t._node is not None and any(need and id(a) in fresh and a._node is not None
                                       for a, need in zip(t._node.inputs, t._node.needs)):
            return True
    return any(x._node is not None for x in xs)


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
            gs = [Tensor(xp.zeros(x.shape, dtype=x.dtype)) for x in xs]
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
            return tuple(Tensor(xp.zeros(x.shape, dtype=x.dtype)) for x in xs)
        create = _needs_graph(out, xs) or (isinstance(cotangent, Tensor) and cotangent._rg)
        return tuple(grad_of([out], xs, grad_outputs=[cotangent], create_graph=create,
                             retain_graph=True))

    return out, vjp_fn


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J @ tangents)`` computed from the JVP rules."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    level = P.push_forward_level()
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
            P.set_tangent(x, level, t)
            xs.append(x)
        out = _to_tensor(f(*xs))
        tan = P.get_tangent(out, level)
    finally:
        P.pop_forward_level(level)
    if tan is None:
        tan = Tensor(xp.zeros(out.shape, dtype=out.dtype))
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
    from .ops import reshape, stack
    return reshape(stack(rows, 0), shape)


def _jac_rev(f, x):
    out, vjp_fn = vjp(f, x)
    n = out.data.size
    rows = []
    for k in range(n):
        e = xp.zeros(n, dtype=out.dtype)
        e[k] = 1
        rows.append(vjp_fn(Tensor._from_array(e.reshape(out.shape)))[0])
    if n == 0:
        return Tensor(xp.zeros(out.shape + x.shape, dtype=x.dtype))
    return _stack_rows(rows, out.shape + x.shape)


def _jac_fwd(f, x):
    from .ops import moveaxis, reshape
    n = x.data.size
    cols = []
    out = None
    for k in range(n):
        e = xp.zeros(n, dtype=x.dtype)
        e[k] = 1
        out, t = jvp(f, (x,), (Tensor._from_array(e.reshape(x.shape)),))
        cols.append(t)
    if n == 0:
        out = _to_tensor(f(x))
        return Tensor(xp.zeros(out.shape + x.shape, dtype=x.dtype))
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
        if not any(isinstance(a, Tensor) and a._rg for a in args) or not P.is_grad_enabled():
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
        return gi if isinstance(args[i], Tensor) else _as_raw(gi)

    def jvp(self, tangents, out, args, params):
        raise NotImplementedError(f"{self.name}: forward mode is not defined for a custom_vjp")
