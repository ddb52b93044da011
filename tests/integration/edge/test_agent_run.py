"""The agent end to end on real video files: events with stable ids in a real SQLite outbox, urgent alerts via a
real webhook server and a real command, no frame lost when files are read flat out, status.json at the end."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlway.core.wire import EventRecord, SummaryRecord
from mlway.edge.agent import EdgeAgent
from mlway.edge.config import parse_config
from mlway.edge.outbox import Outbox
from mlway.edge.status import read_status

from .conftest import Hook


def records(config_state: Path, device: str) -> tuple[list[EventRecord], list[SummaryRecord]]:
    outbox = Outbox.open(config_state / "outbox.db", device, max_bytes=1024**3)
    try:
        pending = outbox.pending(100_000)
    finally:
        outbox.close()
    return [r for r in pending if isinstance(r, EventRecord)], [r for r in pending if isinstance(r, SummaryRecord)]


def colour_config(colour: Path, state: Path, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "device_id": "combine-07",
        "state_dir": str(state),
        "model": {"name": str(colour / "colour"), "threads": 1},
        "cameras": [{"name": "header", "source": str(colour / "header.mp4"), "pace": "fast"},
                    {"name": "auger", "source": str(colour / "auger.mp4"), "pace": "fast"}],
        "smoothing": {"window": 3, "min_duration_s": 1, "min_gap_s": 1},
        "summary_every_s": 1,
    }  # fmt: skip
    return data | changes


@pytest.mark.parametrize("isolation", ["in-process", "worker"])
def test_urgent_event_alerts_and_every_event_reaches_the_outbox(
    colour: Path, tmp_path: Path, hook: Hook, isolation: str
) -> None:
    marker = tmp_path / "buzzer.json"
    command = [sys.executable, "-c", f"import sys; open({str(marker)!r}, 'w').write(sys.stdin.read())"]
    data = colour_config(colour, tmp_path / "state", alerts={"webhook": hook.url, "command": command})
    data["model"]["isolation"] = isolation
    agent = EdgeAgent(parse_config(data)).start()
    agent.run()
    agent.stop()

    events, summaries = records(tmp_path / "state", "combine-07")
    by_id: dict[str, list[EventRecord]] = {}
    for e in events:
        by_id.setdefault(e.event_id, []).append(e)
    spans = {(r[0].source, r[0].label): [x.kind for x in r] for r in by_id.values()}
    assert spans == {("header", "unloading_failure"): ["start", "end"], ("auger", "unloading"): ["start", "end"]}
    failure = next(r for r in by_id.values() if r[0].label == "unloading_failure")
    assert all(e.urgent for e in failure)
    assert all(e.model_version == "colour@1.0.0/fp32" for e in failure)
    end = failure[-1]
    assert end.end_wall is not None
    assert 4.0 <= end.end_wall - end.start_wall <= 6.0
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert summaries
    assert sum(s.cameras["header"].frames_inferred for s in summaries) == 60

    assert len(hook.bodies) == 1
    assert hook.bodies[0]["event_id"] == failure[0].event_id
    assert hook.bodies[0]["kind"] == "start"
    assert json.loads(marker.read_text())["event_id"] == failure[0].event_id

    status = read_status(tmp_path / "state")
    assert status.state == "stopped"
    assert status.store is not None
    assert status.store.backlog_records == len(events) + len(summaries)  # the final status, after the last write
    assert {n: (c.frames_in, c.inferred, c.dropped) for n, c in status.cameras.items()} == {
        "header": (60, 60, 0), "auger": (50, 50, 0)}  # fmt: skip
    assert (status.events.started, status.events.ended, status.events.urgent) == (2, 2, 1)
    assert status.alerts.fired == 1
    assert status.alerts.delivered == 3
    assert status.alerts.failed == 0
    assert status.alerts.max_latency_ms is not None
    assert status.model is not None
    assert status.model.isolation == isolation


def test_a_file_that_ends_is_restarted_and_reported(colour: Path, tmp_path: Path) -> None:
    cams = [{"name": "auger", "source": str(colour / "auger.mp4"), "pace": "fast", "on_end": "restart"}]
    agent = EdgeAgent(parse_config(colour_config(colour, tmp_path / "state", cameras=cams))).start()
    try:
        deadline = time.monotonic() + 60
        while agent.runners["auger"].restarts < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        agent.stop()
    status = agent.status()
    camera = status.cameras["auger"]
    assert camera.restarts >= 3
    assert camera.last_error == "reached the end of its source"
    assert any("camera auger: reached the end of its source; restart 1" in f for f in status.faults)
    assert not any("inference failed" in f for f in status.faults)  # stream time kept going forward
    events, _ = records(tmp_path / "state", "combine-07")
    starts = [e for e in events if e.kind == "start"]
    assert len(starts) >= 3  # the blue segment, once per pass over the file, each its own event
    assert len({e.event_id for e in starts}) == len(starts)


@pytest.mark.parametrize("policy", ["round-robin", "per-camera"])
def test_every_policy_infers_every_frame_and_finds_the_same_events(colour: Path, tmp_path: Path, policy: str) -> None:
    data = colour_config(colour, tmp_path / "state", scheduler={"policy": policy})
    agent = EdgeAgent(parse_config(data)).start()
    agent.run()
    agent.stop()
    status = agent.status()
    assert status.scheduler == policy
    assert {n: c.inferred for n, c in status.cameras.items()} == {"header": 60, "auger": 50}
    events, _ = records(tmp_path / "state", "combine-07")
    assert sorted((e.source, e.label, e.kind) for e in events) == [
        ("auger", "unloading", "end"),
        ("auger", "unloading", "start"),
        ("header", "unloading_failure", "end"),
        ("header", "unloading_failure", "start"),
    ]
