"""A stack of seeds trains exactly like each network alone."""

import platform

import numpy as np
import pytest

from backproplab.datasets import load_dataset
from backproplab.nn.batched import BatchedNetwork, keep_freed_memory
from backproplab.nn.network import DeepNeuralNetwork, NeuralNetwork

SEEDS = [0, 1, 2]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_each_stacked_seed_equals_its_network_trained_alone(activation):
    X, y = load_dataset("moons")
    dims = [2, 3, 3, 2]
    stack = BatchedNetwork(dims, activation, 0.01, seeds=SEEDS)
    stack.fit_model(X, y, num_passes=2000, print_loss=False)
    losses, predictions = stack.calculate_loss(X, y), stack.predict(X)
    assert losses.shape == (3,) and predictions.shape == (3, len(X))
    for s, seed in enumerate(SEEDS):
        alone = DeepNeuralNetwork(dims, activation, 0.01, seed).fit_model(
            X, y, num_passes=2000, print_loss=False)
        assert abs(losses[s] - alone.calculate_loss(X, y)) < 1e-8
        np.testing.assert_array_equal(predictions[s], alone.predict(X))


def test_a_stack_of_three_layer_networks_equals_neural_network():
    X, y = load_dataset("blobs")
    stack = BatchedNetwork([2, 4, 4], "tanh", 0.01, seeds=SEEDS)
    stack.fit_model(X, y, num_passes=2000, print_loss=False)
    for s, seed in enumerate(SEEDS):
        alone = NeuralNetwork(2, 4, 4, "tanh", 0.01, seed).fit_model(
            X, y, num_passes=2000, print_loss=False)
        assert abs(stack.calculate_loss(X, y)[s] - alone.calculate_loss(X, y)) < 1e-8
        np.testing.assert_array_equal(stack.predict(X)[s], alone.predict(X))


def test_network_extracts_one_seed_with_its_parameters():
    X, y = load_dataset("moons")
    stack = BatchedNetwork([2, 5, 2], "relu", 0.0, seeds=[3, 7]).fit_model(
        X, y, num_passes=50, print_loss=False)
    net = stack.network(1)
    assert isinstance(net, DeepNeuralNetwork) and net.seed == 7
    np.testing.assert_array_equal(net.predict_proba(X), stack.predict_proba(X)[1])


def test_history_records_one_value_per_seed():
    X, y = load_dataset("moons")
    stack = BatchedNetwork([2, 3, 2], seeds=[0, 1]).fit_model(
        X, y, num_passes=20, print_loss=False, record_every=10)
    assert stack.history["pass"] == [10, 20]
    assert np.shape(stack.history["loss"]) == (2, 2)
    assert np.shape(stack.history["train_accuracy"]) == (2, 2)


def test_a_stack_of_one_seed_reproduces_mini_batch_training():
    X, y = load_dataset("moons")
    stack = BatchedNetwork([2, 3, 2], seeds=[4]).fit_model(
        X, y, num_passes=300, print_loss=False, batch_size=32)
    alone = DeepNeuralNetwork([2, 3, 2], seed=4).fit_model(
        X, y, num_passes=300, print_loss=False, batch_size=32)
    assert abs(stack.calculate_loss(X, y)[0] - alone.calculate_loss(X, y)) < 1e-8


@pytest.mark.parametrize("seeds, message", [
    ([], "at least one"), ([-1], "seed=-1"), ("012", "list")])
def test_bad_seeds_are_refused_with_the_value(seeds, message):
    with pytest.raises(ValueError, match=message):
        BatchedNetwork([2, 3, 2], seeds=seeds)


def test_mini_batches_over_a_stack_of_seeds_are_refused():
    X, y = load_dataset("moons")
    with pytest.raises(ValueError, match="batch_size=32"):
        BatchedNetwork([2, 3, 2], seeds=[0, 1]).fit_model(X, y, num_passes=5, batch_size=32)


def test_networks_of_mixed_activations_and_lambdas_equal_each_network_trained_alone():
    X, y = load_dataset("blobs")
    nets = [("tanh", 0.01, 0), ("tanh", 0.0, 1), ("sigmoid", 0.01, 0), ("relu", 0.0, 2)]
    stack = BatchedNetwork([2, 4, 4, 4], *map(list, zip(*nets)))
    stack.fit_model(X, y, num_passes=2000, print_loss=False)
    for s, (activation, reg_lambda, seed) in enumerate(nets):
        alone = DeepNeuralNetwork([2, 4, 4, 4], activation, reg_lambda, seed).fit_model(
            X, y, num_passes=2000, print_loss=False)
        assert abs(stack.calculate_loss(X, y)[s] - alone.calculate_loss(X, y)) < 1e-8
        np.testing.assert_array_equal(stack.predict(X)[s], alone.predict(X))


def test_stacked_views_write_through_to_the_trained_parameters():
    stack = BatchedNetwork([2, 3, 3, 2], seeds=[0, 1])
    stack.W[0][1, 0, 0] = 5.0  # network 1, first layer: a view into the wide W[0]
    stack.W[1][1, 0, 0] = 6.0  # network 1, second layer
    assert stack.network(1).W[0][0, 0] == 5.0 and stack.network(1).W[1][0, 0] == 6.0
    assert 5.0 not in stack.network(0).W[0] and 6.0 not in stack.network(0).W[1]


@pytest.mark.parametrize("dims", [
    [2, 1, 2],  # moons-hidden's h = 1: both of its products are matrix-vector ones
    [2, 3, 1, 2],  # width 1 in the middle
    [2, 1, 3, 2],  # width 1 first, an outer product after it
    [2, 1, 1, 2],  # two thin layers in a row
    [1, 3, 2],  # an input of width 1
    [2, 5, 1, 4, 2],  # thin between wide layers
])
def test_stacked_networks_with_a_layer_of_width_one_train_bit_for_bit_as_alone(dims):
    X, y = load_dataset("moons")
    X = X[:, :dims[0]].copy()
    nets = [("tanh", 0.01, 0), ("tanh", 0.0, 1), ("relu", 0.01, 2), ("sigmoid", 0.01, 3)]
    stack = BatchedNetwork(dims, *map(list, zip(*nets))).fit_model(
        X, y, num_passes=3000, print_loss=False)
    for s, (activation, reg_lambda, seed) in enumerate(nets):
        alone = DeepNeuralNetwork(dims, activation, reg_lambda, seed).fit_model(
            X, y, num_passes=3000, print_loss=False)
        for stacked, single in zip(stack.network(s).parameters(), alone.parameters()):
            np.testing.assert_array_equal(stacked, single)  # bit for bit


def test_a_large_stack_of_width_one_networks_trains_each_as_alone():
    X, y = load_dataset("moons")
    seeds = list(range(12))
    stack = BatchedNetwork([2, 1, 2], seeds=seeds).fit_model(
        X, y, num_passes=2000, print_loss=False)
    for s in seeds:
        alone = DeepNeuralNetwork([2, 1, 2], seed=s).fit_model(
            X, y, num_passes=2000, print_loss=False)
        for stacked, single in zip(stack.network(s).parameters(), alone.parameters()):
            np.testing.assert_array_equal(stacked, single)


def test_momentum_and_decay_train_each_stacked_network_as_alone():
    X, y = load_dataset("moons")
    options = dict(num_passes=500, print_loss=False, momentum=0.9, lr_decay=1e-3, epsilon=0.005)
    stack = BatchedNetwork([2, 4, 3, 2], ["tanh", "relu"], [0.01, 0.0], seeds=[1, 2])
    stack.fit_model(X, y, **options)
    for s, (activation, reg_lambda, seed) in enumerate([("tanh", 0.01, 1), ("relu", 0.0, 2)]):
        alone = DeepNeuralNetwork([2, 4, 3, 2], activation, reg_lambda, seed).fit_model(
            X, y, **options)
        for stacked, single in zip(stack.network(s).parameters(), alone.parameters()):
            np.testing.assert_array_equal(stacked, single)  # bit for bit


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_freed_memory_is_kept_under_glibc_and_a_wide_stack_still_trains_as_alone():
    # A stack of width-20 networks allocates (200, 100) temporaries each pass (160 kB, above
    # glibc's default mmap threshold): with the memory kept they come from the heap, and the
    # arithmetic is unchanged.
    assert keep_freed_memory() is True
    X, y = load_dataset("moons")
    stack = BatchedNetwork([2, 20, 20, 2], "tanh", 0.01, seeds=[0, 1, 2, 3, 4])
    stack.fit_model(X, y, num_passes=300, print_loss=False)
    alone = DeepNeuralNetwork([2, 20, 20, 2], "tanh", 0.01, seed=3)
    alone.fit_model(X, y, num_passes=300, print_loss=False)
    trained = stack.network(3)
    assert all(np.array_equal(a, b) for a, b in zip(trained.W + trained.b, alone.W + alone.b))
