"""One client connection through the emulated link: two shaped, delayed pipes and the faults injected into them.

Each direction reads at most ``chunk_bytes``, waits for its turn on the direction's shared pacer (the
radio's serialisation time), then is delivered after a latency drawn per chunk, never before the chunk
ahead of it, so bytes stay in order. Faults strike at a byte offset drawn once per connection from its
own seeded random stream, so connection n of a seeded profile fails at the same byte on every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import struct
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from mlway.sim.link_engine import LinkEngine

Direction = Literal["up", "down"]
BLACK_HOLE_HOLD_S = 600.0  # a silenced connection is held this long after the client's FIN (a half-close looks alike)
_Chunk = tuple[float, bytes] | None


def fault_offset(rng: random.Random, per_kb: float) -> float:
    """Bytes carried before a fault that strikes with probability ``per_kb`` per KiB (geometric in KiB)."""
    if per_kb <= 0:
        return math.inf
    return 1024.0 * math.log(1.0 - rng.random()) / math.log(1.0 - per_kb)


def abort_with_reset(writer: asyncio.StreamWriter | None) -> None:
    """Close a socket with an RST (SO_LINGER 0) instead of a FIN, so the peer sees ECONNRESET."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class LinkConnection:
    """A client's connection: connects upstream, relays both ways, or black-holes when told."""

    def __init__(
        self, engine: LinkEngine, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.engine = engine
        self.profile = engine.profile
        self.rng = random.Random(f"{self.profile.seed}:{index}")
        self.reset_at = fault_offset(self.rng, self.profile.reset_per_kb)
        self.stall_at = fault_offset(self.rng, self.profile.stall_per_kb)
        self.carried = 0
        self.client = (reader, writer)
        self.upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.closed = False
        self.stalled = False
        self.pipes: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Serve the connection to its end: relayed, refused, reset or black-holed."""
        engine = self.engine
        if not engine.up:
            if self.profile.down_mode == "refuse":
                engine.count(refused=1)
                self.reset(injected=False)
                return
            engine.count(blackholed=1)
            self.stalled = True
        else:
            try:
                self.upstream = await asyncio.wait_for(
                    asyncio.open_connection(*engine.upstream), timeout=self.profile.connect_timeout_s
                )
            except (OSError, TimeoutError):
                engine.count(upstream_failures=1)
                self.reset(injected=False)
                return
            if self.closed:  # the link went down (refuse) while connecting
                abort_with_reset(self.upstream[1])
                return
            if not self.stalled:
                up = asyncio.create_task(self._pipe(self.client[0], self.upstream[1], "up"))
                down = asyncio.create_task(self._pipe(self.upstream[0], self.client[1], "down"))
                self.pipes = {up, down}
                await asyncio.gather(up, down, return_exceptions=True)
        if self.stalled and not self.closed:
            await self._black_hole()
        self.close()

    def reset(self, *, injected: bool) -> None:
        """Abort both sides with an RST and stop relaying."""
        if self.closed:
            return
        self.closed = True
        abort_with_reset(self.client[1])
        abort_with_reset(self.upstream[1] if self.upstream else None)
        self._cancel_pipes()
        if injected:
            self.engine.count(resets=1)

    def stall(self, *, injected: bool) -> None:
        """Stop carrying data either way, silently: reads are discarded until the client hangs up."""
        if self.closed or self.stalled:
            return
        self.stalled = True
        self._cancel_pipes()
        if injected:
            self.engine.count(stalls=1)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._cancel_pipes()
        for writer in (self.client[1], self.upstream[1] if self.upstream else None):
            if writer is not None:
                writer.close()

    def _cancel_pipes(self) -> None:
        current = asyncio.current_task()
        for task in self.pipes:
            if task is not current:
                task.cancel()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: Direction) -> None:
        loop = asyncio.get_running_loop()
        pacer = self.engine.pacers[direction]
        low, high = self.profile.latency_min_s, self.profile.latency_max_s
        # an unshaped direction has no timing to keep fine-grained: read big pieces
        read_size = self.profile.chunk_bytes if high > 0 or pacer.bps is not None else 65536
        queue: asyncio.Queue[_Chunk] = asyncio.Queue()
        deliver = asyncio.create_task(self._deliver(queue, dst, direction))
        last_at = 0.0
        try:
            while True:
                data = await src.read(read_size)
                if not data:
                    break
                self.carried += len(data)
                if self.carried >= self.reset_at:
                    self.reset(injected=True)
                    return
                if self.carried >= self.stall_at:
                    self.stall(injected=True)
                    return
                sent_at = pacer.reserve(len(data), loop.time())
                if sent_at > loop.time():
                    await asyncio.sleep(sent_at - loop.time())
                at = max(sent_at + (self.rng.uniform(low, high) if high > 0 else 0.0), last_at)
                last_at = at
                queue.put_nowait((at, data))
            queue.put_nowait(None)
            await deliver
        except OSError:  # the peer reset or vanished: pass the abort on to the other side
            self.reset(injected=False)
        finally:
            deliver.cancel()

    async def _deliver(self, queue: asyncio.Queue[_Chunk], dst: asyncio.StreamWriter, direction: Direction) -> None:
        loop = asyncio.get_running_loop()
        try:
            while (item := await queue.get()) is not None:
                at, data = item
                delayed = at > loop.time()
                if delayed:
                    await asyncio.sleep(at - loop.time())
                dst.write(data)
                await dst.drain()
                self.engine.count(chunks=1, chunks_delayed=int(delayed), **{f"bytes_{direction}": len(data)})
            if dst.can_write_eof():
                dst.write_eof()
        except OSError:
            self.reset(injected=False)

    async def _black_hole(self) -> None:
        """Swallow what either side sends and answer nothing, not even a FIN, until the client gives up.

        A client's FIN may be a half-close still waiting for an answer, so the socket is held open for
        ``BLACK_HOLE_HOLD_S`` after it (or until the proxy stops); the upstream's close is hidden too.
        """
        hidden = asyncio.create_task(self._discard(self.upstream[0])) if self.upstream else None
        try:
            await self._discard(self.client[0])
            await asyncio.sleep(BLACK_HOLE_HOLD_S)
        finally:
            if hidden is not None:
                hidden.cancel()

    @staticmethod
    async def _discard(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError):
            while await reader.read(65536):
                pass
