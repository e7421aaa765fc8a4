"""Dead and saturated units and data-gradient norms, on networks set by hand."""

import numpy as np
import pytest

from backproplab.datasets import load_dataset
from backproplab.nn.batched import BatchedNetwork
from backproplab.studies.diagnostics import DiagnosticsSampler, layer_diagnostics


def test_a_relu_unit_with_negative_input_weights_and_bias_is_dead():
    X, y = load_dataset("moons")
    net = BatchedNetwork([2, 3, 2], "relu", 0.01, seeds=[0])
    # Unit 0 gets z = -100 + tiny x-terms < 0 for every moons point: never active.
    net.W[0][0, :, 0] = 0.01
    net.b[0][0, 0, 0] = -100.0
    net.b[0][0, 0, 1:] = 100.0  # units 1, 2 are active everywhere
    d = layer_diagnostics(net, X, y)
    assert d["dead"].shape == (1, 1)
    assert d["dead"][0, 0] == 1 / 3
    assert np.isnan(d["saturated"][0, 0])  # saturation is not defined for ReLU


def test_tanh_units_with_huge_weights_are_saturated_and_small_ones_are_not():
    X, y = load_dataset("moons")
    net = BatchedNetwork([2, 4, 2], "tanh", 0.0, seeds=[0, 1])
    net.W[0][0] *= 1e4  # seed 0: |z| is huge for almost every point, so |tanh| > 0.99
    net.W[0][1] *= 1e-4  # seed 1: |z| tiny, tanh nearly linear
    sat = layer_diagnostics(net, X, y)["saturated"][:, 0]
    assert sat[0] > 0.95 and sat[1] == 0.0


def test_grad_norm_excludes_the_regularisation_term():
    X, y = load_dataset("moons")
    plain = BatchedNetwork([2, 3, 3, 2], "tanh", 0.0, seeds=[5])
    regularised = BatchedNetwork([2, 3, 3, 2], "tanh", 10.0, seeds=[5])
    a, b = layer_diagnostics(plain, X, y), layer_diagnostics(regularised, X, y)
    np.testing.assert_allclose(a["grad_norm"], b["grad_norm"], rtol=1e-9)
    assert np.all(a["reg_grad_norm"] == 0) and np.all(b["reg_grad_norm"] > 0)
    # reg_grad_norm = lambda ||W|| / N, for the weights feeding hidden layer 1
    expected = 10.0 * np.linalg.norm(regularised.W[0][0]) / len(X)
    assert b["reg_grad_norm"][0, 0] == pytest.approx(expected, rel=1e-12)


def test_monitor_samples_every_k_passes_and_counts_model_passes():
    X, y = load_dataset("moons")
    reported = []
    net = BatchedNetwork([2, 3, 3, 2], "sigmoid", 0.01, seeds=[0, 1, 2])
    monitor = DiagnosticsSampler(X, y, every=25, report=reported.append, report_every=50, copies=3)
    monitor.record(net, 0)
    net.fit_model(X, y, num_passes=100, print_loss=False, callback=monitor)
    assert monitor.passes == [0, 25, 50, 75, 100]
    assert monitor.arrays()["grad_norm"].shape == (5, 3, 2)  # samples, seeds, hidden layers
    assert reported == [150, 150]
