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
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

import numpy as np

from backproplab.datasets import load_dataset
from backproplab.studies import PRESETS, run_study
from backproplab.studies.spec import settings

CHECK_PASSES = 200  # both must give the same losses (1e-8) here before anything is timed


def activate(z, activation):
    if activation == "tanh":
        return np.tanh(z)
    if activation == "sigmoid":  # overflow-safe, as the engine's (same bits, see above)
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))
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


def tutorial_model(X, y, dims, activation, reg_lambda, seed, num_passes, epsilon=0.01):
    """The tutorial's build_model, generalised to a list of layers; returns the final loss."""
    rng = np.random.RandomState(seed)  # the tutorial seeds the global RNG; the same draws
    W = [rng.randn(d_in, d_out) / np.sqrt(d_in) for d_in, d_out in zip(dims[:-1], dims[1:])]
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


def baseline(name, seeds, passes):
    spec = PRESETS[name]
    X, y = load_dataset(spec.dataset, spec.n_samples, spec.noise, spec.data_seed)
    losses = {}
    for s in settings(spec):
        for seed in range(seeds):
            losses[s.label, seed] = tutorial_model(X, y, s.dims, s.activation, s.reg_lambda,
                                                   seed, passes)
    return losses


def study(name, seeds, passes, jobs):
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


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("presets", nargs="*", default=["moons-activations"],
                   help=f"presets to measure (default: moons-activations); any of {list(PRESETS)}")
    p.add_argument("--passes", type=int, default=20000, help="passes per network (default 20000)")
    p.add_argument("--seeds", type=int, default=5, help="seeds per setting (default 5)")
    p.add_argument("--jobs", type=int, default=None, help="study workers (default: all cores)")
    p.add_argument("--rounds", type=int, default=2, help="alternating measurements (default 2)")
    args = p.parse_args()
    print(f"machine: {machine()}")
    print(f"{args.seeds} seeds x {args.passes} passes, jobs={args.jobs or os.cpu_count()}, "
          f"{args.rounds} alternating rounds\n")
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
