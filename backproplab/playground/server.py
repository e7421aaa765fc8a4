"""The playground's web app (Starlette): the page, its files, and one WebSocket per tab.

    GET /            the page (static/index.html)
    GET /static/...  its script and style
    WS  /ws          the session: JSON messages both ways (see `messages` and `session`)

Each WebSocket is one `Session` with its own training thread; at most `max_sessions` are open
at once (the next tab is told so and closed). A message is checked before anything is done
with it: a bad one is answered with an error message (and logged), and the session goes on. A
WebSocket whose Origin is another site is refused, so that no other page open in the browser
can drive training here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from importlib import resources
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from backproplab.playground import MAX_SESSIONS, messages
from backproplab.playground.messages import MessageError, parse_message
from backproplab.playground.session import Session, figure_menu

LIMITS = {k.lower(): getattr(messages, k) for k in (
    "MAX_POINTS", "MAX_HIDDEN_LAYERS", "MAX_UNITS", "MAX_CLASSES", "MAX_PASSES", "MAX_SEEDS",
    "MAX_MESSAGE")}  # stated in the page
log = logging.getLogger("backproplab.playground")
STATIC = resources.files("backproplab.playground") / "static"


def _post(loop, outbox, item) -> None:
    """Hand a session thread's message to its connection's event loop; dropped when that loop
    has closed (the server stopped while the session was still making a frame)."""
    try:
        loop.call_soon_threadsafe(outbox.put_nowait, item)
    except RuntimeError:  # "Event loop is closed": nobody is left to read it
        pass


def create_app(max_sessions: int = MAX_SESSIONS, on_startup=None,
               local_only: bool = False) -> Starlette:
    """The app; `on_startup()` runs once the server listens (opening the browser).
    `local_only` (a server on a loopback address): a WebSocket is accepted only for a Host of
    this machine's own names, so that a page of another site whose name was made to resolve to
    127.0.0.1 (DNS rebinding: its Origin and Host then agree) cannot train here."""
    sessions: set[Session] = set()
    hello = json.dumps({"type": "hello", "figures": figure_menu(), "limits": LIMITS,
                        "max_sessions": max_sessions, "choices": messages.choices(),
                        "defaults": messages.default_config()})

    async def index(request):
        return FileResponse(str(STATIC / "index.html"), headers={"Cache-Control": "no-store"})

    async def stream(ws: WebSocket):
        if not _same_origin(ws) or (local_only and not _local_host(ws)):
            log.warning("refused a WebSocket from origin %s", ws.headers.get("origin"))
            await ws.close(code=1008)
            return
        await ws.accept()
        if len(sessions) >= max_sessions:
            await ws.send_text(json.dumps({"type": "error", "fatal": True, "message":
                               f"{max_sessions} sessions are open, the most this server runs "
                               "at once: close another playground tab and reload"}))
            await ws.close(code=1013)
            return
        await ws.send_text(hello)
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue = asyncio.Queue()
        session = Session(lambda text, is_frame: _post(loop, outbox, (text, is_frame)))
        session.start()
        sessions.add(session)
        sender = asyncio.create_task(_send(ws, outbox, session))
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text") or message.get("bytes") or ""
                try:
                    session.submit(parse_message(text))
                except MessageError as exc:
                    log.warning("bad message: %s", exc)
                    await ws.send_text(json.dumps({"type": "error", "message": str(exc)}))
        except WebSocketDisconnect:
            pass
        finally:
            session.close()  # the worker stops at its next pass or command
            sessions.discard(session)
            sender.cancel()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if on_startup is not None:
            on_startup()
        yield
        for session in list(sessions):  # Ctrl-C: every training thread stops
            session.close()

    app = Starlette(routes=[
        Route("/", index),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        WebSocketRoute("/ws", stream),
    ], lifespan=lifespan)
    app.state.sessions = sessions
    return app


async def _send(ws: WebSocket, outbox: asyncio.Queue, session: Session):
    try:
        while True:
            text, is_frame = await outbox.get()
            await ws.send_text(text)
            if is_frame:
                session.frame_sent()
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the tab is gone; the receiving side ends the session


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _local_host(ws: WebSocket) -> bool:
    """The Host header names this machine by a loopback name (any port)."""
    name = urlsplit(f"//{ws.headers.get('host', '')}").hostname or ""
    return name in LOOPBACK_NAMES


def _same_origin(ws: WebSocket) -> bool:
    """No Origin (not a browser), or the page's own host and port."""
    origin = ws.headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc == ws.headers.get("host")
