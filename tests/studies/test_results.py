"""A study's typed results: what settings/NN.json and summary.csv hold reads back as it was."""

import json
import math

import pytest

from backproplab.studies import SettingResult, StudySpec, SummaryRow, run_study
from backproplab.studies.results import SUMMARY_METRICS, Stat


def test_a_setting_reads_back_from_its_json_file_unchanged(tmp_path, tiny_spec, tiny):
    result = run_study(tiny_spec, tmp_path, **tiny, jobs=1, progress=False, log=None)
    for setting in result.settings:
        text = (tmp_path / "settings" / f"{setting.index:02d}.json").read_text()
        again = SettingResult.from_dict(json.loads(text))
        assert again.seeds == setting.seeds == [0, 1]
        assert json.loads(json.dumps(again.to_dict())) == json.loads(text)
        # diagnostics: (samples, seeds, hidden layers), one sample per 2 passes plus pass 0
        assert again.diagnostics.grad_norm.shape == (21, 2, 1)


def test_a_summary_row_reads_back_from_its_flat_columns():
    row = SummaryRow("width=3", {"width": "3"}, 5,
                     **{m: Stat(0.5, math.nan if m == "dead" else 0.1) for m in SUMMARY_METRICS})
    flat = row.to_row()
    assert list(flat)[:5] == ["setting", "width", "seeds", "train_accuracy_mean",
                              "train_accuracy_std"]
    again = SummaryRow.from_row({**flat, "dead_std": None})  # strict JSON's null for NaN
    assert again.values == {"width": "3"} and again.heldout_accuracy == Stat(0.5, 0.1)
    assert math.isnan(again.dead.std)


def test_stat_is_the_mean_and_sample_standard_deviation_over_seeds():
    assert Stat.of([0.9, 1.0]) == pytest.approx(Stat(0.95, math.sqrt(0.005)))  # (2 · 0.05²) / 1
    assert Stat.of([0.9]) == Stat(0.9, 0.0)


def test_seeds_of_a_diverging_setting_trained_apart_still_get_a_loss_figure(tmp_path):
    # With 2 jobs each network trains in its own stack, so the diverging seeds stop recording
    # their losses at different passes: the loss figure draws curves of different lengths.
    spec = StudySpec("steps", "moons", (2, 3, 2), activation="identity",
                     vary={"epsilon": [0.01, 1.0]})
    result = run_study(spec, tmp_path, seeds=2, passes=300, jobs=2, progress=False, log=None)
    lengths = {len(n.curves.loss) for n in result.settings[1].networks}
    assert result.settings[1].networks[0].error and len(lengths) == 2
    assert (tmp_path / "losses.png").stat().st_size > 0
