"""One process, or one rank of a torchrun job: the device, the process group, the collectives.

Under `torchrun --nproc_per_node=N -m backproplab train-cnn ...` (RANK, WORLD_SIZE and
LOCAL_RANK set) each process is one rank of a process group (gloo on CPU, nccl on CUDA); the
model is wrapped in DistributedDataParallel, losses and accuracies are summed over ranks, and
rank 0 alone writes files (`on_main`).
"""

from __future__ import annotations

import os

import torch
import torch.distributed as td
from torch.nn.parallel import DistributedDataParallel

from backproplab.errors import BackproplabError


class Distributed:
    """This process's device, rank and world size; a single process is rank 0 of 1."""

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
        started = not td.is_initialized()
        if started:
            if dev.type == "cuda":
                torch.cuda.set_device(dev)
            td.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        return cls(dev, td.get_rank(), td.get_world_size(), group=started)

    def wrap(self, model):
        if self.world == 1:
            return model
        return DistributedDataParallel(model, device_ids=[self.device] if self.device.type ==
                                       "cuda" else None)

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            t = t.to(self.device if self.device.type == "cuda" else "cpu")
            td.all_reduce(t)
        return t

    def gather(self, t: torch.Tensor) -> list:
        if self.world == 1:
            return [t]
        out = [None] * self.world
        td.all_gather_object(out, t)
        return out

    def on_main(self, fn):
        """`fn()` on rank 0 alone (e.g. claiming the run folder); its result, or the
        BackproplabError it raised, reaches every rank, so that all go on or stop together."""
        if self.world == 1:
            return fn()
        outcome = [None]
        if self.is_main:
            try:
                outcome = [(fn(), None)]
            except BackproplabError as exc:
                outcome = [(None, str(exc))]
        td.broadcast_object_list(outcome, src=0)
        result, error = outcome[0]
        if error is not None:
            raise BackproplabError(error)
        return result

    def share(self, obj, src: int):
        """Rank `src`'s `obj` (picklable), on every rank."""
        if self.world == 1:
            return obj
        box = [obj]
        td.broadcast_object_list(box, src=src)
        return box[0]

    def stop(self):
        if self._group:
            td.destroy_process_group()


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise BackproplabError(
            f"unknown --device {name!r}; valid: auto, cpu, cuda, cuda:N") from None
    if dev.type not in ("cpu", "cuda"):  # meta, mps, xpu, ...: not what the trainer supports
        raise BackproplabError(
            f"--device {name}: backproplab trains on cpu or cuda; valid: auto, cpu, cuda, cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BackproplabError(f"--device {name}: CUDA is not available here; use cpu or auto")
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device(f"cuda:{local_rank}")
    if dev.type == "cuda" and dev.index >= torch.cuda.device_count():
        raise BackproplabError(f"--device {name}: this machine has {torch.cuda.device_count()} "
                               f"CUDA device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return dev
