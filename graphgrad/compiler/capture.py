"""State a compiled function reads: where to find it on every call, and what is frozen.

A traced function reads tensors and arrays it did not receive as arguments (model
weights, a mask in a captured object, a module-level global). ``gg.compile`` never bakes
such a value into the generated code: it is read by reference on every call, and every
path by which the function can reach it (``model.fc1.weight``, found by ``find_state``)
is checked to still lead to it, so a value changed in place is seen and a name rebound
to another object makes the function trace again. Numbers it reads this way (baked into
the code) are checked too. ``make_reader`` turns these checks into straight-line code.

Only values nobody else can reach after the trace are frozen: tensors and arrays made
during the trace (``gg.tensor(2.0)`` inside the function, arrays made by gradient rules).
``probe`` tells them apart soundly: once the tracer has dropped its own references, a
value still alive is held by someone else (and may change); a freed one cannot.

>>> import graphgrad as gg
>>> class Box: pass
>>> box = Box(); box.inner = Box(); box.inner.t = gg.tensor(2.0)
>>> found = find_state([(box, "box", Path(box, ()))])
>>> name, paths = found[id(box.inner.t)]
>>> name, paths[0].get() is box.inner.t
('box_inner_t', True)
"""

from __future__ import annotations

import functools
import inspect
import keyword
import weakref

from ..core.backend import xp
from ..core.tensor import Tensor
from .trace import GradOf, Var

_ndarray = xp.ndarray
_ATOMS = (str, bytes, bytearray, int, float, complex, bool, type(None), range, slice, type)
_MAX_DEPTH = 8  # attribute/item hops from a root
_MAX_VISITS = 20000  # objects looked into per search (a trace-time cost only)
_MAX_LEN = 1000  # longer containers are not searched (their tensors are still read by
#                  reference, only without a name and a path)
_MAX_PATHS = 3  # paths kept per value: each is checked on every call
_MAX_SCALARS = 64  # numbers checked on every call
_SCALARS = (bool, int, float, complex, str)


class Path:
    """How to reach a value from a root: ``root`` then attribute / item / cell steps."""

    __slots__ = ("root", "steps")

    def __init__(self, root, steps: tuple):
        self.root = root
        self.steps = steps  # ("attr", name) | ("item", key) | ("cell", None)

    def then(self, kind: str, key) -> "Path":
        return Path(self.root, self.steps + ((kind, key),))

    def get(self):
        """The object at the end of the path now (raises if the path is broken)."""
        o = self.root
        for kind, k in self.steps:
            if kind == "attr":
                o = getattr(o, k)
            elif kind == "item":
                o = o[k]
            else:
                o = o.cell_contents
        return o

    def __repr__(self) -> str:
        s = f"{self.root['__name__']}" if _is_globals(self.root) else type(self.root).__name__
        for kind, k in self.steps:
            s += f".{k}" if kind == "attr" else f"[{k!r}]" if kind == "item" else ""
        return f"<Path {s}>"


# ------------------------------------------------------------------ roots ----

def function_roots(fn, names: set | None = None) -> list:
    """(object, name, Path) for what ``fn`` can read: its closure cells, the globals its
    code names (and those of the functions of its module it calls), bound ``self``,
    ``functools.partial`` arguments and the attributes of a callable object. ``names``
    receives the attribute names and string constants of the code (``self.lr``,
    ``cfg["lr"]``): the numbers found under them are read by the function."""
    roots: list = []
    names = set() if names is None else names
    fns = [fn]
    done: set = set()
    while fns:
        f = fns.pop()
        if id(f) in done:
            continue
        done.add(id(f))
        f = _unwrap(f, roots)
        code = getattr(f, "__code__", None)
        if code is None:
            if hasattr(f, "__dict__") or hasattr(type(f), "__slots__"):
                roots.append((f, "self", Path(f, ())))
            continue
        _closure_roots(f, code, roots, fns)
        _global_roots(f, code, roots, fns, names)
    return roots


def _unwrap(f, roots: list):
    f = getattr(f, "__wrapped__", f)
    if isinstance(f, functools.partial):
        roots.extend((a, f"arg{i}", Path(a, ())) for i, a in enumerate(f.args))
        roots.extend((a, k, Path(a, ())) for k, a in f.keywords.items())
        f = f.func
    if inspect.ismethod(f):
        roots.append((f.__self__, "self", Path(f.__self__, ())))
        f = f.__func__
    return f


def _closure_roots(f, code, roots: list, fns: list) -> None:
    for name, cell in zip(code.co_freevars, f.__closure__ or ()):
        try:
            val = cell.cell_contents
        except ValueError:  # an empty cell (assigned later)
            continue
        if inspect.isfunction(val):
            fns.append(val)
        else:
            roots.append((val, name, Path(cell, (("cell", None),))))


def _global_roots(f, code, roots: list, fns: list, names: set) -> None:
    g = f.__globals__
    codes = [code]
    while codes:
        c = codes.pop()
        names.update(c.co_names)
        names.update(k for k in c.co_consts if isinstance(k, str))
        for name in c.co_names:
            val = g.get(name)
            if val is None or inspect.ismodule(val) or inspect.isclass(val):
                continue
            if inspect.isfunction(val):
                if val.__module__ == f.__module__:
                    fns.append(val)
            else:
                roots.append((val, name, Path(g, (("item", name),))))
        codes.extend(k for k in c.co_consts if inspect.iscode(k))


# ----------------------------------------------------------------- search ----

def find_state(roots: list, names: set | None = None, scalars: list | None = None) -> dict:
    """``id(value) -> (name, [Path, ...])`` for every Tensor and ndarray reachable from
    ``roots`` through attributes and list/tuple/dict items. Breadth first, so a value
    named directly (``W1``) gets that name rather than a path to it (``params_0``).

    ``scalars`` receives ``(Path, value)`` for the numbers and strings the function
    reads (a traced function bakes them into its code): the roots themselves, and those
    found under an attribute or key in ``names`` (the function's code names, and those of
    the methods of the objects met on the way: ``opt.step()`` reads ``self.lr``)."""
    found: dict[int, tuple] = {}
    names = set() if names is None else names
    seen: set = set()
    level = list(roots)
    for depth in range(_MAX_DEPTH + 1):
        nxt: list = []
        for obj, name, path in level:
            if isinstance(obj, _SCALARS):
                if scalars is not None and len(scalars) < _MAX_SCALARS and (
                        depth == 0 or path.steps[-1][1] in names):
                    scalars.append((path, obj))
            elif isinstance(obj, (Tensor, _ndarray)):
                _found(found, obj, name, path, nxt)
            elif id(obj) not in seen and not isinstance(obj, _ATOMS) \
                    and not inspect.isroutine(obj) and not inspect.ismodule(obj):
                seen.add(id(obj))
                if len(seen) > _MAX_VISITS:
                    return found
                names.update(_method_names(type(obj)))
                nxt.extend(_children(obj, name, path))
        if not nxt:
            break
        level = nxt
    return found


def _found(found: dict, obj, name: str, path: Path, nxt: list) -> None:
    hit = found.setdefault(id(obj), (name, []))
    if len(hit[1]) < _MAX_PATHS:
        hit[1].append(path)
    if isinstance(obj, Tensor) and obj.grad is not None:  # read as w.grad
        nxt.append((obj.grad, f"grad_{name}", path.then("attr", "grad")))


_METHOD_NAMES: dict = {}  # class -> the names its methods' code uses


def _method_names(cls) -> frozenset:
    out = _METHOD_NAMES.get(cls)
    if out is None:
        codes = []
        for c in cls.__mro__:
            if c.__module__ == "builtins":
                continue
            for f in vars(c).values():
                f = getattr(f, "__func__", getattr(f, "fget", f))  # static/class/property
                code = getattr(f, "__code__", None)
                if code is not None:
                    codes.append(code)
        found: set = set()
        while codes:
            code = codes.pop()
            found.update(code.co_names)
            found.update(k for k in code.co_consts if isinstance(k, str))
            codes.extend(k for k in code.co_consts if inspect.iscode(k))
        out = _METHOD_NAMES[cls] = frozenset(found)
    return out


def _children(obj, name: str, path: Path) -> list:
    fields = getattr(type(obj), "_fields", None)
    if isinstance(obj, tuple) and isinstance(fields, tuple):  # a namedtuple: by field
        return [(o, f"{name}_{k}", path.then("attr", k)) for k, o in zip(fields, obj)]
    if isinstance(obj, (list, tuple)):
        if len(obj) > _MAX_LEN:
            return []
        return [(o, f"{name}_{i}", path.then("item", i)) for i, o in enumerate(obj)]
    if isinstance(obj, dict):
        if len(obj) > _MAX_LEN:
            return []
        return [(o, f"{name}_{k}", path.then("item", k)) for k, o in obj.items()]
    attrs = getattr(obj, "__dict__", None)
    out = []
    if isinstance(attrs, dict):
        out = [(o, f"{name}_{k.lstrip('_')}", path.then("attr", k))
               for k, o in attrs.items() if not k.startswith("__")]
    for k in _slot_names(type(obj)):
        try:
            o = getattr(obj, k)
        except Exception:  # an unset slot (or a descriptor that fails): not state we see
            continue
        out.append((o, f"{name}_{k.lstrip('_')}", path.then("attr", k)))
    return out


def _slot_names(cls) -> list:
    names = []
    for c in cls.__mro__:
        s = c.__dict__.get("__slots__", ())
        names.extend([s] if isinstance(s, str) else
                     [k for k in s if not k.startswith("__")])
    return names


# -------------------------------------------------------- private or shared ----

class Probe:
    """A value the trace read, held weakly: freed once the tracer lets go means that
    nothing outside the trace holds it, so it cannot change and may be frozen."""

    __slots__ = ("obj", "data")

    def __init__(self, value):
        self.obj = weakref.ref(value)
        arr = value.data if isinstance(value, Tensor) else value
        self.data = weakref.ref(arr) if arr is not value else None

    def shared(self):
        """The value (or, for a freed Tensor, its still shared array), or None if private."""
        obj = self.obj()
        if obj is not None:
            return obj
        return self.data() if self.data is not None else None


def probe(value):
    """A ``Probe`` for ``value``, or None when it must be read by reference anyway (a
    view of another array, which may change through its base)."""
    arr = value.data if isinstance(value, Tensor) else value
    if not isinstance(arr, _ndarray) or arr.base is not None:
        return None
    return Probe(value)


# ------------------------------------------------------- reading on each call ----

class Stale(Exception):
    """State the function read was rebound (or reshaped) since the trace: trace again."""


_TENSOR, _ARRAY, _GRAD = "tensor", "array", "grad"


class Slot:
    """One value read by reference on every call (an argument of the generated code).

    ``obj`` is the Tensor (or array, or the tensor whose ``.grad`` is read) the trace saw;
    every path by which the function can reach it must still lead to that very object,
    and its array must keep the traced shape and dtype, or the function is traced again.
    """

    __slots__ = ("kind", "obj", "paths", "shape", "dtype", "rg", "index", "name")

    def __init__(self, v: Var, paths: list, input_index=None):
        ref = v.ref
        self.kind = _GRAD if isinstance(ref, GradOf) else \
            _TENSOR if isinstance(ref, Tensor) else _ARRAY
        self.obj = ref.holder if self.kind is _GRAD else ref
        self.index = input_index  # the gradient of an argument: read from the argument
        if input_index is not None:
            self.obj = None
            paths = ()
        self.paths = tuple(paths)
        self.shape = v.shape
        self.dtype = v.dtype
        self.rg = ref._rg if self.kind is _TENSOR else None
        self.name = v.name or "a captured value"


def make_reader(slots: list, guards: list):
    """``read(leaves) -> [array, ...]``: the arrays of ``slots`` now, after checking that
    every path still leads to the traced object and every guarded number is unchanged
    (else ``Stale``). Generated as straight-line code: it runs on every call."""
    ns: dict = {"Stale": Stale, "xp": xp}
    body: list = []
    for i, (p, val) in enumerate(guards):
        ns[f"v{i}"] = val
        body += [f"c = {_path_expr(p, ns, f'g{i}')}",
                 f"if c is not v{i} and (c != v{i} or type(c) is not type(v{i})):",
                 f"    raise Stale({repr(p)!r})"]
    body += _length_lines(slots, ns)
    for i, s in enumerate(slots):
        body += _slot_lines(i, s, ns)
    body.append("return [" + "".join(f"a{i}, " for i in range(len(slots))) + "]")
    src = "def read(leaves):\n    try:\n" + "".join(f"        {ln}\n" for ln in body) + \
        "    except Stale:\n        raise\n" \
        "    except Exception as e:  # a broken path: whatever it was, trace again\n" \
        "        raise Stale(repr(e)) from None\n"
    exec(compile(src, "<graphgrad.compile state reader>", "exec"), ns)  # noqa: S102
    return ns["read"]


def _length_lines(slots: list, ns: dict) -> list:
    """The lists, tuples and dicts on the way to captured values keep their length (a
    loop over ``model.layers`` would otherwise miss a layer appended later)."""
    lines: list = []
    done: set = set()
    for s in slots:
        for p in s.paths:
            for j, (kind, _) in enumerate(p.steps):
                key = (id(p.root), p.steps[:j])
                if kind != "item" or key in done or (j == 0 and _is_globals(p.root)):
                    continue  # (a module's globals come and go: not a container of ours)
                done.add(key)
                prefix = Path(p.root, p.steps[:j])
                c = prefix.get()
                if isinstance(c, (list, tuple, dict)):
                    e = _path_expr(prefix, ns, f"n{len(done)}")
                    lines.append(f"if len({e}) != {len(c)}: raise Stale({repr(prefix)!r})")
    return lines


def _is_globals(d) -> bool:
    return isinstance(d, dict) and "__builtins__" in d and "__name__" in d


def _slot_lines(i: int, s: Slot, ns: dict) -> list:
    ns[f"o{i}"], ns[f"shape{i}"], ns[f"dtype{i}"] = s.obj, s.shape, s.dtype
    stale = f"raise Stale({s.name!r})"
    lines = [f"if {_path_expr(p, ns, f'p{i}_{j}')} is not o{i}: {stale}"
             for j, p in enumerate(s.paths)]
    if s.kind is _TENSOR:
        lines += [f"if o{i}._rg is not {s.rg}: {stale}", f"a{i} = o{i}.data"]
    elif s.kind is _ARRAY:
        lines.append(f"a{i} = o{i}")
    else:
        holder = f"o{i}" if s.obj is not None else f"leaves[{s.index}]"
        lines += [f"g = getattr({holder}, 'grad', None)",
                  f"a{i} = xp.zeros(shape{i}, dtype=dtype{i}) if g is None else g.data"]
    lines.append(f"if a{i}.shape != shape{i} or (a{i}.dtype is not dtype{i} "
                 f"and a{i}.dtype != dtype{i}): {stale}")  # dtypes are mostly singletons
    return lines


def _path_expr(p: Path, ns: dict, prefix: str) -> str:
    ns[prefix] = p.root
    e = prefix
    for j, (kind, k) in enumerate(p.steps):
        if kind == "cell":
            e += ".cell_contents"
        elif kind == "attr" and k.isidentifier() and not keyword.iskeyword(k):
            e += f".{k}"
        elif kind == "attr":
            ns[f"{prefix}_{j}"] = k
            e = f"getattr({e}, {prefix}_{j})"
        elif type(k) in (int, str):
            e += f"[{k!r}]"
        else:
            ns[f"{prefix}_{j}"] = k
            e += f"[{prefix}_{j}]"
    return e


__all__ = ["Path", "Probe", "Slot", "Stale", "find_state", "function_roots", "make_reader",
           "probe"]
