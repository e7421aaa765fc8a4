"""Shared helpers for the study tests: a tiny custom study and the CLI run in-process."""

import hashlib
from pathlib import Path

import clirun
import pytest

from backproplab.studies import StudySpec


@pytest.fixture
def tiny():
    """Seeds and passes that keep a study to a fraction of a second."""
    return {"seeds": 2, "passes": 40}


@pytest.fixture
def tiny_spec():
    """Two settings of a small moons network: quick to train, enough to resume half-way."""
    return StudySpec("tiny", "moons", (2, 3, 2), vary={"activation": ["tanh", "relu"]})


@pytest.fixture
def cli(capsys):
    """Run `backproplab ARGS...` in this process: (exit status, stdout, stderr)."""
    return lambda *argv: clirun.cli(capsys, *argv)


@pytest.fixture
def snapshot():
    """snapshot(folder): every file under it with a hash of its bytes, to prove nothing changed."""
    def take(folder) -> dict:
        return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(Path(folder).rglob("*")) if p.is_file()}
    return take
