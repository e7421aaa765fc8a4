"""Helpers of the playground's tests: a session driven without a browser."""

from __future__ import annotations

import json
import queue
import time

import pytest

from backproplab.playground.messages import default_config, parse_message
from backproplab.playground.session import Session


class Tab:
    """A Session with the page's side played by a queue: `send` a message as the page would,
    `wait_for` the next message of a type."""

    def __init__(self, config=None):
        self.inbox: queue.Queue = queue.Queue()
        self.session = Session(self._receive, config)
        self.session.start()

    def _receive(self, text, is_frame):
        self.inbox.put(json.loads(text))
        if is_frame:
            self.session.frame_sent()

    def send(self, **message):
        self.session.submit(parse_message(json.dumps(message)))

    def wait_for(self, kind, timeout=30.0, where=lambda m: True):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                m = self.inbox.get(timeout=max(end - time.monotonic(), 0.01))
            except queue.Empty:
                break
            if m["type"] == kind and where(m):
                return m
            assert m["type"] != "error" or kind == "error", m["message"]
        raise AssertionError(f"no {kind!r} message within {timeout} s")

    def close(self):
        self.session.close()
        self.session.thread.join(5)


@pytest.fixture
def open_tab():
    """Tab(), closed after the test."""
    tabs = []

    def make(config=None):
        tabs.append(Tab(config))
        return tabs[-1]

    yield make
    for t in tabs:
        t.close()


@pytest.fixture
def tab(open_tab):
    t = open_tab()
    t.wait_for("frame")
    return t


@pytest.fixture
def config():
    """config(**network): the default settings with these network settings."""

    def make(**network):
        c = default_config()
        c["network"].update(network)
        return c

    return make
