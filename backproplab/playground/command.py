"""Train the problem set's networks live in the browser: every unit and every gradient in view.

Starts a local web server and opens the page in the default browser; Ctrl-C stops it. Each tab
is its own session with one training thread; at most --max-sessions train at once. Training,
the explained step, the gradient check, the seeds and the exports all run on backproplab's
NumPy engine in this process; the page only draws.

example: backproplab playground --port 8001 --no-open
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
from dataclasses import dataclass, field

from backproplab import config
from backproplab.errors import BackproplabError, require
from backproplab.playground import MAX_SESSIONS

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class PlaygroundConfig:
    host: str = field(default="127.0.0.1", metadata={
        "help": "address to listen on; anything but 127.0.0.1 lets others on the network train "
                "on this machine"})
    port: int = field(default=8000, metadata={"help": "port to listen on (0: any free port)"})
    open: bool = field(default=True, metadata={"help": "open the page in the default browser"})
    max_sessions: int = field(default=MAX_SESSIONS, metadata={
        "help": "browser tabs training at once (one training thread each)"})


def add_arguments(parser) -> None:
    config.add_arguments(parser, PlaygroundConfig)


def run(args) -> int:
    cfg = config.from_args(PlaygroundConfig, args)
    if not 0 <= cfg.port <= 65535:
        raise BackproplabError(f"--port={cfg.port} must be from 0 to 65535")
    if cfg.max_sessions < 1:
        raise BackproplabError(f"--max-sessions={cfg.max_sessions} must be >= 1")
    uvicorn = require("uvicorn", "playground", "backproplab playground")
    require("starlette", "playground", "backproplab playground")
    require("websockets", "playground", "backproplab playground")
    from backproplab.playground.messages import MAX_MESSAGE
    from backproplab.playground.server import create_app

    if cfg.host not in LOCAL_HOSTS:
        print(f"warning: listening on {cfg.host}: anyone who can reach this address can run "
              "training on this machine", file=sys.stderr)
    sock = bind(cfg.host, cfg.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    if ":" in host and host not in ("::",):
        url = f"http://[{host}]:{port}/"

    def ready():
        print(f"backproplab playground: {url}  (Ctrl-C stops it)", flush=True)
        if cfg.open:
            import webbrowser

            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    app = create_app(cfg.max_sessions, on_startup=ready, local_only=cfg.host in LOCAL_HOSTS)
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", ws_max_size=4 * MAX_MESSAGE, ws="websockets-sansio",
        timeout_graceful_shutdown=2))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down: the normal end
        pass
    print("backproplab playground: stopped", file=sys.stderr)
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a one-line error: a busy port suggests another one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BackproplabError(f"--host={host!r} is not an address of this machine: {exc}") \
            from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BackproplabError(
                f"port {port} on {host} is in use; choose another with --port "
                f"(e.g. --port {port + 1}, or --port 0 for any free port)") from None
        raise BackproplabError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock
