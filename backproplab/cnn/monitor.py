"""Per-layer statistics of the CNN: forward hooks -> torch statistics -> TensorBoard and CSV.

Every `every` iterations the trainer opens `Monitor.capture(model)` around its forward pass and
calls `Monitor.log_step` after the backward pass. Tags are grouped by layer (TensorBoard shows
one section per first tag part):

    {layer}/{quantity}/{min,max,mean,std}   quantity: weight, bias, net_input, activation,
    {layer}/{quantity}/hist                 pooled (conv layers only)
    {layer}/{weight,bias}/grad_norm         the L2 norm of the parameter's gradient
    train/loss, train/lr                    of that iteration

and `log_epoch` adds train/epoch_loss, test/loss, test/accuracy (and val/...) once an epoch.
Statistics and histograms are computed by torch where the tensors live and brought to the host
in one transfer per monitored iteration (`torch.histc` binning, written with
`add_histogram_raw`), so the hooks cost nothing on the other iterations. The same numbers go
to `stats.csv` (step, epoch, layer, quantity, stat, value) and `histograms.csv`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from backproplab.cnn import architecture
from backproplab.cnn.config import MonitorConfig
from backproplab.io import write_text

# layer -> (net-input module, activation module, pooling module); None where the layer has none.
LAYERS = {layer.name: layer.modules for layer in architecture.LAYERS}

STATS = ("min", "max", "mean", "std")
_MOMENTS = 6  # min, max, mean, std, sum, sum of squares: what add_histogram_raw needs
STATS_HEADER = ("step", "epoch", "layer", "quantity", "stat", "value")
HIST_HEADER = ("step", "epoch", "layer", "quantity", "bin_left", "bin_right", "count")


def tags(bins: bool = True) -> list[str]:
    """Every tag `log_step` writes (what the tests look for in the event file)."""
    out = ["train/loss", "train/lr"]
    for layer, quantity in quantities():
        out += [f"{layer}/{quantity}/{s}" for s in STATS] + ([f"{layer}/{quantity}/hist"] * bins)
        if quantity in ("weight", "bias"):
            out.append(f"{layer}/{quantity}/grad_norm")
    return out


def quantities() -> list[tuple[str, str]]:
    """(layer, quantity) pairs monitored, in the model's order."""
    pairs = []
    for layer, (_, act, pool) in LAYERS.items():
        pairs += [(layer, "weight"), (layer, "bias"), (layer, "net_input")]
        pairs += [(layer, "activation")] * (act is not None)
        pairs += [(layer, "pooled")] * (pool is not None)
    return pairs


class Monitor:
    """Collects per-layer statistics on monitored iterations; writes TensorBoard and CSV.

    `writer` is a SummaryWriter or None (then only the CSV rows are kept, e.g. on ranks > 0).
    """

    def __init__(self, config: MonitorConfig, writer=None):
        self.every, self.bins = config.monitor_every, config.hist_bins
        self.writer = writer
        # CSV lines, formatted once; the files are rewritten whole (atomically) per checkpoint
        self.stats_rows: list[str] = []
        self.hist_rows: list[str] = []
        self._captured: dict[tuple[str, str], torch.Tensor] = {}

    def due(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0

    @contextlib.contextmanager
    def capture(self, model: torch.nn.Module):
        """Forward hooks that keep each layer's net input, activation and pooled output."""
        modules = dict(model.named_modules())
        handles = []
        for layer, names in LAYERS.items():
            for quantity, name in zip(("net_input", "activation", "pooled"), names):
                if name is not None:
                    hook = self._keeper(layer, quantity)
                    handles.append(modules[name].register_forward_hook(hook))
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def _keeper(self, layer, quantity):
        def hook(module, inputs, output):
            self._captured[(layer, quantity)] = output.detach()
        return hook

    def log_step(self, step: int, epoch: int, model: torch.nn.Module, loss: torch.Tensor,
                 lr: float) -> None:
        """Statistics of the captured outputs, the parameters and their gradients at `step`."""
        params = dict(model.named_parameters())
        tensors, grads = [], []
        for layer, quantity in quantities():
            if quantity in ("weight", "bias"):
                p = params[f"{layer}.{quantity}"]
                tensors.append(((layer, quantity), p.detach()))
                grads.append(((layer, quantity), p.grad))
            else:
                tensors.append(((layer, quantity), self._captured.pop((layer, quantity))))
        self._captured.clear()
        # One flat tensor, one transfer: [moments of each tensor | histograms | grad norms | loss].
        parts = []
        for _, t in tensors:
            t = t.float().flatten()
            lo, hi = torch.aminmax(t)
            parts.append(torch.stack([lo, hi, t.mean(), t.std(), t.sum(), (t * t).sum()]))
        parts += [torch.histc(t.float(), bins=self.bins) for _, t in tensors]  # data's own range
        parts.append(torch.stack([g.norm() if g is not None else torch.zeros((), device=loss.device)
                                  for _, g in grads]).to(loss.device))
        parts.append(loss.detach().reshape(1).float())
        flat = torch.cat([p.to(loss.device) for p in parts]).cpu().tolist()

        n, b = len(tensors), self.bins
        moments, hists = flat[:n * _MOMENTS], flat[n * _MOMENTS:n * (_MOMENTS + b)]
        norms, train_loss = flat[n * (_MOMENTS + b):-1], flat[-1]
        self._scalar("train/loss", train_loss, step, epoch)
        self._scalar("train/lr", lr, step, epoch)
        for i, ((layer, quantity), t) in enumerate(tensors):
            lo, hi, mean, std, total, squares = moments[i * _MOMENTS:(i + 1) * _MOMENTS]
            for stat, value in zip(STATS, (lo, hi, mean, std)):
                self._scalar(f"{layer}/{quantity}/{stat}", value, step, epoch)
            counts = hists[i * b:(i + 1) * b]
            width = (hi - lo) / b if hi > lo else 1.0 / b  # histc puts a constant tensor in bin 0
            edges = [lo + width * (k + 1) for k in range(b)]
            if self.writer is not None:
                self.writer.add_histogram_raw(
                    f"{layer}/{quantity}/hist", min=lo, max=hi, num=t.numel(), sum=total,
                    sum_squares=squares, bucket_limits=edges, bucket_counts=counts,
                    global_step=step)
            self.hist_rows += [f"{step},{epoch},{layer},{quantity},{e - width!r},{e!r},{int(c)}"
                               for e, c in zip(edges, counts)]
        for ((layer, quantity), _), norm in zip(grads, norms):
            self._scalar(f"{layer}/{quantity}/grad_norm", norm, step, epoch)

    def log_epoch(self, step: int, epoch: int, metrics: dict) -> None:
        """Per-epoch metrics, e.g. {"test/loss": 0.05, "test/accuracy": 0.98}."""
        for tag, value in metrics.items():
            self._scalar(tag, value, step, epoch)

    def _scalar(self, tag: str, value: float, step: int, epoch: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, global_step=step)
        layer, _, rest = tag.partition("/")
        quantity, _, stat = rest.rpartition("/")
        self.stats_rows.append(f"{step},{epoch},{layer},{quantity or rest},"
                               f"{stat if quantity else ''},{float(value)!r}")

    # -- CSV: kept in memory, rewritten atomically with every checkpoint
    def save_csv(self, folder: Path) -> None:
        write_text(folder / "stats.csv", _csv(STATS_HEADER, self.stats_rows))
        write_text(folder / "histograms.csv", _csv(HIST_HEADER, self.hist_rows))

    def load_csv(self, folder: Path) -> None:
        """The rows of a checkpointed run (its CSVs are written with each checkpoint)."""
        self.stats_rows = _read_lines(folder / "stats.csv")
        self.hist_rows = _read_lines(folder / "histograms.csv")


def _csv(header: tuple, lines: list[str]) -> str:
    return "\n".join([",".join(header), *lines]) + "\n"


def _read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()[1:] if path.is_file() else []
