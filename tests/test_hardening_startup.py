"""Ctrl-C at any moment of start-up is one line, "backproplab: interrupted", and exit 130.

Each case runs the real entry point (the console script, or `python -m backproplab`) in a child
process whose prelude stops it at one moment of start-up: a profile hook waits (sleeping) at a
named function's call or return, or a module's first line, and touches a file to say it is
there; the test then sends SIGINT, as Ctrl-C would. A second test sends SIGINT after a range of
delays counted from the moment backproplab's cli module has loaded, with no pause injected.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "backproplab"  # the console script pip installed

# The child's prelude: stop at POINT (file suffix, function name, "call" or "return"), touch
# READY, sleep; then run the entry point as Python itself would.
PRELUDE = r"""
import os, sys, time
suffix, name, event = os.environ.get("POINT", "||").split("|")
ready, pause = os.environ["READY"], float(os.environ["PAUSE"])

def hook(frame, ev, arg):
    code = frame.f_code
    if ev == event and code.co_name == name and code.co_filename.endswith(suffix):
        sys.setprofile(None)
        open(ready, "w").close()
        time.sleep(pause)

class Swallow:
    # a finder that, asked for the module SWALLOW, waits there and swallows any exception, as a
    # C extension that clears errors while it loads would (then the import goes on as usual)
    def find_spec(self, fullname, path=None, target=None):
        if fullname == os.environ.get("SWALLOW"):
            sys.meta_path.remove(self)
            open(ready, "w").close()
            try:
                time.sleep(pause)
            except BaseException:
                pass
        return None

if os.environ.get("SWALLOW"):
    sys.meta_path.insert(0, Swallow())
else:
    sys.setprofile(hook)
entry, *argv = sys.argv[1:]
import runpy
if entry == "-m":
    sys.argv = ["backproplab", *argv]
    runpy.run_module("backproplab", run_name="__main__", alter_sys=True)
else:
    sys.argv = [entry, *argv]
    runpy.run_path(entry, run_name="__main__")
"""

ENTRIES = {"console script": str(SCRIPT), "python -m backproplab": "-m"}

# moment -> (file suffix, function, event). In the order they happen.
MOMENTS = {
    "cli's own imports": ("argparse.py", "<module>", "call"),
    "main entered": ("backproplab/cli.py", "main", "call"),
    "building the parser": ("backproplab/cli.py", "build_parser", "call"),
    "importing the command's module": ("backproplab/nn/command.py", "<module>", "call"),
    "parsing the arguments": ("argparse.py", "parse_args", "call"),
    "run() starts": ("backproplab/nn/command.py", "run", "call"),
    "NumPy loading inside run()": ("numpy/__init__.py", "<module>", "call"),
}


def start(tmp_path, entry, argv, point=None, pause=30.0, swallow=None):
    env = dict(os.environ, READY=str(tmp_path / "ready"), PAUSE=str(pause), PYTHONUNBUFFERED="1")
    env.update({"POINT": "|".join(point)} if point else {"SWALLOW": swallow})
    env.pop("BACKPROPLAB_DEBUG", None)
    return subprocess.Popen([sys.executable, "-c", PRELUDE, entry, *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)


def wait_ready(proc, ready: Path, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the child ended (rc {proc.returncode}) before the moment: {err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the child never reached the moment")
        time.sleep(0.005)


def interrupt(proc, delay=0.0):
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def assert_one_line(proc, out, err, quiet_stdout=True):
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.splitlines() == ["backproplab: interrupted"], err
    assert proc.returncode == 130, (proc.returncode, err)
    if quiet_stdout:
        assert out == "", out


TRAIN = ["train", "--dims", "2,4,2", "--passes", "20", "--out", "boundary.png"]


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_at_each_moment_of_start_up_is_one_line_and_130(tmp_path, entry, moment):
    if entry == "console script" and not SCRIPT.is_file():
        pytest.skip(f"no console script at {SCRIPT}")
    proc = start(tmp_path, ENTRIES[entry], TRAIN, MOMENTS[moment])
    wait_ready(proc, tmp_path / "ready")
    out, err = interrupt(proc)
    assert_one_line(proc, out, err)
    assert not (tmp_path / "boundary.png").exists()


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_ctrl_c_once_the_command_has_finished_leaves_its_status_and_no_traceback(tmp_path, entry):
    if entry == "console script" and not SCRIPT.is_file():
        pytest.skip(f"no console script at {SCRIPT}")
    proc = start(tmp_path, ENTRIES[entry], TRAIN, ("backproplab/cli.py", "main", "return"),
                 pause=2.0)
    wait_ready(proc, tmp_path / "ready")
    out, err = interrupt(proc)
    assert proc.returncode == 0 and err == "", (proc.returncode, err)
    assert (tmp_path / "boundary.png").is_file() and "test accuracy" in out


SWALLOWED = {"numpy": TRAIN}
if importlib.util.find_spec("torch") is not None:
    SWALLOWED["torch"] = ["train-cnn", "--dataset", "mnist-subset", "--epochs", "1",
                          "--dry-run", "--logdir", "runs"]


@pytest.mark.parametrize("module", list(SWALLOWED))
def test_ctrl_c_in_an_import_that_swallows_it_still_ends_the_process(tmp_path, module):
    """Seen in train-cnn's start-up while PyTorch loaded: the interrupt was lost and the run
    trained to the end (exit 0), or it failed later with a RecursionError traceback."""
    proc = start(tmp_path, "-m", SWALLOWED[module], swallow=module)
    wait_ready(proc, tmp_path / "ready")
    out, err = interrupt(proc)
    assert_one_line(proc, out, err)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_ctrl_c_while_pytorch_loads_inside_run_is_one_line_and_130(tmp_path):
    argv = ["train-cnn", "--dataset", "mnist-subset", "--epochs", "1", "--dry-run",
            "--logdir", "runs"]
    proc = start(tmp_path, "-m", argv, ("torch/__init__.py", "<module>", "call"))
    wait_ready(proc, tmp_path / "ready")
    out, err = interrupt(proc)
    assert_one_line(proc, out, err)


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
def test_ctrl_c_after_any_delay_from_cli_loaded_is_one_line_and_130(tmp_path, delay):
    """No pause injected: the child is told to go on at once once cli has loaded, and SIGINT
    comes `delay` seconds later, wherever start-up (or the work) then is."""
    argv = ["train", "--dims", "2,64,64,2", "--passes", "200000", "--out", "boundary.png"]
    proc = start(tmp_path, "-m", argv, ("backproplab/cli.py", "<module>", "return"), pause=0)
    wait_ready(proc, tmp_path / "ready")
    out, err = interrupt(proc, delay)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.splitlines()[-1:] == ["backproplab: interrupted"], err
    assert err.count("interrupted") == 1 and proc.returncode == 130, (proc.returncode, err)
