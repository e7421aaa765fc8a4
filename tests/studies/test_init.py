"""The weight initialisation option: the tutorial's by default, bit for bit; He's on request."""

import numpy as np
import pytest

from backproplab.datasets import load_dataset
from backproplab.errors import BackproplabError
from backproplab.nn.batched import BatchedNetwork
from backproplab.nn.network import DeepNeuralNetwork, NeuralNetwork, init_parameters
from backproplab.studies.spec import StudySpec, check_spec, parse_vary, settings


def test_the_default_is_the_tutorials_randn_over_sqrt_fan_in_bit_for_bit():
    rng = np.random.RandomState(7)
    expected = [rng.randn(2, 5) / np.sqrt(2), rng.randn(5, 3) / np.sqrt(5)]
    W, b = init_parameters([2, 5, 3], 7)
    assert all(np.array_equal(w, e) for w, e in zip(W, expected))
    assert all(np.array_equal(w, e) for w, e in
               zip(DeepNeuralNetwork([2, 5, 3], seed=7).W, expected))


def test_he_scales_the_same_draws_by_sqrt_2_over_fan_in():
    tutorial, _ = init_parameters([2, 5, 3], 7)
    he, _ = init_parameters([2, 5, 3], 7, "he")
    for w_t, w_h, fan_in in zip(tutorial, he, [2, 5]):
        np.testing.assert_allclose(w_h, w_t * np.sqrt(fan_in) * np.sqrt(2 / fan_in))
    net = NeuralNetwork(2, 5, 3, seed=7, init="he")
    assert np.array_equal(net.W1, he[0]) and np.array_equal(net.W2, he[1])


def test_an_unknown_initialisation_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="tutorial, he"):
        init_parameters([2, 3, 2], 0, "xavier")


def test_a_stack_with_one_initialisation_per_network_trains_each_as_alone():
    X, y = load_dataset("moons")
    stack = BatchedNetwork([2, 3, 3, 2], "relu", 0.01, seeds=[0, 0], init=["tutorial", "he"])
    stack.fit_model(X, y, epsilon=0.001, num_passes=50, print_loss=False)
    for s, init in enumerate(["tutorial", "he"]):
        alone = DeepNeuralNetwork([2, 3, 3, 2], "relu", 0.01, seed=0, init=init)
        alone.fit_model(X, y, epsilon=0.001, num_passes=50, print_loss=False)
        for W_stack, W_alone in zip(stack.W, alone.W):
            assert np.array_equal(W_stack[s], W_alone)


def test_a_study_varies_the_initialisation():
    assert parse_vary("init=tutorial,he") == ("init", ["tutorial", "he"])
    spec = check_spec(StudySpec("x", dims=(2, 3, 2), vary={"init": ["tutorial", "he"]}))
    assert [s.init for s in settings(spec)] == ["tutorial", "he"]
    with pytest.raises(BackproplabError, match="init"):
        parse_vary("init=xavier")
