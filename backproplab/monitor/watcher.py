"""`watch(model)`: per-layer statistics of any PyTorch model every N steps, with health verdicts.

    with watch(model, logdir="runs/mine", every=100, optimizer=opt, n_classes=10) as mon:
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(); loss.backward(); opt.step()
            mon.step(loss)  # after optimizer.step(): it reports the step just taken

What is a layer. Without `layers`, every module holding parameters is a layer, named as
`model.named_modules()` names it ("conv1", "layer1.0.conv2", "0" in a Sequential), with one
quantity per parameter (weight, bias, ...). The outputs of linear and convolution layers are
their net inputs z. Activations and pooling are found where they are computed, whether by a
module (nn.ReLU) or a function in forward (F.relu, torch.tanh, x.sigmoid(), F.max_pool2d): on
the monitored forward passes a `TorchFunctionMode` sees every torch function called, and the
outputs of the activation functions (ACTIVATIONS) and pooling functions (POOLS) are attributed
to the linear or convolution layer run last before them: `{layer}/activation`,
`{layer}/pooled`. A second one after the same layer (or a layer called twice in one forward
pass) gets `_2`, `_3`, ... after its quantity. With `layers={"conv1": ("conv1", "conv1_act",
"conv1_pool"), ...}` only the named modules are watched: the net-input module (its parameters
and output), the activation module and the pooling module of each layer (None for none).

When. Step s is monitored when s % every == 0. The hooks exist only around monitored steps:
`step()` arms them for the next forward pass when that step is monitored (and for the
`window` - 1 steps before it, which only record which ReLU units fire), and removes them
otherwise, so the other steps run the bare model. Forward passes with gradients disabled
(evaluation under torch.no_grad()) are not recorded. Statistics are computed by torch on the
tensors' device as the outputs are produced, and brought to the host in one transfer per
monitored step.

What. For every parameter (its values before the monitored step's update: those the forward
pass used), net input, activation and pooled output: min, max, mean, std and a histogram; per
parameter the gradient norm and the update:weight ratio ||theta_after - theta_before|| /
||theta_before|| of the optimiser step taken; per ReLU-family activation the fraction of its
units (features; channels of a convolution) never active over the window's batches (`dead`);
per tanh / sigmoid activation the fraction of its outputs near the asymptotes (`saturated`).
Tags (TensorBoard shows one section per layer):

    {layer}/{quantity}/{min,max,mean,std,hist}
    {layer}/{parameter}/{grad_norm,update_ratio}
    {layer}/{activation}/{dead,saturated}
    train/loss (the monitored step's), train/loss_mean (since the previous monitored step),
    train/lr (with `optimizer`), train/first_nonfinite (once, if the loss turns NaN or inf)
    health/{rule}  how many verdicts each health rule gives (backproplab.monitor.health), at
                   the first JUDGE_SAMPLES monitored steps, then at ever sparser ones (one in
                   n // JUDGE_SAMPLES of the n so far): the rules read the whole run, so
                   judging every sample would cost a long run quadratic time

`stats.csv` (step, epoch, layer, quantity, stat, value) and `histograms.csv` hold the same
numbers; `health.json` the verdicts, also in TensorBoard's text tab (health/verdicts).
"""

from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from backproplab.io import write_text
from backproplab.monitor import health

STATS = ("min", "max", "mean", "std")
JUDGE_SAMPLES = 16  # mid-run verdicts: at about this many monitored steps per doubling of the run
MOMENTS = 6  # min, max, mean, std, sum, sum of squares: what add_histogram_raw needs
STATS_HEADER = ("step", "epoch", "layer", "quantity", "stat", "value")
HIST_HEADER = ("step", "epoch", "layer", "quantity", "bin_left", "bin_right", "count")

WEIGHTED = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
            nn.ConvTranspose2d, nn.ConvTranspose3d)
CONVOLUTIONS = WEIGHTED[2:]  # their units are channels (dim 1); a linear layer's the last dim
# Activation functions by the name torch calls them (F.relu, torch.tanh, Tensor.relu_, ...) ->
# what their units can suffer from: "dead" (ReLU family), "tanh" or "sigmoid" (saturation).
ACTIVATIONS = {
    **dict.fromkeys(("relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "rrelu",
                     "rrelu_"), "dead"),
    **dict.fromkeys(("tanh", "tanh_"), "tanh"), **dict.fromkeys(("sigmoid", "sigmoid_"), "sigmoid"),
    **dict.fromkeys(("elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu", "silu", "mish",
                     "softplus", "hardswish", "hardtanh", "hardtanh_", "hardsigmoid"), None),
}
POOLS = {f"{kind}_pool{d}d" for kind in ("max", "avg", "adaptive_max", "adaptive_avg", "lp")
         for d in (1, 2, 3)}
# Activation modules of an explicit layer map -> the function name they compute
MODULE_ACTIVATIONS = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.LeakyReLU: "leaky_relu",
                      nn.PReLU: "prelu", nn.RReLU: "rrelu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid",
                      nn.ELU: "elu", nn.GELU: "gelu", nn.SiLU: "silu"}


@contextlib.contextmanager
def watch(model: nn.Module, logdir: str | os.PathLike | None = None, every: int = 100,
          layers: dict | None = None, *, optimizer: torch.optim.Optimizer | None = None,
          n_classes: int | None = None, bins: int = 30, window: int = 10):
    """Watch `model` inside the block; `mon.step(loss)` after each `optimizer.step()`.

    logdir: TensorBoard events, stats.csv, histograms.csv and health.json go there (written
    when the block ends; None: kept in memory, see Monitor). every: steps between statistics
    (0: none). layers: {layer: (net-input module, activation module or None, pooling module or
    None)} by module name, or None to discover them. optimizer: to log its learning rate.
    n_classes: C, for the initial-loss rule (ln C). bins: histogram bins. window: batches over
    which a ReLU unit must never fire to count as dead (ending at the monitored step).
    Leaving the block removes every hook, judges the run (`mon.verdicts`) and flushes.
    """
    writer = summary_writer(logdir) if logdir is not None and every else None
    monitor = Monitor(model, every, layers, writer=writer, optimizer=optimizer,
                      n_classes=n_classes, bins=bins, window=window)
    try:
        yield monitor
    finally:
        monitor.close()
        if logdir is not None:
            monitor.save(logdir)
        if writer is not None:
            writer.close()


def summary_writer(logdir: str | os.PathLike, purge_step: int | None = None):
    """A TensorBoard SummaryWriter whose queue holds a monitored step's events (hundreds), so
    that they never wait for the writer thread: it drains them during the next steps. (With
    the default queue of 10, half of a monitored step's time went to waiting for it.)"""
    from torch.utils.tensorboard import SummaryWriter  # here: needed only to write events

    return SummaryWriter(str(logdir), purge_step=purge_step, max_queue=10_000, flush_secs=30)


class Monitor:
    """The statistics of one model's training, step by step (what `watch` yields).

    `writer`: a SummaryWriter or None (then only the CSV rows are kept). `start_step`: the
    global step of the first `step()` call (a resumed run). The CSV rows are kept in memory
    (`stats_rows`, `hist_rows`) and written whole by `save`.
    """

    def __init__(self, model: nn.Module, every: int = 100, layers: dict | None = None, *,
                 writer=None, optimizer=None, n_classes: int | None = None, bins: int = 30,
                 window: int = 10, start_step: int = 0):
        if every < 0 or bins < 1 or window < 1:
            raise ValueError(f"every >= 0, bins >= 1 and window >= 1 needed, got every={every}, "
                             f"bins={bins}, window={window}")
        self.model, self.every, self.layers = model, every, layers
        self.writer, self.optimizer, self.n_classes = writer, optimizer, n_classes
        self.bins, self.window = bins, min(window, every or 1)
        self.step_index, self.epoch = start_step, 0  # the step the next step() call reports
        self.stats_rows: list[str] = []  # CSV lines, formatted once
        self.hist_rows: list[str] = []
        self.evidence = health.Evidence()
        self.verdicts: list[health.Verdict] = []
        self._params = _watched_parameters(model, layers)  # [(layer, name, parameter)]
        self._handles: list = []  # hooks, while armed
        self._mode = _Functions(self)
        self._active = False  # inside a recorded forward pass
        self._due = False  # the armed forward pass is a monitored step's
        self._current: tuple | None = None  # (layer, unit dim) the last weighted layer run
        self._seen: dict = {}  # (layer, quantity) -> times recorded in this forward pass
        self._captured: dict = {}  # (layer, quantity) -> (numel, moments + histogram)
        self._saturated: dict = {}  # (layer, quantity) -> fraction (0-d tensor)
        self._active_units: dict = {}  # (layer, quantity) -> units active so far (bool)
        self._snapshot: list | None = None  # parameter values before the monitored step
        self._losses: list = []  # (step, loss) since the last monitored step, not synchronised
        self._nonfinite_seen = False
        self._logged = 0  # monitored steps logged by this Monitor (mid-run judging)
        self._prepare(start_step)

    # -- the loop's calls
    def due(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0

    def step(self, loss=None, epoch: int | None = None) -> None:
        """The step just taken (after optimizer.step()): its loss (tensor or float), and the
        epoch it belongs to (for the CSV)."""
        step = self.step_index
        if epoch is not None:
            self.epoch = epoch
        if self.every and loss is not None:
            self._losses.append((step, loss.detach() if isinstance(loss, torch.Tensor) else loss))
        if self.due(step):
            self._log(step, loss)
        self.step_index = step + 1
        self._prepare(step + 1)

    def log(self, metrics: dict, step: int | None = None, epoch: int | None = None) -> None:
        """Other scalars, e.g. {"test/loss": 0.05, "test/accuracy": 0.98} once an epoch
        (at `step`, by default the last step taken)."""
        step = self.step_index - 1 if step is None else step
        for tag, value in metrics.items():
            self._scalar(tag, value, step, self.epoch if epoch is None else epoch)

    def close(self) -> list[health.Verdict]:
        """Remove every hook, judge the run (`verdicts`), write the verdicts to TensorBoard."""
        self._disarm()
        if self._losses and not self._nonfinite_seen:  # steps after the last monitored one
            bad = int(self._loss_summary()[1].item())
            if bad >= 0:
                self._scalar("train/first_nonfinite", bad, self.step_index - 1, self.epoch)
                self._nonfinite_seen = True
        self.judge()
        if self.writer is not None:
            self.writer.add_text("health/verdicts", health.markdown(self.verdicts),
                                 global_step=max(self.step_index - 1, 0))
            self.writer.flush()
        return self.verdicts

    def judge(self) -> list[health.Verdict]:
        """The health rules on everything recorded so far (also `verdicts`)."""
        self.verdicts = health.check(self.evidence, self.n_classes)
        return self.verdicts

    # -- files
    def save(self, folder: str | os.PathLike) -> None:
        """stats.csv, histograms.csv and health.json into `folder` (atomically)."""
        self.save_csv(folder)
        self.judge()
        health.save(folder, self.verdicts, self.evidence, self.n_classes)

    def save_csv(self, folder: str | os.PathLike) -> None:
        write_text(Path(folder) / "stats.csv", _csv(STATS_HEADER, self.stats_rows))
        write_text(Path(folder) / "histograms.csv", _csv(HIST_HEADER, self.hist_rows))

    def load_csv(self, folder: str | os.PathLike) -> None:
        """Continue the CSVs (and the health evidence) of a run resumed in `folder`."""
        self.stats_rows = _read_lines(Path(folder) / "stats.csv")
        self.hist_rows = _read_lines(Path(folder) / "histograms.csv")
        self.evidence = health.Evidence.from_rows(csv.DictReader(self.stats_rows,
                                                                 fieldnames=STATS_HEADER))
        self._nonfinite_seen = bool(self.evidence.get("train", "", "first_nonfinite"))

    # -- arming: hooks around the monitored steps only
    def _prepare(self, step: int) -> None:
        """Before `step`'s forward pass: arm the hooks if it is monitored or in the window
        before a monitored step; keep the parameters it starts from if monitored."""
        if not self.every:
            return
        until_due = -step % self.every
        self._due = until_due == 0
        if self._due:
            self._snapshot = [p.detach().clone() for _, _, p in self._params]
        if until_due < self.window:
            self._arm()
        else:
            self._disarm()

    def _arm(self) -> None:
        if self._handles:
            return
        model, handles = self.model, self._handles
        handles.append(model.register_forward_pre_hook(self._enter))
        handles.append(model.register_forward_hook(self._exit, always_call=True))
        modules = dict(model.named_modules())
        if self.layers is None:
            for name, module in modules.items():
                if isinstance(module, WEIGHTED):
                    handles.append(module.register_forward_hook(self._net_input(name or "model")))
            return
        for layer, names in self.layers.items():
            z, act, pool = (names, None, None) if isinstance(names, str) else names
            handles.append(modules[z].register_forward_hook(self._net_input(layer)))
            if act is not None:
                kind = ACTIVATIONS.get(MODULE_ACTIVATIONS.get(type(modules[act]), ""))
                handles.append(modules[act].register_forward_hook(
                    self._output(layer, "activation", kind)))
            if pool is not None:
                handles.append(modules[pool].register_forward_hook(
                    self._output(layer, "pooled", None)))

    def _disarm(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        if self._active:  # a forward pass left by an exception the exit hook did not see
            self._exit(None, None, None)

    def _enter(self, module, args) -> None:
        if self._active or not torch.is_grad_enabled():
            return
        self._active, self._current, self._seen = True, None, {}
        if self.layers is None:
            self._mode.__enter__()

    def _exit(self, module, args, output) -> None:
        if self._active:
            self._active = False
            if self.layers is None:
                self._mode.__exit__(None, None, None)

    def _net_input(self, layer: str):
        def hook(module, args, output):
            if self._active and isinstance(output, torch.Tensor):
                self._current = (layer, 1 if isinstance(module, CONVOLUTIONS) else -1)
                self._record(layer, "net_input", output, None, self._current[1])
        return hook

    def _output(self, layer: str, quantity: str, kind):
        def hook(module, args, output):
            if self._active and isinstance(output, torch.Tensor):
                unit_dim = self._current[1] if self._current else -1
                self._record(layer, quantity, output, kind, unit_dim)
        return hook

    def _record(self, layer: str, quantity: str, t: torch.Tensor, kind, unit_dim: int) -> None:
        """A forward pass's output: summarised now (a later in-place operation may change it)."""
        n = self._seen[(layer, quantity)] = self._seen.get((layer, quantity), 0) + 1
        key = (layer, quantity if n == 1 else f"{quantity}_{n}")
        with torch.no_grad():
            t = t.detach()
            if self._due:
                self._captured[key] = (t.numel(), summarise(t, self.bins))
                if kind in ("tanh", "sigmoid"):
                    self._saturated[key] = saturated_fraction(t, kind)
            if kind == "dead" and t.dim() > 1:
                dims = [d for d in range(t.dim()) if d != unit_dim % t.dim()]
                # a unit is active when some output is > 0 (NaN is no evidence of a dead one);
                # a sum, not amax: amax over dims is 10x slower on a channels-last tensor
                active = ~(t.clamp(min=0).sum(dim=dims) <= 0)
                before = self._active_units.get(key)
                if before is not None and before.shape == active.shape:
                    active = active | before
                self._active_units[key] = active

    # -- the monitored step: one transfer, then TensorBoard, CSV and the health rules
    def _loss_summary(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean of the losses since the last monitored step and the first step whose loss
        was NaN or infinite (-1: none), as tensors: found without a host synchronisation."""
        losses = torch.stack([_as_tensor(loss) for _, loss in self._losses])
        steps = torch.tensor([step for step, _ in self._losses], device=losses.device)
        bad = ~torch.isfinite(losses)
        first = torch.where(bad.any(), steps[bad.int().argmax()], -1)
        return losses.mean(), first

    def _log(self, step: int, loss) -> None:
        device = self._params[0][2].device if self._params else torch.device("cpu")
        tensors = []  # ((layer, quantity), numel, moments + histogram)
        for (layer, name, _), before in zip(self._params, self._snapshot or []):
            tensors.append(((layer, name), before.numel(), summarise(before, self.bins)))
        tensors += [(key, n, s) for key, (n, s) in self._captured.items()]
        scalars = []  # (tag, 0-d tensor)
        for layer, name, p in self._params:
            grad = p.grad.detach().float().norm() if p.grad is not None else torch.zeros(())
            scalars.append((f"{layer}/{name}/grad_norm", grad))
        for (layer, name, p), before in zip(self._params, self._snapshot or []):
            ratio = (p.detach() - before).float().norm() / before.float().norm()
            scalars.append((f"{layer}/{name}/update_ratio", ratio))
        scalars += [(f"{layer}/{q}/dead", 1 - a.float().mean())
                    for (layer, q), a in self._active_units.items()]
        scalars += [(f"{layer}/{q}/saturated", s) for (layer, q), s in self._saturated.items()]
        if loss is not None:
            scalars.append(("train/loss", _as_tensor(loss)))
            mean, first_bad = self._loss_summary()
            scalars.append(("train/loss_mean", mean))
            if not self._nonfinite_seen:
                scalars.append(("train/first_nonfinite", first_bad))
        flat = torch.cat([s.reshape(-1).float().to(device) for _, _, s in tensors] +
                         [v.reshape(1).float().to(device) for _, v in scalars]).cpu().tolist()

        epoch, b, at = self.epoch, self.bins, 0
        for (layer, quantity), n, _ in tensors:
            lo, hi, mean, std, total, squares = flat[at:at + MOMENTS]
            counts = flat[at + MOMENTS:at + MOMENTS + b]
            at += MOMENTS + b
            for stat, value in zip(STATS, (lo, hi, mean, std)):
                self._scalar(f"{layer}/{quantity}/{stat}", value, step, epoch)
            width = (hi - lo) / b if hi > lo else 1.0 / b  # a constant tensor: all in bin 0
            edges = [lo + width * (k + 1) for k in range(b)]
            if self.writer is not None:
                self.writer.add_histogram_raw(
                    f"{layer}/{quantity}/hist", min=lo, max=hi, num=n, sum=total,
                    sum_squares=squares, bucket_limits=edges, bucket_counts=counts,
                    global_step=step)
            self.hist_rows += [f"{step},{epoch},{layer},{quantity},{e - width!r},{e!r},{int(c)}"
                               for e, c in zip(edges, counts)]
        if self.optimizer is not None:
            self._scalar("train/lr", self.optimizer.param_groups[0]["lr"], step, epoch)
        for tag, value in zip((tag for tag, _ in scalars), flat[at:]):
            if tag == "train/first_nonfinite":
                if value < 0:
                    continue
                self._nonfinite_seen = True
            self._scalar(tag, value, step, epoch)
        self._captured.clear()
        self._saturated.clear()
        self._active_units.clear()
        self._snapshot, self._losses = None, []
        self._logged += 1
        if self._logged % max(1, self._logged // JUDGE_SAMPLES) == 0:
            for rule, count in health.counts(self.judge()).items():
                self._scalar(f"health/{rule}", count, step, epoch)

    def _scalar(self, tag: str, value: float, step: int, epoch: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, global_step=step)
        layer, _, rest = tag.partition("/")
        quantity, _, stat = rest.rpartition("/")
        self.stats_rows.append(f"{step},{epoch},{layer},{quantity or stat},"
                               f"{stat if quantity else ''},{float(value)!r}")
        self.evidence.add(step, layer, quantity, stat, value)


class _Functions(TorchFunctionMode):
    """During a recorded forward pass: the outputs of activation and pooling functions, however
    called (module, F.relu, torch.tanh, Tensor.sigmoid), for the layer run last."""

    def __init__(self, monitor: Monitor):
        super().__init__()
        self.monitor = monitor

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", "")
        if isinstance(out, torch.Tensor) and (name in ACTIVATIONS or name in POOLS):
            m = self.monitor
            layer, unit_dim = m._current or ("input", 1)
            if name in POOLS:
                m._record(layer, "pooled", out, None, unit_dim)
            else:
                m._record(layer, "activation", out, ACTIVATIONS[name], unit_dim)
        return out


def summarise(t: torch.Tensor, bins: int) -> torch.Tensor:
    """[min, max, mean, std, sum, sum of squares, histogram over [min, max] (bins)], computed
    where `t` lives, without a host synchronisation (NaN or inf go to the first bin)."""
    t = t.detach().float().reshape(-1)
    lo, hi = torch.aminmax(t)
    moments = torch.stack([lo, hi, t.mean(), t.std(), t.sum(), (t * t).sum()])
    scale = bins / (hi - lo).clamp_min(torch.finfo(torch.float32).tiny)
    index = ((t - lo) * scale).nan_to_num_(0, 0, 0).to(torch.int32).clamp_(0, bins - 1)
    if t.device.type == "cpu":  # bincount is the fastest there (8x index_add_)
        counts = torch.bincount(index, minlength=bins).float()
    else:  # bincount would synchronise to size its output; index_add_ does not
        counts = torch.zeros(bins, device=t.device).index_add_(0, index, torch.ones_like(t))
    return torch.cat([moments, counts])


def saturated_fraction(a: torch.Tensor, kind: str) -> torch.Tensor:
    """Fraction of tanh or sigmoid outputs in the flat region (health.SATURATION)."""
    s = health.SATURATION
    flat = a.abs() > s if kind == "tanh" else (a < 1 - s) | (a > s)
    return flat.float().mean()


def _watched_parameters(model: nn.Module, layers: dict | None) -> list:
    """[(layer, parameter name, parameter)]: all of the model's, or the layer map's modules'."""
    if layers is None:
        out = []
        for qualified, p in model.named_parameters():
            owner, _, name = qualified.rpartition(".")
            out.append((owner or "model", name, p))
        return out
    modules = dict(model.named_modules())
    return [(layer, name, p) for layer, names in layers.items()
            for name, p in modules[names if isinstance(names, str) else names[0]]
            .named_parameters(recurse=False)]


def _as_tensor(loss) -> torch.Tensor:
    return loss.detach().float().reshape(()) if isinstance(loss, torch.Tensor) else \
        torch.tensor(float(loss))


def _csv(header: tuple, lines: list[str]) -> str:
    return "\n".join([",".join(header), *lines]) + "\n"


def _read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()[1:] if path.is_file() else []
