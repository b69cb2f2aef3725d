"""Eager-mode benchmark: graphgrad vs PyTorch eager vs hand-written NumPy, in one run.

    python benchmarks/bench_core.py            # full run
    python benchmarks/bench_core.py --quick    # fewer repeats

Prints ratios (graphgrad time / peer time; below 1 means graphgrad is faster), each
measured in the same process, interleaved, taking the median of several rounds, since
the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import graphgrad as gg

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def timeit(fn, number: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def compare(fns: dict, number: int, rounds: int) -> dict:
    """Median seconds per call of each fn, rounds interleaved so noise hits all alike."""
    samples = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            samples[k].append(timeit(fn, number))
    return {k: statistics.median(v) for k, v in samples.items()}


# ---- per-op overhead on tiny tensors ----
CHAIN = 20  # ops per chain: 10 mul + 10 add, then sum and backward


def op_overhead(number, rounds):
    xg = gg.randn(4, requires_grad=True)

    def gg_chain():
        y = xg
        for _ in range(CHAIN // 2):
            y = y * 1.01 + 0.5
        y.sum().backward()
        xg.grad = None

    fns = {"graphgrad": gg_chain}
    if torch is not None:
        xt = torch.randn(4, requires_grad=True)

        def torch_chain():
            y = xt
            for _ in range(CHAIN // 2):
                y = y * 1.01 + 0.5
            y.sum().backward()
            xt.grad = None

        fns["pytorch"] = torch_chain
    t = compare(fns, number, rounds)
    return {k: v / (CHAIN + 1) for k, v in t.items()}


# ---- MLP 784-256-128-10, ReLU, cross-entropy, SGD ----
SIZES = (784, 256, 128, 10)
LR = 0.01


def init_params(rng):
    ps = []
    for i, o in zip(SIZES[:-1], SIZES[1:]):
        ps.append(((rng.standard_normal((i, o)) * np.sqrt(2.0 / i)).astype(np.float32),
                   np.zeros(o, np.float32)))
    return ps


def mlp_graphgrad(params, x, y):
    ps = [(gg.tensor(w, requires_grad=True), gg.tensor(b, requires_grad=True)) for w, b in params]
    xt, yt = gg.tensor(x), gg.tensor(y)

    def step():
        h = xt
        for i, (w, b) in enumerate(ps):
            h = h @ w + b
            if i < len(ps) - 1:
                h = gg.relu(h)
        loss = gg.cross_entropy(h, yt)
        loss.backward()
        for w, b in ps:
            w.data -= LR * w.grad.data
            b.data -= LR * b.grad.data
            w.grad = b.grad = None
        return loss
    return step


def mlp_numpy(params, x, y):
    ps = [(w.copy(), b.copy()) for w, b in params]
    n = x.shape[0]
    onehot = np.eye(SIZES[-1], dtype=np.float32)[y]

    def step():
        acts = [x]
        h = x
        for i, (w, b) in enumerate(ps):
            h = h @ w + b
            if i < len(ps) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        z = h - h.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(p[np.arange(n), y]))
        d = (p - onehot) / n
        for i in range(len(ps) - 1, -1, -1):
            w, b = ps[i]
            a = acts[i]
            dw = a.T @ d
            db = d.sum(axis=0)
            if i > 0:
                d = (d @ w.T) * (acts[i] > 0)
            w -= LR * dw
            b -= LR * db
        return loss
    return step


def mlp_torch(params, x, y):
    ps = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
          for w, b in params]
    xt, yt = torch.tensor(x), torch.tensor(y)

    def step():
        h = xt
        for i, (w, b) in enumerate(ps):
            h = h @ w + b
            if i < len(ps) - 1:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, yt)
        loss.backward()
        with torch.no_grad():
            for w, b in ps:
                w -= LR * w.grad
                b -= LR * b.grad
                w.grad = b.grad = None
        return loss
    return step


def mlp(batch, number, rounds):
    rng = np.random.default_rng(0)
    params = init_params(rng)
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], batch)
    fns = {"graphgrad": mlp_graphgrad(params, x, y), "numpy": mlp_numpy(params, x, y)}
    if torch is not None:
        fns["pytorch"] = mlp_torch(params, x, y)
    return compare(fns, number, rounds)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(2)
    q = args.quick
    rows = []
    t = op_overhead(200 if q else 1000, 3 if q else 7)
    rows.append(("per-op fwd+bwd, tiny tensors", t))
    for batch, n in ((64, 20 if q else 100), (1024, 3 if q else 15)):
        rows.append((f"MLP 784-256-128-10 step, batch {batch}", mlp(batch, n, 3 if q else 5)))
    print(f"{'benchmark':<40} {'graphgrad':>11} {'pytorch':>11} {'numpy':>11} "
          f"{'gg/torch':>9} {'gg/numpy':>9}")
    for name, t in rows:
        g = t["graphgrad"]
        pt, nn = t.get("pytorch"), t.get("numpy")

        def fmt(v):
            return f"{v * 1e6:9.1f}us" if v is not None else f"{'-':>11}"
        r1 = f"{g / pt:9.2f}" if pt else f"{'-':>9}"
        r2 = f"{g / nn:9.2f}" if nn else f"{'-':>9}"
        print(f"{name:<40} {fmt(g)} {fmt(pt)} {fmt(nn)} {r1} {r2}")


if __name__ == "__main__":
    main()
