"""Graph passes: dead code, common subexpressions, constant folding, algebraic identities.

Each pass rewrites ``graph.ops`` (a list of Vars in execution order) in place. Values are
SSA: an in-place update of a tensor is a new Var, so merging or removing ops never
reorders a read and a write. Buffer reuse happens at code generation (``codegen``),
where liveness is known.

>>> import graphgrad as gg
>>> f = gg.compile(lambda x: (x * 1 + 0).T.T + gg.exp(x) + gg.exp(x))
>>> _ = f(gg.ones((2, 3)))
>>> f.graph.count("exp"), f.graph.count("mul"), f.graph.count("transpose")
(1, 0, 0)
"""

from __future__ import annotations

import numpy as np

from ..core.backend import xp
from ..core.primitive import Rewrite
from .trace import Graph, Var, var_deps

# ------------------------------------------------------------------ helpers ----


def _rewrite(graph: Graph, rep: dict) -> None:
    """Replace uses of Vars by ``rep[id(var)]`` (a Var or a literal) everywhere."""
    if not rep:
        return

    def r(a):
        while isinstance(a, Var) and id(a) in rep:
            a = rep[id(a)]
        return a

    def rp(p):
        if isinstance(p, Var):
            return r(p)
        if isinstance(p, tuple):
            return tuple(rp(q) for q in p)
        return p

    for v in graph.ops:
        node = v._node
        node.inputs = tuple(r(a) for a in node.inputs)
        if node.params:
            node.params = {k: rp(p) for k, p in node.params.items()}
    graph.outputs = [r(o) for o in graph.outputs]
    graph.writes = [(h, r(v)) for h, v in graph.writes]
    graph.grad_writes = [(h, r(v) if v is not None else None) for h, v in graph.grad_writes]


def _materialize(graph: Graph) -> None:
    """A write or a ``.grad`` whose value became a literal gets a constant Var."""
    def fix(h, v):
        if v is None or isinstance(v, Var):
            return v
        arr = xp.broadcast_to(xp.asarray(v, dtype=h.dtype), h.shape).copy()
        return Var("const", arr.shape, arr.dtype, value=arr)

    graph.writes = [(h, fix(h, v)) for h, v in graph.writes]
    graph.grad_writes = [(h, fix(h, v)) for h, v in graph.grad_writes]


# ---------------------------------------------------------------------- DCE ----

def dce(graph: Graph) -> int:
    """Drop ops whose values reach no output, write or gradient. Returns how many."""
    live = set()
    stack = list(graph.roots())
    while stack:
        v = stack.pop()
        if id(v) in live:
            continue
        live.add(id(v))
        stack.extend(var_deps(v))
    before = len(graph.ops)
    graph.ops = [v for v in graph.ops if id(v) in live]
    # a param that is written (an optimizer's state, updated in place) stays even when
    # nothing reads it: the generated code must still write it back
    used = live | {id(h) for h, _ in graph.writes}
    graph.params = [v for v in graph.params if id(v) in used]
    return before - len(graph.ops)


# ---------------------------------------------------------------------- CSE ----

def _freeze(p):
    if isinstance(p, Var):
        return ("var", id(p))
    if isinstance(p, tuple):
        return ("tuple",) + tuple(_freeze(q) for q in p)
    if isinstance(p, list):
        return ("list",) + tuple(_freeze(q) for q in p)
    if isinstance(p, slice):
        return ("slice", p.start, p.stop, p.step)
    if isinstance(p, np.ndarray):
        return ("arr", id(p))
    if isinstance(p, dict):
        return ("dict",) + tuple((k, _freeze(q)) for k, q in sorted(p.items()))
    hash(p)
    return (type(p).__name__, p)


def cse(graph: Graph) -> int:
    """Merge ops that compute the same primitive of the same values and parameters."""
    seen: dict = {}
    rep: dict = {}
    for v in graph.ops:
        node = v._node
        node.inputs = tuple(rep.get(id(a), a) if isinstance(a, Var) else a
                            for a in node.inputs)
        try:
            key = (node.prim.name, _freeze(node.inputs), _freeze(node.params or {}))
        except TypeError:
            continue
        other = seen.get(key)
        if other is not None and other.shape == v.shape and other.dtype == v.dtype:
            rep[id(v)] = other
            if other.name is None and v.name is not None:
                other.name = v.name
        else:
            seen[key] = v
    _rewrite(graph, rep)
    graph.ops = [v for v in graph.ops if id(v) not in rep]
    return len(rep)


# ---------------------------------------------------------- constant folding ----

def _const_value(a):
    if isinstance(a, Var):
        return a.value if a.kind == "const" else None
    return a


def fold_constants(graph: Graph) -> int:
    """Evaluate, once, ops whose inputs are all constants."""
    rep: dict = {}
    for v in graph.ops:
        node = v._node
        ins = [rep.get(id(a), a) if isinstance(a, Var) else a for a in node.inputs]
        if var_deps(v) and any(isinstance(a, Var) and a.kind != "const" for a in var_deps(v)):
            continue
        if any(isinstance(a, Var) and a.kind != "const" for a in ins):
            continue
        if not any(isinstance(a, Var) for a in ins):
            continue
        try:
            val = node.prim.impl(*[_const_value(a) for a in ins], **(node.params or {}))
        except Exception:
            continue
        val = xp.asarray(val)
        if val.shape != v.shape or val.dtype != v.dtype:
            continue
        c = Var("const", val.shape, val.dtype, value=val)
        c.name = v.name
        rep[id(v)] = c
    _rewrite(graph, rep)
    graph.ops = [v for v in graph.ops if id(v) not in rep]
    return len(rep)


# ------------------------------------------------------- algebraic identities ----
# Each primitive declares its own (Primitive.defsimplify, next to its rules): x*1, x+0,
# x**1, identity, casts/reshapes/broadcasts that change nothing, reductions over size-1
# axes, transpose of a transpose, reshape of a reshape...

_MAX_REWRITES = 8  # per op and pass: each rewrite makes the op simpler, so few are needed


def _ask(v: Var):
    """What the primitive's rules make of ``v``: a value to use instead, or None; and the
    number of rewrites of ``v``'s own node done on the way."""
    node = v._node
    rewrites = 0
    while rewrites < _MAX_REWRITES:
        for rule in node.prim.simplifications:
            new = rule(v, *node.inputs, **(node.params or {}))
            if new is not None:
                break
        else:
            return None, rewrites
        if not isinstance(new, Rewrite):
            return new, rewrites
        node.prim, node.inputs, node.params = new.prim, tuple(new.inputs), dict(new.params)
        rewrites += 1
    return None, rewrites


def simplify(graph: Graph) -> int:
    """Apply the primitives' algebraic identities; returns how many ops changed."""
    rep: dict = {}
    changed = 0
    for v in graph.ops:
        node = v._node
        node.inputs = tuple(rep.get(id(a), a) if isinstance(a, Var) else a
                            for a in node.inputs)
        new, rewrites = _ask(v)
        changed += rewrites
        if new is not None:
            rep[id(v)] = new
            if isinstance(new, Var) and new.name is None and new.kind == "op":
                new.name = v.name
    _rewrite(graph, rep)
    graph.ops = [v for v in graph.ops if id(v) not in rep]
    _materialize(graph)
    return len(rep) + changed


def optimize(graph: Graph) -> Graph:
    """Run the passes to a fixed point (a few rounds at most)."""
    for _ in range(4):
        n = simplify(graph)
        n += fold_constants(graph)
        n += cse(graph)
        n += dce(graph)
        if not n:
            break
    return graph
