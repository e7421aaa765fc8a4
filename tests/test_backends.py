"""The local backend: tasks in worker processes, results as they finish, a dead worker's task
tried again, a task that keeps failing named while the others finish, bad input at once."""

from __future__ import annotations

import os

import pytest

from backproplab.backends import RETRIES, LocalBackend, Task, open_backend
from backproplab.errors import BackproplabError


def square(x, marker=None, report=None):
    """x * x, reporting one unit of progress; exits its process first while `marker` (a file)
    does not exist yet (then creates it), as a worker killed in the middle would."""
    if report is not None:
        report(1)
    if marker is not None and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)
    return x * x


def dies(report=None):
    os._exit(9)


def refuses(report=None):
    raise BackproplabError("--seeds=0 must be >= 1")


def breaks(report=None):
    raise ValueError("no such layer\nsecond line")


def _run(backend, tasks):
    done = []
    outcomes = list(backend.map(tasks, progress=done.append))
    return {o.task.name: o for o in outcomes}, sum(done)


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_task_gives_its_value_and_its_work_to_the_progress(jobs):
    outcomes, work = _run(LocalBackend(jobs), [Task(f"t{i}", square, (i,), work=3)
                                                for i in range(5)])
    assert {name: o.value for name, o in outcomes.items()} == {f"t{i}": i * i for i in range(5)}
    assert work == 5 * 3 and all(o.ok and o.where["pid"] for o in outcomes.values())


def test_a_task_whose_worker_died_is_run_again_in_a_new_worker(tmp_path):
    outcomes, _ = _run(LocalBackend(2), [Task("t0", square, (2,)),
                                         Task("t1", square, (3, str(tmp_path / "died")))])
    assert outcomes["t1"].value == 9 and (tmp_path / "died").exists()


def test_a_task_that_keeps_failing_is_named_and_the_others_finish():
    outcomes, _ = _run(LocalBackend(2), [Task("dies", dies), Task("breaks", breaks)] +
                       [Task(f"t{i}", square, (i,)) for i in range(4)])
    assert outcomes["dies"].error == f"its worker died {RETRIES + 1} times (last exit code 9)"
    assert outcomes["breaks"].error == "ValueError: no such layer"
    assert [outcomes[f"t{i}"].value for i in range(4)] == [0, 1, 4, 9]


@pytest.mark.parametrize("jobs", [1, 2])
def test_bad_input_in_a_task_stops_the_job_with_its_message(jobs):
    with pytest.raises(BackproplabError, match="--seeds=0"):
        _run(LocalBackend(jobs), [Task("refuses", refuses), Task("t", square, (1,))])


def test_closing_the_results_stops_the_workers():
    results = LocalBackend(2).map([Task(f"t{i}", square, (i,)) for i in range(50)])
    next(results)
    results.close()  # as Ctrl-C in the loop that reads them does
    import multiprocessing

    assert multiprocessing.active_children() == []


def test_address_belongs_to_the_ray_backend():
    with pytest.raises(BackproplabError, match="is for --backend ray"):
        open_backend("local", address="127.0.0.1:6379")
