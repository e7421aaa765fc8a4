"""The problem set's networks, from scratch in NumPy.

`NeuralNetwork` is the 3-layer network with its equations written out (z1, a1, z2, a2);
`DeepNeuralNetwork(nn_layer_dims)` is the N-layer generalisation with lists `W`, `b`, `z`, `a`.
Each computes forward (`feedforward`) and backward (`backward`; `backpropagation` checks its
input first) and lists its `parameters()` and, in the same order, its gradients
(`gradient_list`). What the two share (settings, input checks, the loss, predictions, the
decision-boundary figure, `fit_model`) sits once in their common base `Classifier`. `fit_model`
does not train by itself: it hands the network and a gradient-descent step (`nn.optim.SGD`) to
the one training loop, `nn.training.train`, which `nn.batched.BatchedNetwork` (many networks
trained as one, for the studies) uses too.

Conventions (those of the classic nn-from-scratch tutorial, so numbers are comparable):
- examples are rows: X is (N, d), W[l] is (d_l, d_{l+1}), b[l] is (d_{l+1},);
- weights are drawn from `np.random.RandomState(seed)` layer by layer as
  randn(d_in, d_out) / sqrt(d_in) (`init="he"`: * sqrt(2 / d_in)), biases start at zero; no
  global RNG state is touched;
- loss L = -(1/N) sum_n log a2[n, y_n] + (reg_lambda / 2N) sum ||W||^2;
- `backpropagation` returns the gradient of N*L (summed over examples, not averaged) as the
  problem set derives it, so a step is W -= epsilon * dW with the tutorial's epsilon = 0.01.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from backproplab.checks import (
    check_layer_dims,
    check_memory,
    check_number,
    check_seed,
    check_X,
    check_Xy,
)
from backproplab.nn.activations import ACTIVATIONS, activation_name, log_softmax, softmax
from backproplab.nn.defaults import (
    ACTIVATION,
    EPSILON,
    INIT,
    NUM_PASSES,
    PRINT_EVERY,
    REG_LAMBDA,
    init_name,
)
from backproplab.nn.optim import SGD
from backproplab.nn.training import train


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


def init_parameters(dims, seed, init=INIT):
    """W[l] = randn(d_l, d_{l+1}) / sqrt(d_l) from one RandomState(seed), in layer order; b = 0.

    init="he" scales the same draws by sqrt(2 / d_l) instead (He et al. 2015: a ReLU passes half
    its input's variance, so twice the variance keeps the net inputs' scale through the layers).
    """
    init_name(init)
    rng = np.random.RandomState(seed)
    pairs = list(zip(dims[:-1], dims[1:]))
    if init == "he":
        W = [rng.randn(d_in, d_out) * np.sqrt(2 / d_in) for d_in, d_out in pairs]
    else:
        W = [rng.randn(d_in, d_out) / np.sqrt(d_in) for d_in, d_out in pairs]
    b = [np.zeros(d_out) for d_out in dims[1:]]
    return W, b


def one_hot(y, n_classes):
    """Labels y: (N,) as rows (N, n_classes), 1 in column y_n and 0 elsewhere."""
    Y = np.zeros((len(y), n_classes))
    Y[np.arange(len(y)), y] = 1.0
    return Y


def cross_entropy_loss(logits, y, weights, reg_lambda):
    """Mean cross-entropy of softmax(logits) plus (reg_lambda / 2N) sum ||W||^2.

    One network: logits (N, C), weights [(d_l, d_{l+1}), ...], a float back. A stack of S
    (nn.batched): logits (S, N, C), weights [(S, d_l, d_{l+1}), ...], reg_lambda (S,), (S,) back.
    """
    n = len(y)
    data_loss = -log_softmax(logits)[..., np.arange(n), y].sum(axis=-1)
    reg_loss = 0.5 * reg_lambda * sum(np.sum(W**2, axis=(-2, -1)) for W in weights)
    return (data_loss + reg_loss) / n


# ---------------------------------------------------------------------------------------------


class Classifier:
    """What NeuralNetwork and DeepNeuralNetwork share: settings, input checks, the loss,
    predictions, the decision-boundary figure, and `fit_model`, which trains by `nn.training`.

    A subclass computes `_forward(X)` on checked X (`feedforward(X)` checks X, then calls it),
    keeping the output layer's net input as `logits`, and `backward(X, y)`, and lists its
    `parameters()`, its `weights()` (those in the L2 term) and, for gradients from `backward`,
    `gradient_list(grads)` in the order of `parameters()`.
    """

    def __init__(self, dims, activation, reg_lambda, seed):
        check_memory(dims)
        self.dims = dims
        self.activation = activation_name(activation)
        self.reg_lambda = float(check_number("reg_lambda", reg_lambda, low=0, strict=False))
        self.seed = check_seed("seed", seed)
        self.f, self.df = ACTIVATIONS[self.activation]
        self.history = {}

    def __repr__(self):
        return (f"{type(self).__name__}(dims={self.dims}, activation={self.activation!r}, "
                f"reg_lambda={self.reg_lambda}, seed={self.seed})")

    @property
    def n_classes(self):
        return self.dims[-1]

    def calculate_loss(self, X, y):
        """Mean cross-entropy plus (reg_lambda / 2N) * sum of squared weights, at X: (N, d) and
        labels y: (N,)."""
        X, y = check_Xy(X, y, self.dims[0], self.n_classes, nonempty=True)
        self._forward(X)
        return cross_entropy_loss(self.logits, y, self.weights(), self.reg_lambda)

    def backpropagation(self, X, y):
        """`backward(X, y)` once X: (N, d) and y: (N,) are checked: the gradients of N*L."""
        return self.backward(*check_Xy(X, y, self.dims[0], self.n_classes))

    def fit_model(self, X, y, epsilon=EPSILON, num_passes=NUM_PASSES, print_loss=True, *,
                  batch_size=None, momentum=0.0, lr_decay=0.0, record_every=0,
                  X_val=None, y_val=None, callback=None, print_every=PRINT_EVERY, log=print):
        """Gradient descent on X: (N, d), y: (N,); returns self.

        The defaults are the problem set's: full batch, `num_passes` steps of W -= epsilon * dW,
        and with `print_loss` the loss after pass i for every i divisible by `print_every`
        (through `log`). Beyond it (all off by default):
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
        optimizer = SGD(self.parameters(), epsilon, momentum, lr_decay)
        train(self, X, y, optimizer, num_passes, print_every=print_every,
              log=log if print_loss else None, batch_size=batch_size, seed=self.seed,
              record_every=record_every, X_val=X_val, y_val=y_val, callback=callback)
        return self

    def predict_proba(self, X):
        """Class probabilities, shape (N, n_classes)."""
        return self.feedforward(X)

    def feedforward(self, X):
        """The forward pass on X: (N, d), checked (real, finite, d columns); returns the class
        probabilities and keeps the intermediate values (see the subclass)."""
        return self._forward(check_X(X, self.dims[0]))

    def predict(self, X):
        """Predicted class labels, shape (N,)."""
        return np.argmax(self.predict_proba(X), axis=1)

    def accuracy(self, X, y):
        """The fraction of X: (N, d) predicted as its label in y: (N,)."""
        X, y = check_Xy(X, y, self.dims[0], self.n_classes, nonempty=True)
        return np.mean(self.predict(X) == y)

    def visualize_decision_boundary(self, X, y, ax=None, title=None):
        """Draw the predicted class regions with the data on top; returns the matplotlib Axes."""
        from backproplab.plots import plot_decision_boundary

        X, y = check_Xy(X, y, self.dims[0], self.n_classes, nonempty=True)
        return plot_decision_boundary(self, X, y, ax=ax, title=title or repr(self))


class NeuralNetwork(Classifier):
    """The problem set's 3-layer network: input -> hidden (activation) -> softmax output.

        z1 = X W1 + b1,  a1 = f(z1),  z2 = a1 W2 + b2,  a2 = softmax(z2)

    X is (N, nn_input_dim); after `feedforward(X)` the object keeps z1, a1, z2 and probs (= a2).
    """

    def __init__(self, nn_input_dim=2, nn_hidden_dim=3, nn_output_dim=2,
                 activation=ACTIVATION, reg_lambda=REG_LAMBDA, seed=0, init=INIT):
        dims = check_layer_dims([nn_input_dim, nn_hidden_dim, nn_output_dim],
                                name="[nn_input_dim, nn_hidden_dim, nn_output_dim]")
        super().__init__(dims, activation, reg_lambda, seed)
        (self.W1, self.W2), (self.b1, self.b2) = init_parameters(dims, seed, init)

    def parameters(self):
        """[W1, b1, W2, b2], the arrays training updates in place."""
        return [self.W1, self.b1, self.W2, self.b2]

    def gradient_list(self, grads):
        """`Gradients` as [dW1, db1, dW2, db2], the order of `parameters()`."""
        return list(grads)

    def weights(self):
        return [self.W1, self.W2]

    @property
    def logits(self):
        return self.z2

    def _forward(self, X):
        """Forward pass; returns the class probabilities a2, shape (N, nn_output_dim)."""
        self.z1 = X @ self.W1 + self.b1
        self.a1 = self.f(self.z1)
        self.z2 = self.a1 @ self.W2 + self.b2
        self.probs = self.a2 = softmax(self.z2)
        return self.probs

    def backward(self, X, y):
        """Gradients of the summed loss N*L at X: (N, d), y: (N,), unchecked (see
        `backpropagation`), as `Gradients(dW1, db1, dW2, db2)`, each shaped as its parameter."""
        self._forward(X)
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


class DeepNeuralNetwork(Classifier):
    """The N-layer network: `nn_layer_dims=[2, 3, 3, 2]` is two hidden layers of 3 units.

    Weights, biases and intermediate values live in lists, indexed so that
        z[l] = a[l] W[l] + b[l],   a[l+1] = f(z[l])   (softmax for the last layer),
    with a[0] = X and probs = a[-1]. For [in, h, out] it computes the same numbers as
    NeuralNetwork(in, h, out) with the same seed. (The problem set derives it from
    NeuralNetwork; here both derive from `Classifier`, which holds what they share.)
    """

    def __init__(self, nn_layer_dims=(2, 3, 2), activation=ACTIVATION, reg_lambda=REG_LAMBDA,
                 seed=0, init=INIT):
        super().__init__(check_layer_dims(nn_layer_dims), activation, reg_lambda, seed)
        self.W, self.b = init_parameters(self.dims, seed, init)

    @property
    def nn_layer_dims(self):
        return self.dims

    def parameters(self):
        """[W[0], ..., W[L-1], b[0], ..., b[L-1]], the arrays training updates in place."""
        return [*self.W, *self.b]

    def gradient_list(self, grads):
        """`DeepGradients` as [dW[0], ..., db[0], ...], the order of `parameters()`."""
        return [*grads.dW, *grads.db]

    def weights(self):
        return self.W

    @property
    def logits(self):
        return self.z[-1]

    def _forward(self, X):
        """Forward pass through every layer; returns the probabilities a[-1], shape (N, C)."""
        self.a, self.z = [X], []
        last = len(self.W) - 1
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            self.z.append(self.a[l] @ W + b)
            self.a.append(softmax(self.z[l]) if l == last else self.f(self.z[l]))
        self.probs = self.a[-1]
        return self.probs

    def backward(self, X, y):
        """Gradients of the summed loss N*L at X: (N, d), y: (N,), unchecked (see
        `backpropagation`), as `DeepGradients(dW, db)`, lists shaped as W and b."""
        self._forward(X)
        L = len(self.W)
        dW, db = [None] * L, [None] * L
        delta = self.probs - one_hot(y, self.n_classes)  # softmax + cross-entropy, as above
        for l in reversed(range(L)):
            dW[l] = self.a[l].T @ delta + self.reg_lambda * self.W[l]
            db[l] = delta.sum(axis=0)
            if l > 0:  # back through W[l] and the activation of layer l-1
                delta = (delta @ self.W[l].T) * self.df(self.z[l - 1], self.a[l])
        return DeepGradients(dW, db)
