"""Every plan test reads the built-in catalog plus an empty user catalog of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlway.plan import Catalog, load_catalog


@pytest.fixture(autouse=True)
def user_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user-catalog"
    monkeypatch.setenv("MLWAY_PLAN_CATALOG", str(folder))
    return folder


@pytest.fixture
def catalog(user_catalog: Path) -> Catalog:
    return load_catalog(user_catalog)


def _dist(value: float) -> dict[str, float]:
    spread = {"min": 0.8, "max": 1.3, "p50": 1.0, "p90": 1.05, "p95": 1.08, "p99": 1.15, "p999": 1.2}
    return {"count": 200, "mean": value, "std": 0.05 * value} | {k: f * value for k, f in spread.items()}


def write_bench_run(
    directory: Path, model: str, prompt: int, output: int, points: list[tuple[int, float, float, float]]
) -> Path:
    """A run.json as ``mlway bench run`` writes it; each point is (concurrency, ttft s, tpot s, output tok/s)."""
    import json  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    summaries = [
        {"label": f"c{c}", "load": {"mode": "concurrency", "concurrency": c}, "requests": 200, "ok": 200,
         "warmup": c, "errors": {}, "duration_s": 60.0, "request_rate": rate / output, "output_token_rate": rate,
         "total_token_rate": rate * (prompt + output) / output,
         "metrics": {"ttft": _dist(ttft), "tpot": _dist(tpot), "e2e": _dist(ttft + (output - 1) * tpot),
                     "input_tokens": _dist(prompt), "output_tokens": _dist(output)},
         "records_path": f"points/c{c}/requests.jsonl"}
        for c, ttft, tpot, rate in points
    ]  # fmt: skip
    run = {"schema_version": 1, "name": directory.name, "started_at": "2026-11-24T10:00:00+00:00",
           "config": {"model": model, "input_tokens": str(prompt), "output_tokens": str(output),
                      "url": "http://127.0.0.1:8000/v1", "loads": []},
           "environment": {"mlway": "0.1.0"}, "points": summaries}  # fmt: skip
    path = directory / "run.json"
    path.write_text(json.dumps(run), encoding="utf-8")
    return path


@pytest.fixture
def bench_run() -> object:
    return write_bench_run
