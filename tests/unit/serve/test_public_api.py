"""The public API of mlway.serve is its __init__; pin it."""

from __future__ import annotations

import mlway.serve


def test_exported_names_are_pinned() -> None:
    assert sorted(mlway.serve.__all__) == [
        "ModelServeSettings", "ServeSettings", "Server", "TextEncoder", "build_minilm", "create_app",
    ]  # fmt: skip
    for name in mlway.serve.__all__:
        assert hasattr(mlway.serve, name)
