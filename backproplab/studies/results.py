"""What a study gives, as types: from one trained network to the finished study.

    NetworkResult   one network (a seed of a setting): end numbers, curves, weights, diagnostics
    SettingResult   one setting across its seeds: what settings/NN.json holds (to_dict, from_dict)
    SeedRow         one row of results.csv (setting x seed): the numbers at the end of training
    SummaryRow      one row of summary.csv: each metric's `Stat` (mean, std) over the seeds
    StudyResult     a finished study: its settings, rows, summary, figures, tables and findings

Per-network arrays keep the engine's orientation: diagnostics are (samples, hidden layers) for
a network and (samples, seeds, hidden layers) for a setting; weights W[l] are (d_l, d_{l+1}).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from backproplab.studies.diagnostics import Dynamics
from backproplab.studies.geometry import Geometry
from backproplab.studies.spec import StudySpec


@dataclass
class Curves:
    """Loss and accuracies recorded during training, at the passes in `passes`."""

    passes: list
    loss: list
    train_accuracy: list
    heldout_accuracy: list

    def to_dict(self) -> dict:
        return {"pass": self.passes, "loss": self.loss, "train_accuracy": self.train_accuracy,
                "heldout_accuracy": self.heldout_accuracy}

    @classmethod
    def from_dict(cls, d: dict) -> Curves:
        return cls(d["pass"], d["loss"], d["train_accuracy"], d["heldout_accuracy"])


class Parameters(NamedTuple):
    """A trained network's weights W[l] (d_l, d_{l+1}) and biases b[l] (d_{l+1},)."""

    W: list
    b: list

    def to_dict(self) -> dict:
        return {"W": self.W, "b": self.b}


@dataclass
class Diagnostics:
    """Per hidden layer, sampled during training at `passes` (see studies.diagnostics): arrays
    (samples, layers) for one network, (samples, seeds, layers) for a setting."""

    passes: list
    grad_norm: np.ndarray
    reg_grad_norm: np.ndarray
    dead: np.ndarray
    saturated: np.ndarray

    @property
    def metrics(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "passes"}


@dataclass
class NetworkResult:
    """One trained network: seed `seed` of setting `index`."""

    index: int
    seed: int
    final_loss: float
    train_accuracy: float
    heldout_accuracy: float
    classes_predicted: int  # distinct classes it predicts on the held-out sample
    error: str | None  # why training stopped early (divergence), else None
    curves: Curves
    parameters: Parameters
    diagnostics: Diagnostics
    seconds: float  # its share of the training time of its stack
    geometry: Geometry | None = None  # its decision boundary's shape (None: not measured yet)
    dynamics: Dynamics | None = None  # death of its units, the first step (None: not recorded)

    def diverged(self, error: str) -> NetworkResult:
        """This network recorded as part of a diverged setting: no numbers, the error."""
        return dataclasses.replace(self, final_loss=math.nan, train_accuracy=math.nan,
                                   heldout_accuracy=math.nan, classes_predicted=0, error=error,
                                   geometry=Geometry.undefined())


@dataclass
class SettingResult:
    """One setting of the grid trained across its seeds: what settings/NN.json holds.

    `networks` are in seed order. A setting with a diverged network is recorded as diverged as a
    whole (every network with that error and no numbers).
    """

    index: int
    label: str
    values: dict  # the varied values
    dims: list
    activation: str
    reg_lambda: float
    fit: dict  # fit_model arguments: epsilon, batch_size, momentum, lr_decay
    passes: int
    seconds: float  # the networks' training time, summed
    networks: list[NetworkResult]

    @property
    def seeds(self) -> list[int]:
        return [n.seed for n in self.networks]

    @functools.cached_property
    def diagnostics(self) -> Diagnostics:
        """The networks' diagnostics side by side, (samples, seeds, layers), cut to the samples
        every network has."""
        samples = min(len(n.diagnostics.passes) for n in self.networks)
        return Diagnostics(self.networks[0].diagnostics.passes[:samples], **{
            m: np.stack([np.asarray(getattr(n.diagnostics, m), dtype=float)[:samples]
                         for n in self.networks], axis=1)
            for m in self.networks[0].diagnostics.metrics})

    def to_dict(self) -> dict:
        """The JSON object of settings/NN.json: per-seed numbers as lists in seed order."""
        nets, diag = self.networks, self.diagnostics
        return {"index": self.index, "label": self.label, "values": self.values,
                "dims": self.dims, "activation": self.activation, "reg_lambda": self.reg_lambda,
                "fit": self.fit, "passes": self.passes, "seeds": self.seeds,
                "seconds": self.seconds,
                "final_loss": [n.final_loss for n in nets],
                "train_accuracy": [n.train_accuracy for n in nets],
                "heldout_accuracy": [n.heldout_accuracy for n in nets],
                "classes_predicted": [n.classes_predicted for n in nets],
                "error": [n.error for n in nets],
                "curves": [n.curves.to_dict() for n in nets],
                "parameters": [n.parameters.to_dict() for n in nets],
                "diagnostics": {"passes": diag.passes,
                                **{m: v.tolist() for m, v in diag.metrics.items()}},
                "geometry": [n.geometry._asdict() if n.geometry else None for n in nets],
                "dynamics": [n.dynamics._asdict() if n.dynamics else None for n in nets]}

    @classmethod
    def from_dict(cls, d: dict) -> SettingResult:
        seeds = d["seeds"]
        diag = {m: np.asarray(v, dtype=float) for m, v in d["diagnostics"].items()
                if m != "passes"}
        networks = [NetworkResult(
            d["index"], seed, d["final_loss"][s], d["train_accuracy"][s],
            d["heldout_accuracy"][s], d["classes_predicted"][s], d["error"][s],
            Curves.from_dict(d["curves"][s]), Parameters(**d["parameters"][s]),
            Diagnostics(d["diagnostics"]["passes"], **{m: v[:, s] for m, v in diag.items()}),
            d["seconds"] / len(seeds), _optional(Geometry, d.get("geometry"), s),
            _optional(Dynamics, d.get("dynamics"), s)) for s, seed in enumerate(seeds)]
        return cls(d["index"], d["label"], d["values"], d["dims"], d["activation"],
                   d["reg_lambda"], d["fit"], d["passes"], d["seconds"], networks)


def _optional(kind, values, s):
    """values[s] as a `kind` NamedTuple (None and JSON's null as NaN), or None when a file
    written before it was measured has no such list."""
    if values is None or values[s] is None:
        return None
    return kind(**{k: math.nan if v is None else v for k, v in values[s].items()})


@dataclass
class SeedRow:
    """One row of results.csv: a network's numbers at the end of training.

    dead, dead_max and saturated are end-of-training fractions of the hidden units (mean and
    worst layer); grad_norm_first/last the median data-gradient norm of the first and last
    hidden layer over training, grad_ratio their ratio (NaN where undefined).
    """

    setting: str
    values: dict  # the varied values, as text (format_value)
    seed: int
    final_loss: float
    train_accuracy: float
    heldout_accuracy: float
    passes: int
    seconds: float
    gap: float  # train - held-out accuracy
    classes_predicted: int
    dead: float
    dead_max: float
    saturated: float
    grad_norm_first: float
    grad_norm_last: float
    grad_ratio: float
    diverged: float  # 1.0 when training diverged, else 0.0 (a mean over seeds is a fraction)
    error: str  # "" unless it diverged
    # The boundary's shape (studies.geometry), in the window around the data:
    regions: float  # connected regions of one class
    islands: float  # regions enclosed by other classes
    length_ratio: float  # boundary length / the simplest boundary's, as accurate on the data
    pieces: float  # straight pieces (piecewise-linear activations; NaN otherwise)
    turning: float  # total absolute curvature, radians (smooth activations; NaN otherwise)
    cutout: float  # fraction of the boundary within reach of an outlier of another class
    # Training (studies.curves, on the recorded loss curve):
    converged_pass: float  # the first recorded pass with the loss within 1% of its final value
    spikes: float  # rises of the loss above 1.1 x its running minimum
    spike_size: float  # the largest, as loss / running minimum - 1 (0 without spikes)
    stalled: float  # 1.0 when monitor.health's stalled-loss rule fires, else 0.0
    # Early training (studies.diagnostics.Dynamics):
    died: float  # 1.0 when a hidden layer died entirely (ReLU family), else 0.0; NaN otherwise
    death_pass: float  # the pass it died at (NaN if it did not)
    first_step_shift: float  # the first step's change of the net inputs' mean (in initial stds)
    first_step_scale: float  # the net inputs' std after the first step / before

    def to_row(self) -> dict:
        """A flat dict, the varied values as columns of their own (a row of results.csv)."""
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"setting": row.pop("setting"), **row.pop("values"), **row}


class Stat(NamedTuple):
    """Mean and sample standard deviation (ddof 1; 0 for one value) over seeds."""

    mean: float
    std: float

    @classmethod
    def of(cls, values) -> Stat:
        v = np.asarray(values, dtype=float)
        with np.errstate(all="ignore"):  # a diverged seed's inf gives NaN, not a warning
            return cls(float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0)

    @classmethod
    def of_defined(cls, values) -> Stat:
        """Over the values that are not NaN (an event's pass over the seeds it happened to);
        NaN when none is."""
        v = np.asarray(values, dtype=float)
        v = v[~np.isnan(v)]
        return cls.of(v) if len(v) else cls(math.nan, math.nan)


@dataclass
class SummaryRow:
    """One row of summary.csv: a setting's metrics over its seeds (SUMMARY_METRICS, below)."""

    setting: str
    values: dict  # the varied values, as text (format_value)
    seeds: int  # how many
    train_accuracy: Stat
    heldout_accuracy: Stat
    gap: Stat
    final_loss: Stat
    classes_predicted: Stat
    dead: Stat
    dead_max: Stat
    saturated: Stat
    grad_norm_first: Stat
    grad_norm_last: Stat
    grad_ratio: Stat
    diverged: Stat
    seconds: Stat
    regions: Stat
    islands: Stat
    length_ratio: Stat
    pieces: Stat
    turning: Stat
    cutout: Stat
    converged_pass: Stat
    spikes: Stat
    spike_size: Stat
    stalled: Stat
    died: Stat
    death_pass: Stat  # over the seeds that died
    first_step_shift: Stat
    first_step_scale: Stat

    def to_row(self) -> dict:
        """A flat dict with the columns of summary.csv: setting, the varied values, seeds, then
        METRIC_mean and METRIC_std for each metric."""
        row = {"setting": self.setting, **self.values, "seeds": self.seeds}
        for m in SUMMARY_METRICS:
            stat = getattr(self, m)
            row[f"{m}_mean"], row[f"{m}_std"] = stat.mean, stat.std
        return row

    @classmethod
    def from_row(cls, row: dict) -> SummaryRow:
        """The inverse of `to_row` (a summary.csv row as numbers, e.g. read back from JSON)."""
        metrics = {f"{m}_{s}" for m in SUMMARY_METRICS for s in ("mean", "std")}
        values = {k: v for k, v in row.items() if k not in {"setting", "seeds", *metrics}}
        return cls(row["setting"], values, row["seeds"],
                   **{m: Stat(_number(row.get(f"{m}_mean")), _number(row.get(f"{m}_std")))
                      for m in SUMMARY_METRICS})  # a record from before a metric existed: NaN


def _number(x) -> float:
    return math.nan if x is None else x  # strict JSON writes NaN as null


SUMMARY_METRICS = tuple(f.name for f in dataclasses.fields(SummaryRow)
                        if f.name not in ("setting", "values", "seeds"))


@dataclass
class StudyResult:
    """A finished study; every number is also in the files under `out_dir`.

    settings: one SettingResult per setting, in grid order (settings/NN.json);
    rows: one SeedRow per setting x seed (results.csv); summary: one SummaryRow per setting
    (summary.csv); figures and tables: name -> path (figures: boundaries, losses, dataset,
    diagnostics; tables: results, summary, diagnostics, text); finding: one sentence computed
    from the summary; diagnosis: one line per setting without a decision boundary; health: one
    line per setting and health rule that fired (backproplab.monitor.health, the CNN's rules).
    """

    name: str
    out_dir: Path
    spec: StudySpec
    seeds: list[int]
    passes: int
    settings: list[SettingResult] = field(default_factory=list)
    rows: list[SeedRow] = field(default_factory=list)
    summary: list[SummaryRow] = field(default_factory=list)
    figures: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)
    finding: str = ""
    diagnosis: list[str] = field(default_factory=list)
    health: list[str] = field(default_factory=list)  # the health rules that fired, per setting
    seconds: float = 0.0  # training time of all settings (summed over settings)
    text: str = ""  # the printed summary
