"""backproplab: learn and inspect backpropagation.

Part I: `NeuralNetwork` and `DeepNeuralNetwork`, written from scratch in NumPy, with every
gradient verified (`gradcheck`). Part II (the `cnn` extra): an instrumented PyTorch CNN on MNIST.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "NeuralNetwork": "backproplab.nn.network",
    "DeepNeuralNetwork": "backproplab.nn.network",
    "ACTIVATIONS": "backproplab.nn.activations",
    "gradcheck": "backproplab.nn.gradcheck",
    "load_dataset": "backproplab.datasets",
    "train_test_split": "backproplab.datasets",
    "plot_decision_boundary": "backproplab.plots",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name):  # lazy, so `import backproplab` stays cheap
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'backproplab' has no attribute {name!r}")
