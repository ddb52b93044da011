"""LinkProxy between real clients and real servers on 127.0.0.1: shaping, delay, outages, faults, integrity.

Timings are asserted only as lower bounds (a slow machine can make a transfer slower, never faster).
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from mlway.sim.link import LinkProfile, LinkProxy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.accepted += 1  # type: ignore[attr-defined]
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:
            pass


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    accepted = 0


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def upstream(server: socketserver.TCPServer) -> tuple[str, int]:
    return "127.0.0.1", int(server.server_address[1])


def roundtrip(port: int, data: bytes, timeout: float = 30.0) -> bytes:
    """Send everything, half-close, read the echo until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        got = bytearray()
        while chunk := sock.recv(65536):
            got += chunk
        return bytes(got)


def outcome(port: int, data: bytes, timeout: float) -> str:
    """What a client sees: 'ok', 'reset', 'short' (closed early) or 'silent' (nothing until the deadline)."""
    try:
        got = roundtrip(port, data, timeout)
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "silent"
    except BrokenPipeError:
        return "reset"
    except OSError as exc:  # the reset can land before shutdown(SHUT_WR): ENOTCONN there
        if exc.errno == errno.ENOTCONN:
            return "reset"
        raise
    return "ok" if got == data else "short"


def timed(fn: Callable[[], object]) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


# --- bandwidth and latency: lower bounds only ---------------------------------------------------------------


def test_upload_takes_at_least_its_bits_over_the_bandwidth(echo: EchoServer) -> None:
    data = os.urandom(4000)
    with LinkProxy(upstream(echo), LinkProfile(up_bps=32_000)) as link:
        elapsed = timed(lambda: roundtrip(link.port, data))
        assert link.stats().bytes_up == len(data)
    assert elapsed >= len(data) * 8 / 32_000 * 0.99  # 1.0 s


def test_download_takes_at_least_its_bits_over_the_bandwidth(echo: EchoServer) -> None:
    data = os.urandom(4000)
    with LinkProxy(upstream(echo), LinkProfile(down_bps=32_000)) as link:
        elapsed = timed(lambda: roundtrip(link.port, data))
        assert link.stats().bytes_down == len(data)
    assert elapsed >= len(data) * 8 / 32_000 * 0.99


def test_connections_share_one_link(echo: EchoServer) -> None:
    """Two uploads at once take as long as one of their combined size: one radio, not one per connection."""
    parts = [os.urandom(2000), os.urandom(2000)]
    with LinkProxy(upstream(echo), LinkProfile(up_bps=32_000)) as link, ThreadPoolExecutor(2) as pool:
        start = time.monotonic()
        results = list(pool.map(lambda d: roundtrip(link.port, d), parts))
        elapsed = time.monotonic() - start
        assert link.stats().connections == 2
    assert results == parts
    assert elapsed >= 4000 * 8 / 32_000 * 0.99


def test_latency_is_added_each_way(echo: EchoServer) -> None:
    with LinkProxy(upstream(echo), LinkProfile(latency_min_s=0.25, latency_max_s=0.25)) as link:
        elapsed = timed(lambda: roundtrip(link.port, b"ping"))
        stats = link.stats()
    assert elapsed >= 0.5 * 0.99
    assert stats.chunks_delayed == stats.chunks == 2


# --- outages ----------------------------------------------------------------------------------------------------


def test_down_refuse_resets_open_and_new_connections(echo: EchoServer) -> None:
    with LinkProxy(upstream(echo), LinkProfile(down_mode="refuse")) as link:
        with socket.create_connection(("127.0.0.1", link.port), timeout=5) as open_conn:
            open_conn.sendall(b"before")
            assert open_conn.recv(100) == b"before"
            link.set_up(False)
            assert not link.is_up
            with pytest.raises(ConnectionResetError):
                open_conn.recv(100)
        accepted = echo.accepted
        assert outcome(link.port, b"while down", timeout=5) == "reset"
        assert echo.accepted == accepted  # the upstream never saw the refused connection
        link.set_up(True)
        assert roundtrip(link.port, b"after") == b"after"
        stats = link.stats()
    assert (stats.refused, stats.dropped, stats.transitions, stats.connections) == (1, 1, 2, 3)


def test_down_blackhole_keeps_connections_silent(echo: EchoServer) -> None:
    with LinkProxy(upstream(echo), LinkProfile(down_mode="blackhole")) as link:
        with socket.create_connection(("127.0.0.1", link.port), timeout=0.5) as open_conn:
            open_conn.sendall(b"before")
            assert open_conn.recv(100) == b"before"
            link.set_up(False)
            open_conn.sendall(b"lost")
            with pytest.raises(TimeoutError):
                open_conn.recv(100)
            assert outcome(link.port, b"while down", timeout=0.5) == "silent"
            link.set_up(True)
            open_conn.sendall(b"still lost")
            with pytest.raises(TimeoutError):
                open_conn.recv(100)  # a silenced connection stays silent: the client must give up on it
            assert roundtrip(link.port, b"new one") == b"new one"
        stats = link.stats()
    assert (stats.blackholed, stats.dropped, stats.refused) == (2, 1, 0)


def test_stopping_with_a_silenced_connection_open_logs_no_error(
    echo: EchoServer, caplog: pytest.LogCaptureFixture
) -> None:
    with LinkProxy(upstream(echo), LinkProfile(down_mode="blackhole")) as link:
        open_conn = socket.create_connection(("127.0.0.1", link.port), timeout=0.5)
        open_conn.sendall(b"before")
        assert open_conn.recv(100) == b"before"
        link.set_up(False)  # the connection hangs, as a 2G link that lost its carrier
    open_conn.close()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


def test_schedule_brings_the_link_down_and_up(echo: EchoServer) -> None:
    def wait_for(state: bool) -> None:
        deadline = time.monotonic() + 5
        while link.is_up != state:
            assert time.monotonic() < deadline, f"the link never went {'up' if state else 'down'}"
            time.sleep(0.02)

    with LinkProxy(upstream(echo), LinkProfile(schedule=[(0.4, 0.4)])) as link:
        assert link.is_up
        wait_for(False)
        assert outcome(link.port, b"x", timeout=5) == "reset"
        wait_for(True)
        assert roundtrip(link.port, b"y") == b"y"
        assert link.stats().transitions >= 2


def test_an_unreachable_upstream_resets_the_client() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with LinkProxy(("127.0.0.1", closed_port), LinkProfile()) as link:
        assert outcome(link.port, b"x", timeout=5) == "reset"
        assert link.stats().upstream_failures == 1


# --- seeded faults ----------------------------------------------------------------------------------------------


def _outcomes(echo: EchoServer, profile: LinkProfile, connections: int, size: int, timeout: float) -> list[str]:
    data = os.urandom(size)
    with LinkProxy(upstream(echo), profile) as link:
        seen = [outcome(link.port, data, timeout) for _ in range(connections)]
        stats = link.stats()
    assert stats.resets == seen.count("reset") + seen.count("short")
    assert stats.stalls == seen.count("silent")
    return seen


def test_resets_strike_at_the_configured_rate_and_repeat_with_the_seed(echo: EchoServer) -> None:
    profile = LinkProfile(reset_per_kb=0.05, seed=11)
    first = _outcomes(echo, profile, connections=30, size=4096, timeout=5)
    again = _outcomes(echo, profile, connections=30, size=4096, timeout=5)
    other = _outcomes(echo, profile.model_copy(update={"seed": 12}), connections=30, size=4096, timeout=5)
    failed = sum(o != "ok" for o in first)
    # 8 KiB carried per connection (4 KiB each way): P(reset) = 1 - 0.95**8 = 0.34, ~10 of 30
    assert 3 <= failed <= 20, first
    assert "silent" not in first
    assert first == again
    assert first != other


def test_stalls_leave_connections_silent(echo: EchoServer) -> None:
    seen = _outcomes(echo, LinkProfile(stall_per_kb=0.3, seed=5), connections=4, size=4096, timeout=0.5)
    assert "silent" in seen  # P(stall) per connection = 1 - 0.7**8 = 0.94
    assert set(seen) <= {"silent", "ok"}


# --- integrity --------------------------------------------------------------------------------------------------


class _Http(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(body[::-1], hashlib.sha256(body).hexdigest())

    def do_GET(self) -> None:
        size = int(self.path.rsplit("/", 1)[1])
        body = hashlib.shake_256(self.path.encode()).digest(size)
        self._reply(body, hashlib.sha256(body).hexdigest())

    def _reply(self, body: bytes, digest: str) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Sha256", digest)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Http)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_http_bodies_cross_intact_and_in_order(http_server: ThreadingHTTPServer) -> None:
    """Small chunks with random per-chunk delays, several keep-alive connections at once: no byte changes."""
    profile = LinkProfile(latency_min_s=0.0, latency_max_s=0.02, chunk_bytes=64, seed=3)
    with LinkProxy(upstream(http_server), profile) as link, httpx.Client(base_url=link.url_for("/"), timeout=30) as web:

        def exchange(n: int) -> None:
            body = os.urandom(20_000 + n)
            reply = web.post("/echo", content=body)
            assert reply.headers["x-sha256"] == hashlib.sha256(body).hexdigest()
            assert reply.content == body[::-1]
            got = web.get(f"/blob/{50_000 + n}")
            assert hashlib.sha256(got.content).hexdigest() == got.headers["x-sha256"]
            assert len(got.content) == 50_000 + n

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(exchange, range(12)))
        stats = link.stats()
    assert stats.bytes_up > 12 * 20_000
    assert stats.bytes_down > 12 * 70_000
    assert stats.chunks_delayed > 0
    assert stats.resets == 0


def test_a_2g_link_carries_bytes_unchanged(echo: EchoServer) -> None:
    parts = [os.urandom(700) for _ in range(3)]
    with LinkProxy(upstream(echo), LinkProfile.gsm_2g(reset_per_kb=0, stall_per_kb=0, seed=1)) as link:
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(lambda d: roundtrip(link.port, d), parts))
        assert link.stats().bytes_up == link.stats().bytes_down == 2100
    assert results == parts


def test_listening_on_a_taken_port_names_the_fix(echo: EchoServer) -> None:
    from mlway.core.errors import InputError  # noqa: PLC0415

    with pytest.raises(InputError, match="cannot listen") as info:
        LinkProxy(upstream(echo), LinkProfile(), listen_port=upstream(echo)[1]).start()
    assert info.value.hint is not None
    assert "free port" in info.value.hint
