"""Running the simulated server: in this process (blocking) or as a separate process (tests).

``spawn_sim_server`` starts ``python -m mlway.bench.simserver`` with the config on stdin (so an API
key never shows in ``ps``), waits for the one line the child prints on stdout once it listens
(:data:`READY_PREFIX` + base URL), and stops the child on exit: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from aiohttp import web

from mlway.bench.simserver.app import build_app
from mlway.bench.simserver.config import SimServerConfig
from mlway.core.errors import InputError, TargetError

READY_PREFIX = "mlway-sim-server ready "
SHUTDOWN_TIMEOUT = 2.0
"""Seconds open streams get to finish when the server stops."""


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up
    except ImportError:
        return None
    return uvloop.new_event_loop


def _base_url(host: str, port: int) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    return f"http://[{host}]:{port}/v1" if ":" in host else f"http://{host}:{port}/v1"


async def serve_sim(
    config: SimServerConfig, host: str, port: int, *, on_ready: Callable[[str], None] | None = None
) -> None:
    """Serve until SIGINT or SIGTERM; ``on_ready`` gets the base URL (``.../v1``) once listening."""
    runner = web.AppRunner(build_app(config), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, shutdown_timeout=SHUTDOWN_TIMEOUT, backlog=1024)
        try:
            await site.start()
        except OSError as exc:
            raise InputError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint="choose another --port"
            ) from exc
        bound = runner.addresses[0][1]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows
                loop.add_signal_handler(signum, stop.set)
        if on_ready is not None:
            on_ready(_base_url(host, bound))
        await stop.wait()
    finally:
        await runner.cleanup()


def run_sim_server(
    config: SimServerConfig,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``config`` on ``host:port`` until SIGINT or SIGTERM (uvloop when installed)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve_sim(config, host, port, on_ready=on_ready))


@contextlib.contextmanager
def spawn_sim_server(
    config: SimServerConfig,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    ready_timeout: float = 30.0,
    stop_timeout: float = 5.0,
    cpus: Iterable[int] | None = None,
) -> Iterator[str]:
    """Run the sim in a child process; yields its base URL, ending in ``/v1``.

    ``port=None`` lets the OS pick a free port. ``cpus`` pins the child to those CPU cores (Linux).
    """
    command = [sys.executable, "-m", "mlway.bench.simserver", "--config-json", "-", "--host", host]
    command += ["--port", str(port or 0)]
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)  # noqa: S603
        try:
            assert process.stdin is not None
            assert process.stdout is not None
            if cpus is not None:
                os.sched_setaffinity(process.pid, set(cpus))
            with contextlib.suppress(BrokenPipeError):  # a child that died is reported below
                process.stdin.write(config.model_dump_json().encode())
                process.stdin.close()
            yield _wait_ready(process, process.stdout, stderr, ready_timeout)
        finally:
            _stop(process, stop_timeout)


def _wait_ready(process: subprocess.Popen[bytes], stdout: IO[bytes], stderr: IO[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while b"\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TargetError(
                    f"the sim server did not become ready within {timeout:g} s",
                    hint="pass a larger ready_timeout to spawn_sim_server on a slow or busy machine",
                )
            if not selector.select(remaining):
                continue
            data = os.read(stdout.fileno(), 4096)
            if not data:
                raise TargetError(_exit_message(process, stderr))
            received += data
    line = received.split(b"\n", 1)[0].decode(errors="replace")
    if not line.startswith(READY_PREFIX):
        raise TargetError(f"the sim server printed {line!r} instead of its ready line")
    return line.removeprefix(READY_PREFIX)


def _exit_message(process: subprocess.Popen[bytes], stderr: IO[bytes]) -> str:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    stderr.seek(0)
    tail = stderr.read()[-2000:].decode(errors="replace").strip()
    return f"the sim server exited before it was ready (exit code {process.returncode}): {tail}"


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
    if process.stdout is not None:
        process.stdout.close()
