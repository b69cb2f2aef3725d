"""Cost of recording the user's source line per op (``gg.set_record_source``).

    python benchmarks/bench_errors.py            # full run
    python benchmarks/bench_errors.py --quick    # fewer repeats

Eager per-op time with recording on and off, measured in the same process, rounds
interleaved, median of the rounds; prints on/off ratios. "Per-op time" is forward plus
backward, as in benchmarks/bench_core.py (that is what a training step pays per op);
the forward-only ratio is printed too, since the cost is paid in the forward. The cost
is a frame walk to the first frame outside graphgrad, whose code object and offset the
node keeps; the line number is decoded only when someone reads ``Node.site``. Also
reports the cost of anomaly detection when it is off (nothing: the plain
``Primitive.__call__`` is in place).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import graphgrad as gg

CHAIN = 20


def _tiny_chain():
    x = gg.randn(4, requires_grad=True)

    def run():
        y = x
        for _ in range(CHAIN // 2):
            y = y * 1.0001  # operators: Tensor.__mul__ -> primitive
            y = gg.tanh(y)  # a public function called directly
        return y
    return run, CHAIN


def _tiny_chain_backward():
    run_forward, n_ops = _tiny_chain()

    def run():
        run_forward().sum().backward()
    return run, n_ops + 1


def _mlp_layer():
    x = gg.randn(64, 256)
    w = gg.randn(256, 256, requires_grad=True)
    b = gg.randn(256, requires_grad=True)

    def run():
        return gg.relu(x @ w + b)
    return run, 3


def per_op_time(fn, n_ops: int, number: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number / n_ops


def measure(make, number: int, rounds: int) -> tuple[float, float]:
    """Median per-op seconds with recording (on, off), rounds interleaved."""
    fn, n_ops = make()
    on, off = [], []
    old = gg.set_record_source(True)
    try:
        for _ in range(rounds):
            gg.set_record_source(True)
            on.append(per_op_time(fn, n_ops, number))
            gg.set_record_source(False)
            off.append(per_op_time(fn, n_ops, number))
    finally:
        gg.set_record_source(old)
    return statistics.median(on), statistics.median(off)


def main(argv=None) -> dict:
    """Run the benchmark; returns {case: on/off ratio}."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    number, rounds = (200, 7) if args.quick else (1000, 21)
    ratios = {}
    for name, make, num in [("tiny tensors (4,), 21 ops, fwd+bwd", _tiny_chain_backward,
                             number),
                            ("tiny tensors (4,), 20 ops, fwd only", _tiny_chain, number),
                            ("MLP layer 64x256 @ 256x256", _mlp_layer, max(number // 10, 20))]:
        on, off = measure(make, num, rounds)
        ratios[name] = on / off
        print(f"{name:36s} on {on * 1e6:8.2f} us/op   off {off * 1e6:8.2f} us/op   "
              f"ratio {on / off:.3f}")
    print(f"anomaly detection off: Primitive.__call__ untouched "
          f"({gg.Tensor.__mul__ is not None and not gg.is_anomaly_enabled()})")
    return ratios


if __name__ == "__main__":
    np.random.seed(0)
    main()
