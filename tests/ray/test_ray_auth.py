"""A Ray instance that wants Ray's authentication token (what `ray.init()` and `ray start` make
once a token exists; every process on 127.0.0.1): without RAY_AUTH_MODE=token the command is
one line and exit status 2 at once (Ray itself would retry for ever); with the token it runs."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import pytest

HOLD = """
import logging, sys
import ray
ctx = ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False,
               logging_level=logging.WARNING)
print(ctx.address_info["gcs_address"], flush=True)
sys.stdin.read()
ray.shutdown()
"""

STUDY = ["study", "--vary", "width=2,3", "--seeds", "1", "--passes", "200", "--backend", "ray"]


@pytest.fixture(scope="module")
def token_instance():
    """(GCS address, token) of a Ray instance with token authentication, held open by a
    process of its own."""
    token = secrets.token_hex(32)
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": token}
    holder = subprocess.Popen([sys.executable, "-c", HOLD], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = holder.stdout.readline().strip()
        assert address.startswith("127.0.0.1:"), address
        yield address, token
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


def _backproplab(*args, env):
    base = {k: v for k, v in os.environ.items()
            if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
    return subprocess.run([sys.executable, "-m", "backproplab", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env={**base, **env})


def test_without_the_token_the_address_is_one_line_and_exit_status_2(token_instance,
                                                                     tmp_path):
    address, _ = token_instance
    start = time.monotonic()
    done = _backproplab(*STUDY, "--address", address, "--out", tmp_path / "x", env={})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0 and "RAY_AUTH_MODE=token" in done.stderr
    assert time.monotonic() - start < 60
    assert not (tmp_path / "x").exists()


def test_with_the_token_the_study_runs_there(token_instance, tmp_path):
    address, token = token_instance
    done = _backproplab(*STUDY, "--address", address, "--out", tmp_path / "ok",
                        env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ok" / "summary.csv").exists()
