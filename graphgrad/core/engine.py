"""The engine that owns the chain rule, and the functional transforms built on it.

Reverse mode walks, without recursion, the tensors that reach the target in reverse
topological order; each input of each node gets its own contribution (so ``x * x`` and
``x @ x`` are right), and contributions are summed per tensor. Broadcasting is undone
here, once, for every op. In a plain backward pass the rules run on raw arrays; with
``create_graph=True`` (or under an active ``jvp``) they run on Tensors and are recorded.
"""

from __future__ import annotations

from ..ops.shape import sum_to
from . import anomaly as _anomaly
from . import backend as _backend
from . import graph as _graph
from .backend import xp
from .errors import BackwardError, ShapeError
from .graph import format_site, topo_order
from .primitive import unwrap
from .state import current_stack, enable_grad, no_grad, tracer
from .tensor import Tensor

# ---------------------------------------------------------------- the engine ----


def _freed_error(t) -> BackwardError:
    node = t._node
    return BackwardError(
        f"backward through the graph a second time: the graph of {node.prim.name} "
        f"(created at {format_site(node.site)}) was freed by an earlier backward(). "
        "Pass retain_graph=True to the first backward() to keep it.")


def _grad_inputs(t):
    """The inputs of ``t``'s node that want a gradient (the edges backward follows)."""
    node = t._node
    if node is None:
        return ()
    inputs = node.inputs
    if inputs is None:
        raise _freed_error(t)
    return [a for a, need in zip(inputs, node.needs) if need]


def _topo_order(roots):
    """Tensors that require grad and reach ``roots``, each before the tensors it feeds."""
    return topo_order(roots, _grad_inputs)


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
            g = r if create_graph else unwrap(r)
    return g


def edge_vjp(node, i: int, g, out, args):
    """The gradient that flows along one edge: from ``node``'s output (cotangent ``g``,
    value ``out``) to its input ``i``, given the inputs ``args`` (raw arrays in a plain
    backward, Tensors when recording). The rule runs, broadcasting is undone to the
    input's shape, and a failing rule is reported with the op and the user's line. The
    engine and the explainer both take this one step; None means no gradient.
    """
    prim = node.prim
    rules = prim.vjps
    try:
        if rules is not None and i < len(rules) and rules[i] is not None:
            gi = rules[i](g, out, *args, **node.params)
        else:  # one rule for every input (concatenate, stack...) or a custom rule
            gi = prim.vjp(i, g, out, args, node.params)
    except Exception as exc:
        raise _rule_error(node, i, exc) from exc
    if gi is not None:
        ashape = node.inputs[i].data.shape
        if gi.shape != ashape:
            gi = sum_to(gi, ashape)
    return gi


def _rule_error(node, i, exc) -> BackwardError:
    return BackwardError(
        f"in the backward of {node.prim.name} (created at {format_site(node.site)}), "
        f"input {i} of shape {node.inputs[i].shape}: {type(exc).__name__}: {exc}")


def run_backward(roots, root_grads, targets=None, create_graph=False, retain_graph=False):
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
        return _Sweep(roots, root_grads, targets, create_graph, retain_graph).run()


class _Sweep:
    """One reverse sweep: the order, the gradients so far, and what to do at each node."""

    def __init__(self, roots, root_grads, targets, create_graph, retain_graph):
        self.order = _topo_order(roots)
        self.create_graph = create_graph
        self.retain_graph = retain_graph
        self.targets = targets
        self.target_ids = None
        self.reach = None
        if targets is not None:
            self._restrict(targets)
        grads = self.grads = {}
        for r, g in zip(roots, root_grads):
            k = id(r)
            grads[k] = g if k not in grads else grads[k] + g
        self.results = [None] * len(targets) if targets is not None else None
        self.handed: set = set()  # ids of arrays already made some leaf's .grad
        stack = current_stack()
        self.watchers = [i for i in stack if i.watches_backward] if stack else ()
        self.anomaly = _anomaly.active()

    def _restrict(self, targets):
        """Only nodes with a path to a target need their rules run."""
        self.target_ids = ids = {id(t): i for i, t in enumerate(targets)}
        reach = self.reach = set(ids)
        for t in self.order:
            node = t._node
            if node is not None and any(need and id(a) in reach
                                        for a, need in zip(node.inputs, node.needs)):
                reach.add(id(t))

    def run(self):  # noqa: C901 (the backward hot loop, inlined on purpose)
        """Visit the tensors outputs first; at each, run its node's rules (one edge_vjp per
        input that wants a gradient) and sum what flows into each input."""
        grads = self.grads
        target_ids = self.target_ids
        reach = self.reach
        create = self.create_graph
        free = not self.retain_graph
        watchers = self.watchers
        anomaly = self.anomaly
        for t in reversed(self.order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if t._hooks:
                g = _call_hooks(t, g, create)
            node = t._node
            if target_ids is not None:
                if not self._collect(t, node, g):
                    continue
            elif node is None:
                _accumulate_leaf(t, g, create, self.handed)
                continue
            if node.epoch != _graph.inplace_epoch:  # an in-place op ran since: check
                _check_versions(t, node)
            inputs = node.inputs
            if create:
                args, out = inputs, t
                if not isinstance(g, Tensor):
                    g = Tensor._from_array(g)
            else:
                args = [a.data if isinstance(a, Tensor) else a for a in inputs]
                out = t.data
            if watchers:
                for w in watchers:
                    w.enter_backward(node, t, g)
            needs = node.needs
            for i, a in enumerate(inputs):
                if not needs[i] or (reach is not None and id(a) not in reach):
                    continue
                gi = edge_vjp(node, i, g, out, args)
                if gi is None:
                    continue
                if anomaly is not None:
                    anomaly.check_grad(node, i, a, g, gi)
                k = id(a)
                prev = grads.get(k)
                grads[k] = gi if prev is None else prev + gi
            if watchers:
                for w in watchers:
                    w.exit_backward()
            if free:
                node.inputs = None  # free the graph (saved tensors go with it)
        return self.results

    def _collect(self, t, node, g) -> bool:
        """grad_of: keep the gradient of a target; whether ``t``'s rules must run (it has
        a node that leads to a target)."""
        i = self.target_ids.get(id(t))
        if i is not None:
            r = self.results
            r[i] = g if r[i] is None else r[i] + g
        return node is not None and id(t) in self.reach


def _accumulate_leaf(t, g, create_graph, handed):
    """Add ``g`` into the leaf's ``.grad``. The first gradient becomes a buffer the leaf
    owns; later ones are added into that same buffer, in place (as PyTorch), so that an
    optimizer or an all-reduce holding ``t.grad`` sees the sum. A recorded gradient
    (create_graph) is summed out of place, so that it stays differentiable."""
    if create_graph:
        gt = g if isinstance(g, Tensor) else Tensor._from_array(g)
        t.grad = gt if t.grad is None else t.grad + gt
        return
    if isinstance(g, Tensor):
        g = g.data
    if type(g) is not xp.ndarray and not _backend.is_array(g):  # a NumPy scalar (0-d rules)
        g = xp.asarray(g)
    held = t.grad
    if held is None:
        # own the buffer: a rule may return its input cotangent itself, shared by leaves
        if id(g) in handed or not g.flags.writeable or not g.flags.owndata:
            g = g.copy()
        handed.add(id(g))
        if g.dtype != t.data.dtype:
            g = g.astype(t.data.dtype)
        t.grad = Tensor._from_array(g)
    elif held._node is None and not held._rg and held.data.flags.writeable \
            and held.data.shape == g.shape:
        held.data += g  # same object, same buffer
    else:
        total = held.data + g
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
    g = unwrap(gradient)
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
    if tracer() is not None:  # compiling: the backward pass must be recorded too
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
    if tracer() is not None:  # compiling: the backward pass must be recorded too
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
