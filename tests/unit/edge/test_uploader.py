"""The uploader's own rules: config refusals, backoff, the bandwidth cap, and hub answers at the network edge.

The hub side is an ``httpx.MockTransport`` (the outermost network edge); the real hub is in
tests/integration/edge/test_uplink.py.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from mlway.core.wire import Clock, Heartbeat, IngestAck, IngestBatch
from mlway.edge.backoff import Backoff, TokenBucket
from mlway.edge.outbox import Outbox
from mlway.edge.uploader import UplinkConfig, Uploader


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox.open(tmp_path / "outbox.db", "d1", max_bytes=2**24) as box:
        yield box


def fill(outbox: Outbox, n: int) -> list[int]:
    return [
        outbox.add_event(
            event_id=f"e{i}", kind="start", label="unloading", source="auger", start_wall=1, time_wall=2,
            confidence=0.9, peak=0.9, frames=3,
        ).seq
        for i in range(n)
    ]  # fmt: skip


def config(**overrides: object) -> UplinkConfig:
    values: dict[str, object] = {
        "url": "http://hub.test:8700", "token": "secret-token", "device_id": "d1", "batch_records": 50,
        "backoff_base_s": 0.01, "backoff_max_s": 0.05, "poll_s": 0.02,
    }  # fmt: skip
    return UplinkConfig.model_validate(values | overrides)


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_config_refuses_bad_values_naming_the_field_and_hides_the_token() -> None:
    with pytest.raises(ValidationError, match="url"):
        config(url="hub:8700")
    with pytest.raises(ValidationError, match="batch_records"):
        config(batch_records=10_000)
    with pytest.raises(ValidationError, match="max_bytes_per_s"):
        config(max_bytes_per_s=0)
    assert "secret-token" not in repr(config())


def test_backoff_has_full_jitter_under_a_doubling_ceiling_and_resets() -> None:
    backoff = Backoff(0.5, 8.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(40)]
    ceilings = [min(8.0, 0.5 * 2**i) for i in range(40)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[10:]) > 4.0  # reaches up towards the cap
    assert min(delays[10:]) < 4.0  # and anywhere below it: devices do not retry in lockstep
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_token_bucket_makes_a_burst_wait_for_its_bytes() -> None:
    bucket = TokenBucket(rate=1000)
    assert bucket.take(500) == 0  # within the one-second burst
    assert bucket.take(2500) == pytest.approx(2.0, abs=0.05)  # 2 kB more than the burst held: 2 s at 1 kB/s


class FakeHub:
    """Answers /v1/ingest like the hub (ack every record), optionally refusing with a status first."""

    def __init__(
        self, refuse: Callable[[IngestBatch], int | None] = lambda batch: None, beat_status: int = 200
    ) -> None:
        self.refuse = refuse
        self.beat_status = beat_status
        self.batches: list[IngestBatch] = []
        self.heartbeats = 0
        self.encodings: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.encodings.add(request.headers.get("content-encoding", ""))
        body = json.loads(gzip.decompress(request.content))
        if request.url.path == "/v1/heartbeat":
            self.heartbeats += 1
            if self.beat_status != 200:
                return httpx.Response(self.beat_status, json={"detail": "heartbeat refused"})
            return httpx.Response(200, json={"hub_wall": time.time()})
        batch = IngestBatch.model_validate(body)
        status = self.refuse(batch)
        if status is not None:
            return httpx.Response(status, json={"detail": f"refused with {status}"})
        self.batches.append(batch)
        seqs = [r.seq for r in batch.records]
        return httpx.Response(200, json=IngestAck(acked=seqs, stored=len(seqs), duplicates=0).model_dump())


def run(outbox: Outbox, hub: FakeHub, until: Callable[[Uploader], bool], **overrides: object) -> Uploader:
    uploader = Uploader(outbox, config(**overrides), transport=httpx.MockTransport(hub))
    uploader.start()
    try:
        wait_for(lambda: until(uploader))
    finally:
        assert uploader.stop(5)
    return uploader


def test_a_batch_too_large_for_the_hub_is_halved_until_it_passes(outbox: Outbox) -> None:
    seqs = fill(outbox, 100)
    hub = FakeHub(refuse=lambda batch: 413 if len(batch.records) > 12 else None)
    run(outbox, hub, lambda u: outbox.stats().backlog_records == 0)
    assert [r.seq for b in hub.batches for r in b.records] == seqs
    assert max(len(b.records) for b in hub.batches) <= 12
    assert hub.encodings == {"gzip"}


def test_a_refused_batch_keeps_its_records_and_reports_the_hub_answer(outbox: Outbox) -> None:
    fill(outbox, 5)
    hub = FakeHub(refuse=lambda batch: 422)
    uploader = run(outbox, hub, lambda u: u.status().last_error != "")
    assert "422" in uploader.status().last_error
    assert outbox.stats().backlog_records == 5


def test_a_failing_heartbeat_callable_does_not_stop_the_uploads(outbox: Outbox) -> None:
    fill(outbox, 20)

    def broken() -> object:
        raise RuntimeError("camera stats unavailable")

    hub = FakeHub()
    uploader = Uploader(outbox, config(), heartbeat=broken, transport=httpx.MockTransport(hub))  # type: ignore[arg-type]
    uploader.start()
    try:
        wait_for(lambda: outbox.stats().backlog_records == 0)
    finally:
        assert uploader.stop(5)
    assert hub.heartbeats == 0
    assert uploader.status().acked_records == 20


def test_the_bandwidth_cap_spaces_the_batches(outbox: Outbox) -> None:
    fill(outbox, 200)
    hub = FakeHub()
    started = time.monotonic()
    uploader = run(outbox, hub, lambda u: outbox.stats().backlog_records == 0, batch_records=20, max_bytes_per_s=2000)
    took = time.monotonic() - started
    sent = uploader.status().sent_bytes
    assert len(hub.batches) == 10
    assert took >= (sent - 2000) / 2000  # never faster than the cap allows beyond its one-second burst


def test_a_heartbeat_the_hub_refuses_does_not_hold_back_the_records(outbox: Outbox, tmp_path: Path) -> None:
    fill(outbox, 30)
    hub = FakeHub(beat_status=422)
    beat = lambda: Heartbeat(  # noqa: E731
        device_id="d1", clock=Clock(wall=1.0, mono=1.0, boot_id="b", trusted=False), backlog_records=0,
        backlog_oldest_age_s=0, disk_free_bytes=0, store_bytes=0,
    )  # fmt: skip
    uploader = Uploader(outbox, config(heartbeat_s=0.05), heartbeat=beat, transport=httpx.MockTransport(hub))
    uploader.start()
    try:
        wait_for(lambda: outbox.stats().backlog_records == 0)
    finally:
        assert uploader.stop(5)
    assert hub.heartbeats >= 1
    assert uploader.status().heartbeats == 0
    assert uploader.status().acked_records == 30


def test_batches_that_time_out_shrink_until_they_get_through(outbox: Outbox) -> None:
    seqs = fill(outbox, 60)
    hub = FakeHub()

    def slow_link(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/ingest" and len(json.loads(gzip.decompress(request.content))["records"]) > 8:
            raise httpx.ReadTimeout("no answer within timeout_s", request=request)
        return hub(request)

    uploader = Uploader(outbox, config(batch_records=50), transport=httpx.MockTransport(slow_link))
    uploader.start()
    try:
        wait_for(lambda: outbox.stats().backlog_records == 0)
    finally:
        assert uploader.stop(5)
    assert [r.seq for b in hub.batches for r in b.records] == seqs
    assert max(len(b.records) for b in hub.batches) <= 8
