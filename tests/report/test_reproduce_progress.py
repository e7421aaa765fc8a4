"""reproduce's progress: a bar per kind of work (part I's model-passes, part II's CNN steps),
drawn at once, with an ETA from the first report of its work, measured on that work alone."""

from __future__ import annotations

import functools
import io
import re

import pytest

from backproplab.progress import Progress
from backproplab.report import parts
from backproplab.report.profiles import PROFILES


class Clock:
    t = 0.0

    def __call__(self):
        return self.t


class Terminal(io.StringIO):
    def __init__(self):
        super().__init__()
        self.lines = []

    def isatty(self):
        return True

    def write(self, s):
        self.lines += [p for p in s.split("\r\033[K") if p.strip()]
        return super().write(s)


@pytest.fixture
def screen(monkeypatch):
    clock, term = Clock(), Terminal()
    monkeypatch.setattr(parts, "Progress", functools.partial(Progress, stream=term, clock=clock))
    return clock, term


def eta(line: str) -> str:
    return re.search(r"<(~?[\d:?]+)", line)[1]


STUDIES = ["study:moons-activations", "study:moons-hidden"]


@pytest.mark.parametrize("done_before", [[], ["figures"], ["figures", STUDIES[0]]])
def test_part_one_is_drawn_at_once_and_its_eta_comes_with_the_first_report(screen, done_before):
    clock, term = screen
    profile = PROFILES["quick"]
    todo = [n for n in ["figures", *STUDIES, "cnn"] if n not in done_before]
    bars = parts.Bars(profile, todo)
    total = sum(parts.study_work(n.removeprefix("study:"), profile.seeds, profile.passes)
                for n in todo if n.startswith("study:"))
    bars.start(todo[0])
    assert "reproduce part I [" in term.lines[0] and f"0/{total} " in term.lines[0]
    assert eta(term.lines[-1]) == "?"  # nothing measured yet: no guess
    study = next(n for n in todo if n.startswith("study:"))
    if todo[0] != study:
        clock.t = 1.5  # the figures
        bars.end(todo[0])
        bars.start(study)
    progress = bars.study(study.removeprefix("study:"))
    clock.t += 0.3
    progress.update(1000)  # the first report of work: drawn at once, with an ETA (errs long)
    assert eta(term.lines[-1]).startswith("~") and "1000/" in term.lines[-1]
    for _ in range(12):  # a report every 0.1 s at 10,000 model-passes a second
        clock.t += 0.1
        progress.update(1000)
    left = eta(term.lines[-1])
    assert not left.startswith("~")
    minutes, seconds = map(int, left.split(":"))
    true = (total - 13_000) / 10_000
    assert abs(60 * minutes + seconds - true) <= max(0.1 * true, 1)


def test_a_resumed_study_leaves_part_ones_total_and_part_two_counts_steps(screen):
    clock, term = screen
    profile = PROFILES["quick"]
    bars = parts.Bars(profile, [*STUDIES, "cnn"])
    first = bars.work[STUDIES[0]]
    bars.start(STUDIES[0])
    bars.study("moons-activations").update(first // 4)  # 3/4 were trained in an earlier session
    bars.end(STUDIES[0])
    assert bars.bar.total == sum(bars.work.values()) - (first - first // 4)
    bars.start("cnn")  # part I's bar is closed; part II's is made by the CNN's first report
    assert bars.bar is None
    report = bars.cnn()
    clock.t += 2.0
    report(1, 400, "adam-relu seed 0, epoch 1/2")
    assert "reproduce part II [" in term.lines[-1] and "1/400" in term.lines[-1]
    for step in range(2, 30):
        clock.t += 0.1
        report(step, 400, "adam-relu seed 0, epoch 1/2")
    assert not eta(term.lines[-1]).startswith("~") and eta(term.lines[-1]) != "?"
    bars.close()
