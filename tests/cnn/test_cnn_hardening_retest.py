"""Issue 13 tried again with new cases of its classes (the CNN's): a checkpoint whose TrainState
or random state was edited by hand, seeds and threads at their edges, empty paths, a run.json
nested too deeply. Each is one line and exit status 2, never a traceback or a run trained on
from a wrong place."""

from __future__ import annotations

import shutil

import pytest
import torch
from clirun import cli, one_line_error


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A run of one epoch on the fixture (8 steps of 64), to copy and edit."""
    from pathlib import Path

    from backproplab.cli import main

    folder = tmp_path_factory.mktemp("retest") / "base"
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "mnist"
    assert main(["train-cnn", "--data-dir", str(fixture), "--dry-run", "--epochs", "1",
                 "--device", "cpu", "--threads", "1", "--logdir", str(folder)]) == 0
    return folder


def _resume(fixture_dir, logdir, epochs=2):
    return ("train-cnn", "--data-dir", fixture_dir, "--dry-run", "--epochs", epochs,
            "--device", "cpu", "--threads", "1", "--logdir", logdir, "--resume")


def _edited(finished, tmp_path, edit):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    payload = torch.load(run / "checkpoint.pt", weights_only=True)
    edit(payload, payload["state"])
    torch.save(payload, run / "checkpoint.pt")
    return run


# 1. A checkpoint's state is checked against the shape and ranges `save` writes, and against
# the run's steps per epoch (`checkpoint.state_problem`): before, a string epoch, a history that
# is not a list or an empty random state were tracebacks; a negative epoch, a batch past the
# epoch's end or a NaN loss sum trained on from a wrong place, exit 0.
@pytest.mark.parametrize("edit,says", [
    (lambda p, s: s.update(epoch="1"), "epoch='1' is not an integer >= 0"),
    (lambda p, s: s.update(epoch=-1), "epoch=-1 is not an integer >= 0"),
    (lambda p, s: s.update(step=-5), "step=-5 is not an integer >= 0"),
    (lambda p, s: s.update(batch=True), "batch=True is not an integer >= 0"),
    (lambda p, s: s.update(batch=10**6), "batch=1000000 and count=0 disagree"),
    (lambda p, s: s.update(batch=4), "batch=4 and count=0 disagree"),
    (lambda p, s: s.update(batch=9, count=64), "is not a place in a run of 8 steps"),
    (lambda p, s: s.update(step=9), "(epoch 1, batch 0, step 9) is not a place"),
    (lambda p, s: s.update(loss_sum=float("nan")), "loss_sum=nan is not a finite number"),
    (lambda p, s: s.update(elapsed=-1e300), "elapsed=-1e+300 is not a finite number"),
    (lambda p, s: s.update(history="x"), "history is not one row per finished epoch"),
    (lambda p, s: s.update(history=[None]), "history is not one row per finished epoch"),
    (lambda p, s: s.update(history=[]), "history is not one row per finished epoch"),
    (lambda p, s: p["rng"].update(dropout=[]), "random state is not one generator state"),
    (lambda p, s: p["rng"].update(dropout=["x"]), "random state is not one generator state"),
    (lambda p, s: p["rng"].update(dropout=p["rng"]["dropout"] * 2),
     "random state is of 2 ranks, not 1"),
    (lambda p, s: p["rng"].update(dropout=[torch.zeros(3, dtype=torch.uint8)]),
     "does not fit this run"),
])
def test_an_edited_checkpoint_state_is_refused_in_one_line(capsys, finished, tmp_path,
                                                           fixture_dir, edit, says):
    run = _edited(finished, tmp_path, edit)
    before = (run / "checkpoint.pt").read_bytes()
    err = one_line_error(capsys, *_resume(fixture_dir, run))
    assert says in err
    assert (run / "checkpoint.pt").read_bytes() == before  # nothing trained, nothing written


def test_an_unedited_checkpoint_still_resumes(capsys, finished, tmp_path, fixture_dir):
    run = _edited(finished, tmp_path, lambda p, s: None)
    code, _, err = cli(capsys, *_resume(fixture_dir, run))
    assert code == 0, err


def test_a_checkpoint_interrupted_mid_epoch_passes_the_state_check(small_run, tmp_path):
    """A real mid-epoch checkpoint (batch > 0, count > 0) is a place the check accepts."""
    from backproplab.cnn.checkpoint import load_checkpoint, state_problem
    from backproplab.cnn.train import TrainingInterrupted

    with pytest.raises(TrainingInterrupted):
        small_run("mid", epochs=2, on_step=lambda step: step == 19)
    state = load_checkpoint(tmp_path / "mid" / "checkpoint.pt")["state"]
    assert (state["epoch"], state["batch"]) == (1, 3) and state["count"] > 0
    assert state_problem(state, 16) == ""  # 500 examples in batches of 32
    assert small_run("mid", epochs=2, resume=True).resumed


# 2. Numbers at their edges: seeds out of NumPy's range or negative, any integer option beyond a
# 64-bit integer (`config.integer`; torch's "Overflow when unpacking long long" before, for
# --eval-batch-size after an epoch's training) and --threads far beyond any machine (PyTorch
# crashed with SIGSEGV at 100000) are refused, naming the option.
@pytest.mark.parametrize("flag,value,says", [
    ("--seed", str(2**62), f"--seed={2**62}: seeds go from 0"),
    ("--seed", "99999999999999999999999", "argument --seed: 99999999999999999999999 is beyond "
     "the largest integer, 9223372036854775807"),
    ("--batch-size", "99999999999999999999", "argument --batch-size: 99999999999999999999 is "
     "beyond the largest integer"),
    ("--eval-batch-size", "99999999999999999999", "argument --eval-batch-size: "
     "99999999999999999999 is beyond the largest integer"),
    ("--seed", "-1", "--seed=-1 must be >= 0"),
    ("--seed", "4294967295", "seeds go from 0 to 4294957295"),
    ("--threads", "100000", "--threads 100000 is more than 1024"),
])
def test_cnn_numbers_at_their_edges_are_refused(capsys, tmp_path, fixture_dir, flag, value,
                                                says):
    out = tmp_path / "run"
    err = one_line_error(capsys, "train-cnn", "--data-dir", fixture_dir, "--dry-run",
                         "--device", "cpu", "--logdir", out, flag, value)
    assert says in err
    assert not out.exists()


# 3. An empty path is refused, never taken for the default run folder or the current one.
@pytest.mark.parametrize("argv", [
    ("train-cnn", "--logdir", ""), ("train-cnn", "--logdir", "  "),
    ("train-cnn", "--data-dir", ""), ("compare-cnn", "--out", ""), ("evaluate-cnn", ""),
    ("evaluate-cnn", "model.pt", "--device", ""),
])
def test_an_empty_path_is_refused(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    err = one_line_error(capsys, *argv)
    assert "an empty value" in err
    assert list(tmp_path.iterdir()) == []


# 4. A run.json nested deeper than Python's parser goes (io.parse_json) is one line.
def test_a_deeply_nested_run_json_is_one_line(capsys, finished, tmp_path, fixture_dir):
    run = _edited(finished, tmp_path, lambda p, s: None)
    text = (run / "run.json").read_text().rstrip().rstrip("}")
    (run / "run.json").write_text(text + ', "deep": ' + "[" * 100000 + "]" * 100000 + "}")
    err = one_line_error(capsys, *_resume(fixture_dir, run))
    assert "is not a readable run.json (JSON nested too deeply)" in err


# 5. compare-cnn's --seeds is bounded by what its runs' records need, before anything is built
# or read (`compare.check_run_count`): 10**8 seeds spent minutes building 4e8 runs, silent.
@pytest.mark.parametrize("seeds", [10**8, 2**40])
def test_compare_cnn_refuses_more_seeds_than_its_records_fit(capsys, tmp_path, fixture_dir,
                                                              seeds):
    out = tmp_path / "cmp"
    err = one_line_error(capsys, "compare-cnn", "--data-dir", fixture_dir, "--dry-run",
                         "--epochs", 1, "--device", "cpu", "--seeds", seeds, "--out", out)
    assert f"--seeds {seeds}: {4 * seeds:,} runs whose records alone need" in err
    assert not out.exists()


# 6. A model or checkpoint to read must be a regular file (`io.check_regular_file`): a FIFO
# blocked evaluate-cnn forever; a device or a folder is named for what it is.
@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "link to a fifo"])
def test_evaluate_cnn_reads_only_a_regular_file(capsys, tmp_path, fixture_dir, kind):
    import os

    path = tmp_path / "model.pt"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = "/dev/zero"
    elif kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(tmp_path / "fifo")
        path.symlink_to(tmp_path / "fifo")
    says = {"fifo": "is a FIFO", "device": "is a character device", "folder": "is a folder",
            "link to a fifo": "is a FIFO"}[kind]
    err = one_line_error(capsys, "evaluate-cnn", path, "--data-dir", fixture_dir,
                         "--device", "cpu")
    assert f"{says}, not a backproplab-cnn-model/1 or backproplab-cnn-checkpoint/1 file" in err


def test_evaluate_cnn_follows_a_link_to_a_checkpoint(capsys, finished, tmp_path, fixture_dir):
    (tmp_path / "link.pt").symlink_to(finished / "checkpoint.pt")
    code, out, err = cli(capsys, "evaluate-cnn", tmp_path / "link.pt", "--data-dir",
                         fixture_dir, "--device", "cpu")
    assert code == 0, err


# 7. A resumed run's own files are checked when the folder is claimed (`RunFolder._own_files`):
# a checkpoint, CSV or model that is a link, a FIFO or a folder was refused only when the first
# epoch's work was done and the file was to be replaced.
@pytest.mark.parametrize("name", ["checkpoint.pt", "metrics.csv", "stats.csv", "model.pt"])
@pytest.mark.parametrize("kind", ["a symbolic link", "a FIFO", "a folder"])
def test_a_resumed_runs_own_files_are_checked_before_any_work(capsys, finished, tmp_path,
                                                               fixture_dir, name, kind):
    import os

    run = _edited(finished, tmp_path, lambda p, s: None)
    target = run / name
    target.unlink(missing_ok=True)
    if kind == "a symbolic link":
        (tmp_path / "victim").write_text("keep")
        target.symlink_to(tmp_path / "victim")
    elif kind == "a FIFO":
        os.mkfifo(target)
    else:
        target.mkdir()
    err = one_line_error(capsys, *_resume(fixture_dir, run))
    assert f"{str(target)!r} is {kind}, not a regular file that backproplab wrote" in err
    assert "epoch" not in err.split("error:")[0]  # no bar: refused before training
    if kind == "a symbolic link":
        assert (tmp_path / "victim").read_text() == "keep"


def test_evaluate_cnn_batch_size_beyond_an_integer_is_refused(capsys, finished, fixture_dir):
    err = one_line_error(capsys, "evaluate-cnn", finished / "checkpoint.pt", "--data-dir",
                         fixture_dir, "--device", "cpu", "--batch-size", 10**20)
    assert "argument --batch-size: 100000000000000000000 is beyond the largest integer" in err
