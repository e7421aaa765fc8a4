"""Issue 13, the CNN's remaining cases: each mechanism tried on several cases of its kind.

Empty splits are refused before any training; a full disk ends a run in one line, the last
checkpoint intact; sizes that cannot fit in memory are refused before any allocation; a resume
that would change the arithmetic is refused; a NaN on one DDP rank stops every rank.
"""

from __future__ import annotations

import numpy as np
import pytest
from clirun import cli, one_line_error

from backproplab import data
from backproplab.errors import BackproplabError


def _empty_split(folder, split):
    """Make `split` of the IDX folder hold 0 images and 0 labels, its checksums right."""
    prefix = "train" if split == "train" else "t10k"
    manifest = folder / data.MANIFEST
    lines = [ln for ln in manifest.read_text().splitlines() if f"{prefix}-" not in ln]
    for part, shape in (("images-idx3", (0, 28, 28)), ("labels-idx1", (0,))):
        array = np.zeros(shape, np.uint8)
        data.write_idx(folder / f"{prefix}-{part}-ubyte.gz", array)
        lines.append(f"{data.md5_of_idx(array)}  {prefix}-{part}-ubyte")
    manifest.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------ 1. empty splits


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("command", ["train-cnn", "compare-cnn", "evaluate-cnn"])
def test_an_empty_split_is_refused_before_any_training(capsys, data_copy, tmp_path, split,
                                                       command, small_run):
    _empty_split(data_copy, split)
    out = tmp_path / "out"
    if command == "evaluate-cnn":  # evaluates on the test split alone: only that one counts
        model = small_run("model", epochs=1, save_model=True).model
        argv = ("evaluate-cnn", model, "--data-dir", data_copy, "--device", "cpu")
        if split == "train":
            code, stdout, err = cli(capsys, *argv)
            assert code == 0 and "/200)" in stdout, err
            return
    elif command == "train-cnn":
        argv = ("train-cnn", "--data-dir", data_copy, "--logdir", out, "--epochs", 1,
                "--device", "cpu")
    else:
        argv = ("compare-cnn", "--data-dir", data_copy, "--out", out, "--epochs", 1,
                "--device", "cpu", "--dry-run")
    err = one_line_error(capsys, *argv)
    assert f"the {split} split is empty: 0 {split} examples of mnist from " \
           f"'{data_copy}'" in err
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_python_api_refuses_an_empty_split(small_run, data_copy, tmp_path, split):
    from backproplab.cnn.config import DataConfig

    _empty_split(data_copy, split)
    with pytest.raises(BackproplabError, match=f"the {split} split is empty"):
        small_run("r", data_config=DataConfig(data_dir=str(data_copy)))
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("n", [0, 1])
def test_evaluate_refuses_no_examples(tensors, n):
    from backproplab.cnn import model as net
    from backproplab.cnn.train import evaluate

    x, y = tensors.test
    if n == 0:
        with pytest.raises(BackproplabError, match="no examples"):
            evaluate(net.build("relu", 0), x[:0], y[:0])
    else:
        assert evaluate(net.build("relu", 0), x[:n], y[:n])["n"] == 1


# ------------------------------------------------------------------ 2. a full disk

# Runs train-cnn in a process of its own after making the writes of one file fail with ENOSPC
# after `after` successful ones: a file of the run folder, written through io.atomic_path
# (checkpoint.pt, model.pt, the CSVs), or the TensorBoard event file, which the
# SummaryWriter's thread writes. With "fsize", the kernel's own file-size limit instead: a
# write beyond `after` bytes is cut short, the next fails (EFBIG), as on a disk filling up.
_FULL_DISK = r"""
import errno, pathlib, resource, signal, sys
from tensorboard.summary.writer import record_writer
from backproplab.cli import main

where, after = sys.argv[1], int(sys.argv[2])
done = [0]

def full():
    done[0] += 1
    return done[0] > after

def no_space():
    return OSError(errno.ENOSPC, "No space left on device")

if where == "fsize":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (after, after))
elif where == "events":
    write = record_writer.RecordWriter.write
    def fake_write(self, data):  # in the SummaryWriter's thread
        if full():
            raise no_space()
        return write(self, data)
    record_writer.RecordWriter.write = fake_write
else:  # a file of the run folder, by name: its temporary of io.atomic_path
    write_bytes = pathlib.Path.write_bytes
    def fake_write_bytes(self, data):
        if self.name.startswith(f".{where}.") and full():
            with open(self, "wb") as f:
                f.write(bytes(data)[:1000])  # a part, then the disk is full
            raise no_space()
        return write_bytes(self, data)
    pathlib.Path.write_bytes = fake_write_bytes
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.slow
# `kept`: the epoch of the checkpoint left (the checkpoint precedes the CSVs of its epoch).
@pytest.mark.parametrize("where, after, names, kept", [
    ("checkpoint.pt", 1, "'{logdir}/checkpoint.pt'", 1),  # the second checkpoint
    ("model.pt", 0, "'{logdir}/model.pt'", 2),  # after the last checkpoint
    ("events", 1700, "'{logdir}/events.out.tfevents.", 1),  # the writer's thread, mid-epoch 2
    ("events", 300, "'{logdir}/events.out.tfevents.", None),  # before the first checkpoint
    ("metrics.csv", 1, "'{logdir}/metrics.csv'", 2),
    ("stats.csv", 1, "stats.csv, histograms.csv or health.json in '{logdir}'", 2),
], ids=["checkpoint", "model", "events", "events-epoch-1", "metrics", "stats"])
def test_a_full_disk_is_one_line_and_keeps_the_last_checkpoint(fixture_dir, tmp_path, where,
                                                               after, names, kept):
    import subprocess
    import sys

    import torch

    logdir = tmp_path / "run"
    argv = ["train-cnn", "--data-dir", str(fixture_dir), "--logdir", str(logdir), "--epochs",
            "2", "--batch-size", "50", "--device", "cpu", "--threads", "1", "--monitor-every",
            "1", "--save-model"]
    done = subprocess.run([sys.executable, "-c", _FULL_DISK, where, str(after), *argv],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "Exception in thread" not in done.stderr, \
        done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("backproplab")]
    assert len(error) == 1, done.stderr
    assert f"could not write {names.format(logdir=logdir)}" in error[0]
    assert not [p.name for p in logdir.iterdir() if p.name.endswith(".tmp")]
    if kept is None:
        assert not (logdir / "checkpoint.pt").exists()
        assert error[0].endswith("no space left on device; no checkpoint was written yet: free "
                                 "some space, then start again with --overwrite")
        again = "--overwrite"
    else:  # the last checkpoint is whole and --resume finishes the run
        assert error[0].endswith(f"no space left on device; the last checkpoint in "
                                 f"'{logdir}' is intact: free some space, then continue with "
                                 "--resume")
        epoch = torch.load(logdir / "checkpoint.pt", weights_only=True)["state"]["epoch"]
        assert epoch == kept
        again = "--resume"
    resumed = subprocess.run([sys.executable, "-m", "backproplab", *argv, again],
                             capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (logdir / "model.pt").is_file()


@pytest.mark.slow
def test_a_write_the_kernel_cuts_short_is_one_line(fixture_dir, tmp_path):
    """The kernel's own failure: a checkpoint larger than the file-size limit is written in
    part (a short count), then refused (EFBIG). torch's file writer made a RuntimeError
    ("unexpected pos") of the short count; the run says which file, and why."""
    import subprocess
    import sys

    logdir = tmp_path / "run"
    argv = ["train-cnn", "--data-dir", str(fixture_dir), "--logdir", str(logdir), "--epochs",
            "1", "--batch-size", "50", "--device", "cpu", "--threads", "1", "--monitor-every",
            "0"]  # no statistics: the checkpoint (about 270 KiB) is the largest file
    done = subprocess.run([sys.executable, "-c", _FULL_DISK, "fsize", str(150_000), *argv],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"backproplab train-cnn: error: could not write '{logdir}/checkpoint.pt': file too "
        "large; no checkpoint was written yet: start again with --overwrite")
    assert not [p.name for p in logdir.iterdir() if p.name.endswith(".tmp")]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(tmp_path, script: str, *args, timeout=180):
    """Run `script` (Python text) under torchrun with 2 CPU processes; the finished process."""
    import os
    import subprocess
    import sys

    driver = tmp_path / "driver.py"
    driver.write_text(script)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={_free_port()}", str(driver), *map(str, args)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _no_traceback_of_ours(stderr: str) -> bool:
    """No traceback through backproplab's code (torchrun prints its own ChildFailedError when
    a rank ends with an error: that one names no file of ours)."""
    return "backproplab/" not in "".join(line for line in stderr.splitlines()
                                         if line.lstrip().startswith("File "))


@pytest.mark.slow
@pytest.mark.parametrize("where, after", [("checkpoint.pt", 1), ("events", 1300)],
                         ids=["checkpoint", "events-mid-epoch-2"])
def test_a_full_disk_under_ddp_stops_every_rank_in_one_line(fixture_dir, tmp_path, where,
                                                            after):
    import torch

    logdir = tmp_path / "ddp"
    done = _torchrun(tmp_path, _FULL_DISK, where, after, "train-cnn", "--data-dir", fixture_dir,
                     "--device", "cpu", "--threads", 1, "--epochs", 3, "--batch-size", 32,
                     "--monitor-every", 1, "--logdir", logdir)
    assert done.returncode != 0, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines()
              if line.startswith("backproplab train-cnn: error: ")]
    assert len(errors) == 2 and errors[0] == errors[1], done.stderr[-3000:]  # rank 0's, twice
    name = "checkpoint.pt'" if where == "checkpoint.pt" else "events.out.tfevents."
    assert f"could not write '{logdir}/{name}" in errors[0]
    assert errors[0].endswith("is intact: free some space, then continue with --resume")
    assert _no_traceback_of_ours(done.stderr), done.stderr[-3000:]
    assert torch.load(logdir / "checkpoint.pt", weights_only=True)["state"]["epoch"] == 1


# ------------------------------------------------------------------ 3. memory bounds

SMALL_MEMORY = 10 * 2**20  # a machine of 10 MiB: the fixture (2.1 MiB) and small batches fit


@pytest.fixture
def small_memory(monkeypatch):
    """Call it to make this machine's memory SMALL_MEMORY."""
    from backproplab.cnn import train

    def limit():
        monkeypatch.setattr(train, "memory_of",
                            lambda place: (SMALL_MEMORY, "this machine's memory"))
    return limit


# (command, flags, the part the message names) on the fixture's 500 training and 200 test
# examples: a batch never exceeds its split, so --batch-size 10000000 costs 500 examples (32 MiB)
MEMORY_CASES = [
    ("train-cnn", ("--batch-size", 10_000_000), "a training step 32 MiB (--batch-size 10000000)"),
    ("train-cnn", ("--eval-batch-size", 10**9),
     "an evaluation batch 12.8 MiB (--eval-batch-size 1000000000)"),
    ("train-cnn", ("--hist-bins", 100_000, "--monitor-every", 1),  # 10 steps, and the first
     "the monitor's statistics 3.48 GiB (--hist-bins 100000 at 11 monitored steps"),
    ("compare-cnn", ("--batch-size", 10_000_000), "a training step 32 MiB (--batch-size 1000"),
    ("evaluate-cnn", ("--batch-size", 10**9), "an evaluation batch 12.8 MiB (--batch-size 1000"),
]


@pytest.mark.parametrize("command, flags, part", MEMORY_CASES,
                         ids=["batch", "eval-batch", "hist-bins", "compare", "evaluate"])
def test_sizes_that_cannot_fit_in_memory_are_refused_up_front(capsys, fixture_dir, tmp_path,
                                                              small_memory, small_run, command,
                                                              flags, part):
    out = tmp_path / "out"
    if command == "train-cnn":
        argv = ("train-cnn", "--logdir", out, "--epochs", 1, "--batch-size", 50, *flags)
    elif command == "compare-cnn":
        argv = ("compare-cnn", "--out", out, "--epochs", 1, *flags)
    else:
        argv = ("evaluate-cnn", small_run("model", epochs=1, save_model=True).model, *flags)
    small_memory()
    err = one_line_error(capsys, *argv, "--data-dir", fixture_dir, "--device", "cpu")
    what = "the evaluation" if command == "evaluate-cnn" else "the run"
    assert f"{what} needs about " in err and "of memory, more than the 10 MiB of this " \
        "machine's memory: " in err, err
    assert part in err
    assert err.rstrip().endswith("; use smaller sizes (nothing was trained or written)")
    assert not out.exists()


def test_the_python_api_refuses_what_cannot_fit(small_memory, small_run, tensors, tmp_path):
    small_memory()
    with pytest.raises(BackproplabError, match=r"a training step 32 MiB \(--batch-size 10000"):
        small_run("r", data=tensors, batch_size=10_000_000)
    assert not (tmp_path / "r").exists()
    small_run("r", data=tensors, epochs=1, batch_size=50, eval_batch_size=50)  # 6 MiB: fits


def test_a_hist_bins_no_machine_holds_is_refused_on_this_one(capsys, fixture_dir, tmp_path):
    err = one_line_error(capsys, "train-cnn", "--data-dir", fixture_dir, "--logdir",
                         tmp_path / "r", "--device", "cpu", "--hist-bins", 10**9)
    assert "TiB of memory, more than the " in err and "(--hist-bins 1000000000 at " in err


@pytest.mark.parametrize("precision, world, batch, expected", [
    ("fp32", 1, 64, 64 * 16784 * 4),
    ("bf16", 1, 64, 64 * 16784 * 2),
    ("fp32", 2, 10_000_000, 30_000 * 16784 * 4),  # a batch is at most this rank's share
])
def test_the_estimate_of_a_training_step(precision, world, batch, expected):
    from backproplab.cnn.train import memory_need

    need = memory_need({"train": 60_000, "test": 10_000}, batch_size=batch, world=world,
                       precision=precision)
    assert need["a training step"][0] == expected


def test_the_problem_sets_run_needs_little_memory():
    from backproplab.cnn.train import memory_need

    need = memory_need({"train": 60_000, "test": 10_000, "val": 0}, batch_size=64,
                       eval_batch_size=1000, hist_bins=30, monitored_steps=95)
    assert sum(b for b, _, _ in need.values()) < 300 * 2**20


# ------------------------------------------------------------------ 4. exact resume


def _train(fixture_dir, logdir, *flags):
    return ("train-cnn", "--data-dir", fixture_dir, "--logdir", logdir, "--batch-size", 50,
            "--device", "cpu", "--monitor-every", 0, *flags)


@pytest.mark.parametrize("changed, was, asked", [
    (("--no-channels-last",), "--channels-last", "--no-channels-last"),
    (("--eval-batch-size", 500), "--eval-batch-size 1000", "--eval-batch-size 500"),
    (("--threads", 1, "--eval-batch-size", 999), "--eval-batch-size 1000",
     "--eval-batch-size 999"),
], ids=["channels-last", "eval-batch-size", "threads-and-eval-batch-size"])
def test_a_resume_that_would_change_the_arithmetic_is_refused(capsys, fixture_dir, tmp_path,
                                                              changed, was, asked):
    logdir = tmp_path / "r"
    assert cli(capsys, *_train(fixture_dir, logdir, "--epochs", 1))[0] == 0
    before = (logdir / "checkpoint.pt").read_bytes()
    err = one_line_error(capsys, *_train(fixture_dir, logdir, "--epochs", 2, "--resume",
                                         *changed))
    assert f"--resume: the run in '{logdir}' cannot continue as asked: it was trained with " \
           f"{was}, this resume asks for {asked}, which changes the arithmetic's last bits" in err
    assert err.rstrip().endswith(f"pass {was} to continue it, or start it again with "
                                 "--overwrite (without --resume)")
    assert (logdir / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize("same", [
    (),
    ("--channels-last", "--eval-batch-size", 1000),
    ("--threads", 2),  # the machine's: allowed (it may change the last bits; see --help)
], ids=["defaults", "given", "other-threads"])
def test_a_resume_with_the_same_values_continues(capsys, fixture_dir, tmp_path, same):
    logdir = tmp_path / "r"
    assert cli(capsys, *_train(fixture_dir, logdir, "--epochs", 1))[0] == 0
    code, out, err = cli(capsys, *_train(fixture_dir, logdir, "--epochs", 2, "--resume", *same))
    assert code == 0, err
    assert "after 2 epochs" in out


def _forget(logdir, *names):
    """Make a run folder as versions before these options wrote it: run.json and the
    checkpoint without `names` in their config."""
    import json

    import torch

    run = json.loads((logdir / "run.json").read_text())
    checkpoint = torch.load(logdir / "checkpoint.pt", weights_only=True)
    for name in names:
        del run["config"][name], checkpoint["config"][name]
    (logdir / "run.json").write_text(json.dumps(run))
    torch.save(checkpoint, logdir / "checkpoint.pt")


@pytest.mark.parametrize("flags, refused", [
    (("--no-channels-last", "--eval-batch-size", 1000), None),
    (("--no-channels-last",), None),  # 1000 is the default
    ((), "it was trained with --no-channels-last, this resume asks for --channels-last"),
    (("--no-channels-last", "--eval-batch-size", 64),
     "it was trained with --eval-batch-size 1000, this resume asks for --eval-batch-size 64"),
])
def test_a_run_folder_without_these_options_resumes_with_the_values_it_was_made_with(
        capsys, fixture_dir, tmp_path, flags, refused):
    logdir = tmp_path / "r"
    assert cli(capsys, *_train(fixture_dir, logdir, "--epochs", 1, "--no-channels-last"))[0] == 0
    _forget(logdir, "channels_last", "eval_batch_size")
    argv = _train(fixture_dir, logdir, "--epochs", 2, "--resume", *flags)
    if refused is None:
        code, _, err = cli(capsys, *argv)
        assert code == 0, err
    else:
        assert refused in one_line_error(capsys, *argv)


# ------------------------------------------------------------------ 5. DDP: NaN on one rank

# Run by torchrun: on rank `bad_rank` alone the training loss of step `bad_step` becomes NaN (a
# batch of bad data would do it); the other rank's loss at that step is finite.
_NAN_ON_ONE_RANK = r"""
import os, sys
import torch
from torch.nn import functional as F
from backproplab.cli import main

bad_rank, bad_step = int(sys.argv[1]), int(sys.argv[2])
nll_loss, steps = F.nll_loss, [0]

def nll_loss_nan_once(out, target, *args, **kwargs):
    loss = nll_loss(out, target, *args, **kwargs)
    if kwargs.get("reduction", "mean") == "mean":  # a training step's (evaluation sums)
        steps[0] += 1
        if steps[0] == bad_step and int(os.environ["RANK"]) == bad_rank:
            loss = loss * float("nan")
    return loss

F.nll_loss = nll_loss_nan_once
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("bad_rank, bad_step", [(1, 11), (0, 3)],
                         ids=["rank-1-epoch-2", "rank-0-epoch-1"])
def test_a_nan_on_one_ddp_rank_stops_every_rank_at_that_step(fixture_dir, tmp_path, bad_rank,
                                                             bad_step):
    import torch

    logdir = tmp_path / "ddp"
    done = _torchrun(tmp_path, _NAN_ON_ONE_RANK, bad_rank, bad_step, "train-cnn", "--data-dir",
                     fixture_dir, "--device", "cpu", "--threads", 1, "--epochs", 3,
                     "--batch-size", 32, "--monitor-every", 0, "--logdir", logdir)
    assert done.returncode != 0, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines()
              if "backproplab train-cnn: error: training diverged" in line]
    assert len(errors) == 2, done.stderr[-3000:]  # both ranks, each in one line
    epoch = (bad_step - 1) // 8 + 1  # 250 examples a rank: 8 steps an epoch
    for line in errors:
        assert f"training diverged at step {bad_step} (epoch {epoch}): loss is nan" in line
    # each rank stopped by itself (torchrun may still end the slower one's exit with SIGTERM
    # once the other has exited), without a traceback of ours
    assert _no_traceback_of_ours(done.stderr), done.stderr[-3000:]
    assert f"loss is nan on rank {bad_rank} of 2 with" in errors[0]
    if epoch > 1:  # the last checkpoint, of the epoch before, is kept
        state = torch.load(logdir / "checkpoint.pt", weights_only=True)["state"]
        assert state["step"] == 8 * (epoch - 1)
