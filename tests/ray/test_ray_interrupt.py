"""Ctrl-C during a study on Ray: the outstanding tasks are cancelled, the Ray instance the command
started is stopped, the finished settings are kept, and the same command resumes from them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STUDY = ["study", "--dims", "2,3,2", "--vary", "width=1,2,3,4,5,6,7,8,9,10", "--seeds", "2",
         "--passes", "20000", "--backend", "ray"]


def _ray_daemons() -> set[int]:
    """pids of the Ray instance processes (GCS, raylet) running on this machine."""
    pids = set()
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if proc.name.isdigit() and (b"gcs_server" in cmd or b"/raylet" in cmd):
            pids.add(int(proc.name))
    return pids


def _until(condition, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(step)
    return False


@pytest.mark.xfail(strict=False, reason="open: 1 run in 4 Ray's core aborted in the driver while "
                   "the outstanding tasks were force-cancelled ('Tried to complete task that was "
                   "not pending', task_manager.cc, exit 1, Ray's C++ stack on stderr)")
def test_ctrl_c_cancels_the_tasks_stops_ray_keeps_the_finished_settings(tmp_path):
    out = tmp_path / "study"
    argv = [sys.executable, "-m", "backproplab", *STUDY, "--out", str(out)]
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    before = _ray_daemons()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        settings = out / "settings"
        assert _until(lambda: settings.is_dir() and any(settings.glob("*.json")), 240), \
            proc.stderr.read() if proc.poll() is not None else "no setting finished"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err, err
    kept = {p.name: p.read_bytes() for p in (out / "settings").glob("*.json")}
    assert 1 <= len(kept) < 10
    assert _until(lambda: not (_ray_daemons() - before), 30), "the Ray instance was left running"

    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    finished = {p.name: p.read_bytes() for p in (out / "settings").glob("*.json")}
    assert len(finished) == 10
    assert all(finished[name] == data for name, data in kept.items())  # resumed, not retrained
