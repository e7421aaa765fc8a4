"""What part II's comparison gives, as types (PyTorch-free, so the report reads them without it).

`run_comparison` returns a `ComparisonResult` (also written, field by field, as comparison.json)
whose table has one `SettingRow` per {optimizer, activation} setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class SettingRow:
    """One setting of the table: final test metrics and training time over its seeds."""

    setting: str  # "adam-relu"
    optimizer: str
    activation: str
    seeds: int
    accuracy_mean: float  # final test accuracy, in [0, 1]
    accuracy_std: float  # sample standard deviation over seeds (0 for one seed)
    loss_mean: float  # final test loss (mean NLL)
    loss_std: float
    time_mean: float  # training seconds per run
    time_std: float
    reported_accuracy: float | None  # what the problem set reported, where it did


@dataclass
class ComparisonResult:
    """What `run_comparison` returns and writes, field by field, as comparison.json."""

    data: str  # the data source, described
    data_kind: str  # "full" or "subset"
    epochs: int
    seeds: list[int]
    batch_size: int
    table: list[SettingRow]
    curves: dict  # {setting: {"test/accuracy": [[per epoch] per seed], ...}} (see CURVES)
    figures: dict[str, Path]  # {"curves": png, "weights": png}
    reported: dict[str, float]  # {setting: the problem set's test accuracy}
    runs_dir: Path
    runs: dict[str, list[Path]]  # {setting: the run folder of each seed}
    stats_csv: dict[str, list[Path]]  # {setting: the stats.csv of each seed}
    table_csv: Path
    table_md: Path
    json: Path
