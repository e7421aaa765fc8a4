"""Findings and diagnoses are computed from the numbers of a summary."""

import math

from backproplab.studies import SummaryRow, diagnose, finding
from backproplab.studies.results import SUMMARY_METRICS, Stat


def _row(setting, heldout, gap, std=0.01, classes=2.0, dead_max=math.nan, saturated=0.1,
         grad_ratio=1.0, **values):
    """A summary row with the given means (and std of held-out accuracy); other metrics 0."""
    metrics = {m: Stat(0.0, 0.0) for m in SUMMARY_METRICS}
    metrics.update(heldout_accuracy=Stat(heldout, std), gap=Stat(gap, 0.0),
                   classes_predicted=Stat(classes, 0.0), dead_max=Stat(dead_max, 0.0),
                   saturated=Stat(saturated, 0.0), grad_ratio=Stat(grad_ratio, 0.0))
    return SummaryRow(setting, values, 5, **metrics)


def test_finding_names_the_best_and_worst_setting_and_where_the_gap_grows():
    summary = [_row("width=1", 0.85, 0.002, width="1"), _row("width=3", 0.97, 0.004, width="3"),
               _row("width=10", 0.95, 0.03, width="10"), _row("width=20", 0.93, 0.06, width="20")]
    text = finding(summary)
    assert text.startswith("width=3 has the best held-out accuracy (97.0% ± 1.0%)")
    assert "width=1 has the worst (85.0%)" in text
    # gap: 0.2% at width=1, exceeds it by > 1 point first at width=10, maximum 6.0%
    assert "smallest (0.2%) at width=1 and grows from width=10 on, reaching 6.0%" in text


def test_finding_lists_settings_within_one_standard_deviation_of_the_best():
    summary = [_row("activation=tanh", 0.96, 0.01, std=0.01, activation="tanh"),
               _row("activation=sigmoid", 0.95, 0.01, std=0.005, activation="sigmoid"),
               _row("activation=relu", 0.90, 0.01, std=0.01, activation="relu")]
    text = finding(summary)
    # 0.95 + 0.005 >= 0.96 - 0.01, but 0.90 + 0.01 < 0.95
    assert "within one standard deviation of activation=sigmoid;" in text
    assert "gap stays between 1.0% and 1.0%" in text


def test_a_failure_that_vanishes_without_regularisation_is_blamed_on_it():
    summary = [_row("reg_lambda=0.01, activation=relu", 0.50, 0.0, classes=1.0, dead_max=0.2,
                    reg_lambda="0.01", activation="relu"),
               _row("reg_lambda=0, activation=relu", 0.95, 0.01, reg_lambda="0",
                    activation="relu")]
    [line] = diagnose(summary, n_classes=2)
    assert line.startswith("reg_lambda=0.01, activation=relu: no decision boundary for every "
                           "class (predicts 1.0 of 2 classes")
    assert "regularisation: with reg_lambda=0 it reaches 95.0%" in line
    assert "dead units" not in line


def test_dead_units_and_vanishing_gradients_are_told_apart():
    summary = [_row("a", 0.5, 0.0, classes=1.0, dead_max=1.0, grad_ratio=0.5),
               _row("b", 0.52, 0.0, classes=2.0, dead_max=0.0, grad_ratio=1e-4),
               _row("c", 0.97, 0.01)]
    a, b = diagnose(summary, n_classes=2)
    assert "dead units (100.0%" in a and "vanishing" not in a
    assert "vanishing gradients (input-side gradient norm 1.0e-04" in b and "dead" not in b
    assert not any(line.startswith("c:") for line in (a, b))  # c has a boundary


def test_the_cnns_health_rules_judge_the_studies_networks_too(tmp_path):
    """One rule set for both engines: a deep ReLU network at the problem set's step has dead
    layers, and the verdict says so; its tanh twin gets no dead-unit verdict."""
    from backproplab.studies import StudySpec, run_study

    spec = StudySpec("deep", "moons", (2, 3, 3, 3, 3, 2), vary={"activation": ["tanh", "relu"]})
    result = run_study(spec, tmp_path, seeds=1, passes=400, jobs=1, progress=False, log=None)
    dead = [line for line in result.health if "mostly dead" in line]
    assert dead and all(line.startswith("activation=relu") for line in dead)
    assert "Health: activation=relu" in result.text


def test_a_large_grids_figures_are_laid_out_as_its_grid_without_the_slow_layout(tmp_path):
    """A 5 x 6 grid: the diagnostics figure stacks each setting's two panels in the grid's
    rows (not 30 columns in one row), and figures of more than CONSTRAINED_PANELS panels are
    laid out by fixed margins, the title in the top margin, above every panel."""
    from backproplab.plots import CONSTRAINED_PANELS
    from backproplab.studies import StudySpec, run_study
    from backproplab.studies.outputs import diagnostics_figure, loss_figure

    spec = StudySpec("grid", "moons", (2, 3, 2),
                     vary={"width": [1, 2, 3, 4, 5], "reg_lambda": [0, 1e-3, 1e-2, 0.1, 1, 10]})
    result = run_study(spec, tmp_path, seeds=1, passes=20, jobs=1, progress=False, log=None)
    results = result.settings
    assert 30 > CONSTRAINED_PANELS
    for fig, rows in ((diagnostics_figure(spec, results), 10), (loss_figure(spec, results), 5)):
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert fig.get_layout_engine() is None
        assert len({round(ax.get_position().y0, 6) for ax in axes}) == rows
        assert len({round(ax.get_position().x0, 6) for ax in axes}) == 6
        fig.canvas.draw()
        title = fig.texts[0].get_window_extent().y0
        assert all(ax.title.get_window_extent().y1 < title for ax in axes)
    assert (tmp_path / "diagnostics.png").is_file()


def test_the_loss_figure_draws_at_most_loss_curves_seeds_a_panel(tmp_path):
    """Thousands of seeds train in seconds; a line (and a legend entry) for each took minutes."""
    from backproplab.studies import StudySpec, run_study
    from backproplab.studies.outputs import LOSS_CURVES, loss_figure

    spec = StudySpec("many", "moons", (2, 3, 2), vary={"activation": ["tanh", "relu"]})
    result = run_study(spec, tmp_path, seeds=LOSS_CURVES + 3, passes=20, jobs=1, progress=False,
                       log=None)
    fig = loss_figure(spec, result.settings)
    assert [len(ax.lines) for ax in fig.axes] == [LOSS_CURVES, LOSS_CURVES]
    assert f"(the first {LOSS_CURVES} of {LOSS_CURVES + 3})" in fig.texts[0].get_text()
