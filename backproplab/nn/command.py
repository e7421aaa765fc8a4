"""Train a NumPy network on a 2-D dataset, print its loss and accuracy, save its boundary.

The defaults reproduce the problem set: moons (200 points, noise 0.20), a 2-3-2 tanh network,
reg_lambda 0.01, 20,000 full-batch passes of gradient descent with epsilon 0.01. Test accuracy is
measured on a fresh sample of 1,000 points from the same distribution.

example: backproplab train --dataset blobs --dims 2,4,4,4 --activation relu --out relu.png
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from backproplab import config, io
from backproplab.checks import check_layer_dims, check_memory, check_number
from backproplab.datasets import DATASETS, N_SAMPLES, dataset_info, heldout_sample, load_dataset
from backproplab.nn import defaults
from backproplab.progress import Progress

RECORD_EVERY = 100  # passes between points of the saved loss curve


@dataclass
class TrainNetworkConfig:
    dataset: str = field(default="moons", metadata={"help": "2-D dataset",
                                                    "choices": list(DATASETS)})
    samples: int = field(default=N_SAMPLES, metadata={"help": "training points"})
    noise: float | None = field(default=None, metadata={
        "help": "data noise", "type": float, "show_default": "the dataset's own"})
    dims: list[int] | None = field(default=None, metadata={
        "help": "layer sizes, input to output", "type": config.int_list,
        "show_default": "2,3,K with K the dataset's classes", "metavar": "D0,D1,...,K"})
    activation: str = field(default=defaults.ACTIVATION, metadata={
        "help": f"hidden activation: {', '.join(defaults.ACTIVATION_NAMES)}",
        "type": config.checked(defaults.activation_name)})
    reg_lambda: float = field(default=defaults.REG_LAMBDA, metadata={"help": "L2 strength"})
    seed: int = field(default=0, metadata={"help": "seed of the data and the weights"})
    epsilon: float = field(default=defaults.EPSILON, metadata={"help": "learning rate"})
    passes: int = field(default=defaults.NUM_PASSES, metadata={"help": "gradient steps"})
    batch_size: int | None = field(default=None, metadata={
        "help": "examples per step", "type": config.integer, "show_default": "full batch"})
    momentum: float = field(default=0.0, metadata={"help": "momentum"})
    lr_decay: float = field(default=0.0, metadata={"help": "step = epsilon / (1 + decay * i)"})
    out: str = field(default="boundary.png", metadata={"help": "figure (.png, .svg or .pdf)"})
    overwrite: bool = field(default=False, metadata={"help": "replace an existing --out"})


def add_arguments(parser):
    config.add_arguments(parser, TrainNetworkConfig)


def run(args) -> int:
    # NumPy and matplotlib load here, not with the options: `train --help` answers at once.
    from backproplab.nn.network import DeepNeuralNetwork
    from backproplab.plots import figure, plot_curves, plot_decision_boundary

    cfg = config.from_args(TrainNetworkConfig, args)
    n_classes = dataset_info(cfg.dataset).n_classes
    dims = cfg.dims or [2, 3, n_classes]
    if dims and dims[0] != 2:
        raise ValueError(f"--dims {_join(dims)}: the datasets are 2-D, so the input size must be 2")
    if dims and dims[-1] != n_classes:
        raise ValueError(f"--dims {_join(dims)}: {cfg.dataset} has {n_classes} classes, "
                         f"so the output size must be {n_classes}")
    check_number("--passes", cfg.passes, low=1, strict=False, integer=True)
    check_number("--epsilon", cfg.epsilon, low=0)
    check_number("--samples", cfg.samples, low=1, strict=False, integer=True)
    # Before any allocation: the training sample, the held-out one and the figure's grid.
    check_memory(check_layer_dims(dims), cfg.samples + 1000 + 200 * 200,
                 what=f"--dims {_join(dims)} with --samples {cfg.samples}")
    io.check_new_file(cfg.out, cfg.overwrite, suffixes=(".png", ".svg", ".pdf"))
    X, y = load_dataset(cfg.dataset, cfg.samples, cfg.noise, cfg.seed)
    X_test, y_test = heldout_sample(cfg.dataset, cfg.noise, cfg.seed)
    model = DeepNeuralNetwork(dims, cfg.activation, cfg.reg_lambda, cfg.seed)
    print(f"{model} on {cfg.dataset} ({len(X)} points), {cfg.passes} passes, "
          f"epsilon={cfg.epsilon}")

    start = time.perf_counter()
    long_run = cfg.passes >= 5000 and sys.stderr.isatty()  # in a log the loss lines suffice
    with Progress(cfg.passes, "train", unit="pass", enabled=long_run) as bar:
        def tick(_model, i, _grads):
            if (i + 1) % RECORD_EVERY == 0 or i + 1 == cfg.passes:
                bar.update((i + 1) - bar.n)

        model.fit_model(X, y, cfg.epsilon, cfg.passes, print_loss=True,
                        batch_size=cfg.batch_size, momentum=cfg.momentum, lr_decay=cfg.lr_decay,
                        record_every=min(RECORD_EVERY, cfg.passes), X_val=X_test, y_val=y_test,
                        callback=tick, log=bar.write)
    seconds = time.perf_counter() - start
    train_acc, test_acc = model.accuracy(X, y), model.accuracy(X_test, y_test)
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f} "
          f"(fresh {len(X_test)} points)  {seconds:.1f} s")

    fig, axes = figure(1, 2, size=(4.6, 4.0))
    plot_decision_boundary(model, X, y, ax=axes[0, 0], title=(
        f"{_join(dims)} {cfg.activation}: train {train_acc:.3f}, test {test_acc:.3f}"))
    h = model.history
    plot_curves(axes[0, 1], h["pass"], {"loss": h["loss"]}, title="training loss", logy=True)
    io.savefig(fig, cfg.out)
    print(f"saved {cfg.out}")
    return 0


def _join(dims):
    return ",".join(str(d) for d in dims)
