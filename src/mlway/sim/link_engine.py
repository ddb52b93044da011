"""The emulated link inside its event loop: the listener, the shared pacers, the up/down state and the counters."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from dataclasses import dataclass

from mlway.sim.link_connection import Direction, LinkConnection
from mlway.sim.link_profile import LinkProfile


@dataclass(frozen=True)
class LinkStats:
    """What went through the link so far (``up``: client -> upstream, ``down``: upstream -> client)."""

    up: bool = True
    connections: int = 0  # accepted from clients, including refused and black-holed ones
    active: int = 0
    bytes_up: int = 0  # delivered to the upstream
    bytes_down: int = 0  # delivered to the clients
    chunks: int = 0
    chunks_delayed: int = 0  # waited for bandwidth or latency before delivery
    resets: int = 0  # injected by reset_per_kb
    stalls: int = 0  # injected by stall_per_kb
    refused: int = 0  # reset right after accept because the link was down (down_mode refuse)
    blackholed: int = 0  # accepted while down in blackhole mode, or silenced when it went down
    dropped: int = 0  # open connections reset or silenced because the link went down
    upstream_failures: int = 0  # the upstream refused or did not answer within connect_timeout_s
    transitions: int = 0  # changes between up and down


class Pacer:
    """One direction of the radio: bytes leave one after another at ``bps``, whatever connection sent them."""

    def __init__(self, bps: float | None) -> None:
        self.bps = bps
        self.free_at = 0.0

    def reserve(self, size: int, now: float) -> float:
        """Book ``size`` bytes on the link; returns the time their last bit has been sent."""
        if self.bps is None:
            return now
        self.free_at = max(now, self.free_at) + size * 8 / self.bps
        return self.free_at


class LinkEngine:
    """Runs in one event loop; every method but :meth:`snapshot` must be called from that loop."""

    def __init__(self, upstream: tuple[str, int], profile: LinkProfile) -> None:
        self.upstream = upstream
        self.profile = profile
        self.pacers: dict[Direction, Pacer] = {"up": Pacer(profile.up_bps), "down": Pacer(profile.down_bps)}
        self.up = True
        self.connections: set[LinkConnection] = set()
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {f.name: 0 for f in dataclasses.fields(LinkStats) if f.name != "up"}
        self._next_index = 0
        self._server: asyncio.Server | None = None
        self._cycle: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the port (useful when ``port`` is 0)."""
        self._server = await asyncio.start_server(self._accept, host, port)
        if self.profile.schedule:
            self._cycle = asyncio.create_task(self._run_schedule())
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._cycle is not None:
            self._cycle.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.reset(injected=False)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)

    def set_up(self, up: bool) -> None:
        """Bring the link up or down; going down resets (refuse) or silences (blackhole) open connections."""
        if up == self.up:
            return
        self.up = up
        self.count(transitions=1)
        if up:
            return
        for conn in list(self.connections):
            if conn.closed or conn.stalled:
                continue
            self.count(dropped=1)
            if self.profile.down_mode == "refuse":
                conn.reset(injected=False)
            else:
                self.count(blackholed=1)
                conn.stall(injected=False)

    def count(self, **deltas: int) -> None:
        with self._lock:
            for key, delta in deltas.items():
                self._counts[key] += delta

    def snapshot(self) -> LinkStats:
        """The counters; safe to call from any thread."""
        with self._lock:
            return LinkStats(up=self.up, **self._counts)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = LinkConnection(self, self._next_index, reader, writer)
        self._next_index += 1
        self.connections.add(conn)
        self.count(connections=1, active=1)
        try:
            await conn.run()
        except asyncio.CancelledError:
            # the proxy is stopping; end normally: on Python 3.11 asyncio's streams log a traceback for a
            # connection handler that ends cancelled
            pass
        finally:
            conn.close()
            self.connections.discard(conn)
            self.count(active=-1)

    async def _run_schedule(self) -> None:
        while True:
            for up_s, down_s in self.profile.schedule:
                self.set_up(True)
                await asyncio.sleep(up_s)
                if down_s > 0:
                    self.set_up(False)
                    await asyncio.sleep(down_s)
