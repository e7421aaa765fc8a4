"""The web app: the page, and one session per WebSocket, driven by Starlette's test client."""

import json

import pytest

pytest.importorskip("starlette")

from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from backproplab.playground.messages import MAX_MESSAGE  # noqa: E402
from backproplab.playground.server import create_app  # noqa: E402


@pytest.fixture
def client():
    with TestClient(create_app(max_sessions=2)) as c:
        yield c


def receive(ws, kind):
    while True:
        m = json.loads(ws.receive_text())
        if m["type"] == kind:
            return m


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "<title>backproplab playground</title>" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_a_websocket_is_a_session_that_trains(client):
    with client.websocket_connect("/ws") as ws:
        assert receive(ws, "data")["n_classes"] == 2
        assert receive(ws, "frame")["pass"] == 0
        ws.send_text(json.dumps({"type": "step", "passes": 5}))
        assert receive(ws, "frame")["pass"] == 5


def test_hello_gives_the_page_the_servers_choices_and_defaults(client):
    # The page fills its menus and a shared link's missing settings from these: one source.
    from backproplab.datasets import DATASETS
    from backproplab.nn.defaults import ACTIVATION_NAMES, EPSILON, REG_LAMBDA
    from backproplab.playground.messages import default_config

    with client.websocket_connect("/ws") as ws:
        hello = receive(ws, "hello")
    assert hello["choices"] == {"source": [*DATASETS, "custom"],
                                "activation": list(ACTIVATION_NAMES)}
    assert hello["defaults"] == default_config()
    assert hello["defaults"]["network"]["epsilon"] == EPSILON
    assert hello["defaults"]["network"]["reg_lambda"] == REG_LAMBDA


def test_a_bad_message_gets_an_error_and_the_session_goes_on(client):
    with client.websocket_connect("/ws") as ws:
        receive(ws, "frame")
        for bad in ["not json", '{"type": "step", "passes": -1}', '{"type": "hack"}']:
            ws.send_text(bad)
            assert receive(ws, "error")["message"]
        ws.send_text(json.dumps({"type": "step", "passes": 3}))
        assert receive(ws, "frame")["pass"] == 3


def test_an_oversized_message_is_refused_unread(client):
    with client.websocket_connect("/ws") as ws:
        receive(ws, "frame")
        ws.send_text('{"type": "csv", "text": "' + "1" * MAX_MESSAGE + '"}')
        assert "refused" in receive(ws, "error")["message"]


def test_sessions_beyond_the_limit_are_told_and_closed(client):
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
        receive(a, "frame"), receive(b, "frame")
        with client.websocket_connect("/ws") as c:
            m = json.loads(c.receive_text())
            assert m["fatal"] and "2 sessions are open" in m["message"]
            with pytest.raises(WebSocketDisconnect):
                c.receive_text()


def test_closing_a_websocket_ends_its_session(client):
    with client.websocket_connect("/ws") as ws:
        receive(ws, "frame")
        ws.send_text(json.dumps({"type": "play"}))
        receive(ws, "frame")
    sessions = client.app.state.sessions
    assert not sessions


def test_a_websocket_from_another_site_is_refused(client):
    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_text()


def test_a_message_after_the_event_loop_closed_is_dropped_not_raised():
    # A session thread finishing a frame after the server's loop closed raised "Event loop is
    # closed" in its thread (a traceback on stderr).
    import asyncio

    from backproplab.playground.server import _post

    loop = asyncio.new_event_loop()
    outbox: asyncio.Queue = asyncio.Queue()
    loop.close()
    _post(loop, outbox, ("{}", False))
    assert outbox.empty()
