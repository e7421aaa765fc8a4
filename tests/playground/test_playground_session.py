"""A session trains on the engine, pass by pass, and its numbers are the engine's."""

import base64
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from backproplab.datasets import load_dataset
from backproplab.nn.network import DeepNeuralNetwork


def at_pass(tab, n):
    return tab.wait_for("frame", where=lambda m: m["pass"] == n)


def test_a_new_session_shows_the_problem_sets_data_and_network_at_pass_0(tab):
    tab.send(type="reset")
    data = tab.wait_for("data")
    assert data["n_classes"] == 2 and data["config"]["network"]["hidden"] == [3]
    X = np.frombuffer(base64.b64decode(data["train"]["X"]), dtype=np.float32).reshape(-1, 2)
    assert np.allclose(X, load_dataset("moons")[0])  # the problem set's 200 moons
    first = tab.wait_for("frame")
    assert first["pass"] == 0 and len(first["weights"]) == 2


def test_steps_give_the_numbers_of_fit_model(tab):
    tab.send(type="step", passes=250)
    frame = at_pass(tab, 250)
    X, y = load_dataset("moons")
    net = DeepNeuralNetwork([2, 3, 2], "tanh", 0.01, seed=0).fit_model(X, y, 0.01, 250,
                                                                       print_loss=False)
    assert frame["train_loss"] == net.calculate_loss(X, y)
    assert frame["train_accuracy"] == net.accuracy(X, y)


def test_play_streams_frames_until_pause(tab):
    tab.send(type="play")
    frames = [tab.wait_for("frame") for _ in range(5)]
    assert frames[-1]["playing"] and frames[-1]["pass"] > frames[0]["pass"]
    tab.send(type="pause")
    last = tab.wait_for("frame", where=lambda m: not m["playing"])
    tab.send(type="explain")
    assert tab.wait_for("explain")["pass"] == last["pass"]  # nothing trained after the pause


def test_mini_batches_and_momentum_survive_pauses(tab, config):
    """Play/pause/step in pieces gives the numbers of one uninterrupted fit_model run: the
    optimiser's velocity and the mini-batch order live across pauses."""
    tab.send(type="config", **config(batch_size=32, momentum=0.9, hidden=[5, 4]))
    tab.wait_for("frame")
    for n in (7, 50, 1):
        tab.send(type="step", passes=n)
        frame = at_pass(tab, {7: 7, 50: 57, 1: 58}[n])
    X, y = load_dataset("moons")
    net = DeepNeuralNetwork([2, 5, 4, 2], "tanh", 0.01, seed=0)
    net.fit_model(X, y, 0.01, 58, print_loss=False, batch_size=32, momentum=0.9)
    assert frame["train_loss"] == net.calculate_loss(X, y)


def test_a_config_with_a_pass_reproduces_another_sessions_numbers(tab, config, open_tab):
    """What a shared URL does: the settings and the pass give the same numbers."""
    settings = config(hidden=[4, 4], activation="relu", seed=3)
    settings["data"].update(source="spiral", noise=0.1, seed=2)
    tab.send(type="config", **settings)
    tab.wait_for("frame")
    tab.send(type="play")
    tab.wait_for("frame", where=lambda m: m["pass"] > 300)
    tab.send(type="pause")
    paused = tab.wait_for("frame", where=lambda m: not m["playing"])
    other = open_tab()
    other.send(type="config", **settings, **{"pass": paused["pass"]})
    again = at_pass(other, paused["pass"])
    for key in ("train_loss", "heldout_loss", "train_accuracy", "heldout_accuracy", "weights"):
        assert again[key] == paused[key]


def test_explain_shows_every_layer_with_shapes_and_a_passing_gradient_check(tab, config):
    tab.send(type="config", **config(hidden=[4, 3]))
    tab.wait_for("frame")
    tab.send(type="explain")
    m = tab.wait_for("explain")
    assert [layer["layer"] for layer in m["layers"]] == [0, 1, 2]
    shapes = {k: v["shape"] for k, v in m["layers"][1]["arrays"].items()}
    assert shapes == {"z[1]": [200, 3], "a[2]": [200, 3], "delta[1]": [200, 3],
                      "dW[1]": [4, 3], "db[1]": [3], "W[1]": [4, 3], "update W[1]": [4, 3],
                      "update b[1]": [3]}
    assert m["layers"][0]["arrays"]["z[0]"]["truncated"]  # 200 rows: the page shows 6
    assert len(m["layers"][0]["arrays"]["z[0]"]["values"]) == 6
    assert m["gradcheck_max"] < 1e-6 and m["gradcheck_examples"] == 200
    arrays = np.load(io.BytesIO(base64.b64decode(m["npz"])))
    # delta is dL/dz: summed over the examples it is db, and a^T delta + lambda W is dW
    assert np.allclose(arrays["delta[1]"].sum(axis=0), arrays["db[1]"])
    assert np.allclose(arrays["update W[2]"], -0.01 * arrays["dW[2]"])


def test_explain_with_mini_batches_shows_the_step_the_engine_takes_next(tab, config):
    """With batches of 32 and momentum, the explained update is exactly the change the next
    step makes to the weights: the batch is the engine's own next one."""
    tab.send(type="config", **config(batch_size=32, momentum=0.9, hidden=[4]))
    tab.wait_for("frame")
    tab.send(type="step", passes=9)
    at_pass(tab, 9)
    tab.send(type="explain")
    m = tab.wait_for("explain")
    assert m["n"] == 32 and m["layers"][0]["arrays"]["z[0]"]["shape"] == [32, 4]
    arrays = np.load(io.BytesIO(base64.b64decode(m["npz"])))
    X, y = load_dataset("moons")
    net = DeepNeuralNetwork([2, 4, 2], "tanh", 0.01, seed=0)
    net.fit_model(X, y, 0.01, 9, print_loss=False, batch_size=32, momentum=0.9)
    assert np.array_equal(arrays["W[1]"], net.W[1])
    before = net.W[1].copy()
    again = DeepNeuralNetwork([2, 4, 2], "tanh", 0.01, seed=0)
    again.fit_model(X, y, 0.01, 10, print_loss=False, batch_size=32, momentum=0.9)
    assert np.allclose(arrays["update W[1]"], again.W[1] - before, rtol=1e-12, atol=1e-15)


def test_train_seeds_uses_the_batched_engine_and_matches_the_live_network(tab):
    tab.send(type="step", passes=300)
    live = at_pass(tab, 300)
    tab.send(type="seeds", count=5)
    m = tab.wait_for("seeds")
    assert m["seeds"] == [0, 1, 2, 3, 4] and m["passes"] == 300
    assert m["heldout_accuracy"][0] == live["heldout_accuracy"]  # seed 0 is the live network
    assert m["heldout_mean"] == pytest.approx(np.mean(m["heldout_accuracy"]))


def test_train_seeds_with_mini_batches_is_refused_with_the_reason(tab, config):
    tab.send(type="config", **config(batch_size=16))
    tab.wait_for("frame")
    tab.send(type="seeds", count=3)
    assert "full-batch" in tab.wait_for("error")["message"]


def test_the_exported_snippet_reproduces_the_run(tab, tmp_path, config):
    tab.send(type="config", **config(hidden=[5], momentum=0.5, batch_size=50))
    tab.wait_for("frame")
    tab.send(type="step", passes=123)
    frame = at_pass(tab, 123)
    tab.send(type="export")
    m = tab.wait_for("export")
    description = json.loads(m["json"])
    assert description["nn_layer_dims"] == [2, 5, 2] and description["passes"] == 123
    (tmp_path / "playground-model.npz").write_bytes(base64.b64decode(m["npz"]))
    (tmp_path / "run.py").write_text(m["snippet"])
    out = subprocess.run([sys.executable, "run.py"], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout
    assert f"training loss {frame['train_loss']}" in out
    model = np.load(tmp_path / "playground-model.npz")
    assert model["W0"].shape == (2, 5) and model["X_train"].shape == (200, 2)


def test_an_uploaded_csv_becomes_the_training_data(tab):
    rows = "x1,x2,label\n" + "\n".join(f"{x},{x * x},{int(x > 0)}" for x in range(-5, 6))
    tab.send(type="csv", text=rows)
    data = tab.wait_for("data")
    assert data["config"]["data"]["source"] == "custom" and data["n_classes"] == 2
    tab.send(type="step", passes=10)
    assert at_pass(tab, 10)["train_loss"] > 0


def test_a_clicked_point_joins_the_training_set(tab):
    tab.send(type="add_point", x1=0.5, x2=2.5, label=1)
    data = tab.wait_for("data")
    y = np.frombuffer(base64.b64decode(data["train"]["y"]), dtype=np.uint8)
    assert len(y) == 201 and y[-1] == 1


def test_a_point_of_a_class_the_dataset_lacks_is_refused_and_the_session_goes_on(tab):
    tab.send(type="add_point", x1=0.5, x2=2.5, label=3)
    assert "classes 0 to 1" in tab.wait_for("error")["message"]
    tab.send(type="step", passes=2)
    assert at_pass(tab, 2)["pass"] == 2


def test_a_diverging_run_pauses_with_the_learning_rate_and_the_pass(tab, config):
    tab.send(type="config", **config(epsilon=10.0, hidden=[32, 32], activation="identity",
                                     reg_lambda=0))
    tab.wait_for("frame")
    tab.send(type="play")
    m = tab.wait_for("diverged")
    assert "diverged at pass" in m["message"] and "epsilon=10.0" in m["message"]
    tab.send(type="play")
    assert "Press Reset" in tab.wait_for("error")["message"]
    tab.send(type="reset")
    assert tab.wait_for("frame")["pass"] == 0


def test_closing_the_tab_stops_its_training_thread(open_tab):
    tab = open_tab()
    tab.send(type="play")
    tab.wait_for("frame", where=lambda m: m["pass"] > 0)
    tab.close()
    assert not tab.session.thread.is_alive()


def test_a_frame_has_every_live_view(tab, config):
    tab.send(type="config", **config(hidden=[4, 2], activation="relu"))
    frame = tab.wait_for("frame")
    assert len(frame["units"]["layers"]) == 2 and len(frame["units"]["layers"][0]["scale"]) == 4
    size = frame["grid"]["size"]
    assert len(base64.b64decode(frame["grid"]["classes"])) == size * size
    assert np.array(frame["confusion"]["heldout"]).sum() == 200
    assert len(frame["grad_norm"]) == 3 and all(math.isfinite(g) for g in frame["grad_norm"])
    assert len(frame["dead"]) == 2 and len(frame["dead"][1]) == 2
