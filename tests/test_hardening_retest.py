"""Issue 13 tried again with new cases of its classes (the NumPy commands, studies, the
playground's messages, the Python API). One test per mechanism, parametrised over its cases:

- seeds: one range everywhere (`checks.SEED_MAX`), refused up front naming the option;
- text options: an empty value is refused (`config.text`), never taken for '.' or a default;
- a file option names a file of a known kind (`io.check_replaceable`, `io.check_new_file`);
- a study's size counts its seeds (`studies.spec.check_size`) before the folder is made;
- a study's settings/NN.json is used only when it is this setting's under this plan, with
  numbers in their ranges (`runner._setting_fits`); the marker's own state keeps its types;
- JSON nested too deeply is a ValueError wherever backproplab reads JSON (`io.parse_json`);
- the Python API: X that is not a table of numbers, layer sizes that are not a sequence.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from clirun import cli, refused

from backproplab.checks import SEED_MAX
from backproplab.datasets import heldout_sample, load_dataset
from backproplab.nn.network import DeepNeuralNetwork
from backproplab.playground.messages import MessageError, parse_message


# 1. Seeds: 0 .. SEED_MAX everywhere (a held-out sample draws from seed + 10,000). Before,
# train --seed 4294967295 (2**32 - 1) failed with NumPy's "Seed must be between 0 and
# 2**32 - 1", naming no option, and study --first-seed near the top trained into a folder and
# failed in the workers.
@pytest.mark.parametrize("argv,says", [
    (("train", "--passes", 5, "--seed", 2**32 - 1),
     "seed=4294967295: seeds go from 0 to 4294957295"),
    (("train", "--passes", 5, "--seed", 2**32), "seeds go from 0 to 4294957295"),
    (("gradcheck", "--seed", 2**32 - 1), "seeds go from 0 to 4294957295"),
    (("study", "--vary", "width=2", "--passes", 5, "--seeds", 2, "--first-seed", SEED_MAX),
     f"--first-seed={SEED_MAX} (the last of 2 seeds is {SEED_MAX + 1})"),
    (("study", "--vary", "width=2", "--passes", 5, "--first-seed", 2**40), "seeds go from 0"),
])
def test_seeds_beyond_the_range_are_refused_up_front(capsys, tmp_path, monkeypatch, argv,
                                                     says):
    monkeypatch.chdir(tmp_path)
    assert says in refused(capsys, tmp_path, *argv)


def test_the_largest_seed_works_for_data_and_networks():
    assert len(load_dataset("moons", 10, seed=SEED_MAX)[0]) == 10
    assert len(heldout_sample("moons", seed=SEED_MAX)[0]) == 1000
    DeepNeuralNetwork([2, 3, 2], seed=SEED_MAX)
    for bad in (SEED_MAX + 1, np.uint64(2**63)):
        with pytest.raises(ValueError, match="seeds go from 0"):
            DeepNeuralNetwork([2, 3, 2], seed=bad)
        with pytest.raises(ValueError, match="seeds go from 0"):
            heldout_sample("moons", seed=bad)


# 2. Text options: '' or blanks are refused. Before, train --out '' wrote to '.' ("'.' already
# exists"), train-cnn --logdir '' trained into the default runs/..., study '' looked for a
# preset named '', playground --host '' listened on every interface.
@pytest.mark.parametrize("argv", [
    ("train", "--out", ""), ("train", "--out", " "), ("study", ""),
    ("study", "--vary", "width=2", "--out", ""), ("reproduce", "--out", ""),
    ("reproduce", "--data-dir", ""), ("playground", "--host", ""),
    ("study", "--vary", "width=2", "--address", ""),
])
def test_an_empty_text_option_is_refused(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    assert "an empty value" in refused(capsys, tmp_path, *argv)


# 3. A file option names a file, of a kind the command writes, before any work: `--out plots/`
# wrote a file named 'plots'; `--out fig.txt` trained every pass and then failed in matplotlib
# (listing formats the help does not offer); `--out fig` wrote a PNG without a suffix.
@pytest.mark.parametrize("out,says", [
    ("plots/", "names a folder, not a file"), (".", "names a folder, not a file"),
    ("..", "names a folder, not a file"), ("x/..", "names a folder, not a file"),
    ("fig.txt", "must end in .png, .svg or .pdf"), ("fig", "must end in .png, .svg or .pdf"),
    ("fig.png.bak", "must end in .png, .svg or .pdf"),
])
def test_train_out_must_name_a_figure_file(capsys, tmp_path, monkeypatch, out, says):
    monkeypatch.chdir(tmp_path)
    assert says in refused(capsys, tmp_path, "train", "--out", out, "--passes", 20000)


@pytest.mark.parametrize("out", ["fig.PNG", "fig.svg", "fig.Pdf"])
def test_train_out_suffixes_in_any_case_are_written(capsys, tmp_path, out):
    code, _, err = cli(capsys, "train", "--out", tmp_path / out, "--passes", 5)
    assert code == 0, err
    assert (tmp_path / out).stat().st_size > 0


# 4. A study's seeds count in its memory bound, before the folder is made: --seeds 100000000
# wrote a 1.5 GB study.json and then trained without a bar.
@pytest.mark.parametrize("seeds", [10**8, 10**6])
def test_a_study_too_large_for_its_seeds_is_refused(capsys, tmp_path, seeds):
    err = refused(capsys, tmp_path, "study", "--vary", "width=2", "--seeds", seeds,
                  "--passes", 5, "--out", tmp_path / "s")
    assert f"--seeds {seeds} of dims=[2, 2, 2] with 200 samples" in err and "GiB" in err


# 5. settings/NN.json is used only if it is this setting's under this plan, with numbers in
# their ranges; otherwise trained again. Before, another seeds' or passes' file, another
# index or dims, accuracies of 500% and infinite losses went into the summary, and a string
# loss failed the study with "could not convert string to float".
@pytest.fixture(scope="module")
def finished_study(tmp_path_factory):
    from backproplab.cli import main

    out = tmp_path_factory.mktemp("study") / "base"
    assert main(["study", "--vary", "width=2,3", "--seeds", "2", "--passes", "20", "--jobs",
                 "1", "--out", str(out)]) == 0
    return out


def _study_again(capsys, finished_study, tmp_path, edit, name="settings/00.json"):
    out = tmp_path / "s"
    shutil.copytree(finished_study, out)
    path = out / name
    d = json.loads(path.read_text())
    edit(d)
    path.write_text(json.dumps(d))
    code, _, err = cli(capsys, "study", "--vary", "width=2,3", "--seeds", 2, "--passes", 20,
                       "--jobs", 1, "--out", out)
    return code, err, out


@pytest.mark.parametrize("edit", [
    lambda d: d.update(seeds=[7, 8]), lambda d: d.update(passes=10**30),
    lambda d: d.update(index=1), lambda d: d.update(dims=[2, 9, 2]),
    lambda d: d.update(activation="relu"), lambda d: d.update(fit={}),
    lambda d: d.update(final_loss=["x", "y"]), lambda d: d.update(final_loss=[1e400, 1e400]),
    lambda d: d.update(final_loss=[-1.0, 0.1]), lambda d: d.update(final_loss=[0.1]),
    lambda d: d.update(heldout_accuracy=[5.0, -3.0]),
    lambda d: d.update(train_accuracy=[True, 1.0]),
    lambda d: d.update(classes_predicted=[2.0, 2]), lambda d: d.update(classes_predicted=[9, 2]),
    lambda d: d.update(seconds=-5), lambda d: d.update(seconds="1"),
])
def test_a_settings_file_not_of_this_plan_is_trained_again(capsys, finished_study, tmp_path,
                                                           edit):
    code, err, out = _study_again(capsys, finished_study, tmp_path, edit)
    assert code == 0 and "Traceback" not in err, err
    assert "100%" in err  # a bar: setting 00 was trained again
    assert json.loads((out / "settings/00.json").read_text()) \
        == json.loads((finished_study / "settings/00.json").read_text()) | {
            "seconds": json.loads((out / "settings/00.json").read_text())["seconds"]}


def test_an_untouched_settings_file_is_used(capsys, finished_study, tmp_path):
    code, err, _ = _study_again(capsys, finished_study, tmp_path, lambda d: None)
    assert code == 0 and "100%" not in err, err  # nothing trained


@pytest.mark.parametrize("edit,says", [
    (lambda d: d.update(tasks="x"), "tasks is str"),
    (lambda d: d.update(tasks={}), "tasks is dict"),
    (lambda d: d.update(versions=[]), "versions is list"),
    (lambda d: d.update(started=5), "started is int"),
])
def test_a_study_marker_whose_state_changed_type_is_refused(capsys, finished_study, tmp_path,
                                                            edit, says):
    """Before: an AttributeError traceback when the study appended to a `tasks` string."""
    out = tmp_path / "s"
    shutil.copytree(finished_study, out)
    (out / "settings/01.json").unlink()  # work to do: the marker's tasks are appended to
    d = json.loads((out / "study.json").read_text())
    edit(d)
    (out / "study.json").write_text(json.dumps(d))
    code, _, err = cli(capsys, "study", "--vary", "width=2,3", "--seeds", 2, "--passes", 20,
                       "--jobs", 1, "--out", out)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"is not a study.json backproplab wrote ({says})" in err


# 6. JSON nested deeper than Python's parser goes: a RecursionError traceback before, in the
# study's marker, its settings files and the playground's messages.
DEEP = "[" * 100000 + "]" * 100000


def test_a_deeply_nested_study_marker_is_one_line(capsys, finished_study, tmp_path):
    out = tmp_path / "s"
    shutil.copytree(finished_study, out)
    text = (out / "study.json").read_text().rstrip().rstrip("}")
    (out / "study.json").write_text(text + ', "deep": ' + DEEP + "}")
    code, _, err = cli(capsys, "study", "--vary", "width=2,3", "--seeds", 2, "--passes", 20,
                       "--jobs", 1, "--out", out)
    assert code == 2 and err.count("\n") == 1, err
    assert "is not a readable study.json (JSON nested too deeply)" in err


def test_a_deeply_nested_settings_file_is_trained_again(capsys, finished_study, tmp_path):
    out = tmp_path / "s"
    shutil.copytree(finished_study, out)
    (out / "settings/00.json").write_text(DEEP)
    code, _, err = cli(capsys, "study", "--vary", "width=2,3", "--seeds", 2, "--passes", 20,
                       "--jobs", 1, "--out", out)
    assert code == 0 and "100%" in err, err


@pytest.mark.parametrize("text", [DEEP, '{"type":' * 10000 + "1" + "}" * 10000])
def test_a_deeply_nested_playground_message_is_a_message_error(text):
    with pytest.raises(MessageError, match="nested too deeply"):
        parse_message(text)


# 7. The Python API: what is not a table of real numbers is one ValueError naming X (before,
# NumPy's "setting an array element with a sequence" or "could not convert string"); layer
# sizes given as a set or a mapping are refused (a dict's keys became the layer sizes).
@pytest.mark.parametrize("X,says", [
    ([[1, 2], [3]], "X must be a 2-D table of real numbers"),
    ("abc", "X must be a 2-D table of real numbers"),
    ([["a", "b"]], "X must be a 2-D table of real numbers"),
    ([[10**400, 1]], "X must be a 2-D table of real numbers"),
    ([[1j, 2]], "X is complex"), (np.array([[1j, 2]]), "X is complex"),
])
def test_x_that_is_not_a_table_of_numbers_is_one_value_error(X, says):
    with pytest.raises(ValueError, match=says):
        DeepNeuralNetwork([2, 3, 2]).predict(X)


@pytest.mark.parametrize("dims", [{2, 3, 4}, {2: 1, 3: 1, 4: 1}, frozenset({2, 3})])
def test_layer_sizes_must_be_a_sequence(dims):
    with pytest.raises(ValueError, match="must be a list of layer sizes"):
        DeepNeuralNetwork(dims)


@pytest.mark.parametrize("X", [
    np.asfortranarray(np.ones((4, 2))), np.ones((4, 4))[:, ::2], np.ones((4, 2), np.float32),
    np.ones((4, 2), bool), [[1, 2]] * 4,
])
def test_odd_but_valid_x_is_accepted(X):
    readonly = np.array(X, dtype=float)
    readonly.flags.writeable = False
    net = DeepNeuralNetwork([2, 3, 2])
    assert net.predict(X).shape == (4,)
    assert net.predict(readonly).shape == (4,)


# 8. A run's health.json is read back (by `reproduce`, for its report) only in the shape
# `health.save` writes: an edited one was an AttributeError or TypeError traceback.
@pytest.mark.parametrize("text,says", [
    ("[]", "not an object of format"), ('{"format": "x", "verdicts": []}', "not an object"),
    ('{"format": "backproplab-health/1", "verdicts": {}}', "its verdicts are not a list"),
    ('{"format": "backproplab-health/1", "verdicts": [{"rule": "nope"}]}', "a verdict is not"),
    ("[" * 100000 + "]" * 100000, "is not a readable health.json (JSON nested too deeply)"),
    ("{", "is not a readable health.json"),
])
def test_an_edited_health_file_is_one_error(tmp_path, text, says):
    from backproplab.errors import BackproplabError
    from backproplab.monitor import health

    (tmp_path / health.HEALTH_FILE).write_text(text)
    with pytest.raises(BackproplabError, match=says.replace("(", r"\(").replace(")", r"\)")):
        health.load(tmp_path)


def test_health_verdicts_written_are_read_back(tmp_path):
    from backproplab.monitor import health

    rule = next(iter(health.RULES))
    verdicts = [health.Verdict(rule, ["conv1"], 7, float("nan"), "line", "t", "e", "r"),
                health.Verdict(rule, [], 0, 2, "line", "t", "e", "r")]
    health.save(tmp_path, verdicts)
    back = health.load(tmp_path)
    assert [v.summary for v in back] == ["line", "line"] and back[1].value == 2


# 9. reproduce.json's part records are read back only with their numbers in range
# (`report.parts.check_ranges`, called by `collect`): an accuracy edited to 5.0 was reported as
# 500%, a CNN table without rows or with seeds=-1 was shown as it was.
def _results(cnn_row=None, study_row=None, cnn_rows=4):
    from backproplab.cnn.results import SettingRow
    from backproplab.report.records import CnnRecord, Results, StudyRecord
    from backproplab.studies.results import SummaryRow

    row = {"setting": "adam-relu", "optimizer": "adam", "activation": "relu", "seeds": 1,
           "accuracy_mean": 0.95, "accuracy_std": 0.0, "loss_mean": 0.15, "loss_std": 0.0,
           "time_mean": 2.5, "time_std": 0.0, "reported_accuracy": 0.974}
    rows = [SettingRow(**{**row, **(cnn_row or {})})] + [SettingRow(**row)] * (cnn_rows - 1)
    summary = SummaryRow.from_row({"setting": "activation=tanh", "seeds": 2,
                                   "train_accuracy_mean": 0.97, "train_accuracy_std": 0.0,
                                   "heldout_accuracy_mean": 0.96, "heldout_accuracy_std": 0.0,
                                   **(study_row or {})})
    study = StudyRecord("t", "c", [summary], "f", [], {}, "studies/x", 1.0)
    cnn = CnnRecord(rows[:cnn_rows], {}, {}, "", "runs", "d", "subset", 2, [0], "f", {})
    return Results(meta=None, studies={"moons-activations": study}, cnn=cnn)


@pytest.mark.parametrize("kwargs,says", [
    ({"cnn_row": {"accuracy_mean": 5.0}}, "adam-relu accuracy=5.0 out of range"),
    ({"cnn_row": {"accuracy_mean": -0.1}}, "accuracy=-0.1 out of range"),
    ({"cnn_row": {"seeds": -1}}, "adam-relu seeds=-1"),
    ({"cnn_row": {"seeds": True}}, "adam-relu seeds=True"),
    ({"cnn_row": {"time_mean": -3}}, "time_mean=-3 out of range"),
    ({"cnn_row": {"loss_mean": "0.1"}}, "loss_mean='0.1' out of range"),
    ({"cnn_row": {"reported_accuracy": 97.4}}, "reported accuracy=97.4 out of range"),
    ({"cnn_rows": 0}, "the CNN table has 0 rows, not 4"),
    ({"study_row": {"heldout_accuracy_mean": 1.5}}, "held-out accuracy=1.5 out of range"),
    ({"study_row": {"seeds": 0}}, "moons-activations seeds=0"),
])
def test_report_records_out_of_range_are_refused(kwargs, says):
    from backproplab.report.parts import check_ranges

    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        check_ranges(_results(**kwargs))


def test_report_records_in_range_pass():
    from backproplab.report.parts import check_ranges

    check_ranges(_results())
    check_ranges(_results(cnn_row={"accuracy_mean": float("nan"), "reported_accuracy": None}))


# 10. A current folder that was removed: "[Errno 2] No such file or directory" (no file named)
# after the training; now one line naming the cause, before any work.
@pytest.mark.parametrize("argv", [("train", "--passes", 5, "--out", "x.png"), ("gradcheck",)])
def test_a_removed_current_folder_is_named(capsys, tmp_path, monkeypatch, argv):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    code, out, err = cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1, err
    assert "the current folder no longer exists" in err and out == ""


# 11. The Python API's edges: gradcheck's step outside where a central difference measures a
# float64 gradient (1e-320: every error 1.0, a false FAILED; 1e300: NaN errors).
@pytest.mark.parametrize("h", [1e-320, 1e-13, 1.5, 1e300])
def test_gradcheck_refuses_a_step_that_measures_nothing(h):
    from backproplab.nn.gradcheck import gradcheck

    X = np.random.RandomState(0).randn(5, 2)
    with pytest.raises(ValueError, match=r"is outside \[1e-12, 1\]"):
        gradcheck(DeepNeuralNetwork([2, 3, 2]), X, np.array([0, 1, 0, 1, 1]), h=h)



# 12. Any integer option beyond a 64-bit integer is refused by its parser (`config.integer`),
# naming the option; `1_000` stays Python's integer syntax.
@pytest.mark.parametrize("argv", [
    ("train", "--passes", 10**20), ("train", "--batch-size", -(10**20)),
    ("gradcheck", "--samples", 10**20), ("study", "--vary", "width=2", "--jobs", 10**20),
    ("reproduce", "--jobs", 10**20),
])
def test_an_integer_beyond_64_bits_is_refused_by_its_parser(capsys, tmp_path, monkeypatch,
                                                            argv):
    monkeypatch.chdir(tmp_path)
    err = refused(capsys, tmp_path, *argv)
    assert f"argument {argv[-2]}: {argv[-1]} is beyond the largest integer" in err


# 13. The playground on a loopback address accepts a WebSocket only for a Host of this
# machine's loopback names: a page of another site whose name resolves to 127.0.0.1 (DNS
# rebinding) sent an Origin and a Host that agreed, and trained here.
@pytest.mark.parametrize("host,accepted", [
    ("127.0.0.1:8000", True), ("localhost:8000", True), ("[::1]:8000", True),
    ("evil.example:8000", False), ("127.0.0.1.evil.example:8000", False),
])
def test_a_local_playground_refuses_a_rebound_host(host, accepted):
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from backproplab.playground.server import create_app

    with TestClient(create_app(max_sessions=2, local_only=True), base_url=f"http://{host}") as c:
        headers = {"origin": f"http://{host}", "host": host}
        if accepted:
            with c.websocket_connect("/ws", headers=headers) as ws:
                kinds = [json.loads(ws.receive_text())["type"] for _ in range(3)]
                assert kinds[0] == "hello" and "frame" in kinds  # the session is running
        else:
            with pytest.raises(WebSocketDisconnect):
                with c.websocket_connect("/ws", headers=headers) as ws:
                    ws.receive_text()
