"""When TTFT's clock starts: once the request is on the wire, not while the client still waits for a connection."""

from __future__ import annotations

import asyncio
import time

from mlway.bench.records import RequestRecord
from mlway.bench.simserver import SimServerConfig, spawn_sim_server
from mlway.bench.target import OpenAITarget, TargetSpec
from mlway.bench.workload import Prompt

MS = 1e-3


async def two_at_once(url: str) -> list[RequestRecord]:
    spec = TargetSpec(base_url=url, model="mlway-sim")
    records = [RequestRecord(index=i, warmup=False, scheduled_at=0.0) for i in range(2)]
    zero = time.perf_counter()
    async with OpenAITarget(spec, pool=1) as target:  # one connection: the second request waits for it
        prompt = Prompt("the header is clogged", None, None, 8)
        await asyncio.gather(*(target.send(prompt, r, zero) for r in records))
    return records


def test_a_request_waiting_for_a_pooled_connection_is_not_charged_to_the_servers_ttft() -> None:
    with spawn_sim_server(SimServerConfig(ttft=60 * MS, itl=10 * MS)) as url:
        first, second = sorted(asyncio.run(two_at_once(url)), key=lambda r: r.sent_at)
    assert first.status == second.status == 200
    # the second went out only when the first ended (~130 ms later): its TTFT is the server's 60 ms, and the
    # wait shows as client-side time between its scheduled and sent times
    assert second.sent_at >= first.end_at - 5 * MS
    for r in (first, second):
        assert r.first_content_at is not None
        assert 55 * MS <= r.first_content_at - r.sent_at < 120 * MS  # charged the wait, the second would be ~190
    assert second.sent_at - second.scheduled_at > 100 * MS
