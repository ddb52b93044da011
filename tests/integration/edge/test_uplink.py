"""The uploader against the real hub (a subprocess on 127.0.0.1): drain, restarts, SIGKILL, link down, auth.

"No loss, no duplicates" is checked on the hub's own database: its records for the device are exactly
the sequence numbers the outbox confirmed, each stored once, and the outbox is empty.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mlway.core.clock import Stamp
from mlway.core.wire import Clock, Fleet, Heartbeat
from mlway.edge.outbox import Outbox
from mlway.edge.uploader import UplinkConfig, Uploader
from mlway.hub.testing import RunningHub, free_port, start_hub
from mlway.sim.link import LinkProfile, LinkProxy

DEVICE = "combine-07"


def add_events(outbox: Outbox, n: int, start: int = 0) -> list[int]:
    return [
        outbox.add_event(
            event_id=f"e{(start + i) // 3}", kind=("start", "update", "end")[(start + i) % 3], label="unloading",
            source="auger", start_wall=1_790_000_000.0 + start + i, time_wall=1_790_000_001.0 + start + i,
            end_wall=1_790_000_002.0 + start + i if (start + i) % 3 == 2 else None, confidence=0.91, peak=0.97,
            frames=12, model_version="grain-v3",
        ).seq
        for i in range(n)
    ]  # fmt: skip


def hub_seqs(hub: RunningHub, device: str = DEVICE) -> list[int]:
    """Every seq the hub stored for ``device`` (read from its database, duplicates included if any)."""
    conn = sqlite3.connect(f"file:{hub.data}?mode=ro", uri=True)
    try:
        return [int(s) for (s,) in conn.execute("SELECT seq FROM records WHERE device_id = ? ORDER BY seq", (device,))]
    finally:
        conn.close()


def fleet(hub: RunningHub) -> Fleet:
    return Fleet.model_validate_json(httpx.get(hub.url + "/v1/fleet", timeout=10).content)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def heartbeat_of(outbox: Outbox) -> Callable[[], Heartbeat]:
    def beat() -> Heartbeat:
        s = outbox.stats()
        now = Stamp.now()
        return Heartbeat(
            device_id=DEVICE, clock=Clock(wall=now.wall, mono=now.mono, boot_id=now.boot_id, trusted=now.trusted),
            model_version="grain-v3", backlog_records=s.backlog_records, backlog_oldest_age_s=s.backlog_oldest_age_s,
            disk_free_bytes=s.disk_free_bytes, store_bytes=s.store_bytes, dropped_summaries=s.dropped_summaries,
            faults=s.faults,
        )  # fmt: skip

    return beat


def config(url: str, token: str, **overrides: object) -> UplinkConfig:
    values: dict[str, object] = {
        "url": url, "token": token, "device_id": DEVICE, "batch_records": 100, "timeout_s": 5.0,
        "connect_timeout_s": 2.0, "backoff_base_s": 0.05, "backoff_max_s": 0.5, "heartbeat_s": 1.0, "poll_s": 0.05,
    }  # fmt: skip
    return UplinkConfig.model_validate(values | overrides)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox.open(tmp_path / "outbox.db", DEVICE, max_bytes=64 * 2**20) as box:
        yield box


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    with start_hub(tmp_path / "hub.db") as running:
        yield running


def test_uploader_drains_a_backlog_compressed_with_heartbeats(hub: RunningHub, outbox: Outbox) -> None:
    confirmed = add_events(outbox, 1000)
    summary = outbox.add_summary(period_s=60, model_version="grain-v3")
    assert summary is not None
    confirmed.append(summary.seq)
    cfg = config(hub.url, hub.add_device(DEVICE), heartbeat_s=600.0)
    uploader = Uploader(outbox, cfg, heartbeat=heartbeat_of(outbox))
    uploader.start()
    try:
        wait_for(lambda: outbox.stats().backlog_records == 0, 60, "the backlog to drain")
    finally:
        assert uploader.stop(10)
    status = uploader.status()
    assert hub_seqs(hub) == sorted(confirmed)
    device = fleet(hub).devices[0]
    assert device.records == len(confirmed)
    assert device.last_heartbeat is not None
    assert device.last_heartbeat.backlog_records == 1001  # the first heartbeat went before the first batch
    assert status.connected
    assert status.acked_records == len(confirmed)
    assert status.sent_batches >= 11  # batches of at most 100
    assert status.heartbeats >= 1
    assert status.sent_bytes * 4 < status.raw_bytes  # gzip: JSON of similar records shrinks a lot
    events = httpx.get(hub.url + "/v1/events", params={"limit": 1000}, timeout=10).json()["events"]
    assert len(events) == 334  # 1000 records of events e0..e333 (start, update, end)


def test_hub_restarts_and_sigkill_mid_batch_lose_and_repeat_nothing(hub: RunningHub, outbox: Outbox) -> None:
    token = hub.add_device(DEVICE)
    confirmed: list[int] = []
    writing = threading.Event()
    writing.set()

    def writer() -> None:  # the agent keeps confirming events while the hub dies and comes back
        i = 0
        while writing.is_set():
            confirmed.extend(add_events(outbox, 5, start=i))
            i += 5
            time.sleep(0.005)

    uploader = Uploader(outbox, config(hub.url, token, batch_records=40), heartbeat=heartbeat_of(outbox))
    thread = threading.Thread(target=writer)
    thread.start()
    uploader.start()
    try:
        for round_ in range(6):
            wait_for(lambda: uploader.status().sent_batches > 0, 30, "batches to flow")
            time.sleep(0.3)
            if round_ % 2:
                hub.restart()  # graceful: SIGTERM lets the in-flight batch finish
            else:
                hub.kill()  # SIGKILL, most likely mid-batch: 40-record batches flow back to back
                time.sleep(0.2)
                hub.start()
        writing.clear()
        thread.join(10)
        wait_for(lambda: outbox.stats().backlog_records == 0, 60, "the backlog to drain after the last restart")
    finally:
        writing.clear()
        assert uploader.stop(10)
    stored = hub_seqs(hub)
    assert len(confirmed) > 300
    assert len(stored) == len(set(stored))  # none stored twice
    assert stored == sorted(confirmed)  # none lost
    assert fleet(hub).devices[0].records == len(confirmed)
    assert hub.starts == 7


def test_link_down_grows_the_backlog_then_it_drains_when_the_hub_appears(tmp_path: Path, outbox: Outbox) -> None:
    port = free_port()  # nothing listens there yet: connections are refused
    hub = RunningHub(tmp_path / "hub.db", port)
    token = hub.add_device(DEVICE)
    uploader = Uploader(outbox, config(hub.url, token), heartbeat=heartbeat_of(outbox))
    uploader.start()
    try:
        first = add_events(outbox, 50)
        wait_for(lambda: bool(uploader.status().last_error), 10, "a connection error")
        later = add_events(outbox, 50, start=50)
        time.sleep(1.0)
        status = uploader.status()
        assert not status.connected
        assert "unreachable" in status.last_error
        assert outbox.stats().backlog_records == 100  # everything kept while the link is down
        hub.start()
        try:
            wait_for(lambda: outbox.stats().backlog_records == 0, 30, "the backlog to drain")
            assert hub_seqs(hub) == first + later
            assert uploader.status().connected
        finally:
            hub.stop()
    finally:
        assert uploader.stop(10)


def test_a_refused_token_is_reported_not_hammered_and_the_records_stay(hub: RunningHub, outbox: Outbox) -> None:
    hub.add_device(DEVICE)
    add_events(outbox, 10)
    uploader = Uploader(outbox, config(hub.url, "not-the-token"), heartbeat=heartbeat_of(outbox))
    uploader.start()
    try:
        wait_for(lambda: uploader.status().auth_failed, 10, "the token to be refused")
        attempts = uploader.status().sent_bytes
        time.sleep(1.5)  # with backoff_base_s 0.05 a plain failure would retry several times meanwhile
        status = uploader.status()
    finally:
        assert uploader.stop(5)
    assert "token" in status.last_error
    assert "401" in status.last_error
    assert status.sent_bytes == attempts
    assert outbox.stats().backlog_records == 10
    assert hub_seqs(hub) == []


def test_a_flapping_2g_link_delivers_everything_once(hub: RunningHub, outbox: Outbox) -> None:
    token = hub.add_device(DEVICE)
    confirmed = add_events(outbox, 150)
    profile = LinkProfile.gsm_2g(seed=3, latency_min_s=0.05, latency_max_s=0.2, reset_per_kb=0.05)
    with LinkProxy(upstream=("127.0.0.1", hub.port), profile=profile) as link:
        uploader = Uploader(
            outbox, config(link.url_for("").rstrip("/"), token, batch_records=25, timeout_s=3.0),
            heartbeat=heartbeat_of(outbox),
        )  # fmt: skip
        uploader.start()
        try:
            wait_for(lambda: uploader.status().acked_records > 0, 30, "a first batch through the link")
            link.set_up(False)
            confirmed += add_events(outbox, 60, start=150)
            time.sleep(1.0)
            assert not uploader.status().connected
            link.set_up(True)
            wait_for(lambda: outbox.stats().backlog_records == 0, 90, "the backlog to drain over 2G")
        finally:
            assert uploader.stop(10)
        stats = link.stats()
    assert hub_seqs(hub) == confirmed
    assert stats.refused + stats.dropped + stats.resets > 0  # the link really misbehaved


def test_stop_returns_within_its_timeout_even_when_the_link_is_a_black_hole(hub: RunningHub, outbox: Outbox) -> None:
    token = hub.add_device(DEVICE)
    add_events(outbox, 10)
    profile = LinkProfile.perfect(down_mode="blackhole")
    with LinkProxy(upstream=("127.0.0.1", hub.port), profile=profile) as link:
        link.set_up(False)
        uploader = Uploader(outbox, config(link.url_for("").rstrip("/"), token, timeout_s=30.0))
        uploader.start()
        time.sleep(0.5)  # the request now hangs on a silent connection
        started = time.monotonic()
        uploader.stop(1.0)
        took = time.monotonic() - started
    assert took < 2.0
    assert outbox.stats().backlog_records == 10
