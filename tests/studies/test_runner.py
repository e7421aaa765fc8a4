"""The runner: numbers equal independently trained networks, workers, resume after Ctrl-C."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from backproplab.datasets import heldout_sample, load_dataset
from backproplab.nn.network import DeepNeuralNetwork
from backproplab.studies import StudySpec, load_study, run_study
from backproplab.studies.runner import setting_path


def _rows(folder):
    with open(folder / "results.csv") as fh:
        return list(csv.DictReader(fh))


def _tolist(array):
    return array.tolist()


def _numbers(rows):
    """Everything in results.csv but the timing."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_results_equal_independently_trained_networks(tmp_path):
    spec = StudySpec("check", "blobs", (2, 4, 4, 4), vary={"activation": ["sigmoid", "relu"]})
    run_study(spec, tmp_path, seeds=2, passes=300, jobs=1, progress=False, log=None)
    X, y = load_dataset("blobs")
    X_val, y_val = heldout_sample("blobs")  # the training sample's distribution, other seed
    for row in _rows(tmp_path):
        net = DeepNeuralNetwork([2, 4, 4, 4], row["activation"], 0.01, int(row["seed"]))
        net.fit_model(X, y, num_passes=300, print_loss=False)
        assert float(row["final_loss"]) == pytest.approx(net.calculate_loss(X, y), abs=1e-8)
        assert float(row["train_accuracy"]) == net.accuracy(X, y)
        assert float(row["heldout_accuracy"]) == net.accuracy(X_val, y_val)


def test_worker_processes_give_the_same_numbers_as_one_process(tmp_path, tiny_spec, tiny):
    run_study(tiny_spec, tmp_path / "one", **tiny, jobs=1, progress=False, log=None)
    run_study(tiny_spec, tmp_path / "two", **tiny, jobs=2, progress=False, log=None)
    assert _numbers(_rows(tmp_path / "one")) == _numbers(_rows(tmp_path / "two"))


class _StopAfter:
    """A progress object that presses Ctrl-C once `limit` model-passes are done."""

    def __init__(self, limit):
        self.n, self.limit = 0, limit

    def update(self, n=1, postfix=None):
        self.n += n
        if self.n > self.limit:
            raise KeyboardInterrupt


def test_an_interrupted_then_resumed_study_equals_an_uninterrupted_one(tmp_path, tiny):
    # Two widths: two stacks (settings of one width would share a stack and finish together),
    # the wider one trained first.
    spec = StudySpec("widths", "moons", (2, 3, 2), vary={"width": [3, 2]})
    run_study(spec, tmp_path / "whole", **tiny, jobs=1, progress=False, log=None)
    part = tmp_path / "part"
    with pytest.raises(KeyboardInterrupt):  # stopped inside the second setting
        run_study(spec, part, **tiny, jobs=1, progress=_StopAfter(100), log=None)
    assert setting_path(part, 0).exists() and not setting_path(part, 1).exists()
    first = setting_path(part, 0).read_bytes()
    run_study(spec, part, **tiny, jobs=1, progress=False, log=None)
    assert setting_path(part, 0).read_bytes() == first  # finished setting skipped, not redone
    assert _numbers(_rows(part)) == _numbers(_rows(tmp_path / "whole"))
    assert json.loads((part / "study.json").read_text())["status"] == "finished"


def test_load_study_reads_a_finished_folder_back(tmp_path, tiny_spec, tiny):
    ran = run_study(tiny_spec, tmp_path, **tiny, jobs=1, progress=False, log=None)
    loaded = load_study(tmp_path)
    assert json.dumps([r.to_row() for r in loaded.summary]) == json.dumps(
        [r.to_row() for r in ran.summary])  # NaN-safe comparison
    assert json.dumps([s.to_dict() for s in loaded.settings], default=_tolist) == json.dumps(
        [s.to_dict() for s in ran.settings], default=_tolist)
    assert loaded.finding == ran.finding
    assert set(loaded.figures) == {"boundaries", "losses", "dataset", "diagnostics"}


def test_ctrl_c_stops_workers_cleanly_and_the_rerun_resumes(tmp_path):
    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "backproplab", "study", "--vary", "width=2,3,4,5",
           "--seeds", "2", "--passes", "20000", "--jobs", "2", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 60
    while not list(out.glob("settings/[0-9]*.json")):  # a setting written (not a temp file)
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group, workers too
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "settings finished and kept" in err and "rerun the same command" in err
    kept = sorted(p.name for p in out.glob("settings/[0-9]*.json"))
    assert 1 <= len(kept) < 4 and not (out / "summary.csv").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(_rows(out)) == 8


def test_seed_semantics_are_recorded_in_study_json(tmp_path, tiny_spec, tiny):
    run_study(tiny_spec, tmp_path, **tiny, first_seed=3, jobs=1, progress=False, log=None)
    the_plan = json.loads((tmp_path / "study.json").read_text())["plan"]
    assert the_plan["seeds"] == [3, 4]
    assert "weight initialisation" in the_plan["seed_meaning"]
    assert the_plan["study"]["data_seed"] == 0
    assert np.unique([r["seed"] for r in _rows(tmp_path)]).tolist() == ["3", "4"]


def test_a_diverging_setting_is_recorded_and_the_study_completes(tmp_path, tiny):
    spec = StudySpec("steps", "moons", (2, 3, 2), activation="identity",
                     vary={"epsilon": [0.01, 1.0]})
    result = run_study(spec, tmp_path, seeds=2, passes=300, jobs=1, progress=False, log=None)
    small, large = result.summary
    assert small.diverged.mean == 0 and large.diverged.mean > 0
    assert all("diverged at pass" in r["error"] for r in _rows(tmp_path)[2:])
    assert any("training diverged" in line for line in result.diagnosis)


def test_settings_of_one_architecture_share_stacks_cut_for_the_workers():
    from backproplab.studies.presets import preset
    from backproplab.studies.runner import plan_stacks, study_plan
    from backproplab.studies.spec import settings

    spec = preset("moons-activations")  # 3 settings x 5 seeds of 2-3-2
    the_plan = study_plan(spec, seeds=5, passes=100)
    stacks = plan_stacks(settings(spec), the_plan, jobs=2)
    assert [len(st) for st in stacks] == [8, 7]
    assert [s.activation for s, _ in stacks[0]] == ["relu"] * 5 + ["sigmoid"] * 3  # runs
    hidden = preset("moons-hidden")  # widths 1 to 6: width 1 stacks too (nn.batched)
    stacks = plan_stacks(settings(hidden), study_plan(hidden, seeds=5, passes=100), jobs=2)
    assert [len(st) for st in stacks] == [5] * 6


def test_a_diverging_setting_in_a_shared_stack_leaves_its_stack_mates_exact(tmp_path):
    # reg_lambda = 1000 with epsilon = 0.01 multiplies W by 1 - 10 = -9 every pass: it diverges,
    # stops the stack it shares with reg_lambda = 0.01, and the stack is trained again by setting.
    spec = StudySpec("decay", "moons", (2, 3, 2), vary={"reg_lambda": [0.01, 1000.0]})
    result = run_study(spec, tmp_path, seeds=2, passes=300, jobs=1, progress=False, log=None)
    small, large = result.summary
    assert small.diverged.mean == 0 and large.diverged.mean == 1
    X, y = load_dataset("moons")
    for row in _rows(tmp_path)[:2]:
        net = DeepNeuralNetwork([2, 3, 2], "tanh", 0.01, int(row["seed"]))
        net.fit_model(X, y, num_passes=300, print_loss=False)
        assert float(row["final_loss"]) == pytest.approx(net.calculate_loss(X, y), abs=1e-8)
