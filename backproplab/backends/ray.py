"""The Ray backend: one Ray task per unit of work, on a cluster or a Ray instance started here.

Each task asks for one CPU (and one GPU where it says so and the cluster has them), runs with
one BLAS thread, and is retried by Ray when its worker dies (`max_retries=RETRIES`). A Ray
instance started here listens on 127.0.0.1 only (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0); an
address is checked before Ray is asked to connect, because `ray.init` waits minutes on an
address where no Ray cluster answers, and for ever on one that wants a token it was not given.
Ray itself is imported only here, when it is used.

What it costs on top of the tasks (docs/BENCHMARKS.md): starting a Ray instance here (GCS,
raylet, agents, the first workers: about 2.3 s on 2 cores) and stopping it, and on any cluster
the job's worker processes, which start with this connection and import what the tasks need;
so the workers are started and warmed (`warm`) while the driver prepares its tasks.
"""

from __future__ import annotations

import logging
import os
import socket
import sys

from backproplab.backends.local import error_text
from backproplab.backends.tasks import RETRIES, Outcome, Task
from backproplab.errors import BackproplabError, require

CONNECT_TIMEOUT = 10.0  # seconds to reach a cluster's address before giving up
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
AUTH_MODE = "RAY_AUTH_MODE"  # "token": this driver sends Ray's token (Ray 2.60 token auth)
WARM_TASKS = 64  # at most this many warm-up tasks (one per CPU) when a backend opens


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
        self.warming = warm(ray, min(self.slots, WARM_TASKS))

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
            ray = _ray()
            if not self.address:
                _stop_autoscaler(ray)
            ray.shutdown()
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
        if not address.startswith("ray://") and os.environ.get(AUTH_MODE, "").lower() != "token":
            _check_no_token_wanted(grpc, channel, address, timeout)
    except grpc.FutureTimeoutError:
        raise BackproplabError(f"--address {address!r}: no Ray cluster answers there within "
                               f"{timeout:g} s") from None
    finally:
        channel.close()


def _check_no_token_wanted(grpc, channel, address: str, timeout: float) -> None:
    """A one-line error where the cluster's GCS refuses a driver without Ray's token (a cluster
    started by `ray start` or `ray.init()` once ~/.ray/auth_token exists): `ray.init` would
    retry there for ever. Any other answer is Ray's to judge when it connects."""
    ask = channel.unary_unary("/ray.rpc.NodeInfoGcsService/GetClusterId",
                              request_serializer=bytes, response_deserializer=bytes)
    try:
        ask(b"", timeout=timeout)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            raise BackproplabError(
                f"--address {address!r}: that Ray cluster wants its authentication token; "
                f"set {AUTH_MODE}=token (the token from $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH "
                "or ~/.ray/auth_token)") from None


def warm(ray, n: int) -> list:
    """Start `n` tasks of one CPU that import the backproplab modules this driver has
    imported: the job's worker processes start and load them (NumPy, matplotlib, the study
    or CNN code: 0.5-1 s each) while the driver prepares its tasks, instead of after it sends
    them. Returns their references (nothing waits for them)."""
    modules = sorted(m for m in sys.modules if m.startswith("backproplab."))
    remote = ray.remote(_import).options(num_cpus=1, max_retries=0, name="warm backproplab")
    return [remote.remote(modules) for _ in range(n)]


def _import(modules) -> None:
    """In a Ray worker: import `modules` (one that fails is left to the task that needs it)."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - a warm-up only
            continue


def _stop_autoscaler(ray) -> None:
    """Stop the autoscaler monitor of the Ray instance started here at once: `ray.shutdown`
    sends it SIGTERM after the GCS has gone, and its handler then waits one second for the
    GCS before Ray kills it (1.0 of shutdown's 1.4 s). Nothing scales a one-machine instance."""
    try:
        from ray._private import worker

        node = worker._global_node
        if node is not None and node.is_head():
            node.kill_monitor(check_alive=False)
    except Exception:  # noqa: BLE001 - Ray's internals moved: shutdown just takes longer
        pass


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
