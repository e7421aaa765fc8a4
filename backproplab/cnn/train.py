"""Training the CNN: config -> seed -> data -> model -> optimiser -> epochs -> result.

`train` reads top to bottom: the set-up, then an epoch loop calling `train_epoch`,
`evaluate_epoch` and the checkpoint. Monitoring (`Monitor`), the run folder and its checkpoints
(`RunFiles`), distribution (`Distributed`) and stopping early (`Stopper`) are objects it calls
at fixed points.

Randomness comes only from explicit seeds: the initial weights from `seed` (drawn inside
`torch.random.fork_rng`, because torch's initialisers use the global RNG; the caller's global
state is restored), the data order of epoch e from a generator seeded with (seed, e) -- the same
on every rank, as DistributedSampler does -- and dropout from a generator of its own per rank,
whose state is saved in every checkpoint. So a run resumed from any checkpoint, including one
written on Ctrl-C in the middle of an epoch, continues exactly as if never interrupted.

Under `torchrun --nproc_per_node=N -m backproplab train-cnn ...` each process trains on its
1/N share of every epoch's order (padded to equal shares, as DistributedSampler does) with
DistributedDataParallel (gloo on CPU, nccl on CUDA); `--batch-size` is per process; losses and
accuracies are summed over ranks; rank 0 alone writes TensorBoard, CSV and checkpoints.
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from backproplab.cnn import architecture
from backproplab.cnn import model as net
from backproplab.cnn.checkpoint import RunFiles, TrainState, config_identity, save_model
from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
from backproplab.cnn.data import Tensors, load_tensors
from backproplab.cnn.distributed import Distributed
from backproplab.errors import BackproplabError
from backproplab.monitor import Verdict
from backproplab.monitor.watcher import Monitor
from backproplab.progress import Progress


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or `on_step` asking to stop): a checkpoint was saved at `step` in `logdir`."""

    def __init__(self, logdir: Path, step: int):
        super().__init__(f"interrupted at step {step}; checkpoint saved in {logdir}; "
                         f"continue with --resume")
        self.logdir, self.step = logdir, step


@dataclass
class RunResult:
    """What `train` returns: the run's folder, its per-epoch history and final metrics."""

    logdir: Path
    config: dict  # the TrainConfig as run.json records it (with the learning rate used)
    data: str  # the data source, described
    history: list[dict]  # per epoch: epoch, step, time, train/epoch_loss, test/loss,
    #                      test/accuracy (and val/loss, val/accuracy)
    time: float  # training seconds, summed over interruptions
    steps: int
    resumed: bool
    model: Path | None  # LOGDIR/model.pt, written with save_model
    verdicts: list[Verdict]  # the training-health rules that fired (LOGDIR/health.json)

    @property
    def final(self) -> dict:
        """The last epoch's row of `history` ({} before the first epoch ends)."""
        return self.history[-1] if self.history else {}

    @property
    def checkpoint(self) -> Path:
        return self.logdir / "checkpoint.pt"

    @property
    def stats_csv(self) -> Path:
        return self.logdir / "stats.csv"

    @property
    def histograms_csv(self) -> Path:
        return self.logdir / "histograms.csv"

    @property
    def metrics_csv(self) -> Path:
        return self.logdir / "metrics.csv"


@dataclass
class Run:
    """What a run trains with: built once by `train`, read by each epoch."""

    config: TrainConfig
    dist: Distributed
    data: Tensors
    model: net.Net
    ddp: torch.nn.Module  # the model, in DistributedDataParallel under torchrun
    optimizer: torch.optim.Optimizer
    scheduler: object | None
    monitor: Monitor
    steps_per_epoch: int


# --------------------------------------------------------------------------- the loop

def train(config: TrainConfig, data_config: DataConfig | None = None,
          monitor_config: MonitorConfig | None = None, *, data: Tensors | None = None,
          progress=True, on_step=None) -> RunResult:
    """Train the CNN into its run folder (`config.logdir`); returns the run's result.

    `data`: tensors already loaded (compare-cnn loads them once for all runs), else loaded from
    `data_config`. `progress`: True for a bar per epoch, False for none, or a callable
    `progress(steps_done, steps_total, description)` called after every step. `on_step(step)`
    returning True stops the run as Ctrl-C does (saves a checkpoint, raises TrainingInterrupted).
    """
    data_config = data_config or DataConfig()
    monitor_config = monitor_config or MonitorConfig()
    if config.threads:
        torch.set_num_threads(config.threads)  # process-wide, as PyTorch has it
    dist = Distributed.start(config.device)
    files = RunFiles(config.logdir or default_logdir(config, data_config), dist)
    try:
        data = (data or load_tensors(data_config, progress=dist.is_main)).check_examples()
        check_memory(run_memory_need(config, monitor_config, data, dist.world), dist.device)
        data = data.to(dist.device)
        checkpoint = files.open(config, data.identity())  # None: a new run

        model = make_model(config, dist)
        optimizer = make_optimizer(config, model)
        steps = steps_per_epoch(len(data.train[1]), config.batch_size, dist.world)
        scheduler = make_scheduler(config, optimizer, steps)
        state = TrainState()
        if checkpoint is not None:
            state = files.restore(checkpoint, model, optimizer, scheduler, steps)
        resumed_at = state.step if checkpoint is not None else None
        finished = state.epoch >= config.epochs  # a finished run is read back, not trained

        with files.monitor(monitor_config, model, optimizer, resumed_at, finished) as monitor, \
                Stopper(dist, on_step) as stop:
            run = Run(config, dist, data, model, dist.wrap(model), optimizer, scheduler, monitor,
                      steps)
            clock = time.perf_counter() - state.elapsed
            for epoch in range(state.epoch, config.epochs):
                stopping = train_epoch(run, state, epoch, stop, progress if dist.is_main else False)
                state.elapsed = time.perf_counter() - clock
                if state.batch == steps:  # a checkpoint never ends an epoch unevaluated
                    end_epoch(run, state, epoch, evaluate_epoch(run, state, epoch), progress)
                files.save(config, data.identity(), model, optimizer, scheduler, state, monitor)
                if stopping and state.epoch < config.epochs:  # the one place a run stops early
                    raise TrainingInterrupted(files.path, state.step)

        if config.save_model and dist.is_main:
            save_model(files.path / "model.pt", model, config, data.identity())
        return RunResult(files.path, config_identity(config), data.source.describe(),
                         state.history, state.elapsed, state.step, checkpoint is not None,
                         files.path / "model.pt" if config.save_model else None,
                         monitor.verdicts)
    finally:
        files.close()
        dist.stop()


def train_epoch(run: Run, state: TrainState, epoch: int, stop: Stopper, progress) -> bool:
    """Train epoch `epoch` from batch `state.batch` on, to its end or until `stop` is asked
    (then True); `state` follows every step."""
    config, dist, model, monitor, optimizer = (run.config, run.dist, run.model, run.monitor,
                                               run.optimizer)
    X, Y = run.data.train
    batches = epoch_batches(len(Y), config.batch_size, config.seed, epoch, dist)
    bar = epoch_bar(progress, run, epoch, state.batch)
    model.train()
    for i in range(state.batch, len(batches)):
        idx = batches[i]
        with autocast(config, dist.device):
            out = run.ddp(X[idx])
        loss = F.nll_loss(out.float(), Y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        failure = None
        try:
            monitor.step(loss, epoch)  # after the update, before the schedule: this step's lr
        except BackproplabError as exc:  # rank 0's event file (a full disk): under DDP every
            if dist.world == 1:          # rank must hear of it, or the others would wait
                raise
            failure = str(exc)
        if config.scheduler == "onecycle":  # per step ("step" is per epoch: end_epoch)
            run.scheduler.step()
        value = float(loss.detach())  # the one sync a step makes: also the divergence check
        wanted, bad = stop.asked(state.step + 1, value, failure)  # under DDP: every rank's
        if bad is not None:
            raise diverged(config, epoch, state.step + 1, *bad)
        state.loss_sum += value * len(idx)
        state.count += len(idx)
        state.step, state.batch = state.step + 1, i + 1
        bar(state)
        if wanted:
            return True
    return False


def diverged(config: TrainConfig, epoch: int, step: int, loss, where: str = ""
             ) -> FloatingPointError:
    """The error that stops a run whose loss became NaN or infinite, as the NumPy engine's
    (`where`: on which ranks, under DDP)."""
    return FloatingPointError(
        f"training diverged at step {step} (epoch {epoch + 1}): loss is {loss}{where} with "
        f"--optimizer {config.optimizer}, --lr {config.learning_rate}, --weight-decay "
        f"{config.weight_decay}; try a smaller --lr (the last checkpoint is kept)")


def evaluate_epoch(run: Run, state: TrainState, epoch: int) -> dict:
    """One row of history: the epoch's mean training loss and the test (and val) metrics."""
    dist = run.dist
    train_loss = dist.sum(torch.tensor([state.loss_sum, state.count], dtype=torch.float64,
                                       device=dist.device)).tolist()
    row = {"epoch": epoch + 1, "step": state.step, "time": round(state.elapsed, 3),
           "train/epoch_loss": train_loss[0] / max(train_loss[1], 1)}
    data = run.data
    splits = [("test", data.test)] + ([("val", data.val)] if data.val is not None else [])
    for name, (x, y) in splits:
        with autocast(run.config, dist.device):
            result = evaluate(run.model, x, y, run.config.eval_batch_size, dist)
        row[f"{name}/loss"], row[f"{name}/accuracy"] = result["loss"], result["accuracy"]
        if not math.isfinite(result["loss"]):  # the epoch's last update made the weights NaN
            raise diverged(run.config, epoch, state.step, result["loss"])
    return row


def end_epoch(run: Run, state: TrainState, epoch: int, row: dict, progress) -> None:
    """Record the epoch's `row` (history, TensorBoard at its last step, the console), step a
    per-epoch schedule and move `state` to the next epoch's start."""
    state.history.append(row)

    def log():  # rank 0's; its failure to write (a full disk) reaches every rank
        _print_epoch(row, progress)
        run.monitor.log({k: v for k, v in row.items() if "/" in k}, state.step - 1, epoch)
    run.dist.on_main(log)
    if run.config.scheduler == "step":
        run.scheduler.step()
    state.epoch, state.batch, state.loss_sum, state.count = epoch + 1, 0, 0.0, 0


class Stopper:
    """Whether to stop early, asked after every step: Ctrl-C (it sets a flag read between
    steps, so that checkpoints are consistent; a second Ctrl-C interrupts at once),
    `on_step(step)` returning True, or a training loss that is NaN or infinite. Under DDP the
    ranks agree, in one all-reduce a step, so all stop after the same step: also when the loss
    is not finite on one rank only."""

    def __init__(self, dist: Distributed, on_step=None):
        self.dist, self.on_step, self.flag = dist, on_step, False
        self._previous = None  # the SIGINT handler to restore, when ours is installed

    def __enter__(self) -> Stopper:
        if threading.current_thread() is threading.main_thread():  # signals reach it alone
            self._previous = (signal.signal(signal.SIGINT, self._sigint),)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous[0])

    def _sigint(self, signum, frame):
        if self.flag:
            raise KeyboardInterrupt
        self.flag = True

    def asked(self, step: int, loss: float = 0.0, failure: str | None = None
              ) -> tuple[bool, tuple | None]:
        """After step `step`, whose training loss on this rank is `loss`: (whether to stop
        after it, and (the loss, on which ranks) when the loss is not finite, else None).
        `failure`: this rank's error (a BackproplabError's text), raised on every rank."""
        wanted = self.on_step is not None and bool(self.on_step(step))
        wanted = wanted or self.flag
        bad = not math.isfinite(loss)
        world, rank = self.dist.world, self.dist.rank
        if world == 1:
            if failure is not None:
                raise BackproplabError(failure)
            return wanted, ((loss,) if bad else None)
        # [stop wanted, the non-finite losses summed (NaN or inf), a flag per rank whose loss is
        # not finite, a flag per rank that failed]
        votes = torch.zeros(2 + 2 * world, dtype=torch.float64)
        votes[0], votes[1] = wanted, loss if bad else 0.0
        votes[2 + rank], votes[2 + world + rank] = bad, failure is not None
        votes = self.dist.sum(votes).tolist()
        failed = [r for r in range(world) if votes[2 + world + r]]
        if failed:  # the first failed rank's error, told by every rank
            raise BackproplabError(self.dist.share(failure, src=failed[0]))
        ranks = [r for r in range(world) if votes[2 + r]]
        if not ranks:
            return bool(votes[0]), None
        return bool(votes[0]), (votes[1], f" on rank{'s' * (len(ranks) > 1)} "
                                f"{', '.join(map(str, ranks))} of {world}")


def steps_per_epoch(n: int, batch_size: int, world: int = 1) -> int:
    """Steps in an epoch of `n` examples: each of `world` ranks takes its padded 1/world share
    in batches of `batch_size` (see `epoch_batches`)."""
    return math.ceil(math.ceil(n / world) / batch_size)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, dist=None) -> list:
    """This rank's batches of epoch `epoch`: index tensors on the data's device.

    The order is a permutation seeded by (seed, epoch), so it is reshuffled every epoch and can
    be recomputed on resume; with W ranks it is padded to a multiple of W and dealt out.
    """
    g = torch.Generator().manual_seed(_seed(seed, "order", epoch))
    order = torch.randperm(n, generator=g)
    if dist is not None and dist.world > 1:
        per_rank = math.ceil(n / dist.world)
        order = torch.cat([order, order[:per_rank * dist.world - n]])[dist.rank::dist.world]
    device = dist.device if dist is not None else "cpu"
    return list(order.to(device).split(batch_size))


@torch.no_grad()
def evaluate(model, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000, dist=None) -> dict:
    """Mean NLL loss and accuracy of `model` on (x, y), summed over ranks when distributed."""
    was_training = model.training
    model.eval()
    if dist is not None and dist.world > 1:  # each rank its share, then one all-reduce
        x, y = x[dist.rank::dist.world], y[dist.rank::dist.world]
    totals = torch.zeros(3, dtype=torch.float64, device=x.device)
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        out = model(xb)
        totals[0] += F.nll_loss(out.float(), yb, reduction="sum").double()
        totals[1] += (out.argmax(1) == yb).sum()
        totals[2] += len(yb)
    if dist is not None:
        totals = dist.sum(totals)
    model.train(was_training)
    loss, correct, n = totals.tolist()
    if n == 0:  # an accuracy of 0% measured on nothing is no result
        raise BackproplabError("evaluate: no examples to evaluate on")
    return {"loss": loss / max(n, 1), "accuracy": correct / max(n, 1), "n": int(n)}


def autocast(config: TrainConfig, device: torch.device):
    """bf16 autocast of forward passes where --precision bf16 asks for it (losses stay fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16,
                          enabled=config.precision == "bf16")


def make_optimizer(config: TrainConfig, model) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.learning_rate,
                                weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.learning_rate,
                           momentum=config.momentum, weight_decay=config.weight_decay)


def make_scheduler(config: TrainConfig, optimizer, steps_per_epoch: int):
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    if config.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.learning_rate, epochs=config.epochs,
            steps_per_epoch=steps_per_epoch)
    return None


def default_logdir(config: TrainConfig, data_config: DataConfig) -> str:
    return f"runs/{data_config.dataset}-{config.optimizer}-{config.activation}-s{config.seed}"


def make_model(config: TrainConfig, dist: Distributed) -> net.Net:
    """The initial network (weights from the seed) on the device in the configured layout,
    its dropout drawing from a generator of its own per rank."""
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    model = net.build(config.activation, config.seed).to(dist.device, memory_format=layout)
    model.dropout.generator = torch.Generator(dist.device).manual_seed(
        _seed(config.seed, "dropout", dist.rank))
    return model


def epoch_bar(progress, run: Run, epoch: int, start: int):
    """A per-step callback updating the epoch's progress bar (or the caller's callable)."""
    epochs, n_batches = run.config.epochs, run.steps_per_epoch
    if callable(progress):
        def report(state):
            progress(state.step, epochs * n_batches, f"epoch {epoch + 1}/{epochs}")
        return report
    bar = Progress(n_batches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                   enabled=bool(progress))
    bar.update(start)

    def update(state):
        done = state.batch == n_batches
        if done or state.batch % 20 == 0:
            bar.update(state.batch - bar.n, postfix=f"loss {state.loss_sum / state.count:.4f}")
        if done:
            bar.close()
    return update


def _print_epoch(row: dict, progress) -> None:
    if progress is True:
        parts = [f"epoch {row['epoch']}", f"train loss {row['train/epoch_loss']:.4f}",
                 f"test loss {row['test/loss']:.4f}", f"test accuracy {row['test/accuracy']:.2%}"]
        if "val/accuracy" in row:
            parts.append(f"val accuracy {row['val/accuracy']:.2%}")
        print(", ".join(parts) + f" ({row['time']:.1f} s)", flush=True)


# --------------------------------------------------------------------------- memory

# A stats.csv or histograms.csv row, which the monitor keeps for the whole run, with its share
# of the CSV text made at each checkpoint (measured: 217 bytes a row, --hist-bins 3000 and 6000)
ROW_BYTES = 200
ROWS_PER_HISTOGRAM = 6  # besides the bins: a quantity's stats.csv rows (min, max, mean, ...)


def memory_need(sizes: dict, *, batch_size: int = 0, eval_batch_size: int = 0,
                hist_bins: int = 0, monitored_steps: int = 0, world: int = 1,
                precision: str = "fp32", eval_flag: str = "--eval-batch-size") -> dict:
    """Bytes a run needs, about, by part: {part: (bytes, the option that sizes it, where)}.

    sizes: examples per split ({"train": n, "test": n, "val": n}), all held on the device. A
    training step keeps one forward pass's values per example of its batch (66 KiB in fp32,
    half in bf16; measured peaks in fp32: 71-73 KiB for a training step, 46-59 KiB for
    evaluation), an evaluation batch as much, one after the other; the monitor keeps every
    histogram's bins in memory as CSV rows for the whole run, with its statistics ("host": in
    the machine's memory, whatever the device). A batch is never larger than this rank's
    share of its split.
    """
    per_example = (2 if precision == "bf16" else 4) * architecture.values_per_example()
    share = {split: math.ceil(n / world) for split, n in sizes.items()}
    need = {"the data": (sum(sizes.values()) * (4 * math.prod(architecture.INPUT) + 8),
                         "the dataset and its limits", "device")}
    if batch_size:
        need["a training step"] = (min(batch_size, share["train"]) * per_example,
                                   f"--batch-size {batch_size}", "device")
    if eval_batch_size:
        largest = max(n for split, n in share.items() if split != "train")
        need["an evaluation batch"] = (min(eval_batch_size, largest) * per_example,
                                       f"{eval_flag} {eval_batch_size}", "device")
    if monitored_steps:
        rows = architecture.N_HISTOGRAMS * (hist_bins + ROWS_PER_HISTOGRAM) * monitored_steps
        need["the monitor's statistics"] = (
            rows * ROW_BYTES, f"--hist-bins {hist_bins} at {monitored_steps:,} monitored steps "
            "of --monitor-every and --epochs", "host")
    return need


def check_memory(need: dict, device: torch.device, what: str = "the run") -> None:
    """Refuse, before anything is allocated or written, a run whose `memory_need` exceeds the
    memory of its device (for a CUDA device, the parts on the host: the machine's memory).
    A training step and an evaluation batch come one after the other: the larger counts."""
    steps = ("a training step", "an evaluation batch")
    use = {part: v for part, v in need.items() if part not in steps}
    largest = max((p for p in steps if p in need), key=lambda p: need[p][0], default=None)
    if largest is not None:
        use[largest] = need[largest]
    places = {"device": device if device.type == "cuda" else "host", "host": "host"}
    for place in dict.fromkeys(places.values()):
        parts = sorted(((b, part, option) for part, (b, option, where) in use.items()
                        if places[where] == place), reverse=True)
        total, (limit, name) = sum(b for b, _, _ in parts), memory_of(place)
        if limit and total > limit:
            detail = ", ".join(f"{part} {_bytes(b)} ({option})" for b, part, option in parts
                               if b >= total / 100)
            raise BackproplabError(
                f"{what} needs about {_bytes(total)} of memory, more than the {_bytes(limit)} "
                f"of {name}: {detail}; use smaller sizes (nothing was trained or written)")


def memory_of(place) -> tuple[int, str]:
    """(bytes, a name) of the memory of "host" (this machine, or its container's limit) or
    of a CUDA device; 0 where unknown."""
    if place != "host":
        props = torch.cuda.get_device_properties(place)
        return props.total_memory, f"{place} ({props.name})"
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 0
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = int(Path(limit_file).read_text())
        except (OSError, ValueError):  # absent, or "max"
            continue
        if 0 < limit < (total or limit + 1):
            return limit, "this container's memory limit"
    return total, "this machine's memory"


def run_memory_need(config: TrainConfig, monitor_config: MonitorConfig, data: Tensors,
                    world: int = 1) -> dict:
    """`memory_need` of a run of `config` on `data` with `world` ranks."""
    sizes = {"train": len(data.train[1]), "test": len(data.test[1]),
             "val": 0 if data.val is None else len(data.val[1])}
    steps = config.epochs * steps_per_epoch(sizes["train"], config.batch_size, world)
    every = monitor_config.monitor_every
    return memory_need(sizes, batch_size=config.batch_size,
                       eval_batch_size=config.eval_batch_size, hist_bins=monitor_config.hist_bins,
                       monitored_steps=steps // every + 1 if every else 0, world=world,
                       precision=config.precision)


def _bytes(n: float) -> str:
    """1.5 GiB, 66 KiB, 12 bytes."""
    if n < 1024:
        return f"{int(n)} bytes"
    unit = min(int(math.log(n, 1024)), 4)
    return f"{n / 1024**unit:.3g} {('KiB', 'MiB', 'GiB', 'TiB')[unit - 1]}"


def _seed(*parts) -> int:
    """A 63-bit seed from any parts, e.g. (seed, "order", epoch): distinct streams never meet."""
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:15], 16)
