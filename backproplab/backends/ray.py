"""The Ray backend: one Ray task per unit of work, on a cluster or a Ray instance started here.

Each task asks for one CPU (and one GPU where it says so and the cluster has them), runs with
one BLAS thread, and is retried by Ray when its worker dies (`max_retries=RETRIES`). A Ray
instance started here listens on 127.0.0.1 only (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0); an
address is checked before Ray is asked to connect, because `ray.init` waits minutes on an
address where no Ray cluster answers. Ray itself is imported only here, when it is used.
"""

from __future__ import annotations

import logging
import os
import socket

from backproplab.backends.local import error_text
from backproplab.backends.tasks import RETRIES, Outcome, Task
from backproplab.errors import BackproplabError, require

CONNECT_TIMEOUT = 10.0  # seconds to reach a cluster's address before giving up
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _ray():
    # Ray reads this when imported: its instances then listen on 127.0.0.1 only (not on the
    # machine's network address); a cluster reached by --address is unaffected.
    os.environ.setdefault(LOOPBACK_ONLY, "0")
    return require("ray", "ray", "--backend ray")


class RayBackend:
    """Tasks on the Ray cluster at `address` ('HOST:PORT', 'ray://HOST:PORT' or 'auto'); None:
    a Ray instance started here on 127.0.0.1 with `cpus` CPUs (None: all), stopped by `close`.
    A Ray connection this process already has (ray.init called before) is used as it is."""

    name = "ray"
    local_files = False  # its tasks write into this machine's folders

    def __init__(self, address: str | None = None, cpus: int | None = None):
        ray = _ray()
        self.address = address
        self.owned = not ray.is_initialized()  # close() disconnects (or stops) what it started
        if self.owned:
            if address and address not in ("auto", "local"):
                check_reachable(address)
            elif not address and _network_wide(ray):
                raise BackproplabError(
                    f"Ray was imported before {LOOPBACK_ONLY}=0 was set: a Ray instance started "
                    "now would listen on this machine's network address; set it before "
                    "importing ray (or give --address)")
            if address and cpus is not None:
                raise BackproplabError("--jobs sets the CPUs of a Ray instance started here; "
                                       f"on the cluster at --address {address!r} leave it out")
            try:
                ray.init(address=address or "local", num_cpus=None if address else cpus,
                         include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
            except ConnectionError as exc:
                raise BackproplabError(f"--address {address!r}: {error_text(exc)}") from None
        resources = ray.cluster_resources()
        self.slots = max(int(resources.get("CPU", 1)), 1)
        self.gpus = int(resources.get("GPU", 0))
        self.nodes = [n for n in ray.nodes() if n.get("Alive")]

    def describe(self) -> dict:
        return {"name": self.name, "address": self.address or "a Ray instance started here",
                "nodes": len(self.nodes), "cpus": self.slots, "gpus": self.gpus}

    def put(self, obj):
        return _ray().put(obj)

    def map(self, tasks: list[Task], progress=None):
        ray = _ray()
        remote = ray.remote(_run)
        pending = {}
        for task in tasks:
            options = {"num_cpus": 1, "num_gpus": task.gpus if self.gpus else 0,
                       "max_retries": RETRIES, "name": f"backproplab {task.name}"}
            pending[remote.options(**options).remote(task.fn, *task.args)] = task
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    task = pending.pop(ref)
                    try:
                        value, where = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # the task raised
                        cause = exc.cause if exc.cause is not None else exc
                        if isinstance(cause, BackproplabError):
                            raise BackproplabError(str(cause)) from None
                        yield Outcome(task, error=error_text(cause))
                        continue
                    except ray.exceptions.RayError as exc:  # its worker died, and died again
                        yield Outcome(task, error=f"failed {RETRIES + 1} times: "
                                      f"{error_text(exc)}")
                        continue
                    if progress is not None:
                        progress(task.work)
                    yield Outcome(task, value, where=where)
        finally:  # Ctrl-C or an error: cancel what has not finished, keep what was yielded
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self.owned:
            _ray().shutdown()
            self.owned = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """A Ray cluster (a gRPC server) answers at `address`, or a one-line BackproplabError."""
    import grpc  # comes with Ray

    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise BackproplabError(f"--address {address!r} is not HOST:PORT (or ray://HOST:PORT, "
                               "auto)")
    try:  # nothing listening: at once (gRPC alone would wait out the timeout)
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise BackproplabError(f"--address {address!r}: cannot connect ({exc.strerror or exc})"
                               ) from None
    channel = grpc.insecure_channel(target)  # something listens: is it a gRPC server (Ray's)?
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        raise BackproplabError(f"--address {address!r}: no Ray cluster answers there within "
                               f"{timeout:g} s") from None
    finally:
        channel.close()


def _network_wide(ray) -> bool:
    """Whether a Ray instance started here would listen beyond 127.0.0.1: Ray read
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER when it was imported, so what it decided then counts,
    not what the environment says now (`_ray()` sets it, too late if Ray came first)."""
    from ray._private import ray_constants

    return bool(ray_constants.ENABLE_RAY_CLUSTER)


def _run(fn, *args):
    """In a Ray worker: the task with one BLAS thread, and where it ran."""
    import ray
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        value = fn(*args, report=None)
    return value, {"node": ray.get_runtime_context().get_node_id(),
                   "ip": ray.util.get_node_ip_address(), "pid": os.getpid()}
