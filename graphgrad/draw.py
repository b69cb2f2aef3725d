"""Pictures of graphs: Graphviz DOT source for eager and compiled graphs, and rendering.

``to_dot`` reads the one graph structure (``graphgrad.core.graph.Node``: primitive, inputs,
params, the user's line) whichever way it was made: an eager Tensor's recorded history, a
list of tensors sharing subgraphs, or the traced graph of a ``gg.compile``'d function
(``step.graph``). One box per op, one ellipse per leaf (input, parameter, constant); edges
run from inputs to the ops that read them, labelled with the argument position when an op
reads more than one tensor. The walk is iterative (no recursion limit) and the output is
deterministic: nodes are numbered ``n0, n1, ...`` in topological order.

``draw`` writes the DOT text (``path`` ending in ``.dot``/``.gv``: needs nothing else) or
renders it with the optional ``graphviz`` package and Graphviz's ``dot`` program
(``pip install graphgrad[draw]``, plus the system package ``graphviz``).

>>> import graphgrad as gg
>>> a = gg.Tensor(2.0, requires_grad=True, name="a")
>>> print(gg.to_dot(a * a).splitlines()[4])
  n0 [shape=ellipse, style=filled, fillcolor="#fff2cc", label="a\\n() float32\\nrequires_grad"];
"""

from __future__ import annotations

import os

import numpy as np

from .compiler.api import Compiled
from .compiler.trace import GradOf, Graph, Var
from .core.graph import format_site, topo_order
from .core.tensor import Tensor

__all__ = ["GraphvizNotFoundError", "draw", "to_dot"]

_OP_FILL = {"forward": "#dbe9f6", "backward": "#fde2e2", "update": "#e4dcf4"}
_LEAF_FILL = {"input": "#e2f0d9", "param": "#fff2cc", "rg": "#fff2cc", "leaf": "#f2f2f2",
              "const": "#ffffff", "external": "#f2f2f2"}
_MAX_TEXT = 40  # longest parameter / literal text shown in a label


class GraphvizNotFoundError(ImportError):
    """Rendering needs the ``graphviz`` Python package and Graphviz's ``dot`` program."""


# ------------------------------------------------------------------ text helpers ----

def _escape(text: str) -> str:
    r"""``text`` as the inside of a DOT double-quoted string; newlines become ``\n``.

    >>> _escape('say "hi"\\now')
    'say \\"hi\\"\\\\now'
    """
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    text = " ".join(text.split())  # one line
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _short(value) -> str:
    """A literal argument or a static parameter, briefly."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return f"array {tuple(value.shape)} {value.dtype}"
        value = value.reshape(())[()]
    if isinstance(value, np.generic):  # str: float32(0.2) as 0.2, not 0.20000000298...
        return _clip(str(value))
    if isinstance(value, np.dtype):
        return str(value)
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    return _clip(repr(value))


def _values(arr) -> str:
    arr = np.asarray(arr)
    with np.printoptions(precision=4, threshold=6, edgeitems=2, suppress=True):
        text = np.array2string(arr, separator=", ")
    return _clip(text, 60)


_shape_dtype_text: dict = {}


def _shape_dtype(obj) -> str:
    key = (obj.shape, obj.dtype)
    text = _shape_dtype_text.get(key)
    if text is None:
        if len(_shape_dtype_text) > 10_000:
            _shape_dtype_text.clear()
        text = _shape_dtype_text[key] = f"{tuple(obj.shape)} {np.dtype(obj.dtype).name}"
    return text


# --------------------------------------------------------------- graph structure ----

_VALUE = (Tensor, Var)


def _is_value(obj) -> bool:
    return isinstance(obj, _VALUE)


def _collect(obj, key, out: list) -> None:
    """Tensors and Vars inside a static parameter (as ``(key, value)`` pairs)."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if _is_value(o):
            out.append((key, o))
        elif isinstance(o, (tuple, list)):
            stack.extend(reversed(o))
        elif isinstance(o, dict):
            stack.extend(reversed(list(o.values())))


def _node_of(obj):
    """The op Node that computed ``obj``, or None for a leaf."""
    if isinstance(obj, Var):
        return obj._node if obj.kind == "op" else None
    return obj._node


def _deps(obj) -> list:
    """``(argument label, value)`` for each tensor/Var an op reads, in argument order."""
    node = _node_of(obj)
    if node is None or node.inputs is None:
        return []
    out = [(i, a) for i, a in enumerate(node.inputs) if isinstance(a, _VALUE)]
    if node.params:
        for k, p in node.params.items():
            _collect(p, k, out)
    return out


def _topo(roots: list):
    """Every value reachable from ``roots``, inputs before users (the one graph walk).

    Returns the values in order, ``id(value) -> position`` and ``id(value) -> _deps``.
    """
    deps: dict = {}

    def values(obj):
        d = deps.get(id(obj))
        if d is None:
            d = deps[id(obj)] = _deps(obj)
        return [v for _, v in d]

    order = topo_order(roots, values)
    for obj in order:  # leaves too, so that every value has its (empty) list
        values(obj)
    index = {id(o): i for i, o in enumerate(order)}
    return order, index, deps


# ------------------------------------------------------------------------ labels ----

def _leaf_attrs(obj, show_values: bool) -> tuple[str, str, str]:
    """(label, fill colour, style) of an ellipse."""
    lines = []
    if isinstance(obj, Var):
        kind = obj.kind
        ref = obj.ref
        if isinstance(ref, GradOf):
            lines.append(obj.name or "grad")
            lines.append(_shape_dtype(obj))
            lines.append(f"param: .grad of {ref.holder.name or 'a tensor'}")
        else:
            title = obj.name or kind
            if kind == "input" and obj.index is not None:
                lines += [title, _shape_dtype(obj), f"input {obj.index}"]
            elif kind == "const":
                lines += [title, _shape_dtype(obj)]
                if obj.value is not None and np.size(obj.value) == 1:
                    lines.append("= " + _short(np.asarray(obj.value)))
            else:
                lines += [title, _shape_dtype(obj), kind]
            if isinstance(ref, Tensor) and ref.requires_grad:
                lines.append("requires_grad")
        if show_values:
            data = obj.value if kind == "const" and np.size(obj.value) != 1 else None
            if isinstance(ref, Tensor):
                data = ref.data
            elif isinstance(ref, GradOf) and ref.holder.grad is not None:
                data = ref.holder.grad.data
            if data is not None:
                lines.append(_values(data))
        style = "dashed" if kind == "const" else "filled"
        return "\n".join(lines), _LEAF_FILL.get(kind, "#f2f2f2"), style
    cls = type(obj).__name__
    lines.append(obj.name or (cls.lower() if cls != "Tensor" else "leaf"))
    lines.append(_shape_dtype(obj))
    if obj.name and cls != "Tensor":
        lines.append(cls)
    if obj.requires_grad:
        lines.append("requires_grad")
    if show_values:
        lines.append(_values(obj.data))
    return "\n".join(lines), _LEAF_FILL["rg" if obj.requires_grad else "leaf"], "filled"


def _op_attrs(obj, show_values: bool) -> tuple[str, str]:
    """(label, fill colour) of a box."""
    node = obj._node
    prim = getattr(node.prim, "name", type(node.prim).__name__)
    name = obj.name
    lines = [f"{name} = {prim}" if name else prim, _shape_dtype(obj)]
    if node.inputs is None:
        lines.append("(graph freed)")
    else:
        for i, a in enumerate(node.inputs):
            if not isinstance(a, _VALUE):
                lines.append(f"arg{i} = {_short(a)}")
    for k, p in (node.params or {}).items():
        found: list = []
        _collect(p, k, found)
        if not found:
            lines.append(f"{k}={_short(p)}")
    phase = "forward"
    if isinstance(obj, Var):
        phase = obj.phase
        if phase == "backward":
            ctx = obj.ctx
            what = "backward"
            if ctx is not None and ctx._node is not None:
                what += f" of {ctx.name + ' = ' if ctx.name else ''}{ctx._node.prim.name}"
            lines.append(what)
        elif phase == "update":
            lines.append("update")
        site = obj.site or node.site
    else:
        site = node.site
    if site:
        lines.append(format_site(site))
    if show_values and isinstance(obj, Tensor):
        lines.append(_values(obj.data))
    return "\n".join(lines), _OP_FILL.get(phase, _OP_FILL["forward"])


# ------------------------------------------------------------------------ to_dot ----

def _roots(obj):
    """(graph name, roots to walk from, the traced Graph or None, output values)."""
    if isinstance(obj, Compiled):
        obj = obj.graph
    if isinstance(obj, Graph):
        outs = [v for v in obj.outputs if isinstance(v, Var)]
        return obj.fn_name, list(obj.inputs) + list(obj.params) + obj.roots(), obj, outs
    if _is_value(obj):
        return "graphgrad", [obj], None, [obj]
    if isinstance(obj, (list, tuple)):
        bad = [type(o).__name__ for o in obj if not _is_value(o)]
        if not bad:
            return "graphgrad", list(obj), None, list(obj)
        raise TypeError(f"to_dot: a list or tuple must hold tensors only, got {bad[0]}")
    raise TypeError("to_dot: expected a Tensor, a list/tuple of Tensors, a compiled function "
                    f"(gg.compile) or its .graph, got {type(obj).__name__}")


def to_dot(obj, show_values: bool = False) -> str:
    r"""Graphviz DOT source of a graph.

    ``obj`` is a Tensor (its recorded history is drawn), a list or tuple of Tensors (shared
    subgraphs drawn once), a compiled function's ``.graph`` or the compiled function itself
    (its most recently traced graph). Ops are boxes (op, output shape and dtype, the user's
    ``file:line``); leaves, inputs, parameters and constants are ellipses (name, shape,
    dtype, ``requires_grad``). Edges go from inputs to ops and carry the argument position
    when an op reads more than one tensor. In a compiled graph, ops are coloured by phase
    (forward, backward, update), outputs have a double border, and dashed edges show the
    values written back into parameters (``write``) and into their ``.grad``.
    ``show_values`` adds a short print of the data.

    >>> import graphgrad as gg
    >>> x = gg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    >>> dot = gg.to_dot(gg.sum(x * x))
    >>> [line.strip() for line in dot.splitlines() if "->" in line]
    ['n0 -> n1 [label="0"];', 'n0 -> n1 [label="1"];', 'n1 -> n2;']
    """
    title, roots, graph, outs = _roots(obj)
    order, index, deps = _topo(roots)
    out_pos: dict = {}
    for k, v in enumerate(outs):
        out_pos.setdefault(id(v), []).append(k)
    lines = [f'digraph "{_escape(title)}" {{',
             "  graph [rankdir=TB];",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];',
             ]
    edges = []
    for i, obj_ in enumerate(order):
        extra = ""
        if id(obj_) in out_pos:
            extra = ", peripheries=2"
            if graph is not None:
                extra += f', xlabel="{_escape("output " + ", ".join(map(str, out_pos[id(obj_)])))}"'
        if _node_of(obj_) is None:
            label, fill, style = _leaf_attrs(obj_, show_values)
            lines.append(f'  n{i} [shape=ellipse, style={style}, fillcolor="{fill}", '
                         f'label="{_escape(label)}"{extra}];')
        else:
            label, fill = _op_attrs(obj_, show_values)
            lines.append(f'  n{i} [shape=box, style=filled, fillcolor="{fill}", '
                         f'label="{_escape(label)}"{extra}];')
            d = deps[id(obj_)]
            many = len(d) > 1
            for arg, dep in d:
                lab = f' [label="{_escape(str(arg))}"]' if many else ""
                edges.append(f"  n{index[id(dep)]} -> n{i}{lab};")
    if graph is not None:
        for holder, new in graph.writes:
            if id(holder) in index and id(new) in index:
                edges.append(f'  n{index[id(new)]} -> n{index[id(holder)]} '
                             '[style=dashed, color=gray40, fontcolor=gray40, label="write", '
                             'constraint=false];')
        for holder, g in graph.grad_writes:
            if g is not None and id(holder) in index and id(g) in index:
                edges.append(f'  n{index[id(g)]} -> n{index[id(holder)]} '
                             '[style=dashed, color=gray40, fontcolor=gray40, label=".grad", '
                             'constraint=false];')
    lines += edges
    lines.append("}")
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------- draw ----

_TEXT_FORMATS = ("dot", "gv")
_HOW_TO_INSTALL = (
    "install the Python package (pip install graphviz, or pip install 'graphgrad[draw]') "
    "and Graphviz itself, which provides the 'dot' program (apt install graphviz, "
    "brew install graphviz, conda install graphviz); or draw to a .dot file, which needs "
    "neither")


def _render(source: str, fmt: str) -> bytes:
    try:
        import graphviz
    except ImportError as e:
        raise GraphvizNotFoundError(
            f"draw: rendering to {fmt!r} needs the 'graphviz' Python package: "
            + _HOW_TO_INSTALL) from e
    try:
        return graphviz.Source(source).pipe(format=fmt)
    except graphviz.ExecutableNotFound as e:
        raise GraphvizNotFoundError(
            f"draw: rendering to {fmt!r} needs Graphviz's 'dot' program on PATH: "
            + _HOW_TO_INSTALL) from e


def draw(obj, path=None, format: str = "svg", show_values: bool = False):  # noqa: A002
    """Draw a graph (anything ``to_dot`` takes) to a file or to memory.

    With ``path``, the format is the path's suffix when it has one (``"g.png"``), else
    ``format`` is appended (``"g"`` -> ``"g.svg"``); the file is written and its path
    returned. Without ``path`` the rendered image is returned (``str`` for svg and dot,
    ``bytes`` otherwise).

    The ``dot`` format (suffix ``.dot`` or ``.gv``) is the DOT text itself and always
    works. Every other format (svg, png, pdf, ...) is rendered by the optional ``graphviz``
    package (``pip install 'graphgrad[draw]'``) with Graphviz's ``dot`` program; when
    either is missing, ``GraphvizNotFoundError`` (an ``ImportError``) says how to install
    them.

    >>> import os, tempfile
    >>> import graphgrad as gg
    >>> x = gg.tensor(3.0, requires_grad=True)
    >>> path = gg.draw(gg.exp(x), os.path.join(tempfile.mkdtemp(), "g.dot"))
    >>> open(path).read().startswith("digraph")
    True
    """
    fmt = format.lower().lstrip(".")
    if path is not None:
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        if ext:
            fmt = ext
        else:
            path = f"{path}.{fmt}"
    source = to_dot(obj, show_values=show_values)
    if fmt in _TEXT_FORMATS:
        if path is None:
            return source
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        return path
    data = _render(source, fmt)
    if path is None:
        return data.decode("utf-8") if fmt == "svg" else data
    with open(path, "wb") as f:
        f.write(data)
    return path
