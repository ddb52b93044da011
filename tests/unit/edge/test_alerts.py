"""Urgent alerts: a real HTTP webhook server on 127.0.0.1, a real command, failures counted and named."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlway.edge.alerts import Alerter
from mlway.edge.config import AlertsConfig

EVENT: dict[str, Any] = {"event_id": "auger/unloading_failure/abc", "label": "unloading_failure", "source": "auger",
                         "confidence": 0.93, "unsure": False}  # fmt: skip


class Hook:
    """A webhook receiver on a free port: records bodies, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = status
        self.got = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                self.send_response(hook.status)
                self.end_headers()
                hook.got.set()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alert"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def test_the_webhook_receives_the_event_and_the_latency_is_recorded(hook: Hook) -> None:
    alerter = Alerter(AlertsConfig(webhook=hook.url, log=False))
    alerter.start()
    alerter.fire(EVENT, time.monotonic())
    alerter.stop(5)
    assert hook.bodies == [EVENT]
    assert (alerter.fired, alerter.delivered, alerter.failed) == (1, 1, 0)
    [result] = alerter.results
    assert result.ok
    assert result.sink == "webhook"
    assert result.latency_s > 0


def test_the_command_gets_the_event_on_stdin_and_in_its_environment(tmp_path: Path) -> None:
    out = tmp_path / "alert.json"
    script = ("import json, os, sys; e = json.load(sys.stdin); "
              f"e['env'] = os.environ['MLWAY_EVENT_LABEL']; open({str(out)!r}, 'w').write(json.dumps(e))")  # fmt: skip
    alerter = Alerter(AlertsConfig(command=[sys.executable, "-c", script], log=False))
    alerter.start()
    alerter.fire(EVENT, time.monotonic())
    alerter.stop(5)
    deadline = time.monotonic() + 10
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    got = json.loads(out.read_text())
    assert got["event_id"] == EVENT["event_id"]
    assert got["env"] == "unloading_failure"
    assert alerter.delivered == 1


def test_a_failing_webhook_is_retried_then_counted_as_failed_with_the_reason() -> None:
    hook = Hook(status=500)
    try:
        alerter = Alerter(AlertsConfig(webhook=hook.url, log=False, retries=2))
        alerter.start()
        alerter.fire(EVENT, time.monotonic())
        alerter.stop(10)
    finally:
        hook.close()
    assert len(hook.bodies) == 3
    assert (alerter.delivered, alerter.failed) == (0, 1)
    [result] = alerter.results
    assert not result.ok
    assert "answered 500" in (result.error or "")


def test_an_unreachable_webhook_does_not_delay_the_other_sinks(tmp_path: Path) -> None:
    out = tmp_path / "ran"
    alerter = Alerter(AlertsConfig(webhook="http://127.0.0.1:9/alert", retries=0, timeout_s=1, log=True,
                                   command=[sys.executable, "-c", f"open({str(out)!r}, 'w').write('x')"]))  # fmt: skip
    alerter.start()
    alerter.fire(EVENT, time.monotonic())
    alerter.stop(5)
    by_sink = {r.sink: r for r in alerter.results}
    assert by_sink["log"].ok
    assert by_sink["command"].ok
    assert not by_sink["webhook"].ok
    assert "127.0.0.1:9" in (by_sink["webhook"].error or "")


def test_a_command_that_cannot_start_is_reported() -> None:
    alerter = Alerter(AlertsConfig(command=["/nonexistent/buzzer"], log=False))
    alerter.start()
    alerter.fire(EVENT, time.monotonic())
    alerter.stop(5)
    [result] = alerter.results
    assert not result.ok
    assert "cannot run /nonexistent/buzzer" in (result.error or "")
