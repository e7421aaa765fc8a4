"""What a backend runs and gives back: `Task` and `Outcome` (see backproplab.backends)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

RETRIES = 2  # a task whose worker died is tried again this many times, then reported


@dataclass
class Task:
    """One unit of work: `fn(*args, report=...)`, where `report(n)` (or None) counts progress.

    `fn` must be a module-level function (it is pickled by name); `work` is what the task adds
    to a progress bar in all; `gpus` what a Ray task asks for on a cluster that has GPUs.
    """

    name: str  # how a failure is reported: "setting 03 (activation=relu)"
    fn: Callable
    args: tuple = ()
    work: int = 1
    gpus: float = 0


@dataclass
class Outcome:
    """A finished task: its value, or why it failed (after retries); where it ran."""

    task: Task
    value: object = None
    error: str | None = None
    where: dict = field(default_factory=dict)  # {"node": ..., "ip": ..., "pid": ...}

    @property
    def ok(self) -> bool:
        return self.error is None


def failures(outcomes: list[Outcome]) -> str:
    """The failed tasks, each named with its error, for the error that ends a job."""
    return "; ".join(f"{o.task.name}: {o.error}" for o in outcomes)
