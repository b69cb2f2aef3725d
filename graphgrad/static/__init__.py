"""Define-and-run graphs in the style of TensorFlow 1 and SimpleFlow, on graphgrad's ops.

Building a graph records ordinary graphgrad Nodes (the one graph structure of the
package): a ``placeholder`` is a tensor that stands for a value fed later, a ``Variable``
is a tensor that keeps its value between runs, and every op applied to them records a
node, comparisons, ``argmax`` and casts included. ``Session.run`` recomputes every node
the fetches need with the fed values, on every run, through ``gg.compile``: each
(fetches, feeds) pair is traced once per feed shapes and afterwards runs generated NumPy.

>>> import graphgrad.static as sf
>>> with sf.Graph().as_default():
...     a = sf.constant(2.0); b = sf.constant(3.0); z = sf.constant(6.0)
...     loss = sf.multiply(z, sf.add(a, b))
...     da, dz = sf.gradients(loss, [a, z])
...     with sf.Session() as sess:
...         print(sess.run([loss, da, dz]))
[array(30., dtype=float32), array(6., dtype=float32), array(5., dtype=float32)]

TF1 programs run with ``import graphgrad.static as tf``: ``tf.placeholder("float")`` is
float32, ``tf.nn`` and ``tf.train`` are namespaces, ``reduction_indices=`` and
``keep_dims=`` work, and ``t.eval()`` / ``op.run()`` use the session of the ``with``
block. Variables are initialised when they are created (as SimpleFlow does);
``global_variables_initializer()`` returns an op that resets them to their initial
values, so TF1 code that runs it works unchanged. Variable values live in the Variable
(shared by all sessions), not in the session.
"""

from ..core.errors import DTypeError, ShapeError
from . import nn, train
from ._graph import (
    FeedError,
    Graph,
    Operation,
    Placeholder,
    Variable,
    bool_,
    constant,
    float32,
    float64,
    get_default_graph,
    global_variables_initializer,
    gradients,
    group,
    initialize_all_variables,
    int32,
    int64,
    placeholder,
    reset_default_graph,
)
from ._ops import (
    abs,
    add,
    argmax,
    argmin,
    cast,
    divide,
    equal,
    exp,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    matmul,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    ones,
    pow,
    random_normal,
    random_uniform,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_sum,
    relu,
    reshape,
    set_random_seed,
    sigmoid,
    sqrt,
    square,
    subtract,
    tanh,
    transpose,
    truncated_normal,
    where,
    zeros,
)
from ._session import InteractiveSession, Session, get_default_session
from .train import AdamOptimizer, GradientDescentOptimizer, MomentumOptimizer, Optimizer

__all__ = [
    # graphs, sessions, errors
    "Graph", "Session", "InteractiveSession", "Variable", "Placeholder", "Operation",
    "placeholder", "constant", "gradients", "global_variables_initializer",
    "initialize_all_variables", "get_default_graph", "reset_default_graph",
    "get_default_session", "group", "FeedError", "ShapeError", "DTypeError",
    # namespaces and optimizers
    "nn", "train", "GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer",
    "Optimizer",
    # dtypes
    "float32", "float64", "int32", "int64", "bool_",
    # ops
    "add", "subtract", "multiply", "divide", "matmul", "negative", "square", "sigmoid",
    "log", "exp", "tanh", "relu", "sqrt", "abs", "maximum", "minimum", "pow", "equal",
    "not_equal", "less", "less_equal", "greater", "greater_equal", "where", "transpose",
    "reshape", "cast", "argmax", "argmin", "reduce_sum", "reduce_mean", "reduce_max",
    "reduce_min", "zeros", "ones", "random_normal", "random_uniform", "truncated_normal",
    "set_random_seed",
]


def __getattr__(name: str):
    # no fall-through into graphgrad: a TF1 name that is missing should say so, not
    # quietly resolve to an internal of another module
    raise AttributeError(f"module 'graphgrad.static' has no attribute {name!r}; its API "
                         "is graphgrad.static.__all__ (graphgrad's own ops, gg.*, also "
                         "work on graph tensors)")


def __dir__() -> list:
    return sorted(__all__)
