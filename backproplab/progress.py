"""A dependency-free progress bar for long work, written to stderr.

On a terminal it redraws one line; in a log (no TTY) it prints a line every 10%.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, desc: str = "", unit: str = "it", stream=None, enabled=True):
        self.total, self.desc, self.unit = max(int(total), 1), desc, unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.n, self.postfix = 0, ""
        self.start = self._last_draw = time.perf_counter()
        self._last_decile = -1

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        self.n = min(self.n + n, self.total)
        if postfix is not None:
            self.postfix = postfix
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.tty:
            if now - self._last_draw >= 0.1 or self.n == self.total:
                self._last_draw = now
                self.stream.write("\r" + self._line(now))
                self.stream.flush()
        else:
            decile = 10 * self.n // self.total
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(self._line(now) + "\n")
                self.stream.flush()

    def write(self, message: str) -> None:
        """Print a line of output without tearing the bar (it is redrawn below)."""
        if self.tty and self.enabled:
            self.stream.write("\r\033[K")
        print(message, flush=True)
        if self.tty and self.enabled:
            self.stream.write(self._line(time.perf_counter()))
            self.stream.flush()

    def _line(self, now: float) -> str:
        frac = self.n / self.total
        elapsed = now - self.start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.n) / rate if rate > 0 else float("nan")
        bar = "#" * int(24 * frac) + "-" * (24 - int(24 * frac))
        text = (f"{self.desc} [{bar}] {self.n}/{self.total} {frac:4.0%} "
                f"{_fmt(elapsed)}<{_fmt(eta)} {rate:.1f} {self.unit}/s")
        return text + (f" {self.postfix}" if self.postfix else "")

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
        self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fmt(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"
