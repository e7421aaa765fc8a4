"""Part I studies: each decision-boundary figure of the problem set, measured across seeds.

    from backproplab.studies import PRESETS, run_study, finding
    result = run_study("moons-activations", "out/moons-activations", seeds=5, passes=20000)
    result.summary[0]["heldout_accuracy_mean"], result.figures["boundaries"], result.finding

Modules: `spec` (StudySpec, the variables a grid may vary), `presets` (PRESETS, a table),
`runner` (run_study, load_study: seeds stacked, settings in worker processes, resume),
`diagnostics` (gradient norms, dead and saturated units), `outputs` (tables, figures, findings).
"""

from backproplab.studies.outputs import diagnose, finding
from backproplab.studies.presets import PRESETS, preset
from backproplab.studies.runner import PROFILES, StudyResult, load_study, run_study, study_work
from backproplab.studies.spec import VARIABLES, StudySpec

__all__ = ["PRESETS", "PROFILES", "VARIABLES", "StudyResult", "StudySpec", "diagnose", "finding",
           "load_study", "preset", "run_study", "study_work"]
