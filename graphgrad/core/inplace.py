"""In-place ops (``add_``, ``mul_``, ``zero_``, ``copy_`` ...) and the version counter.

Every in-place op bumps the tensor's ``_version`` to a new value of one global counter
(graph.inplace_epoch); nodes remember the counter's value when they were made, so a
tensor saved for backward and then changed in place makes backward raise a clear
``BackwardError`` instead of computing a wrong gradient.

Rules (see docs/errors.md):
- under ``no_grad`` (optimizer steps, initialisation) any tensor may be changed in place;
- while recording, a leaf that requires grad may not (as in PyTorch);
- while recording, an in-place op on a computed tensor is recorded as the out-of-place
  op, and the tensor takes the new node (its old value stays available to its old node);
- graphgrad tensors have value semantics: an in-place op changes only the tensor it is
  called on. If its buffer is shared (a view, ``detach()``, another tensor), the buffer
  is copied first, so no other tensor ever sees the change.
"""

from __future__ import annotations

import sys

from . import graph as _graph
from .backend import array_module, is_array, xp
from .errors import BackwardError, DTypeError, ShapeError
from .state import no_grad, state, tracer


def _owned(t) -> bool:
    """Whether ``t.data`` is referenced by ``t`` alone (no view, alias or other tensor)."""
    data = t.data
    # references: t's slot, the local `data`, getrefcount's argument; more means shared
    return data.base is None and data.flags.writeable and sys.getrefcount(data) <= 3


def apply(t, name: str, fn, *operands):
    """Replace ``t``'s value by ``fn(t, *operands)`` in place; returns ``t``."""
    from .tensor import Tensor
    hook = tracer()
    if hook is not None and not hasattr(hook, "write"):
        raise BackwardError(f"{name}: in-place ops cannot be traced into a static graph; use "
                            "the out-of-place op")
    recording = state.grad_enabled and (t._rg or any(
        isinstance(o, Tensor) and o._rg for o in operands))
    if recording and t._node is None and t._rg:
        raise BackwardError(
            f"{name}: a leaf tensor that requires grad (shape {t.shape}) cannot be changed in "
            "place while gradients are recorded; wrap the update in `with gg.no_grad():`")
    if recording:
        old = Tensor._from_array(t.data)
        old._rg, old._node, old._version, old._fw = t._rg, t._node, t._version, t._fw
        if t._node is not None:  # ops already computed from t's value now use `old`
            _rewire(t, old, operands)
        r = fn(old, *[old if o is t else o for o in operands])
    else:
        with no_grad():
            r = fn(Tensor._from_array(t.data), *operands)
    r = r if isinstance(r, Tensor) else Tensor(r)
    if r.shape != t.shape:
        raise ShapeError(f"{name}: the result has shape {r.shape} but the tensor being "
                         f"changed in place has shape {t.shape}; in-place ops cannot "
                         "change a tensor's shape")
    if r.dtype != t.dtype:
        if xp.can_cast(r.dtype, t.dtype, casting="same_kind"):
            from ..ops import astype
            r = astype(r, dtype=t.dtype) if recording else Tensor._from_array(
                r.data.astype(t.dtype))
        else:
            raise DTypeError(f"{name}: the result has dtype {r.dtype}, which cannot be stored "
                             f"in place in a tensor of dtype {t.dtype}")
    t._version = _graph.next_inplace_epoch()
    if hook is not None:  # gg.compile: recorded as a write of t (see graphgrad/compile)
        hook.write(t, r)
    if recording:
        t.data = r.data  # the old buffer stays with `old` for the old node's rules
        t._rg, t._node, t._fw = r._rg, r._node, r._fw
        if r._node is not None:  # the new node holds the new value: made after the bump
            r._node.epoch = t._version
    elif r.data is not t.data:
        new = r.data
        r = None
        if _owned(t):
            t.data[...] = new  # nobody else sees this buffer: write into it
        else:  # shared: give this tensor its own buffer, leave the others untouched
            t.data = new if new.base is None and new.flags.writeable else new.copy()
    return t


def _module(x):
    """The array module of a tensor's data (new values live on its backend)."""
    return array_module(x.data)


def _rewire(t, old, operands) -> None:
    """Point the nodes that read ``t``'s current value at ``old`` (which keeps it), so that
    ``c += c + 1`` makes no cycle: those nodes are found behind the operands (a node
    computed from ``t`` and not used by this op is left as it is; the version check
    catches its use in backward)."""
    from .tensor import Tensor
    stack = [o._node for o in operands if isinstance(o, Tensor) and o._node is not None
             and o is not t]
    seen = set()
    while stack:
        node = stack.pop()
        ins = node.inputs
        if id(node) in seen or ins is None:
            continue
        seen.add(id(node))
        if any(a is t for a in ins):
            node.inputs = ins = tuple(old if a is t else a for a in ins)
        stack.extend(a._node for a in ins
                     if isinstance(a, Tensor) and a._node is not None and a is not old)


def augmented(t, name: str, op, other):
    """``t op= other`` (``+=``, ``-=``, ``*=``, ``/=``, ``**=``): in place, as PyTorch."""
    return apply(t, name, op, other)


def setitem(t, index, value):
    """``t[index] = value``: recorded as ``index_put`` while gradients are recorded; else
    written straight into ``t``'s own buffer."""
    from ..ops.index import _clean_index, index_put_p
    from .tensor import Tensor
    idx = _clean_index(index)
    if tracer() is not None or (state.grad_enabled and (t._rg or (isinstance(value, Tensor)
                                                          and value._rg))):
        return apply(t, "__setitem__", lambda x, v: index_put_p(x, v, index=idx), value)
    v = value.data if isinstance(value, Tensor) else value
    if is_array(v) and v.dtype != t.data.dtype and \
            not xp.can_cast(v.dtype, t.data.dtype, casting="same_kind"):
        raise DTypeError(f"__setitem__: values of dtype {v.dtype} cannot be stored in a "
                         f"tensor of dtype {t.data.dtype}")
    if not _owned(t):  # value semantics: other tensors sharing the buffer keep theirs
        t.data = t.data.copy()
    try:
        t.data[idx] = v
    except (IndexError, ValueError, TypeError) as exc:
        from .errors import op_error
        raise op_error(index_put_p, (t, value), {"index": idx}, exc) from exc
    t._version = _graph.next_inplace_epoch()
    return t


# ---- the ops, as functions of (tensor, operands) ----

def add_(t, other, alpha=1):
    """``t += alpha * other``."""
    return apply(t, "add_", lambda x, o: x + (o if alpha == 1 else o * alpha), other)


def sub_(t, other, alpha=1):
    """``t -= alpha * other``."""
    return apply(t, "sub_", lambda x, o: x - (o if alpha == 1 else o * alpha), other)


def mul_(t, other):
    """``t *= other``."""
    return apply(t, "mul_", lambda x, o: x * o, other)


def div_(t, other):
    """``t /= other``."""
    return apply(t, "div_", lambda x, o: x / o, other)


def clamp_(t, min=None, max=None):
    """Clamp ``t`` to ``[min, max]`` in place."""
    from ..ops import clip
    return apply(t, "clamp_", lambda x: clip(x, min=min, max=max))


def fill_(t, value):
    """Set every element to ``value``."""
    return apply(t, "fill_", lambda x: _module(x).full(x.shape, value, dtype=x.dtype))


def zero_(t):
    """Set every element to 0."""
    return apply(t, "zero_", lambda x: _module(x).zeros(x.shape, dtype=x.dtype))


def copy_(t, src):
    """Copy ``src`` (broadcast to ``t``'s shape) into ``t``; gradients flow to ``src``."""
    from ..ops import broadcast_to
    from .tensor import Tensor

    def _copy(x, s):
        s = s if isinstance(s, Tensor) else Tensor(_module(x).asarray(s, dtype=x.dtype))
        return broadcast_to(s, x.shape)
    return apply(t, "copy_", _copy, src)
