"""Optimizers for static graphs: ``minimize(loss)`` returns a train op for ``Session.run``.

The update is written with graphgrad ops and applied with in-place writes
(``Variable.copy_``), so a compiled session performs it inside the generated code.

>>> import graphgrad.static as sf
>>> w = sf.Variable(3.0)
>>> step = sf.train.GradientDescentOptimizer(0.25).minimize(w * w)
>>> with sf.Session() as sess:
...     _ = sess.run(step)
...     float(sess.run(w))
1.5
"""

from __future__ import annotations

import numpy as _np

from ..core.tensor import Tensor
from ._graph import Variable, _op, _topo, _TrainPrim


class Optimizer:
    """Base class: ``minimize(loss, var_list=None)`` -> train op."""

    def minimize(self, loss, var_list=None, name: str | None = None):
        if var_list is None:
            var_list = [t for t in _topo([loss]) if isinstance(t, Variable) and t.trainable
                        and t.data.dtype.kind == "f"]
        var_list = list(var_list)
        if not var_list:
            raise ValueError("minimize: the loss depends on no trainable Variable")
        self._create_slots(var_list)
        op = _op(_TrainPrim(self, len(var_list)), [loss] + var_list)
        op.name = name
        return op

    def _create_slots(self, var_list) -> None:
        """Make per-variable state (momentum, Adam's moments); plain descent has none."""

    def _apply(self, var_list, grads) -> None:
        """Update the variables in place (called by Session.run, under no_grad)."""
        raise NotImplementedError


class GradientDescentOptimizer(Optimizer):
    """``var -= learning_rate * grad``."""

    def __init__(self, learning_rate: float = 0.01, name: str | None = None):
        self.learning_rate = learning_rate

    def _apply(self, var_list, grads) -> None:
        for v, g in zip(var_list, grads):
            if g is not None:
                v.sub_(self.learning_rate * g)


class MomentumOptimizer(Optimizer):
    """TF1's momentum: ``accum = momentum * accum + grad; var -= lr * accum``
    (Nesterov: ``var -= lr * (grad + momentum * accum)``)."""

    def __init__(self, learning_rate: float, momentum: float, use_nesterov: bool = False,
                 name: str | None = None):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.use_nesterov = use_nesterov
        self.slots: dict = {}

    def _create_slots(self, var_list) -> None:
        for v in var_list:
            self.slots.setdefault(id(v), Tensor(_np.zeros_like(v.data)))

    def _apply(self, var_list, grads) -> None:
        for v, g in zip(var_list, grads):
            if g is None:
                continue
            acc = self.slots[id(v)]
            acc.copy_(self.momentum * acc + g)
            if self.use_nesterov:
                v.sub_(self.learning_rate * (g + self.momentum * acc))
            else:
                v.sub_(self.learning_rate * acc)


class AdamOptimizer(Optimizer):
    """TF1's Adam: bias correction folded into the step size, ``epsilon`` outside the sqrt."""

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, name: str | None = None):
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.slots: dict = {}
        self.step = Tensor(_np.zeros((), dtype=_np.float32))

    def _create_slots(self, var_list) -> None:
        for v in var_list:
            self.slots.setdefault(id(v), (Tensor(_np.zeros_like(v.data)),
                                          Tensor(_np.zeros_like(v.data))))

    def _apply(self, var_list, grads) -> None:
        b1, b2 = self.beta1, self.beta2
        t = self.step.copy_(self.step + 1)
        lr_t = self.learning_rate * (1 - b2 ** t) ** 0.5 / (1 - b1 ** t)
        for v, g in zip(var_list, grads):
            if g is None:
                continue
            m, s = self.slots[id(v)]
            m.copy_(b1 * m + (1 - b1) * g)
            s.copy_(b2 * s + (1 - b2) * (g * g))
            v.sub_(lr_t * m / (s ** 0.5 + self.epsilon))


__all__ = ["Optimizer", "GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer"]
