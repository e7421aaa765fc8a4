"""The local backend: tasks in this process (one job) or in worker processes of this machine.

Each worker is a process of its own with a pipe to the driver, which hands it one task at a
time; so the driver knows which task a worker that died was running, tries that task again
(RETRIES times) in a fresh worker, and names it when it keeps failing. Progress a task reports
comes back through the same pipe.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import traceback
from collections import deque
from multiprocessing.connection import wait

from backproplab.backends.tasks import RETRIES, Outcome, Task
from backproplab.errors import BackproplabError


def worker_context():
    """Worker processes by fork where there is one (no re-import, no pickled modules), but by
    spawn in a process that uses Ray: a fork copies gRPC's locks held by its threads, and the
    child can wait on them for ever."""
    fork = "fork" in multiprocessing.get_all_start_methods() and not {"ray", "grpc"} & set(
        sys.modules)
    return multiprocessing.get_context("fork" if fork else "spawn")


def worker_init():
    """Ctrl-C is the driver's to handle; one BLAS thread per worker (the workers already share
    the cores, and a task's matrices are far too small for threaded BLAS)."""
    from threadpoolctl import threadpool_limits

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threadpool_limits(1)


def error_text(exc: BaseException) -> str:
    """An exception in one line: 'ValueError: what it says'."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


class LocalBackend:
    """`jobs` worker processes (None: all cores); with one job, or one task, the tasks run in
    this process one after another (with one BLAS thread), as they did before backends."""

    name = "local"
    local_files = True  # its tasks write into this machine's folders

    def __init__(self, jobs: int | None = None):
        self.jobs = (os.cpu_count() or 1) if jobs is None else jobs
        if self.jobs < 1:
            raise BackproplabError(f"--jobs={self.jobs} must be >= 1")
        self.slots = self.jobs

    def describe(self) -> dict:
        return {"name": self.name, "nodes": 1, "jobs": self.jobs, "cpus": os.cpu_count(),
                "host": socket.gethostname()}

    def put(self, obj):
        return obj  # forked workers and this process share it already

    def map(self, tasks: list[Task], progress=None):
        if min(self.jobs, len(tasks)) <= 1:
            return self._inline(tasks, progress)
        return self._processes(tasks, progress, min(self.jobs, len(tasks)))

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _inline(self, tasks, progress):
        from threadpoolctl import threadpool_limits

        where = {"host": socket.gethostname(), "pid": os.getpid()}
        with threadpool_limits(1):
            for task in tasks:
                reported = [0]

                def report(n, reported=reported):
                    reported[0] += n
                    if progress is not None:
                        progress(n)
                try:
                    value = task.fn(*task.args, report=report)
                except BackproplabError:
                    raise
                except Exception as exc:  # noqa: BLE001 - reported by name, the others go on
                    yield Outcome(task, error=error_text(exc), where=where)
                    continue
                if progress is not None and task.work > reported[0]:
                    progress(task.work - reported[0])
                yield Outcome(task, value, where=where)

    def _processes(self, tasks, progress, n):
        ctx = worker_context()
        todo = deque(range(len(tasks)))
        tries = [0] * len(tasks)
        reported = [0] * len(tasks)
        workers: dict = {}  # Process -> [connection, index of its task or None]
        try:
            while todo or any(i is not None for _, i in workers.values()):
                while len(workers) < n and todo:  # a worker per slot; dead ones are replaced
                    here, there = ctx.Pipe()
                    proc = ctx.Process(target=_serve, args=(there,), daemon=True)
                    proc.start()
                    there.close()
                    workers[proc] = [here, None]
                for slot in workers.values():
                    if slot[1] is None and todo:
                        slot[1] = todo.popleft()
                        tries[slot[1]] += 1
                        slot[0].send((tasks[slot[1]].fn, tasks[slot[1]].args))
                busy = {c: p for p, (c, i) in workers.items() if i is not None}
                wait(list(busy) + [p.sentinel for p in busy.values()])
                for proc, slot in list(workers.items()):
                    conn, i = slot
                    if i is None:
                        continue
                    message = _receive(conn)
                    while message is not None and message[0] == "report":
                        reported[i] += message[1]
                        if progress is not None:
                            progress(message[1])
                        message = _receive(conn)
                    task = tasks[i]
                    where = {"host": socket.gethostname(), "pid": proc.pid}
                    if message is None and proc.is_alive():
                        continue  # still working
                    slot[1] = None
                    if message is None:  # the worker died in the middle of the task
                        conn.close()
                        proc.join()
                        del workers[proc]
                        if tries[i] <= RETRIES:
                            todo.appendleft(i)
                        else:
                            yield Outcome(task, error=f"its worker died {tries[i]} times (last "
                                          f"exit code {proc.exitcode})", where=where)
                    elif message[0] == "done":
                        if progress is not None and task.work > reported[i]:
                            progress(task.work - reported[i])
                        yield Outcome(task, message[1], where=where)
                    elif message[2]:  # bad input: the whole job stops
                        raise BackproplabError(message[1])
                    else:
                        yield Outcome(task, error=message[1], where=where)
            for conn, _ in workers.values():
                conn.send(None)
        finally:  # on Ctrl-C or an error: stop the workers, keep what was yielded
            for proc, (conn, _) in workers.items():
                if proc.is_alive():
                    proc.terminate()
                proc.join()
                conn.close()


def _receive(conn):
    """The worker's next message, or None when there is none yet (or the worker is gone)."""
    try:
        return conn.recv() if conn.poll() else None
    except (EOFError, OSError):
        return None


def _serve(conn):
    """A worker: run the tasks the driver sends until it sends None."""
    worker_init()
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        fn, args = job
        try:
            value = fn(*args, report=lambda n: conn.send(("report", n)))
        except Exception as exc:  # noqa: BLE001 - sent to the driver, which names the task
            if os.environ.get("BACKPROPLAB_DEBUG"):
                traceback.print_exc()
            conn.send(("error", error_text(exc) if not isinstance(exc, BackproplabError)
                       else str(exc), isinstance(exc, BackproplabError)))
            continue
        conn.send(("done", value))
