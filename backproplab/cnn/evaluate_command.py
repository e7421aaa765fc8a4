"""Evaluate a saved CNN (`train-cnn --save-model`, or a run's checkpoint) on the test set.

Example:
  backproplab evaluate-cnn runs/mnist-adam-relu-s0/model.pt
  backproplab evaluate-cnn runs/mnist-adam-relu-s0/checkpoint.pt --dataset mnist-subset
"""

from __future__ import annotations

from backproplab import config as flags
from backproplab.cnn.config import DataConfig
from backproplab.errors import BackproplabError, require


def add_arguments(parser):
    parser.add_argument("model", type=flags.text,
                        help="model.pt written by --save-model, or a checkpoint.pt")
    parser.add_argument("--device", default="auto", type=flags.text,
                        help="auto, cpu, cuda, cuda:N (default: auto)")
    parser.add_argument("--batch-size", type=flags.integer, default=1000,
                        help="examples per batch (default: 1000)")
    flags.add_arguments(parser, DataConfig, skip=("train_limit", "val_size"))


def run(args) -> int:
    require("torch", "cnn", "evaluate-cnn")
    if args.batch_size <= 0:
        raise BackproplabError(f"--batch-size must be a positive integer, got {args.batch_size}")
    # here, not at the top: PyTorch is imported only when evaluating, so --help answers at once
    from backproplab.cnn.checkpoint import load_model
    from backproplab.cnn.data import load_tensors
    from backproplab.cnn.distributed import pick_device
    from backproplab.cnn.train import check_memory, evaluate, memory_need

    device = pick_device(args.device)
    model = load_model(args.model, device)
    data = load_tensors(flags.from_args(DataConfig, args)).check_examples(["test"])
    sizes = {"train": len(data.train[1]), "test": len(data.test[1])}
    check_memory(memory_need(sizes, eval_batch_size=args.batch_size, eval_flag="--batch-size"),
                 device, "the evaluation")
    data = data.to(device)
    result = evaluate(model, *data.test, batch_size=args.batch_size)
    correct = round(result["accuracy"] * result["n"])
    print(f"{args.model}: test accuracy {result['accuracy']:.2%} ({correct}/{result['n']}), "
          f"test loss {result['loss']:.4f} on {data.source.describe()}")
    return 0
