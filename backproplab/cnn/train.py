"""Training the CNN: config -> seed -> data -> model -> optimiser -> loop -> checkpoint -> save.

The loop is short; monitoring (`Monitor`), checkpoints (`RunFolder`) and distribution
(`Distributed`) are objects it calls at fixed points.

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

import contextlib
import dataclasses
import hashlib
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn import functional as F

from backproplab import __version__
from backproplab.cnn import model as net
from backproplab.cnn.config import DataConfig, MonitorConfig, TrainConfig
from backproplab.cnn.data import Tensors, load_tensors
from backproplab.cnn.monitor import Monitor
from backproplab.errors import BackproplabError
from backproplab.io import atomic_path, claim_folder, write_json, write_text
from backproplab.progress import Progress

CHECKPOINT_FORMAT = "backproplab-cnn-checkpoint/1"
MODEL_FORMAT = "backproplab-cnn-model/1"
# Files a run folder holds; --overwrite removes these and nothing else.
RUN_FILES = ("run.json", "checkpoint.pt", "model.pt", "stats.csv", "histograms.csv",
             "metrics.csv", "metrics.json")
EVENTS_GLOB = "events.out.tfevents.*"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or `on_step` asking to stop): a checkpoint was saved at `step` in `logdir`."""

    def __init__(self, logdir: Path, step: int):
        super().__init__(f"interrupted at step {step}; checkpoint saved in {logdir}; "
                         f"continue with --resume")
        self.logdir, self.step = logdir, step


# --------------------------------------------------------------------------- the loop

def train(config: TrainConfig, data_config: DataConfig | None = None,
          monitor_config: MonitorConfig | None = None, *, data: Tensors | None = None,
          progress=True, on_step=None) -> dict:
    """Train the CNN; returns the run's result (see `_result`).

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
    try:
        data = (data or load_tensors(data_config, progress=dist.is_main)).to(dist.device)
        logdir = Path(config.logdir or default_logdir(config, data_config))
        run = RunFolder(logdir, dist)
        checkpoint = run.prepare(config, data.identity())

        layout = torch.channels_last if config.channels_last else torch.contiguous_format
        model = net.build(config.activation, config.seed).to(dist.device, memory_format=layout)
        model.dropout.generator = torch.Generator(dist.device).manual_seed(
            _seed(config.seed, "dropout", dist.rank))
        steps_per_epoch = math.ceil(math.ceil(len(data.train[1]) / dist.world) / config.batch_size)
        optimizer = make_optimizer(config, model)
        scheduler = make_scheduler(config, optimizer, steps_per_epoch)
        state = TrainState()
        if checkpoint is not None:
            state = run.restore(checkpoint, model, optimizer, scheduler)
        ddp = dist.wrap(model)
        # A resumed run hides the interrupted run's events from its first step to be redone on.
        finished = checkpoint is not None and state.epoch >= config.epochs
        writer = None if finished else run.writer(
            purge_step=state.step if checkpoint is not None else None)
        monitor = Monitor(monitor_config, writer)
        if checkpoint is not None and dist.is_main:
            monitor.load_csv(logdir)  # written with the checkpoint, so it ends where it ends

        X, Y = data.train
        total_steps = config.epochs * steps_per_epoch
        stop = _StopFlag(dist)
        t0 = time.perf_counter() - state.elapsed
        try:
            with stop.on_sigint():
                for epoch in range(state.epoch, config.epochs):
                    batches = epoch_batches(len(Y), config.batch_size, config.seed, epoch, dist)
                    bar = _bar(progress if dist.is_main else False, len(batches), epoch,
                               config.epochs, state.batch, state.step, total_steps)
                    model.train()
                    stopping = False
                    for i in range(state.batch, len(batches)):
                        idx = batches[i]
                        monitored = dist.is_main and monitor.due(state.step)
                        with monitor.capture(model) if monitored else contextlib.nullcontext():
                            with autocast(config, dist.device):
                                out = ddp(X[idx])
                        loss = F.nll_loss(out.float(), Y[idx])
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        if monitored:  # after backward: gradients exist; before the update
                            monitor.log_step(state.step, epoch, model, loss, _lr(optimizer))
                        optimizer.step()
                        if scheduler is not None and config.scheduler == "onecycle":
                            scheduler.step()
                        state.loss_sum += float(loss.detach()) * len(idx)
                        state.count += len(idx)
                        state.step, state.batch = state.step + 1, i + 1
                        bar(state)
                        stopping = stop.requested(on_step is not None and bool(on_step(state.step)))
                        if stopping and i + 1 < len(batches):
                            raise _Stop
                    state.elapsed = time.perf_counter() - t0
                    row = epoch_metrics(config, model, data, dist, state, epoch)
                    state.history.append(row)
                    if dist.is_main:
                        _print_epoch(row, progress)
                        monitor.log_epoch(state.step - 1, epoch, {  # at the epoch's last step
                            k: v for k, v in row.items() if "/" in k})
                    if scheduler is not None and config.scheduler == "step":
                        scheduler.step()
                    state.epoch, state.batch, state.loss_sum, state.count = epoch + 1, 0, 0.0, 0
                    run.save(config, data.identity(), model, optimizer, scheduler, state, monitor)
                    if stopping and epoch + 1 < config.epochs:  # asked on the epoch's last step:
                        raise TrainingInterrupted(logdir, state.step)  # finished, saved, stop
        except _Stop:
            state.elapsed = time.perf_counter() - t0
            run.save(config, data.identity(), model, optimizer, scheduler, state, monitor)
            raise TrainingInterrupted(logdir, state.step) from None
        finally:
            if writer is not None:
                writer.close()  # flushes the event file, also on Ctrl-C
        if config.save_model and dist.is_main:
            save_model(logdir / "model.pt", model, config, data.identity())
        return _result(logdir, config, data, state, checkpoint is not None)
    finally:
        dist.stop()


@dataclass
class TrainState:
    """Where a run is: the next (epoch, batch) to train, the global step, the epoch so far."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    loss_sum: float = 0.0  # of the current epoch's training losses, times batch sizes
    count: int = 0
    elapsed: float = 0.0  # training seconds, summed over interruptions
    history: list = field(default_factory=list)  # one row of metrics per finished epoch


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
    return {"loss": loss / max(n, 1), "accuracy": correct / max(n, 1), "n": int(n)}


def epoch_metrics(config, model, data: Tensors, dist, state: TrainState, epoch: int) -> dict:
    """One row of history: the epoch's mean training loss and the test (and val) metrics."""
    train_loss = dist.sum(torch.tensor([state.loss_sum, state.count], dtype=torch.float64,
                                       device=dist.device)).tolist()
    row = {"epoch": epoch + 1, "step": state.step, "time": round(state.elapsed, 3),
           "train/epoch_loss": train_loss[0] / max(train_loss[1], 1)}
    splits = [("test", data.test)] + ([("val", data.val)] if data.val is not None else [])
    for name, (x, y) in splits:
        with autocast(config, dist.device):
            result = evaluate(model, x, y, config.eval_batch_size, dist)
        row[f"{name}/loss"], row[f"{name}/accuracy"] = result["loss"], result["accuracy"]
    return row


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


# --------------------------------------------------------------------------- run folder

# Fields that may differ when a run is resumed (they do not change what is computed); --epochs
# may also grow, to train a finished run further, unless the schedule depends on it.
_RESUME_FREE = {"device", "threads", "channels_last", "logdir", "resume", "overwrite", "save_model",
                "eval_batch_size"}


class RunFolder:
    """A run's folder: refuses to mix runs, writes checkpoints atomically (rank 0 only)."""

    def __init__(self, path: Path, dist):
        self.path, self.dist = Path(path), dist

    def prepare(self, config: TrainConfig, data_identity: dict) -> dict | None:
        """Check the folder against `config`; return the checkpoint to resume from, if any."""
        path = self.path
        theirs = claim_folder(path, "run.json", "--logdir")
        if config.resume:
            if theirs is None or not (path / "checkpoint.pt").is_file():
                raise BackproplabError(f"--resume: {str(path)!r} holds no checkpoint to resume")
            self._check_same_run(theirs, config, data_identity)
            checkpoint = load_checkpoint(path / "checkpoint.pt", self.dist.device)
            if checkpoint["state"]["epoch"] > config.epochs:
                raise BackproplabError(
                    f"--resume: {str(path)!r} holds a run already trained for "
                    f"{checkpoint['state']['epoch']} epochs, more than --epochs {config.epochs}")
            return checkpoint
        if theirs is not None:
            if not config.overwrite:
                raise BackproplabError(
                    f"--logdir {str(path)!r} already holds a run ({_describe(theirs)}); pass "
                    f"--resume to continue it or --overwrite to replace it")
            self.dist.barrier()  # every rank has looked before rank 0 deletes
            if self.dist.is_main:
                for p in [path / n for n in RUN_FILES] + list(path.glob(EVENTS_GLOB)):
                    p.unlink(missing_ok=True)
        self.dist.barrier()
        if self.dist.is_main:
            write_json(path / "run.json", {
                "backproplab": __version__, "torch": torch.__version__,
                "config": _identity(config), "data": data_identity,
                "world_size": self.dist.world})
        return None

    def _check_same_run(self, theirs: dict, config: TrainConfig, data_identity: dict):
        mine = _identity(config)
        free = _RESUME_FREE | ({"epochs"} if config.scheduler != "onecycle" else set())
        differ = [f"{k}={theirs['config'].get(k)!r} there, {v!r} here" for k, v in mine.items()
                  if k not in free and theirs["config"].get(k) != v]
        if theirs.get("data") != data_identity:
            differ.append(f"data {theirs.get('data')} there, {data_identity} here")
        if theirs.get("world_size", 1) != self.dist.world:
            differ.append(f"{theirs.get('world_size', 1)} processes there, {self.dist.world} here")
        if differ:
            raise BackproplabError(f"--resume: {str(self.path)!r} holds another run: "
                                   + "; ".join(differ))

    def restore(self, checkpoint: dict, model, optimizer, scheduler) -> TrainState:
        try:
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(checkpoint["scheduler"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise BackproplabError(f"checkpoint in {self.path} does not fit this run: "
                                   f"{str(exc).splitlines()[0]}") from None
        rng = checkpoint["rng"]["dropout"]
        model.dropout.generator.set_state(rng[self.dist.rank].cpu())
        return TrainState(**checkpoint["state"])

    def writer(self, purge_step: int | None):
        """TensorBoard's SummaryWriter on rank 0; a resumed run hides events after its step."""
        if not self.dist.is_main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(self.path), purge_step=purge_step, flush_secs=30)

    def save(self, config, data_identity, model, optimizer, scheduler, state: TrainState,
             monitor: Monitor) -> None:
        """Checkpoint (every rank's dropout RNG gathered to rank 0), CSVs, metrics: atomically."""
        rng = self.dist.gather(model.dropout.generator.get_state())
        if not self.dist.is_main:
            return
        payload = {
            "format": CHECKPOINT_FORMAT, "architecture": net.architecture(model),
            "config": _identity(config), "data": data_identity,
            "state": dataclasses.asdict(state), "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": {"dropout": rng},
        }
        with atomic_path(self.path / "checkpoint.pt") as tmp:
            torch.save(payload, tmp)
        monitor.save_csv(self.path)
        write_text(self.path / "metrics.csv", _history_csv(state.history))
        write_json(self.path / "metrics.json", {"config": _identity(config), "data": data_identity,
                                                "history": state.history})
        if monitor.writer is not None:
            monitor.writer.flush()


def load_checkpoint(path: str | os.PathLike, device="cpu",
                    kinds: tuple = (CHECKPOINT_FORMAT,)) -> dict:
    """A checkpoint or saved model, checked: readable, ours, the problem set's architecture."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise BackproplabError(f"{str(path)!r} does not exist") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
        raise BackproplabError(f"{str(path)!r} is truncated or not a backproplab file "
                               f"({reason})") from None
    if not isinstance(payload, dict) or payload.get("format") not in kinds:
        raise BackproplabError(f"{str(path)!r} is not a {' or '.join(kinds)} file")
    expected = net.architecture(net.Net())
    if payload.get("architecture") != expected:
        raise BackproplabError(
            f"{str(path)!r} holds another architecture ({_arch_text(payload.get('architecture'))}"
            f"); this is the problem set's CNN ({_arch_text(expected)})")
    return payload


def save_model(path: Path, model, config: TrainConfig, data_identity: dict) -> Path:
    with atomic_path(path) as tmp:
        torch.save({"format": MODEL_FORMAT, "architecture": net.architecture(model),
                    "activation": config.activation, "data": data_identity,
                    "model": model.state_dict()}, tmp)
    return path


def load_model(path, device="cpu") -> net.Net:
    """A Net with the weights `--save-model` wrote (or the latest checkpoint's)."""
    payload = load_checkpoint(path, device, (MODEL_FORMAT, CHECKPOINT_FORMAT))
    if payload["format"] == MODEL_FORMAT:
        activation = payload["activation"]
    else:
        activation = payload["config"]["activation"]
    model = net.Net(activation).to(device)
    model.load_state_dict(payload["model"])
    return model.eval()


# --------------------------------------------------------------------------- distribution

class Distributed:
    """One process, or one rank of a torchrun job (RANK/WORLD_SIZE/LOCAL_RANK set)."""

    def __init__(self, device: torch.device, rank=0, world=1, group=False):
        self.device, self.rank, self.world, self._group = device, rank, world, group
        self.is_main = rank == 0

    @classmethod
    def start(cls, device: str = "auto") -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        dev = pick_device(device, local_rank)
        if world == 1:
            return cls(dev)
        import torch.distributed as td

        backend = "nccl" if dev.type == "cuda" else "gloo"
        started = not td.is_initialized()
        if started:
            if dev.type == "cuda":
                torch.cuda.set_device(dev)
            td.init_process_group(backend)
        return cls(dev, td.get_rank(), td.get_world_size(), group=started)

    def wrap(self, model):
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[self.device] if self.device.type ==
                                       "cuda" else None)

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            import torch.distributed as td

            t = t.to(self.device if self.device.type == "cuda" else "cpu")
            td.all_reduce(t)
        return t

    def gather(self, t: torch.Tensor) -> list:
        if self.world == 1:
            return [t]
        import torch.distributed as td

        out = [None] * self.world
        td.all_gather_object(out, t)
        return out

    def barrier(self):
        if self.world > 1:
            import torch.distributed as td

            td.barrier()

    def stop(self):
        if self._group:
            import torch.distributed as td

            td.destroy_process_group()


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise BackproplabError(
            f"unknown --device {name!r}; valid: auto, cpu, cuda, cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BackproplabError(f"--device {name}: CUDA is not available here; use cpu or auto")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local_rank}")
    return dev


# --------------------------------------------------------------------------- helpers

class _Stop(Exception):
    pass


class _StopFlag:
    """Ctrl-C sets a flag the loop reads between steps, so checkpoints are always consistent.
    A second Ctrl-C interrupts at once. Under DDP the ranks agree on stopping at the same step."""

    def __init__(self, dist):
        self.dist, self.flag = dist, False

    @contextlib.contextmanager
    def on_sigint(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self.flag:
                raise KeyboardInterrupt
            self.flag = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def requested(self, extra: bool = False) -> bool:
        wanted = self.flag or extra
        if self.dist.world > 1:
            wanted = bool(self.dist.sum(torch.tensor([float(wanted)])).item())
        return wanted


def _bar(enabled, n_batches, epoch, epochs, start, step, total_steps):
    """A per-step callback updating the epoch's progress bar (or the caller's callable)."""
    if callable(enabled):
        def report(state):
            enabled(state.step, total_steps, f"epoch {epoch + 1}/{epochs}")
        return report
    bar = Progress(n_batches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                   enabled=bool(enabled))
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


def _result(logdir: Path, config: TrainConfig, data: Tensors, state: TrainState,
            resumed: bool) -> dict:
    """What `train` returns: paths, per-epoch history, final metrics."""
    return {
        "logdir": logdir, "config": _identity(config), "data": data.source.describe(),
        "history": state.history, "final": state.history[-1] if state.history else {},
        "time": state.elapsed, "steps": state.step, "resumed": resumed,
        "checkpoint": logdir / "checkpoint.pt", "stats_csv": logdir / "stats.csv",
        "histograms_csv": logdir / "histograms.csv", "metrics_csv": logdir / "metrics.csv",
        "model": logdir / "model.pt" if config.save_model else None,
    }


def _identity(config: TrainConfig) -> dict:
    d = dataclasses.asdict(config)
    d["lr"] = config.learning_rate
    return d


def _describe(run: dict) -> str:
    c = run.get("config", {})
    return ", ".join(f"{k} {c.get(k)}" for k in ("optimizer", "activation", "epochs", "seed"))


def _arch_text(arch) -> str:
    if not isinstance(arch, dict):
        return "unknown"
    weights = {k: v for k, v in arch.items() if k.endswith("weight")}
    return ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in weights.items())


def _history_csv(history: list) -> str:
    if not history:
        return ""
    keys = list(history[0])
    return ",".join(keys) + "\n" + "".join(",".join(str(r.get(k, "")) for k in keys) + "\n"
                                           for r in history)


def _lr(optimizer) -> float:
    return optimizer.param_groups[0]["lr"]


def _seed(*parts) -> int:
    """A 63-bit seed from any parts, e.g. (seed, "order", epoch): distinct streams never meet."""
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:15], 16)



