"""Many small networks of one architecture trained as one: the seeds and settings of a study.

`BatchedNetwork(dims, activation, reg_lambda, seeds=[0, 1, 2])` holds S = len(seeds) networks;
`activation`, `reg_lambda` and `init` may be one value or one per network, so the settings of a
study that share their layer sizes train in one stack. Network s starts from
`init_parameters(dims, seeds[s], init[s])`, exactly the initialisation of
`DeepNeuralNetwork(dims, ..., seed=seeds[s], init=init[s])`, and trains to the same numbers
(tests/studies/test_batched.py).

Layout: the networks sit side by side along the feature axis, so each layer's net input and
activation is one C-contiguous array z[l], a[l]: (N, S*d_l), network s in columns
s*d_l .. (s+1)*d_l - 1:

    layer 0:    z = X @ W0 + b,   W0: (d_0, S*d_1)   X is shared: one matrix product
    layer l>0:  z_s = a_s @ W[l][s] + b_s            W[l]: (S, d_l, d_{l+1}); one numpy call,
                                                     one BLAS call per network on its columns
    softmax over each network's C columns; db = the column sums of delta; one flat vector holds
    every parameter, so a gradient-descent step is the single `theta -= lr * grad`.

These networks are so small that a pass costs numpy call overhead and per-row loops rather than
arithmetic, so the speed comes from one call per operation for all S networks, on long rows.

Exactness matters more than it seems: training at the problem set's step is chaotic, and a
last-bit difference grows into a different network within a few hundred passes (1e-3 in the
loss after 2,000 passes for a 2-3-2 tanh network). So every operation is the engine's, in the
same order, and each network's numbers are those of training it alone bit for bit: elementwise
operations do not care where a number sits; column sums of a C-contiguous array add the rows in
order, as the engine's sum over examples does; the hidden layers' products are the very BLAS
calls of each network alone; and the one wide product of layer 0 sums each network's terms as
its own product does (checked against OpenBLAS for up to 32 networks of widths 2-8). A layer
with a side of width 1 ("thin") is the exception: its products are matrix-vector ones or outer
products, for which NumPy and BLAS choose the routine by shape and strides (stacked side by
side, another routine; on strided columns, another summation), and a network alone sums an
(N, 1) delta pairwise rather than row by row. So a thin layer works on a copy of its wide
arrays laid out as S networks alone, (S, N, d) C-contiguous: one matmul over it makes each
network's very call, one sum each network's pairwise one. Its weights are stored stacked,
(S, d, d'), even in layer 0. The rest of the pass is unchanged.

`W`, `b`, `z`, `a` and the gradients are also offered as stacked views, W[l]: (S, d_l,
d_{l+1}), b[l]: (S, 1, d_{l+1}), z and a: (S, N, d), writing through to the same memory;
`network(s)` returns network s as a plain DeepNeuralNetwork.

Structure: a BatchedNetwork is not a DeepNeuralNetwork; it computes forward (`feedforward`) and
backward (`backward`) for all S networks and lists its parameters, the one flat vector, and in
the same order its gradient. Training is the plain networks' by composition: `fit_model` hands
it to the same loop (`nn.training.train`) with the same step (`nn.optim.SGD`), so momentum,
decay, history and divergence checks are theirs; losses and accuracies come back per network.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np

from backproplab.checks import (
    check_layer_dims,
    check_memory,
    check_number,
    check_seeds,
    check_X,
    check_Xy,
)
from backproplab.nn.activations import ACTIVATIONS, activation_name
from backproplab.nn.defaults import ACTIVATION, EPSILON, INIT, NUM_PASSES, REG_LAMBDA
from backproplab.nn.network import (
    DeepGradients,
    DeepNeuralNetwork,
    cross_entropy_loss,
    init_parameters,
    one_hot,
)
from backproplab.nn.optim import SGD
from backproplab.nn.training import train


def _per_network(name, value, S) -> list:
    """One value per network: a scalar repeated, or a list of exactly S values."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        return [value] * S
    if len(value) != S:
        raise ValueError(f"{name}={value!r} has {len(value)} values for {S} networks")
    return list(value)


def _runs(names) -> list[tuple[str, int, int]]:
    """Runs of equal names as (name, first, end): networks of one activation, side by side."""
    runs = []
    for s, name in enumerate(names):
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1], s + 1)
        else:
            runs.append((name, s, s + 1))
    return runs


def _first_layer(M, S):
    """The wide first-layer weights (d_0, S*d_1) as an (S, d_0, d_1) view."""
    return M.reshape(len(M), S, -1).transpose(1, 0, 2)


def _stacked(A, S):
    """A wide (N, S*d) array as the (S, N, d) view of its S networks."""
    return A.reshape(len(A), S, -1).transpose(1, 0, 2)


def _alone(A, S):
    """A wide (N, S*d) array as a C-contiguous (S, N, d) copy: block s is network s's (N, d)
    array laid out as it is in a network alone."""
    return np.ascontiguousarray(_stacked(A, S))


def _wide(A):
    """An (S, N, d) array as a wide C-contiguous (N, S*d) one (a copy)."""
    S, N, d = A.shape
    return np.ascontiguousarray(A.transpose(1, 0, 2)).reshape(N, S * d)


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse; True where it could be asked.

    A pass of a stack allocates wide temporaries, (N, S*d) arrays of 100-500 kB, and frees them
    at once. By default glibc gives arrays over 128 kB their own mmap and returns freed memory
    at the top of the heap to the system, so every pass faults its pages in again: a stack of
    five width-20 networks (moons, 200 points) trained at 270 us a network-pass, 108 us with
    the memory kept. Arithmetic and results are unchanged; the process keeps up to 256 MB it
    freed. A process-wide setting, for processes that train stacks (the study workers); a no-op
    elsewhere than glibc.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, TypeError, AttributeError):  # not glibc (macOS, Windows, musl's no-op)
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(M_TRIM_THRESHOLD, 256 << 20))


class BatchedNetwork:
    """S = len(seeds) DeepNeuralNetworks of one architecture, trained together.

    `BatchedNetwork([2, 3, 2], ["tanh", "relu"], 0.01, seeds=[0, 0])` trains like
    DeepNeuralNetwork([2, 3, 2], "tanh", seed=0) and DeepNeuralNetwork([2, 3, 2], "relu", seed=0)
    side by side (order networks by activation: each run of one activation is one call).
    Losses and accuracies come back as (S,), predictions as (S, N), probabilities as (S, N, C).
    """

    def __init__(self, nn_layer_dims=(2, 3, 2), activation=ACTIVATION, reg_lambda=REG_LAMBDA,
                 seeds=(0,), init=INIT):
        self.dims = dims = check_layer_dims(nn_layer_dims)
        self.seeds = seeds = check_seeds(seeds)
        S = len(seeds)
        check_memory(dims, copies=S, what=f"{S} networks of layer sizes {dims}")
        self.activations = [activation_name(a)
                            for a in _per_network("activation", activation, S)]
        self.reg_lambdas = np.array([float(check_number("reg_lambda", lam, low=0, strict=False))
                                     for lam in _per_network("reg_lambda", reg_lambda, S)])
        self._runs = _runs(self.activations)
        pairs = list(zip(dims[:-1], dims[1:]))
        # Layers with a side of width 1 multiply on copies laid out as alone (`_thin_product`).
        self._thin = {l for l, pair in enumerate(pairs) if S > 1 and min(pair) == 1}
        # W[0] wide, (d_0, S*d_1): column block s is network s. Hidden (and thin) W[l] stacked,
        # (S, d, d'): W[l][s] is C-contiguous.
        wide = [l == 0 and l not in self._thin for l in range(len(pairs))]
        shapes = [(d_in, S * d_out) if wide[l] else (S, d_in, d_out)
                  for l, (d_in, d_out) in enumerate(pairs)]
        sizes = [math.prod(shape) for shape in shapes] + [S * d_out for _, d_out in pairs]
        self._theta, self._grad = np.zeros(sum(sizes)), np.zeros(sum(sizes))
        parts = np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1])
        L = len(pairs)
        self._Wl = [self._theta[p[0]:p[-1] + 1].reshape(sh) for p, sh in zip(parts, shapes)]
        self._dWl = [self._grad[p[0]:p[-1] + 1].reshape(sh) for p, sh in zip(parts, shapes)]
        self._bWide = [self._theta[p[0]:p[-1] + 1] for p in parts[L:]]
        self._dbWide = [self._grad[p[0]:p[-1] + 1] for p in parts[L:]]
        self.W = [_first_layer(W, S) if W.ndim == 2 else W for W in self._Wl]
        self.b = [b.reshape(S, 1, -1) for b in self._bWide]
        self._grads = DeepGradients([_first_layer(dW, S) if dW.ndim == 2 else dW
                                     for dW in self._dWl],
                                    [db.reshape(S, 1, -1) for db in self._dbWide])
        # reg_lambda of the network each weight belongs to, all weights (theta's first n_W
        # entries) at once
        self._n_W = sum(sizes[:L])
        lam = self.reg_lambdas
        self._lam = np.concatenate(
            [np.tile(np.repeat(lam, d_out), d_in) if wide[l] else np.repeat(lam, d_in * d_out)
             for l, (d_in, d_out) in enumerate(pairs)])
        self._scratch = np.zeros(self._n_W)
        inits = _per_network("init", init, S)  # one name, or one per network
        for s, seed in enumerate(seeds):
            W, _ = init_parameters(dims, seed, inits[s])  # biases start at zero, as theta does
            for l, W_l in enumerate(W):
                self.W[l][s] = W_l
        self._y, self._Y = None, None
        self._inputs = {}  # a thin layer's input as `_alone` lays it out, for its dW
        self.history = {}

    def __repr__(self):
        act = self.activations[0] if len(self._runs) == 1 else self.activations
        lam = self.reg_lambdas.tolist()
        lam = lam[0] if len(set(lam)) == 1 else lam
        return (f"{type(self).__name__}(dims={self.dims}, activation={act!r}, "
                f"reg_lambda={lam}, seeds={self.seeds})")

    def __len__(self):
        return len(self.seeds)

    @property
    def n_classes(self):
        return self.dims[-1]

    def parameters(self):
        """[theta]: every parameter of every network in one flat vector, updated in place."""
        return [self._theta]

    def gradient_list(self, grads):
        """[the flat gradient], in theta's order; `grads` are its stacked views."""
        return [self._grad]

    @property
    def z(self):
        return [_stacked(z, len(self)) for z in self._z]

    @property
    def a(self):
        return [_stacked(a, len(self)) if l else a for l, a in enumerate(self._a)]

    def calculate_loss(self, X, y):
        """Each network's loss at X: (N, d), y: (N,), as an (S,) array."""
        X, y = check_Xy(X, y, self.dims[0], self.n_classes, nonempty=True)
        self.feedforward(X)
        return cross_entropy_loss(self.z[-1], y, self.W, self.reg_lambdas)

    def predict_proba(self, X):
        """Each network's class probabilities, (S, N, C)."""
        return self.feedforward(check_X(X, self.dims[0]))

    def predict(self, X):
        """Each network's predicted labels, (S, N)."""
        return np.argmax(self.predict_proba(X), axis=-1)

    def accuracy(self, X, y):
        """Each network's fraction of X: (N, d) predicted as its label in y: (N,), (S,)."""
        X, y = check_Xy(X, y, self.dims[0], self.n_classes)
        return np.mean(self.predict(X) == y, axis=-1)

    def _activate(self, z, l, derivative=False):
        """Each run of networks through its own activation f (or f'(z) given a[l+1])."""
        d = self.dims[l + 1]
        a = self._a[l + 1] if derivative else None
        if len(self._runs) == 1:
            f, df = ACTIVATIONS[self._runs[0][0]]
            return df(z, a) if derivative else f(z)
        out = np.empty_like(z)
        for name, first, end in self._runs:
            cols = slice(first * d, end * d)
            f, df = ACTIVATIONS[name]
            out[:, cols] = df(z[:, cols], a[:, cols]) if derivative else f(z[:, cols])
        return out

    def _softmax(self, z):
        """softmax over each network's C columns of z: (N, S*C), as `softmax` computes it for
        one network (row max, exp, then the row sum in column order), on a class-major copy
        (C, N, S): one call per class over all rows and networks, instead of loops over N*S
        rows of C numbers."""
        N, S = len(z), len(self)
        zc = z.reshape(N, S, -1).transpose(2, 0, 1).copy()
        m = zc[0].copy()
        for c in range(1, len(zc)):
            np.maximum(m, zc[c], out=m)
        zc -= m
        np.exp(zc, out=zc)
        total = zc[0] + zc[1]
        for c in range(2, len(zc)):
            total += zc[c]
        zc /= total
        probs = np.empty_like(z)
        probs.reshape(N, S, -1)[:] = zc.transpose(1, 2, 0)
        return probs

    def feedforward(self, X):
        """Forward pass of all S networks; returns the probabilities as (S, N, C) views."""
        last = len(self._Wl) - 1
        self._a, self._z = [X], []
        for l, b in enumerate(self._bWide):
            if l in self._thin:
                # X (layer 0) broadcasts: every network reads it as it is, as alone
                self._inputs[l] = self._a[l] if l == 0 else _alone(self._a[l], len(self))
                z = self._thin_product(self._inputs[l], l)
            else:
                z = self._product(self._a[l], l)
            z += b
            self._z.append(z)
            self._a.append(self._softmax(z) if l == last else self._activate(z, l))
        self.probs = _stacked(self._a[-1], len(self))
        return self.probs

    def _product(self, A, l, back=False):
        """A @ W[l] of every network (A @ W[l]^T with `back`), wide (N, S*d) in and out. Layer
        0's input X is shared: one product with the wide W[0]. Hidden layers: one numpy call,
        one BLAS call per network on its columns, the very call of that network alone."""
        if l == 0:
            return A @ (self._Wl[0].T if back else self._Wl[0])
        S, W = len(self), self._Wl[l]
        out = np.empty((len(A), S * W.shape[1 if back else 2]))
        np.matmul(_stacked(A, S), W.transpose(0, 2, 1) if back else W, out=_stacked(out, S))
        return out

    def _thin_product(self, A, l, back=False):
        """`_product` of a thin layer (a side of width 1): A[s] @ W[l][s] (A[s] @ W[l][s]^T
        with `back`) for A laid out as alone, (S, N, d) from `_alone` (or X), wide (N, S*d)
        out. Such products are matrix-vector ones or outer products, for which NumPy and BLAS
        choose the routine by shape and strides; on these copies one matmul makes, network
        by network, the very call of a network alone (same shapes, strides and contiguous
        result), where on the wide array's columns it would make another."""
        W = self._Wl[l]
        return _wide(np.matmul(A, W.transpose(0, 2, 1) if back else W))

    def _one_hot(self, y):
        """one_hot(y) for every network, side by side; kept while y is the same array."""
        if y is not self._y:
            self._y, self._Y = y, np.tile(one_hot(y, self.n_classes), len(self))
        return self._Y

    def backpropagation(self, X, y):
        """`backward(X, y)` once X: (N, d) and y: (N,) are checked."""
        return self.backward(*check_Xy(X, y, self.dims[0], self.n_classes))

    def backward(self, X, y):
        """Every network's gradients of its summed loss at X: (N, d), y: (N,), unchecked, as
        DeepGradients of stacked views dW[l]: (S, d_l, d_{l+1}), db[l]: (S, 1, d_{l+1}) into
        the flat gradient (overwritten by the next call)."""
        self.feedforward(X)
        S = len(self)
        delta = self._a[-1] - self._one_hot(y)  # softmax + cross-entropy: dL/dz = probs - y
        for l in reversed(range(len(self._Wl))):
            if l in self._thin:  # on copies laid out as alone (see `_thin_product`)
                deltas = _alone(delta, S)
                np.matmul(np.swapaxes(self._inputs[l], -1, -2), deltas, out=self._dWl[l])
            elif l == 0:  # X is shared: one product, X^T delta, column block s for network s
                np.matmul(X.T, delta, out=self._dWl[0])
            else:  # a_s^T delta_s, the very BLAS call of network s alone
                np.matmul(_stacked(self._a[l], S).transpose(0, 2, 1), _stacked(delta, S),
                          out=self._dWl[l])
            if l in self._thin and self.dims[l + 1] == 1:
                # A network alone sums its (N, 1) delta as one contiguous vector, pairwise, as
                # the copy's sums over N do; the wide delta's column sums add row by row.
                self._dbWide[l][:] = deltas.sum(axis=1)[:, 0]
            else:
                np.add.reduce(delta, axis=0, out=self._dbWide[l])
            if l > 0:  # back through W[l] and the activation of layer l-1
                delta = (self._thin_product(deltas, l, back=True) if l in self._thin
                         else self._product(delta, l, back=True))
                delta *= self._activate(self._z[l - 1], l - 1, derivative=True)
        # + reg_lambda W, per network and for all layers in one go: the engine's a^T delta +
        # reg_lambda W, the same two roundings
        np.multiply(self._lam, self._theta[:self._n_W], out=self._scratch)
        self._grad[:self._n_W] += self._scratch
        return self._grads

    def fit_model(self, X, y, epsilon=EPSILON, num_passes=NUM_PASSES, print_loss=True, *,
                  batch_size=None, momentum=0.0, lr_decay=0.0, log=print, **options):
        """`DeepNeuralNetwork.fit_model` (same arguments, same loop and step) for every network
        at once; returns self. The printed losses and `history`'s entries are per network, (S,).

        Mini-batches are drawn from the generator of `seeds[0]`, so with `batch_size` smaller
        than N only a stack of one network reproduces single-network training; a larger stack
        is refused rather than silently trained on another batch order.
        """
        if batch_size is not None and batch_size < len(X) and len(self) > 1:
            raise ValueError(
                f"batch_size={batch_size} with {len(self)} stacked networks: each seed draws "
                "its own mini-batch order, so train a stack of one network")
        optimizer = SGD(self.parameters(), epsilon, momentum, lr_decay)
        train(self, X, y, optimizer, num_passes, log=log if print_loss else None,
              batch_size=batch_size, seed=self.seeds[0], **options)
        return self

    def network(self, s: int) -> DeepNeuralNetwork:
        """Stack s as a DeepNeuralNetwork with copies of its current parameters."""
        net = DeepNeuralNetwork(self.dims, self.activations[s], self.reg_lambdas[s],
                                self.seeds[s])
        net.W = [W[s].copy() for W in self.W]
        net.b = [b[s, 0].copy() for b in self.b]
        return net
