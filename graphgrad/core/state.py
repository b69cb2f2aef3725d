"""Per-thread state: grad mode and the interpreter stack.

Every mode a user switches on with a ``with`` block is per thread, as PyTorch's grad mode
is, so a data-loading thread that enters ``no_grad`` never switches recording off for the
training thread:

- ``grad_enabled``: whether ops record Nodes (``no_grad`` / ``enable_grad``);
- ``stack``: the interpreters that see every op applied to a Tensor, after its eager
  result is computed, innermost last. Forward-mode levels (``gg.jvp``), tracers
  (``gg.compile``) and anomaly checking (``gg.detect_anomaly``) are interpreters. Eager
  evaluation and recording are the base of the stack, inlined in ``Primitive.__call__``:
  with an empty stack an op costs one truth test of this tuple.

>>> import threading, graphgrad as gg
>>> seen = []
>>> def worker():
...     with gg.no_grad():
...         seen.append(gg.is_grad_enabled())
>>> t = threading.Thread(target=worker); t.start(); t.join()
>>> seen, gg.is_grad_enabled()
([False], True)
"""

from __future__ import annotations

import contextlib
import threading


class Interpreter:
    """One layer of the stack. ``process`` sees each op applied to a Tensor, with its
    eager result ``out`` (a Tensor, already recorded when gradients are on)."""

    #: a tracer (gg.compile, gg.static): backward must record its rules as ops, and
    #: reading a value out of a tensor (``float(t)``) would freeze it
    traces = False
    #: wants ``enter_backward`` / ``exit_backward`` around each node's rules
    watches_backward = False

    def process(self, prim, args, params, out) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    # the engine asks each interpreter before and after running the rules of a node
    def enter_backward(self, node, t, g) -> None:
        """Backward is about to run the rules of ``node`` (output ``t``, cotangent ``g``)."""

    def exit_backward(self) -> None:
        """Backward is done with that node."""


class _State(threading.local):
    """The attributes every thread starts with (threading.local runs __init__ per thread)."""

    def __init__(self):
        self.grad_enabled = True
        self.stack: tuple = ()  # immutable: pushing and popping rebinds it


state = _State()

# How many threads are not in the default state (grad on, empty stack). Reading a
# threading.local attribute costs ~100 ns; while no thread has switched anything, the hot
# path reads this one plain global instead (``nondefault[0] == 0``: every thread is in
# the default state). A thread that dies mid-switch only leaves the slower, correct path.
nondefault = [0]
_count_lock = threading.Lock()


def _switch(was_default: bool) -> None:
    """After changing this thread's state: keep ``nondefault`` counting."""
    now = state.grad_enabled and not state.stack
    if now != was_default:
        with _count_lock:
            nondefault[0] += -1 if now else 1


def _is_default() -> bool:
    return state.grad_enabled and not state.stack


def push(interp: Interpreter) -> None:
    """Put ``interp`` on top of this thread's stack."""
    was = _is_default()
    state.stack = state.stack + (interp,)
    _switch(was)


def pop(interp: Interpreter) -> None:
    """Take ``interp`` off this thread's stack (it must be the top)."""
    stack = state.stack
    if not stack or stack[-1] is not interp:
        raise RuntimeError(f"interpreter stack out of order: popping {interp!r}, top is "
                           f"{stack[-1] if stack else None!r}")
    was = _is_default()
    state.stack = stack[:-1]
    _switch(was)


def remove(interp: Interpreter) -> None:
    """Take ``interp`` off this thread's stack wherever it is (switches such as
    ``set_detect_anomaly(False)`` are not nested like ``with`` blocks)."""
    was = _is_default()
    state.stack = tuple(i for i in state.stack if i is not interp)
    _switch(was)


@contextlib.contextmanager
def interpreting(interp: Interpreter):
    """``with interpreting(i):`` runs the block with ``i`` on the stack."""
    push(interp)
    try:
        yield interp
    finally:
        pop(interp)


def find(kind: type):
    """The innermost interpreter of type ``kind`` on this thread's stack, or None."""
    for interp in reversed(state.stack):
        if isinstance(interp, kind):
            return interp
    return None


def current_stack() -> tuple:
    """This thread's interpreter stack (the empty tuple, cheaply, in the default state)."""
    return state.stack if nondefault[0] else ()


def tracer():
    """The innermost tracer on this thread's stack, or None (the common case: no scan)."""
    if not nondefault[0]:
        return None
    stack = state.stack
    if stack:
        for interp in reversed(stack):
            if interp.traces:
                return interp
    return None


# ---- grad mode ---------------------------------------------------------------------------

def is_grad_enabled() -> bool:
    """Whether ops record the graph in this thread."""
    return state.grad_enabled


def set_grad_enabled(enabled: bool) -> bool:
    """Switch gradient recording on or off in this thread; returns the previous setting."""
    st = state  # one threading.local lookup each: no_grad is entered once per backward
    old = st.grad_enabled
    new = bool(enabled)
    if new is not old:
        st.grad_enabled = new
        if not st.stack:  # default before iff grad was on; after iff it is on
            with _count_lock:
                nondefault[0] += -1 if new else 1
    return old


class no_grad(contextlib.ContextDecorator):
    """Context manager (and decorator) under which ops record no graph (this thread).

    >>> import graphgrad as gg
    >>> x = gg.tensor(1.0, requires_grad=True)
    >>> with gg.no_grad():
    ...     (x * 2).requires_grad
    False
    """

    def __enter__(self):
        self._old = set_grad_enabled(False)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._old)
        return False


class enable_grad(contextlib.ContextDecorator):
    """Context manager (and decorator) that records the graph again inside ``no_grad``."""

    def __enter__(self):
        self._old = set_grad_enabled(True)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._old)
        return False
