"""Issue 13 §3: bad input refused up front, in one line, by the mechanism that owns it.

One test per mechanism, parametrised over its cases: the `--dims` parser, networks without a
hidden layer, gradcheck's threshold, memory bounds before allocation, the Python API's input
checks, and a CNN run whose loss becomes NaN."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from clirun import cli, refused

from backproplab import config
from backproplab.checks import MEMORY_LIMIT, memory_estimate
from backproplab.nn.batched import BatchedNetwork
from backproplab.nn.gradcheck import gradcheck
from backproplab.nn.network import DeepNeuralNetwork, NeuralNetwork

MNIST = Path(__file__).resolve().parent / "fixtures" / "mnist"


# 1. --dims: empty lists and empty items are refused, never skipped or defaulted.
@pytest.mark.parametrize("text,why", [
    ("", "an empty list"), (" ", "an empty list"), (",", "an empty item"),
    (",,", "an empty item"), ("2,,,,3,,2", "an empty item"), ("2,3,2,", "an empty item"),
    (",2,3,2", "an empty item"), ("2, ,2", "an empty item"),
])
def test_int_list_refuses_empty_lists_and_items(text, why, capsys, tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match=why) as exc:
        config.int_list(text)
    assert repr(text) in str(exc.value)
    for command in (["train", "--out", tmp_path / "b.png"], ["gradcheck"],
                    ["study", "--vary", "activation=tanh", "--out", tmp_path / "s"]):
        assert repr(text) in refused(capsys, tmp_path, *command, f"--dims={text}")


def test_int_list_still_parses_good_lists():
    assert config.int_list("2,3,2") == [2, 3, 2]
    assert config.int_list(" 2, 3 ,2 ") == [2, 3, 2]


def _out(command, tmp_path) -> list:
    """The --out a command writes to (a figure for train, a folder for study; gradcheck none)."""
    if command == "gradcheck":
        return []
    return ["--out", tmp_path / ("b.png" if command == "train" else "s")]


# 2. A network without hidden layers is refused everywhere, with the same message.
@pytest.mark.parametrize("argv", [
    ["train", "--dims", "2,2"],
    ["train", "--dataset", "blobs", "--dims", "2,4"],
    ["gradcheck", "--dims", "2,2"],
    ["gradcheck", "--dims", "5,3"],
    ["study", "--dims", "2,2", "--vary", "activation=tanh,relu"],
    ["study", "--vary", "dims=2-2,2-3-2"],
])
def test_networks_without_a_hidden_layer_are_refused_everywhere(argv, capsys, tmp_path):
    err = refused(capsys, tmp_path, *argv, *_out(argv[0], tmp_path))
    assert "has no hidden layer" in err


@pytest.mark.parametrize("make", [
    lambda: DeepNeuralNetwork([2, 2]),
    lambda: BatchedNetwork([2, 2], seeds=[0, 1]),
])
def test_the_api_refuses_networks_without_a_hidden_layer(make):
    with pytest.raises(ValueError, match="has no hidden layer"):
        make()


# 3. gradcheck --threshold: a finite number >= 0.
@pytest.mark.parametrize("value,message", [
    ("nan", "--threshold=nan must be a finite number"),
    ("inf", "--threshold=inf must be a finite number"),
    ("-1", "--threshold=-1.0 must be >= 0"),
    ("-inf", "--threshold=-inf must be a finite number"),
])
def test_gradcheck_refuses_a_bad_threshold(value, message, capsys, tmp_path):
    assert message in refused(capsys, tmp_path, "gradcheck", f"--threshold={value}")


# 4. Memory: sizes beyond the bound are refused before any allocation, with the estimate.
@pytest.mark.parametrize("argv", [
    ["train", "--dims", "2,1000000000,2"],
    ["train", "--dims", "2,100000,100000,2"],
    ["train", "--samples", "1000000000"],
    ["gradcheck", "--dims", "2,1000000000,3"],
    ["gradcheck", "--samples", "1000000000"],
    ["study", "--dims", "2,1000000000,2", "--vary", "activation=tanh"],
    ["study", "--vary", "width=3,1000000000"],
])
def test_sizes_beyond_memory_are_refused_with_the_estimate(argv, capsys, tmp_path):
    err = refused(capsys, tmp_path, *argv, *_out(argv[0], tmp_path))
    assert "GiB of float64 arrays needed" in err and "GiB allowed" in err


@pytest.mark.parametrize("make", [
    lambda: DeepNeuralNetwork([2, 10**9, 2]),
    lambda: NeuralNetwork(2, 10**9, 2),
    lambda: BatchedNetwork([2, 10**7, 2], seeds=list(range(100))),
])
def test_the_api_refuses_networks_beyond_memory(make):
    with pytest.raises(ValueError, match="GiB of float64 arrays needed"):
        make()


def test_the_memory_estimate_allows_the_largest_presets():
    assert memory_estimate([2, 3, 2], 1200 + 200 * 200) < 2**23
    assert memory_estimate([784, 1000, 1000, 10], 60000) < MEMORY_LIMIT


# 5. The Python API's input checks.
X2, Y2 = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1])
EMPTY = np.zeros((0, 2))


@pytest.mark.parametrize("call,message", [
    (lambda n: n.fit_model(EMPTY, [], print_loss=False), "X has no rows"),
    (lambda n: n.fit_model(X2, Y2, print_loss=False, X_val=EMPTY, y_val=[]), "X has no rows"),
    (lambda n: n.fit_model(X2 + 1j, Y2, print_loss=False), "X is complex"),
    (lambda n: n.predict(X2 + 0j), "X is complex"),
    (lambda n: n.fit_model(X2, np.array([0, 2**63], dtype=np.uint64), print_loss=False),
     "label 9223372036854775808 in y is outside"),
    (lambda n: n.calculate_loss(X2, [0, 2**63]), "in y is outside"),
    (lambda n: n.feedforward([[np.nan, 0.0]]), "NaN or infinite"),
    (lambda n: n.feedforward([[np.inf, 0.0]]), "NaN or infinite"),
    (lambda n: n.feedforward(np.zeros((2, 3))), "3 columns"),
    (lambda n: n.predict([[np.nan, 0.0]]), "NaN or infinite"),
    (lambda n: n.calculate_loss(EMPTY, []), "X has no rows"),
    (lambda n: n.accuracy(EMPTY, []), "X has no rows"),
    (lambda n: gradcheck(n, EMPTY, []), "X has no rows"),
    (lambda n: gradcheck(n, X2, Y2, h=0), "h=0 must be > 0"),
    (lambda n: gradcheck(n, X2, Y2, h=float("nan")), "h=nan must be a finite number"),
    (lambda n: n.visualize_decision_boundary(X2, [0, 2]), "label 2 in y is outside"),
    (lambda n: n.visualize_decision_boundary(X2, [-1, 0]), "label -1 in y is outside"),
])
@pytest.mark.parametrize("net", [NeuralNetwork, DeepNeuralNetwork], ids=["3-layer", "deep"])
def test_the_python_api_refuses_bad_input(net, call, message):
    with pytest.raises(ValueError, match=message):
        call(net())


def test_feedforward_on_good_input_is_unchanged():
    X = np.random.RandomState(0).randn(5, 2)
    deep, shallow = DeepNeuralNetwork(), NeuralNetwork()
    np.testing.assert_array_equal(deep.feedforward(X), shallow.feedforward(X))
    np.testing.assert_array_equal(deep.feedforward(X.tolist()), deep.predict_proba(X))


def test_batched_network_refuses_an_empty_loss():
    with pytest.raises(ValueError, match="X has no rows"):
        BatchedNetwork([2, 3, 2], seeds=[0, 1]).calculate_loss(EMPTY, [])


# 6. A CNN run whose loss becomes NaN stops, naming the step and the setting; exit 2.
@pytest.mark.parametrize("extra,message", [
    (["--lr", "1e308"], "--lr 1e+308"),
    (["--optimizer", "adam", "--lr", "1e308"], "--lr 1e+308"),
])
def test_a_cnn_run_whose_loss_diverges_stops(extra, message, capsys, tmp_path):
    pytest.importorskip("torch")
    code, out, err = cli(capsys, "train-cnn", "--data-dir", MNIST, "--logdir",
                             tmp_path / "r", "--epochs", 2, "--batch-size", 50, "--device",
                             "cpu", "--threads", 1, *extra)
    assert code == 2, (out, err)
    last = err.strip().splitlines()[-1]  # after the progress line, if any
    assert last.startswith("backproplab train-cnn: error: training diverged at step"), err
    assert message in last and "Traceback" not in err, err
    assert "test loss nan" not in out


@pytest.mark.parametrize("value", ["inf", "nan", "-1"])
def test_cnn_weight_decay_must_be_finite_and_non_negative(value, capsys, tmp_path):
    pytest.importorskip("torch")
    err = refused(capsys, tmp_path, "train-cnn", "--data-dir", MNIST, "--logdir",
                  tmp_path / "r", "--device", "cpu", "--weight-decay", value)
    assert "--weight-decay must be a finite number >= 0" in err
