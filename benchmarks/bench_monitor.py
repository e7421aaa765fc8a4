"""backproplab.monitor's overhead at the default interval (statistics every 100 steps).

Two models, each trained monitored and unmonitored, the runs interleaved so that the load of a
shared machine falls on both alike:
  1. the problem set's CNN through `train-cnn`'s trainer (batch 64, Adam, ReLU), one epoch of
     MNIST per run (target: at most 5% of wall time);
  2. a ResNet-18-sized CNN (BasicBlocks [2, 2, 2, 2], widths 64-512, BatchNorm, 11.2 M
     parameters) on random 3x32x32 images, `watch` discovering its layers itself.
Reported per model: median wall time of the runs, the overhead (monitored / unmonitored - 1),
and the monitor's own time inside the monitored runs (its step() calls and its hooks' work in
the forward passes), which is less noisy than the difference of two wall times.

    python benchmarks/bench_monitor.py --data-dir ../shared/data/mnist [--repeats 3]
        [--resnet-steps 300] [--resnet-batch 32] [--threads 1] [--only cnn,resnet] [--out F.json]

Never run as a test.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.tensorboard import SummaryWriter  # noqa: F401  imported here, not in a timed run

from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
from backproplab.cnn.data import load_tensors
from backproplab.cnn.train import train
from backproplab.monitor import watch
from backproplab.monitor.watcher import Monitor


class MonitorClock:
    """Time spent inside the monitor: its step() calls and its hooks' recording."""

    NAMES = ("step", "_record")

    def __enter__(self):
        self.seconds, self.originals = 0.0, {n: getattr(Monitor, n) for n in self.NAMES}
        for name, original in self.originals.items():
            setattr(Monitor, name, self._timed(original))
        return self

    def _timed(self, original):
        def call(monitor, *args, **kwargs):
            t = time.perf_counter()
            try:
                return original(monitor, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t
        return call

    def __exit__(self, *exc):
        for name, original in self.originals.items():
            setattr(Monitor, name, original)


# --------------------------------------------------------------------------- the models

class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """ResNet-18 for 32x32 images (the CIFAR variant: a 3x3 stem, no max-pool)."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        blocks, c_in = [], 64
        for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1)]
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


# --------------------------------------------------------------------------- the runs

def cnn_run(tensors, every: int, folder: Path) -> dict:
    config = TrainConfig(epochs=1, logdir=str(folder), overwrite=True, device="cpu")
    with MonitorClock() as clock:
        t = time.perf_counter()
        result = train(config, monitor_config=MonitorConfig(monitor_every=every), data=tensors,
                       progress=False)
        wall = time.perf_counter() - t
    return {"wall": wall, "train": result.time, "monitor": clock.seconds, "steps": result.steps,
            "accuracy": result.final["test/accuracy"], "verdicts": len(result.verdicts)}


def resnet_run(steps: int, batch: int, every: int, folder: Path) -> dict:
    torch.manual_seed(0)
    model = ResNet18().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    data = [(torch.randn(batch, 3, 32, 32, generator=g).contiguous(
        memory_format=torch.channels_last), torch.randint(0, 10, (batch,), generator=g))
        for _ in range(8)]  # random data, reused: the work per step is what is measured
    with MonitorClock() as clock, watch(model, folder if every else None, every=every,
                                        optimizer=optimizer, n_classes=10) as mon:
        t = time.perf_counter()
        for i in range(steps):
            x, y = data[i % len(data)]
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            mon.step(loss)
        wall = time.perf_counter() - t
    return {"wall": wall, "monitor": clock.seconds, "steps": steps,
            "parameters": sum(p.numel() for p in model.parameters()),
            "tags": len({r.split(",", 3)[2] + "/" + r.split(",", 4)[3] for r in mon.stats_rows})}


def compare(name: str, run, repeats: int, say) -> dict:
    """`run(every, folder)` monitored (every 100) and not (0), interleaved, `repeats` times."""
    on, off = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for every, runs in ((100, on), (0, off)) if r % 2 == 0 else ((0, off), (100, on)):
                runs.append(run(every, Path(tmp) / f"{name}-{every}-{r}"))
                say(f"  {name} every={every} run {r + 1}: {runs[-1]['wall']:.2f} s")
    wall_on = statistics.median(x["wall"] for x in on)
    wall_off = statistics.median(x["wall"] for x in off)
    result = {"monitored_wall_s": [x["wall"] for x in on],
              "unmonitored_wall_s": [x["wall"] for x in off],
              "overhead_wall": wall_on / wall_off - 1,
              # each monitored run against the unmonitored run next to it in time
              "overhead_paired": statistics.median(a["wall"] / b["wall"] - 1
                                                   for a, b in zip(on, off)),
              "monitor_share_in_run": statistics.median(x["monitor"] / x["wall"] for x in on),
              "monitor_s_per_monitored_step": statistics.median(
                  x["monitor"] / (1 + (x["steps"] - 1) // 100) for x in on),
              "runs": on + off}
    say(f"{name}: overhead {100 * result['overhead_wall']:+.1f}% of wall time (medians; "
        f"{100 * result['overhead_paired']:+.1f}% median of pairs), "
        f"monitor's own time {100 * result['monitor_share_in_run']:.1f}% of the monitored run, "
        f"{1000 * result['monitor_s_per_monitored_step']:.0f} ms per monitored step")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="full MNIST (default: the bundled "
                        "subset, 10,000 images: fewer steps, same per-step work)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind (3)")
    parser.add_argument("--resnet-steps", type=int, default=300, help="steps per ResNet run")
    parser.add_argument("--resnet-batch", type=int, default=32, help="ResNet batch size (32)")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads (1: on a "
                        "machine shared with other work, OpenMP's spin-waiting makes more slower)")
    parser.add_argument("--only", default="cnn,resnet", help="cnn, resnet or both")
    parser.add_argument("--out", default=None, help="write the numbers as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    def say(text):
        print(text, flush=True)

    out = {"machine": {"platform": platform.platform(), "torch": torch.__version__,
                       "threads": args.threads}}
    parts = args.only.split(",")
    if "cnn" in parts:
        data = DataConfig(data_dir=args.data_dir) if args.data_dir else \
            DataConfig(dataset="mnist-subset")
        tensors = load_tensors(data)
        say(f"problem-set CNN, {data.dataset}, 1 epoch per run, batch 64, Adam, ReLU")
        out["cnn"] = compare("cnn", lambda every, folder: cnn_run(tensors, every, folder),
                             args.repeats, say)
    if "resnet" in parts:
        say(f"ResNet-18-sized CNN, random 3x32x32 data, batch {args.resnet_batch}, "
            f"{args.resnet_steps} steps per run")
        out["resnet"] = compare("resnet", lambda every, folder: resnet_run(
            args.resnet_steps, args.resnet_batch, every, folder), args.repeats, say)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
