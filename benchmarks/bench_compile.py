"""gg.compile against PyTorch eager and hand-written NumPy, as time ratios.

Timings are the fastest of --repeat runs, one BLAS thread each. Runs: an MLP
784-256-128-10 training step (forward, cross-entropy, backward, SGD) at batch 64 and
1024, and a tanh RNN (input 64, hidden 128, 50 steps, batch 32) forward and backward
through time. Each row prints the time per step and compiled/torch and compiled/numpy
(below 1 means the compiled step is faster).

    python benchmarks/bench_compile.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import time

# one BLAS thread for every contender: fair, and steady on a shared machine
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

import graphgrad as gg  # noqa: E402

try:
    import torch
    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is optional here
    torch = None


def _time(fn, repeat: int) -> float:
    """The fastest of ``repeat`` runs (the least disturbed by other work on the machine)."""
    for _ in range(3):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


# ------------------------------------------------------------------------ MLP ----

SIZES = (784, 256, 128, 10)
LR = 0.01


def _init(seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        out.append((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32))
        out.append(np.zeros(b, np.float32))
    return out


def mlp_graphgrad(batch):
    W1, b1, W2, b2, W3, b3 = [gg.tensor(a, requires_grad=True) for a in _init()]
    params = [W1, b1, W2, b2, W3, b3]

    def step(x, y):
        for p in params:
            p.grad = None
        h1 = gg.relu(x @ W1 + b1)
        h2 = gg.relu(h1 @ W2 + b2)
        loss = gg.cross_entropy(h2 @ W3 + b3, y)
        loss.backward()
        with gg.no_grad():
            for p in params:
                p.sub_(LR * p.grad)
        return loss

    return gg.compile(step)


def mlp_numpy(batch):
    W1, b1, W2, b2, W3, b3 = _init()

    def step(x, y):
        z1 = x @ W1
        z1 += b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ W2
        z2 += b2
        h2 = np.maximum(z2, 0)
        logits = h2 @ W3
        logits += b3
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        n = x.shape[0]
        loss = np.mean(np.log(s[:, 0]) + m[:, 0] - logits[np.arange(n), y])
        d3 = e / s
        d3[np.arange(n), y] -= 1
        d3 /= n
        dW3 = h2.T @ d3
        db3 = d3.sum(axis=0)
        d2 = d3 @ W3.T
        d2 *= z2 > 0
        dW2 = h1.T @ d2
        db2 = d2.sum(axis=0)
        d1 = d2 @ W2.T
        d1 *= z1 > 0
        dW1 = x.T @ d1
        db1 = d1.sum(axis=0)
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
            g *= LR
            p -= g
        return loss

    return step


def mlp_torch(batch):
    ps = [torch.tensor(a, requires_grad=True) for a in _init()]
    W1, b1, W2, b2, W3, b3 = ps
    F = torch.nn.functional

    def step(x, y):
        for p in ps:
            p.grad = None
        h1 = F.relu(x @ W1 + b1)
        h2 = F.relu(h1 @ W2 + b2)
        loss = F.cross_entropy(h2 @ W3 + b3, y)
        loss.backward()
        with torch.no_grad():
            for p in ps:
                p.sub_(LR * p.grad)
        return loss

    return step


# ------------------------------------------------------------------------ RNN ----

IN, HID, T, BATCH = 64, 128, 50, 32


def _rnn_init(seed=1):
    rng = np.random.default_rng(seed)
    Wx = (rng.standard_normal((IN, HID)) / np.sqrt(IN)).astype(np.float32)
    Wh = (rng.standard_normal((HID, HID)) / np.sqrt(HID)).astype(np.float32)
    return Wx, Wh, np.zeros(HID, np.float32)


def rnn_graphgrad():
    def loss_fn(Wx, Wh, b, xs):
        h = gg.zeros((BATCH, HID))
        for t in range(T):
            h = gg.tanh(xs[t] @ Wx + h @ Wh + b)
        return gg.mean(h * h)

    return gg.compile(gg.value_and_grad(loss_fn, argnums=(0, 1, 2)))


def rnn_numpy():
    def step(Wx, Wh, b, xs):
        h = np.zeros((BATCH, HID), np.float32)
        hs = [h]
        for t in range(T):
            z = xs[t] @ Wx
            z += h @ Wh
            z += b
            h = np.tanh(z)
            hs.append(h)
        loss = np.mean(h * h)
        dh = h * (2.0 / h.size)
        dWx = np.zeros_like(Wx)
        dWh = np.zeros_like(Wh)
        db = np.zeros_like(b)
        for t in range(T - 1, -1, -1):
            hn = hs[t + 1]
            dz = dh * (1 - hn * hn)
            dWx += xs[t].T @ dz
            dWh += hs[t].T @ dz
            db += dz.sum(axis=0)
            dh = dz @ Wh.T
        return loss, (dWx, dWh, db)

    return step


def rnn_torch():
    def step(Wx, Wh, b, xs):
        h = torch.zeros((BATCH, HID))
        for t in range(T):
            h = torch.tanh(xs[t] @ Wx + h @ Wh + b)
        loss = torch.mean(h * h)
        return loss, torch.autograd.grad(loss, (Wx, Wh, b))

    return step


# ----------------------------------------------------------------------- main ----

def main(repeat: int = 30) -> list:
    rows = []
    rng = np.random.default_rng(0)
    for batch in (64, 1024):
        x = rng.standard_normal((batch, 784)).astype(np.float32)
        y = rng.integers(0, 10, batch)
        cg, npf = mlp_graphgrad(batch), mlp_numpy(batch)
        xt, yt = gg.tensor(x), gg.tensor(y)
        t_c = _time(lambda: cg(xt, yt), repeat)
        t_n = _time(lambda: npf(x, y), repeat)
        t_t = float("nan")
        if torch is not None:
            tf = mlp_torch(batch)
            xx, yy = torch.from_numpy(x), torch.from_numpy(y)
            t_t = _time(lambda: tf(xx, yy), repeat)
        rows.append((f"MLP 784-256-128-10 step, batch {batch}", t_c, t_t, t_n))
    Wx, Wh, b = _rnn_init()
    xs = rng.standard_normal((T, BATCH, IN)).astype(np.float32)
    cg, npf = rnn_graphgrad(), rnn_numpy()
    gWx, gWh, gb, gxs = gg.tensor(Wx), gg.tensor(Wh), gg.tensor(b), gg.tensor(xs)
    t_c = _time(lambda: cg(gWx, gWh, gb, gxs), repeat)
    t_n = _time(lambda: npf(Wx, Wh, b, xs), repeat)
    t_t = float("nan")
    if torch is not None:
        tf = rnn_torch()
        tWx, tWh, tb = (torch.tensor(a, requires_grad=True) for a in (Wx, Wh, b))
        txs = torch.from_numpy(xs)
        t_t = _time(lambda: tf(tWx, tWh, tb, txs), repeat)
    rows.append(("tanh RNN 64->128, 50 steps, batch 32, fwd+bwd", t_c, t_t, t_n))
    print(f"{'run':48s} {'compiled':>10s} {'torch':>10s} {'numpy':>10s} "
          f"{'c/torch':>8s} {'c/numpy':>8s}")
    for name, c, t, n in rows:
        print(f"{name:48s} {c * 1e3:9.3f}ms {t * 1e3:9.3f}ms {n * 1e3:9.3f}ms "
              f"{c / t:8.2f} {c / n:8.2f}")
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    main(ap.parse_args().repeat)
