"""A real two-node Ray cluster on this machine (a head and a second node of one CPU each, every
process on 127.0.0.1): `study --backend ray --address` spreads its stacks over both nodes with
the local backend's numbers; a run of the CNN comparison trained on a machine without the runs
folder comes back file for file; the command line's errors are one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import file_names, study_numbers

from backproplab.studies import StudySpec, run_study

# Stacks long enough (about a second each) that the head node's worker cannot take them all
# before the second node's worker has started: with 0.1 s stacks they sometimes all ran on one.
STUDY = ["--vary", "width=2,3,4,5", "--seeds", "2", "--passes", "12000"]


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    head = Cluster(initialize_head=True, head_node_args={"num_cpus": 1,
                                                         "include_dashboard": False})
    try:
        head.add_node(num_cpus=1)
        head.wait_for_nodes()
        yield head
    finally:
        head.shutdown()


def _backproplab(*args, env=None):
    return subprocess.run([sys.executable, "-m", "backproplab", *map(str, args)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_a_study_spreads_over_both_nodes_with_the_local_numbers(cluster, tmp_path):
    done = _backproplab("study", *STUDY, "--backend", "ray", "--address", cluster.address,
                        "--out", tmp_path / "ray")
    assert done.returncode == 0, done.stderr
    spec = StudySpec("custom", "moons", (2, 3, 2), vary={"width": [2, 3, 4, 5]},
                     title="custom grid on moons")
    run_study(spec, tmp_path / "local", seeds=2, passes=12000, jobs=2, progress=False, log=None)
    assert file_names(tmp_path / "ray") == file_names(tmp_path / "local")
    assert study_numbers(tmp_path / "ray") == study_numbers(tmp_path / "local")
    meta = json.loads((tmp_path / "ray" / "study.json").read_text())
    assert meta["backend"]["nodes"] == 2 and meta["backend"]["cpus"] == 2
    nodes = {n["NodeID"] for n in _nodes(cluster)}
    assert {t["node"] for t in meta["tasks"]} == nodes  # tasks landed on both nodes
    assert {t["ip"] for t in meta["tasks"]} == {"127.0.0.1"}


def _nodes(cluster):
    import ray

    ray.init(address=cluster.address, log_to_driver=False)
    try:
        return [n for n in ray.nodes() if n["Alive"]]
    finally:
        ray.shutdown()


def test_the_cnn_comparison_on_two_nodes_writes_the_local_files(cluster, tmp_path):
    pytest.importorskip("torch")
    fixture = os.path.join(os.path.dirname(__file__), "..", "fixtures", "mnist")
    args = ["compare-cnn", "--data-dir", fixture, "--epochs", "1", "--batch-size", "250",
            "--device", "cpu", "--threads", "1", "--monitor-every", "1"]
    on_ray = _backproplab(*args, "--backend", "ray", "--out", tmp_path / "ray",
                          env={"RAY_ADDRESS": cluster.address})
    assert on_ray.returncode == 0, on_ray.stderr
    local = _backproplab(*args, "--out", tmp_path / "local")
    assert local.returncode == 0, local.stderr
    assert file_names(tmp_path / "ray") == file_names(tmp_path / "local")
    for name in file_names(tmp_path / "local"):
        if name.endswith("stats.csv"):
            assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name
                                                              ).read_bytes()
    rows = [json.loads((tmp_path / d / "comparison.json").read_text())["table"]
            for d in ("ray", "local")]
    assert [(r["accuracy_mean"], r["loss_mean"]) for r in rows[0]] == [
        (r["accuracy_mean"], r["loss_mean"]) for r in rows[1]]


def test_an_unreachable_address_is_one_line_and_exit_status_2(tmp_path):
    done = _backproplab("study", *STUDY, "--backend", "ray", "--address", "127.0.0.1:1",
                        "--out", tmp_path / "x")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--address '127.0.0.1:1'" in done.stderr
    assert not (tmp_path / "x").exists()


def test_without_the_ray_extra_the_backend_is_one_line_naming_it(tmp_path):
    hidden = tmp_path / "no-ray" / "ray"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    done = _backproplab("study", *STUDY, "--backend", "ray", "--out", tmp_path / "x",
                        env={"PYTHONPATH": str(hidden.parent)})
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "pip install 'backproplab[ray]'" in done.stderr
