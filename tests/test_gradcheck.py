"""Backpropagation agrees with central differences for every activation, depth and class count."""

import numpy as np
import pytest

from backproplab import DeepNeuralNetwork, NeuralNetwork, gradcheck
from backproplab.cli import main
from backproplab.nn.activations import ACTIVATIONS
from backproplab.nn.gradcheck import min_abs_net_input


def away_from_kinks(dims, activation, n=12):
    """Random data and weights whose net inputs all lie at least 1e-3 from 0 (ReLU's kink)."""
    for seed in range(100):
        rng = np.random.RandomState(1000 + seed)
        X, y = rng.randn(n, dims[0]), rng.randint(0, dims[-1], n)
        net = DeepNeuralNetwork(dims, activation=activation, seed=seed)
        if min_abs_net_input(net, X) > 1e-3:
            return net, X, y
    raise AssertionError("no kink-free draw")


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("classes", [2, 3, 4])
def test_backpropagation_matches_central_differences(activation, depth, classes):
    dims = [3] + [4] * depth + [classes]
    net, X, y = away_from_kinks(dims, activation)
    errors = gradcheck(net, X, y)
    assert len(errors) == 2 * (depth + 1)
    assert max(errors.values()) < 1e-6, errors


def test_three_layer_network_passes_the_check():
    rng = np.random.RandomState(0)
    X, y = rng.randn(10, 2), rng.randint(0, 2, 10)
    errors = gradcheck(NeuralNetwork(2, 4, 2, activation="sigmoid"), X, y)
    assert set(errors) == {"W1", "b1", "W2", "b2"} and max(errors.values()) < 1e-6


def test_a_wrong_gradient_is_caught():
    class Broken(DeepNeuralNetwork):
        def backward(self, X, y):
            grads = super().backward(X, y)
            grads.dW[0] *= 1.01  # a 1% error in one layer
            return grads

    rng = np.random.RandomState(0)
    errors = gradcheck(Broken([2, 3, 2]), rng.randn(8, 2), rng.randint(0, 2, 8))
    assert errors["W[0]"] > 1e-3 and errors["W[1]"] < 1e-6


def test_cli_reports_every_parameter_and_exits_zero(capsys):
    assert main(["gradcheck", "--dims", "2,5,5,3", "--activation", "sigmoid"]) == 0
    out = capsys.readouterr().out
    for name in ["W[0]", "W[1]", "W[2]", "b[0]", "b[1]", "b[2]"]:
        assert name in out
    assert "ok" in out


def test_cli_exits_nonzero_above_the_threshold(capsys):
    assert main(["gradcheck", "--threshold", "1e-15"]) == 1
    assert "FAILED" in capsys.readouterr().out
