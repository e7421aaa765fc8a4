"""The playground: training throughput while streaming, updates reaching the page, memory.

    python benchmarks/bench_playground.py --seconds 10 --sessions 10

1. offline: passes/s of the engine's `fit_model` for the default network (moons, 2-3-2 tanh,
   full batch), best of three runs of 20,000 passes;
2. streaming: a `backproplab playground` server in its own process, one WebSocket client that
   presses Play and reads every frame for --seconds: passes/s (the pass counter over time) as
   a share of (1), and frames (view updates) per second received;
3. memory: the server's resident memory (VmRSS) when started, with --sessions sessions open
   and idle, and with all of them training at once.

The client only counts messages (no drawing), so (2) measures the server; a real page draws
each frame in the browser's own process. Not a test: it only prints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time

from websockets.sync.client import connect

from backproplab.datasets import load_dataset
from backproplab.nn.network import DeepNeuralNetwork


def offline_passes_per_s(passes=20_000, rounds=3) -> float:
    X, y = load_dataset("moons")
    best = 0.0
    for _ in range(rounds):
        net = DeepNeuralNetwork([2, 3, 2], "tanh", 0.01, seed=0)
        start = time.perf_counter()
        net.fit_model(X, y, 0.01, passes, print_loss=False)
        best = max(best, passes / (time.perf_counter() - start))
    return best


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        line = next(line for line in f if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def frames_until(ws, ok, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = json.loads(ws.recv(timeout=timeout))
        if m["type"] == "frame" and ok(m):
            return m
    raise TimeoutError("no such frame")


def stream(url: str, seconds: float) -> tuple[float, float]:
    """(passes/s, frames/s) seen by one client that plays for `seconds`."""
    with connect(url, max_size=None) as ws:
        frames_until(ws, lambda m: True)
        ws.send(json.dumps({"type": "play"}))
        first = frames_until(ws, lambda m: m["pass"] > 0)
        start, frames, last = time.perf_counter(), 0, first
        while time.perf_counter() - start < seconds:
            m = json.loads(ws.recv())
            if m["type"] == "frame":
                frames, last = frames + 1, m
        elapsed = time.perf_counter() - start
        ws.send(json.dumps({"type": "pause"}))
    return (last["pass"] - first["pass"]) / elapsed, frames / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args()

    offline = offline_passes_per_s()
    print(f"offline fit_model, moons 2-3-2 tanh full batch: {offline:,.0f} passes/s")

    server = subprocess.Popen(
        [sys.executable, "-m", "backproplab", "playground", "--port", "0", "--no-open",
         "--max-sessions", str(max(args.sessions, 1))], stdout=subprocess.PIPE, text=True)
    try:
        http = server.stdout.readline().split()[2]
        url = http.replace("http://", "ws://") + "ws"
        print(f"server started: {rss_mib(server.pid):.0f} MiB resident")
        rate, fps = stream(url, args.seconds)
        print(f"streaming, one session for {args.seconds:g} s: {rate:,.0f} passes/s "
              f"({100 * rate / offline:.0f}% of offline), {fps:.1f} frames/s received")

        with contextlib.ExitStack() as stack:
            clients = [stack.enter_context(connect(url, max_size=None))
                       for _ in range(args.sessions)]
            for ws in clients:
                frames_until(ws, lambda m: True)
            time.sleep(0.5)
            print(f"{args.sessions} sessions open, idle: {rss_mib(server.pid):.0f} MiB resident")
            for ws in clients:
                ws.send(json.dumps({"type": "play"}))
            end, counts = time.monotonic() + 3.0, [0] * len(clients)
            while time.monotonic() < end:  # keep reading, as pages would
                for i, ws in enumerate(clients):
                    try:
                        while True:
                            ws.recv(timeout=0)
                            counts[i] += 1
                    except TimeoutError:
                        pass
                time.sleep(0.01)
            print(f"{args.sessions} sessions all training: {rss_mib(server.pid):.0f} MiB "
                  f"resident; {sum(counts) / 3.0 / len(clients):.1f} frames/s per session")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
