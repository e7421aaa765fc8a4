"""The problem set's networks, from scratch in NumPy.

`NeuralNetwork` is the 3-layer network with its equations written out (z1, a1, z2, a2);
`DeepNeuralNetwork(nn_layer_dims)` is the N-layer generalisation with lists `W`, `b`, `z`, `a`.

Conventions (those of the classic nn-from-scratch tutorial, so numbers are comparable):
- examples are rows: X is (N, d), W[l] is (d_l, d_{l+1}), b[l] is (d_{l+1},);
- weights are drawn from `np.random.RandomState(seed)` layer by layer as
  randn(d_in, d_out) / sqrt(d_in), biases start at zero; no global RNG state is touched;
- loss L = -(1/N) sum_n log a2[n, y_n] + (reg_lambda / 2N) sum ||W||^2;
- `backpropagation` returns the gradient of N*L (summed over examples, not averaged) as the
  problem set derives it, so a step is W -= epsilon * dW with the tutorial's epsilon = 0.01.

The studies train many such networks at once with `nn.batched.BatchedNetwork`, which repeats
these operations network by network in the same order, so that each network's numbers are
exactly those of training it alone.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from backproplab.checks import check_layer_dims, check_number, check_X, check_Xy
from backproplab.nn.activations import ACTIVATIONS, activation_name, log_softmax, softmax

# The problem set's settings: one source of truth for the constructors, fit_model and the CLI.
ACTIVATION = "tanh"
REG_LAMBDA = 0.01
EPSILON = 0.01
NUM_PASSES = 20000
PRINT_EVERY = 1000


class Gradients(NamedTuple):
    """The 3-layer network's gradients, in the problem set's names."""

    dW1: np.ndarray
    db1: np.ndarray
    dW2: np.ndarray
    db2: np.ndarray


class DeepGradients(NamedTuple):
    """The N-layer network's gradients: lists in layer order."""

    dW: list
    db: list


def init_parameters(dims, seed):
    """W[l] = randn(d_l, d_{l+1}) / sqrt(d_l) from one RandomState(seed), in layer order; b = 0."""
    rng = np.random.RandomState(seed)
    W = [rng.randn(d_in, d_out) / np.sqrt(d_in) for d_in, d_out in zip(dims[:-1], dims[1:])]
    b = [np.zeros(d_out) for d_out in dims[1:]]
    return W, b


def one_hot(y, n_classes):
    Y = np.zeros((len(y), n_classes))
    Y[np.arange(len(y)), y] = 1.0
    return Y


def cross_entropy_loss(z_out, y, weights, reg_lambda):
    """Mean cross-entropy of softmax(z_out) plus (reg_lambda / 2N) sum ||W||^2.

    Broadcasts over leading axes of z_out (..., N, C) and the weights (..., d_in, d_out).
    """
    n = len(y)
    data_loss = -log_softmax(z_out)[..., np.arange(n), y].sum(axis=-1)
    reg_loss = 0.5 * reg_lambda * sum(np.sum(W**2, axis=(-2, -1)) for W in weights)
    return (data_loss + reg_loss) / n


def _swap(A):
    return np.swapaxes(A, -1, -2)  # A^T, also for stacks of matrices


# ---------------------------------------------------------------------------------------------


class NeuralNetwork:
    """The problem set's 3-layer network: input -> hidden (activation) -> softmax output.

        z1 = X W1 + b1,  a1 = f(z1),  z2 = a1 W2 + b2,  a2 = softmax(z2)

    X is (N, nn_input_dim); after `feedforward(X)` the object keeps z1, a1, z2 and probs (= a2).
    """

    def __init__(self, nn_input_dim=2, nn_hidden_dim=3, nn_output_dim=2,
                 activation=ACTIVATION, reg_lambda=REG_LAMBDA, seed=0):
        dims = check_layer_dims([nn_input_dim, nn_hidden_dim, nn_output_dim],
                                name="[nn_input_dim, nn_hidden_dim, nn_output_dim]")
        self._setup(dims, activation, reg_lambda, seed)
        (self.W1, self.W2), (self.b1, self.b2) = init_parameters(dims, seed)

    def _setup(self, dims, activation, reg_lambda, seed):
        self.dims = dims
        self.activation = activation_name(activation)
        self.reg_lambda = float(check_number("reg_lambda", reg_lambda, low=0, strict=False))
        self.seed = check_number("seed", seed, low=0, strict=False, integer=True)
        self.f, self.df = ACTIVATIONS[self.activation]
        self.history = {}

    def __repr__(self):
        return (f"{type(self).__name__}(dims={self.dims}, activation={self.activation!r}, "
                f"reg_lambda={self.reg_lambda}, seed={self.seed})")

    # The parameters as one list, and the gradients in the same order, for the shared optimiser.
    def parameters(self):
        return [self.W1, self.b1, self.W2, self.b2]

    def weights(self):
        return [self.W1, self.W2]

    def _gradient_list(self, grads):
        return list(grads)

    @property
    def n_classes(self):
        return self.dims[-1]

    def feedforward(self, X):
        """Forward pass; returns the class probabilities a2, shape (N, nn_output_dim)."""
        self.z1 = X @ self.W1 + self.b1
        self.a1 = self.f(self.z1)
        self.z2 = self.a1 @ self.W2 + self.b2
        self.probs = self.a2 = softmax(self.z2)
        return self.probs

    def calculate_loss(self, X, y):
        """Mean cross-entropy plus (reg_lambda / 2N) * sum of squared weights."""
        X, y = check_Xy(X, y, self.dims[0], self.n_classes)
        return self._loss(X, y)

    def _loss(self, X, y):
        self.feedforward(X)
        return cross_entropy_loss(self._z_out(), y, self.weights(), self.reg_lambda)

    def _z_out(self):
        return self.z2

    def backpropagation(self, X, y):
        """Gradients of the summed loss N*L, as `Gradients(dW1, db1, dW2, db2)`."""
        X, y = check_Xy(X, y, self.dims[0], self.n_classes)
        return self._backprop(X, y)

    def _backprop(self, X, y):
        self.feedforward(X)
        # Softmax followed by cross-entropy has dL/dz2 = a2 - y (one-hot): the exp of the softmax
        # and the log of the loss cancel, leaving this simple difference.
        delta3 = self.probs - one_hot(y, self.n_classes)
        dW2 = self.a1.T @ delta3 + self.reg_lambda * self.W2
        db2 = delta3.sum(axis=0)
        # Chain rule back through W2 and the activation: delta2 = delta3 W2^T * f'(z1).
        delta2 = (delta3 @ self.W2.T) * self.df(self.z1, self.a1)
        dW1 = X.T @ delta2 + self.reg_lambda * self.W1
        db1 = delta2.sum(axis=0)
        return Gradients(dW1, db1, dW2, db2)

    def fit_model(self, X, y, epsilon=EPSILON, num_passes=NUM_PASSES, print_loss=True, *,
                  batch_size=None, momentum=0.0, lr_decay=0.0, record_every=0,
                  X_val=None, y_val=None, callback=None, print_every=PRINT_EVERY, log=print):
        """Gradient descent on (X, y); returns self.

        The defaults are the problem set's: full batch, `num_passes` steps of W -= epsilon * dW,
        and with `print_loss` the loss after pass i for every i divisible by `print_every`.
        Beyond it (all off by default):
        - batch_size: examples per step (a pass is one step); batches reshuffled every epoch
          from a generator seeded by `seed`, separate from the initialisation stream;
        - momentum: v = momentum * v - lr * dW; W += v;
        - lr_decay: the step at pass i is epsilon / (1 + lr_decay * i);
        - record_every: every k passes append pass, loss, train (and X_val/y_val) accuracy
          to `self.history`;
        - callback(model, i, grads): called after every pass (monitoring, progress bars).
        A loss or parameters that become NaN or infinite raise FloatingPointError naming the
        learning rate and the pass.
        """
        X, y = check_Xy(X, y, self.dims[0], self.n_classes)
        if X_val is not None:
            X_val, y_val = check_Xy(X_val, y_val, self.dims[0], self.n_classes)
        check_number("epsilon", epsilon, low=0)
        check_number("num_passes", num_passes, low=1, strict=False, integer=True)
        check_number("momentum", momentum, low=0, strict=False)
        check_number("lr_decay", lr_decay, low=0, strict=False)
        check_number("record_every", record_every, low=0, strict=False, integer=True)
        check_number("print_every", print_every, low=1, strict=False, integer=True)
        if batch_size is not None:
            check_number("batch_size", batch_size, low=1, strict=False, integer=True)
        if momentum >= 1:
            raise ValueError(f"momentum={momentum!r} must be < 1")

        params = self.parameters()
        velocity = [np.zeros_like(p) for p in params] if momentum else None
        batches = _batches(len(X), batch_size, self.seed)
        self.history = {"pass": [], "loss": [], "train_accuracy": [], "val_accuracy": []}
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked, not warned
            for i in range(num_passes):
                idx = next(batches)
                grads = self._backprop(X, y) if idx is None else self._backprop(X[idx], y[idx])
                lr = epsilon / (1.0 + lr_decay * i)
                for p, g, v in zip(params, self._gradient_list(grads), velocity or params):
                    if velocity is None:
                        p -= lr * g
                    else:
                        v *= momentum
                        v -= lr * g
                        p += v
                if callback is not None:
                    callback(self, i, grads)
                show = print_loss and i % print_every == 0
                if show or (record_every and (i + 1) % record_every == 0):
                    loss = self._check_loss(X, y, epsilon, i)
                    if show:
                        log(f"Loss after iteration {i}: {_fmt_loss(loss)}")
                    if record_every and (i + 1) % record_every == 0:
                        self._record(i + 1, loss, X, y, X_val, y_val)
                elif (i + 1) % print_every == 0:
                    self._check_parameters(epsilon, i)  # cheap early stop on divergence
            self._check_loss(X, y, epsilon, num_passes - 1)
        return self

    def _record(self, n_pass, loss, X, y, X_val, y_val):
        h = self.history
        h["pass"].append(n_pass)
        h["loss"].append(loss)
        h["train_accuracy"].append(self.accuracy(X, y))
        h["val_accuracy"].append(self.accuracy(X_val, y_val) if X_val is not None else np.nan)

    def _check_parameters(self, epsilon, i):
        if not all(np.all(np.isfinite(p)) for p in self.parameters()):
            raise FloatingPointError(
                f"training diverged at pass {i}: parameters became NaN or infinite with learning "
                f"rate epsilon={epsilon}; try a smaller epsilon")

    def _check_loss(self, X, y, epsilon, i):
        self._check_parameters(epsilon, i)
        loss = self._loss(X, y)
        if not np.all(np.isfinite(loss)):
            raise FloatingPointError(
                f"training diverged at pass {i}: loss is {loss} with learning rate "
                f"epsilon={epsilon}; try a smaller epsilon")
        return loss

    def predict_proba(self, X):
        """Class probabilities, shape (N, n_classes)."""
        return self.feedforward(check_X(X, self.dims[0]))

    def predict(self, X):
        """Predicted class labels, shape (N,)."""
        return np.argmax(self.predict_proba(X), axis=-1)

    def accuracy(self, X, y):
        X, y = check_Xy(X, y, self.dims[0], self.n_classes)
        return np.mean(self.predict(X) == y, axis=-1)

    def visualize_decision_boundary(self, X, y, ax=None, title=None):
        """Draw the predicted class regions with the data on top; returns the matplotlib Axes."""
        from backproplab.plots import plot_decision_boundary

        return plot_decision_boundary(self, X, y, ax=ax, title=title or repr(self))


class DeepNeuralNetwork(NeuralNetwork):
    """The N-layer network: `nn_layer_dims=[2, 3, 3, 2]` is two hidden layers of 3 units.

    Weights, biases and intermediate values live in lists, indexed so that
        z[l] = a[l] W[l] + b[l],   a[l+1] = f(z[l])   (softmax for the last layer),
    with a[0] = X and probs = a[-1]. For [in, h, out] it computes the same numbers as
    NeuralNetwork(in, h, out) with the same seed.

    fit_model, calculate_loss, predict and visualize_decision_boundary are inherited: they are
    written against `parameters()`, `weights()` and the output net input, which this class
    overrides together with feedforward and backpropagation.
    """

    def __init__(self, nn_layer_dims=(2, 3, 2), activation=ACTIVATION, reg_lambda=REG_LAMBDA,
                 seed=0):
        dims = check_layer_dims(nn_layer_dims)
        self._setup(dims, activation, reg_lambda, seed)
        self.W, self.b = init_parameters(dims, seed)

    @property
    def nn_layer_dims(self):
        return self.dims

    def parameters(self):
        return [*self.W, *self.b]

    def weights(self):
        return self.W

    def _gradient_list(self, grads):
        return [*grads.dW, *grads.db]

    def _z_out(self):
        return self.z[-1]

    def feedforward(self, X):
        """Forward pass through every layer; returns the probabilities a[-1], shape (N, C)."""
        self.a, self.z = [X], []
        last = len(self.W) - 1
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            self.z.append(self.a[l] @ W + b)
            self.a.append(softmax(self.z[l]) if l == last else self.f(self.z[l]))
        self.probs = self.a[-1]
        return self.probs

    def _backprop(self, X, y):
        self.feedforward(X)
        L = len(self.W)
        dW, db = [None] * L, [None] * L
        delta = self.probs - one_hot(y, self.n_classes)  # softmax + cross-entropy, as above
        for l in reversed(range(L)):
            dW[l] = _swap(self.a[l]) @ delta + self.reg_lambda * self.W[l]
            db[l] = delta.sum(axis=-2).reshape(self.b[l].shape)
            if l > 0:  # back through W[l] and the activation of layer l-1
                delta = (delta @ _swap(self.W[l])) * self.df(self.z[l - 1], self.a[l])
        return DeepGradients(dW, db)


def _batches(n, batch_size, seed):
    """Yield None (the full batch) forever, or index arrays of shuffled mini-batches."""
    if batch_size is None or batch_size >= n:
        while True:
            yield None
    rng = np.random.default_rng([seed, 1])  # its own stream: initialisation stays the tutorial's
    while True:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]


def _fmt_loss(loss):
    return f"{loss:f}" if np.ndim(loss) == 0 else np.array2string(np.asarray(loss), precision=6)
