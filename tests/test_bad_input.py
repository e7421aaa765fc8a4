"""Bad input gets a ValueError that names the argument and its value; the CLI one line, status 2."""

import numpy as np
import pytest

from backproplab import DeepNeuralNetwork, NeuralNetwork, load_dataset
from backproplab.cli import main

X, y = load_dataset("moons", n_samples=20)


@pytest.mark.parametrize("dims,message", [
    ([], r"nn_layer_dims=\[\] needs at least 2"),
    ([2], r"nn_layer_dims=\[2\] needs at least 2"),
    ([2, 0, 2], r"every size must be >= 1, got 0"),
    ([2, -3, 2], r"every size must be >= 1, got -3"),
    ([2, 2.5, 2], r"every size must be an integer, got 2.5"),
    ([2, "3", 2], r"every size must be an integer, got '3'"),
    ([2, True, 2], r"every size must be an integer, got True"),
    ("2,3,2", r"must be a list of layer sizes"),
    ([2, 3, 1], r"output layer needs at least 2 classes"),
])
def test_bad_layer_dims(dims, message):
    with pytest.raises(ValueError, match=message):
        DeepNeuralNetwork(dims)


def test_bad_hidden_dim_of_three_layer_network():
    with pytest.raises(ValueError, match="got 0"):
        NeuralNetwork(2, 0, 2)


def test_unknown_activation_lists_valid_ones():
    with pytest.raises(ValueError, match="activation='softplus' is not one of tanh, sigmoid, relu"):
        DeepNeuralNetwork([2, 3, 2], activation="softplus")


@pytest.mark.parametrize("bad_X,message", [
    (X[:, 0], r"X must be 2-D .* got shape \(20,\)"),
    (X[None], r"X must be 2-D .* got shape \(1, 20, 2\)"),
    (np.c_[X, X], "X has 4 columns but the network's input dim is 2"),
])
def test_bad_X_shape(bad_X, message):
    net = DeepNeuralNetwork([2, 3, 2])
    with pytest.raises(ValueError, match=message):
        net.fit_model(bad_X, y, num_passes=1, print_loss=False)
    with pytest.raises(ValueError, match=message):
        net.predict(bad_X)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_X(value):
    bad = X.copy()
    bad[3, 1] = value
    with pytest.raises(ValueError, match="X contains 1 NaN or infinite"):
        DeepNeuralNetwork([2, 3, 2]).fit_model(bad, y, num_passes=1, print_loss=False)


def test_X_y_length_mismatch():
    with pytest.raises(ValueError, match="X has 20 rows but y has 19 labels"):
        NeuralNetwork().calculate_loss(X, y[:-1])


@pytest.mark.parametrize("labels,message", [
    (np.r_[y[:-1], 2], r"label 2 in y is outside \[0, 2\)"),
    (np.r_[y[:-1], -1], r"label -1 in y is outside \[0, 2\)"),
    (np.r_[y[:-1], 0.5], "y must hold integer class labels"),
])
def test_labels_outside_the_classes(labels, message):
    with pytest.raises(ValueError, match=message):
        DeepNeuralNetwork([2, 3, 2]).fit_model(X, labels, num_passes=1, print_loss=False)


@pytest.mark.parametrize("kwargs,message", [
    (dict(epsilon=0), "epsilon=0 must be > 0"),
    (dict(epsilon=-0.1), r"epsilon=-0.1 must be > 0"),
    (dict(epsilon=float("nan")), "epsilon=nan must be a finite number"),
    (dict(num_passes=0), "num_passes=0 must be >= 1"),
    (dict(num_passes=-5), "num_passes=-5 must be >= 1"),
    (dict(num_passes=2.5), "num_passes=2.5 must be an integer"),
    (dict(batch_size=0), "batch_size=0 must be >= 1"),
    (dict(momentum=1.0), "momentum=1.0 must be < 1"),
])
def test_bad_training_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NeuralNetwork().fit_model(X, y, print_loss=False, **kwargs)


def test_negative_regularisation():
    with pytest.raises(ValueError, match="reg_lambda=-1 must be >= 0"):
        NeuralNetwork(reg_lambda=-1)


@pytest.mark.parametrize("argv,message", [
    (["train", "--dims", "2,0,2"], "every size must be >= 1, got 0"),
    (["train", "--dims", "2,x,2"], "expected comma-separated integers"),
    (["train", "--activation", "swish"], "activation='swish' is not one of"),
    (["train", "--passes", "0"], "--passes=0 must be >= 1"),
    (["train", "--epsilon", "-1"], "--epsilon=-1.0 must be > 0"),
    (["train", "--dataset", "blobs", "--dims", "2,3,2"], "blobs has 4 classes"),
    (["train", "--dataset", "spirals"], "invalid choice: 'spirals'"),
    (["gradcheck", "--dims", "2"], "needs at least 2"),
])
def test_cli_prints_one_line_and_exits_2(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main([*argv, *(["--out", str(tmp_path / "b.png")] if argv[0] == "train"
                                        else [])]))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "b.png").exists()
