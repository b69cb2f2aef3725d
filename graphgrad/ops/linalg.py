"""Linear algebra: matmul (NumPy semantics), einsum, norm; dot and outer on top."""

from __future__ import annotations

import string

from ..core.backend import array_module, xp
from ..core.errors import ShapeError, broadcast_problem, fmt_shape, shape_of
from ..core.primitive import Primitive
from ._util import keep, kept_shape, normalize_axis, pick
from .elementwise import where
from .shape import broadcast_to_p, reshape, reshape_p, swapaxes


def _nd(x) -> int:
    return len(getattr(x, "shape", ()))


def _mT(x):
    return swapaxes(x, -1, -2)


def _matmul_diagnosis(prim, args, params):
    if len(args) != 2:
        return None
    a, b = shape_of(args[0]), shape_of(args[1])
    head = f"{fmt_shape(a)} @ {fmt_shape(b)}"
    if not a or not b:
        which = "left" if not a else "right"
        return f"{head}: the {which} operand is a scalar; use * to scale"
    k_a = a[-1]
    k_b = b[0] if len(b) == 1 else b[-2]
    if k_a != k_b:
        where_b = "size" if len(b) == 1 else "rows"
        return (f"{head}: inner dimensions {k_a} and {k_b} differ (the left operand's "
                f"columns must equal the right operand's {where_b})")
    batch_a, batch_b = a[:-2], b[:-2]
    problem = broadcast_problem([batch_a, batch_b])
    if problem:
        return f"{head}: batch dimensions {batch_a} and {batch_b} do not broadcast"
    return None


# ---- matmul: 1-D operands are promoted as NumPy does; batch dims broadcast ----
def _matmul_vjp_a(g, out, a, b):
    if _nd(b) == 1:
        if _nd(a) == 1:  # (n,) @ (n,) -> ()
            return g * b
        return reshape(g, tuple(g.shape) + (1,)) * b  # (..., m) x (n,) -> (..., m, n)
    if _nd(a) == 1:  # (n,) @ (..., n, p) -> (..., p): batch dims summed by the engine
        col = matmul(b, reshape(g, tuple(g.shape) + (1,)))
        return reshape(col, tuple(col.shape[:-1]))
    return matmul(g, _mT(b))


def _matmul_vjp_b(g, out, a, b):
    if _nd(a) == 1:
        if _nd(b) == 1:
            return g * a
        # (n,) @ (..., n, p) -> (..., p): outer product a x g per batch
        return reshape(a, (a.shape[0], 1)) * reshape(g, tuple(g.shape[:-1]) + (1, g.shape[-1]))
    if _nd(b) == 1:  # (..., m, n) @ (n,) -> (..., m)
        col = matmul(_mT(a), reshape(g, tuple(g.shape) + (1,)))
        return reshape(col, tuple(col.shape[:-1]))
    return matmul(_mT(a), g)


matmul = Primitive("matmul", xp.matmul, doc="""Matrix product with NumPy's rules.

1-D operands are vectors, batch dimensions broadcast. ``W @ x`` has Jacobian ``W``.
""").defvjp(_matmul_vjp_a, _matmul_vjp_b).defjvp(
    lambda t, out, a, b: matmul(t, b),
    lambda t, out, a, b: matmul(a, t),
).defcodegen("{0} @ {1}", out="np.matmul({0}, {1}, out={out})", fresh=True,
             ).defdiagnose(_matmul_diagnosis)


def dot(a, b):
    """Inner product of vectors; matrix product for 2-D operands."""
    if _nd(a) > 2 or _nd(b) > 2:
        raise ShapeError("dot: operands of more than 2 dimensions; use matmul or einsum")
    if _nd(a) == 0 or _nd(b) == 0:
        return a * b
    return matmul(a, b)


def outer(a, b):
    """Outer product of two vectors (flattened first, as NumPy)."""
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


# ---- einsum ----
def _einsum_impl(*operands, spec):
    return array_module(*operands).einsum(spec, *operands, optimize=len(operands) > 2)


def _einsum_vjp(i, g, out, *operands, spec):
    ins, out_s = spec.split("->")
    ins = ins.split(",")
    target = ins[i]
    others = [s for j, s in enumerate(ins) if j != i]
    available = set(out_s).union(*others) if others else set(out_s)
    # letters of the operand that appear nowhere else were summed out: broadcast back
    keep = "".join(dict.fromkeys(c for c in target if c in available))
    if len(set(target)) != len(target):
        raise NotImplementedError(f"einsum: gradient of repeated index in {target!r}")
    sub = ",".join([out_s] + others) + "->" + keep
    r = einsum_p(g, *[o for j, o in enumerate(operands) if j != i], spec=sub)
    x = operands[i]
    if keep != target:  # `keep` is in the operand's order: add the summed axes back
        # sizes from r, not x: a size-1 axis of x broadcast in '...' is larger in r (the
        # engine sums it back; found by the fuzzer)
        size = {c: r.shape[k] for k, c in enumerate(keep)}
        shape = tuple(size.get(c, 1) for c in target)
        full = tuple(size.get(c, x.shape[k]) for k, c in enumerate(target))
        r = broadcast_to_p(reshape_p(r, shape=shape), shape=full)
    return r


def _einsum_jvp(tangents, out, *operands, spec):
    total = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        args = [t if j == i else o for j, o in enumerate(operands)]
        part = einsum_p(*args, spec=spec)
        total = part if total is None else total + part
    return total


einsum_p = Primitive("einsum", _einsum_impl, doc="Einstein summation.")
einsum_p.defvjp_argnum(_einsum_vjp).defjvp_joint(_einsum_jvp)


def _explicit_spec(spec: str, operands) -> str:
    """Expand '...' and add the implicit output, so every spec is 'ab,bc->ac'."""
    spec = spec.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
    else:
        ins, out = spec, None
    ins = ins.split(",")
    if len(ins) != len(operands):
        raise ShapeError(f"einsum: {spec!r} names {len(ins)} operands, got {len(operands)}")
    used = set("".join(ins) + (out or ""))
    free = [c for c in string.ascii_letters if c not in used]
    ell_n = 0
    for s, op in zip(ins, operands):
        if "..." in s:
            ell_n = max(ell_n, _nd(op) - (len(s) - 3))
    ell = "".join(free[:ell_n])
    new_ins = []
    for s, op in zip(ins, operands):
        if "..." in s:
            k = _nd(op) - (len(s) - 3)
            s = s.replace("...", ell[ell_n - k:] if k else "")
        if len(s) != _nd(op):
            raise ShapeError(f"einsum: subscripts {s!r} do not fit an operand of shape "
                             f"{tuple(op.shape)}")
        new_ins.append(s)
    if out is None:
        counts = {}
        for c in "".join(new_ins):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return ",".join(new_ins) + "->" + out


def einsum(spec: str, *operands):
    """``einsum('ij,jk->ik', a, b)``; any number of operands, '...' allowed."""
    return einsum_p(*operands, spec=_explicit_spec(spec, operands))


# ---- norm: zero subgradient at 0, as PyTorch ----
def _norm_impl(x, axis, keepdims):
    m = array_module(x)
    return m.sqrt(m.sum(x * x, axis=axis, keepdims=keepdims))


def _norm_dir(x, out, axis, keepdims):
    o = out if keepdims else reshape_p(out, shape=kept_shape(tuple(x.shape), axis))
    return x / where(o == 0, 1.0, o)


norm_p = Primitive("norm", _norm_impl,
                   doc="2-norm (vector) or Frobenius norm; subgradient 0 at 0.").defvjp(
    lambda g, out, x, axis, keepdims:
        (g if keepdims else reshape_p(g, shape=kept_shape(tuple(x.shape), axis)))
        * _norm_dir(x, out, axis, keepdims),
).defjvp(
    lambda t, out, x, axis, keepdims:
        _sum(t * _norm_dir(x, out, axis, keepdims), axis, keepdims),
)


def _sum(x, axis, keepdims):
    from .reduce import sum_p
    return sum_p(x, axis=axis, keepdims=keepdims)


def norm(input, ord=None, axis=None, keepdims: bool = False, *, p=None, dim=None,
         keepdim=None):
    """Euclidean norm of a vector, Frobenius norm of a matrix (``ord`` / ``p`` None, 2 or
    'fro'), over ``axis`` / ``dim``.

    >>> import graphgrad as gg
    >>> gg.norm(gg.tensor([[3.0, 4.0], [0.0, 1.0]]), dim=1).tolist()
    [5.0, 1.0]
    """
    ord = pick("norm", ord, p, ("ord", "p"))
    if ord not in (None, 2, "fro"):
        raise ValueError(f"norm: ord={ord!r} is not supported (use None, 2 or 'fro')")
    return norm_p(input, axis=normalize_axis(pick("norm", axis, dim), _nd(input), "norm"),
                  keepdims=keep("norm", keepdims, keepdim))
