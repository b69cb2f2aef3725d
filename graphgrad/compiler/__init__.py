"""``gg.compile``: trace a function into a graph, simplify it, and run generated NumPy.

>>> import graphgrad as gg
>>> f = gg.compile(lambda x, y: gg.sum(x * y))
>>> float(f(gg.ones(3), gg.ones(3)))
3.0
"""

from .api import Compiled, Constant, compile  # noqa: F401
from .trace import Graph, Var  # noqa: F401

__all__ = ["Compiled", "Constant", "Graph", "Var", "compile"]
