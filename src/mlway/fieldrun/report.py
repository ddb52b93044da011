"""The field run's report: the event timeline, what reached the hub, and event precision/recall vs the truth."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from mlway.core.smoothing import EventScore, Span, match_events
from mlway.fieldrun.config import EVENT_LABELS
from mlway.fieldrun.run import FieldResult


@dataclass(frozen=True, slots=True)
class Delivery:
    """Per device: records the outbox confirmed, those the hub stored, and those still waiting on the device."""

    device: str
    confirmed: int
    stored: int
    last_seq: int
    waiting: int

    @property
    def exact(self) -> bool:
        """Every confirmed record is on the hub once or still waiting in the outbox: none lost, none twice."""
        return self.stored + self.waiting == self.confirmed and self.last_seq == self.confirmed - self.waiting


def truth_spans(result: FieldResult) -> list[Span]:
    """True events of the scored labels, as (label, device/camera, start, end)."""
    return [
        Span(e["kind"], f"{e['machine']}/{e['camera']}", float(e["start_s"]), float(e["end_s"]))
        for e in result.truth
        if e["kind"] in EVENT_LABELS
    ]


def predicted_spans(result: FieldResult) -> list[Span]:
    """Ended events the hub holds, on their stream clocks."""
    return [
        Span(e.label, f"{e.device_id}/{e.source}", e.start_s, e.end_s)
        for e in result.events
        if e.state == "ended" and e.start_s is not None and e.end_s is not None
    ]


def scores(result: FieldResult) -> dict[str, EventScore]:
    predicted, truth = predicted_spans(result), truth_spans(result)
    return {label: match_events(predicted, truth, label, min_iou=result.config.min_iou) for label in EVENT_LABELS}


def deliveries(result: FieldResult) -> list[Delivery]:
    by_device = {d.device_id: d for d in result.fleet.devices}
    out = []
    for device, (confirmed, waiting) in sorted(result.confirmed.items()):
        hub = by_device.get(device)
        out.append(Delivery(device, confirmed, hub.records if hub else 0, hub.last_seq if hub else 0, waiting))
    return out


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def render(result: FieldResult, console: Console) -> None:
    """Print the timeline, the delivery check, the link, the alerts and the scores."""
    truth = truth_spans(result)
    matched = {(p.source, p.label, p.start_s) for s in scores(result).values() for p, _ in s.pairs}
    timeline = Table(title="Event timeline (shift clock mm:ss; as stored by the hub)", title_justify="left")
    for column in ("device/camera", "event", "start", "end", "confidence", "urgent", "unsure", "matches truth"):
        timeline.add_column(column, justify="right" if column in {"start", "end", "confidence"} else "left")
    for e in sorted(result.events, key=lambda e: (e.start_s or 0.0, e.device_id, e.source)):
        source = f"{e.device_id}/{e.source}"
        scored = e.label in EVENT_LABELS
        hit = "yes" if (source, e.label, e.start_s) in matched else ("no" if scored else "")
        timeline.add_row(source, e.label, _clock(e.start_s), _clock(e.end_s), f"{e.confidence:.2f}",
                         "ALERT" if e.urgent else "", "unsure" if e.unsure else "", hit)  # fmt: skip
    console.print(timeline)
    truth_table = Table(title="Ground truth (the simulator's events.json)", title_justify="left")
    for column in ("device/camera", "event", "start", "end"):
        truth_table.add_column(column)
    for t in sorted(truth, key=lambda t: (t.start_s, t.source)):
        truth_table.add_row(t.source, t.label, _clock(t.start_s), _clock(t.end_s))
    console.print(truth_table)

    hub = Table(title="What reached the hub", title_justify="left")
    for column in ("device", "confirmed by the outbox", "stored by the hub", "highest seq on the hub",
                   "waiting on the device", "none lost, none twice"):  # fmt: skip
        hub.add_column(column)
    for d in deliveries(result):
        hub.add_row(d.device, str(d.confirmed), str(d.stored), str(d.last_seq), str(d.waiting),
                    "yes" if d.exact else "NO")  # fmt: skip
    console.print(hub)
    link = result.link
    downs = sum(1 for _, up in link.switches if not up)
    if link.stats is not None:
        s = link.stats
        console.print(
            f"link: went down {downs} time(s); carried {s.bytes_up:,} B up and {s.bytes_down:,} B down over "
            f"{s.connections} connection(s); {s.resets} reset(s) and {s.stalls} stall(s) injected, "
            f"{s.refused} connection(s) refused while down; backlog drained {result.drain_s:.1f} s after the agents "
            "finished"
        )
    for device, status in sorted(result.agents.items()):
        alerts = status.alerts
        fps = ", ".join(
            f"{cam} {c.inferred} frames ({c.inferred / result.run_s:.0f}/s)" for cam, c in status.cameras.items()
        )
        latency = f"{alerts.max_latency_ms:.0f} ms" if alerts.max_latency_ms is not None else "-"
        console.print(
            f"{device}: model {status.model.variant if status.model else '?'}; {fps}; "
            f"{alerts.fired} urgent alert(s) fired locally, slowest {latency} after the confirming frame"
        )
    speed = result.shift_s / result.run_s if result.run_s else 0.0
    console.print(
        f"{result.frames:,} frames of a {result.shift_s / 60:.0f}-minute shift processed in {result.run_s:.1f} s "
        f"({speed:.0f}x real time)"
    )
    table = Table(title=f"Event precision / recall vs ground truth (time IoU >= {result.config.min_iou:g})",
                  title_justify="left")  # fmt: skip
    for column in ("event", "true", "found", "matched", "precision", "recall"):
        table.add_column(column)
    for label, score in scores(result).items():
        true, found = score.true_positives + score.false_negatives, score.true_positives + score.false_positives
        table.add_row(label, str(true), str(found), str(score.true_positives), f"{score.precision:.2f}",
                      f"{score.recall:.2f}")  # fmt: skip
    console.print(table)
