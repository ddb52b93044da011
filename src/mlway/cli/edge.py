"""``mlway edge``: run the on-device agent, check its config, print its status.

mlway edge run --config edge.yaml
mlway edge check --config edge.yaml
mlway edge status --state-dir /var/lib/mlway-edge [--json]
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlway.core.errors import InputError
from mlway.core.units import format_bytes

app = typer.Typer(
    help="The edge agent: cameras -> model -> events -> local alerts and an outbox the hub drains.",
    no_args_is_help=True,
)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The agent's edge.yaml.", envvar="MLWAY_EDGE_CONFIG")]


@app.command()
def run(
    config: ConfigOpt,
    stop_after: Annotated[
        float, typer.Option(help="Stop after this many seconds (0: run until stopped or every camera ended).", min=0)
    ] = 0.0,
    deadline: Annotated[float, typer.Option(help="Seconds a graceful stop may take (SIGTERM, Ctrl-C).", min=1)] = 10.0,
) -> None:
    """Run the agent until SIGTERM / Ctrl-C (or until every file source ended); stops gracefully."""
    from mlway.edge.agent import EdgeAgent  # noqa: PLC0415 - the edge extra loads only for edge commands
    from mlway.edge.config import load_config  # noqa: PLC0415

    console = Console(stderr=True)
    agent = EdgeAgent(load_config(config))
    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:  # noqa: ARG001 - signal handler signature
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        agent.start()
        model = agent.model
        console.print(f"edge agent {escape(agent.config.device_id)}: {escape(model.reason if model else '')}; "
                      f"state in {escape(str(agent.config.state_dir))}", highlight=False)  # fmt: skip
        if stop_after:
            threading.Timer(stop_after, stop.set).start()
        agent.run(stop)
    finally:
        agent.stop(deadline)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    status = agent.status()
    backlog = status.store.backlog_records if status.store else 0
    console.print(f"stopped: {status.events.started} event(s) started, {status.alerts.fired} urgent alert(s), "
                  f"backlog {backlog} record(s)", highlight=False)  # fmt: skip


@app.command()
def check(config: ConfigOpt) -> None:
    """Validate the config and everything it names (model, labels, files, state dir) without starting."""
    from mlway.edge.check import preflight  # noqa: PLC0415
    from mlway.edge.config import load_config  # noqa: PLC0415

    loaded = load_config(config)
    plan = preflight(loaded)
    typer.echo(f"{config}: ok: device {loaded.device_id}, {len(loaded.cameras)} camera(s), policy {plan.policy}, "
               f"model {plan.bundle.name}@{plan.bundle.manifest.version} {plan.pick.reason}")  # fmt: skip


@app.command()
def status(
    state_dir: Annotated[Path | None, typer.Option(help="The agent's state_dir.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Or the agent's edge.yaml.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print status.json as it is.")] = False,
) -> None:
    """Print the agent's status: fps per camera, drops, backlog, last sync, faults, model variant."""
    from mlway.edge.config import load_config  # noqa: PLC0415
    from mlway.edge.status import is_stale, read_status  # noqa: PLC0415

    if state_dir is None:
        if config is None:
            raise InputError(
                "give --state-dir DIR or --config edge.yaml", hint="the status lives in state_dir/status.json"
            )
        state_dir = load_config(config).state_dir
    doc = read_status(state_dir)
    if as_json:
        typer.echo(doc.model_dump_json(indent=2))
        return
    console = Console()
    stale = is_stale(doc)
    when = datetime.fromtimestamp(doc.updated_wall, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    state = (
        f"{doc.state} (status not updated for {time.time() - doc.updated_wall:.0f}s: agent not running?)"
        if stale
        else doc.state
    )
    console.print(f"[bold]{escape(doc.device_id)}[/]: {escape(state)}, pid {doc.pid}, up {doc.uptime_s:.0f}s, "
                  f"updated {when}", highlight=False)  # fmt: skip
    if doc.model:
        m = doc.model
        how = f"{m.threads} thread(s), {m.isolation}, policy {doc.scheduler}, smoothing from {doc.smoothing}"
        console.print(f"model {escape(m.name)}@{escape(m.version)} variant [bold]{escape(m.variant)}[/] "
                      f"({how}): {escape(m.reason)}", highlight=False)  # fmt: skip
    table = Table("camera", "state", "fps", "target", "frames", "inferred", "skipped", "dropped", "restarts",
                  "last frame", "last error")  # fmt: skip
    for name, c in doc.cameras.items():
        table.add_row(escape(name), c.state, f"{c.fps:.1f}", f"{c.target_fps:g}" if c.target_fps else "max",
                      str(c.frames_in), str(c.inferred), str(c.skipped), str(c.dropped), str(c.restarts),
                      f"{c.last_frame_age_s:.1f}s ago" if c.last_frame_age_s is not None else "-",
                      escape(c.last_error or ""))  # fmt: skip
    console.print(table)
    e, a = doc.events, doc.alerts
    console.print(f"events: {e.started} started, {e.ended} ended, {e.open} open, {e.urgent} urgent"
                  + (f", [red]{e.refused} refused by the store[/]" if e.refused else ""), highlight=False)  # fmt: skip
    latency = (
        f", last {a.last_latency_ms:.0f} ms, max {a.max_latency_ms:.0f} ms" if a.last_latency_ms is not None else ""
    )
    console.print(f"alerts ({', '.join(a.sinks) or 'none'}): {a.fired} fired, {a.delivered} delivered, "
                  f"{a.failed} failed{latency}", highlight=False)  # fmt: skip
    if doc.store:
        s = doc.store
        console.print(f"outbox: backlog {s.backlog_records} record(s), oldest {s.backlog_oldest_age_s:.0f}s, "
                      f"{format_bytes(s.store_bytes)} on disk, {format_bytes(s.disk_free_bytes)} free"
                      + (f", {s.dropped_summaries} summaries dropped (disk full)" if s.dropped_summaries else ""),
                      highlight=False)  # fmt: skip
    if doc.uplink:
        u = doc.uplink
        sync = datetime.fromtimestamp(u.last_sync_wall, UTC).strftime("%H:%M:%S UTC") if u.last_sync_wall else "never"
        error = f", last error: {escape(u.last_error)}" if u.last_error else ""
        console.print(f"uplink {escape(u.url)}: {'connected' if u.connected else 'not connected'}, last sync {sync}, "
                      f"{u.acked_records} record(s) acknowledged{error}", highlight=False)  # fmt: skip
    else:
        console.print("uplink: none configured (events stay in the outbox)")
    for fault in doc.faults[-10:]:
        console.print(f"[yellow]fault[/] {escape(fault)}", highlight=False)
