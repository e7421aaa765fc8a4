"""The one training loop of the NumPy engine: NeuralNetwork, DeepNeuralNetwork, BatchedNetwork.

`train(model, X, y, optimizer, num_passes, ...)` runs the passes; each pass is

    grads = model.backward(X_batch, y_batch)       forward and backward on the batch
    optimizer.step(model.gradient_list(grads))     e.g. nn.optim.SGD, parameters in place
    callback(model, i, grads)                      monitoring, progress bars

and every `print_every` passes the loss is logged (or, without a log, only the parameters
checked), every `record_every` passes `model.history` gains a row.

What the loop asks of a model: `dims` and `n_classes` (to check X and y once, here);
`parameters()`; `backward(X, y)` on checked data, returning its gradients (checking X and y
every pass would cost a stack of networks some 4% of its time);
`gradient_list(grads)`, those gradients as arrays in the order of `parameters()`; and
`calculate_loss(X, y)` and `accuracy(X, y)`, one number per network: a float for one network,
an (S,) array for a stack of S.
"""

from __future__ import annotations

import numpy as np

from backproplab.checks import check_number, check_Xy
from backproplab.nn.defaults import PRINT_EVERY


def train(model, X, y, optimizer, num_passes, *, batch_size=None, seed=0, callback=None,
          print_every=PRINT_EVERY, log=None, record_every=0, X_val=None, y_val=None):
    """Train `model` in place for `num_passes` passes of `optimizer.step`.

    X: (N, d) and y: (N,) are checked once. A pass is one step on the full batch, or with
    `batch_size` on the next mini-batch (reshuffled every epoch from a generator seeded by
    `seed`). With `log`, the line "Loss after iteration i: ..." for i divisible by
    `print_every`; with `record_every` = k, `model.history` records every k passes the pass,
    loss, train accuracy and (with X_val, y_val) held-out accuracy. A loss or parameters that
    become NaN or infinite raise FloatingPointError naming the learning rate and the pass.
    """
    X, y = check_Xy(X, y, model.dims[0], model.n_classes, nonempty=True)
    if X_val is not None:
        X_val, y_val = check_Xy(X_val, y_val, model.dims[0], model.n_classes, nonempty=True)
    check_number("num_passes", num_passes, low=1, strict=False, integer=True)
    check_number("record_every", record_every, low=0, strict=False, integer=True)
    check_number("print_every", print_every, low=1, strict=False, integer=True)
    if batch_size is not None:
        check_number("batch_size", batch_size, low=1, strict=False, integer=True)

    batches = batch_order(len(X), batch_size, seed)
    model.history = {"pass": [], "loss": [], "train_accuracy": [], "val_accuracy": []}
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked, not warned
        for i in range(num_passes):
            idx = next(batches)
            grads = model.backward(X, y) if idx is None else model.backward(X[idx], y[idx])
            optimizer.step(model.gradient_list(grads))
            if callback is not None:
                callback(model, i, grads)
            show = log is not None and i % print_every == 0
            record = record_every and (i + 1) % record_every == 0
            if show or record:
                loss = _checked_loss(model, X, y, optimizer.epsilon, i)
                if show:
                    log(f"Loss after iteration {i}: {' '.join(f'{v:f}' for v in np.ravel(loss))}")
                if record:
                    _record(model, i + 1, loss, (X, y), (X_val, y_val))
            elif (i + 1) % print_every == 0:
                _check_parameters(model, optimizer.epsilon, i)  # cheap early stop on divergence
        _checked_loss(model, X, y, optimizer.epsilon, num_passes - 1)


def batch_order(n, batch_size, seed):
    """The examples of each pass, forever: None (the full batch), or the index arrays of
    shuffled mini-batches (a permutation per epoch from a generator seeded by `seed`)."""
    if batch_size is None or batch_size >= n:
        while True:
            yield None
    rng = np.random.default_rng([seed, 1])  # its own stream: initialisation stays the tutorial's
    while True:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start:start + batch_size]


def _record(model, n_pass, loss, train_data, val_data):
    h = model.history
    h["pass"].append(n_pass)
    h["loss"].append(loss)
    h["train_accuracy"].append(model.accuracy(*train_data))
    h["val_accuracy"].append(model.accuracy(*val_data) if val_data[0] is not None else np.nan)


def _check_parameters(model, epsilon, i):
    if not all(np.all(np.isfinite(p)) for p in model.parameters()):
        raise _diverged(i, "parameters became NaN or infinite", epsilon)


def _checked_loss(model, X, y, epsilon, i):
    _check_parameters(model, epsilon, i)
    loss = model.calculate_loss(X, y)
    if not np.all(np.isfinite(loss)):
        raise _diverged(i, f"loss is {loss}", epsilon)
    return loss


def _diverged(i, what, epsilon):
    return FloatingPointError(f"training diverged at pass {i}: {what} with learning rate "
                              f"epsilon={epsilon}; try a smaller epsilon")
