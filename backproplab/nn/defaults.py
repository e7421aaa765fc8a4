"""The problem set's settings and the names of the engine's activations, without NumPy.

The networks, the training loop, the gradient check and the commands all read them from here
(one source of truth), and a command's options load from this module at once, before NumPy.
`ACTIVATION_NAMES` are the keys of `nn.activations.ACTIVATIONS`, in its order (a test checks it).
"""

from __future__ import annotations

ACTIVATION = "tanh"  # hidden activation
REG_LAMBDA = 0.01  # L2 strength
EPSILON = 0.01  # learning rate of W -= epsilon * dW
NUM_PASSES = 20000  # full-batch gradient-descent passes
PRINT_EVERY = 1000  # the problem set prints the loss every 1,000 passes

GRADCHECK_STEP = 1e-5  # h of the central differences
GRADCHECK_THRESHOLD = 1e-6  # the largest relative error a correct backpropagation shows

ACTIVATION_NAMES = ("tanh", "sigmoid", "relu", "leaky_relu", "identity")
# Weight initialisations (nn.network.init_parameters): the tutorial's randn / sqrt(fan_in), the
# problem set's, or He et al.'s randn * sqrt(2 / fan_in), made for ReLU layers.
INIT = "tutorial"
INIT_NAMES = ("tutorial", "he")


def init_name(name, what="init") -> str:
    """`name` if it is one of INIT_NAMES, or a ValueError naming `what` and listing them."""
    if name not in INIT_NAMES:
        raise ValueError(f"{what}={name!r} is not one of {', '.join(INIT_NAMES)}")
    return name


def activation_name(name) -> str:
    """The table's key for `name` (case-insensitive, '-' as '_'), or a ValueError listing them."""
    key = name.lower().replace("-", "_") if isinstance(name, str) else None
    if key not in ACTIVATION_NAMES:
        raise ValueError(f"activation={name!r} is not one of {', '.join(ACTIVATION_NAMES)}")
    return key
