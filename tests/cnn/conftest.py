"""Fixtures of the CNN tests: the committed 500/200 MNIST fixture, copies to corrupt, small runs.

tests/cnn has no __init__.py: pytest imports these files by path (rootdir-relative), so they
need no package; the helpers shared by several files are fixtures here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mnist"


def pytest_collection_modifyitems(items):
    for item in items:  # every test here needs PyTorch: `-m "not cnn"` leaves them out
        if FIXTURE.parents[1] / "cnn" in item.path.parents:
            item.add_marker(pytest.mark.cnn)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test sees the user's data, cache or network: sources are only what a test sets.

    One PyTorch thread (and OMP_NUM_THREADS=1 for subprocesses): the fixture's tiny batches
    gain nothing from more, and on a machine shared with other jobs OpenMP's spin-waiting
    threads make steps many times slower.
    """
    monkeypatch.delenv("BACKPROPLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fixture_dir() -> Path:
    """The committed fixture (read-only use)."""
    return FIXTURE


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of the fixture, to corrupt."""
    dst = tmp_path / "mnist"
    shutil.copytree(FIXTURE, dst)
    return dst


@pytest.fixture
def tensors(fixture_dir):
    """The fixture as tensors, loaded once per test."""
    from backproplab.cnn.config import DataConfig
    from backproplab.cnn.data import load_tensors

    return load_tensors(DataConfig(data_dir=str(fixture_dir)))


@pytest.fixture
def small_run(tmp_path, fixture_dir):
    """Train on the fixture into tmp_path/NAME with a small config; returns train()'s result."""
    from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
    from backproplab.cnn.train import train

    def run(name="run", data=None, monitor_every=4, on_step=None, data_config=None, **fields):
        fields.setdefault("epochs", 2)
        fields.setdefault("batch_size", 32)
        config = TrainConfig(logdir=str(tmp_path / name), device="cpu", **fields)
        return train(config, data_config or DataConfig(data_dir=str(fixture_dir)),
                     MonitorConfig(monitor_every=monitor_every), data=data, progress=False,
                     on_step=on_step)
    return run
