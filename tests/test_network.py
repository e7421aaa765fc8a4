"""NeuralNetwork and DeepNeuralNetwork: the problem set's equations, conventions and training."""

import numpy as np
import pytest

from backproplab import DeepNeuralNetwork, NeuralNetwork, load_dataset

ACTS = ["tanh", "sigmoid", "relu"]


def hand_network(reg_lambda=0.0):
    """2-2-2 ReLU network with weights chosen so that every number is easy by hand."""
    net = NeuralNetwork(2, 2, 2, activation="relu", reg_lambda=reg_lambda)
    net.W1[:] = [[1.0, -1.0], [0.5, 1.0]]
    net.b1[:] = [0.0, 0.0]
    net.W2[:] = [[1.0, 0.0], [0.0, 1.0]]
    net.b2[:] = [0.0, 0.0]
    return net


def test_forward_and_backward_worked_by_hand():
    net = hand_network()
    X, y = np.array([[1.0, 2.0]]), np.array([1])
    # z1 = X W1 = [1*1 + 2*0.5, 1*(-1) + 2*1] = [2, 1];  a1 = relu(z1) = [2, 1]
    # z2 = a1 W2 = [2, 1];  a2 = softmax = [e^2, e^1] / (e^2 + e) = [e/(e+1), 1/(e+1)]
    p0 = np.e / (np.e + 1)  # 0.7310585786
    net.feedforward(X)
    np.testing.assert_allclose(net.z1, [[2.0, 1.0]])
    np.testing.assert_allclose(net.a1, [[2.0, 1.0]])
    np.testing.assert_allclose(net.probs, [[p0, 1 - p0]])
    # loss = -log a2[y=1] = -log(1/(e+1)) = log(1 + e) = 1.3132616875
    assert net.calculate_loss(X, y) == pytest.approx(np.log1p(np.e), abs=1e-12)
    g = net.backpropagation(X, y)
    # delta3 = a2 - onehot(1) = [p0, (1 - p0) - 1] = [p0, -p0]
    np.testing.assert_allclose(g.db2, [p0, -p0])
    # dW2 = a1^T delta3 = [[2 p0, -2 p0], [p0, -p0]]
    np.testing.assert_allclose(g.dW2, [[2 * p0, -2 * p0], [p0, -p0]])
    # delta2 = delta3 W2^T * relu'(z1) = [p0, -p0] * [1, 1]
    np.testing.assert_allclose(g.db1, [p0, -p0])
    # dW1 = X^T delta2 = [[1 p0, -1 p0], [2 p0, -2 p0]]
    np.testing.assert_allclose(g.dW1, [[p0, -p0], [2 * p0, -2 * p0]])


def test_regularisation_by_hand():
    net = hand_network(reg_lambda=0.1)
    X, y = np.array([[1.0, 2.0]]), np.array([1])
    # (lambda / 2N) sum W^2 = 0.05 * ((1 + 1 + 0.25 + 1) + (1 + 1)) = 0.05 * 5.25 = 0.2625
    assert net.calculate_loss(X, y) == pytest.approx(np.log1p(np.e) + 0.2625, abs=1e-12)
    plain = hand_network().backpropagation(X, y)
    g = net.backpropagation(X, y)
    np.testing.assert_allclose(g.dW1, plain.dW1 + 0.1 * net.W1)  # + lambda W on weights
    np.testing.assert_allclose(g.dW2, plain.dW2 + 0.1 * net.W2)
    np.testing.assert_allclose(g.db1, plain.db1)  # not on biases


def test_gradients_are_summed_over_examples_not_averaged():
    net = NeuralNetwork(2, 3, 2, reg_lambda=0.0)
    X, y = np.array([[0.3, -1.2]]), np.array([0])
    one = net.backpropagation(X, y)
    twice = net.backpropagation(np.vstack([X, X]), np.r_[y, y])
    np.testing.assert_allclose(twice.dW1, 2 * one.dW1)


def test_initialisation_follows_the_tutorial_stream():
    net = NeuralNetwork(2, 3, 2, seed=7)
    rng = np.random.RandomState(7)
    np.testing.assert_array_equal(net.W1, rng.randn(2, 3) / np.sqrt(2))
    np.testing.assert_array_equal(net.W2, rng.randn(3, 2) / np.sqrt(3))
    assert not net.b1.any() and not net.b2.any()


def test_no_global_random_state_is_touched():
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (global state, read only)
    X, y = load_dataset("moons")
    DeepNeuralNetwork([2, 4, 2], seed=3).fit_model(X, y, num_passes=10, print_loss=False,
                                                   batch_size=16)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def classic_tutorial_loss(X, y, activation, passes, hidden=3, epsilon=0.01, reg=0.01):
    """An independent copy of the classic nn-from-scratch loop (global seed 0, as it did)."""
    f, df = {
        "tanh": (np.tanh, lambda z, a: 1 - a**2),
        "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
        "relu": (lambda z: np.maximum(0, z), lambda z, a: (z >= 0) * 1.0),
    }[activation]
    rng = np.random.RandomState(0)
    W1 = rng.randn(2, hidden) / np.sqrt(2)
    b1 = np.zeros((1, hidden))
    W2 = rng.randn(hidden, 2) / np.sqrt(hidden)
    b2 = np.zeros((1, 2))
    n = len(X)

    def forward():
        z1 = X.dot(W1) + b1
        a1 = f(z1)
        scores = np.exp(a1.dot(W2) + b2)
        return z1, a1, scores / scores.sum(axis=1, keepdims=True)

    for _ in range(passes):
        z1, a1, probs = forward()
        delta3 = probs.copy()
        delta3[range(n), y] -= 1
        dW2, db2 = a1.T.dot(delta3) + reg * W2, delta3.sum(axis=0, keepdims=True)
        delta2 = delta3.dot(W2.T) * df(z1, a1)
        dW1, db1 = X.T.dot(delta2) + reg * W1, delta2.sum(axis=0)
        W1 -= epsilon * dW1
        b1 -= epsilon * db1
        W2 -= epsilon * dW2
        b2 -= epsilon * db2
    _, _, probs = forward()
    return (-np.log(probs[range(n), y]).sum() + reg / 2 * ((W1**2).sum() + (W2**2).sum())) / n


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("passes", [1, 1001])
def test_fit_model_matches_the_classic_tutorial(activation, passes):
    X, y = load_dataset("moons")
    net = NeuralNetwork(2, 3, 2, activation=activation).fit_model(X, y, num_passes=passes,
                                                                  print_loss=False)
    assert net.calculate_loss(X, y) == pytest.approx(
        classic_tutorial_loss(X, y, activation, passes), abs=1e-10)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "leaky_relu", "identity"])
def test_deep_network_equals_three_layer_network(activation):
    X, y = load_dataset("blobs")
    shallow = NeuralNetwork(2, 5, 4, activation=activation, seed=4)
    deep = DeepNeuralNetwork([2, 5, 4], activation=activation, seed=4)
    np.testing.assert_array_equal(deep.W[0], shallow.W1)
    shallow.fit_model(X, y, epsilon=0.001, num_passes=500, print_loss=False)
    deep.fit_model(X, y, epsilon=0.001, num_passes=500, print_loss=False)
    assert abs(deep.calculate_loss(X, y) - shallow.calculate_loss(X, y)) < 1e-12
    np.testing.assert_allclose(deep.W[1], shallow.W2, rtol=0, atol=1e-12)
    g, gd = shallow.backpropagation(X, y), deep.backpropagation(X, y)
    np.testing.assert_allclose(gd.dW[0], g.dW1, atol=1e-12)
    np.testing.assert_allclose(gd.db[1], g.db2, atol=1e-12)


def test_deep_network_keeps_lists_of_intermediate_values():
    X, y = load_dataset("moons", n_samples=20)
    net = DeepNeuralNetwork([2, 3, 3, 2])
    probs = net.feedforward(X)
    assert [W.shape for W in net.W] == [(2, 3), (3, 3), (3, 2)]
    assert len(net.z) == 3 and len(net.a) == 4 and net.a[0] is X
    np.testing.assert_allclose(net.a[1], np.tanh(net.z[0]))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    dW, db = net.backpropagation(X, y)
    assert [d.shape for d in dW] == [(2, 3), (3, 3), (3, 2)] and [d.shape for d in db] == [
        (3,), (3,), (2,)]


def test_default_moons_network_fits_the_training_data():
    X, y = load_dataset("moons")
    net = NeuralNetwork(2, 3, 2, activation="tanh").fit_model(X, y, print_loss=False)
    assert net.accuracy(X, y) >= 0.95


def test_print_loss_reports_every_thousand_passes():
    X, y = load_dataset("moons")
    lines = []
    NeuralNetwork().fit_model(X, y, num_passes=2500, log=lines.append)
    assert [line.split(":")[0] for line in lines] == [
        "Loss after iteration 0", "Loss after iteration 1000", "Loss after iteration 2000"]


def test_history_records_loss_and_accuracies():
    X, y = load_dataset("moons")
    Xv, yv = load_dataset("moons", seed=1)
    net = NeuralNetwork().fit_model(X, y, num_passes=300, print_loss=False, record_every=100,
                                    X_val=Xv, y_val=yv)
    h = net.history
    assert h["pass"] == [100, 200, 300]
    assert h["loss"][-1] < h["loss"][0]
    assert h["loss"][-1] == pytest.approx(net.calculate_loss(X, y))
    assert h["val_accuracy"][-1] == net.accuracy(Xv, yv)


@pytest.mark.parametrize("options", [dict(batch_size=32), dict(momentum=0.9, epsilon=0.001),
                                     dict(lr_decay=1e-3)])
def test_training_options_lower_the_loss(options):
    X, y = load_dataset("moons")
    net = DeepNeuralNetwork([2, 4, 2])
    start = net.calculate_loss(X, y)
    net.fit_model(X, y, num_passes=500, print_loss=False, **options)
    assert net.calculate_loss(X, y) < 0.6 * start


def test_minibatch_training_differs_from_full_batch_but_is_reproducible():
    X, y = load_dataset("moons")
    a = DeepNeuralNetwork([2, 4, 2]).fit_model(X, y, num_passes=50, print_loss=False,
                                               batch_size=20)
    b = DeepNeuralNetwork([2, 4, 2]).fit_model(X, y, num_passes=50, print_loss=False,
                                               batch_size=20)
    c = DeepNeuralNetwork([2, 4, 2]).fit_model(X, y, num_passes=50, print_loss=False)
    np.testing.assert_array_equal(a.W[0], b.W[0])
    assert not np.allclose(a.W[0], c.W[0])


def test_divergence_stops_training_with_the_learning_rate_and_pass():
    X, y = load_dataset("moons")
    with pytest.raises(FloatingPointError, match=r"pass \d+.*epsilon=50"):
        DeepNeuralNetwork([2, 50, 2], activation="relu").fit_model(X, y, epsilon=50,
                                                                    print_loss=False)


def test_divergence_is_checked_at_the_end_of_short_runs():
    X, y = load_dataset("moons")
    with pytest.raises(FloatingPointError, match="pass 9: .*epsilon=1e\\+300"):
        DeepNeuralNetwork([2, 50, 2], activation="relu").fit_model(
            X, y, epsilon=1e300, num_passes=10, print_loss=False)


def test_predict_and_predict_proba_agree():
    X, y = load_dataset("blobs")
    net = DeepNeuralNetwork([2, 4, 4], seed=1).fit_model(X, y, num_passes=200, print_loss=False)
    proba = net.predict_proba(X)
    assert proba.shape == (200, 4)
    np.testing.assert_array_equal(net.predict(X), proba.argmax(axis=1))


def test_huge_logits_give_a_finite_loss():
    net = NeuralNetwork(2, 3, 2, reg_lambda=0)
    net.W2 *= 1e6
    X, y = load_dataset("moons", n_samples=50)
    assert np.isfinite(net.calculate_loss(X, y))
