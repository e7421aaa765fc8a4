"""The 2x2 comparison: four runs of their own, a table over seeds, figures, rerun continues."""

from __future__ import annotations

import pytest

from backproplab.cnn.compare import SETTINGS, run_comparison
from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
from backproplab.data import locate

CONFIG = TrainConfig(epochs=1, batch_size=100, device="cpu")


@pytest.fixture
def comparison(tmp_path, fixture_dir):
    calls = []
    summary = run_comparison(tmp_path / "cmp", 2, CONFIG, DataConfig(),
                             MonitorConfig(monitor_every=2), source=locate("mnist", fixture_dir),
                             progress=lambda done, total, text: calls.append((done, total, text)))
    return summary, calls


def test_every_setting_and_seed_is_a_run_of_its_own(comparison, tmp_path):
    summary, _ = comparison
    names = sorted(p.name for p in (tmp_path / "cmp" / "runs").iterdir())
    assert names == sorted(f"{o}-{a}-s{s}" for o, a in SETTINGS for s in (0, 1))
    assert all(len(list(p.glob("events.out.tfevents.*"))) == 1
               for p in (tmp_path / "cmp" / "runs").iterdir())
    assert all(path.is_file() for paths in summary.stats_csv.values() for path in paths)


def test_the_table_has_mean_and_std_over_seeds(comparison):
    summary, _ = comparison
    table = {row.setting: row for row in summary.table}
    assert list(table) == [f"{o}-{a}" for o, a in SETTINGS]
    finals = [acc[-1] for acc in summary.curves["sgd-tanh"]["test/accuracy"]]
    assert table["sgd-tanh"].accuracy_mean == pytest.approx(sum(finals) / 2)
    assert table["sgd-tanh"].accuracy_std == pytest.approx(abs(finals[0] - finals[1]) / 2 ** 0.5)
    assert table["adam-relu"].reported_accuracy == 0.974
    assert "| adam-relu |" in summary.table_md.read_text()


def test_figures_are_written(comparison):
    summary, _ = comparison
    for path in summary.figures.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_progress_counts_every_step_of_the_whole_comparison(comparison):
    summary, calls = comparison
    total = 4 * 2 * 5  # settings x seeds x (500 examples / batches of 100)
    assert [done for done, _, _ in calls] == list(range(1, total + 1))
    assert {t for _, t, _ in calls} == {total} and "sgd-tanh seed 1" in calls[-1][2]


def test_rerunning_reads_finished_runs_back_without_training(comparison, tmp_path, fixture_dir):
    first, _ = comparison
    calls = []
    again = run_comparison(tmp_path / "cmp", 2, CONFIG, DataConfig(),
                           MonitorConfig(monitor_every=2), source=locate("mnist", fixture_dir),
                           progress=lambda *a: calls.append(a))
    assert calls == [] and again.table == first.table
    runs = (tmp_path / "cmp" / "runs").iterdir()
    assert all(len(list(p.glob("events.out.tfevents.*"))) == 1 for p in runs)


def test_the_compare_command_writes_the_table(capsys, tmp_path, fixture_dir):
    from backproplab.cli import main

    code = main(["compare-cnn", "--data-dir", str(fixture_dir), "--epochs", "1", "--device", "cpu",
                 "--batch-size", "250", "--out", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert code == 0 and "| sgd-tanh |" in out and (tmp_path / "c" / "curves.png").is_file()


def test_a_run_that_never_reached_a_checkpoint_is_started_again(tmp_path, fixture_dir):
    source = locate("mnist", fixture_dir)
    crashed = tmp_path / "cmp" / "runs" / "adam-relu-s0"
    crashed.mkdir(parents=True)
    (crashed / "run.json").write_text('{"config": {}}')  # as a crash before epoch 1 leaves it
    summary = run_comparison(tmp_path / "cmp", 1, TrainConfig(epochs=1, batch_size=250,
                                                              device="cpu"),
                             source=source, progress=False)
    assert (crashed / "checkpoint.pt").is_file() and len(summary.table) == 4
