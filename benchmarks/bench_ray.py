"""The Ray backend's cost: overhead against the local backend, and scaling over nodes.

    python benchmarks/bench_ray.py --presets moons-activations,moons-hidden,blobs-depth \\
        --seeds 5 --passes 20000 --rounds 2
    python benchmarks/bench_ray.py --presets all --rounds 3          # all eight, later

Overhead: `backproplab study NAME --out TMP --backend local|ray` as subprocesses, in
alternation (ray, local, local, ray, ...) so that load from other work on a shared machine falls
on both alike; the wall time of each, and, measured apart in a process of its own, the Ray
start-up (`import ray` + `ray.init` of a local instance) and shut-down that `--backend ray` pays
on top of its tasks.

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
import json
import os
import platform
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

INIT_CODE = """
import os, time, logging
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
t0 = time.perf_counter()
import ray
t1 = time.perf_counter()
ray.init(address="local", num_cpus={cpus}, include_dashboard=False, log_to_driver=False,
         logging_level=logging.WARNING)
t2 = time.perf_counter()
ray.shutdown()
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def study(args: list[str], out: Path) -> tuple[float, dict]:
    """Wall seconds of one `backproplab study ...` into a fresh `out`, and its study.json."""
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "backproplab", "study", *args, "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    return wall, json.loads((out / "study.json").read_text())


def ray_startup(cpus: int) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, "-c", INIT_CODE.format(cpus=cpus)], check=True,
                         capture_output=True, text=True).stdout.split()
    return tuple(float(x) for x in out[-3:])


def overhead(presets, seeds, passes, rounds, tmp: Path) -> None:
    common = ["--seeds", str(seeds), "--passes", str(passes)]
    print(f"\n## Overhead: --backend ray vs local (--seeds {seeds} --passes {passes}, "
          f"{rounds} rounds each, alternating)\n")
    inits = [ray_startup(os.cpu_count() or 1) for _ in range(2)]
    imp, init, down = (statistics.median(x) for x in zip(*inits))
    print(f"Ray start-up, measured apart: import ray {imp:.2f} s, ray.init {init:.2f} s, "
          f"ray.shutdown {down:.2f} s (median of 2)\n")
    print("| preset | local, s | ray, s | ray - local | share of ray's wall | "
          "of which start-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in presets:
        times = {"local": [], "ray": []}
        order = ["ray", "local", "local", "ray"]
        for r in range(rounds):
            for backend in order[(r % 2) * 2:(r % 2) * 2 + 2]:
                wall, _ = study([name, *common, "--backend", backend], tmp / f"{name}-{backend}")
                times[backend].append(wall)
        local, ray_ = statistics.median(times["local"]), statistics.median(times["ray"])
        extra = ray_ - local
        print(f"| {name} | {local:.1f} | {ray_:.1f} | {extra:+.1f} | {extra / ray_:.0%} | "
              f"{(imp + init + down) / ray_:.0%} |", flush=True)
        print(f"<!-- {name}: local {[round(x, 2) for x in times['local']]}, "
              f"ray {[round(x, 2) for x in times['ray']]} -->", flush=True)


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
        if presets:
            overhead(presets, a.seeds, a.passes, a.rounds, tmp)
        if not a.no_scaling:
            scaling(a.grid_widths, a.grid_lambdas, a.grid_seeds, a.grid_passes, tmp)
    print(f"\nload average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
