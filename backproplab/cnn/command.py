"""Train the problem set's CNN on MNIST, with every layer watched in TensorBoard.

Examples:
  backproplab train-cnn --optimizer adam --activation relu --logdir runs/adam-relu
  backproplab train-cnn --recipe fast                  # >= 99% test accuracy in a few epochs
  backproplab train-cnn --dataset mnist-subset --epochs 1 --dry-run   # seconds, offline
  torchrun --nproc_per_node=2 -m backproplab train-cnn --logdir runs/ddp
  tensorboard --logdir runs

The run folder holds the TensorBoard events, a checkpoint written after every epoch (continue
with --resume; Ctrl-C also writes one), stats.csv / histograms.csv (the per-layer statistics),
metrics.csv (one row per epoch) and, with --save-model, model.pt.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from backproplab import config as flags
from backproplab.cnn.config import (
    RECIPES,
    DataConfig,
    MonitorConfig,
    TrainConfig,
    add_dry_run,
    data_config,
    with_recipe,
)
from backproplab.errors import require


def add_arguments(parser):
    parser.add_argument("--recipe", choices=tuple(RECIPES), default="classic",
                        help="preset of training settings; flags given explicitly win: classic "
                             "(the problem set's) or fast (" + _recipe_text("fast") + ")")
    flags.add_arguments(parser, TrainConfig)
    flags.add_arguments(parser, DataConfig)
    flags.add_arguments(parser, MonitorConfig)
    add_dry_run(parser)
    # Parsed values stay None unless given, so a recipe can fill in the rest (the help above
    # already shows the dataclass defaults).
    parser.set_defaults(**{f.name: None for f in dataclasses.fields(TrainConfig)})


def configs(args) -> tuple[TrainConfig, DataConfig, MonitorConfig]:
    """The three configs from the flags: recipe first, then what was given explicitly."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name) is not None}
    return (with_recipe(args.recipe, **given), data_config(args),
            flags.from_args(MonitorConfig, args))


def run(args) -> int:
    require("torch", "cnn", "train-cnn")
    require("tensorboard", "cnn", "train-cnn")
    train_config, data_config, monitor_config = configs(args)
    # here, not at the top: PyTorch is imported only when training, so --help answers at once
    from backproplab.cnn.train import TrainingInterrupted, train
    from backproplab.monitor import health

    try:
        result = train(train_config, data_config, monitor_config)
    except TrainingInterrupted as stop:
        print(f"backproplab train-cnn: {stop}", file=sys.stderr)
        raise KeyboardInterrupt from None  # the CLI's exit status 130
    if result.history and os.environ.get("RANK", "0") == "0":  # once under torchrun
        final = result.final
        print(f"{result.logdir}: test accuracy {final['test/accuracy']:.2%}, test loss "
              f"{final['test/loss']:.4f} after {final['epoch']} epochs, {result.time:.1f} s")
        print(health.report(result.verdicts))
    return 0


def _recipe_text(name: str) -> str:
    return ", ".join(f"{k.replace('_', '-')} {v}" for k, v in RECIPES[name].items())
