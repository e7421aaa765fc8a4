"""The parts of `reproduce`, in order, and how their outputs become the report's numbers.

Each part is `step(out, profile, jobs, data, bar) -> dict`: it writes into `out` and returns its
record as JSON (kept in reproduce.json, so a rerun skips it); `report_parts(profile)` lists them
in order. `collect` reads the records back as the typed `Results` (backproplab.report.records)
that report.html, summary.md and results.json are made from.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

from backproplab import data as idx
from backproplab import io
from backproplab.cnn import architecture
from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
from backproplab.errors import BackproplabError, require
from backproplab.monitor import health
from backproplab.progress import Progress
from backproplab.report.claims import test_claims
from backproplab.report.figures import activations_figure, datasets_figure, layer_stats_figure
from backproplab.report.profiles import Profile
from backproplab.report.records import CnnRecord, ReportMeta, Results, StudyRecord
from backproplab.studies import curves
from backproplab.studies.presets import PRESETS
from backproplab.studies.runner import run_study, study_work


@dataclass
class Data:
    """The MNIST the CNN part trains on, and what the report must say about it."""

    source: object
    description: str
    is_full: bool
    notices: list = field(default_factory=list)


def check_data(profile, data_dir) -> Data:
    """Find MNIST and check every file of it before anything is written or trained: a --data-dir
    without MNIST, or with files that part II would refuse, is an error now, not after part I."""
    require("torch", "cnn", "reproduce (part II trains a PyTorch CNN)")
    given = None
    if data_dir is not None:  # a folder given must hold MNIST, whatever the profile
        try:
            given = idx.locate("mnist", data_dir, download=False)
        except BackproplabError as exc:
            raise BackproplabError(
                f"--data-dir {str(data_dir)!r} holds no MNIST: {str(exc).split(';')[0]}; or leave "
                "out --data-dir to use $BACKPROPLAB_DATA, the cache, a download or the bundled "
                "subset") from None
        check_files(given, profile.cnn_train_limit)
    if profile.mnist == "mnist-subset":
        source = idx.bundled_source(note="quick profile: the MNIST subset bundled with "
                                         "backproplab, not full MNIST.")
    else:
        source = idx.locate_mnist(data_dir, download=True, allow_subset=True, progress=True)
    if given is None or source.folder != given.folder:
        check_files(source, profile.cnn_train_limit)
    counts = source.counts()
    full = source.kind == "full"
    notices = [] if full else [
        f"Part II ran on a subset of MNIST ({counts['train']:,} training / {counts['test']:,} "
        f"test images), not the full 60,000 / 10,000: {source.note} Its accuracies are lower "
        "than full-data numbers and are not comparable with the problem set's."]
    what = "full MNIST" if full else "MNIST subset"
    description = (f"{what}, {counts['train']:,} training / {counts['test']:,} test images "
                   f"({source.origin}: {source.folder})")
    return Data(source, description, full, notices)


def check_files(source, train_limit: int = 0) -> None:
    """Part II's checks of its data, without PyTorch (imported only when part II runs, after the
    studies' worker processes are forked): every file read as `cnn.data.load_tensors` reads it
    (`data.load`: magic, size, MD5, 28x28 images, labels 0-9, as many labels as images), and no
    split left empty, as `cnn.data.Tensors.check_examples` refuses it, with the same errors."""
    for split, limit in (("train", train_limit), ("test", 0)):
        _, labels = idx.load(source, split)
        if len(labels[:limit] if limit else labels) == 0:
            raise BackproplabError(
                f"the {split} split is empty: 0 {split} examples of {source.dataset} from "
                f"{str(source.folder)!r}; a run needs at least one (nothing was trained or "
                "written)")


def report_parts(profile: Profile):
    """[(part name, step)] in the order they run."""
    steps = [("figures", figures_part)]
    steps += [(f"study:{name}", functools.partial(study_part, name)) for name in PRESETS]
    steps.append(("cnn", cnn_part))
    return steps


def figures_part(out: Path, profile, jobs, data, bar) -> dict:
    figs = out / "figures"
    return {"activations": str(io.savefig(activations_figure(), figs / "activations.png")),
            "datasets": str(io.savefig(datasets_figure(), figs / "datasets.png"))}


class Bars:
    """reproduce's progress on stderr: one bar per kind of work, so that each ETA is measured on
    the work it predicts (a bar of parts would time a figure to predict a study).

    Part I's bar counts the model-passes of every study still to run: its total is known before
    the first part, so it is drawn at once and its ETA comes with the first study's first
    report. Part II's counts the CNN's steps, from the CNN's first report (which says how many).
    `start(name)` and `end(name)` frame each part; `study(name)` and `cnn()` are what the
    parts' own progress reports are given.
    """

    def __init__(self, profile, todo: list[str], enabled: bool = True):
        self.enabled, self.bar = enabled, None
        self.work = {name: study_work(name.removeprefix("study:"), profile.seeds, profile.passes)
                     for name in todo if name.startswith("study:")}
        self.reported = dict.fromkeys(self.work, 0)

    def start(self, name: str) -> None:
        if name == "cnn":
            self.close()
        elif self.bar is None and self.work:
            self.bar = Progress(sum(self.work.values()), "reproduce part I", unit="model-passes",
                                enabled=self.enabled)
        if self.bar is not None:
            self.bar.update(0, postfix=name)

    def study(self, name: str) -> _StudyProgress:
        """The progress object run_study feeds (`update(n)`: model-passes done)."""
        return _StudyProgress(self, name)

    def cnn(self):
        """The progress callable run_comparison feeds (steps done, steps in all, text)."""
        def report(done, total, text=""):
            if self.bar is None:
                self.bar = Progress(total, "reproduce part II", unit="step",
                                    enabled=self.enabled)
            self.bar.update(done - self.bar.n, postfix=f"cnn {text}".rstrip())
        return report

    def end(self, name: str) -> None:
        """A part is done. A study resumed from an earlier session trained less than its whole
        work: the rest leaves part I's total (it was done before; it is no work to time)."""
        if name in self.work and self.bar is not None:
            self.bar.total = max(self.bar.total - (self.work[name] - self.reported[name]),
                                 self.bar.n, 1)
            self.bar.update(0, postfix=f"{name.removeprefix('study:')} done")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = None


class _StudyProgress:
    def __init__(self, bars: Bars, name: str):
        self.bars, self.name, self.part = bars, name, f"study:{name}"

    def update(self, n: int = 1) -> None:
        self.bars.reported[self.part] += n
        share = self.bars.reported[self.part] / max(self.bars.work[self.part], 1)
        self.bars.bar.update(n, postfix=f"{self.name} {share:4.0%}")


def study_part(name: str, out: Path, profile, jobs, data, bar) -> dict:
    result = run_study(name, out / "studies" / name, seeds=profile.seeds,
                       passes=profile.passes, jobs=jobs, progress=bar.study(name), log=None)
    return StudyRecord.of(result).to_dict()


def cnn_part(out: Path, profile, jobs, data, bar) -> dict:
    # here, not at the top: PyTorch is imported only when part II runs
    from backproplab.cnn.compare import run_comparison

    result = run_comparison(out / "cnn", profile.cnn_seeds, TrainConfig(epochs=profile.epochs),
                            DataConfig(train_limit=profile.cnn_train_limit),
                            MonitorConfig(monitor_every=profile.cnn_monitor_every),
                            source=data.source, runs_dir=out / "runs",
                            progress=bar.cnn())
    return cnn_results(result)


# ---------------------------------------------------------------------------------------------
# From the parts' outputs to the report's numbers.


def collect(records: dict, steps, meta: ReportMeta) -> Results:
    """The report's numbers, from the records of the parts (in the order of `steps`)."""
    results = Results(
        meta, figures=records.get("figures", {}),
        studies={name.removeprefix("study:"): StudyRecord.from_dict(records[name])
                 for name, _ in steps if name.startswith("study:") and name in records},
        cnn=CnnRecord.from_dict(records["cnn"]) if "cnn" in records else None)
    check_ranges(results)
    results.claims = test_claims(results)
    return results


def check_ranges(results: Results) -> None:
    """A ValueError naming the first number of the records outside its range: accuracies in
    [0, 1], spreads, losses and times >= 0 (NaN: not measured), seed counts >= 1, a table row
    per setting. The records come back from reproduce.json, which a hand may have edited (an
    accuracy of 5.0 was reported as 500%)."""
    def need(ok, what):
        if not ok:
            raise ValueError(what)

    def count(value):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    def number(value, name, low=0.0, high=math.inf):
        need(isinstance(value, (int, float)) and not isinstance(value, bool)
             and (math.isnan(value) or low <= value <= high), f"{name}={value!r} out of range")

    for study, record in results.studies.items():
        need(record.summary, f"study {study} has no rows")
        for row in record.summary:
            need(count(row.seeds), f"{study} seeds={row.seeds!r}")
            number(row.train_accuracy.mean, f"{study} train accuracy", high=1.0)
            number(row.heldout_accuracy.mean, f"{study} held-out accuracy", high=1.0)
    if results.cnn is not None:
        cnn = results.cnn
        need(len(cnn.rows) == 4, f"the CNN table has {len(cnn.rows)} rows, not 4")
        for row in cnn.rows:
            need(count(row.seeds), f"{row.setting} seeds={row.seeds!r}")
            number(row.accuracy_mean, f"{row.setting} accuracy", high=1.0)
            for name in ("accuracy_std", "loss_mean", "loss_std", "time_mean", "time_std"):
                number(getattr(row, name), f"{row.setting} {name}")
            if row.reported_accuracy is not None:
                number(row.reported_accuracy, f"{row.setting} reported accuracy", high=1.0)


def cnn_results(result) -> dict:
    """The report's record (as JSON) of run_comparison's ComparisonResult; draws the per-layer
    statistics."""
    figures = {k: str(v) for k, v in result.figures.items()}
    stats = {name: paths[0] for name, paths in result.stats_csv.items()}
    fig = layer_stats_figure({name: read_stats(p) for name, p in stats.items()})
    figures["layer_stats"] = str(io.savefig(fig, result.json.parent / "layer_stats.png"))
    return CnnRecord(rows=list(result.table), curves=result.curves, figures=figures,
                     architecture=architecture.shape_table(), runs_dir=str(result.runs_dir),
                     data=result.data, data_kind=result.data_kind, epochs=result.epochs,
                     seeds=result.seeds, finding=cnn_finding(result.table, result.epochs),
                     reported=result.reported,
                     smoothness=cnn_smoothness(result.curves, result.stats_csv),
                     **cnn_health(result.runs)).to_dict()


def cnn_health(runs: dict) -> dict:
    """The health verdicts of every run (its health.json): per setting the lines of each seed,
    and each rule that fired with its explanation, threshold and reference."""
    lines, fired = {}, {}
    for name, folders in runs.items():
        lines[name] = []
        for seed, folder in enumerate(folders):
            for v in health.load(folder):
                lines[name].append(f"seed {seed}: {v.summary}" if len(folders) > 1 else v.summary)
                fired.setdefault(v.rule, {"rule": health.RULES[v.rule].title,
                                          "explanation": v.explanation,
                                          "threshold": v.threshold, "reference": v.reference})
    return {"health": lines, "health_rules": list(fired.values())}


def cnn_smoothness(curves_by_setting: dict, stats_csv: dict) -> dict:
    """Per setting and seed: the per-epoch test loss's and accuracy's total variation over net
    change, and the per-step training loss's noise (studies.curves), from the runs' files."""
    out = {}
    for name, per_curve in curves_by_setting.items():
        out[name] = {
            "test_loss_tv": [curves.tv_ratio(c) for c in per_curve["test/loss"]],
            "test_accuracy_tv": [curves.tv_ratio(c) for c in per_curve["test/accuracy"]],
            "train_loss_noise": [curves.noise(step_losses(p)) for p in stats_csv[name]]}
    return out


def step_losses(path) -> list[float]:
    """The training loss of each monitored step, from a run's stats.csv."""
    with open(path, newline="") as fh:
        return [float(r["value"]) for r in csv.DictReader(fh)
                if r["layer"] == "train" and r["quantity"] == "loss" and not r["stat"]]


def read_stats(path) -> dict:
    """stats.csv -> {(layer, quantity, stat): (steps, values)}."""
    out: dict = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["stat"]:
                continue
            steps, values = out.setdefault((row["layer"], row["quantity"], row["stat"]), ([], []))
            steps.append(int(row["step"]))
            values.append(float(row["value"]))
    return out


def cnn_finding(table: list, epochs: int) -> str:
    """One sentence on the comparison's table (its SettingRows): best, worst, the spread."""
    if not table:
        raise BackproplabError("the CNN comparison produced no rows")
    best = max(table, key=lambda r: r.accuracy_mean)
    worst = min(table, key=lambda r: r.accuracy_mean)
    return (f"After {epochs} epoch(s), {best.setting} has the best test accuracy "
            f"({100 * best.accuracy_mean:.2f}%) and {worst.setting} the lowest "
            f"({100 * worst.accuracy_mean:.2f}%), a spread of "
            f"{100 * (best.accuracy_mean - worst.accuracy_mean):.2f} points.")
