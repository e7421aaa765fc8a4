"""The trainer under torchrun: 2 CPU processes with gloo on the fixture."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from backproplab.cnn.checkpoint import load_model
from backproplab.cnn.train import evaluate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_with_ddp_and_reduce_metrics(tmp_path, fixture_dir, tensors):
    logdir = tmp_path / "ddp"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={_free_port()}", "-m", "backproplab", "train-cnn",
           "--data-dir", str(fixture_dir), "--device", "cpu", "--epochs", "2",
           "--batch-size", "32", "--monitor-every", "2", "--logdir", str(logdir), "--save-model"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]

    run = json.loads((logdir / "run.json").read_text())
    metrics = json.loads((logdir / "metrics.json").read_text())["history"]
    assert run["world_size"] == 2
    assert metrics[-1]["step"] == 2 * 8  # 500 examples -> 250 per rank -> 8 batches of 32
    # the reduced test accuracy is that of the whole test set, as one process measures it
    model = load_model(logdir / "model.pt")
    assert metrics[-1]["test/accuracy"] == pytest.approx(
        evaluate(model, *tensors.test)["accuracy"])
    assert len(list(logdir.glob("events.out.tfevents.*"))) == 1  # rank 0 alone writes
    assert done.stdout.count("epoch 2, train loss") == 1
