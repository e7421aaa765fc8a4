"""Per-layer statistics and training-health verdicts for any PyTorch model.

    from backproplab.monitor import watch

    with watch(model, logdir="runs/mine", every=100, optimizer=opt, n_classes=10) as mon:
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(); loss.backward(); opt.step()
            mon.step(loss)
    print(mon.verdicts)

Modules:
  watcher  watch(model, ...) and Monitor: hooks on the monitored steps only -> torch statistics
           (one transfer per monitored step) -> TensorBoard, stats.csv, histograms.csv
  health   the rules (thresholds, explanations, references) over plain statistics, Verdict,
           health.json (save, load), and the NumPy studies' adapter
           (verdicts_from_study_diagnostics). Neither PyTorch nor NumPy

Importing this package imports no PyTorch: `watch` and `Monitor` load it when first used.
"""

from __future__ import annotations

from backproplab.monitor.health import RULES, Verdict, check, load

__all__ = ["watch", "Monitor", "Verdict", "RULES", "check", "load"]


def __getattr__(name: str):
    if name in ("watch", "Monitor"):  # PyTorch is imported here, not with the package
        from backproplab.monitor import watcher

        return getattr(watcher, name)
    raise AttributeError(f"module 'backproplab.monitor' has no attribute {name!r}")
