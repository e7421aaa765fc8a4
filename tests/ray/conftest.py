"""Fixtures of the Ray tests: Ray on 127.0.0.1 only, the studies and runs compared with the local
backend's, and the worker processes of a Ray instance (to kill one).

RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is set before Ray is imported (Ray reads it then): every
Ray process these tests start listens on 127.0.0.1. Each test file starts one Ray instance or
cluster for all its tests and stops it at its end.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray")

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mnist"


def pytest_collection_modifyitems(items):
    for item in items:  # Ray starts in seconds: `-m "not slow"` leaves these out
        if Path(__file__).parent in item.path.parents:
            item.add_marker(pytest.mark.slow)


def _without_timings(rows):
    return [{k: v for k, v in r.items() if k not in ("seconds", "seconds_mean", "seconds_std")}
            for r in rows]


def study_numbers(folder) -> dict:
    """Every number a study wrote (its tables and settings/NN.json), timings aside."""
    folder = Path(folder)
    out = {name: _without_timings(csv.DictReader(open(folder / name)))
           for name in ("results.csv", "summary.csv", "diagnostics.csv")}
    for path in sorted((folder / "settings").glob("*.json")):
        setting = json.loads(path.read_text())
        setting.pop("seconds")
        out[path.name] = setting
    return out


def file_names(folder) -> list[str]:
    """The files under `folder` (a TensorBoard event file's name holds its time and pid: only
    its folder counts)."""
    folder = Path(folder)
    return sorted(str(p.relative_to(folder)).split("events.out.tfevents.")[0]
                  for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def ray_workers(task_prefix: str = "ray::backproplab") -> list[int]:
    """The pids of Ray's worker processes running one of our tasks (Ray names the process
    after the task it runs)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(
                    task_prefix.encode()):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.fixture
def fixture_dir() -> Path:
    return FIXTURE
