"""The report's numbers, as types: what each part gives the report, and the whole of it.

A part's record is kept in reproduce.json as JSON (so that a rerun skips the part) and read back
with `from_dict`; `Results` gathers the records of a run with its `ReportMeta` and is what
report.html, summary.md and results.json (`to_dict`) are made from.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from backproplab.cnn.results import SettingRow
from backproplab.report.profiles import Profile
from backproplab.studies.outputs import shape_cells
from backproplab.studies.results import StudyResult, SummaryRow


def pct_or_dash(x) -> str:
    return "—" if x != x else f"{100 * x:.0f}%"  # NaN: not applicable to this activation


# A study table's columns after train and held-out accuracy and their gap: (header, cell).
STUDY_EXTRA_COLUMNS = [
    ("final loss", lambda r: "—" if r.final_loss.mean != r.final_loss.mean
     else f"{r.final_loss.mean:.3f}"),
    ("classes predicted", lambda r: f"{r.classes_predicted.mean:.1f}"),
    ("dead units (worst layer)", lambda r: pct_or_dash(r.dead_max.mean)),
    ("saturated", lambda r: pct_or_dash(r.saturated.mean)),
    ("islands", lambda r: shape_cells(r)[0]),
    ("length / simplest as accurate", lambda r: shape_cells(r)[1]),
    ("straight pieces / turning", lambda r: shape_cells(r)[2]),
    ("near outliers (cutouts)", lambda r: shape_cells(r)[3]),
]


@dataclass
class StudyRecord:
    """What the report shows of one part I study."""

    title: str  # what the problem set's figure shows
    claim: str  # what the problem set concluded "upon visual inspection"
    summary: list[SummaryRow]  # one row per setting
    finding: str
    diagnosis: list[str]
    figures: dict[str, str]  # boundaries, losses, dataset, diagnostics -> path
    folder: str
    seconds_training: float
    seconds: float = math.nan  # the whole part (training, tables, figures); set by reproduce
    health: list[str] = field(default_factory=list)  # the health rules that fired, per setting

    @classmethod
    def of(cls, result: StudyResult) -> StudyRecord:
        return cls(result.spec.title, result.spec.claim, list(result.summary), result.finding,
                   list(result.diagnosis), {k: str(v) for k, v in result.figures.items()},
                   str(result.out_dir), result.seconds, health=list(result.health))

    def to_dict(self) -> dict:
        """As kept in reproduce.json and results.json: with `rows`, the report table's cells."""
        rows = [{"setting": r.setting,
                 "train_mean": r.train_accuracy.mean, "train_std": r.train_accuracy.std,
                 "heldout_mean": r.heldout_accuracy.mean, "heldout_std": r.heldout_accuracy.std,
                 "gap": r.gap.mean, "extra": [cell(r) for _, cell in STUDY_EXTRA_COLUMNS]}
                for r in self.summary]
        d = {"extra_headers": [h for h, _ in STUDY_EXTRA_COLUMNS], "title": self.title,
             "claim": self.claim, "rows": rows, "finding": self.finding,
             "diagnosis": self.diagnosis, "figures": self.figures,
             "summary": [r.to_row() for r in self.summary], "folder": self.folder,
             "seconds_training": self.seconds_training, "health": self.health}
        if not math.isnan(self.seconds):
            d["seconds"] = self.seconds
        return d

    @classmethod
    def from_dict(cls, d: dict) -> StudyRecord:
        return cls(d["title"], d["claim"], [SummaryRow.from_row(r) for r in d["summary"]],
                   d["finding"], d["diagnosis"], d["figures"], d["folder"],
                   d["seconds_training"], d.get("seconds", math.nan), d.get("health", []))


@dataclass
class CnnRecord:
    """What the report shows of the part II comparison (cnn.results.ComparisonResult)."""

    rows: list[SettingRow]  # one per {optimizer, activation} setting
    curves: dict  # {setting: {"test/accuracy": [[per epoch] per seed], ...}}
    figures: dict[str, str]  # curves, weights, layer_stats -> path
    architecture: str  # the layer table (cnn.architecture.shape_table())
    runs_dir: str  # the TensorBoard runs
    data: str  # the data source, described
    data_kind: str  # "full" or "subset"
    epochs: int
    seeds: list[int]
    finding: str
    reported: dict[str, float]  # {setting: the problem set's test accuracy}
    seconds: float = math.nan  # the whole part; set by reproduce
    # {setting: {"test_loss_tv", "test_accuracy_tv", "train_loss_noise": [per seed]}}: the
    # curves' smoothness (studies.curves); empty in a record from before it was measured
    smoothness: dict = field(default_factory=dict)
    # {setting: [the verdict lines of each seed's run]} (backproplab.monitor.health) and, for
    # each rule that fired, its explanation, threshold and reference
    health: dict = field(default_factory=dict)
    health_rules: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """As kept in reproduce.json and results.json (each row with its time as `seconds`)."""
        d = asdict(self)
        d["rows"] = [{**asdict(r), "seconds": r.time_mean} for r in self.rows]
        if math.isnan(self.seconds):
            del d["seconds"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CnnRecord:
        fields = {k: v for k, v in d.items() if k != "rows"}
        rows = [SettingRow(**{k: v for k, v in r.items() if k != "seconds"}) for r in d["rows"]]
        return cls(rows=rows, **fields)


@dataclass
class ReportMeta:
    """How, where and on what a reproduce run was made (the report's first lines)."""

    date: str
    profile: Profile
    data_source: str  # which MNIST part II used
    data_is_full: bool
    notices: list[str]  # what the reader must know first (e.g. a subset of MNIST was used)
    total_seconds: float
    versions: dict[str, str]
    machine: str
    command: str  # the command that reproduces the report

    def to_dict(self) -> dict:
        profile = asdict(self.profile)
        return {"date": self.date, "profile": profile.pop("name"), **profile,
                "data_source": self.data_source, "data_is_full": self.data_is_full,
                "notices": self.notices, "total_seconds": self.total_seconds,
                "versions": self.versions, "machine": self.machine, "command": self.command}


@dataclass
class Results:
    """Every number of a reproduce run: what report.html, summary.md and results.json show."""

    meta: ReportMeta
    figures: dict[str, str] = field(default_factory=dict)  # the report's own figures -> path
    studies: dict[str, StudyRecord] = field(default_factory=dict)  # preset name -> record
    cnn: CnnRecord | None = None  # the part II comparison's record
    claims: list = field(default_factory=list)  # report.claims.ClaimResult, in order

    def to_dict(self) -> dict:
        """results.json."""
        return {"claims": [c.to_dict() for c in self.claims], "figures": self.figures,
                "studies": {name: s.to_dict() for name, s in self.studies.items()},
                "cnn": self.cnn.to_dict() if self.cnn else None, "meta": self.meta.to_dict()}
