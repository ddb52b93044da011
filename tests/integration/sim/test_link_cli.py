"""`mlway sim link` as a user runs it: a real proxy process in front of a real TCP server."""

from __future__ import annotations

import os
import re
import signal
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:
            pass


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join(5)


ENV = os.environ | {"COLUMNS": "200", "NO_COLOR": "1"}


def mlway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlway", "sim", "link", *args], capture_output=True, text=True,
                          timeout=60, env=ENV, check=False)  # fmt: skip


def test_link_relays_and_prints_its_counters(echo_port: int) -> None:
    args = ["--listen", "127.0.0.1:0", "--to", f"127.0.0.1:{echo_port}", "--profile", "2g", "--kbps", "64",
            "--latency", "10ms-50ms", "--reset-rate", "0", "--stall-rate", "0", "--stats-every", "0"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "mlway", "sim", "link", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)  # fmt: skip
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert "64 kbit/s up, 64 kbit/s down" in header, header
        assert "latency 10-50 ms" in header, header
        listening = proc.stdout.readline()
        assert listening.startswith("listening on 127.0.0.1:"), listening
        port = int(listening.rsplit(":", 1)[1])
        data = os.urandom(3000)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            got = bytearray()
            while chunk := sock.recv(65536):
                got += chunk
        assert bytes(got) == data
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    # the proxy may not have seen the client's close yet when SIGINT lands: "(0 open)" or "(1 open)"
    assert re.search(r"final: up: 1 connections \([01] open\), 3000 B up, 3000 B down", out), out


def test_link_stops_after_its_duration(echo_port: int) -> None:
    done = mlway("--listen", "127.0.0.1:0", "--to", f"127.0.0.1:{echo_port}", "--profile", "perfect",
                 "--duration", "300ms", "--schedule", "10s-up,5s-down")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "schedule 10s-up,5s-down" in done.stdout
    assert "final: up: 0 connections" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--latency", "1s-300ms"], "invalid latency '1s-300ms'"),
        (["--profile", "3g"], "unknown link profile '3g'"),
    ],
)
def test_bad_values_exit_2_with_the_fix(args: list[str], message: str) -> None:
    done = mlway(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "hint:" in done.stderr
