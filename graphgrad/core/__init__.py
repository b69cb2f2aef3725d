"""The core: per-thread state, the backend, primitives and the interpreter stack, the one
graph structure, Tensor, the backward engine and the functional transforms.

Nothing here imports nn, compile or explain; everything else stands on it.
"""
