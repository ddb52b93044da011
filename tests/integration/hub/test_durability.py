"""A real hub killed with SIGKILL while devices upload: every acknowledged record survives, no batch is half stored,
and a restart on the same file carries on (resends are acknowledged as duplicates)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import defaultdict

import requests

from mlway.core.wire import Fleet, IngestAck
from mlway.hub.testing import RunningHub, event_record, ingest_body

BATCH = 500


def stored_seqs(hub: RunningHub) -> dict[str, list[int]]:
    with sqlite3.connect(hub.data) as conn:
        found: dict[str, list[int]] = defaultdict(list)
        for device, seq in conn.execute("SELECT device_id, seq FROM records ORDER BY device_id, seq"):
            found[device].append(seq)
        return found


def test_restart_keeps_devices_records_and_events(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    headers = {"Authorization": f"Bearer {token}"}
    body = ingest_body("combine-07", [event_record(1), event_record(2, kind="end")])
    assert requests.post(hub.url + "/v1/ingest", data=body, headers=headers, timeout=10).status_code == 200
    hub.restart()
    again = IngestAck.model_validate_json(
        requests.post(hub.url + "/v1/ingest", data=body, headers=headers, timeout=10).content
    )
    assert (again.stored, again.duplicates) == (0, 2)
    events = requests.get(hub.url + "/v1/events", timeout=10).json()["events"]
    assert [(e["event_id"], e["state"]) for e in events] == [("e1", "ended")]


def _upload(
    hub: RunningHub, device: str, token: str, acked: set[int], sent: list[list[int]], stop: threading.Event
) -> None:
    seq = 1
    session = requests.Session()
    while not stop.is_set():
        seqs = list(range(seq, seq + BATCH))
        records = [event_record(s, event_id=f"{device}-{s // 10}", kind="update") for s in seqs]
        sent.append(seqs)
        try:
            response = session.post(
                hub.url + "/v1/ingest",
                data=ingest_body(device, records),
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
        except requests.RequestException:
            return
        if response.status_code != 200:
            return
        acked.update(IngestAck.model_validate_json(response.content).acked)
        seq += BATCH


def test_sigkill_mid_ingest_loses_no_acknowledged_record_and_stores_no_batch_in_part(hub: RunningHub) -> None:
    devices = {name: hub.add_device(name) for name in ("combine-01", "combine-02", "combine-03")}
    acked: dict[str, set[int]] = {name: set() for name in devices}
    sent: dict[str, list[list[int]]] = {name: [] for name in devices}
    stop = threading.Event()
    threads = [
        threading.Thread(target=_upload, args=(hub, name, token, acked[name], sent[name], stop))
        for name, token in devices.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while min(len(a) for a in acked.values()) < 3 * BATCH and time.monotonic() < deadline:
        time.sleep(0.02)
    hub.kill()
    stop.set()
    for thread in threads:
        thread.join(30)
    stored = stored_seqs(hub)
    for name in devices:
        assert len(acked[name]) >= 3 * BATCH, "uploads did not get going before the kill"
        assert acked[name] <= set(stored[name]), f"{name}: acknowledged records lost"
        assert len(stored[name]) == len(set(stored[name]))
        kept = set(stored[name])
        for seqs in sent[name]:
            assert len(kept.intersection(seqs)) in (0, len(seqs)), f"{name}: batch {seqs[0]}.. stored in part"
    hub.restart()
    for name, token in devices.items():
        records = [event_record(s, event_id=f"{name}-{s // 10}", kind="update") for seqs in sent[name] for s in seqs]
        for start in range(0, len(records), 2000):
            response = requests.post(
                hub.url + "/v1/ingest",
                data=ingest_body(name, records[start : start + 2000]),
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert response.status_code == 200, response.text
    fleet = Fleet.model_validate_json(requests.get(hub.url + "/v1/fleet", timeout=10).content)
    for device in fleet.devices:
        total = sum(len(seqs) for seqs in sent[device.device_id])
        assert (device.records, device.last_seq) == (total, total)
