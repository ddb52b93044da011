"""One record per request: the raw timestamps every bench statistic is computed from.

Times are seconds on the run's monotonic clock (``time.perf_counter()`` minus the run's start), so
they are comparable within a run; ``run.json`` stores the wall-clock time of that start.
Records are streamed to ``requests.jsonl`` as requests finish, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson

TokenSource = Literal["usage", "tokenizer", "chunks", "none"]

ERROR_KINDS = (
    "connect",  # the TCP/TLS connection could not be made
    "timeout",  # a phase deadline passed (connect, first byte, between chunks, total)
    "http_4xx",  # the server answered 4xx
    "http_5xx",  # the server answered 5xx
    "sse_malformed",  # the stream was not valid server-sent events / JSON
    "stream_error",  # the stream carried an error object or ended without [DONE]
    "disconnected",  # the server closed the connection mid-response
    "cancelled",  # the run stopped (duration over, Ctrl-C) before the request finished
    "other",
)


@dataclass(slots=True)
class RequestRecord:
    """What happened to one request, as measured by the client."""

    index: int
    """Position in the run's request sequence (0-based, warm-up included)."""
    warmup: bool
    """Warm-up requests are recorded but excluded from every statistic."""
    scheduled_at: float
    """When the load driver wanted the request sent (open loop: the arrival time; closed loop: when
    the user became free)."""
    sent_at: float = float("nan")
    """When the request's last byte was handed to the socket (after any client-side wait and the HTTP
    client's own work building it); a request that never got that far keeps the time it was started."""
    headers_at: float | None = None
    """When the response status line and headers arrived."""
    first_content_at: float | None = None
    """When the first chunk with non-empty generated text arrived (TTFT's end)."""
    end_at: float = float("nan")
    """When the response ended (the [DONE] event, the body's end, or the error)."""
    chunk_times: list[float] = field(default_factory=list)
    """Arrival time of every chunk that carried generated content, in order."""
    events: int = 0
    """Every SSE data event received, including role-only and usage-only ones."""
    input_tokens_target: int | None = None
    output_tokens_target: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_source: TokenSource = "none"
    """Where completion_tokens came from: the server's usage, the client's tokenizer, or chunk count."""
    status: int | None = None
    error_kind: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        return cls(**data)


class RecordWriter:
    """Appends records to a JSONL file as they complete (one line each, flushed in batches)."""

    def __init__(self, path: Path, *, flush_every: int = 256) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[bytes] = path.open("wb")
        self._pending = 0
        self._flush_every = flush_every
        self.count = 0

    def write(self, record: RequestRecord) -> None:
        self._file.write(record.to_json() + b"\n")
        self.count += 1
        self._pending += 1
        if self._pending >= self._flush_every:
            self._file.flush()
            self._pending = 0

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_records(path: Path) -> Iterator[RequestRecord]:
    """Stream records back from a ``requests.jsonl`` file."""
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield RequestRecord.from_dict(orjson.loads(line))
