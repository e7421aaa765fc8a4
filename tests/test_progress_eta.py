"""The progress bar shows an ETA with the first report of work, and an honest one: measured,
erring long (marked "~") until a second of reports is timed, then within a few percent of the
truth, whatever the job's start-up, warm-up, resumed work or bursts of reports.

Each case is a job as the bar sees it: when reports come and how much work each carries, on a
clock of the test's own; the true time left is known, so the ETA is checked against it.
"""

from __future__ import annotations

import io
import re

import pytest

from backproplab.progress import SETTLE, Progress


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class Terminal(io.StringIO):
    """stderr on a terminal: every drawn line, with the clock's time when it was drawn."""

    def __init__(self, clock):
        super().__init__()
        self.clock, self.lines = clock, []

    def isatty(self):
        return True

    def write(self, s):
        for piece in s.split("\r\033[K"):
            if piece.strip():
                self.lines.append((self.clock.t, piece))
        return super().write(s)


def eta_of(line: str) -> tuple[float | None, bool]:
    """(seconds left, or None for "?"; tentative) of a drawn line."""
    m = re.search(r"<(~?)(\?|(\d+):(\d\d))", line)
    assert m, line
    if m[2] == "?":
        return None, False
    return int(m[3]) * 60 + int(m[4]), m[1] == "~"


def job(units, startup, first_after, every, reports, done_before=0, burst=1):
    """A job's reports, (time, units): it starts working `startup` seconds after the bar is made
    (imports, forks, a first step's warm-up), reports `units` of work every `every` seconds
    (the first after `first_after`), `burst` reports at one instant (workers finishing
    together), `reports` in all; `done_before` units come at once (a resume)."""
    out = [(0.001, done_before)] if done_before else []
    t = startup + first_after
    for i in range(reports // burst):
        out += [(round(t + i * every * burst, 6), units)] * burst
    return out


CASES = {  # name: (units, startup, first report after, every, reports, done before, burst)
    "a study: reports every 250 passes of a stack": (1250, 0.0, 0.3, 0.1, 300, 0, 1),
    "a CNN epoch: a slow first report (warm-up)": (20, 1.2, 0.15, 0.13, 250, 0, 1),
    "a resumed run: work done before comes at once": (20, 0.2, 0.13, 0.13, 250, 3000, 1),
    "two workers: reports in bursts": (1000, 0.5, 0.4, 0.25, 200, 0, 2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_eta_comes_with_the_first_report_and_is_honest_within_two_seconds(case):
    units, startup, first_after, every, count, before, burst = CASES[case]
    reports = job(units, startup, first_after, every, count, before, burst)
    end = reports[-1][0]  # when the work is done: the true ETA at time t is end - t
    assert end > 20  # a long job
    clock = Clock()
    term = Terminal(clock)
    bar = Progress(sum(n for _, n in reports), "job", stream=term, clock=clock)
    assert eta_of(term.lines[0][1]) == (None, False)  # drawn at once; no guess before work
    first_work = next(t for t, n in reports if t > 0.01)
    for t, n in reports:
        clock.t = t
        bar.update(n)
    drawn = [(t, *eta_of(line)) for t, line in term.lines]
    # the first report of work is drawn at once, with an ETA that errs long (marked "~")
    t, eta, tentative = next(d for d in drawn if d[0] >= first_work)
    assert t == first_work and eta is not None and tentative and eta >= end - t - 1
    # SETTLE seconds later (within 2 s of the first report) the ETA is measured on the work
    # since the first report: no longer marked, and within 10% (or a second) of the truth
    later = [d for d in drawn if d[0] > first_work + SETTLE + 1e-9]
    assert later[0][0] <= first_work + 2  # reports come at least every second here
    for t, eta, tentative in later:
        assert not tentative and eta is not None
        assert abs(eta - (end - t)) <= max(0.1 * (end - t), 1.0), (t, eta, end - t)


def test_work_done_before_is_not_taken_for_a_rate():
    clock = Clock()
    term = Terminal(clock)
    bar = Progress(10_000, "job", stream=term, clock=clock)
    clock.t = 0.001
    bar.update(5_000)  # a resumed run's steps, reported at once
    assert eta_of(term.lines[-1][1]) == (None, False)  # not "0:00": nothing measured yet


def test_in_a_log_a_line_every_tenth_and_off_when_disabled():
    clock = Clock()
    log = io.StringIO()  # not a terminal
    bar = Progress(100, "job", stream=log, clock=clock)
    for i in range(100):
        clock.t = 0.5 + i * 0.1
        bar.update(1)
    lines = log.getvalue().splitlines()
    assert len(lines) == 11 and "\r" not in log.getvalue()
    assert lines[0].startswith("job [") and "100/100" in lines[-1]
    quiet = io.StringIO()
    bar = Progress(100, "job", stream=quiet, enabled=False, clock=clock)
    bar.update(50)
    bar.close()
    assert quiet.getvalue() == ""
