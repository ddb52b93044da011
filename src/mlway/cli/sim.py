"""``mlway sim``: simulate harvest shifts (camera video, sensors, ground truth) and look at their frames."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from mlway.core.errors import DependencyMissingError, InputError
from mlway.core.units import parse_duration

app = typer.Typer(
    help="Simulate harvest shifts: camera video, on-board sensors and ground truth.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

Machines = Annotated[int, typer.Option(help="Number of combines.")]
Hours = Annotated[float, typer.Option(help="Length of the shift in hours (0.01 = 36 s).")]
Seed = Annotated[int, typer.Option(help="Seed of the shift's content; the same seed gives the same files.")]
Fps = Annotated[float, typer.Option(help="Camera frames per second.")]
Size = Annotated[str, typer.Option(help="Frame size WIDTHxHEIGHT, even numbers.")]
FirstMachine = Annotated[int, typer.Option(help="Number of the first combine (new numbers = unseen camera poses).")]
PoseSeed = Annotated[int, typer.Option(help="Seed of the fleet's camera mounts (poses depend on it and the machine).")]
FailureRate = Annotated[float, typer.Option(help="Probability that an unloading runs into a failure.")]
MinFailures = Annotated[int, typer.Option(help="Force at least this many failures when the shift has unloadings.")]
Distractors = Annotated[float, typer.Option(help="Another combine unloading in view: times per machine per hour.")]
StartHour = Annotated[
    float | None, typer.Option(help="Local hour the shift starts (day, dusk, night); default: seeded.")
]


def _sim() -> ModuleType:
    try:
        from mlway import sim  # noqa: PLC0415 - numpy, OpenCV and PyAV load only for sim commands
    except ImportError as exc:
        raise DependencyMissingError.for_extra(exc.name or "numpy", "sim") from exc
    return sim


def _config(sim: ModuleType, **values: Any) -> Any:
    width, height = sim.parse_size(values.pop("size"))
    return sim.ShiftConfig.build(width=width, height=height, **values)


@app.command()
def shift(
    out: Annotated[Path, typer.Option(help="Directory to write the shift into.")] = Path("data/shift"),
    machines: Machines = 3,
    hours: Hours = 0.5,
    seed: Seed = 7,
    fps: Fps = 5.0,
    size: Size = "320x240",
    first_machine: FirstMachine = 1,
    pose_seed: PoseSeed = 0,
    failure_rate: FailureRate = 0.3,
    min_failures: MinFailures = 1,
    distractor_rate: Distractors = 3.0,
    start_hour: StartHour = None,
    codec: Annotated[str, typer.Option(help="Video codec: h264 or mpeg4.")] = "h264",
    crf: Annotated[int, typer.Option(help="Video quality, 0 (best) to 51; h264 CRF.")] = 26,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the files of an earlier shift in --out.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON instead of a summary.")] = False,
) -> None:
    """Simulate a harvest shift: one video per camera, sensor CSVs, events, per-frame labels, a manifest."""
    sim = _sim()
    config = _config(sim, machines=machines, hours=hours, seed=seed, fps=fps, size=size, first_machine=first_machine,
                     pose_seed=pose_seed, failure_rate=failure_rate, min_failures=min_failures,
                     distractor_rate=distractor_rate, start_hour=start_hour, codec=codec, crf=crf)  # fmt: skip
    columns = (TextColumn("[bold]rendering"), BarColumn(), MofNCompleteColumn(), TextColumn("frames"),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("shift", total=config.frame_count * config.machines * 2)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = sim.write_shift(config, out, overwrite=overwrite, progress=advance)
    if json_out:
        console.print_json(json.dumps(result.manifest))
        return
    m = result.manifest
    kinds = Counter(e["kind"] for e in sim.open_shift(out).events()["events"])
    frames = config.frame_count * config.machines * 2
    console.print(f"wrote {out}: {config.machines} combines x 2 cameras, {frames} frames "
                  f"({config.width}x{config.height} @ {config.fps:g} fps, {m['video']['encoder']}), "
                  f"start {m['start_time']}")  # fmt: skip
    console.print("events: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    console.print("frames: " + ", ".join(f"{k} {v}" for k, v in m["counts"]["frames_by_label"].items()))
    shift_s = config.duration_s * config.machines
    console.print(f"took {result.total_s:.1f} s ({frames / result.total_s:.0f} frames/s, "
                  f"{shift_s / result.total_s:.1f}x real time for {config.machines} combines)")  # fmt: skip


@app.command()
def preview(
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("sim-preview.png"),
    source: Annotated[
        Path | None, typer.Option("--from", help="A written shift directory: show its decoded video frames.")
    ] = None,
    per_row: Annotated[int, typer.Option(help="Frames per row (one row per camera and class).")] = 6,
    machines: Machines = 3,
    hours: Hours = 0.5,
    seed: Seed = 7,
    size: Size = "320x240",
    first_machine: FirstMachine = 1,
    pose_seed: PoseSeed = 0,
    start_hour: StartHour = None,
) -> None:
    """Write a contact sheet: frames of every class from both cameras, captioned, for a human to check."""
    sim = _sim()
    recorded = None
    if source is not None:
        recorded = sim.open_shift(source)
        config = sim.ShiftConfig.build(**recorded.manifest["config"])
    else:
        config = _config(sim, machines=machines, hours=hours, seed=seed, size=size, first_machine=first_machine,
                         pose_seed=pose_seed, start_hour=start_hour)  # fmt: skip
    with err.status("rendering the contact sheet"):
        path = sim.write_contact_sheet(sim.Shift(config), out, per_row=per_row, recorded=recorded)
    console.print(f"wrote {path}")


def _address(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise InputError(f"invalid {option} {text!r}", hint=f"write HOST:PORT, for example {option} 127.0.0.1:8701")
    return host, int(port)


def _link_overrides(
    kbps: float | None, latency: str | None, reset_rate: float | None, stall_rate: float | None,
    schedule: str | None, down_mode: str | None, seed: int,
) -> dict[str, Any]:  # fmt: skip
    from mlway.sim.link_profile import parse_latency, parse_schedule  # noqa: PLC0415

    overrides: dict[str, Any] = {"seed": seed}
    if kbps is not None:
        if kbps <= 0:
            raise InputError(f"invalid --kbps {kbps:g}: must be above 0", hint="write kbit/s each way, e.g. --kbps 40")
        overrides |= {"up_bps": kbps * 1000, "down_bps": kbps * 1000}
    if latency is not None:
        overrides["latency_min_s"], overrides["latency_max_s"] = parse_latency(latency)
    for option, key, value in (
        ("--reset-rate", "reset_per_kb", reset_rate),
        ("--stall-rate", "stall_per_kb", stall_rate),
    ):
        if value is not None:
            if not 0 <= value < 1:
                raise InputError(f"invalid {option} {value:g}: a probability per KiB in [0, 1)", hint=f"{option} 0.01")
            overrides[key] = value
    if schedule is not None:
        overrides["schedule"] = parse_schedule(schedule)
    if down_mode is not None:
        if down_mode not in ("refuse", "blackhole"):
            raise InputError(f"invalid --down-mode {down_mode!r}", hint="choose refuse or blackhole")
        overrides["down_mode"] = down_mode
    return overrides


@app.command()
def link(
    listen: Annotated[str, typer.Option(help="Where clients connect, HOST:PORT (port 0: any free port).")] = (
        "127.0.0.1:8701"
    ),
    to: Annotated[str, typer.Option("--to", help="The upstream server (the hub), HOST:PORT.")] = "127.0.0.1:8700",
    profile: Annotated[str, typer.Option(help="Preset: 2g (~40 kbit/s, 300-1000 ms, faults) or perfect.")] = "2g",
    kbps: Annotated[float | None, typer.Option(help="Bandwidth each way in kbit/s (1000 bit/s), shared.")] = None,
    latency: Annotated[
        str | None, typer.Option(help="One-way delay per chunk: MIN-MAX (300ms-1s) or one value.")
    ] = None,
    reset_rate: Annotated[float | None, typer.Option(help="Probability per KiB carried of a reset (RST).")] = None,
    stall_rate: Annotated[float | None, typer.Option(help="Probability per KiB carried of a silent stall.")] = None,
    schedule: Annotated[str | None, typer.Option(help="Up/down cycle from the start: 60s-up,30s-down.")] = None,
    down_mode: Annotated[
        str | None, typer.Option(help="While down: refuse (reset connections) or blackhole (keep them silent).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of latencies and faults.")] = 0,
    duration: Annotated[str | None, typer.Option(help="Stop after this long (10m); default: until Ctrl-C.")] = None,
    stats_every: Annotated[str, typer.Option(help="Print the counters this often (0: only at the end).")] = "10s",
) -> None:
    """Relay TCP to --to through an emulated poor link (bandwidth, latency, resets, stalls, outages)."""
    try:
        from mlway.sim.link import LinkProxy  # noqa: PLC0415 - loads the simulator package
        from mlway.sim.link_profile import LinkProfile  # noqa: PLC0415
    except ImportError as exc:
        raise DependencyMissingError.for_extra(exc.name or "numpy", "sim") from exc
    host, port = _address(listen, "--listen")
    upstream = _address(to, "--to")
    overrides = _link_overrides(kbps, latency, reset_rate, stall_rate, schedule, down_mode, seed)
    chosen = LinkProfile.preset(profile, **overrides)
    until = None if duration is None else time.monotonic() + parse_duration(duration, what="--duration")
    every = parse_duration(stats_every, what="--stats-every")
    with LinkProxy(upstream, chosen, port, listen_host=host) as proxy:
        console.print(f"link {proxy.address} -> {upstream[0]}:{upstream[1]}: {chosen.describe()}", soft_wrap=True)
        console.print(f"listening on {proxy.address}", soft_wrap=True)
        sys.stdout.flush()
        next_print = time.monotonic() + every
        try:
            while until is None or time.monotonic() < until:
                time.sleep(0.1)
                if every > 0 and time.monotonic() >= next_print:
                    next_print += every
                    console.print(_link_line(proxy.stats()), soft_wrap=True)
        except KeyboardInterrupt:
            pass
        console.print("final: " + _link_line(proxy.stats()), soft_wrap=True)


def _link_line(s: Any) -> str:
    return (f"{'up' if s.up else 'DOWN'}: {s.connections} connections ({s.active} open), "
            f"{s.bytes_up} B up, {s.bytes_down} B down, {s.chunks_delayed}/{s.chunks} chunks delayed, "
            f"{s.resets} resets, {s.stalls} stalls, {s.refused} refused, {s.blackholed} black-holed, "
            f"{s.dropped} dropped by outages, {s.upstream_failures} upstream failures")  # fmt: skip
