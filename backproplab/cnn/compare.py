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

import dataclasses
import os
import statistics
from pathlib import Path

import torch

from backproplab.cnn.architecture import LAYERS
from backproplab.cnn.checkpoint import has_checkpoint
from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
from backproplab.cnn.data import load_tensors
from backproplab.cnn.results import ComparisonResult, SettingRow
from backproplab.cnn.train import RunResult, train
from backproplab.errors import BackproplabError
from backproplab.io import csv_text, savefig, write_json, write_text

SETTINGS = (("adam", "relu"), ("adam", "tanh"), ("sgd", "relu"), ("sgd", "tanh"))
# What the problem set reported after 10 epochs (test accuracy), for the report to set against.
REPORTED = {("adam", "relu"): 0.974, ("sgd", "tanh"): 0.985}
CURVES = ("test/accuracy", "test/loss", "train/epoch_loss")  # per epoch, kept per seed


def run_comparison(out_dir: str | os.PathLike, seeds: int | list[int] = 1,
                   config: TrainConfig | None = None, data_config: DataConfig | None = None,
                   monitor_config: MonitorConfig | None = None, *, source=None,
                   runs_dir: str | os.PathLike | None = None, progress=True) -> ComparisonResult:
    """Train {adam, sgd} x {relu, tanh} per seed; write the table and figures into `out_dir`.

    seeds: a count (seeds 0..N-1) or the seeds themselves. config: the runs' TrainConfig (its
    epochs, batch size, device, threads, precision, ...; optimizer, activation, seed, logdir and
    resume are set per run; overwrite replaces the runs instead of continuing them).
    data_config: the dataset and its limits; source: a `backproplab.data` DataSource to use
    instead of looking for the dataset (e.g. `locate_mnist()`'s, which may be the bundled
    subset). runs_dir: where the TensorBoard runs go (default OUT/runs). progress: True (a bar
    per epoch), False, or a callable (steps_done, steps_total, text) called after every step of
    the whole comparison.
    """
    config = config or TrainConfig()
    data_config = data_config or DataConfig()
    out = Path(out_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else out / "runs"
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds:
        raise BackproplabError("compare-cnn needs at least one seed")
    tensors = load_tensors(data_config, source=source, progress=bool(progress))
    # every run has the same number of steps: batches of the (limited) training set
    steps_per_run = config.epochs * -(-len(tensors.train[1]) // config.batch_size)
    total = steps_per_run * len(SETTINGS) * len(seeds)

    results: dict[str, list[RunResult]] = {}
    done = 0  # steps of the runs before this one
    for optimizer, activation in SETTINGS:
        name = f"{optimizer}-{activation}"
        for seed in seeds:
            logdir = runs_dir / f"{name}-s{seed}"
            # a finished or interrupted run continues; one that never reached its first
            # checkpoint (a crash) has nothing to keep and starts again
            resume = not config.overwrite and has_checkpoint(logdir)
            run_config = dataclasses.replace(
                config, optimizer=optimizer, activation=activation, seed=seed,
                logdir=str(logdir), resume=resume, overwrite=not resume)
            report = progress
            if callable(progress):
                def report(step, _total, text, offset=done, label=f"{name} seed {seed}"):
                    progress(offset + step, total, f"{label}, {text}")
            result = train(run_config, data_config, monitor_config, data=tensors,
                           progress=report)
            results.setdefault(name, []).append(result)
            done += steps_per_run
            if progress is True:
                final = result.final
                print(f"{name} seed {seed}: test accuracy {final['test/accuracy']:.2%}, "
                      f"test loss {final['test/loss']:.4f}, {result.time:.1f} s", flush=True)

    table = [_row(name, runs) for name, runs in results.items()]
    curves = {name: {key: [[row[key] for row in r.history] for r in runs] for key in CURVES}
              for name, runs in results.items()}
    figures = {"curves": savefig(_curves_figure(curves), out / "curves.png"),
               "weights": savefig(_weights_figure(results), out / "weights.png")}
    result = ComparisonResult(
        data=tensors.source.describe(), data_kind=tensors.source.kind, epochs=config.epochs,
        seeds=seeds, batch_size=config.batch_size, table=table, curves=curves, figures=figures,
        reported={f"{o}-{a}": v for (o, a), v in REPORTED.items()}, runs_dir=runs_dir,
        runs={name: [r.logdir for r in runs] for name, runs in results.items()},
        stats_csv={name: [r.stats_csv for r in runs] for name, runs in results.items()},
        table_csv=write_text(out / "table.csv", _table_csv(table)),
        table_md=write_text(out / "table.md", table_markdown(table)),
        json=out / "comparison.json")
    write_json(result.json, dataclasses.asdict(result))
    return result


def _row(name: str, runs: list[RunResult]) -> SettingRow:
    optimizer, activation = name.split("-")
    acc = [r.final["test/accuracy"] for r in runs]
    loss = [r.final["test/loss"] for r in runs]
    secs = [r.time for r in runs]
    return SettingRow(name, optimizer, activation, len(runs),
                      statistics.mean(acc), _std(acc), statistics.mean(loss), _std(loss),
                      statistics.mean(secs), _std(secs), REPORTED.get((optimizer, activation)))


def _std(values) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def table_markdown(table: list[SettingRow]) -> str:
    lines = ["| setting | test accuracy | test loss | time (s) | problem set |",
             "|---|---|---|---|---|"]
    for r in table:
        reported = f"{r.reported_accuracy:.1%}" if r.reported_accuracy else ""
        lines.append(f"| {r.setting} | {r.accuracy_mean:.2%} ± {r.accuracy_std:.2%} | "
                     f"{r.loss_mean:.4f} ± {r.loss_std:.4f} | "
                     f"{r.time_mean:.1f} ± {r.time_std:.1f} | {reported} |")
    return "\n".join(lines) + "\n"


def _table_csv(table: list[SettingRow]) -> str:
    columns = [f.name for f in dataclasses.fields(SettingRow)]
    return csv_text([dataclasses.asdict(r) for r in table], columns, digits=None)


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


def _weights_figure(results: dict[str, list[RunResult]]):
    """Final weights of each layer (first seed's run), one step histogram per setting."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7))
    axes = fig.subplots(2, 2).ravel()
    weights = {name: torch.load(runs[0].checkpoint, map_location="cpu",
                                weights_only=True)["model"] for name, runs in results.items()}
    for ax, layer in zip(axes, (layer.name for layer in LAYERS)):
        for name, state in weights.items():
            w = state[f"{layer}.weight"].flatten().numpy()
            ax.hist(w, bins=60, histtype="step", label=name, density=True)
        ax.set(title=f"{layer}.weight after training", xlabel="weight", ylabel="density")
    axes[0].legend()
    fig.tight_layout()
    return fig

