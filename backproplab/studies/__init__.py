"""Part I studies: each decision-boundary figure of the problem set, measured across seeds.

    from backproplab.studies import PRESETS, run_study
    result = run_study("moons-activations", "out/moons-activations", seeds=5, passes=20000)
    result.summary[0].heldout_accuracy.mean, result.figures["boundaries"], result.finding

Modules, bottom up: `spec` (StudySpec, the VARIABLES a grid may vary, the default counts,
StudyPlan: spec, seeds and passes, a study folder's identity),
`presets` (PRESETS, a table), `geometry` (a boundary's islands, length, straight pieces,
turning, cutouts), `curves` (convergence, spikes, stalls, noise of a training curve),
`results` (the typed results: NetworkResult, SettingResult, SeedRow, SummaryRow, StudyResult),
`diagnostics` (gradient norms, dead and saturated units, when units die),
`workers` (the worker processes), `outputs` (tables, figures, findings), `runner` (run_study,
load_study: seeds stacked, settings in worker processes, resume) and `command` (`study`).
`spec` and `presets` load without NumPy; the names below load their module when first used.
"""

import importlib

_EXPORTS = {
    "PRESETS": "presets", "preset": "presets",
    "VARIABLES": "spec", "StudySpec": "spec",
    "SettingResult": "results", "StudyResult": "results", "SummaryRow": "results",
    "diagnose": "outputs", "finding": "outputs",
    "load_study": "runner", "run_study": "runner", "study_work": "runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):  # lazy, so that `backproplab study --help` needs no NumPy
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"backproplab.studies.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'backproplab.studies' has no attribute {name!r}")
