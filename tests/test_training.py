"""The optimiser step worked by hand, and the one training loop every network shares."""

import numpy as np
import pytest

from backproplab import DeepNeuralNetwork, NeuralNetwork, load_dataset
from backproplab.nn.batched import BatchedNetwork
from backproplab.nn.optim import SGD
from backproplab.nn.training import train


def steps(n, **options):
    """A parameter at 0 after n steps of SGD with the constant gradient 1."""
    p = np.zeros(1)
    optimizer = SGD([p], **options)
    for _ in range(n):
        optimizer.step([np.ones(1)])
    return p[0]


def test_plain_step_worked_by_hand():
    W, b = np.array([[1.0, -2.0]]), np.array([0.5])
    SGD([W, b], epsilon=0.1).step([np.array([[0.5, -1.0]]), np.array([2.0])])
    np.testing.assert_allclose(W, [[0.95, -1.9]])  # 1 - 0.1 * 0.5, -2 - 0.1 * (-1)
    np.testing.assert_allclose(b, [0.3])  # 0.5 - 0.1 * 2


def test_momentum_worked_by_hand():
    # v1 = 0.9 * 0 - 0.1 = -0.1;  v2 = 0.9 * (-0.1) - 0.1 = -0.19;  v3 = -0.171 - 0.1 = -0.271
    # p = v1 + v2 + v3 = -0.561
    assert steps(3, epsilon=0.1, momentum=0.9) == pytest.approx(-0.561)


def test_lr_decay_worked_by_hand():
    # lr at step t is 0.1 / (1 + t): 0.1, 0.05, 0.0333...;  p = -(0.1 + 0.05 + 0.1 / 3)
    assert steps(3, epsilon=0.1, lr_decay=1.0) == pytest.approx(-0.18333333333)


def test_momentum_and_decay_together_by_hand():
    # v1 = -0.1 (lr 0.1);  v2 = 0.5 * (-0.1) - 0.05 = -0.1 (lr 0.05);  p = -0.2
    assert steps(2, epsilon=0.1, momentum=0.5, lr_decay=1.0) == pytest.approx(-0.2)


def test_parameters_are_updated_in_place():
    net = DeepNeuralNetwork([2, 3, 2])
    W0 = net.W[0]
    X, y = load_dataset("moons", n_samples=20)
    net.fit_model(X, y, num_passes=5, print_loss=False, momentum=0.5)
    assert net.W[0] is W0 and net.parameters()[0] is W0


def test_fit_model_is_backpropagation_then_the_step_written_out():
    """The loop's numbers are exactly those of the problem set's step, with momentum and decay:
    the same floating-point operations in the same order."""
    X, y = load_dataset("moons")
    trained = DeepNeuralNetwork([2, 4, 2], "relu", seed=3).fit_model(
        X, y, epsilon=0.01, num_passes=30, print_loss=False, momentum=0.9, lr_decay=0.01)
    net = DeepNeuralNetwork([2, 4, 2], "relu", seed=3)
    params = net.parameters()
    velocity = [np.zeros_like(p) for p in params]
    for i in range(30):
        dW, db = net.backpropagation(X, y)
        lr = 0.01 / (1.0 + 0.01 * i)
        for p, g, v in zip(params, [*dW, *db], velocity):
            v *= 0.9
            v -= lr * g
            p += v
    for a, b in zip(trained.parameters(), params):
        np.testing.assert_array_equal(a, b)


class CountingModel:
    """The least the loop asks of a model: one weight w with gradient 1 on every batch, whose
    batches it keeps (the rows of X: (N, 1) are their numbers 0 .. N-1)."""

    dims, n_classes = [1, 2], 2

    def __init__(self):
        self.w, self.batches = np.zeros(1), []

    def parameters(self):
        return [self.w]

    def backward(self, X, y):
        self.batches.append(X[:, 0].astype(int).tolist())
        return np.ones(1)

    def gradient_list(self, grads):
        return [grads]

    def calculate_loss(self, X, y):
        return float(self.w[0] ** 2)

    def accuracy(self, X, y):
        return 1.0


def test_each_epoch_of_mini_batches_covers_every_example_once():
    model, X, y = CountingModel(), np.arange(10.0)[:, None], np.zeros(10, dtype=int)
    train(model, X, y, SGD(model.parameters(), epsilon=0.1), num_passes=6, batch_size=4)
    assert [len(b) for b in model.batches] == [4, 4, 2, 4, 4, 2]  # a pass is one batch
    for epoch in (model.batches[:3], model.batches[3:]):
        assert sorted(sum(epoch, [])) == list(range(10))
    assert model.batches[:3] != model.batches[3:]  # reshuffled every epoch
    assert model.w[0] == pytest.approx(-0.6)  # six steps of 0.1


def test_the_callback_sees_every_pass_and_history_every_kth():
    model, X, y = CountingModel(), np.arange(4.0)[:, None], np.zeros(4, dtype=int)
    seen = []
    train(model, X, y, SGD(model.parameters(), epsilon=0.5), num_passes=6, record_every=3,
          callback=lambda m, i, grads: seen.append((i, m.w[0])))
    assert seen == [(0, -0.5), (1, -1.0), (2, -1.5), (3, -2.0), (4, -2.5), (5, -3.0)]
    assert model.history["pass"] == [3, 6]
    assert model.history["loss"] == [2.25, 9.0]  # w^2 at w = -1.5 and -3
    assert model.batches == [[0, 1, 2, 3]] * 6  # full batch by default


def test_loss_lines_show_one_number_per_network():
    X, y = load_dataset("moons", n_samples=40)
    lines = []
    NeuralNetwork().fit_model(X, y, num_passes=1, log=lines.append)
    BatchedNetwork([2, 3, 2], seeds=[0, 1]).fit_model(X, y, num_passes=1, log=lines.append)
    plain, stacked = (line.split(": ")[1].split() for line in lines)
    assert len(plain) == 1 and len(stacked) == 2
    assert stacked[0] == plain[0]  # seed 0 stacked is NeuralNetwork(seed=0)
