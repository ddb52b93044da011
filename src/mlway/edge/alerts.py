"""Local actions for urgent events, independent of any link: a command, an HTTP webhook on the device, a log line.

    alerter = Alerter(AlertsConfig(command=["/usr/bin/buzzer"], webhook="http://127.0.0.1:9000/alert"))
    alerter.start()
    alerter.fire(event_fields, frame_mono)   # returns at once; each sink works on its own thread
    alerter.stop(timeout=2)

Each sink has its own thread and queue, so a slow webhook never delays the command. The event goes to
a command as JSON on stdin and as ``MLWAY_EVENT_ID``, ``MLWAY_EVENT_LABEL``, ``MLWAY_EVENT_SOURCE``,
``MLWAY_EVENT_CONFIDENCE`` environment variables; the command is not waited for (a buzzer may run
long), its exit status is reported when it ends. A webhook gets the JSON in a POST and must answer
2xx within ``timeout_s``; it is retried ``retries`` times. Latency is measured from the decode of the
frame that confirmed the event to the action (command started, webhook answered, line logged).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Any

from mlway.edge.config import AlertsConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlertResult:
    event_id: str
    sink: str
    ok: bool
    latency_s: float
    """From the confirming frame's decode to the action (or to the failure)."""
    error: str | None = None


class Alerter:
    """Fires the configured sinks for each urgent event; ``results`` and counters for status and benchmarks."""

    def __init__(self, config: AlertsConfig, *, keep: int = 10_000) -> None:
        self.config = config
        self._queues: dict[str, queue.Queue[tuple[dict[str, Any], float] | None]] = {}
        if config.log:
            self._queues["log"] = queue.Queue()
        if config.command:
            self._queues["command"] = queue.Queue()
        if config.webhook:
            self._queues["webhook"] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.results: deque[AlertResult] = deque(maxlen=keep)
        self.fired = 0
        self.delivered = 0
        self.failed = 0

    @property
    def sinks(self) -> list[str]:
        return list(self._queues)

    def start(self) -> None:
        for name, q in self._queues.items():
            thread = threading.Thread(target=self._run, args=(name, q), name=f"mlway-alert-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (within ``timeout`` seconds overall), then stop the threads."""
        for q in self._queues.values():
            q.put(None)
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))

    def fire(self, event: dict[str, Any], frame_mono: float) -> None:
        with self._lock:
            self.fired += 1
        for q in self._queues.values():
            q.put((event, frame_mono))

    def latencies(self) -> list[float]:
        with self._lock:
            return [r.latency_s for r in self.results if r.ok]

    def _run(self, name: str, q: queue.Queue[tuple[dict[str, Any], float] | None]) -> None:
        while (item := q.get()) is not None:
            event, frame_mono = item
            try:
                error = getattr(self, f"_{name}")(event)
            except Exception as exc:  # noqa: BLE001 - an alert sink's failure is reported, never fatal
                error = f"{type(exc).__name__}: {exc}"
            result = AlertResult(str(event.get("event_id")), name, error is None, time.monotonic() - frame_mono, error)
            with self._lock:
                self.results.append(result)
                if error is None:
                    self.delivered += 1
                else:
                    self.failed += 1
            if error is not None:
                log.error("urgent alert %s via %s failed: %s", result.event_id, name, error)

    def _log(self, event: dict[str, Any]) -> str | None:
        log.warning("URGENT %s on %s (event %s, confidence %.2f%s)", event["label"], event["source"],
                    event["event_id"], event["confidence"], ", unsure" if event.get("unsure") else "")  # fmt: skip
        return None

    def _command(self, event: dict[str, Any]) -> str | None:
        argv = list(self.config.command or [])
        env = os.environ | {
            "MLWAY_EVENT_ID": str(event["event_id"]),
            "MLWAY_EVENT_LABEL": str(event["label"]),
            "MLWAY_EVENT_SOURCE": str(event["source"]),
            "MLWAY_EVENT_CONFIDENCE": f"{event['confidence']:.4f}",
        }
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)  # noqa: S603 - the operator's own command
        except OSError as exc:
            return f"cannot run {argv[0]}: {exc}"
        threading.Thread(target=self._finish, args=(process, json.dumps(event), event), daemon=True).start()
        return None

    def _finish(self, process: subprocess.Popen[bytes], body: str, event: dict[str, Any]) -> None:
        try:
            process.communicate(body.encode(), timeout=max(self.config.timeout_s, 30.0))
        except subprocess.TimeoutExpired:
            return  # still running (a long action): not an error
        except OSError as exc:  # closed stdin early
            log.debug("alert command stdin: %s", exc)
            process.wait()
        if process.returncode:
            log.error("urgent alert command %s for event %s exited with %s",
                      self.config.command, event["event_id"], process.returncode)  # fmt: skip

    def _webhook(self, event: dict[str, Any]) -> str | None:
        url = str(self.config.webhook)
        body = json.dumps(event).encode()
        error = None
        for _attempt in range(self.config.retries + 1):
            request = urllib.request.Request(  # noqa: S310 - http(s) only, validated
                url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:  # noqa: S310 - http(s) only, validated
                    if 200 <= response.status < 300:
                        return None
                    error = f"{url} answered {response.status}"
            except urllib.error.HTTPError as exc:
                error = f"{url} answered {exc.code}"
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                error = f"{url}: {getattr(exc, 'reason', exc)} (timeout_s={self.config.timeout_s:g})"
        return error
