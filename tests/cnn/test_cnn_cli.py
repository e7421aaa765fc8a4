"""The CNN commands as a user runs them: each bad input of the issue is one line and exit 2."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest
import torch
from clirun import cli, one_line_error


def train_args(data_dir, logdir, *extra):
    return ("train-cnn", "--data-dir", data_dir, "--logdir", logdir, "--epochs", 1,
            "--batch-size", 50, "--device", "cpu", *extra)


def test_help_does_not_import_torch():
    code = ("import sys; from backproplab.cli import build_parser; build_parser(); "
            "assert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_train_then_evaluate_the_saved_model(capsys, fixture_dir, tmp_path):
    code, out, _ = cli(capsys, *train_args(fixture_dir, tmp_path / "r", "--save-model"))
    assert code == 0 and "test accuracy" in out
    code, out, _ = cli(capsys, "evaluate-cnn", tmp_path / "r" / "model.pt",
                       "--data-dir", fixture_dir, "--device", "cpu")
    assert code == 0 and "/200)" in out


def test_dry_run_trains_on_a_few_examples(capsys, tmp_path):
    code, _, _ = cli(capsys, "train-cnn", "--dataset", "mnist-subset", "--dry-run",
                     "--logdir", tmp_path / "r", "--epochs", 1, "--device", "cpu")
    metrics = (tmp_path / "r" / "metrics.csv").read_text().splitlines()
    assert code == 0 and metrics[1].split(",")[1] == str(512 // 64)  # steps of epoch 1


def test_the_output_ends_with_the_health_verdicts(capsys, fixture_dir, tmp_path):
    code, out, _ = cli(capsys, *train_args(fixture_dir, tmp_path / "r"), "--lr", "0.1",
                       "--monitor-every", "2")
    assert code == 0 and (tmp_path / "r" / "health.json").is_file()
    lines = out.splitlines()
    final = next(i for i, line in enumerate(lines) if line.startswith(f"{tmp_path / 'r'}: "))
    assert lines[final + 1].startswith("health: ") and "warning" in lines[final + 1]  # lr x100


def _raw(path):
    return gzip.decompress(path.read_bytes())


def _corrupt(kind, folder):
    images = folder / "t10k-images-idx3-ubyte.gz"
    if kind == "missing":
        images.unlink()
    elif kind == "truncated":
        images.write_bytes(images.read_bytes()[:500])
    elif kind == "magic":
        images.write_bytes(gzip.compress(b"\x00\x00\x08\x07" + _raw(images)[4:]))
    elif kind == "size":
        images.write_bytes(gzip.compress(_raw(images) + b"\x00" * 10))
    elif kind == "md5":
        raw = bytearray(_raw(images))
        raw[-5] ^= 1
        images.write_bytes(gzip.compress(bytes(raw)))
    elif kind == "lengths":
        from backproplab import data

        labels = data.read_idx(folder / "t10k-labels-idx1-ubyte.gz")[:-1]
        data.write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels)
        manifest = folder / data.MANIFEST  # checksums right, so only the lengths are wrong
        lines = [ln for ln in manifest.read_text().splitlines() if "t10k-labels" not in ln]
        manifest.write_text("\n".join(lines + [f"{data.md5_of_idx(labels)}  "
                                                "t10k-labels-idx1-ubyte"]))


@pytest.mark.parametrize("kind, message", [
    ("missing", "missing t10k-images-idx3-ubyte"),
    ("truncated", "truncated or corrupt gzip"),
    ("magic", "wrong magic number 00000807"),
    ("size", "wrong size"),
    ("md5", "fails its MD5 check"),
    ("lengths", "different lengths (200 images, 199 labels)"),
])
def test_bad_data_is_one_line_and_exit_2(capsys, data_copy, tmp_path, kind, message):
    _corrupt(kind, data_copy)
    assert message in one_line_error(capsys, *train_args(data_copy, tmp_path / "r"))


def test_no_data_anywhere_says_which_files_to_put_where(capsys, tmp_path):
    err = one_line_error(capsys, "train-cnn", "--no-download", "--logdir", tmp_path / "r")
    assert "train-images-idx3-ubyte.gz" in err and "--data-dir" in err
    assert str(tmp_path / "cache" / "backproplab" / "mnist") in err


@pytest.mark.parametrize("flags, message", [
    (("--optimizer", "rmsprop"), "invalid choice: 'rmsprop'"),
    (("--activation", "sigmoid"), "invalid choice: 'sigmoid'"),
    (("--epochs", "0"), "--epochs must be a positive integer, got 0"),
    (("--batch-size", "0"), "--batch-size must be a positive integer, got 0"),
    (("--lr", "-0.1"), "--lr must be positive, got -0.1"),
    (("--lr", "0"), "--lr must be positive, got 0.0"),
])
def test_bad_settings_are_one_line_and_exit_2(capsys, fixture_dir, tmp_path, flags, message):
    args = train_args(fixture_dir, tmp_path / "r", *flags)  # the last of a repeated flag wins
    assert message in one_line_error(capsys, *args)


def test_a_truncated_checkpoint_is_one_line_and_exit_2(capsys, fixture_dir, tmp_path):
    assert cli(capsys, *train_args(fixture_dir, tmp_path / "r"))[0] == 0
    ckpt = tmp_path / "r" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:2000])
    err = one_line_error(capsys, *train_args(fixture_dir, tmp_path / "r", "--resume"))
    assert "truncated or not a backproplab file" in err


def test_a_model_of_another_architecture_is_one_line_and_exit_2(capsys, fixture_dir, tmp_path):
    other = torch.nn.Sequential(torch.nn.Linear(784, 10))
    torch.save({"format": "backproplab-cnn-model/1", "activation": "relu",
                "architecture": {n: list(p.shape) for n, p in other.named_parameters()},
                "model": other.state_dict()}, tmp_path / "other.pt")
    err = one_line_error(capsys, "evaluate-cnn", tmp_path / "other.pt", "--data-dir", fixture_dir)
    assert "another architecture" in err


def test_a_folder_holding_another_run_is_one_line_and_exit_2(capsys, fixture_dir, tmp_path):
    assert cli(capsys, *train_args(fixture_dir, tmp_path / "r"))[0] == 0
    before = (tmp_path / "r" / "checkpoint.pt").read_bytes()
    err = one_line_error(capsys, *train_args(fixture_dir, tmp_path / "r", "--optimizer", "sgd"))
    assert "already holds a run (optimizer adam" in err
    err = one_line_error(capsys, *train_args(fixture_dir, tmp_path / "r", "--optimizer", "sgd",
                                             "--resume"))
    assert "holds another run: optimizer='adam' there, 'sgd' here" in err
    assert (tmp_path / "r" / "checkpoint.pt").read_bytes() == before


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_that_resume_continues(fixture_dir, tmp_path):
    import signal
    import time

    logdir = tmp_path / "r"
    args = [sys.executable, "-m", "backproplab", "train-cnn", "--data-dir", str(fixture_dir),
            "--logdir", str(logdir), "--epochs", "200", "--batch-size", "20", "--device", "cpu",
            "--monitor-every", "5"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (logdir / "metrics.csv").is_file() and time.monotonic() < deadline:
        time.sleep(0.1)  # wait for the first epoch's checkpoint, then interrupt mid-run
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in err and "--resume" in err
    checkpoint = torch.load(logdir / "checkpoint.pt", weights_only=True)
    step = checkpoint["state"]["step"]
    assert 0 < step < 200 * 25
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logdir))
    events.Reload()  # flushed on the way out: the monitored steps up to the checkpoint are there
    assert max(e.step for e in events.Scalars("train/loss")) >= (step - 1) // 5 * 5
    finish = ["--epochs", str(checkpoint["state"]["epoch"] + 1), "--resume"]  # the last one wins
    resumed = subprocess.run(args + finish, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    after = torch.load(logdir / "checkpoint.pt", weights_only=True)["state"]
    assert after["step"] > step and after["batch"] == 0


def test_compare_refuses_no_seeds_and_bad_epochs(capsys, fixture_dir, tmp_path):
    err = one_line_error(capsys, "compare-cnn", "--seeds", 0, "--out", tmp_path / "c")
    assert "--seeds must be a positive integer, got 0" in err
    err = one_line_error(capsys, "compare-cnn", "--epochs", -1, "--out", tmp_path / "c")
    assert "--epochs must be a positive integer, got -1" in err
    assert not (tmp_path / "c").exists()
