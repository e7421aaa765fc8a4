"""The 2x2 comparison of part II: {adam, sgd} x {relu, tanh}, each over seeds.

`run_comparison` trains every setting and seed as a TensorBoard run of its own under
OUT/runs/OPTIMIZER-ACTIVATION-sSEED, then writes into OUT:
  table.csv, table.md     final test accuracy and loss (mean +- std over seeds), training time
  curves.png              test accuracy and loss per epoch, the four settings overlaid
  weights.png             the final weight histogram of each layer, the four settings overlaid
  comparison.json         every number above, the per-epoch curves and the paths
Rerunning continues: finished runs are read back, interrupted ones resumed.

Each run is one task of a backend (backproplab.backends): in this process one after another
(local, the default), or one Ray task each, the data put in Ray's object store once. A Ray task
on a machine that does not share this one's folders trains there and sends the run folder's
files back, which this process writes: the same files in the same places either way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import os
import secrets
import shutil
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from backproplab.backends import Task, backend_for, failures
from backproplab.checks import MEMORY_LIMIT, check_seed
from backproplab.cnn.architecture import LAYERS
from backproplab.cnn.checkpoint import RUN_FILES, has_checkpoint
from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
from backproplab.cnn.data import load_tensors
from backproplab.cnn.distributed import pick_device
from backproplab.cnn.results import ComparisonResult, SettingRow
from backproplab.cnn.train import (
    RunResult,
    check_memory,
    run_memory_need,
    steps_per_epoch,
    train,
)
from backproplab.errors import BackproplabError
from backproplab.io import csv_text, savefig, write_bytes, write_json, write_text
from backproplab.progress import Progress

SETTINGS = (("adam", "relu"), ("adam", "tanh"), ("sgd", "relu"), ("sgd", "tanh"))
# What the problem set reported after 10 epochs (test accuracy), for the report to set against.
REPORTED = {("adam", "relu"): 0.974, ("sgd", "tanh"): 0.985}
CURVES = ("test/accuracy", "test/loss", "train/epoch_loss")  # per epoch, kept per seed


# Bytes a comparison keeps of each run from its start to the table (its TrainConfig, its
# result, the curves' rows), about, plus per epoch.
RUN_RECORD, EPOCH_RECORD = 4096, 512


def check_run_count(n_seeds: int, epochs: int) -> None:
    """Refuse, before anything is built, a comparison whose runs' records alone would exceed
    checks.MEMORY_LIMIT: `--seeds 100000000` spent minutes building 4e8 runs, silent."""
    need = len(SETTINGS) * n_seeds * (RUN_RECORD + EPOCH_RECORD * epochs)
    if need > MEMORY_LIMIT:
        raise BackproplabError(
            f"--seeds {n_seeds}: {len(SETTINGS) * n_seeds:,} runs whose records alone need "
            f"about {need / 2**30:.3g} GiB, more than the {MEMORY_LIMIT // 2**30} GiB allowed; "
            "use fewer seeds")


def run_comparison(out_dir: str | os.PathLike, seeds: int | list[int] = 1,
                   config: TrainConfig | None = None, data_config: DataConfig | None = None,
                   monitor_config: MonitorConfig | None = None, *, source=None,
                   runs_dir: str | os.PathLike | None = None, progress=True,
                   backend=None) -> ComparisonResult:
    """Train {adam, sgd} x {relu, tanh} per seed; write the table and figures into `out_dir`.

    seeds: a count (seeds 0..N-1) or the seeds themselves. config: the runs' TrainConfig (its
    epochs, batch size, device, threads, precision, ...; optimizer, activation, seed, logdir and
    resume are set per run; overwrite replaces the runs instead of continuing them).
    data_config: the dataset and its limits; source: a `backproplab.data` DataSource to use
    instead of looking for the dataset (e.g. `locate_mnist()`'s, which may be the bundled
    subset). runs_dir: where the TensorBoard runs go (default OUT/runs). progress: True (a bar
    per epoch), False, or a callable (steps_done, steps_total, text) called after every step of
    the whole comparison (on a backend whose tasks run elsewhere: after each run, as runs
    finish). backend: where the runs train (a `backproplab.backends` Backend; None: the one of
    an enclosing `backends.using`, else one after another in this process).
    """
    config = config or TrainConfig()
    data_config = data_config or DataConfig()
    out = Path(out_dir)
    runs_dir = Path(runs_dir) if runs_dir is not None else out / "runs"
    check_run_count(len(seeds) if not isinstance(seeds, int) else seeds, config.epochs)
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds:
        raise BackproplabError("compare-cnn needs at least one seed")
    try:
        for seed in seeds:
            check_seed("seed", seed)
    except ValueError as exc:
        raise BackproplabError(str(exc)) from None
    tensors = load_tensors(data_config, source=source, progress=bool(progress)).check_examples()
    try:
        device = pick_device(config.device)
    except BackproplabError:
        device = None  # a device not here (a cluster's GPU): each run checks its own memory
    if device is not None:  # refused before any run: every run needs as much
        check_memory(run_memory_need(config, monitor_config or MonitorConfig(), tensors), device)
    # every run has the same number of steps: batches of the (limited) training set
    steps_per_run = config.epochs * steps_per_epoch(len(tensors.train[1]), config.batch_size)
    total = steps_per_run * len(SETTINGS) * len(seeds)

    runs = []  # (setting name, seed, the run's TrainConfig), in the table's order
    for optimizer, activation in SETTINGS:
        name = f"{optimizer}-{activation}"
        for seed in seeds:
            logdir = runs_dir / f"{name}-s{seed}"
            # a finished or interrupted run continues; one that never reached its first
            # checkpoint (a crash) has nothing to keep and starts again
            resume = not config.overwrite and has_checkpoint(logdir)
            runs.append((name, seed, dataclasses.replace(
                config, optimizer=optimizer, activation=activation, seed=seed,
                logdir=str(logdir), resume=resume, overwrite=not resume)))
    finished: dict[tuple, RunResult] = {}
    failed = []
    with backend_for(backend, jobs=1) as where, contextlib.ExitStack() as stack:
        token = None if where.local_files else stack.enter_context(_folder_token(runs_dir))
        tasks = _run_tasks(runs, data_config, monitor_config, where.put(tensors), token,
                           progress, steps_per_run, total)
        bar = stack.enter_context(Progress(len(tasks), "compare-cnn", unit="run")) if (
            progress is True and token is not None) else None
        for outcome in stack.enter_context(contextlib.closing(where.map(tasks))):
            name, seed, run_config = outcome.task.args[-1]
            if not outcome.ok:
                failed.append(outcome)
                continue
            result, copy = outcome.value
            if copy is not None:
                result = _write_back(result, copy, Path(run_config.logdir))
            finished[name, seed] = result
            if token is not None and callable(progress):
                progress(len(finished) * steps_per_run, total,
                         f"{name} seed {seed} done, {len(finished)} of {len(tasks)} runs")
            if bar is not None:
                bar.update(1, postfix=f"{name} seed {seed}")
            if progress is True:
                final = result.final
                line = (f"{name} seed {seed}: test accuracy {final['test/accuracy']:.2%}, "
                        f"test loss {final['test/loss']:.4f}, {result.time:.1f} s")
                if bar is not None:
                    bar.write(line)
                else:
                    print(line, flush=True)
    if failed:
        raise BackproplabError(f"{len(failed)} of {len(runs)} runs could not be trained "
                               f"({failures(failed)}); the {len(finished)} others are kept in "
                               f"{runs_dir}; rerun the same command to try again")
    results: dict[str, list[RunResult]] = {}
    for name, seed, _ in runs:
        results.setdefault(name, []).append(finished[name, seed])

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


# ---------------------------------------------------------------------------------------------
# The runs as tasks of a backend.


@dataclass
class FolderCopy:
    """A run folder as a task on another machine receives it (the files to continue from)
    and sends it back (the files to write)."""

    token: str  # the name of a file that only this machine's runs folder holds (see train_run)
    files: dict  # {file name: bytes}


def _run_tasks(runs, data_config, monitor_config, data, token, progress, steps_per_run, total
               ) -> list[Task]:
    """One task per run. In this process a run reports its steps as it goes (offset by the
    steps of the runs before it); a task that runs elsewhere (`token` set) reports when done."""
    tasks = []
    for i, (name, seed, run_config) in enumerate(runs):
        report = progress if token is None else False
        if token is None and callable(progress):
            def report(step, _total, text, offset=i * steps_per_run, label=f"{name} seed {seed}"):
                progress(offset + step, total, f"{label}, {text}")
        copy = None if token is None else FolderCopy(token, _own_files(Path(run_config.logdir)))
        tasks.append(Task(f"{name} seed {seed}", train_run,
                          (run_config, data_config, monitor_config, data, report, copy,
                           (name, seed, run_config)),
                          work=steps_per_run, gpus=0 if run_config.device == "cpu" else 1))
    return tasks


def train_run(config: TrainConfig, data_config: DataConfig, monitor_config: MonitorConfig,
              tensors, progress=False, copy: FolderCopy | None = None, label=None, report=None
              ) -> tuple[RunResult, FolderCopy | None]:
    """One run of the comparison, in its task's process: (RunResult, None) when it trained in
    `config.logdir` itself; (RunResult, the folder's files) when it ran on a machine that does
    not share that folder (no file `copy.token` beside it): it then continues from `copy`'s
    files in a folder of its own (the same path where it can, so that run.json and the
    checkpoints read the same), and sends the folder back. `label` names the run for the
    driver; `report` is the backend's (unused: a run reports through `progress`)."""
    if copy is not None and not config.threads:
        torch.set_num_threads(1)  # the task's one CPU
    logdir = Path(config.logdir)
    if copy is None or (logdir.parent / copy.token).is_file():
        return train(config, data_config, monitor_config, data=tensors, progress=progress), None
    try:
        logdir.mkdir(parents=True)
    except OSError:
        logdir = Path(tempfile.mkdtemp(prefix="backproplab-run-"))
    try:
        for name, data in copy.files.items():
            write_bytes(logdir / name, data)
        result = train(dataclasses.replace(config, logdir=str(logdir)), data_config,
                       monitor_config, data=tensors, progress=progress)
        return result, FolderCopy(copy.token, _own_files(logdir))
    finally:
        shutil.rmtree(logdir, ignore_errors=True)  # this machine's copy: the driver has it


@contextlib.contextmanager
def _folder_token(runs_dir: Path):
    """A file of a random name in `runs_dir` while the runs train: a task that sees it shares
    this machine's folders and trains in place."""
    token = f".backproplab-runs-{secrets.token_hex(8)}"
    write_text(runs_dir / token, "")
    try:
        yield token
    finally:
        (runs_dir / token).unlink(missing_ok=True)


def _own_files(folder: Path) -> dict:
    """A run folder's own files, {name: bytes}: run.json and RUN_FILES."""
    owned = ("run.json", *RUN_FILES)
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and any(
        fnmatch.fnmatch(p.name, pattern) for pattern in owned)} if folder.is_dir() else {}


def _write_back(result: RunResult, copy: FolderCopy, logdir: Path) -> RunResult:
    """Write a run trained elsewhere into `logdir` (its own files there replaced by the copy's);
    the RunResult with this machine's paths."""
    for name in set(_own_files(logdir)) - set(copy.files):
        (logdir / name).unlink()
    for name, data in copy.files.items():
        write_bytes(logdir / name, data)
    return dataclasses.replace(result, logdir=logdir,
                               model=logdir / "model.pt" if result.model is not None else None)


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

