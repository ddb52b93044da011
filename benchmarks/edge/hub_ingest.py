"""Hub ingest throughput on SQLite: events/s through a real `mlway hub start` process, vs raw sqlite3 in the same run.

    flock /tmp/mlway-cpu.lock python benchmarks/edge/hub_ingest.py [--events 40000] [--devices 4]

Three ways to store the same rows, each with WAL + synchronous=FULL and one transaction per batch:
  raw sqlite3   executemany of the records' rows into a table shaped like the hub's `records` (the floor)
  hub store     mlway.hub.HubStore.ingest in-process: JSON -> pydantic validation -> dedup -> records + events upsert
  hub HTTP      devices POST gzip-compressed IngestBatch bodies to a real hub process (uvicorn), one thread per
                device, each waiting for its ack before the next batch (as the uplink does)
Batches of 100 and 1000 events. The client threads share the machine's cores with the hub, as the
numbers say. Results: benchmarks/edge/results/hub_ingest.md (+ .json).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Literal

import requests
from machine_info import machine

from mlway.core.wire import EventRecord, IngestBatch, SummaryRecord
from mlway.hub import HubStore
from mlway.hub.testing import event_record, start_hub

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
KINDS: tuple[Literal["start"], Literal["update"], Literal["end"]] = ("start", "update", "end")


def batches(device: str, total: int, size: int) -> list[IngestBatch]:
    records: list[EventRecord | SummaryRecord] = [
        event_record(s, event_id=f"{device}-{(s - 1) // 3}", kind=KINDS[(s - 1) % 3]) for s in range(1, total + 1)
    ]
    return [IngestBatch(device_id=device, records=records[i : i + size]) for i in range(0, total, size)]


def raw_sqlite(path: Path, device_batches: dict[str, list[IngestBatch]]) -> float:
    """events/s: plain executemany of the same rows, WAL + synchronous=FULL, one transaction per batch."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE records (device_id VARCHAR(63) NOT NULL, seq BIGINT NOT NULL, type VARCHAR(16) NOT NULL,"
        " wall DOUBLE PRECISION NOT NULL, mono DOUBLE PRECISION NOT NULL, boot_id VARCHAR(64) NOT NULL,"
        " trusted BOOLEAN NOT NULL, received_wall DOUBLE PRECISION NOT NULL, payload TEXT NOT NULL,"
        " PRIMARY KEY (device_id, seq))"
    )
    prepared = [
        [
            (
                b.device_id,
                r.seq,
                r.type,
                r.clock.wall,
                r.clock.mono,
                r.clock.boot_id,
                r.clock.trusted,
                0.0,
                r.model_dump_json(),
            )
            for r in b.records
        ]
        for batch_list in device_batches.values()
        for b in batch_list
    ]
    total = sum(len(rows) for rows in prepared)
    started = time.perf_counter()
    for rows in prepared:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return total / elapsed


def hub_store(path: Path, device_batches: dict[str, list[IngestBatch]]) -> float:
    """events/s: HubStore.ingest in-process, from JSON bodies (validation + dedup + records + events)."""
    bodies = [b.model_dump_json() for batch_list in device_batches.values() for b in batch_list]
    total = sum(len(b.records) for batch_list in device_batches.values() for b in batch_list)
    with HubStore.open(path) as store:
        for device in device_batches:
            store.add_device(device)
        started = time.perf_counter()
        for body in bodies:
            store.ingest(IngestBatch.model_validate_json(body))
        elapsed = time.perf_counter() - started
    return total / elapsed


def hub_http(path: Path, device_batches: dict[str, list[IngestBatch]]) -> dict[str, float]:
    """events/s through a real hub process; one client thread per device, gzip bodies built beforehand."""
    total = sum(len(b.records) for batch_list in device_batches.values() for b in batch_list)
    with start_hub(path) as hub:
        tokens = {device: hub.add_device(device) for device in device_batches}
        bodies = {d: [gzip.compress(b.model_dump_json().encode(), 6) for b in bl] for d, bl in device_batches.items()}
        wire_bytes = sum(len(body) for bl in bodies.values() for body in bl)
        errors: list[str] = []

        def upload(device: str) -> None:
            session = requests.Session()
            headers = {
                "Authorization": f"Bearer {tokens[device]}",
                "Content-Encoding": "gzip",
                "Content-Type": "application/json",
            }
            for body in bodies[device]:
                response = session.post(hub.url + "/v1/ingest", data=body, headers=headers, timeout=60)
                if response.status_code != 200:
                    errors.append(response.text)
                    return

        threads = [threading.Thread(target=upload, args=(device,)) for device in device_batches]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise RuntimeError(errors[0])
        stored = sum(d["records"] for d in requests.get(hub.url + "/v1/fleet", timeout=10).json()["devices"])
        if stored != total:
            raise RuntimeError(f"hub stored {stored} of {total} records")
    return {"events_per_s": total / elapsed, "wire_bytes_per_event": wire_bytes / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=40_000, help="Events per configuration (all devices).")
    parser.add_argument("--devices", type=int, default=4, help="Concurrent devices.")
    parser.add_argument("--repeats", type=int, default=3, help="Runs per configuration (the median is reported).")
    args = parser.parse_args()
    info = machine(["src/mlway/hub"], packages=["fastapi", "uvicorn"])
    rows = []
    for size in (100, 1000):
        per_device = args.events // args.devices
        device_batches = {
            f"combine-{i:02d}": batches(f"combine-{i:02d}", per_device, size) for i in range(args.devices)
        }
        runs: dict[str, list[float]] = {"raw": [], "store": [], "http": []}
        wire = 0.0
        for repeat in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="hub-bench-", dir=ROOT / ".cache") as tmp:
                work = Path(tmp)
                runs["raw"].append(raw_sqlite(work / "raw.db", device_batches))
                runs["store"].append(hub_store(work / "store.db", device_batches))
                http = hub_http(work / "hub.db", device_batches)
                runs["http"].append(http["events_per_s"])
                wire = http["wire_bytes_per_event"]
            print(f"batch {size} run {repeat + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in runs.items()))
        median = {k: sorted(v)[len(v) // 2] for k, v in runs.items()}
        rows.append(
            {
                "batch": size,
                "devices": args.devices,
                "events": per_device * args.devices,
                "raw_events_per_s": median["raw"],
                "store_events_per_s": median["store"],
                "http_events_per_s": median["http"],
                "store_vs_raw": median["store"] / median["raw"],
                "http_vs_raw": median["http"] / median["raw"],
                "gzip_bytes_per_event": wire,
                "runs": runs,
            }
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hub_ingest.json").write_text(json.dumps({"machine": info, "results": rows}, indent=2) + "\n")
    command = (
        f"flock /tmp/mlway-cpu.lock python benchmarks/edge/hub_ingest.py --events {args.events} "
        f"--devices {args.devices} --repeats {args.repeats}"
    )
    header = f"""# Hub ingest on SQLite (events/s)

Machine: {info["cores"]} cores, {info["cpu"]}, kernel {info["kernel"]}, Python {info["python"]},
SQLite {info["sqlite"]}, fastapi {info["versions"]["fastapi"]}, uvicorn {info["versions"]["uvicorn"]}.
Commit {info["commit"]}, {info["date"]}. Command: `{command}` (median of {args.repeats} runs).

All three store the same rows with WAL + synchronous=FULL and one committed transaction per batch.
raw = plain sqlite3 executemany into a table shaped like the hub's `records` (no validation, no events upsert);
store = `HubStore.ingest` in-process from JSON (pydantic validation, dedup, records + events' latest state);
HTTP = {args.devices} device threads POSTing gzip bodies to a real `mlway hub start` process, each waiting
for its ack; client and hub share the cores.

| batch | devices | events | raw sqlite3 | hub store | hub HTTP | store / raw | HTTP / raw | gzip B/event |
|---|---|---|---|---|---|---|---|---|"""
    lines = [header]
    lines.extend(
        f"| {r['batch']} | {r['devices']} | {r['events']:,} | {r['raw_events_per_s']:,.0f} | "
        f"{r['store_events_per_s']:,.0f} | {r['http_events_per_s']:,.0f} | {r['store_vs_raw']:.2f} | "
        f"{r['http_vs_raw']:.2f} | {r['gzip_bytes_per_event']:.0f} |"
        for r in rows
    )
    (RESULTS / "hub_ingest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
