"""The monitor tests run PyTorch on one thread: the tiny batches gain nothing from more, and
OpenMP's spin-waiting threads slow a machine shared with other jobs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

