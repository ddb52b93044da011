"""The field-to-cloud run: simulate a shift, start a hub, run an edge agent per combine through a flapping link.

Everything is real: the simulator writes real video files, the hub is a real `mlway hub start` process
with its SQLite file, each agent decodes the videos, runs the bundled model, smooths, fires its local
alerts and fills its SQLite outbox, and the uploads cross a real TCP proxy that emulates a 2G link and
is switched down and up on a plan. The agents read their files flat out (``pace: fast``), so a shift
takes seconds, not hours; the link plan is in seconds of that run.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlway.core.errors import InputError, MlwayError, TargetError
from mlway.core.wire import MAX_BATCH_RECORDS, EventList, Fleet, HubEvent
from mlway.edge.agent import EdgeAgent
from mlway.edge.config import parse_config
from mlway.edge.outbox import Outbox
from mlway.edge.status import AgentStatus
from mlway.fieldrun.config import FieldRunConfig, LinkPhase
from mlway.hub.process import start_hub
from mlway.hub.store import MAX_EVENTS_LIMIT
from mlway.sim import CAMERAS, ShiftConfig, open_shift, write_shift
from mlway.sim.link import LinkProfile, LinkProxy, LinkStats

Progress = Callable[[str], None]


@dataclass
class LinkLog:
    """When the link was switched (seconds since the agents started) and what it carried."""

    switches: list[tuple[float, bool]] = field(default_factory=list)
    stats: LinkStats | None = None


@dataclass
class FieldResult:
    """What the run produced, for the report."""

    config: FieldRunConfig
    shift_dir: Path
    truth: list[dict[str, Any]]
    """The shift's true events (events.json)."""
    events: list[HubEvent]
    """Every event as the hub knows it at the end."""
    fleet: Fleet
    agents: dict[str, AgentStatus]
    """Each device's final status."""
    confirmed: dict[str, tuple[int, int]]
    """Per device: records its outbox confirmed (the last sequence number) and records still in it after the
    stop (the agent writes a final summary as it stops, after the last upload)."""
    link: LinkLog
    run_s: float
    drain_s: float
    shift_s: float
    frames: int


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - http://127.0.0.1 only
            body: bytes = response.read()
            return body
    except OSError as exc:
        raise TargetError(f"cannot read {url}: {exc}") from exc


def _prepare(out: Path) -> None:
    """Start from an empty run directory; refuse to clear one that is not ours."""
    if out.exists():
        marker = out / ".mlway-field"
        if any(out.iterdir()) and not marker.exists():
            raise InputError(
                f"{out} exists and is not an mlway field-run directory",
                hint="give an empty or new --out directory (its contents are replaced on every run)",
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / ".mlway-field").write_text("written by mlway demo; replaced on every run\n")


def _agent_config(device: str, shift_dir: Path, state: Path, hub_url: str, token: str) -> dict[str, Any]:
    shift = open_shift(shift_dir)
    cameras = [
        {"name": cam, "source": str(shift.video_path(device, cam)), "pace": "fast"} for cam in CAMERAS
    ]  # fmt: skip
    return {
        "device_id": device,
        "state_dir": str(state),
        "cameras": cameras,
        "alerts": {"log": True},
        "summary_every_s": 5,
        "hub": {"url": hub_url, "token": token, "backoff_base_s": 0.5, "backoff_max_s": 4, "poll_s": 0.5,
                "heartbeat_s": 5, "timeout_s": 15},
    }  # fmt: skip


def _drive_link(link: LinkProxy, plan: list[LinkPhase], started: float, log: LinkLog, stop: threading.Event) -> None:
    for phase in plan:
        link.set_up(phase.up)
        log.switches.append((time.monotonic() - started, phase.up))
        if stop.wait(phase.seconds):
            break
    link.set_up(True)
    log.switches.append((time.monotonic() - started, True))


def run_field(config: FieldRunConfig, progress: Progress = lambda _: None) -> FieldResult:
    """Run the whole field-to-cloud chain on embedded defaults; see the module docstring."""
    out = config.out.resolve()
    _prepare(out)
    shift_dir = out / "shift"
    shift_config = ShiftConfig.model_validate({
        "machines": config.machines, "first_machine": config.first_machine, "hours": config.hours,
        "fps": config.fps, "seed": config.seed, "failure_rate": config.failure_rate,
    })  # fmt: skip
    progress(
        f"simulating a {config.hours:g} h shift of {config.machines} combine(s), 2 cameras at {config.fps:g} fps "
        f"(seed {config.seed})"
    )
    write_shift(shift_config, shift_dir)
    shift = open_shift(shift_dir)
    truth: list[dict[str, Any]] = shift.events()["events"]
    frames = shift_config.frame_count * len(CAMERAS) * config.machines
    with start_hub(out / "hub.db") as hub:
        progress(f"hub started on {hub.url} (SQLite {out / 'hub.db'})")
        tokens = {device: hub.add_device(device) for device in shift.machines}
        profile = LinkProfile.preset(config.link, seed=config.seed)
        log = LinkLog()
        with LinkProxy(upstream=("127.0.0.1", hub.port), profile=profile) as link:
            progress(f"link: {config.link} profile on {link.address}, plan " + ", ".join(
                f"{'up' if p.up else 'down'} {p.seconds:g}s" for p in config.link_plan) + ", then up")  # fmt: skip
            agents = {
                device: EdgeAgent(parse_config(_agent_config(
                    device, shift_dir, out / "edge" / device, link.url_for("/").rstrip("/"), token)))
                for device, token in tokens.items()
            }  # fmt: skip
            stop_link = threading.Event()
            started = time.monotonic()
            for agent in agents.values():
                agent.start()
            driver = threading.Thread(
                target=_drive_link, args=(link, config.link_plan, started, log, stop_link), daemon=True
            )
            driver.start()
            progress(f"{len(agents)} edge agent(s) running the bundled model on {frames} frames")
            try:
                runs = [threading.Thread(target=a.run, daemon=True) for a in agents.values()]
                for thread in runs:
                    thread.start()
                for thread in runs:
                    thread.join()
                run_s = time.monotonic() - started
                progress(f"agents done in {run_s:.1f} s; waiting for the link plan to end and the backlog to drain")
                driver.join()
                drain_start = time.monotonic()
                deadline = drain_start + config.drain_timeout_s
                while any(_backlog(a) for a in agents.values()):
                    if time.monotonic() > deadline:
                        left = {d: _backlog(a) for d, a in agents.items()}
                        raise MlwayError(
                            f"the backlog did not drain within {config.drain_timeout_s:g} s: {left}",
                            hint="see each agent's status.json under the run directory's edge/ folder",
                        )
                    time.sleep(0.2)
                drain_s = time.monotonic() - drain_start
                statuses = {d: a.status() for d, a in agents.items()}
            finally:
                stop_link.set()
                for agent in agents.values():
                    agent.stop()
            confirmed = {d: _outbox_seqs(a) for d, a in agents.items()}
            log.stats = link.stats()
        events = EventList.model_validate_json(_get(f"{hub.url}/v1/events?limit={MAX_EVENTS_LIMIT}")).events
        fleet = Fleet.model_validate_json(_get(hub.url + "/v1/fleet"))
    (out / "result.json").write_text(
        json.dumps({"events": [e.model_dump() for e in events], "fleet": fleet.model_dump()}, indent=1)
    )
    return FieldResult(
        config=config, shift_dir=shift_dir, truth=truth, events=events,
        fleet=fleet, agents=statuses, confirmed=confirmed, link=log, run_s=run_s, drain_s=drain_s,
        shift_s=shift_config.hours * 3600, frames=frames,
    )  # fmt: skip


def _outbox_seqs(agent: EdgeAgent) -> tuple[int, int]:
    """(last seq, records left) of a stopped agent's outbox, read from its file."""
    config = agent.config
    with closing(Outbox.open(config.outbox_path, config.device_id, max_bytes=config.store.max_bytes)) as outbox:
        return outbox.stats().last_seq, len(outbox.pending(limit=MAX_BATCH_RECORDS))


def _backlog(agent: EdgeAgent) -> int:
    store = agent.status().store
    return store.backlog_records if store is not None else 0
