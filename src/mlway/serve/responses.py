"""JSON responses written by orjson (numpy arrays serialised natively, no Python lists in between)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class JSON(JSONResponse):
    """``JSONResponse`` through orjson with numpy support."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
