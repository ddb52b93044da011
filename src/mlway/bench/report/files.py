"""A run directory on disk: run.json, summary.csv and report.html written, run.json read back.

Files are written to a temporary name and renamed, so a Ctrl-C never leaves a half-written run.json.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pydantic

from mlway.bench.summary import SCHEMA_VERSION, PointSummary, RunResult
from mlway.core.errors import InputError, NotFoundError

RUN_JSON = "run.json"
SUMMARY_CSV = "summary.csv"
REPORT_HTML = "report.html"
_NOT_A_RUN_HINT = "pass a directory written by 'mlway bench run --out DIR' (it holds run.json)"

_CSV_LATENCIES = ("ttft", "tpot", "itl", "e2e", "queue_time")
_CSV_STATS = ("mean", "std", "p50", "p90", "p95", "p99", "p999")
_CSV_SERVER = ("running", "waiting", "kv_cache_usage")
CSV_COLUMNS = (
    "label", "mode", "concurrency", "rate", "arrival", "max_concurrency", "requests", "ok", "errors",
    "error_kinds", "duration_s", "request_rate", "output_token_rate", "total_token_rate", "target_rate",
    "send_rate",
    *(f"{metric}_{stat}_s" for metric in _CSV_LATENCIES for stat in _CSV_STATS),
    "input_tokens_mean", "output_tokens_mean", "slo_passed", "slo_attainment", "goodput",
    *(f"server_{gauge}_{stat}" for gauge in _CSV_SERVER for stat in ("mean", "max")),
    "warnings",
)  # fmt: skip
"""The header of summary.csv: seconds for latencies, tokens for lengths, per second for rates."""


def write_run_files(directory: Path, run: RunResult, *, html: bool = True) -> None:
    """Write run.json and summary.csv (and report.html when ``html``) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    write_text_atomic(directory / RUN_JSON, run.model_dump_json(indent=2))
    write_text_atomic(directory / SUMMARY_CSV, summary_csv(run.points))
    if html:
        from mlway.bench.report.html import write_html_report  # noqa: PLC0415 - matplotlib is heavy

        write_html_report(run, directory)


def write_text_atomic(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def load_run(path: Path) -> RunResult:
    """The RunResult of a run directory (or of its run.json); InputError if it is not a bench run."""
    if not path.exists():
        raise NotFoundError(f"{path} does not exist", hint=_NOT_A_RUN_HINT)
    file = path if path.is_file() else path / RUN_JSON
    if not file.is_file():
        raise InputError(f"{path} is not a bench run: it has no {RUN_JSON}", hint=_NOT_A_RUN_HINT)
    try:
        run = RunResult.model_validate_json(file.read_bytes())
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        raise InputError(
            f"{file} is not a valid bench run: {where}: {first['msg']}",
            hint="it may be truncated or from another tool; re-run 'mlway bench run'",
        ) from exc
    if run.schema_version > SCHEMA_VERSION:
        raise InputError(
            f"{file} was written by a newer mlway (schema {run.schema_version}, this one reads up to {SCHEMA_VERSION})",
            hint="upgrade mlway: pip install -U mlway",
        )
    return run


def records_file(directory: Path, point: PointSummary) -> Path:
    """Where a point's requests.jsonl lives."""
    return directory / point.records_path


def summary_rows(points: Sequence[PointSummary]) -> list[dict[str, str | float | int | None]]:
    """One flat row per point, in seconds and tokens: the columns of summary.csv."""
    rows: list[dict[str, str | float | int | None]] = []
    for point in points:
        load, slo = point.load, point.slo
        row: dict[str, str | float | int | None] = {
            "label": point.label,
            "mode": load.mode,
            "concurrency": load.concurrency,
            "rate": load.rate,
            "arrival": load.arrival,
            "max_concurrency": load.max_concurrency,
            "requests": point.requests,
            "ok": point.ok,
            "errors": sum(point.errors.values()),
            "error_kinds": ";".join(f"{kind}:{n}" for kind, n in sorted(point.errors.items())),
            "duration_s": point.duration_s,
            "request_rate": point.request_rate,
            "output_token_rate": point.output_token_rate,
            "total_token_rate": point.total_token_rate,
            "target_rate": point.target_rate,
            "send_rate": point.send_rate,
        }
        for metric in _CSV_LATENCIES:
            dist = point.metrics.get(metric)
            for stat in _CSV_STATS:
                row[f"{metric}_{stat}_s"] = getattr(dist, stat) if dist else None
        for metric in ("input_tokens", "output_tokens"):
            dist = point.metrics.get(metric)
            row[f"{metric}_mean"] = dist.mean if dist else None
        row["slo_passed"] = None if slo is None else slo.passed
        row["slo_attainment"] = None if slo is None else slo.attainment
        row["goodput"] = None if slo is None else slo.goodput
        for gauge in _CSV_SERVER:
            dist = point.server_metrics.get(gauge)
            row[f"server_{gauge}_mean"] = dist.mean if dist else None
            row[f"server_{gauge}_max"] = dist.max if dist else None
        row["warnings"] = " | ".join(point.warnings)
        rows.append(row)
    return rows


def summary_csv(points: Sequence[PointSummary]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(summary_rows(points))
    return buffer.getvalue()
