"""The Ray backend on a Ray instance of this machine (two CPUs, 127.0.0.1): a study and the CNN
comparison write what the local backend writes, a killed worker's stack is trained again, a
task that keeps failing is named while the others finish."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import pytest
from conftest import file_names, ray, ray_workers, study_numbers

from backproplab.backends import RETRIES, LocalBackend, RayBackend, Task
from backproplab.studies import StudySpec, run_study

SPEC = StudySpec("tiny", "moons", (2, 3, 2), vary={"width": [2, 3], "activation": ["tanh",
                                                                                   "relu"]})


@pytest.fixture(scope="module")
def backend():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the tasks defined here
    try:
        yield RayBackend()  # the connection above, as it is
    finally:
        ray.shutdown()


def test_a_study_on_ray_writes_the_local_backends_files_and_numbers(backend, tmp_path):
    run_study(SPEC, tmp_path / "local", seeds=2, passes=200, jobs=2, progress=False, log=None)
    run_study(SPEC, tmp_path / "ray", seeds=2, passes=200, progress=False, log=None,
              backend=backend)
    assert file_names(tmp_path / "ray") == file_names(tmp_path / "local")
    assert study_numbers(tmp_path / "ray") == study_numbers(tmp_path / "local")
    meta = json.loads((tmp_path / "ray" / "study.json").read_text())
    assert meta["backend"] == {"name": "ray", "address": "a Ray instance started here",
                               "nodes": 1, "cpus": 2, "gpus": 0}
    assert {t["ip"] for t in meta["tasks"]} == {"127.0.0.1"}
    assert sorted(i for t in meta["tasks"] for i in t["settings"]) == [0, 1, 2, 3]


def test_a_killed_worker_is_replaced_and_the_study_completes_with_the_same_numbers(
        backend, tmp_path):
    spec = StudySpec("kill", "moons", (2, 3, 2), vary={"width": [2, 3, 4, 5]})
    kw = {"seeds": 2, "passes": 3000, "progress": False, "log": None}
    run_study(spec, tmp_path / "local", jobs=1, **kw)
    killed = []

    def kill_one():  # the first of our tasks seen running
        deadline = time.time() + 60
        while not killed and time.time() < deadline:
            for pid in ray_workers()[:1]:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one)
    killer.start()
    run_study(spec, tmp_path / "ray", backend=backend, **kw)
    killer.join()
    assert killed, "no task of the study was seen running"
    assert study_numbers(tmp_path / "ray") == study_numbers(tmp_path / "local")
    ran = json.loads((tmp_path / "ray" / "study.json").read_text())["tasks"]
    assert killed[0] not in {t["pid"] for t in ran}  # its stack finished in another worker


def square(x, report=None):
    return x * x


def dies(report=None):
    os._exit(9)


def test_a_task_that_keeps_failing_is_named_while_the_others_finish(backend):
    tasks = [Task("dies", dies)] + [Task(f"t{i}", square, (i,), work=2) for i in range(3)]
    work = []
    outcomes = {o.task.name: o for o in backend.map(tasks, progress=work.append)}
    assert outcomes["dies"].error.startswith(f"failed {RETRIES + 1} times: WorkerCrashedError")
    assert [outcomes[f"t{i}"].value for i in range(3)] == [0, 1, 4] and sum(work) == 6


def test_the_cnn_comparison_on_ray_writes_the_local_backends_runs(backend, tmp_path,
                                                                  fixture_dir):
    torch = pytest.importorskip("torch")
    from backproplab.cnn.compare import run_comparison
    from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
    from backproplab.data import locate

    def compare(out, backend):
        return run_comparison(out, 1, TrainConfig(epochs=1, batch_size=250, device="cpu",
                                                  threads=1),
                              DataConfig(), MonitorConfig(monitor_every=1),
                              source=locate("mnist", fixture_dir), progress=False,
                              backend=backend)

    local = compare(tmp_path / "local", LocalBackend(1))
    on_ray = compare(tmp_path / "ray", backend)
    assert file_names(tmp_path / "ray") == file_names(tmp_path / "local")
    for a, b in zip(local.table, on_ray.table):
        assert (a.setting, a.accuracy_mean, a.loss_mean) == (b.setting, b.accuracy_mean,
                                                             b.loss_mean)
    assert on_ray.curves == local.curves
    for name, paths in local.stats_csv.items():
        assert [p.read_bytes() for p in paths] == [
            p.read_bytes() for p in on_ray.stats_csv[name]]
        weights = [torch.load(p.parent / "checkpoint.pt", weights_only=True)["model"]
                   for p in (paths[0], on_ray.stats_csv[name][0])]
        assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_ray_imported_before_the_loopback_setting_is_refused_rather_than_bound_wide():
    """Ray decides where to listen when it is imported: imported first, without
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, it would bind the machine's network address, so the
    backend refuses to start an instance (and starts nothing)."""
    import subprocess

    code = ("import ray\nfrom backproplab.backends.ray import RayBackend\n"
            "from backproplab.errors import BackproplabError\n"
            "try:\n    RayBackend()\nexcept BackproplabError as exc:\n    print(exc)\n"
            "else:\n    ray.shutdown()\n")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert "Ray was imported before RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0" in done.stdout, \
        done.stdout + done.stderr
