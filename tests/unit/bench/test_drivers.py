import asyncio
import time

import pytest

from mlway.bench.drivers import Stop, drive
from mlway.bench.summary import LoadSpec


class Server:
    """Stands in for the network: each request takes `service` seconds; tracks what the driver did."""

    def __init__(self, service: float) -> None:
        self.service = service
        self.in_flight = 0
        self.peak = 0
        self.calls: list[tuple[int, float, float]] = []  # index, scheduled_at, sent_at
        self.zero = 0.0

    async def issue(self, index: int, scheduled_at: float, payload: object) -> None:
        assert payload == f"prompt {index}"  # each request gets the payload prepared for it
        self.calls.append((index, scheduled_at, time.perf_counter() - self.zero))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.service)
        finally:
            self.in_flight -= 1


def _run(load: LoadSpec, stop: Stop, server: Server, halt_after: float | None = None) -> float:
    async def main() -> float:
        halt = asyncio.Event()
        if halt_after is not None:
            asyncio.get_running_loop().call_later(halt_after, halt.set)
        server.zero = time.perf_counter()
        await drive(load, stop, server.issue, prepare=lambda i: f"prompt {i}", clock_zero=server.zero, halt=halt)
        return time.perf_counter() - server.zero

    return asyncio.run(main())


def test_closed_loop_keeps_exactly_n_users_busy() -> None:
    server = Server(service=0.02)
    _run(LoadSpec(mode="concurrency", concurrency=5), Stop(requests=50, duration=None), server)
    assert len(server.calls) == 50
    assert server.peak == 5
    assert sorted(i for i, _, _ in server.calls) == list(range(50))


def test_closed_loop_duration_stops_sending() -> None:
    server = Server(service=0.01)
    elapsed = _run(LoadSpec(mode="concurrency", concurrency=2), Stop(requests=None, duration=0.3), server)
    assert 0.28 < elapsed < 0.5
    assert max(sent for _, _, sent in server.calls) < 0.3


def test_open_loop_sends_on_schedule_whatever_the_server_does() -> None:
    server = Server(service=0.5)  # slow server: arrivals must not wait for responses
    load = LoadSpec(mode="rate", rate=100, arrival="constant")
    _run(load, Stop(requests=40, duration=None), server)
    assert len(server.calls) == 40
    assert server.peak > 30  # requests pile up in flight
    lags = [sent - scheduled for _, scheduled, sent in server.calls]
    assert max(lags) < 0.1  # nobody waited for a response before sending
    assert server.calls[-1][1] == pytest.approx(0.39)  # 40 arrivals at 10 ms spacing


def test_open_loop_cap_turns_into_client_queue_time() -> None:
    server = Server(service=0.05)
    load = LoadSpec(mode="rate", rate=200, arrival="constant", max_concurrency=2)
    _run(load, Stop(requests=20, duration=None), server)
    assert server.peak == 2
    lags = [sent - scheduled for _, scheduled, sent in server.calls]
    assert max(lags) > 0.2  # arrivals waited for a free slot


def test_halt_cancels_in_flight_work() -> None:
    server = Server(service=10.0)
    elapsed = _run(LoadSpec(mode="concurrency", concurrency=3), Stop(requests=None, duration=None), server, 0.1)
    assert elapsed < 1.0
    assert server.in_flight == 0


def test_drain_deadline_bounds_a_hung_server() -> None:
    server = Server(service=30.0)
    load = LoadSpec(mode="rate", rate=50, arrival="constant")
    elapsed = _run(load, Stop(requests=None, duration=0.1, drain=0.2), server)
    assert elapsed < 1.0
    assert server.in_flight == 0


def test_open_loop_builds_each_payload_before_its_arrival_time() -> None:
    server = Server(service=0.01)
    load = LoadSpec(mode="rate", rate=10, arrival="constant")  # 100 ms between arrivals

    def slow_prepare(index: int) -> str:
        time.sleep(0.03)  # e.g. tokenizing a long prompt
        return f"prompt {index}"

    async def main() -> None:
        server.zero = time.perf_counter()
        await drive(
            load, Stop(requests=8, duration=None), server.issue, prepare=slow_prepare,
            clock_zero=server.zero, halt=asyncio.Event(),
        )  # fmt: skip

    asyncio.run(main())
    lags = sorted(sent - scheduled for _, scheduled, sent in server.calls[1:])
    assert lags[len(lags) // 2] < 0.02  # the 30 ms of preparation happened in the slack, not as queue time
