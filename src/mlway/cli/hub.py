"""``mlway hub``: the central side: serve ingest, manage device tokens, look at events and the fleet.

mlway hub start --data hub.db --port 8700
mlway hub device add combine-07 --data hub.db     # prints the token once
mlway hub device list / revoke NAME
mlway hub events --data hub.db [--device D --label L --state open --json]
mlway hub fleet --data hub.db [--json]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlway.hub import HubSettings, HubStore

app = typer.Typer(help="The hub: ingest from edge devices, device tokens, events, fleet.", no_args_is_help=True)
device_app = typer.Typer(help="Device tokens: add (prints the token once), list, revoke.", no_args_is_help=True)
app.add_typer(device_app, name="device")

DataOpt = Annotated[Path, typer.Option("--data", help="The hub's SQLite database file.", envvar="MLWAY_HUB_DATA")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _when(wall: float | None) -> str:
    if wall is None:
        return "-"
    return dt.datetime.fromtimestamp(wall, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _existing(data: Path) -> HubStore:
    if not data.exists():
        from mlway.core.errors import NotFoundError  # noqa: PLC0415 - only on this error path

        raise NotFoundError(f"no hub database at {data}", hint="pass the --data of `mlway hub start` (or start one)")
    return HubStore.open(data)


@app.command()
def start(
    data: DataOpt = Path("hub.db"),
    host: Annotated[str, typer.Option(help="Address to listen on.", envvar="MLWAY_HUB_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.", envvar="MLWAY_HUB_PORT")] = 8700,
    max_body_bytes: Annotated[
        str, typer.Option(help="Largest request body after gzip, e.g. 32MiB (413 above).", envvar="MLWAY_HUB_MAX_BODY")
    ] = "32MiB",
) -> None:
    """Serve the ingest API (POST /v1/ingest, /v1/heartbeat; GET /v1/events, /v1/fleet, /healthz, /metrics)."""
    from mlway.core.units import parse_bytes  # noqa: PLC0415
    from mlway.hub.server import serve  # noqa: PLC0415 - the hub extra (fastapi, uvicorn), imported when used

    settings = HubSettings(
        data=data, host=host, port=port, max_body_bytes=parse_bytes(max_body_bytes, what="--max-body-bytes")
    )
    console = Console(stderr=True)
    serve(
        settings, on_ready=lambda url: console.print(f"hub serving {escape(str(data))} on {url} (docs at {url}/docs)")
    )


@device_app.command("add")
def device_add(
    name: Annotated[str, typer.Argument(help="Device name, e.g. combine-07.")], data: DataOpt = Path("hub.db")
) -> None:
    """Register a device and print its token (shown only now; the hub keeps its SHA-256)."""
    with HubStore.open(data) as store:
        token = store.add_device(name)
    Console(stderr=True).print(f"device {escape(name)} added; its token (shown once, put it in the device's config):")
    typer.echo(token)


@device_app.command("list")
def device_list(data: DataOpt = Path("hub.db"), as_json: JsonOpt = False) -> None:
    """Devices, whether their token is valid, last contact and records stored."""
    with _existing(data) as store:
        devices = store.devices()
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(d) for d in devices], indent=2))
        return
    table = Table("device", "token", "created", "last seen", "records", "last seq")
    for d in devices:
        token = "[red]revoked[/]" if d.revoked_wall is not None else "valid"
        table.add_row(
            escape(d.device_id), token, _when(d.created_wall), _when(d.last_seen_wall), str(d.records), str(d.last_seq)
        )
    Console().print(table)


@device_app.command("revoke")
def device_revoke(name: Annotated[str, typer.Argument(help="Device name.")], data: DataOpt = Path("hub.db")) -> None:
    """Refuse the device's token from now on (401); its records stay. `device add NAME` issues a new one."""
    with _existing(data) as store:
        store.revoke_device(name)
    Console(stderr=True).print(f"device {escape(name)}: token revoked")


@app.command()
def events(
    data: DataOpt = Path("hub.db"),
    device: Annotated[str | None, typer.Option(help="Only this device.")] = None,
    label: Annotated[str | None, typer.Option(help="Only this label.")] = None,
    state: Annotated[str | None, typer.Option(help="Only open or ended events.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Events the hub received (latest state of each), newest start first."""
    if state not in (None, "open", "ended"):
        from mlway.core.errors import InputError  # noqa: PLC0415

        raise InputError(f"--state {state!r} is not a state", hint="use --state open or --state ended")
    chosen: Literal["open", "ended"] | None = state  # type: ignore[assignment]
    with _existing(data) as store:
        found = store.events(device=device, label=label, state=chosen, limit=limit)
    if as_json:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in found], indent=2))
        return
    table = Table(
        "device", "event", "label", "source", "state", "start (UTC)", "end (UTC)", "conf", "peak", "updates", "flags"
    )
    for e in found:
        marks = {"urgent": e.urgent, "unsure": e.unsure, "untrusted-clock": not e.clock_trusted,
                 "interrupted": e.interrupted}  # fmt: skip
        flags = " ".join(f for f, on in marks.items() if on)
        table.add_row(
            escape(e.device_id),
            escape(e.event_id),
            escape(e.label),
            escape(e.source),
            e.state,
            _when(e.start_wall),
            _when(e.end_wall),
            f"{e.confidence:.2f}",
            f"{e.peak:.2f}",
            str(e.updates),
            flags,
        )
    Console().print(table)


@app.command()
def fleet(data: DataOpt = Path("hub.db"), as_json: JsonOpt = False) -> None:
    """Devices with a valid token: last contact, records, backlog, disk, model, faults (from the last heartbeat)."""
    with _existing(data) as store:
        status = store.fleet()
    if as_json:
        typer.echo(status.model_dump_json(indent=2))
        return
    table = Table(
        "device", "last seen (UTC)", "records", "last seq", "backlog", "oldest (s)", "disk free", "model", "faults"
    )
    from mlway.core.units import format_bytes  # noqa: PLC0415

    for d in status.devices:
        hb = d.last_heartbeat
        table.add_row(
            escape(d.device_id),
            _when(d.last_seen_wall),
            str(d.records),
            str(d.last_seq),
            str(hb.backlog_records) if hb else "-",
            f"{hb.backlog_oldest_age_s:.0f}" if hb else "-",
            format_bytes(hb.disk_free_bytes) if hb else "-",
            escape(hb.model_version) if hb else "-",
            escape("; ".join(hb.faults[-3:])) if hb else "-",
        )
    Console().print(table)
