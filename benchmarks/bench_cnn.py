"""Part II benchmark: backproplab's CNN trainer against the classic PyTorch MNIST example's loop.

One run, one machine, full MNIST. Measures
  1. wall time of the problem set's configuration (batch 64, 10 epochs, SGD lr 0.01 momentum
     0.5, ReLU) with full monitoring against the classic loop training the same network
     (target: at most 1/2);
  2. monitoring overhead, two ways: monitored against unmonitored runs of the same seed, and the
     time spent in the monitor inside the monitored run (target: at most 5%);
  The three runs of 1 and 2 are interleaved epoch by epoch, so that the load of a shared
  machine falls on all of them alike.
  3. test accuracy after 10 epochs: Adam+ReLU (target >= 99.0%) and SGD+tanh (>= 98.5%);
  4. `--recipe fast`: test accuracy and wall time against the classic 10-epoch time (target:
     >= 99.0% in at most 1/4).

    python benchmarks/bench_cnn.py --data-dir ../shared/data/mnist [--quick] [--out FILE.json]
                                   [--epochs 10] [--seeds 3] [--only classic,accuracy,fast]

Never run as a test. Timings on a shared machine are noisy: see the repeats and the interleaving.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from backproplab.cnn import model as net
from backproplab.cnn.config import RECIPES, DataConfig, MonitorConfig, TrainConfig, with_recipe
from backproplab.cnn.data import load_tensors
from backproplab.cnn.train import train
from backproplab.data import IMAGE_DATASETS, load
from backproplab.monitor.watcher import Monitor

# --------------------------------------------------------------------------- the classic loop
# As in pytorch/examples mnist/main.py: a Dataset converting and normalising each image on
# access, a shuffling DataLoader (no workers on CPU), SGD lr 0.01 momentum 0.5, batch 64, test
# batch 1000, `loss.item()` logged every 10 batches. Two versions of the per-image work:
#   "torchvision": what torchvision.datasets.MNIST + ToTensor() + Normalize() execute per image
#                  (a PIL image from the uint8 tensor, PIL -> tensor, view/permute, /255, then
#                  normalize's clone, as_tensor, std check, sub_, div_), written out here;
#   "numpy":       a lean rewrite of the same conversion with NumPy, as cheap as per-item
#                  work gets (so the ratio against it is the conservative one).

CLASSIC_VARIANTS = ("torchvision", "numpy")


class ClassicMNIST(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, variant: str):
        self.data = torch.from_numpy(images.copy())  # torchvision keeps a uint8 tensor
        self.targets = torch.from_numpy(labels.astype(np.int64))
        self.variant = variant

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if self.variant == "numpy":
            x = torch.from_numpy(img.numpy().astype(np.float32) / 255.0).unsqueeze(0)
            return (x - 0.1307) / 0.3081, target
        img = Image.fromarray(img.numpy(), mode="L")  # torchvision's MNIST.__getitem__
        return normalize(to_tensor(img), (0.1307,), (0.3081,)), target


def to_tensor(pic) -> torch.Tensor:  # torchvision.transforms.functional.to_tensor, PIL "L"
    img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
    img = img.view(pic.size[1], pic.size[0], len(pic.getbands()))
    img = img.permute((2, 0, 1)).contiguous()
    return img.to(dtype=torch.get_default_dtype()).div(255)


def normalize(tensor, mean, std) -> torch.Tensor:  # torchvision.transforms.functional.normalize
    tensor = tensor.clone()
    mean = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device)
    std = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device)
    if (std == 0).any():
        raise ValueError("std evaluated to zero")
    return tensor.sub_(mean.view(-1, 1, 1)).div_(std.view(-1, 1, 1))


def classic_train(model, loader, optimizer, log_interval=10):
    model.train()
    for batch_idx, (data, target) in enumerate(loader):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % log_interval == 0:
            _ = loss.item()  # the example prints it


def classic_test(model, loader):
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            correct += output.argmax(1).eq(target).sum().item()
    return test_loss / len(loader.dataset), correct / len(loader.dataset)


def classic_epochs(train_arrays, test_arrays, variant: str, seed=0):
    """The classic example, one epoch per `next()`: yields (seconds, test accuracy)."""
    torch.manual_seed(seed)  # the example seeds the global RNG (shuffling, dropout)
    model = net.Net("relu")
    model.dropout.generator = None  # global RNG, as nn.Dropout
    train_loader = torch.utils.data.DataLoader(ClassicMNIST(*train_arrays, variant),
                                               batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(ClassicMNIST(*test_arrays, variant),
                                              batch_size=1000)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    while True:
        t0 = time.perf_counter()
        classic_train(model, train_loader, optimizer)
        accuracy = classic_test(model, test_loader)[1]
        yield time.perf_counter() - t0, accuracy


# --------------------------------------------------------------------------- ours

class Ours:
    """backproplab's trainer, run one epoch per `step()` by resuming its own checkpoint (which
    continues exactly, see tests/cnn/test_cnn_train.py), so that runs can be interleaved. The time
    of each call includes its start-up (TensorBoard writer, checkpoint load): a handicap."""

    def __init__(self, tensors, config: TrainConfig, monitor_every: int, logdir: Path):
        self.tensors, self.config, self.every, self.logdir = tensors, config, monitor_every, logdir
        self.epoch, self.times, self.monitor_time, self.history = 0, [], 0.0, []

    def step(self):
        self.epoch += 1
        config = replace(self.config, epochs=self.epoch, resume=self.epoch > 1,
                         logdir=str(self.logdir))
        # the monitor's own time inside the run: its step() calls (statistics, transfer, writing,
        # arming) and its hooks' work in the forward passes (_record)
        originals, spent = {name: getattr(Monitor, name) for name in ("step", "_record")}, [0.0]

        def timed(original):
            def call(monitor, *args, **kwargs):
                t = time.perf_counter()
                original(monitor, *args, **kwargs)
                spent[0] += time.perf_counter() - t
            return call
        for name, original in originals.items():
            setattr(Monitor, name, timed(original))
        try:
            t0 = time.perf_counter()
            result = train(config, monitor_config=MonitorConfig(monitor_every=self.every),
                           data=self.tensors, progress=False)
            self.times.append(time.perf_counter() - t0)
        finally:
            for name, original in originals.items():
                setattr(Monitor, name, original)
        self.monitor_time += spent[0]
        self.history = result.history

    def summary(self) -> dict:
        return {"time": sum(self.times), "epoch_times": self.times,
                "monitor_time": self.monitor_time,
                "accuracy": [row["test/accuracy"] for row in self.history],
                "loss": [row["test/loss"] for row in self.history]}


def run_ours(tensors, config: TrainConfig, logdir: Path, epochs: int) -> dict:
    ours = Ours(tensors, config, 100, logdir)
    for _ in range(epochs):
        ours.step()
    return ours.summary()


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "load_average_at_start": os.getloadavg()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="folder with full MNIST")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the 10-epoch runs")
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch on 10,000 examples, to try things (figures not comparable)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the accuracy runs")
    parser.add_argument("--only", default="classic,accuracy,fast",
                        help="comma-separated parts to run")
    parser.add_argument("--ours-bf16", action="store_true",
                        help="our problem-set runs with --precision bf16 --channels-last "
                             "(not the problem set's numerics: reported apart)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch.set_num_threads for both loops (0: PyTorch's default)")
    parser.add_argument("--out", default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    epochs = 1 if args.quick else args.epochs
    limit = 10000 if args.quick else 0
    parts = set(args.only.split(","))

    from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (imported before timing)

    data_config = DataConfig(data_dir=args.data_dir, train_limit=limit, download=False)
    tensors = load_tensors(data_config)
    source = tensors.source
    if source.kind != "full" and not args.quick:
        sys.exit(f"the benchmark needs full MNIST, found {source.describe()}")
    train_arrays, test_arrays = load(source, "train"), load(source, "test")
    if limit:
        train_arrays = tuple(a[:limit] for a in train_arrays)
    assert IMAGE_DATASETS["mnist"].mean == 0.1307  # the classic Normalize constants are these

    report = {"machine": machine(), "data": source.describe(), "epochs": epochs,
              "command": " ".join(["python", "benchmarks/bench_cnn.py", *sys.argv[1:]])}
    work = Path(tempfile.mkdtemp(prefix="bench_cnn_"))
    problem_set = TrainConfig(optimizer="sgd", activation="relu", epochs=epochs, batch_size=64,
                              lr=0.01, momentum=0.5, device="cpu")
    if args.ours_bf16:
        problem_set = replace(problem_set, precision="bf16", channels_last=True)
    report["ours_config"] = problem_set.__dict__

    def say(key, value):
        report[key] = value
        print(f"{key}: {json.dumps(value)}", flush=True)

    try:
        if "classic" in parts:  # both classic loops, ours monitored and not: epoch by epoch
            classics = {v: classic_epochs(train_arrays, test_arrays, v) for v in CLASSIC_VARIANTS}
            on = Ours(tensors, problem_set, 100, work / "on")
            off = Ours(tensors, problem_set, 0, work / "off")
            classic = {v: {"epoch_times": [], "accuracy": []} for v in CLASSIC_VARIANTS}
            for epoch in range(epochs):
                for variant, loop in classics.items():
                    seconds, accuracy = next(loop)
                    classic[variant]["epoch_times"].append(seconds)
                    classic[variant]["accuracy"].append(accuracy)
                for run in ((on, off) if epoch % 2 == 0 else (off, on)):
                    run.step()
                print(f"epoch {epoch + 1}: " + ", ".join(
                    f"classic-{v} {classic[v]['epoch_times'][-1]:.1f} s" for v in classic)
                    + f", monitored {on.times[-1]:.1f} s, unmonitored {off.times[-1]:.1f} s",
                    flush=True)
            for variant, c in classic.items():
                c["time"] = sum(c["epoch_times"])
                say(f"classic_{variant}", c)
                say(f"ratio_ours_monitored_to_classic_{variant}", {
                    "total": on.summary()["time"] / c["time"],
                    "median_of_epochs": statistics.median(
                        a / b for a, b in zip(on.times, c["epoch_times"]))})
            report["classic"] = classic["torchvision"]
            say("ours_monitored", on.summary())
            say("ours_unmonitored", off.summary())
            say("overhead_wall", {
                "total": on.summary()["time"] / off.summary()["time"] - 1,
                "median_of_epochs": statistics.median(a / b - 1 for a, b in zip(on.times,
                                                                                  off.times))})
            say("overhead_in_run", on.monitor_time / (on.summary()["time"] - on.monitor_time))
        if "accuracy" in parts:
            for optimizer, activation in (("adam", "relu"), ("sgd", "tanh")):
                runs = [run_ours(tensors, TrainConfig(optimizer=optimizer, activation=activation,
                                                      seed=seed, device="cpu"),
                                 work / f"{optimizer}-{activation}-{seed}", epochs)
                        for seed in range(args.seeds)]
                finals = [r["accuracy"][-1] for r in runs]
                say(f"{optimizer}_{activation}", {"final_accuracy": finals,
                                                  "mean": statistics.mean(finals), "runs": runs})
        if "fast" in parts:
            fast = with_recipe("fast", device="cpu")
            runs = []
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                result = train(replace(fast, seed=seed, logdir=str(work / f"fast{seed}")),
                               data=tensors, progress=False)
                runs.append({"time": time.perf_counter() - t0,
                             "accuracy": [row["test/accuracy"] for row in result.history]})
            say("fast", {"config": RECIPES["fast"], "runs": runs,
                         "final_accuracy": [r["accuracy"][-1] for r in runs],
                         "time": [r["time"] for r in runs]})
            for variant in CLASSIC_VARIANTS:
                if f"classic_{variant}" in report:
                    classic_time = report[f"classic_{variant}"]["time"]
                    say(f"fast_time_over_classic_{variant}",
                        [r["time"] / classic_time for r in runs])
    finally:
        shutil.rmtree(work, ignore_errors=True)
        report["load_average_at_end"] = __import__("os").getloadavg()
        if args.out:
            Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
