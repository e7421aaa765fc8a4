"""The claims table: verdicts from mean and spread over seeds."""

import math

from backproplab.report import claims as C
from backproplab.report.records import StudyRecord
from backproplab.studies.results import SUMMARY_METRICS, Stat, SummaryRow


def row(setting, values, **metrics):
    stats = {m: Stat(math.nan, math.nan) for m in SUMMARY_METRICS}
    stats.update({m: Stat(*v) for m, v in metrics.items()})
    return SummaryRow(setting, values, 3, **stats)


def study(*rows):
    return StudyRecord("t", "c", list(rows), "", [], {}, "", 0.0)


def test_a_difference_counts_only_beyond_the_spread_of_the_two_means():
    assert C.greater(Stat(0.96, 0.01), Stat(0.90, 0.02))
    assert not C.greater(Stat(0.96, 0.05), Stat(0.90, 0.05))  # 0.06 < sqrt(2) * 0.05
    assert C.similar(Stat(0.96, 0.01), Stat(0.955, 0.0))


def test_verdicts_are_supported_not_supported_or_mixed():
    assert C.verdict([True, True]) == C.SUPPORTED
    assert C.verdict([False, False]) == C.NOT_SUPPORTED
    assert C.verdict([True, False]) == C.MIXED
    assert C.verdict([]) == C.NOT_MEASURED


def test_relu_fitting_worse_is_supported_only_when_both_smooth_activations_beat_it():
    s = study(row("relu", {"activation": "relu"}, heldout_accuracy=(0.90, 0.01)),
              row("tanh", {"activation": "tanh"}, heldout_accuracy=(0.96, 0.01)),
              row("sigmoid", {"activation": "sigmoid"}, heldout_accuracy=(0.905, 0.01)))
    text, word = C.relu_fits_worse(s)
    assert word == C.MIXED and "held-out 90.0 ± 1.0%" in text


def test_islands_above_ten_units_need_islands_there_and_more_than_below():
    s = study(*[row(f"width={w}", {"width": str(w)}, islands=(i, 0.2))
                for w, i in [(3, 0.0), (10, 0.0), (15, 2.0), (20, 3.0)]])
    assert C.islands_above(s, 10, 2)[1] == C.SUPPORTED
    assert C.islands_above(s, 10, 2.5)[1] == C.MIXED


def test_a_claim_whose_settings_are_missing_is_not_measured_rather_than_an_error():
    s = study(row("width=5", {"width": "5"}, heldout_accuracy=(0.9, 0.0)))
    results = type("R", (), {"studies": {"moons-hidden": s}, "cnn": None})()
    tested = C.test_claims(results)
    assert {c.source for c in tested} == {"moons-hidden"}
    assert all(c.verdict in (C.NOT_MEASURED, C.SUPPORTED, C.NOT_SUPPORTED, C.MIXED)
               for c in tested)
    assert tested[0].verdict == C.NOT_MEASURED
