"""Sources against real streams: a camera served over HTTP on 127.0.0.1 that stalls is reconnected (read
deadline), and the simulator's live stream runs as a camera."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlway.edge.config import CameraConfig
from mlway.edge.scheduler import Scheduler
from mlway.edge.sources import SourceRunner, open_source
from mlway.edge.sources.file import FileSource
from mlway.edge.testing import write_colour_video


class StallingCamera:
    """Serves an MPEG-TS stream, then keeps the connection open without sending more (a hung camera)."""

    def __init__(self, video: Path) -> None:
        self.payload = video.read_bytes()
        self.connections = 0
        self.closing = threading.Event()
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                camera.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.end_headers()
                self.wfile.write(camera.payload)
                self.wfile.flush()
                camera.closing.wait(30)  # stall: the stream neither continues nor ends

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/camera.ts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def camera(tmp_path: Path) -> Iterator[StallingCamera]:
    server = StallingCamera(write_colour_video(tmp_path / "camera.ts", [("green", 2)], fps=10))
    yield server
    server.closing.set()
    server.server.shutdown()
    server.server.server_close()


def test_a_stalled_network_camera_is_reconnected_and_reported(camera: StallingCamera) -> None:
    config = CameraConfig(name="header", source=camera.url, read_timeout_s=1.0, stall_s=3.0)
    scheduler = Scheduler([("header", None)], policy="round-robin", queue=1000)
    faults: list[str] = []
    runner = SourceRunner(config, scheduler.offer, opener=open_source, on_fault=faults.append, backoff_base_s=0.1)
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while (runner.restarts < 2 or camera.connections < 3) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
        runner.join(5)
    assert runner.restarts >= 2
    assert camera.connections >= 3
    assert scheduler.counters()["header"].frames_in >= 2 * 20  # frames came again after each reconnect
    assert faults[0].startswith("camera header: ")
    assert runner.state == "stopped"
    times = []
    while (f := scheduler.next(0.0)) is not None:
        times.append(f.time_s)
    assert times == sorted(times)


def test_the_simulator_live_stream_is_a_camera() -> None:
    config = CameraConfig(name="auger", source="sim://combine-02/auger?hours=0.002&fps=5&size=96x64&speed=0")
    scheduler = Scheduler([("auger", None)], policy="round-robin", queue=1000)
    runner = SourceRunner(config, scheduler.offer, opener=open_source)
    runner.start()
    runner.join(60)
    assert runner.state == "ended"
    frames = []
    while (f := scheduler.next(0.0)) is not None:
        frames.append(f)
    assert len(frames) == 36  # 7.2 s at 5 frames/s
    assert frames[0].pixels.shape == (64, 96, 3)
    assert [f.time_s for f in frames[:3]] == [0.0, 0.2, 0.4]


def test_a_file_scaled_while_decoding_keeps_its_colours(tmp_path: Path) -> None:
    video = write_colour_video(tmp_path / "red.mp4", [("red", 1), ("blue", 1)], fps=5, width=160, height=120)
    source = FileSource(video, pace="fast", size=(32, 24))
    try:
        frames = [pixels for _, pixels in source.read()]
    finally:
        source.close()
    assert len(frames) == 10
    assert {f.shape for f in frames} == {(24, 32, 3)}
    first, last = frames[0].mean(axis=(0, 1)), frames[-1].mean(axis=(0, 1))
    assert first[0] > 200 > 30 > first[1]  # red
    assert last[2] > 200 > 30 > last[0]  # blue
