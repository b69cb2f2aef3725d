"""The one graph structure: a Node records how a Tensor was made.

Eager recording and symbolic tracing both produce Nodes; backward, explain, draw and
codegen all read them. A Node holds the primitive, its inputs (Tensors, or plain
numbers and arrays that need no gradient), its static parameters, which inputs need
a gradient, and the user's source line that created it.
"""

from __future__ import annotations

import os
import sys

_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# Recording the user's line costs a few frame hops per op; it can be turned off.
_record_source = True


def set_record_source(enabled: bool) -> bool:
    """Turn recording of the user's source line per node on or off; returns the old value."""
    global _record_source
    old = _record_source
    _record_source = bool(enabled)
    return old


def user_site(depth: int = 1):
    """(filename, lineno) of the first stack frame outside the graphgrad package."""
    f = sys._getframe(depth)
    pkg = _PKG_DIR
    while f is not None and f.f_code.co_filename.startswith(pkg):
        f = f.f_back
    if f is None:
        return None
    return (f.f_code.co_filename, f.f_lineno)


def format_site(site) -> str:
    if not site:
        return "<unknown>"
    return f"{os.path.basename(site[0])}:{site[1]}"


class Node:
    """How one Tensor was computed: ``prim(*inputs, **params)``."""

    __slots__ = ("prim", "inputs", "params", "needs", "site", "versions")

    def __init__(self, prim, inputs, params, needs, site, versions=None):
        self.prim = prim
        self.inputs = inputs  # tuple; None once the graph has been freed
        self.params = params
        self.needs = needs  # tuple of bools: which inputs want a gradient
        self.site = site  # (filename, lineno) of the user's line, or None
        self.versions = versions  # versions of the input tensors when saved

    @property
    def freed(self) -> bool:
        return self.inputs is None

    def __repr__(self) -> str:
        return f"<Node {self.prim.name} at {format_site(self.site)}>"
