"""The engine that owns the chain rule, and the functional transforms built on it.

Reverse mode walks, without recursion, the tensors that reach the target in reverse
topological order; each input of each node gets its own contribution (so ``x * x`` and
``x @ x`` are right), and contributions are summed per tensor. Broadcasting is undone
here, once, for every op. In a plain backward pass the rules run on raw arrays; with
``create_graph=True`` (or under an active ``jvp``) they run on Tensors and are recorded.
"""

from __future__ import annotations

import contextlib

from ..ops.shape import sum_to
from . import anomaly as _anomaly
from . import backend as _backend
from . import graph as _graph
from . import primitive as P
from .backend import xp
from .errors import BackwardError, ShapeError
from .graph import format_site
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
    if type(g) is not xp.ndarray and not _backend.is_array(g):
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


def _sweep(roots, root_grads, targets, create_graph, retain_graph, accumulate):  # noqa: C901 (to split)
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
    if type(g) is not xp.ndarray and not _backend.is_array(g):  # a NumPy scalar (0-d rules)
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
        t.grad = Tensor._from_array(total if _backend.is_array(total) else xp.asarray(total))


def _seed(out, gradient, op="backward"):
    if gradient is None:
        if out.data.size != 1:
            raise BackwardError(
                f"{op}: the output has shape {out.shape}, not a scalar; pass `gradient` "
                "(a tensor of that shape: the vector in the vector-Jacobian product)")
        return _backend.array_module(out.data).ones(out.data.shape, dtype=out.data.dtype)
    g = _as_raw(gradient)
    g = _backend.array_module(out.data).asarray(g, dtype=out.data.dtype)  # on out's backend
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
                r = _backend.array_module(x.data).zeros(x.shape, dtype=x.dtype)
            else:
                out.append(None)
                continue
        r = _wrap(r)
        if r.dtype != x.dtype:  # a gradient has its input's dtype (as .grad does)
            r = r.astype(x.dtype) if create_graph else Tensor._from_array(
                r.data.astype(x.dtype))
        out.append(r)
    return out[0] if inputs_single else out
