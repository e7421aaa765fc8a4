"""A dependency-free progress bar for long work, written to stderr.

On a terminal it redraws one line; in a log (no TTY) it prints a line every 10%.

The ETA comes with the first report of work, and is measured, never assumed: on a terminal the
bar is drawn when it is made, and the first report is drawn at once (later ones at most every
0.1 s). The first ETA is the rate of the work reported so far over all the time since the bar
was made, start-up included, so it errs long; it is marked "~" until SETTLE seconds of work
after the first report have been timed, and from then on the rate is that of the work since
the first report (so the start-up and the first report's warm-up no longer count). Work
reported within AT_ONCE seconds of the bar's making was done before (e.g. a resumed run's
steps): it is counted, but not in any rate.
"""

from __future__ import annotations

import sys
import time

SETTLE = 1.0  # seconds of reports after the first one before their rate replaces the first ETA
AT_ONCE = 0.05  # a first report this soon after the bar is made is work done before, not a rate
REDRAW = 0.1  # seconds between redraws on a terminal


class Progress:
    def __init__(self, total: int, desc: str = "", unit: str = "it", stream=None, enabled=True,
                 clock=time.perf_counter):
        self.total, self.desc, self.unit = max(int(total), 1), desc, unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.n, self.postfix = 0, ""
        self.clock = clock
        self.start = self._last_draw = clock()
        self._first: tuple[float, int] | None = None  # (time, n) of the first report of work
        self._before = 0  # work reported at once when the bar was made: done before, no rate
        self._last_decile = -1
        if self.tty:
            self._draw(self.start)

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        before = self.n
        self.n = min(self.n + n, self.total)
        if postfix is not None:
            self.postfix = postfix
        if not self.enabled:
            return
        now = self.clock()
        first = self._first is None and self.n > before  # drawn at once, whenever it comes
        if first and now - self.start < AT_ONCE:
            self._before = self.n  # e.g. a resumed run's steps: done before, not a rate
        elif first:
            self._first = (now, self.n)
        if self.tty:
            if first or now - self._last_draw >= REDRAW or self.n == self.total:
                self._draw(now)
        else:
            decile = 10 * self.n // self.total
            if decile > self._last_decile:
                self._last_decile = decile
                self.stream.write(self._line(now) + "\n")
                self.stream.flush()

    def _draw(self, now: float) -> None:
        self._last_draw = now
        self.stream.write("\r\033[K" + self._line(now))
        self.stream.flush()

    def write(self, message: str) -> None:
        """Print a line of output without tearing the bar (it is redrawn below)."""
        if self.tty and self.enabled:
            self.stream.write("\r\033[K")
        print(message, flush=True)
        if self.tty and self.enabled:
            self._draw(self.clock())

    def rate(self, now: float) -> tuple[float, bool]:
        """(units per second, settled): 0.0 while there is no measure of it yet; settled once
        SETTLE seconds after the first report are timed (then the rate since that report)."""
        if self._first is None:
            return 0.0, False
        t1, n1 = self._first
        if now - t1 >= SETTLE and self.n > n1:
            return (self.n - n1) / (now - t1), True
        return (self.n - self._before) / (now - self.start), False

    def eta(self, now: float) -> tuple[float, bool]:
        """(seconds left, settled), nan while unknown."""
        rate, settled = self.rate(now)
        return ((self.total - self.n) / rate if rate > 0 else float("nan")), settled

    def _line(self, now: float) -> str:
        frac = self.n / self.total
        elapsed = now - self.start
        rate, _ = self.rate(now)
        eta, settled = self.eta(now)
        left = _fmt(eta) if settled or eta != eta else "~" + _fmt(eta)
        bar = "#" * int(24 * frac) + "-" * (24 - int(24 * frac))
        text = (f"{self.desc} [{bar}] {self.n}/{self.total} {frac:4.0%} "
                f"{_fmt(elapsed)}<{left} {rate:.1f} {self.unit}/s")
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
