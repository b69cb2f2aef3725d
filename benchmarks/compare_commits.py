"""Run one benchmark against an earlier commit and the working tree, interleaved.

    python benchmarks/compare_commits.py --base HEAD~3 bench_core.py --quick
    python benchmarks/compare_commits.py --base v0.1 --rounds 5 bench_compile.py --repeat 20

The earlier commit is checked out into a temporary git worktree; the same benchmark
script (this tree's) runs alternately on both trees, ``--rounds`` times each, so that the
noise of a shared machine hits both alike. Each run already measures graphgrad against
its peers in one process; this prints, per row, the median time of each tree and
new/old (below 1: the working tree is faster), and the same for the gg/peer ratio that
each run printed (the ratio cancels most machine noise).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
_NUM = re.compile(r"(-?\d+(?:\.\d+)?)(us|ms|s)?")
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, None: 1.0}


def parse_rows(text: str) -> dict:
    """``{row name: [numbers...]}`` from a benchmark's table (times in seconds)."""
    rows = {}
    for line in text.splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) < 3:
            continue
        nums = []
        for p in parts[1:]:
            m = _NUM.fullmatch(p.replace(" ", ""))
            nums.append(float(m.group(1)) * _UNIT[m.group(2)] if m else None)
        if any(n is not None for n in nums):
            rows[parts[0]] = nums
    return rows


def run(tree: str, script: str, args: list) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    out = subprocess.run([sys.executable, os.path.join(HERE, script), *args], env=env,
                         capture_output=True, text=True, check=True, cwd=tree)
    return parse_rows(out.stdout)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the commit to compare against")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("script", help="a benchmark in benchmarks/, e.g. bench_core.py")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base_tree = os.path.join(tmp, "base")
        subprocess.run(["git", "worktree", "add", "--detach", "-q", base_tree, a.base],
                       cwd=ROOT, check=True)
        try:
            samples = {"base": [], "new": []}
            for _ in range(a.rounds):
                samples["base"].append(run(base_tree, a.script, a.args))
                samples["new"].append(run(ROOT, a.script, a.args))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", base_tree], cwd=ROOT,
                           check=False)
    report(samples)


def report(samples: dict) -> None:
    names = [n for n in samples["new"][0] if n in samples["base"][0]]
    print(f"{'row':<44} {'column':>7} {'base':>10} {'new':>10} {'new/base':>9}")
    for name in names:
        width = len(samples["new"][0][name])
        for col in range(width):
            def med(side):
                vals = [s[name][col] for s in samples[side]
                        if name in s and col < len(s[name]) and s[name][col] is not None]
                return statistics.median(vals) if vals else None
            b, n = med("base"), med("new")
            if b is None or n is None or b == 0:
                continue
            print(f"{name[:44]:<44} {col:>7} {b:>10.4g} {n:>10.4g} {n / b:>9.3f}")


if __name__ == "__main__":
    main()
