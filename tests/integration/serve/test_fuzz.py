"""schemathesis fuzzes the OpenAPI document of a real server: no input makes it answer 5xx."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import ServeProcess


def test_fuzzing_the_openapi_spec_finds_no_server_error(main_server: ServeProcess, tmp_path: Path) -> None:
    schema = main_server.get("/openapi.json").json()
    assert {"/v2/models/{name}/infer", "/v1/embeddings", "/v2/health/ready", "/metrics"} <= set(schema["paths"])
    st = shutil.which("schemathesis", path=str(Path(os.sys.executable).parent)) or "schemathesis"  # type: ignore[attr-defined]
    done = subprocess.run(
        [
            st, "run", main_server.url + "/openapi.json",
            "--checks", "not_a_server_error",
            "--max-examples", "50",
            "--seed", "1",
            "--workers", "2",
            "--request-timeout", "60",
            "--generation-deterministic",
        ],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
        env=os.environ | {"NO_COLOR": "1", "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "Server error" not in done.stdout
