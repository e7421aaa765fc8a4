"""Where a job's tasks run: this machine's processes (`local`) or a Ray cluster (`ray`).

A job (a study's stacks of networks, the CNN comparison's runs) hands its tasks to a backend and
writes each result as it comes back:

    with closing(backend.map(tasks, progress=bar.update)) as outcomes:
        for outcome in outcomes:        # in the order they finish
            ...                         # outcome.value, or outcome.error naming outcome.task

Every backend runs each task in one process with one BLAS thread, yields results as tasks
finish, retries a task whose worker died (RETRIES times), reports one that keeps failing by its
name while the others finish, and cancels what is outstanding when the caller stops (Ctrl-C).
A task that raises `BackproplabError` (bad input) stops the whole job at once.

This module loads neither NumPy nor Ray: the commands' `--backend`/`--address` flags come from
`BackendConfig`, and `open_backend` imports Ray only when it is asked for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from backproplab.backends.local import LocalBackend
from backproplab.backends.ray import RayBackend
from backproplab.backends.tasks import RETRIES, Outcome, Task, failures
from backproplab.errors import BackproplabError

BACKENDS = ("local", "ray")


class Backend(Protocol):
    name: str
    slots: int  # tasks that run at once (local: worker processes; ray: the cluster's CPUs)
    local_files: bool  # whether its tasks surely write into this machine's folders

    def describe(self) -> dict:
        """What study.json records: the backend's name and the cluster's size."""

    def put(self, obj):
        """`obj` where every task can read it (Ray: the object store, once); pass the result
        as one of a task's `args`."""

    def map(self, tasks: list[Task], progress: Callable[[int], object] | None = None
            ) -> Iterator[Outcome]:
        """Run `tasks`, yield each Outcome as it finishes; closing the iterator cancels the
        rest. `progress(n)` is fed the tasks' work as it is done."""

    def close(self) -> None:
        """Let go of the workers (a Ray instance started here is stopped)."""


@dataclass
class BackendConfig:
    backend: str = field(default="local", metadata={
        "choices": BACKENDS, "help": "where the work runs: local (worker processes on this "
        "machine) or ray (a Ray cluster: pip install 'backproplab[ray]')"})
    address: str | None = field(default=None, metadata={
        "metavar": "HOST:PORT", "show_default": "$RAY_ADDRESS, else a new Ray instance on "
        "127.0.0.1", "help": "with --backend ray: the Ray cluster to run on"})


def open_backend(name: str = "local", *, jobs: int | None = None, address: str | None = None
                 ) -> Backend:
    """The backend `name` (a context manager that closes it): 'local' with `jobs` worker
    processes (None: all cores; 1: in this process), or 'ray' on the cluster at `address`
    (None: $RAY_ADDRESS, else a Ray instance started here on 127.0.0.1 with `jobs` CPUs; a Ray
    connection this process already has is used as it is)."""
    if name == "local":
        if address is not None:
            raise BackproplabError(f"--address {address!r} is for --backend ray")
        return LocalBackend(jobs)
    if name == "ray":
        return RayBackend(address or os.environ.get("RAY_ADDRESS") or None, cpus=jobs)
    raise BackproplabError(f"unknown backend {name!r}; valid: {', '.join(BACKENDS)}")


_current: list[Backend] = []  # the backend of `using`, innermost last


@contextlib.contextmanager
def using(backend: Backend):
    """Make `backend` the one that jobs started inside use when given none (reproduce runs its
    parts inside one)."""
    _current.append(backend)
    try:
        yield backend
    finally:
        _current.pop()


@contextlib.contextmanager
def backend_for(backend: Backend | None, jobs: int | None = None):
    """`backend` itself; else the one of the enclosing `using`; else a local one with `jobs`
    workers, closed on leaving."""
    if backend is None and _current:
        backend = _current[-1]
    if backend is not None:
        yield backend
        return
    local = LocalBackend(jobs)
    try:
        yield local
    finally:
        local.close()


__all__ = ["BACKENDS", "RETRIES", "Backend", "BackendConfig", "LocalBackend", "Outcome",
           "RayBackend", "Task", "backend_for", "failures", "open_backend", "using"]
