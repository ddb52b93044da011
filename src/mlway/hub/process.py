"""The hub as a child process: ``mlway hub start`` on 127.0.0.1 with its database, ready when /healthz answers.

    with start_hub(Path("run/hub.db")) as hub:   # a free port, kept across restarts
        token = hub.add_device("combine-07")
        hub.kill()          # SIGKILL, as a power cut would
        hub.restart()       # same port, same database; waits for /healthz

``mlway demo`` runs its hub this way, and so do the tests and benchmarks. The hub's output goes to
``hub.log_path`` (next to the database); a hub that exits or does not answer /healthz within
``ready_timeout_s`` raises RuntimeError with the log's tail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from mlway.hub.store import HubStore

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class RunningHub:
    """A hub subprocess. ``url`` is ``http://127.0.0.1:PORT``."""

    def __init__(self, data: Path, port: int, *, ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        self.data = Path(data)
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = self.data.with_name(self.data.name + f".hub-{self.port}.log")
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"the hub on {self.url} is already running")
        command = [sys.executable, "-m", "mlway", "hub", "start", "--data", str(self.data)]
        command += ["--host", HOST, "--port", str(self.port)]
        env = os.environ | {"NO_COLOR": "1", "COLUMNS": "200"}
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts + 1}: {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
                command, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        self.starts += 1
        self._wait_ready()

    def _tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(f"mlway hub start exited with {code}:\n{self._tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:  # noqa: S310 - our URL
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(
            f"the hub did not answer {self.url}/healthz within {self.ready_timeout_s} s:\n{self._tail()}"
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def add_device(self, name: str) -> str:
        """Register a device in the hub's database (as ``mlway hub device add`` does) and return its token."""
        with HubStore.open(self.data) as store:
            return store.add_device(name)

    def revoke_device(self, name: str) -> None:
        with HubStore.open(self.data) as store:
            store.revoke_device(name)

    def stop(self) -> None:
        """SIGTERM (graceful: in-flight requests finish), then SIGKILL past STOP_TIMEOUT_S."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the hub dies at once, mid-request if one is running, as on a power cut."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(STOP_TIMEOUT_S)
        self.process = None

    def restart(self) -> None:
        """Stop if still running (gracefully), then start again on the same port and database."""
        self.stop()
        self.start()


@contextlib.contextmanager
def start_hub(data: Path, port: int = 0, *, ready_timeout_s: float = READY_TIMEOUT_S) -> Iterator[RunningHub]:
    """A running hub on 127.0.0.1 (``port`` 0: a free one, kept across restarts), stopped on exit."""
    hub = RunningHub(data, port, ready_timeout_s=ready_timeout_s)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()
