"""Model-passes per second: a whole study preset through the runner vs the tutorial's loop.

    python benchmarks/bench_studies.py moons-activations --passes 20000 --seeds 5 --rounds 2

The baseline is the straightforward loop of the classic nn-from-scratch tutorial: one network at
a time, plain NumPy, every setting x seed of the preset trained in turn for the same passes.
The two are measured in alternation (study, loop, loop, study, ...) so that load from other work
on a shared machine falls on both alike; each baseline network's final loss is checked against
the study's on a short run first (200 passes, to 1e-8), so both do the same work. Its sigmoid
is the engine's overflow-safe form rather than the tutorial's 1/(1 + exp(-z)): the two differ in
the last bits, and where training is chaotic (blobs: the step is 2 on the mean loss) last-bit
differences grow into different networks within a few hundred passes. max |dloss| reports how
far the timed runs' final losses drift apart all the same. Not a test: it only prints.

    python benchmarks/bench_studies.py moons-hidden --end-to-end --rounds 3

--end-to-end times what a user waits for, from the shell: the whole `backproplab study NAME
--out TMP` command (start-up, training, tables and figures) against the loop run as a process
of its own (`bench_studies.py --loop NAME`: Python, NumPy, the data, the loop), both started
by subprocess, in alternation; the drift then compares the study's results.csv with the loop
process's losses. One more run of the study, in a process that times its phases (from launch
to the command's start, training, tables and figures, exit), says where the study's time goes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from backproplab.datasets import load_dataset
from backproplab.studies.presets import PRESETS
from backproplab.studies.spec import settings

CHECK_PASSES = 200  # both must give the same losses (1e-8) here before anything is timed


def activate(z, activation):
    if activation == "tanh":
        return np.tanh(z)
    if activation == "sigmoid":  # overflow-safe, as the engine's (same bits, see above)
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    if activation == "leaky_relu":  # slope 0.01 below 0, as the engine's
        return np.where(z >= 0, z, 0.01 * z)
    return np.maximum(z, 0)


def forward(X, W, b, activation):
    """Net inputs z and activations a of every layer, softmax probabilities last."""
    z, a = [], [X]
    for l in range(len(W)):
        z.append(a[l].dot(W[l]) + b[l])
        if l == len(W) - 1:
            exp_scores = np.exp(z[l] - z[l].max(axis=1, keepdims=True))
            a.append(exp_scores / np.sum(exp_scores, axis=1, keepdims=True))
        else:
            a.append(activate(z[l], activation))
    return z, a


def tutorial_model(X, y, dims, activation, reg_lambda, seed, num_passes, epsilon=0.01,
                   init="tutorial"):
    """The tutorial's build_model, generalised to a list of layers (and He's initialisation,
    a leaky ReLU, another step: the deep-ReLU presets vary them); returns the final loss."""
    rng = np.random.RandomState(seed)  # the tutorial seeds the global RNG; the same draws
    W = [rng.randn(d_in, d_out) * np.sqrt(2 / d_in) if init == "he"
         else rng.randn(d_in, d_out) / np.sqrt(d_in) for d_in, d_out in zip(dims[:-1], dims[1:])]
    b = [np.zeros((1, d)) for d in dims[1:]]
    n = len(X)
    for _ in range(num_passes):
        # Forward propagation
        z, a = forward(X, W, b, activation)
        # Backpropagation
        delta = a[-1]
        delta[range(n), y] -= 1
        grads = []
        for l in reversed(range(len(W))):
            dW = a[l].T.dot(delta) + reg_lambda * W[l]
            db = np.sum(delta, axis=0, keepdims=True)
            if l > 0:
                if activation == "tanh":
                    delta = delta.dot(W[l].T) * (1 - np.power(a[l], 2))
                elif activation == "sigmoid":
                    delta = delta.dot(W[l].T) * (a[l] * (1 - a[l]))
                elif activation == "leaky_relu":
                    delta = delta.dot(W[l].T) * np.where(z[l - 1] >= 0, 1.0, 0.01)
                else:  # the problem set's f'(z) = 1 for z >= 0 (also at 0, as the engine)
                    delta = delta.dot(W[l].T) * (z[l - 1] >= 0)
            grads.append((l, dW, db))
        # Gradient descent parameter update
        for l, dW, db in grads:
            W[l] += -epsilon * dW
            b[l] += -epsilon * db
    probs = forward(X, W, b, activation)[1][-1]
    data_loss = -np.sum(np.log(probs[range(n), y]))
    data_loss += reg_lambda / 2 * sum(np.sum(np.square(w)) for w in W)
    return data_loss / n


@np.errstate(over="ignore", invalid="ignore")  # diverging networks (deep-relu presets) are NaN
def baseline(name, seeds, passes):
    spec = PRESETS[name]
    X, y = load_dataset(spec.dataset, spec.n_samples, spec.noise, spec.data_seed)
    losses = {}
    for s in settings(spec):
        for seed in range(seeds):
            losses[s.label, seed] = tutorial_model(X, y, s.dims, s.activation, s.reg_lambda,
                                                   seed, passes, s.fit.get("epsilon", 0.01),
                                                   s.init)
    return losses


def study(name, seeds, passes, jobs):
    from backproplab.studies import run_study  # not in the --loop process

    with tempfile.TemporaryDirectory() as tmp:
        result = run_study(name, tmp, seeds=seeds, passes=passes, jobs=jobs, progress=False,
                           log=None)
    return {(r.setting, r.seed): r.final_loss for r in result.rows}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    load = os.getloadavg()
    return (f"{cpu}, {os.cpu_count()} cores, numpy {np.__version__}, Python "
            f"{platform.python_version()}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


# ---------------------------------------------------------------------------------------------
# --end-to-end: both as processes started from the shell


BACKPROPLAB = ([shutil.which("backproplab")] if shutil.which("backproplab")
               else [sys.executable, "-m", "backproplab"])


def study_words(name, seeds, passes, jobs, out) -> list[str]:
    """The arguments of `backproplab study` (the defaults but --out, unless given)."""
    return ["study", name, "--out", str(out), "--seeds", str(seeds), "--passes", str(passes),
            *(["--jobs", str(jobs)] if jobs else [])]


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: dict[str, list] = {"study": [], "loop": []}  # CPU seconds of each run, its workers included


def run_timed(argv, what) -> tuple[float, str]:
    """Wall time of one process, from launch to exit, and its stdout; its CPU time (with its
    worker processes') goes to CPU[what]."""
    cpu, start = cpu_of_children(), time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    CPU[what].append(cpu_of_children() - cpu)
    return seconds, out.stdout


def study_process(name, seeds, passes, jobs) -> tuple[float, dict]:
    """`backproplab study NAME --out TMP` as a user types it: wall time, final losses."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds, _ = run_timed(BACKPROPLAB + study_words(name, seeds, passes, jobs,
                                                         Path(tmp) / name), "study")
        with open(Path(tmp) / name / "results.csv") as f:
            losses = {(r["setting"], int(r["seed"])): float(r["final_loss"])
                      for r in csv.DictReader(f)}
    return seconds, losses


def loop_process(name, seeds, passes) -> tuple[float, dict]:
    """This script's --loop NAME in a process of its own: wall time, final losses."""
    seconds, out = run_timed([sys.executable, __file__, name, "--loop", "--seeds", str(seeds),
                              "--passes", str(passes)], "loop")
    return seconds, {(k, int(s)): v for k, s, v in json.loads(out)}


PHASES = """
import json, sys, time
launched = float(sys.argv[1])
t = {"launch": launched, "python": time.time()}
from backproplab import cli
from backproplab.studies import outputs, runner
t["imports"] = time.time()
build = runner.build_outputs
def timed_build(*args, **kwargs):
    t["training"] = time.time()
    result = build(*args, **kwargs)
    t["outputs"] = time.time()
    return result
runner.build_outputs = timed_build
code = cli.main(sys.argv[2:])
t["printed"] = time.time()
print(json.dumps(t), file=sys.stderr)
sys.exit(code)
"""


def study_phases(name, seeds, passes, jobs) -> dict:
    """Where one `backproplab study` process spends its wall time, in seconds: interpreter
    start-up, the imports of the command and the runner, training (plan, worker pool, stacks,
    results written), tables and figures (figures drawn in worker processes), the rest."""
    with tempfile.TemporaryDirectory() as tmp:
        words = study_words(name, seeds, passes, jobs, Path(tmp) / name)
        start = time.time()
        out = subprocess.run([sys.executable, "-c", PHASES, repr(start), *words], check=True,
                             capture_output=True, text=True)
        end = time.time()
    t = json.loads(out.stderr.strip().splitlines()[-1])  # the times the process printed
    marks = ["launch", "python", "imports", "training", "outputs", "printed"]
    phases = {b: t[b] - t[a] for a, b in zip(marks, marks[1:])}
    phases["exit"] = end - t["printed"]
    phases["total"] = end - start
    return phases


def end_to_end(args):
    jobs = args.jobs or os.cpu_count()
    print(f"end to end, from the shell: `{BACKPROPLAB[0]} study NAME --out TMP` against "
          f"`python {Path(__file__).name} NAME --loop`; jobs={jobs}\n")
    print(f"{'preset':24s} {'networks':>8s} {'study s':>8s} {'loop s':>8s} {'speed-up':>8s} "
          f"{'5x':>4s} {'max |dloss|':>11s} {'study CPU':>9s} {'loop CPU':>8s}  load   "
          "study runs s / loop runs s")
    rows = []
    for name in args.presets:
        n_networks = len(settings(PRESETS[name])) * args.seeds
        load = os.getloadavg()[0]
        times = {"study": [], "loop": []}
        for runs in CPU.values():
            runs.clear()
        for r in range(args.rounds):
            for what in (["study", "loop"] if r % 2 == 0 else ["loop", "study"]):
                if what == "study":
                    seconds, study_losses = study_process(name, args.seeds, args.passes,
                                                          args.jobs)
                else:
                    seconds, loop_losses = loop_process(name, args.seeds, args.passes)
                times[what].append(seconds)
        drift = max(abs(study_losses[k] - loop_losses[k]) for k in loop_losses)
        t_study, t_loop = statistics.median(times["study"]), statistics.median(times["loop"])
        speed_up = t_loop / t_study
        runs = (" ".join(f"{t:.2f}" for t in times["study"]) + " / "
                + " ".join(f"{t:.2f}" for t in times["loop"]))
        cpu_study, cpu_loop = statistics.median(CPU["study"]), statistics.median(CPU["loop"])
        print(f"{name:24s} {n_networks:8d} {t_study:8.2f} {t_loop:8.2f} {speed_up:7.2f}x "
              f"{'met' if speed_up >= 5 else 'NOT':>4s} {drift:11.1e} {cpu_study:9.2f} "
              f"{cpu_loop:8.2f}  {load:4.2f}   {runs}", flush=True)
        rows.append((name, t_loop, study_phases(name, args.seeds, args.passes, args.jobs)))
    print("\nwhere a study's wall time goes (one more run, timed by phase), seconds:")
    keys = ["python", "imports", "training", "outputs", "printed", "exit", "total"]
    heads = ["python", "imports", "training", "figures", "print", "exit", "total"]
    print(f"{'preset':24s} " + " ".join(f"{h:>8s}" for h in heads) + f" {'5x needs':>9s}")
    for name, t_loop, phases in rows:
        print(f"{name:24s} " + " ".join(f"{phases[k]:8.2f}" for k in keys)
              + f" {t_loop / 5:9.2f}")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("presets", nargs="*", default=["moons-activations"],
                   help=f"presets to measure (default: moons-activations); any of {list(PRESETS)}")
    p.add_argument("--passes", type=int, default=20000, help="passes per network (default 20000)")
    p.add_argument("--seeds", type=int, default=5, help="seeds per setting (default 5)")
    p.add_argument("--jobs", type=int, default=None, help="study workers (default: all cores)")
    p.add_argument("--rounds", type=int, default=2, help="alternating measurements (default 2)")
    p.add_argument("--end-to-end", action="store_true",
                   help="time `backproplab study NAME` and the loop as processes, from the shell")
    p.add_argument("--loop", action="store_true",
                   help="(used by --end-to-end) run the loop of the preset given, print its "
                        "losses as JSON")
    args = p.parse_args()
    if args.loop:
        (name,) = args.presets
        losses = baseline(name, args.seeds, args.passes)
        print(json.dumps([[k, s, v] for (k, s), v in losses.items()]))
        return
    print(f"machine: {machine()}")
    print(f"{args.seeds} seeds x {args.passes} passes, jobs={args.jobs or os.cpu_count()}, "
          f"{args.rounds} alternating rounds\n")
    if args.end_to_end:
        return end_to_end(args)
    print(f"{'preset':24s} {'networks':>8s} {'study s':>9s} {'loop s':>9s} {'study mp/s':>11s} "
          f"{'loop mp/s':>10s} {'speed-up':>8s} {'max |dloss|':>11s}")
    for name in args.presets:
        n_networks = len(settings(PRESETS[name])) * args.seeds
        short_study, short_loop = (study(name, args.seeds, CHECK_PASSES, 1),
                                   baseline(name, args.seeds, CHECK_PASSES))
        check = max(abs(short_study[k] - short_loop[k]) for k in short_loop)
        assert check < 1e-8, f"{name}: the loop and the study disagree by {check}"
        times = {"study": [], "loop": []}
        for r in range(args.rounds):
            order = ["study", "loop"] if r % 2 == 0 else ["loop", "study"]
            for what in order:
                start = time.perf_counter()
                losses = (study(name, args.seeds, args.passes, args.jobs) if what == "study"
                          else baseline(name, args.seeds, args.passes))
                times[what].append(time.perf_counter() - start)
                if what == "study":
                    study_losses = losses
                else:
                    loop_losses = losses
        drift = max(abs(study_losses[k] - loop_losses[k]) for k in loop_losses)
        t_study, t_loop = statistics.median(times["study"]), statistics.median(times["loop"])
        mp = n_networks * args.passes
        print(f"{name:24s} {n_networks:8d} {t_study:9.2f} {t_loop:9.2f} {mp / t_study:11.0f} "
              f"{mp / t_loop:10.0f} {t_loop / t_study:7.2f}x {drift:9.1e}", flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
