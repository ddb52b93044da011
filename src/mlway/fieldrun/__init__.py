"""``mlway.fieldrun``: the field-to-cloud run on embedded defaults, mlway's main job (``mlway demo``).

    from mlway.fieldrun import FieldRunConfig, run_field, render
    result = run_field(FieldRunConfig(out=Path("mlway-field")))   # shift -> agents -> flapping 2G -> hub
    render(result, Console())                                     # timeline, hub delivery, precision/recall

It simulates a short shift the bundled model never saw, starts a hub (SQLite), runs one edge agent per
combine with the bundled model through an emulated 2G link that goes down and up, then reports the
event timeline, what reached the hub (exactly the records the outboxes confirmed), and event
precision/recall against the simulator's ground truth. It wires the products together, so it imports
sim, edge and hub; nothing but the CLI imports it.
"""

from mlway.fieldrun.config import EVENT_LABELS, FieldRunConfig, LinkPhase
from mlway.fieldrun.report import deliveries, render, scores
from mlway.fieldrun.run import FieldResult, run_field

__all__ = ["EVENT_LABELS", "FieldResult", "FieldRunConfig", "LinkPhase", "deliveries", "render", "run_field", "scores"]
