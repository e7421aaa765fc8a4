"""The problem set's part I figures, one study each: a table of data, not code.

The deep activation studies also run every activation without regularisation (reg_lambda = 0):
the problem set guesses that its deep ReLU networks failed "perhaps due to a shallow gradient or
perhaps due to strong regularization", and only the same grid without regularisation can rule
the second cause in or out (the diagnostics measure the first, and dead units).
"""

from __future__ import annotations

from backproplab.errors import BackproplabError
from backproplab.studies.spec import StudySpec

ACTIVATIONS3 = ["tanh", "sigmoid", "relu"]
WIDTHS = [3, 5, 8, 10, 15, 20]
REG_CONTROL = [0.01, 0.0]  # the problem set's lambda, then none: is regularisation the cause?
# What could make a deep ReLU network give no boundary, varied together: the step (the problem
# set's 0.01 on the summed gradient of 200 points is a step of 2 on the mean loss; and smaller),
# the initialisation (the tutorial's 1/sqrt(fan_in), He's sqrt(2/fan_in)), a leaky ReLU (whose
# units cannot die), and regularisation.
RELU_CAUSES = {"reg_lambda": REG_CONTROL, "init": ["tutorial", "he"],
               "activation": ["relu", "leaky_relu"], "epsilon": [0.01, 0.001]}

PRESETS: dict[str, StudySpec] = {s.name: s for s in [
    StudySpec(
        "moons-activations", "moons", (2, 3, 2), vary={"activation": ACTIVATIONS3},
        title="3-layer network, 3 hidden units: tanh, sigmoid, ReLU",
        claim="tanh and sigmoid give similar smooth boundaries; ReLU's piecewise boundary "
              "fits the data less well"),
    StudySpec(
        "moons-hidden", "moons", (2, 3, 2), vary={"width": [1, 2, 3, 4, 5, 6]},
        title="3-layer tanh network, 1 to 6 hidden units",
        claim="fewer than 3 units underfit, 3-4 fit best, more than 4 overfit the noise"),
    StudySpec(
        "moons-depth", "moons", (2, 3, 2), vary={"depth": [1, 2, 3, 4]},
        title="tanh network, 1 to 4 hidden layers of 3 units",
        claim="one hidden layer is best; two overfit; more layers do not help"),
    StudySpec(
        "moons-width", "moons", (2, 3, 3, 3, 3, 2), vary={"width": WIDTHS},
        title="tanh network, 4 hidden layers of 3 to 20 units",
        claim="narrow layers are best; wider ones overfit, with 'islands' above 10 units"),
    StudySpec(
        "moons-deep-activations", "moons", (2, 3, 3, 3, 3, 2),
        vary={"reg_lambda": REG_CONTROL, "activation": ACTIVATIONS3},
        title="4 hidden layers of 3 units: tanh, sigmoid, ReLU (with and without regularisation)",
        claim="tanh and sigmoid are similar; ReLU gives no decision boundary, perhaps from a "
              "shallow gradient or strong regularisation"),
    StudySpec(
        "blobs-depth", "blobs", (2, 4, 4), vary={"depth": [1, 2, 3, 4]},
        title="tanh network, 1 to 4 hidden layers of 4 units, 4 blobs",
        claim="fewer hidden layers give better boundaries; deeper ones struggle to train"),
    StudySpec(
        "blobs-width", "blobs", (2, 3, 3, 4), vary={"width": WIDTHS},
        title="tanh network, 2 hidden layers of 3 to 20 units, 4 blobs",
        claim="narrow layers are best; wider ones overfit, with islands and cut-outs"),
    StudySpec(
        "blobs-activations", "blobs", (2, 4, 4, 4),
        vary={"reg_lambda": REG_CONTROL, "activation": ACTIVATIONS3},
        title="2 hidden layers of 4 units: tanh, sigmoid, ReLU (with and without regularisation)",
        claim="tanh and sigmoid are similar; ReLU gives no decision boundary, perhaps from a "
              "shallow gradient or strong regularisation"),
    StudySpec(
        "moons-deep-relu", "moons", (2, 3, 3, 3, 3, 2), "relu", vary=RELU_CAUSES,
        title="4 hidden layers of 3 ReLU units: step, initialisation, leaky ReLU and lambda",
        claim="ReLU gives no decision boundary, perhaps from a shallow gradient or strong "
              "regularisation"),
    StudySpec(
        "blobs-deep-relu", "blobs", (2, 4, 4, 4), "relu", vary=RELU_CAUSES,
        title="2 hidden layers of 4 ReLU units, 4 blobs: step, initialisation, leaky ReLU and "
              "lambda",
        claim="ReLU gives no decision boundary, perhaps from a shallow gradient or strong "
              "regularisation"),
]}


def preset(name: str) -> StudySpec:
    """The preset called `name`, or an error listing the valid ones."""
    if name not in PRESETS:
        raise BackproplabError(f"unknown study {name!r}; presets are: {', '.join(PRESETS)}")
    return PRESETS[name]
