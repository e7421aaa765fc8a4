"""The 2x2 comparison of part II: {adam, sgd} x {relu, tanh}, each over seeds.

`run_comparison` trains every setting and seed as a TensorBoard run of its own under
OUT/runs/OPTIMIZER-ACTIVATION-sSEED, then writes into OUT:
  table.csv, table.md     final test accuracy and loss (mean +- std over seeds), training time
  curves.png              test accuracy and loss per epoch, the four settings overlaid
  weights.png             the final weight histogram of each layer, the four settings overlaid
  comparison.json         every number above, the per-epoch curves and the paths
Rerunning continues: finished runs are read back, interrupted ones resumed.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

import torch

from backproplab.cnn.architecture import LAYERS
from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
from backproplab.cnn.data import load_tensors
from backproplab.cnn.train import train
from backproplab.errors import BackproplabError
from backproplab.io import savefig, write_json, write_text

SETTINGS = (("adam", "relu"), ("adam", "tanh"), ("sgd", "relu"), ("sgd", "tanh"))
# What the problem set reported after 10 epochs (test accuracy), for the report to set against.
REPORTED = {("adam", "relu"): 0.974, ("sgd", "tanh"): 0.985}


def run_comparison(out_dir: str | os.PathLike, seeds=1, epochs: int = 10,
                   data_dir: str | os.PathLike | None = None, dataset: str = "mnist", *,
                   source=None, train_limit: int = 0, test_limit: int = 0, batch_size: int = 64,
                   device: str = "auto", threads: int = 0, monitor_every: int = 100,
                   download: bool = True,
                   overwrite: bool = False, runs_dir: str | os.PathLike | None = None,
                   progress=True) -> dict:
    """Train {adam, sgd} x {relu, tanh} for `epochs` epochs per seed; write the table and figures.

    seeds: a count (seeds 0..N-1) or the seeds themselves. source: a `backproplab.data`
    DataSource to use instead of looking for `dataset` (e.g. `locate_mnist()`'s, which may be
    the bundled subset). train_limit / test_limit: use only the first N examples (0: all).
    threads: torch.set_num_threads for the runs (0: leave PyTorch's default).
    runs_dir: where the TensorBoard runs go (default OUT/runs). progress: True (a bar per
    epoch), False, or a callable (steps_done, steps_total, text) called after every step of the
    whole comparison.

    Returns a dict: "data" (the source described), "data_kind" ("full" or "subset"), "table"
    (one row per setting), "curves" ({setting: {"test/accuracy": [[per epoch] per seed], ...}}),
    "figures" ({"curves": png, "weights": png}), "runs" ({setting: [run folders]}),
    "runs_dir", "stats_csv" ({setting: [stats.csv per seed]}), "table_csv", "table_md", "json".
    """
    out = Path(out_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else out / "runs"
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds:
        raise BackproplabError("compare-cnn needs at least one seed")
    data_config = DataConfig(dataset=dataset, data_dir=None if data_dir is None else str(data_dir),
                             download=download, train_limit=train_limit, test_limit=test_limit)
    tensors = load_tensors(data_config, source=source, progress=bool(progress))
    # every run has the same number of steps: batches of the (limited) training set
    steps_per_run = epochs * -(-len(tensors.train[1]) // batch_size)
    total = steps_per_run * len(SETTINGS) * len(seeds)

    results, done = {}, 0
    for optimizer, activation in SETTINGS:
        name = f"{optimizer}-{activation}"
        for seed in seeds:
            logdir = runs_dir / f"{name}-s{seed}"
            # a finished or interrupted run continues; one that never reached its first
            # checkpoint (a crash) has nothing to keep and starts again
            resume = not overwrite and (logdir / "checkpoint.pt").is_file()
            config = TrainConfig(optimizer=optimizer, activation=activation, epochs=epochs,
                                 batch_size=batch_size, seed=seed, device=device,
                                 threads=threads, logdir=str(logdir), resume=resume,
                                 overwrite=overwrite or not resume)
            report = progress
            if callable(progress):
                def report(step, _total, text, offset=done, label=f"{name} seed {seed}"):
                    progress(offset + step, total, f"{label}, {text}")
            result = train(config, data_config, MonitorConfig(monitor_every=monitor_every),
                           data=tensors, progress=report)
            results.setdefault(name, []).append(result)
            done += steps_per_run
            if progress is True:
                final = result["final"]
                print(f"{name} seed {seed}: test accuracy {final['test/accuracy']:.2%}, "
                      f"test loss {final['test/loss']:.4f}, {result['time']:.1f} s", flush=True)

    table = [_row(name, runs) for name, runs in results.items()]
    curves = {name: {key: [[row[key] for row in r["history"]] for r in runs]
                     for key in ("test/accuracy", "test/loss", "train/epoch_loss")}
              for name, runs in results.items()}
    figures = {"curves": savefig(_curves_figure(curves), out / "curves.png"),
               "weights": savefig(_weights_figure(results), out / "weights.png")}
    summary = {
        "data": tensors.source.describe(), "data_kind": tensors.source.kind,
        "epochs": epochs, "seeds": seeds, "batch_size": batch_size,
        "table": table, "curves": curves, "figures": figures,
        "reported": {f"{o}-{a}": v for (o, a), v in REPORTED.items()},
        "runs_dir": runs_dir,
        "runs": {name: [r["logdir"] for r in runs] for name, runs in results.items()},
        "stats_csv": {name: [r["stats_csv"] for r in runs] for name, runs in results.items()},
        "table_csv": write_text(out / "table.csv", _table_csv(table)),
        "table_md": write_text(out / "table.md", table_markdown(table)),
    }
    summary["json"] = out / "comparison.json"
    write_json(summary["json"], summary)
    return summary


def _row(name: str, runs: list) -> dict:
    optimizer, activation = name.split("-")
    acc = [r["final"]["test/accuracy"] for r in runs]
    loss = [r["final"]["test/loss"] for r in runs]
    secs = [r["time"] for r in runs]
    return {"setting": name, "optimizer": optimizer, "activation": activation, "seeds": len(runs),
            "accuracy_mean": statistics.mean(acc), "accuracy_std": _std(acc),
            "loss_mean": statistics.mean(loss), "loss_std": _std(loss),
            "time_mean": statistics.mean(secs), "time_std": _std(secs),
            "reported_accuracy": REPORTED.get((optimizer, activation))}


def _std(values) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def table_markdown(table: list) -> str:
    lines = ["| setting | test accuracy | test loss | time (s) | problem set |",
             "|---|---|---|---|---|"]
    for r in table:
        reported = f"{r['reported_accuracy']:.1%}" if r["reported_accuracy"] else ""
        lines.append(f"| {r['setting']} | {r['accuracy_mean']:.2%} ± {r['accuracy_std']:.2%} | "
                     f"{r['loss_mean']:.4f} ± {r['loss_std']:.4f} | "
                     f"{r['time_mean']:.1f} ± {r['time_std']:.1f} | {reported} |")
    return "\n".join(lines) + "\n"


def _table_csv(table: list) -> str:
    keys = list(table[0])
    return ",".join(keys) + "\n" + "".join(
        ",".join("" if r[k] is None else str(r[k]) for k in keys) + "\n" for r in table)


def _curves_figure(curves: dict):
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    for ax, key in zip(axes, ("test/accuracy", "test/loss")):
        label = key.replace("/", " ")
        for name, per_curve in curves.items():
            values = torch.tensor(per_curve[key], dtype=torch.float64)  # (seeds, epochs)
            mean = values.mean(0)
            epochs = range(1, values.shape[1] + 1)
            line, = ax.plot(epochs, mean, marker="o", ms=3, label=name)
            if values.shape[0] > 1:
                std = values.std(0)
                ax.fill_between(epochs, mean - std, mean + std, alpha=0.2, color=line.get_color())
        ax.set(xlabel="epoch", ylabel=label, title=f"{label} per epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    return fig


def _weights_figure(results: dict):
    """Final weights of each layer (first seed's run), one step histogram per setting."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7))
    axes = fig.subplots(2, 2).ravel()
    weights = {name: torch.load(runs[0]["checkpoint"], map_location="cpu",
                                weights_only=True)["model"] for name, runs in results.items()}
    for ax, layer in zip(axes, (layer.name for layer in LAYERS)):
        for name, state in weights.items():
            w = state[f"{layer}.weight"].flatten().numpy()
            ax.hist(w, bins=60, histtype="step", label=name, density=True)
        ax.set(title=f"{layer}.weight after training", xlabel="weight", ylabel="density")
    axes[0].legend()
    fig.tight_layout()
    return fig

