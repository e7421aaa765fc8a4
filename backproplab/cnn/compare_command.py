"""Train the 2x2 grid {adam, sgd} x {relu, tanh} over seeds and compare them.

Each setting and seed is a TensorBoard run of its own under OUT/runs; OUT gets table.md /
table.csv (final test accuracy and loss, mean +- std over seeds, and time), curves.png (test
accuracy and loss per epoch, overlaid), weights.png (final weight histograms per layer) and
comparison.json. Rerunning the same command continues where it stopped.

Examples:
  backproplab compare-cnn --seeds 5 --epochs 10 --out compare-cnn
  backproplab compare-cnn --dataset mnist-subset --epochs 1 --dry-run --out /tmp/cmp
  tensorboard --logdir compare-cnn/runs
"""

from __future__ import annotations

from backproplab import config as flags
from backproplab.backends import BackendConfig, open_backend
from backproplab.cnn.config import (
    DataConfig,
    MonitorConfig,
    TrainConfig,
    add_dry_run,
    data_config,
)
from backproplab.errors import BackproplabError, require


def add_arguments(parser):
    parser.add_argument("--seeds", type=flags.integer, default=1,
                        help="seeds per setting, 0..N-1 (default: 1)")
    parser.add_argument("--out", default="compare-cnn", metavar="DIR", type=flags.text,
                        help="output folder (default: compare-cnn)")
    flags.add_arguments(parser, TrainConfig, skip=(
        "optimizer", "activation", "lr", "momentum", "weight_decay", "scheduler", "seed",
        "logdir", "resume", "save_model", "eval_batch_size"))
    flags.add_arguments(parser, DataConfig, skip=("val_size",))
    flags.add_arguments(parser, MonitorConfig, skip=("hist_bins",))
    flags.add_arguments(parser, BackendConfig)
    add_dry_run(parser)


def run(args) -> int:
    require("torch", "cnn", "compare-cnn")
    require("tensorboard", "cnn", "compare-cnn")
    if args.seeds <= 0:
        raise BackproplabError(f"--seeds must be a positive integer, got {args.seeds}")
    config = flags.from_args(TrainConfig, args)  # checks --epochs etc. before any work
    data = data_config(args)
    monitor_config = flags.from_args(MonitorConfig, args)
    # here, not at the top: PyTorch is imported only when training, so --help answers at once
    from backproplab.cnn.compare import run_comparison, table_markdown

    where = flags.from_args(BackendConfig, args)
    jobs = 1 if where.backend == "local" else None  # local: the runs one after another here
    with open_backend(where.backend, jobs=jobs, address=where.address) as backend:
        result = run_comparison(args.out, args.seeds, config, data, monitor_config,
                                backend=backend)
    print(f"\n{result.data}\n\n{table_markdown(result.table)}")
    print(f"written: {result.table_md}, {result.figures['curves']}, {result.figures['weights']}; "
          f"TensorBoard: tensorboard --logdir {result.runs_dir}")
    return 0
