"""The Ray backend's cost: overhead against the local backend, and scaling over nodes.

    python benchmarks/bench_ray.py --presets moons-activations,moons-hidden,blobs-depth \\
        --seeds 5 --passes 20000 --rounds 2
    python benchmarks/bench_ray.py --presets all --rounds 3          # all eight, later
    python benchmarks/bench_ray.py --attached --no-scaling     # also (b): --address, attached

Overhead: `backproplab study NAME --out TMP` as subprocesses with `--backend local`, with
`--backend ray` (a Ray instance of its own, started and stopped by the command: figure (a)) and,
with --attached, with `--backend ray --address ADDRESS` (a Ray instance already running, as a
cluster's user runs: figure (b)), in rotation (each round starts with the next of them) so that
load from other work on a shared machine falls on all alike; the wall time of each, and,
measured apart in a process of its own, the start-up (`import ray`, RayBackend opening a local
instance) and the shut-down that (a) pays on top of its tasks, and the connecting that (b)
pays. The instance of (b) is started here by a process of its own holding `ray.init` open (on
127.0.0.1 only, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0; with a token of its own, which the
commands get through RAY_AUTH_MODE=token and RAY_AUTH_TOKEN), with as many CPUs as (a)'s; or
give --address to use a running one. The load average is printed before every preset.

Scaling (--grid-widths/--grid-lambdas, --grid-seeds, --grid-passes): one large custom grid
(`--vary width=... --vary reg_lambda=...`, default 12 widths x 5 values = 60 settings: the
driver draws a figure panel per setting, so 200 settings spend minutes in figures alone) on a
ray.cluster_utils.Cluster on 127.0.0.1 of one node with one CPU, then of two nodes with one CPU
each, both reached with --address (so both connect alike). Both nodes share this machine's
cores: on a 2-core machine that is the best two nodes can do, not what two machines would. The
per-task cost comes from study.json (the training seconds of each stack) and the per-task Ray
overhead from round trips of empty tasks on the 2-node cluster; from those it prints an estimate
for 16 and 64 nodes. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # 127.0.0.1 only; before ray

EIGHT = ["moons-activations", "moons-hidden", "moons-depth", "moons-width",
         "moons-deep-activations", "blobs-depth", "blobs-width", "blobs-activations"]

START_CODE = """
import os, sys, time
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
t0 = time.perf_counter()
import ray
t1 = time.perf_counter()
from backproplab.backends.ray import RayBackend
backend = RayBackend({address!r}, cpus={cpus})
t2 = time.perf_counter()
backend.close()
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""

HOLD_CODE = """
import logging, sys
import ray
ctx = ray.init(address="local", num_cpus=int(sys.argv[1]), include_dashboard=False,
               log_to_driver=False, logging_level=logging.WARNING)
print(ctx.address_info["gcs_address"], flush=True)
sys.stdin.read()
ray.shutdown()
"""


def study(args: list[str], out: Path, env=None) -> tuple[float, dict]:
    """Wall seconds of one `backproplab study ...` into a fresh `out`, and its study.json."""
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "backproplab", "study", *args, "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t
    return wall, json.loads((out / "study.json").read_text())


def ray_startup(cpus: int | None, address=None, env=None) -> tuple[float, float, float]:
    """Seconds of `import ray`, of opening a RayBackend (a local instance with `cpus`, or a
    connection to `address`) and of closing it, in a process of its own."""
    out = subprocess.run([sys.executable, "-c", START_CODE.format(cpus=cpus, address=address)],
                         check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}).stdout.split()
    return tuple(float(x) for x in out[-3:])


@contextlib.contextmanager
def running_instance(cpus: int):
    """(address, env) of a Ray instance on 127.0.0.1 with `cpus` CPUs, held open by a process
    of its own until the block ends; env: what a driver needs to reach it (its token)."""
    token = secrets.token_hex(32)
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_CODE, str(cpus)],
                              env={**os.environ, **env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        address = holder.stdout.readline().strip()
        if not address.startswith("127.0.0.1:"):
            raise RuntimeError(f"the Ray instance did not start ({address!r})")
        yield address, env
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


def overhead(presets, seeds, passes, rounds, tmp: Path, attached=None) -> None:
    """`attached`: None, or (address, env) of a running Ray instance for figure (b)."""
    common = ["--seeds", str(seeds), "--passes", str(passes)]
    kinds = ["ray", "local"] + (["attached"] if attached else [])
    print(f"\n## Overhead: --backend ray vs local (--seeds {seeds} --passes {passes}, "
          f"{rounds} rounds each, in rotation: {', '.join(kinds)})\n")
    cpus = os.cpu_count() or 1
    inits = [ray_startup(cpus) for _ in range(2)]
    imp, init, down = (statistics.median(x) for x in zip(*inits))
    print(f"(a) a Ray instance of its own, measured apart: import ray {imp:.2f} s, RayBackend "
          f"opening it {init:.2f} s, closing it {down:.2f} s (median of 2)")
    fixed = {"ray": imp + init + down}
    if attached:
        conns = [ray_startup(None, *attached) for _ in range(2)]
        cimp, conn, disc = (statistics.median(x) for x in zip(*conns))
        fixed["attached"] = cimp + conn + disc
        print(f"(b) --address {attached[0]}, measured apart: import ray {cimp:.2f} s, "
              f"connecting {conn:.2f} s, disconnecting {disc:.2f} s (median of 2)")
    print("\n| preset | load avg | local, s | (a) ray, s | (a) - local | (a) share of its "
          "wall | of which start+stop |" + (" (b) attached, s | (b) - local | (b) share "
                                           "of its wall |" if attached else ""))
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if attached else ""))
    turn = 0
    for name in presets:
        load = os.getloadavg()[0]
        times = {k: [] for k in kinds}
        for _ in range(rounds):
            for kind in kinds[turn % len(kinds):] + kinds[:turn % len(kinds)]:
                args, env = [name, *common, "--backend", "local" if kind == "local" else "ray"], {}
                if kind == "attached":
                    args += ["--address", attached[0]]
                    env = attached[1]
                wall, _ = study(args, tmp / f"{name}-{kind}", env)
                times[kind].append(wall)
            turn += 1
        med = {k: statistics.median(v) for k, v in times.items()}
        row = (f"| {name} | {load:.1f} | {med['local']:.1f} | {med['ray']:.1f} | "
               f"{med['ray'] - med['local']:+.1f} | {(med['ray'] - med['local']) / med['ray']:.0%}"
               f" | {fixed['ray'] / med['ray']:.0%} |")
        if attached:
            extra = med["attached"] - med["local"]
            row += f" {med['attached']:.1f} | {extra:+.1f} | {extra / med['attached']:.0%} |"
        print(row, flush=True)
        print(f"<!-- {name}: " + ", ".join(f"{k} {[round(x, 2) for x in v]}"
                                             for k, v in times.items())
              + f"; load average after {os.getloadavg()[0]:.1f} -->", flush=True)


def empty():
    return None


def scaling(widths, lambdas, seeds, passes, tmp: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    grid = ["--dims", "2,3,2", "--vary", f"width={widths}", "--vary", f"reg_lambda={lambdas}",
            "--seeds", str(seeds), "--passes", str(passes), "--backend", "ray"]
    n_settings = len(widths.split(",")) * len(lambdas.split(","))
    print(f"\n## Scaling: {n_settings} settings x {seeds} seeds, {passes} passes\n")
    print("backproplab study " + " ".join(grid) + " --address ADDRESS --out TMP\n")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    rows = {}
    try:
        for nodes in (1, 2):
            if nodes == 2:
                cluster.add_node(num_cpus=1)
                cluster.wait_for_nodes()
            wall, meta = study([*grid, "--address", cluster.address], tmp / f"grid-{nodes}")
            tasks = meta["tasks"]
            task_s = sum(meta["seconds"].values())  # training seconds, summed over settings
            on = {t["node"] for t in tasks}
            rows[nodes] = (wall, len(tasks), task_s, len(on))
            print(f"{nodes} node(s): wall {wall:.1f} s, {len(tasks)} tasks on {len(on)} "
                  f"node(s), {len(tasks) / wall:.2f} tasks/s, training seconds summed over "
                  f"tasks {task_s:.1f} s", flush=True)
        ray.init(address=cluster.address, log_to_driver=False)
        f = ray.remote(num_cpus=1)(empty)
        ray.get([f.remote() for _ in range(20)])  # warm the workers
        n = 400
        t = time.perf_counter()
        ray.get([f.remote() for _ in range(n)])
        per_empty = (time.perf_counter() - t) / n
        ray.shutdown()
    finally:
        cluster.shutdown()
    wall1, n1, task1, _ = rows[1]
    wall2, n_tasks, task2, _ = rows[2]
    cost = task1 / n_tasks  # per-task training cost, one CPU to itself, at the 2-node cutting
    fixed = wall1 - task1  # start-up, connecting, overhead of every task, tables and figures
    print(f"\nempty task round trip (2 nodes): {per_empty * 1000:.2f} ms per task")
    print(f"per-task training cost c = {task1:.1f} s (summed, 1 node) / {n_tasks} tasks "
          f"(as cut for 2 nodes; {n1} for 1) = {cost:.3f} s; summed on 2 nodes sharing 2 "
          f"cores: {task2:.1f} s")
    print(f"fixed part F = wall(1 node) - summed training = {wall1:.1f} - {task1:.1f} = "
          f"{fixed:.1f} s")
    print(f"2 nodes, predicted F + S / 2 = {fixed + task1 / 2:.1f} s; measured "
          f"{wall2:.1f} s (speed-up {wall1 / wall2:.2f}x)")
    for nodes in (16, 64):
        waves = -(-n_tasks // nodes)
        est = fixed + waves * cost + n_tasks * per_empty
        print(f"{nodes} nodes (1 CPU each): F + ceil(N/{nodes}) c + N o = {fixed:.1f} + "
              f"{waves} x {cost:.3f} + {n_tasks} x {per_empty:.4f} = {est:.1f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default="moons-activations,moons-hidden,blobs-depth",
                   help="comma-separated preset names, or 'all' (the eight); '' to skip")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--passes", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--attached", action="store_true",
                   help="also figure (b): --backend ray --address of a Ray instance already "
                   "running (started here on 127.0.0.1, or --address)")
    p.add_argument("--address", default=None,
                   help="with --attached: a running Ray cluster's GCS address to use instead "
                   "(its token, if it wants one, from the environment)")
    p.add_argument("--grid-widths", default=",".join(str(w) for w in range(1, 13)))
    p.add_argument("--grid-lambdas", default="0,0.001,0.01,0.1,1")
    p.add_argument("--grid-seeds", type=int, default=5)
    p.add_argument("--grid-passes", type=int, default=2000)
    p.add_argument("--no-scaling", action="store_true")
    a = p.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average at start {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        presets = EIGHT if a.presets == "all" else [x for x in a.presets.split(",") if x]
        if presets and a.attached and a.address:
            overhead(presets, a.seeds, a.passes, a.rounds, tmp, (a.address, {}))
        elif presets and a.attached:
            with running_instance(os.cpu_count() or 1) as attached:
                overhead(presets, a.seeds, a.passes, a.rounds, tmp, attached)
        elif presets:
            overhead(presets, a.seeds, a.passes, a.rounds, tmp)
        if not a.no_scaling:
            scaling(a.grid_widths, a.grid_lambdas, a.grid_seeds, a.grid_passes, tmp)
    print(f"\nload average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
