"""Pytrees: nested lists, tuples, namedtuples and dicts, with anything else as a leaf.

One module serves the functional transforms (``gg.grad`` of a dict of parameters returns
a dict), ``gg.compile`` (its cache key is the tree structure of the arguments) and the
optimizers. ``None`` is an empty subtree (as in JAX), so optional entries cost nothing.

>>> from graphgrad.core.pytree import tree_flatten, tree_unflatten, tree_map
>>> leaves, tree = tree_flatten({"w": [1, 2], "b": (3, None)})
>>> leaves
[1, 2, 3]
>>> tree_unflatten(tree, [10, 20, 30])
{'w': [10, 20], 'b': (30, None)}
>>> tree_map(lambda x: x * 2, [1, (2, 3)])
[2, (4, 6)]
"""

from __future__ import annotations

from typing import Any, Callable, Iterable


class TreeDef:
    """The structure of a pytree without its leaves; hashable, so it can key a cache."""

    __slots__ = ("kind", "meta", "children", "_hash")

    def __init__(self, kind, meta, children: tuple):
        self.kind = kind  # None (a leaf), list, tuple, dict, type(None) or a namedtuple type
        self.meta = meta  # dict keys, or None
        self.children = children
        self._hash = hash((kind, meta, children))

    @property
    def num_leaves(self) -> int:
        if self.kind is None:
            return 1
        return sum(c.num_leaves for c in self.children)

    def __eq__(self, other) -> bool:
        return (isinstance(other, TreeDef) and self._hash == other._hash
                and self.kind is other.kind and self.meta == other.meta
                and self.children == other.children)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        if self.kind is type(None):
            return "None"
        inner = ", ".join(repr(c) for c in self.children)
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children)) + "}"
        if self.kind is list:
            return f"[{inner}]"
        if self.kind is tuple:
            return f"({inner},)" if len(self.children) == 1 else f"({inner})"
        return f"{self.kind.__name__}({inner})"


LEAF = TreeDef(None, None, ())
_NONE = TreeDef(type(None), None, ())


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _flatten(x, leaves: list, is_leaf) -> TreeDef:
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return LEAF
    t = type(x)
    if t is list or t is tuple:
        return TreeDef(t, None, tuple(_flatten(c, leaves, is_leaf) for c in x))
    if t is dict:
        keys = tuple(x)
        return TreeDef(dict, keys, tuple(_flatten(x[k], leaves, is_leaf) for k in keys))
    if x is None:
        return _NONE
    if _is_namedtuple(x):
        return TreeDef(t, None, tuple(_flatten(c, leaves, is_leaf) for c in x))
    node = _REGISTRY.get(t)
    if node is not None:
        children, aux = node[0](x)
        return TreeDef(t, aux, tuple(_flatten(c, leaves, is_leaf) for c in children))
    leaves.append(x)
    return LEAF


# container types registered by users (and by graphgrad's own modules): type -> (flatten,
# unflatten)
_REGISTRY: dict = {}


def register_pytree_node(cls: type, flatten: Callable[[Any], tuple[Iterable, Any]],
                         unflatten: Callable[[Any, list], Any]) -> None:
    """Make instances of ``cls`` pytree nodes (as JAX's ``register_pytree_node``):
    ``flatten(x) -> (children, aux)`` with ``aux`` hashable (static data, part of the
    structure), and ``unflatten(aux, children) -> x``.

    >>> class Pair:
    ...     def __init__(self, a, b): self.a, self.b = a, b
    >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
    >>> tree_map(lambda v: v + 1, Pair(1, [2])).b
    [3]
    """
    if cls in (list, tuple, dict, type(None)) or not isinstance(cls, type):
        raise TypeError(f"register_pytree_node: {cls!r} is built in or not a class")
    _REGISTRY[cls] = (flatten, unflatten)


def tree_flatten(tree, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, TreeDef]:
    """``(leaves, treedef)``: the leaves in order, and the structure to rebuild it."""
    leaves: list = []
    return leaves, _flatten(tree, leaves, is_leaf)


def _build(td: TreeDef, it):
    kind = td.kind
    if kind is None:
        return next(it)
    if kind is type(None):
        return None
    children = [_build(c, it) for c in td.children]
    if kind is dict:
        return dict(zip(td.meta, children))
    if kind is list:
        return children
    if kind is tuple:
        return tuple(children)
    node = _REGISTRY.get(kind)
    if node is not None:
        return node[1](td.meta, children)
    return kind(*children)  # a namedtuple


def tree_unflatten(treedef: TreeDef, leaves: Iterable):
    """The pytree of structure ``treedef`` with ``leaves`` in order."""
    it = iter(leaves)
    out = _build(treedef, it)
    if next(it, _END) is not _END:
        raise ValueError(f"tree_unflatten: more leaves than the structure {treedef} holds")
    return out


_END = object()


def _up_to(td: TreeDef, x, out: list, path: str) -> None:
    if td.kind is None:
        out.append(x)
        return
    if td.kind is type(None):
        if x is not None:
            raise ValueError(f"tree_flatten_up_to: expected None at {path or 'the root'}, got "
                             f"{type(x).__name__}")
        return
    if td.kind is dict:
        if type(x) is not dict or set(x) != set(td.meta):
            raise ValueError(f"tree_flatten_up_to: expected a dict with keys {list(td.meta)} at "
                             f"{path or 'the root'}, got {_describe(x)}")
        for k, c in zip(td.meta, td.children):
            _up_to(c, x[k], out, f"{path}[{k!r}]")
        return
    children = _children(td, x)
    if children is None:
        raise ValueError(f"tree_flatten_up_to: expected {td} at {path or 'the root'}, got "
                         f"{_describe(x)}")
    for i, (c, v) in enumerate(zip(td.children, children)):
        _up_to(c, v, out, f"{path}[{i}]")


def _children(td: TreeDef, x):
    """The children of ``x`` if it is a node of ``td``'s kind and arity, else None."""
    if type(x) is not td.kind:
        return None
    node = _REGISTRY.get(td.kind)
    if node is not None:
        children, aux = node[0](x)
        if aux != td.meta:  # other static data: another structure
            return None
        x = list(children)
    return x if len(x) == len(td.children) else None


def _describe(x) -> str:
    if type(x) is dict:
        return f"a dict with keys {list(x)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return type(x).__name__


def tree_flatten_up_to(treedef: TreeDef, tree) -> list:
    """The subtrees of ``tree`` at the leaf positions of ``treedef`` (``tree`` must have
    that structure down to them; below a leaf anything goes, e.g. a list for an array).

    >>> tree_flatten_up_to(tree_structure({"a": 1, "b": (2, 3)}), {"a": [1, 1], "b": (4, 5)})
    [[1, 1], 4, 5]
    """
    out: list = []
    _up_to(treedef, tree, out, "")
    return out


def tree_leaves(tree, is_leaf: Callable[[Any], bool] | None = None) -> list:
    """The leaves of ``tree`` in order."""
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf: Callable[[Any], bool] | None = None) -> TreeDef:
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable, tree, *rest, is_leaf: Callable[[Any], bool] | None = None):
    """``f`` applied leaf by leaf to ``tree`` (and to the matching leaves of ``rest``)."""
    leaves, td = tree_flatten(tree, is_leaf)
    others = []
    for r in rest:
        rl, rtd = tree_flatten(r, is_leaf)
        if rtd != td:
            raise ValueError(f"tree_map: structures differ: {td} and {rtd}")
        others.append(rl)
    return tree_unflatten(td, [f(*xs) for xs in zip(leaves, *others)])


__all__ = ["LEAF", "TreeDef", "register_pytree_node", "tree_flatten", "tree_flatten_up_to",
           "tree_leaves", "tree_map", "tree_structure", "tree_unflatten"]
