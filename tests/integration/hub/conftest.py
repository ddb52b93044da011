"""A real ``mlway hub start`` process on 127.0.0.1 with a fresh SQLite file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlway.hub.testing import RunningHub, start_hub

pytest.importorskip("fastapi")


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[RunningHub]:
    with start_hub(tmp_path / "hub.db") as running:
        yield running
