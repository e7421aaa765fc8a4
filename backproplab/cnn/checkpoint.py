"""A CNN run's folder and what it holds: run.json, checkpoints, saved models, metrics.

The folder is an `io.RunFolder` marked by run.json (the run's config, data and world size, and
the versions that wrote it): a run continues only in a folder holding the same run, and
`--overwrite` removes only the run's own files (RUN_FILES and the TensorBoard events). Under
torchrun rank 0 alone claims the folder and writes into it; every rank reads the checkpoint.

A checkpoint holds everything an exact resume needs: model, optimizer, scheduler, the dropout
RNG of every rank and `TrainState` (where in which epoch the run is). Checkpoints and saved
models are checked when read: readable, ours, and of the architecture in `architecture.LAYERS`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from backproplab.cnn import architecture
from backproplab.cnn import model as net
from backproplab.cnn.config import CNN_ACTIVATIONS, MonitorConfig, TrainConfig
from backproplab.cnn.distributed import Distributed
from backproplab.errors import BackproplabError
from backproplab.io import (
    LOCK,
    RunFolder,
    check_regular_file,
    csv_text,
    differences,
    write_bytes,
    write_json,
    write_text,
)
from backproplab.monitor import health
from backproplab.monitor.watcher import Monitor, summary_writer

CHECKPOINT_FORMAT = "backproplab-cnn-checkpoint/1"
MODEL_FORMAT = "backproplab-cnn-model/1"
# Files a run folder holds besides run.json; --overwrite removes these and nothing else.
RUN_FILES = ("checkpoint.pt", "model.pt", "stats.csv", "histograms.csv", "metrics.csv",
             "metrics.json", "health.json", "events.out.tfevents.*")
# Fields that may differ when a run is resumed (they do not change what is computed); --epochs
# may also grow, to train a finished run further, unless the schedule depends on it. --threads
# and --device may change the arithmetic's last bits, but belong to the machine, not the run.
RESUME_FREE = ("device", "threads", "logdir", "resume", "overwrite", "save_model")
# Fields that do not change what is computed but do change the arithmetic's last bits (the
# convolutions' summation order, the evaluation's batches): fixed for a run, so that a resume
# continues exactly; each with the value a run folder that does not record it was written with
# (versions before the option: the contiguous layout, batches of 1000).
RESUME_FIXED = {"channels_last": False, "eval_batch_size": 1000}


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


def resume_free(config: TrainConfig) -> tuple:
    """Identity keys ("config.NAME") the comparison of a run with its resumption skips: those
    that may differ, and RESUME_FIXED's, compared by `fixed_change` (a message of their own)."""
    free = RESUME_FREE + tuple(RESUME_FIXED) + (
        ("epochs",) if config.scheduler != "onecycle" else ())
    return tuple(f"config.{name}" for name in free)


def fixed_change(recorded, config: TrainConfig) -> str:
    """What a resume of the run whose config is `recorded` would change of RESUME_FIXED, as
    the error says it ("" when nothing)."""
    recorded = recorded if isinstance(recorded, dict) else {}
    for name, unrecorded in RESUME_FIXED.items():
        was, now = recorded.get(name, unrecorded), getattr(config, name)
        if was != now:
            return (f"it was trained with {_flag(name, was)}, this resume asks for "
                    f"{_flag(name, now)}, which changes the arithmetic's last bits, so the run "
                    f"would not continue exactly; pass {_flag(name, was)} to continue it, or "
                    "start it again with --overwrite (without --resume)")
    return ""


def _flag(name: str, value) -> str:
    """The command-line flag that sets the TrainConfig field `name` to `value`."""
    flag = name.replace("_", "-")
    if isinstance(value, bool):
        return f"--{flag}" if value else f"--no-{flag}"
    return f"--{flag} {value}"


def config_identity(config: TrainConfig) -> dict:
    """The config as run.json, checkpoints and results record it (with the learning rate used)."""
    d = dataclasses.asdict(config)
    d["lr"] = config.learning_rate
    return d


def has_checkpoint(logdir: str | os.PathLike) -> bool:
    """Whether a run folder has a checkpoint to continue (a run that crashed before its first
    epoch ended has run.json and nothing to continue)."""
    return (Path(logdir) / "checkpoint.pt").is_file()


class RunFiles:
    """A run's folder: refuses to mix runs, writes checkpoints atomically (rank 0 only)."""

    def __init__(self, path: str | os.PathLike, dist: Distributed):
        self.path, self.dist = Path(path), dist
        self.folder = RunFolder(self.path, "run.json", kind="run", flag="--logdir",
                                owned=RUN_FILES)

    def open(self, config: TrainConfig, data_identity: dict) -> dict | None:
        """Claim the folder for this run; the checkpoint to resume from, or None for a new run."""
        identity = {"config": config_identity(config), "data": data_identity,
                    "world_size": self.dist.world}
        self.dist.on_main(lambda: self._claim(identity, config))
        if not config.resume:
            return None
        checkpoint = load_checkpoint(self.path / "checkpoint.pt", self.dist.device)
        # the checkpoint's own run, not only run.json's, must be this one (a checkpoint copied
        # from another run would otherwise continue as this run)
        differ = differences({"config": checkpoint.get("config"), "data": checkpoint.get("data")},
                             {"config": identity["config"], "data": identity["data"]},
                             resume_free(config))
        if differ:
            raise BackproplabError(
                f"--resume: the checkpoint in {str(self.path)!r} is of another run than this "
                f"one: {'; '.join(differ)} (it was not written with this folder's run.json)")
        change = fixed_change(checkpoint.get("config"), config)
        if change:
            raise BackproplabError(f"--resume: the run in {str(self.path)!r} cannot continue "
                                   f"as asked: {change}")
        if checkpoint["state"]["epoch"] > config.epochs:
            raise BackproplabError(
                f"--resume: {str(self.path)!r} holds a run already trained for "
                f"{checkpoint['state']['epoch']} epochs, more than --epochs {config.epochs}")
        return checkpoint

    def _claim(self, identity: dict, config: TrainConfig) -> None:
        with self.writing("run.json", LOCK):  # an error every rank hears of (see on_main)
            self.folder.open(identity, resume=config.resume,
                             overwrite=config.overwrite and not config.resume,
                             free=resume_free(config), describe=None if config.resume else
                             _describe, versions_of=("torch",))
        if config.resume and not has_checkpoint(self.path):
            raise BackproplabError(f"--resume: {str(self.path)!r} holds no checkpoint to resume")

    def close(self) -> None:
        """Release the folder's lock (taken when rank 0 claimed it)."""
        self.folder.close()

    def restore(self, checkpoint: dict, model, optimizer, scheduler, steps: int) -> TrainState:
        """Load a checkpoint's weights, optimizer, scheduler and this rank's dropout RNG; its
        state must be a place in a run of `steps` steps per epoch on this many ranks."""
        rng = checkpoint["rng"]["dropout"]
        problem = state_problem(checkpoint["state"], steps)
        problem = f"its state {problem}" if problem else (
            f"its random state is of {len(rng)} ranks, not {self.dist.world}"
            if len(rng) != self.dist.world else "")
        if problem:
            raise BackproplabError(f"--resume: the checkpoint in {str(self.path)!r} does not fit "
                                   f"this run: {problem}; start again with --overwrite")
        try:
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(checkpoint["scheduler"])
            model.dropout.generator.set_state(rng[self.dist.rank].cpu())
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise BackproplabError(f"checkpoint in {self.path} does not fit this run: "
                                   f"{(str(exc).splitlines() or [''])[0]}") from None
        return TrainState(**checkpoint["state"])

    @contextlib.contextmanager
    def monitor(self, config: MonitorConfig, model, optimizer, resumed_at: int | None,
                finished: bool):
        """The run's Monitor (backproplab.monitor) of `model`, the layers of the architecture's
        table; rank 0 alone monitors and writes TensorBoard events (none for a finished run).

        A run resumed at step `resumed_at` continues its CSVs and health evidence and hides the
        interrupted run's events from that step on, the first it trains again. On the way out
        the hooks are removed, the run is judged (health.json, TensorBoard's text) and the
        event file closed (flushed), also on Ctrl-C.
        """
        writer = None
        with contextlib.ExitStack() as stack:
            def open_events():
                nonlocal writer
                stack.enter_context(_thread_errors_handed_over())
                with self.writing("events.out.tfevents.*"):
                    writer = EventWriter(summary_writer(self.path, purge_step=resumed_at), self)
                stack.callback(writer.close_quietly)  # also when the run failed

            if not finished:
                self.dist.on_main(open_events)  # its failure (a full disk) reaches every rank
            every = config.monitor_every if self.dist.is_main and not finished else 0
            monitor = Monitor(model, every, architecture.MONITORED, writer=writer,
                              optimizer=optimizer, n_classes=architecture.N_CLASSES,
                              bins=config.hist_bins, start_step=resumed_at or 0)
            if resumed_at is not None and self.dist.is_main:
                monitor.load_csv(self.path)  # written with the checkpoint: it ends where it ends
            try:
                yield monitor
            except BaseException:  # judged and closed all the same; this error is the one told
                with contextlib.suppress(Exception):
                    self._finish(monitor, writer, finished)
                raise
            self._finish(monitor, writer, finished)

    def _finish(self, monitor: Monitor, writer: EventWriter | None, finished: bool) -> None:
        """Judge the run (health.json, TensorBoard's text) and close the event file (flushed)."""
        monitor.close()
        if self.dist.is_main and not finished:  # the CSVs stay as the checkpoint left them
            with self.writing("health.json"):
                health.save(self.path, monitor.verdicts, monitor.evidence, monitor.n_classes)
        if writer is not None:
            writer.close()

    @contextlib.contextmanager
    def writing(self, *names: str):
        """Writing the run's file(s) `names`: an OSError (a full disk, a folder made read-only
        or removed) is one line naming them; what was written before stays."""
        try:
            yield
        except OSError as exc:
            raise BackproplabError(write_failure(self.path, names, exc)) from None

    def save(self, config: TrainConfig, data_identity: dict, model, optimizer, scheduler,
             state: TrainState, monitor: Monitor) -> None:
        """Checkpoint (every rank's dropout RNG gathered to rank 0), CSVs, metrics: atomically,
        by rank 0, whose failure to write (a full disk) reaches every rank."""
        rng = self.dist.gather(model.dropout.generator.get_state())
        self.dist.on_main(lambda: self._write(config, data_identity, model, optimizer,
                                              scheduler, state, monitor, rng))

    def _write(self, config, data_identity, model, optimizer, scheduler, state, monitor, rng):
        payload = {
            "format": CHECKPOINT_FORMAT, "architecture": net.architecture(model),
            "config": config_identity(config), "data": data_identity,
            "state": dataclasses.asdict(state), "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": {"dropout": rng},
        }
        save_file(self.path / "checkpoint.pt", payload)  # first: the files below follow it
        with self.writing("stats.csv", "histograms.csv", "health.json"):
            monitor.save(self.path)
        with self.writing("metrics.csv"):
            write_text(self.path / "metrics.csv", _history_csv(state.history))
        with self.writing("metrics.json"):
            write_json(self.path / "metrics.json", {"config": config_identity(config),
                                                    "data": data_identity,
                                                    "history": state.history})
        if monitor.writer is not None:
            monitor.writer.flush()


class EventWriter:
    """The run's TensorBoard SummaryWriter, as the Monitor uses it, whose failures to write (a
    full disk: raised by its writer thread at the next call) are one line naming its file."""

    def __init__(self, writer, files: RunFiles):
        self.writer, self.files = writer, files
        event_writer = getattr(writer.file_writer, "event_writer", None)
        self.name = Path(getattr(event_writer, "_file_name", "events.out.tfevents.*")).name

    def __getattr__(self, name):
        method = getattr(self.writer, name)
        if not callable(method):
            return method

        def call(*args, **kwargs):
            with self.files.writing(self.name):
                return method(*args, **kwargs)
        return call

    def close_quietly(self) -> None:
        """Close after a failure too: `close` stops at its flush, which raises the writer
        thread's error; the thread is stopped all the same, so that it reports nothing later."""
        file_writer = self.writer.file_writer  # None once closed
        if file_writer is not None:
            with contextlib.suppress(Exception):
                file_writer.event_writer.close()  # stops (joins) the writer thread


@contextlib.contextmanager
def _thread_errors_handed_over():
    """While a run writes TensorBoard events: an error of the SummaryWriter's thread (a full
    disk) is not printed as a traceback of that thread. The thread keeps it (`exception`) for
    the next write or flush, which raises it in the training thread: one line, exit 2."""
    previous = threading.excepthook

    def hook(args):
        if getattr(args.thread, "exception", None) is not args.exc_value:
            previous(args)  # any other thread's error as before

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


def write_failure(folder: Path, names: tuple, exc: OSError) -> str:
    """The one line of a run's file (one of `names` in `folder`) that could not be written,
    and what is kept."""
    what = (repr(str(folder / names[0])) if len(names) == 1 else
            f"{', '.join(names[:-1])} or {names[-1]} in {str(folder)!r}")
    reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
    if has_checkpoint(folder):
        kept, then = f"the last checkpoint in {str(folder)!r} is intact", "continue with --resume"
    else:
        kept, then = "no checkpoint was written yet", "start again with --overwrite"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        then = f"free some space, then {then}"
    return f"could not write {what}: {reason}; {kept}: {then}"


def save_file(path: Path, payload: dict) -> Path:
    """`torch.save` of `payload` into memory (a checkpoint of this network is under a MiB),
    then written to `path` atomically by Python: a full disk is then the OSError that says why
    (one line naming `path`), not the RuntimeError torch's own file writer makes of a failed or
    short write; the previous file stays whole."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    try:
        write_bytes(path, buffer.getbuffer())
    except OSError as exc:
        raise BackproplabError(write_failure(path.parent, (path.name,), exc)) from None
    return path


def load_checkpoint(path: str | os.PathLike, device="cpu",
                    kinds: tuple = (CHECKPOINT_FORMAT,)) -> dict:
    """A checkpoint or saved model, checked: readable, ours, the problem set's architecture."""
    path = check_regular_file(path, f"{' or '.join(kinds)} file")  # not a FIFO: it blocks
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise BackproplabError(f"{str(path)!r} does not exist") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        reason = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:100]}"
        raise BackproplabError(f"{str(path)!r} is truncated or not a backproplab file "
                               f"({reason})") from None
    if not isinstance(payload, dict) or payload.get("format") not in kinds:
        raise BackproplabError(f"{str(path)!r} is not a {' or '.join(kinds)} file")
    expected = architecture.parameter_shapes()
    if payload.get("architecture") != expected:
        raise BackproplabError(
            f"{str(path)!r} holds another architecture ({_arch_text(payload.get('architecture'))}"
            f"); this is the problem set's CNN ({_arch_text(expected)})")
    problem = _payload_problem(payload, expected)
    if problem:
        raise BackproplabError(f"{str(path)!r} is not a complete {payload['format']} file: "
                               f"{problem}")
    return payload


# What each kind of file holds besides format and architecture: the shape `save` and
# `save_model` write, checked on every read so that no part is found missing mid-way.
PAYLOAD_KEYS = {CHECKPOINT_FORMAT: ("config", "data", "state", "model", "optimizer",
                                    "scheduler", "rng"),
                MODEL_FORMAT: ("activation", "data", "model")}


def _payload_problem(payload: dict, expected: dict) -> str:
    """What is wrong with a checkpoint's or model file's content ("" when nothing)."""
    missing = [k for k in PAYLOAD_KEYS[payload["format"]] if k not in payload]
    if missing:
        return f"{', '.join(missing)} missing"
    weights = payload["model"]
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor)
                                                for v in weights.values()):
        return "its model is not a table of tensors"
    shapes = {k: list(v.shape) for k, v in weights.items()}
    if shapes != expected:
        wrong = sorted({*shapes} ^ {*expected}
                       | {k for k in shapes.keys() & expected.keys() if shapes[k] != expected[k]})
        return f"its weights do not fit the architecture ({', '.join(wrong)})"
    if payload["format"] != MODEL_FORMAT:
        config, state = payload["config"], payload["state"]
        if not isinstance(config, dict) or not isinstance(state, dict):
            return "its config or state is not a table"
        fields = {f.name for f in dataclasses.fields(TrainState)}
        if set(state) != fields:
            return f"its state has {sorted(state)}, not {sorted(fields)}"
        problem = state_problem(state)
        if problem:
            return f"its state {problem}"
        rng = payload["rng"]
        if not isinstance(rng, dict) or not isinstance(rng.get("dropout"), list):
            return "its random state is missing"
        if not rng["dropout"] or not all(isinstance(r, torch.Tensor) and r.dtype == torch.uint8
                                         for r in rng["dropout"]):
            return "its random state is not one generator state per rank"
    activation = payload_activation(payload)
    if activation not in CNN_ACTIVATIONS:
        return f"activation {activation!r} unknown; valid: {', '.join(CNN_ACTIVATIONS)}"
    return ""


def state_problem(state: dict, steps: int | None = None) -> str:
    """What is wrong with a checkpoint's TrainState values ("" when nothing): counts are
    integers >= 0, sums finite and >= 0, one history row (a table) per finished epoch, and, with
    the run's `steps` per epoch, the position inside the epoch and the step counter that match
    it. (A hand-edited state trained on from a wrong place, or failed mid-run with a traceback.)"""
    for name in ("epoch", "batch", "step", "count"):
        value = state[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{name}={value!r} is not an integer >= 0"
    for name in ("loss_sum", "elapsed"):
        value = state[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            return f"{name}={value!r} is not a finite number >= 0"
    history = state["history"]
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history) \
            or len(history) != state["epoch"]:
        return f"history is not one row per finished epoch ({state['epoch']})"
    if (state["batch"] == 0) != (state["count"] == 0):
        return f"batch={state['batch']} and count={state['count']} disagree"
    if steps is not None and (state["batch"] >= steps
                              or state["step"] != state["epoch"] * steps + state["batch"]):
        return (f"(epoch {state['epoch']}, batch {state['batch']}, step {state['step']}) is not "
                f"a place in a run of {steps} steps per epoch")
    return ""


def payload_activation(payload: dict):
    """The activation a saved model (its own key) or a checkpoint (its config) was trained with."""
    if payload["format"] == MODEL_FORMAT:
        return payload["activation"]
    return payload["config"].get("activation")


def save_model(path: Path, model, config: TrainConfig, data_identity: dict) -> Path:
    return save_file(path, {"format": MODEL_FORMAT, "architecture": net.architecture(model),
                            "activation": config.activation, "data": data_identity,
                            "model": model.state_dict()})


def load_model(path, device="cpu") -> net.Net:
    """A Net with the weights `--save-model` wrote (or the latest checkpoint's)."""
    payload = load_checkpoint(path, device, (MODEL_FORMAT, CHECKPOINT_FORMAT))
    model = net.Net(payload_activation(payload)).to(device)
    model.load_state_dict(payload["model"])
    return model.eval()


def _describe(run: dict) -> str:
    c = run.get("config")
    if not isinstance(c, dict):
        return ""
    return ", ".join(f"{k} {c.get(k)}" for k in ("optimizer", "activation", "epochs", "seed"))


def _arch_text(arch) -> str:
    if not isinstance(arch, dict):
        return "unknown"
    weights = {k: v for k, v in arch.items() if k.endswith("weight")}
    return ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in weights.items())


def _history_csv(history: list) -> str:
    """metrics.csv: one row per finished epoch (an empty file before the first)."""
    return csv_text(history, list(history[0]), digits=None) if history else ""
