"""Progress of a run as it happens: a protocol the runner reports to, and a rich live display."""

from __future__ import annotations

import time
from collections import deque
from typing import Protocol

from rich.console import Console
from rich.live import Live
from rich.table import Table

from mlway.bench.records import RequestRecord
from mlway.core.units import format_duration


class Progress(Protocol):
    """What the runner tells whoever watches."""

    def start_point(self, label: str, total: int | None, duration: float | None) -> None: ...
    def record(self, record: RequestRecord) -> None: ...
    def end_point(self) -> None: ...
    def note(self, message: str) -> None: ...


class SilentProgress:
    """Reports nothing (library use, tests)."""

    def start_point(self, label: str, total: int | None, duration: float | None) -> None:
        pass

    def record(self, record: RequestRecord) -> None:
        pass

    def end_point(self) -> None:
        pass

    def note(self, message: str) -> None:
        pass


class LiveProgress:
    """A rich live line per point: requests done, rate, errors and latency so far."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Live | None = None
        self._ttft: deque[float] = deque(maxlen=512)
        self._e2e: deque[float] = deque(maxlen=512)

    def start_point(self, label: str, total: int | None, duration: float | None) -> None:
        self.label, self.total, self.duration = label, total, duration
        self.done = self.errors = 0
        self.started = time.perf_counter()
        self._ttft.clear()
        self._e2e.clear()
        self._live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
        self._live.start()

    def record(self, record: RequestRecord) -> None:
        self.done += 1
        if record.error_kind is not None:
            self.errors += 1
        elif record.first_content_at is not None:
            self._ttft.append(record.first_content_at - record.sent_at)
            self._e2e.append(record.end_at - record.sent_at)
        if self._live is not None and self.done % 16 == 0:
            self._live.update(self._render())

    def end_point(self) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
            self._live = None

    def note(self, message: str) -> None:
        self.console.print(message, highlight=False)

    def _render(self) -> Table:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        table = Table.grid(padding=(0, 2))
        goal = f"/{self.total}" if self.total else ""
        if self.duration:
            goal += f" ({elapsed:.0f}/{self.duration:.0f} s)"
        ttft = sorted(self._ttft)
        e2e = sorted(self._e2e)
        p50 = format_duration(ttft[len(ttft) // 2]) if ttft else "-"
        e50 = format_duration(e2e[len(e2e) // 2]) if e2e else "-"
        table.add_row(
            f"[bold]{self.label}[/]",
            f"{self.done}{goal} requests",
            f"{self.done / elapsed:.1f} req/s",
            f"[red]{self.errors} errors[/]" if self.errors else "0 errors",
            f"TTFT p50 {p50}",
            f"E2E p50 {e50}",
        )
        return table
