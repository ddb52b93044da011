"""The agent with its uplink to a real hub process: the events it confirmed reach the hub, urgent flag included,
and the agent's status reports the sync; with the hub down, the alert still fires and the events wait."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from mlway.edge.agent import EdgeAgent
from mlway.edge.config import parse_config
from mlway.hub.testing import start_hub

from .conftest import Hook


def hub_events(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/v1/events?limit=1000", timeout=10) as response:
        events: list[dict[str, Any]] = json.loads(response.read())["events"]
    return events


def config(colour: Path, state: Path, hub_url: str, token: str, webhook: str) -> dict[str, Any]:
    return {
        "device_id": "combine-07", "state_dir": str(state), "model": {"name": str(colour / "colour"), "threads": 1},
        "cameras": [{"name": "header", "source": str(colour / "header.mp4"), "pace": "fast"},
                    {"name": "auger", "source": str(colour / "auger.mp4"), "pace": "fast"}],
        "smoothing": {"window": 3, "min_duration_s": 1, "min_gap_s": 1},
        "alerts": {"webhook": webhook, "log": False},
        "hub": {"url": hub_url, "token": token, "backoff_base_s": 0.2, "backoff_max_s": 1, "poll_s": 0.2,
                "heartbeat_s": 1},
    }  # fmt: skip


def test_events_reach_the_hub_and_the_alert_does_not_wait_for_the_link(
    colour: Path, tmp_path: Path, hook: Hook
) -> None:
    with start_hub(tmp_path / "hub.db") as hub:
        token = hub.add_device("combine-07")
        hub.stop()  # no link while the agent runs
        data = config(colour, tmp_path / "state", hub.url, token, hook.url)
        agent = EdgeAgent(parse_config(data)).start()
        agent.run()
        assert len(hook.bodies) == 1  # fired with the hub down
        assert agent.status().store.backlog_records > 0  # type: ignore[union-attr]
        hub.start()
        deadline = time.monotonic() + 60
        while agent.status().store.backlog_records and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.1)
        drained = agent.status()
        agent.stop()
        assert drained.uplink is not None
        assert drained.uplink.last_sync_wall is not None
        assert drained.uplink.acked_records >= 4  # two events, a start and an end each
        assert drained.store is not None
        assert drained.store.backlog_records == 0
        events = {(e["source"], e["label"]): e for e in hub_events(hub.url)}
        with urllib.request.urlopen(hub.url + "/v1/fleet", timeout=10) as response:
            [device] = json.loads(response.read())["devices"]
    heartbeat = device["last_heartbeat"]  # the agent's heartbeat was accepted by the hub
    assert heartbeat["model_version"] == "colour@1.0.0/fp32"
    assert set(heartbeat["cameras"]) == {"header", "auger"}
    assert set(events) == {("header", "unloading_failure"), ("auger", "unloading")}
    failure = events["header", "unloading_failure"]
    assert failure["urgent"]
    assert failure["state"] == "ended"
    assert failure["event_id"] == hook.bodies[0]["event_id"]
    assert failure["model_version"] == "colour@1.0.0/fp32"
