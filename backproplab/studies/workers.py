"""Worker processes of a study: how they start, and what each does first.

Training (runner) spreads its stacks through a backend (backproplab.backends); figure drawing
(outputs) spreads its figures over a pool made here, with the local backend's workers' start.
"""

from __future__ import annotations

from backproplab.backends.local import worker_context, worker_init

__all__ = ["worker_context", "worker_init"]
