"""Every preset runs end to end at a tiny pass count and writes what section 2 asks for."""

import csv

import pytest

from backproplab.studies import PRESETS, run_study
from backproplab.studies.spec import settings

FILES = ["boundaries.png", "losses.png", "dataset.png", "diagnostics.png", "results.csv",
         "summary.csv", "diagnostics.csv", "summary.txt", "study.json"]


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_runs_end_to_end(name, tmp_path):
    result = run_study(name, tmp_path, seeds=2, passes=20, jobs=1, progress=False, log=None)
    n = len(settings(PRESETS[name]))
    for f in FILES:
        assert (tmp_path / f).stat().st_size > 0, f
    with open(tmp_path / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * n  # one row per setting x seed
    for key in PRESETS[name].vary:
        assert key in rows[0]
    for column in ["seed", "final_loss", "train_accuracy", "heldout_accuracy", "passes",
                   "seconds"]:
        assert rows[0][column] != ""
    assert len(result.summary) == n
    with open(tmp_path / "summary.csv") as fh:
        columns = next(csv.reader(fh))
    assert {"heldout_accuracy_mean", "heldout_accuracy_std", "gap_mean"} <= set(columns)
    assert columns == list(result.summary[0].to_row())
    assert result.finding.endswith(".") and result.summary[0].setting in result.text
