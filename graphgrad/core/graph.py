"""The one graph structure: a Node records how a Tensor was made.

Eager recording and symbolic tracing both produce Nodes; backward, explain, draw and
codegen all read them. A Node holds the primitive, its inputs (Tensors, or plain
numbers and arrays that need no gradient), its static parameters, which inputs need
a gradient, and the user's source line that created it.
"""

from __future__ import annotations

import os
import sys

# graphgrad/ (this file is graphgrad/core/graph.py): frames inside it are not the user's
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

# Recording the user's line costs a few frame hops per op; it can be turned off.
_record_source = True


def set_record_source(enabled: bool) -> bool:
    """Turn recording of the user's source line per node on or off; returns the old value."""
    global _record_source
    old = _record_source
    _record_source = bool(enabled)
    return old


_getframe = sys._getframe
_CodeType = type((lambda: None).__code__)
_lines: dict = {}  # (id(code), lasti) -> (code, (filename, lineno))
_pkg_codes: dict = {}  # id(code) -> code, for graphgrad's own code objects
_last_user = None  # the user code object site_token found last


def _first_user_frame(f):
    """The first frame from ``f`` outward whose code is not graphgrad's own, or None."""
    global _last_user
    c = f.f_code
    while c is not _last_user:  # in a loop, the user's code is the one seen last time
        if _pkg_codes.get(id(c)) is not c:  # not known to be graphgrad's own code
            if not c.co_filename.startswith(_PKG_DIR):
                _last_user = c
                return f
            _pkg_codes[id(c)] = c
        f = f.f_back
        if f is None:
            return None
        c = f.f_code
    return f


def site_token(depth: int = 1):
    """The first frame outside graphgrad as a cheap ``(code, lasti)`` token, or None.

    The line number is decoded only when someone asks (``f_lineno`` decodes the line
    table, costlier than the walk).
    """
    f = _first_user_frame(_getframe(depth))
    return None if f is None else (f.f_code, f.f_lasti)


def stamp_site(node, depth: int = 1) -> None:
    """Record on ``node`` where the user created it: the code object and instruction
    offset of the first frame outside graphgrad. Two slots, no tuple: one more
    GC-tracked object per op made garbage collections measurably more frequent."""
    f = _first_user_frame(_getframe(depth))
    if f is not None:
        node._site = f.f_code
        node._lasti = f.f_lasti


def resolve_site(site):
    """Turn a ``site_token`` into ``(filename, lineno)``; other values pass unchanged."""
    if site is None or type(site[0]) is not _CodeType:
        return site
    code, lasti = site
    key = (id(code), lasti)
    hit = _lines.get(key)
    if hit is not None and hit[0] is code:
        return hit[1]
    lineno = code.co_firstlineno
    for start, end, line in code.co_lines():
        if start <= lasti < end and line is not None:
            lineno = line
            break
    resolved = (code.co_filename, lineno)
    if len(_lines) > 100_000:  # generated code in a loop: do not grow without bound
        _lines.clear()
    _lines[key] = (code, resolved)
    return resolved


def user_site(depth: int = 1):
    """(filename, lineno) of the first stack frame outside the graphgrad package."""
    return resolve_site(site_token(depth + 1))


def format_site(site) -> str:
    """``file.py:42`` for a site (or a site token); ``<unknown>`` when none was recorded."""
    site = resolve_site(site)
    if not site:
        return "<unknown>"
    return f"{os.path.basename(site[0])}:{site[1]}"


# Incremented by every in-place op; a tensor changed in place takes the new value as
# its _version. One integer compare per node then tells backward that nothing saved
# was changed since the node was made.
inplace_epoch = 0


def next_inplace_epoch() -> int:
    global inplace_epoch
    inplace_epoch += 1
    return inplace_epoch


class Node:
    """How one Tensor was computed: ``prim(*inputs, **params)``."""

    __slots__ = ("prim", "inputs", "params", "needs", "_site", "_lasti", "epoch")

    def __init__(self, prim, inputs, params, needs, site, epoch=0):
        self.prim = prim
        self.inputs = inputs  # tuple; None once the graph has been freed
        self.params = params
        self.needs = needs  # tuple of bools: which inputs want a gradient
        # (filename, lineno), a site_token, None, or a code object with its offset in
        # _lasti (set by stamp_site); decoded lazily by .site
        self._site = site
        self._lasti = 0
        # the in-place counter when this node was made: an input or output whose
        # _version (stamped by in-place ops from the same counter) is larger was
        # changed in place after being saved
        self.epoch = epoch

    @property
    def site(self):
        """(filename, lineno) of the user's line that created this node, or None."""
        s = self._site
        if type(s) is _CodeType:
            return resolve_site((s, self._lasti))
        return resolve_site(s)

    @site.setter
    def site(self, value) -> None:
        self._site = value

    @property
    def freed(self) -> bool:
        return self.inputs is None

    def __repr__(self) -> str:
        return f"<Node {self.prim.name} at {format_site(self.site)}>"


def topo_order(roots, deps) -> list:
    """Every value reachable from ``roots`` through ``deps(value)`` (the values it was
    computed from), each after all of its deps: an iterative depth-first post-order, so
    graphs of any depth work. The one walk of the package: backward, draw, gg.static and
    the compiler's passes all order a graph with it.

    >>> deps = {"e": ["c", "d"], "c": ["a", "b"], "d": ["b"]}
    >>> topo_order(["e"], lambda v: deps.get(v, ()))
    ['a', 'b', 'c', 'd', 'e']
    """
    order: list = []
    seen: set = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(deps(root)))]
        while stack:
            v, it = stack[-1]
            for d in it:
                if id(d) not in seen:
                    seen.add(id(d))
                    stack.append((d, iter(deps(d))))
                    break
            else:
                stack.pop()
                order.append(v)
    return order
