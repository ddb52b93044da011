"""The uplink over emulated 2G: bytes on the wire per event (gzip vs raw JSON) and time to drain a day.

    flock /tmp/mlway-cpu.lock python benchmarks/edge/uplink_drain.py [--hours 12] [--prefix 600]

Workload: one combine's day, from the simulator's schedule (mlway.sim.schedule, seed 7): every true
event (harvesting runs on the header camera, unloadings and unloading failures on the auger camera)
becomes the outbox records the edge event stage writes for it: a start, an update every 10 s while it
lasts (``core.smoothing`` default ``update_every_s``) and an end; plus a summary record every 60 s
(the agent's default ``summary_every_s``) for its two cameras. The records go into a real outbox, once,
and each run drains a copy of it with the real ``Uploader`` into a real hub process (``start_hub``)
through ``LinkProxy`` with ``LinkProfile.gsm_2g`` (40 kbit/s each way, 300-1000 ms per chunk, resets
0.005/KiB, stalls 0.002/KiB; seeded).

Runs:
  encode      no network: JSON and gzip bytes per record of the batches the uploader builds (1, 25, 200)
  raw prefix  the first --prefix records, gzip_level 0 (plain JSON): the peer/baseline
  gzip prefix the same records, gzip level 6 (the default)
  gzip day    the whole day's backlog, gzip: the drain time
Each run checks that the hub holds exactly the records sent (none lost, none twice).
Results: benchmarks/edge/results/uplink_drain.md (+ .json).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from machine_info import machine

from mlway.core.clock import Stamp
from mlway.core.wire import CameraSummary, Clock, Heartbeat
from mlway.edge.outbox import Outbox
from mlway.edge.uploader import UplinkConfig, Uploader
from mlway.hub.testing import start_hub
from mlway.sim.link import LinkProfile, LinkProxy
from mlway.sim.schedule import build_schedule
from mlway.sim.truth import events_of

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
DEVICE = "combine-01"
DAY0 = 1_790_000_000.0
UPDATE_EVERY_S = 10.0
SUMMARY_EVERY_S = 60.0
MODEL = "grain-v3"


def day_records(hours: float, seed: int) -> tuple[list[tuple[float, str, dict[str, Any]]], dict[str, int]]:
    """(time_s, type, fields) of one combine's day, time-ordered, and counts by kind of true event."""
    schedule = build_schedule(
        DEVICE, np.random.default_rng(seed), hours * 3600, failure_rate=0.3, on_the_go_rate=0.4, distractor_rate=3.0
    )
    out: list[tuple[float, str, dict[str, Any]]] = []
    kinds: dict[str, int] = {}
    for n, e in enumerate(events_of(schedule)):
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
        event_id = f"{e.camera}/{e.kind}/{n:012x}"
        times = [e.start_s, *np.arange(e.start_s + UPDATE_EVERY_S, e.end_s, UPDATE_EVERY_S).tolist(), e.end_s]
        for i, t in enumerate(times):
            kind = "start" if i == 0 else "end" if i == len(times) - 1 else "update"
            conf = round(0.80 + 0.15 * ((n * 7 + i * 3) % 10) / 10, 4)
            out.append((t, "event", {
                "event_id": event_id, "kind": kind, "label": e.kind, "source": e.camera,
                "start_wall": DAY0 + e.start_s, "time_wall": DAY0 + t,
                "end_wall": DAY0 + e.end_s if kind == "end" else None, "confidence": conf,
                "peak": max(conf, 0.95), "frames": int((t - e.start_s) * 5) + 1,
                "urgent": e.kind == "unloading_failure", "model_version": MODEL,
            }))  # fmt: skip
    for k in range(int(hours * 3600 // SUMMARY_EVERY_S)):
        t = (k + 1) * SUMMARY_EVERY_S
        cams = {
            cam: CameraSummary(frames_in=300, frames_inferred=300 - k % 3, frames_dropped=k % 3,
                               fps=round(4.9 + (k % 5) / 50, 2), top_labels={"harvesting": 250 + k % 40, "idle": 50})
            for cam in ("header", "auger")
        }  # fmt: skip
        out.append((t, "summary", {"period_s": SUMMARY_EVERY_S, "cameras": cams, "model_version": MODEL}))
    out.sort(key=lambda r: r[0])
    return out, kinds


def build_outbox(path: Path, records: list[tuple[float, str, dict[str, Any]]]) -> None:
    with Outbox.open(path, DEVICE, max_bytes=256 * 2**20) as outbox:
        boot = Stamp.now().boot_id
        for t, kind, fields in records:
            stamp = Stamp(wall=DAY0 + t, mono=100.0 + t, boot_id=boot)
            if kind == "event":
                outbox.add_event(**fields, stamp=stamp)
            else:
                outbox.add_summary(**fields, stamp=stamp)


def encode_sizes(path: Path, sizes: list[int]) -> list[dict[str, Any]]:
    """JSON and gzip bytes per record of the batches the uploader would build, no network."""
    rows = []
    with Outbox.open(path, DEVICE, max_bytes=256 * 2**20) as outbox:
        pending = outbox.pending_json(10**6)
    for size in sizes:
        raw = packed = 0
        for i in range(0, len(pending), size):
            body = ('{"wire_version":1,"device_id":"' + DEVICE + '","records":['
                    + ",".join(b for _, b in pending[i : i + size]) + "]}").encode()  # fmt: skip
            raw += len(body)
            packed += len(gzip.compress(body, 6, mtime=0))
        n = len(pending)
        rows.append({"batch": size, "json_per_record": raw / n, "gzip_per_record": packed / n, "ratio": raw / packed})
    return rows


def heartbeat_of(outbox: Outbox) -> Any:
    def beat() -> Heartbeat:
        s, now = outbox.stats(), Stamp.now()
        return Heartbeat(
            device_id=DEVICE, clock=Clock(wall=now.wall, mono=now.mono, boot_id=now.boot_id, trusted=now.trusted),
            model_version=MODEL, backlog_records=s.backlog_records, backlog_oldest_age_s=s.backlog_oldest_age_s,
            disk_free_bytes=s.disk_free_bytes, store_bytes=s.store_bytes, dropped_summaries=s.dropped_summaries,
        )  # fmt: skip

    return beat


def drain(template: Path, work: Path, name: str, *, limit: int | None, gzip_level: int, batch: int, seed: int,
          timeout_s: float) -> dict[str, Any]:  # fmt: skip
    """Drain a copy of the outbox (its first ``limit`` records) through 2G into a fresh hub."""
    folder = work / name
    folder.mkdir()
    db = folder / "outbox.db"
    shutil.copy(template, db)
    with Outbox.open(db, DEVICE, max_bytes=256 * 2**20) as outbox:
        if limit is not None:
            rest = [seq for seq, _ in outbox.pending_json(10**6)[limit:]]
            outbox.ack(rest)  # keep only the prefix
        sent = outbox.stats().backlog_records
        with start_hub(folder / "hub.db") as hub:
            token = hub.add_device(DEVICE)
            with LinkProxy(upstream=("127.0.0.1", hub.port), profile=LinkProfile.gsm_2g(seed=seed)) as link:
                config = UplinkConfig(
                    url=link.url_for("").rstrip("/"), token=token, device_id=DEVICE, batch_records=batch,
                    gzip_level=gzip_level, timeout_s=timeout_s, connect_timeout_s=10.0, backoff_base_s=1.0,
                    backoff_max_s=30.0, heartbeat_s=60.0, poll_s=0.2,
                )  # fmt: skip
                uploader = Uploader(outbox, config, heartbeat=heartbeat_of(outbox))
                started = time.monotonic()
                uploader.start()
                while outbox.stats().backlog_records:
                    time.sleep(0.2)
                took = time.monotonic() - started
                uploader.stop(30)
                stats = link.stats()
            status = uploader.status()
            conn = sqlite3.connect(f"file:{hub.data}?mode=ro", uri=True)
            stored, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT seq) FROM records").fetchone()
            conn.close()
    assert stored == distinct == sent, f"{name}: hub holds {stored} ({distinct} distinct) of {sent} sent"
    result = {
        "run": name, "records": sent, "gzip_level": gzip_level, "batch_records": batch, "seconds": took,
        "wire_up_bytes": stats.bytes_up, "wire_down_bytes": stats.bytes_down,
        "wire_up_per_record": stats.bytes_up / sent,
        "wire_total_per_record": (stats.bytes_up + stats.bytes_down) / sent,
        "body_bytes": status.sent_bytes, "json_bytes": status.raw_bytes, "batches": status.sent_batches,
        "duplicates": status.duplicates, "heartbeats": status.heartbeats, "connections": stats.connections,
        "resets": stats.resets, "stalls": stats.stalls, "upstream_failures": stats.upstream_failures,
        "link_floor_s": stats.bytes_up * 8 / 40_000, "hub_stored": stored,
    }  # fmt: skip
    print(json.dumps(result), flush=True)
    return result


def report(meta: dict[str, Any], day: dict[str, Any], enc: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    raw_p, gz_p, gz_day = runs
    per_raw = raw_p["seconds"] / raw_p["records"]
    kinds = ", ".join(f"{v} {k}" for k, v in day["kinds"].items())
    lines = [
        "# Uplink drain over emulated 2G (benchmarks/edge/uplink_drain.py)",
        "",
        (
            f"Machine: {meta['cores']} cores, {meta['cpu']}, Linux {meta['kernel']}, Python {meta['python']}, "
            f"SQLite {meta['sqlite']}. Commit {meta['commit']}, {meta['date']}."
        ),
        "",
        (
            f"Link: `LinkProfile.gsm_2g(seed={day['seed']})`: 40 kbit/s each way, 300-1000 ms per 512-byte chunk, "
            "resets 0.005/KiB, stalls 0.002/KiB (LinkProxy on 127.0.0.1), into a real `mlway hub start` process. "
            "Wire bytes are what the proxy carried (HTTP requests and answers, heartbeats included; no TCP/IP headers)."
        ),
        "",
        (
            f"Workload, one combine's {day['hours']:g} h day from the simulator (schedule seed {day['sim_seed']}): "
            f"{day['true_events']} true events ({kinds}) -> {day['event_records']} event records (start, an update "
            f"every 10 s, end) + {day['summary_records']} summaries (one per 60 s) = "
            f"**{day['records']} records/day** in the outbox."
        ),
        "",
        "## Bytes per record (encoding only, the uploader's batch JSON)",
        "",
        "| batch records | JSON bytes/record | gzip bytes/record | gzip ratio |",
        "|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['batch']} | {r['json_per_record']:.0f} | {r['gzip_per_record']:.1f} | {r['ratio']:.1f}x |" for r in enc
    ]
    lines += [
        "",
        "## Through the 2G link (real uploader, real hub)",
        "",
        (
            "| run | records | batch | seconds | wire up bytes/record | wire up+down bytes/record | batches | "
            "duplicates | resets | stalls | link floor s (up bytes at 40 kbit/s) |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        (
            f"| {r['run']} | {r['records']} | {r['batch_records']} | {r['seconds']:.1f} | "
            f"{r['wire_up_per_record']:.1f} | {r['wire_total_per_record']:.1f} | {r['batches']} | "
            f"{r['duplicates']} | {r['resets']} | {r['stalls']} | {r['link_floor_s']:.1f} |"
        )
        for r in runs
    ]
    lines += [
        "",
        "## Summary",
        "",
        (
            f"- Bytes on the wire per record (up, HTTP included), same {raw_p['records']} records: raw JSON "
            f"{raw_p['wire_up_per_record']:.0f}, gzip {gz_p['wire_up_per_record']:.0f} "
            f"(**{raw_p['wire_up_per_record'] / gz_p['wire_up_per_record']:.1f}x fewer**); time "
            f"{raw_p['seconds']:.0f} s vs {gz_p['seconds']:.0f} s ({raw_p['seconds'] / gz_p['seconds']:.1f}x)."
        ),
        (
            f"- A day's backlog ({gz_day['records']} records) drains over 2G in **{gz_day['seconds']:.0f} s** with "
            f"gzip ({gz_day['seconds'] / 60:.1f} min; {gz_day['wire_up_per_record']:.0f} bytes/record up). Raw JSON, "
            f"extrapolated from its prefix rate ({per_raw:.3f} s/record): ~{per_raw * gz_day['records'] / 60:.0f} min."
        ),
        (
            f"- Every run: the hub holds exactly the records sent, each once ({gz_day['duplicates']} duplicate "
            "acknowledgements in the day run: batches resent after a reset or stall, stored once)."
        ),
        "",
        "Command: `flock /tmp/mlway-cpu.lock python benchmarks/edge/uplink_drain.py`",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=12.0, help="Length of the simulated day of harvest.")
    parser.add_argument("--sim-seed", type=int, default=7)
    parser.add_argument("--link-seed", type=int, default=1)
    parser.add_argument("--prefix", type=int, default=600, help="Records of the raw-vs-gzip comparison.")
    parser.add_argument("--batch", type=int, default=200, help="The uploader's batch_records.")
    parser.add_argument("--timeout", type=float, default=15.0, help="The uploader's timeout_s.")
    args = parser.parse_args()
    records, kinds = day_records(args.hours, args.sim_seed)
    day = {
        "hours": args.hours, "sim_seed": args.sim_seed, "seed": args.link_seed, "kinds": kinds,
        "true_events": sum(kinds.values()), "records": len(records),
        "event_records": sum(1 for r in records if r[1] == "event"),
        "summary_records": sum(1 for r in records if r[1] == "summary"),
    }  # fmt: skip
    print(json.dumps(day), flush=True)
    with tempfile.TemporaryDirectory(prefix="uplink-drain-") as tmp:
        work = Path(tmp)
        template = work / "template.db"
        build_outbox(template, records)
        enc = encode_sizes(template, [1, 25, args.batch])
        print(json.dumps(enc), flush=True)
        common = {"batch": args.batch, "seed": args.link_seed, "timeout_s": args.timeout}
        runs = [
            drain(template, work, "raw prefix", limit=args.prefix, gzip_level=0, **common),
            drain(template, work, "gzip prefix", limit=args.prefix, gzip_level=6, **common),
            drain(template, work, "gzip day", limit=None, gzip_level=6, **common),
        ]
    meta = machine(["src/mlway/edge/outbox.py", "src/mlway/edge/uploader.py"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "uplink_drain.json").write_text(
        json.dumps({"machine": meta, "day": day, "encode": enc, "runs": runs}, indent=2) + "\n"
    )
    text = report(meta, day, enc, runs)
    (RESULTS / "uplink_drain.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
