"""A fault-injecting TCP proxy that emulates a poor radio link (2G) between a device and its hub.

    with LinkProxy(upstream=("127.0.0.1", hub_port), profile=LinkProfile.gsm_2g(seed=1)) as link:
        url = link.url_for("/v1/ingest")     # http://127.0.0.1:<link.port>/v1/ingest
        link.set_up(False)                   # the link drops
        link.set_up(True)
        link.stats()                         # LinkStats: bytes each way, connections, faults injected

The proxy runs its own asyncio loop in a daemon thread, so synchronous tests and programs use it as a
context manager. What it does to the traffic (see :class:`~mlway.sim.link_profile.LinkProfile`):

- bandwidth: each direction is one shared pacer, like one radio link: bytes of every connection leave
  one after another at ``up_bps`` / ``down_bps``, so N bytes take at least N*8/bps seconds;
- latency: each chunk (at most ``chunk_bytes``) is delivered a uniform ``latency_min_s``..``latency_max_s``
  after it was sent, never before the chunk ahead of it: bytes are never reordered or altered;
- resets: with ``reset_per_kb`` a connection is aborted with an RST (the client sees ECONNRESET) after a
  byte count drawn from the connection's seeded stream;
- stalls: with ``stall_per_kb`` a connection stops carrying data without closing (a black hole): what
  the client sends is swallowed and nothing comes back, so only the client's deadlines end it;
- down (``set_up(False)`` or the ``schedule``): with ``down_mode="refuse"`` open connections are reset and
  new ones reset right after accept (the client sees ECONNRESET or an empty reply; counted in
  ``stats().refused``); with ``down_mode="blackhole"`` open and new connections are silenced as in a stall
  and stay silent even after the link comes back up, as a TCP connection through a lost radio bearer
  would until the client gives up. ``set_up`` works alongside a schedule: the schedule flips the state
  again at its next period boundary.

Connection n of a profile with a given seed draws the same faults and latencies on every run.
Connecting to the upstream has no emulated delay; a failed upstream connect resets the client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType

from mlway.core.errors import InputError, TargetError
from mlway.sim.link_engine import LinkEngine, LinkStats
from mlway.sim.link_profile import LinkProfile

__all__ = ["LinkProfile", "LinkProxy", "LinkStats"]

_START_TIMEOUT_S = 10.0


class LinkProxy:
    """Listen on ``listen_host:listen_port`` (0: any free port) and relay to ``upstream`` through the link."""

    def __init__(
        self,
        upstream: tuple[str, int],
        profile: LinkProfile | None = None,
        listen_port: int = 0,
        *,
        listen_host: str = "127.0.0.1",
    ) -> None:
        self.upstream = upstream
        self.profile = profile if profile is not None else LinkProfile.perfect()
        self.listen_host = listen_host
        self.port = listen_port
        self._engine = LinkEngine(upstream, self.profile)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __enter__(self) -> LinkProxy:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"{self.listen_host}:{self.port}"

    def url_for(self, path: str = "/", scheme: str = "http") -> str:
        """``http://127.0.0.1:<port><path>``: the URL a client uses to reach the upstream through the link."""
        return f"{scheme}://{self.listen_host}:{self.port}/{path.lstrip('/')}"

    def start(self) -> None:
        """Start listening; returns once the port is bound. Raises InputError when it cannot listen."""
        if self._thread is not None:
            raise RuntimeError("LinkProxy already started")
        self._thread = threading.Thread(target=self._run, name=f"link-proxy-{self.upstream[1]}", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            raise TargetError(f"the link proxy did not start within {_START_TIMEOUT_S:.0f} s")
        if self._error is not None:
            self._thread.join(_START_TIMEOUT_S)
            raise InputError(
                f"cannot listen on {self.listen_host}:{self.port}: {self._error}",
                hint="choose a free port, or 0 to let the system pick one",
            ) from self._error

    def stop(self, timeout: float = 10.0) -> None:
        """Reset every open connection, stop listening and end the thread."""
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if thread is None or loop is None or stopping is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)

    def set_up(self, up: bool) -> None:
        """Bring the link up or down (see the module docstring for what happens to connections)."""
        self._call(self._engine.set_up, up)

    @property
    def is_up(self) -> bool:
        return self._engine.snapshot().up

    def stats(self) -> LinkStats:
        """Counters so far: bytes each way, connections, chunks delayed, resets, stalls, refusals."""
        return self._engine.snapshot()

    def _call(self, fn: Callable[[bool], None], arg: bool) -> None:
        loop = self._loop
        if loop is None or self._thread is None or not self._thread.is_alive():
            raise RuntimeError("LinkProxy is not running; use it as a context manager or call start()")

        async def call() -> None:
            fn(arg)

        asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=_START_TIMEOUT_S)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        try:
            self.port = await self._engine.start(self.listen_host, self.port)
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stopping.wait()
        await self._engine.stop()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
