"""The uplink: a thread that drains the outbox to the hub, and sends heartbeats.

    uploader = Uploader(outbox, UplinkConfig(url="http://hub:8700", token="...", device_id="combine-07"),
                        heartbeat=agent.heartbeat)
    uploader.start()
    uploader.status()        # UplinkStatus(connected, last_ok_wall, last_error, sent_batches, ...)
    uploader.stop(5.0)

What it does, in a loop:

- a heartbeat (``POST /v1/heartbeat``, from the ``heartbeat`` callable) first, on every reconnect and
  every ``heartbeat_s``;
- a batch of the oldest records (at most ``batch_records`` and ``batch_bytes`` of JSON), sent as one
  gzip-compressed JSON body (``Content-Encoding: gzip``; ``gzip_level: 0`` sends it plain) to
  ``POST /v1/ingest``. The hub stores each ``(device_id, seq)`` once and acknowledges after its commit;
  the uploader then deletes exactly the acknowledged sequence numbers from the outbox. A batch lost in
  flight (timeout, reset, hub killed) is simply sent again: the hub acknowledges the records it already
  has as duplicates. The outbox is the only state, so a restarted device resumes where the hub's
  acknowledgements left it;
- between failures, exponential backoff with full jitter (``backoff_base_s`` .. ``backoff_max_s``);
- with ``max_bytes_per_s``, a token bucket on the compressed bodies it sends;
- 401/403: the token is wrong or revoked, or the device id is not the token's. Retrying fast cannot
  help: the fault is reported (``status().auth_failed``, ``last_error``) and the uploader retries only
  every ``auth_retry_s``; the records stay in the outbox;
- 413 or a timeout: the batch is halved (down to one record), then grows back by 1/8 per success, so
  a link slower than ``batch_records`` per ``timeout_s`` still drains; other 4xx: reported, retried
  with backoff (the records stay: an outbox never drops data because a hub refused it).

Every wait has a deadline: connect, read, write and pool timeouts (``connect_timeout_s``, ``timeout_s``),
every sleep wakes on ``stop()``, and ``stop(timeout)`` joins within its timeout.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx
from pydantic import Field, ValidationError

from mlway.core.model import StrictModel
from mlway.core.wire import MAX_BATCH_RECORDS, DeviceId, Heartbeat, HeartbeatAck, IngestAck
from mlway.edge.backoff import Backoff, TokenBucket
from mlway.edge.outbox import Outbox

log = logging.getLogger(__name__)


class UplinkConfig(StrictModel):
    """Where and how the device uploads (the agent config's ``hub:`` section)."""

    url: str = Field(
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="The hub's base URL, e.g. http://hub.example:8700 (the /v1/... paths are appended).",
    )
    token: str = Field(min_length=1, max_length=512, repr=False, description="This device's hub token.")
    device_id: DeviceId
    batch_records: int = Field(default=200, ge=1, le=MAX_BATCH_RECORDS, description="Most records per batch.")
    batch_bytes: int = Field(
        default=256 * 1024, ge=1024, le=64 * 2**20, description="Most bytes of JSON per batch, before gzip."
    )
    max_bytes_per_s: float | None = Field(
        default=None, gt=0, description="Average upload bandwidth cap in bytes/s of compressed body (none: no cap)."
    )
    timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="Deadline of each read and write of a request (seconds)."
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, le=600, description="Deadline to connect (seconds).")
    backoff_base_s: float = Field(default=1.0, gt=0, le=3600, description="First retry delay ceiling (seconds).")
    backoff_max_s: float = Field(default=300.0, gt=0, le=86400, description="Largest retry delay (seconds).")
    heartbeat_s: float = Field(default=60.0, gt=0, le=86400, description="Heartbeat period (seconds).")
    poll_s: float = Field(default=1.0, gt=0, le=3600, description="How often an empty outbox is checked again.")
    gzip_level: int = Field(
        default=6, ge=0, le=9, description="gzip level of request bodies; 0 sends plain JSON (fast local links)."
    )
    auth_retry_s: float = Field(
        default=600.0, gt=0, le=86400, description="Retry period after the hub refused the token (401/403)."
    )


@dataclass(frozen=True, slots=True)
class UplinkStatus:
    connected: bool
    last_ok_wall: float | None
    last_error: str
    sent_batches: int
    sent_bytes: int
    acked_records: int
    auth_failed: bool = False
    heartbeats: int = 0
    duplicates: int = 0
    """Records the hub already had (a batch resent after a lost acknowledgement)."""
    raw_bytes: int = 0
    """JSON bytes of the batches before compression."""
    hub_wall_offset_s: float | None = None
    """Hub clock minus device wall clock at the last heartbeat (for a device whose clock is unset)."""


class _AuthError(Exception):
    pass


class _RefusedError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"hub answered {status}: {text}")
        self.status = status


class Uploader:
    """See the module docstring."""

    def __init__(
        self,
        outbox: Outbox,
        config: UplinkConfig,
        heartbeat: Callable[[], Heartbeat] | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.outbox = outbox
        self.config = config
        self._heartbeat = heartbeat
        self._transport = transport
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = UplinkStatus(False, None, "", 0, 0, 0)
        self._backoff = Backoff(config.backoff_base_s, max(config.backoff_max_s, config.backoff_base_s))
        self._bucket = TokenBucket(config.max_bytes_per_s) if config.max_bytes_per_s else None
        self._batch_limit = config.batch_records
        self._next_heartbeat = 0.0
        self._beat_on_connect = True
        self._base = config.url.rstrip("/")

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"uplink-{self.config.device_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop and join within ``timeout`` seconds; True if the thread ended (it is a daemon either way)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def notify(self) -> None:
        """Wake the uploader now (new records), instead of at its next poll."""
        self._wake.set()

    def status(self) -> UplinkStatus:
        with self._lock:
            return self._status

    # ---- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        timeout = httpx.Timeout(self.config.timeout_s, connect=self.config.connect_timeout_s)
        headers = {"Authorization": f"Bearer {self.config.token}", "User-Agent": "mlway-edge"}
        with httpx.Client(timeout=timeout, headers=headers, transport=self._transport) as client:
            while not self._stop.is_set():
                try:
                    idle = self._step(client)
                except _AuthError as exc:
                    self._failed(str(exc), auth=True)
                    self._sleep(self.config.auth_retry_s)
                    continue
                except (httpx.HTTPError, _RefusedError, OSError, ValueError) as exc:
                    self._failed(_describe(exc))
                    self._sleep(self._backoff.next_delay())
                    continue
                except Exception as exc:  # the thread must survive anything: report and back off
                    log.exception("uplink: unexpected error")
                    self._failed(f"unexpected error: {exc!r}")
                    self._sleep(self._backoff.next_delay())
                    continue
                if idle:
                    self._sleep(self.config.poll_s)

    def _step(self, client: httpx.Client) -> bool:
        """One heartbeat and/or one batch; True when there was nothing to send."""
        if self._heartbeat is not None and (self._beat_on_connect or time.monotonic() >= self._next_heartbeat):
            self._beat_on_connect = False
            self._next_heartbeat = time.monotonic() + self.config.heartbeat_s
            try:
                self._send_heartbeat(client)
            except _RefusedError as exc:  # a heartbeat the hub refuses must not hold back the records
                log.warning("uplink: heartbeat refused: %s", exc)
        rows = self.outbox.pending_json(self._batch_limit, self.config.batch_bytes)
        if not rows:
            return True
        self._send_batch(client, rows)
        return False

    def _send_heartbeat(self, client: httpx.Client) -> None:
        assert self._heartbeat is not None
        try:
            beat = self._heartbeat()
        except Exception:  # the agent's callable: its failure must not stop the uplink
            log.exception("uplink: the heartbeat callable failed; heartbeat skipped")
            return
        body = self._encode(beat.model_dump_json().encode())
        response = self._post(client, "/v1/heartbeat", body)
        ack = HeartbeatAck.model_validate_json(response.content)
        with self._lock:
            self._status = replace(
                self._status,
                heartbeats=self._status.heartbeats + 1,
                hub_wall_offset_s=ack.hub_wall - time.time(),
            )
        self._ok()

    def _send_batch(self, client: httpx.Client, rows: list[tuple[int, str]]) -> None:
        raw = (
            '{"wire_version":1,"device_id":"'
            + self.config.device_id
            + '","records":['
            + ",".join(b for _, b in rows)
            + "]}"
        ).encode()
        body = self._encode(raw)
        try:
            response = self._post(client, "/v1/ingest", body)
        except _RefusedError as exc:
            if exc.status == 413:
                self._shrink(len(rows), "the hub refused it as too large")
            raise
        except httpx.TimeoutException:
            self._shrink(len(rows), "it timed out (a slow link)")
            raise
        ack = IngestAck.model_validate_json(response.content)
        sent = {seq for seq, _ in rows}
        acked = [seq for seq in ack.acked if seq in sent]
        self.outbox.ack(acked)
        if len(acked) < len(sent):
            log.warning("uplink: hub acknowledged %d of %d records; the rest is sent again", len(acked), len(sent))
        grow = max(1, self._batch_limit // 8)  # additive increase, multiplicative decrease (as TCP)
        self._batch_limit = min(self.config.batch_records, self._batch_limit + grow)
        with self._lock:
            s = self._status
            self._status = replace(
                s,
                sent_batches=s.sent_batches + 1,
                acked_records=s.acked_records + len(acked),
                duplicates=s.duplicates + ack.duplicates,
                raw_bytes=s.raw_bytes + len(raw),
            )
        self._ok()

    def _shrink(self, sent: int, why: str) -> None:
        if sent > 1:
            self._batch_limit = max(1, sent // 2)
            log.info("uplink: a batch of %d records failed because %s; next batches up to %d", sent, why, sent // 2)

    def _encode(self, raw: bytes) -> bytes:
        return gzip.compress(raw, self.config.gzip_level, mtime=0) if self.config.gzip_level else raw

    def _post(self, client: httpx.Client, path: str, body: bytes) -> httpx.Response:
        if self._bucket is not None:
            self._sleep(self._bucket.take(len(body)), interruptible=False)
        headers = {"Content-Type": "application/json"}
        if self.config.gzip_level:
            headers["Content-Encoding"] = "gzip"
        with self._lock:
            self._status = replace(self._status, sent_bytes=self._status.sent_bytes + len(body))
        response = client.post(self._base + path, content=body, headers=headers)
        if response.status_code in (401, 403):
            raise _AuthError(
                f"the hub refused this device's token ({response.status_code}: {_detail(response)}); "
                "check hub.token and device_id (mlway hub device add prints a token); records are kept"
            )
        if response.status_code >= 400:
            raise _RefusedError(response.status_code, _detail(response))
        return response

    # ---- bookkeeping ---------------------------------------------------------------------------

    def _ok(self) -> None:
        self._backoff.reset()
        with self._lock:
            was = self._status.connected
            self._status = replace(self._status, connected=True, last_ok_wall=time.time(), auth_failed=False)
        if not was:
            log.info("uplink: connected to %s", self._base)

    def _failed(self, error: str, *, auth: bool = False) -> None:
        self._beat_on_connect = True  # the next success is a reconnect: a heartbeat goes first
        with self._lock:
            was = self._status.connected
            self._status = replace(self._status, connected=False, last_error=error, auth_failed=auth)
        if was or auth:
            log.warning("uplink: %s", error)
        else:
            log.debug("uplink: %s", error)

    def _sleep(self, seconds: float, *, interruptible: bool = True) -> None:
        """Wait up to ``seconds``; ``stop()`` always ends it, ``notify()`` too when ``interruptible``."""
        deadline = time.monotonic() + max(0.0, seconds)
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if interruptible:
                if self._wake.wait(left):
                    self._wake.clear()
                    return
            else:
                self._stop.wait(left)


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        return str(data.get("detail") or data.get("error") or data)[:300]
    return str(data)[:300]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"hub timed out ({type(exc).__name__}); raise hub.timeout_s if the link is this slow"
    if isinstance(exc, httpx.HTTPError):
        return f"hub unreachable ({type(exc).__name__}: {exc})"
    if isinstance(exc, ValidationError):
        return f"hub answered something that is not a wire v1 acknowledgement: {exc}"
    return str(exc)
