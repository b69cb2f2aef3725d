"""``tf.nn``: TF1's neural-network functions on graph tensors.

>>> import graphgrad.static as tf
>>> logits = tf.placeholder(tf.float32, [None, 3])
>>> labels = tf.placeholder(tf.float32, [None, 3])
>>> loss = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
>>> tf.Session().run(loss, {logits: [[0.0, 0.0, 0.0]], labels: [[1.0, 0.0, 0.0]]}).round(4)
array([1.0986], dtype=float32)
"""

from .. import ops as _gg
from ..core.tensor import Tensor as _Tensor
from ._graph import _op as _op
from ._graph import _RandomPrim
from ._ops import _call, _generator, _named, _rng

__all__ = [
    "relu", "relu6", "sigmoid", "tanh", "softplus", "softmax", "log_softmax", "l2_loss",
    "dropout", "softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2",
    "sparse_softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits",
]


def relu(features, name: str | None = None):
    """max(features, 0)."""
    return _named(_gg.relu(features), name)


def relu6(features, name: str | None = None):
    """min(max(features, 0), 6)."""
    return _named(_gg.clip(features, min=0.0, max=6.0), name)


def sigmoid(x, name: str | None = None):
    """1 / (1 + exp(-x))."""
    return _named(_gg.sigmoid(x), name)


def tanh(x, name: str | None = None):
    """tanh(x)."""
    return _named(_gg.tanh(x), name)


def softplus(features, name: str | None = None):
    """log(1 + exp(features))."""
    return _named(_gg.softplus(features), name)


def _axis(axis, dim) -> int:
    if axis is not None and dim is not None:
        raise TypeError("give axis or dim, not both")
    return -1 if axis is None and dim is None else int(dim if axis is None else axis)


def softmax(logits, axis: int | None = None, name: str | None = None, dim: int | None = None):
    """exp(logits) / sum(exp(logits)) along ``axis`` (TF1's ``dim``; the last by default).

    >>> import graphgrad.static as tf
    >>> tf.Session().run(tf.nn.softmax(tf.constant([0.0, 0.0]))).tolist()
    [0.5, 0.5]
    """
    return _named(_call(_gg.softmax, (logits,), {"axis": _axis(axis, dim)}), name)


def log_softmax(logits, axis: int | None = None, name: str | None = None,
                dim: int | None = None):
    """logits - logsumexp(logits) along ``axis`` (the last by default)."""
    return _named(_call(_gg.log_softmax, (logits,), {"axis": _axis(axis, dim)}), name)


def l2_loss(t, name: str | None = None):
    """sum(t ** 2) / 2.

    >>> import graphgrad.static as tf
    >>> float(tf.Session().run(tf.nn.l2_loss(tf.constant([3.0, 4.0]))))
    12.5
    """
    return _named(_gg.sum(t * t) * 0.5, name)


def _named_only(fn_name, _sentinel, labels, logits):
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError(f"tf.nn.{fn_name}: call it with named arguments, "
                         f"{fn_name}(labels=..., logits=...) (as TF1 requires)")


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None,
                                      dim: int = -1, name: str | None = None, axis=None):
    """Per-example cross-entropy of ``softmax(logits)`` against label probabilities
    (fused and stable; the class axis is ``dim``, the last by default). Gradients flow
    into the logits (and into the labels, as in ``_v2``, if they are not fed)."""
    _named_only("softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    return _named(_call(_softmax_xent, (labels, logits), {"axis": _axis(axis, dim)}), name)


def _softmax_xent(labels, logits, axis):
    if axis in (-1, 1) and len(logits.shape) == 2:  # the fused op's layout: (N, C)
        return _gg.cross_entropy(logits, labels, reduction="none")
    return -_gg.sum(labels * _gg.log_softmax(logits, axis=axis), axis=axis)


softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None,
                                             name: str | None = None):
    """Per-example cross-entropy of ``softmax(logits)`` (N, C) against class indices (N,)."""
    _named_only("sparse_softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    return _named(_call(_gg.cross_entropy, (logits, labels), {"reduction": "none"}), name)


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None,
                                      name: str | None = None):
    """Element-wise binary cross-entropy of ``sigmoid(logits)`` against ``labels``."""
    _named_only("sigmoid_cross_entropy_with_logits", _sentinel, labels, logits)
    return _named(_call(_gg.binary_cross_entropy_with_logits, (logits, labels),
                        {"reduction": "none"}), name)


def dropout(x, keep_prob=None, noise_shape=None, seed: int | None = None,
            name: str | None = None, rate=None):
    """Zero each element with probability ``1 - keep_prob`` and scale the kept ones by
    ``1 / keep_prob``, with a new mask on every run (``keep_prob`` may be a placeholder).

    >>> import graphgrad.static as tf
    >>> x = tf.placeholder(tf.float32, [None, 4])
    >>> tf.Session().run(tf.nn.dropout(x, 1.0), {x: [[1.0, 2.0, 3.0, 4.0]]}).tolist()
    [[1.0, 2.0, 3.0, 4.0]]
    """
    if (keep_prob is None) == (rate is None):
        raise ValueError("tf.nn.dropout: give keep_prob (or rate = 1 - keep_prob)")
    keep = keep_prob if rate is None else 1 - rate
    own = _generator(seed)

    def drop(x, keep):
        k = keep.data if isinstance(keep, _Tensor) else keep
        shape = x.shape if noise_shape is None else tuple(noise_shape)
        scale = (_rng(own).random(shape) < k) / k  # a NumPy array: no gradient of its own
        return x * scale.astype(x.dtype)
    drop.__name__ = "dropout"
    dummy = drop(x, keep)
    return _named(_op(_RandomPrim(drop, {}), (x, keep), dummy.data, cls=_Tensor), name)


def __getattr__(name: str):
    raise AttributeError(f"module 'graphgrad.static.nn' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(__all__)
