"""The activation table: values, derivatives and numerical safety."""

import warnings

import numpy as np
import pytest

from backproplab.nn.activations import ACTIVATIONS, activation_name, log_softmax, softmax
from backproplab.nn.defaults import ACTIVATION_NAMES


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_derivative_matches_central_differences(name):
    f, df = ACTIVATIONS[name]
    z = np.linspace(-3, 3, 61)
    z = z[np.abs(z) > 1e-3]  # away from ReLU's kink
    h = 1e-6
    np.testing.assert_allclose(df(z, f(z)), (f(z + h) - f(z - h)) / (2 * h), atol=1e-8)


def test_relu_derivative_at_zero_is_one_as_the_problem_set_defines_it():
    f, df = ACTIVATIONS["relu"]
    assert df(np.array([0.0]), f(np.array([0.0])))[0] == 1.0


def test_sigmoid_never_overflows():
    f, _ = ACTIVATIONS["sigmoid"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = f(np.array([-1000.0, -701.0, 0.0, 701.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-300)


def test_softmax_subtracts_the_row_max():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = softmax(np.array([[1000.0, 1000.0, -1000.0]]))
        logp = log_softmax(np.array([[1000.0, 0.0]]))
    np.testing.assert_allclose(p, [[0.5, 0.5, 0.0]])
    assert np.isfinite(logp).all() and logp[0, 1] == pytest.approx(-1000.0)


@pytest.mark.parametrize("given,key", [("Tanh", "tanh"), ("ReLU", "relu"), ("SIGMOID", "sigmoid"),
                                       ("leaky-relu", "leaky_relu")])
def test_names_are_case_insensitive(given, key):
    assert activation_name(given) == key


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match="swish.*tanh, sigmoid, relu"):
        activation_name("swish")


def test_the_names_the_commands_offer_are_the_tables_keys():
    # nn.defaults writes them out so that a command's options load without NumPy.
    assert list(ACTIVATION_NAMES) == list(ACTIVATIONS)
