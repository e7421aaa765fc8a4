"""Worker processes of a study: how they start, and what each does first.

Training (runner) and figure drawing (outputs) both spread their work over a pool made here.
"""

from __future__ import annotations

import multiprocessing
import signal

from threadpoolctl import threadpool_limits


def worker_context():
    """Worker processes by fork where there is one (no re-import, no pickled modules)."""
    return multiprocessing.get_context("fork" if "fork" in
                                       multiprocessing.get_all_start_methods() else "spawn")


def worker_init():
    """Ctrl-C is the parent's to handle; one BLAS thread per worker (the workers already share
    the cores, and these matrices are far too small for threaded BLAS)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threadpool_limits(1)
