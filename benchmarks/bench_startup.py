"""Start-up: wall time of `backproplab --help` and of every `backproplab COMMAND --help`.

    python benchmarks/bench_startup.py --rounds 7

Each command line runs as a fresh process, as a user's shell starts it (the installed
`backproplab` script); the median over rounds is reported, with the slowest. Not a test: it
only prints. The target (issue 8) is under 0.3 s for each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

from backproplab.cli import COMMANDS

TARGET = 0.3


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=7, help="runs of each command (default 7)")
    args = p.parse_args()
    exe = shutil.which("backproplab")
    base = [exe] if exe else [sys.executable, "-m", "backproplab"]
    lines = [[], *([name] for name in COMMANDS)]
    print(f"{' '.join(base)}; {args.rounds} rounds; load average {os.getloadavg()[0]:.2f}\n")
    print(f"{'command':32s} {'median s':>9s} {'max s':>7s}  target {TARGET} s")
    for words in lines:
        times = [wall(base + words + ["--help"]) for _ in range(args.rounds)]
        median = statistics.median(times)
        verdict = "met" if median < TARGET else "NOT met"
        print(f"{' '.join(['backproplab', *words, '--help']):32s} {median:9.3f} "
              f"{max(times):7.3f}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
