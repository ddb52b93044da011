from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mlway.bench.records import RequestRecord
from mlway.bench.report import CSV_COLUMNS, load_run, write_run_files
from mlway.bench.slo import SloSpec
from mlway.bench.stats import FORMULAS, summarize
from mlway.bench.summary import LoadSpec, RunResult
from mlway.core.errors import InputError, NotFoundError


def request(index: int, ttft: float) -> RequestRecord:
    chunks = [ttft + 0.05 * i for i in range(4)]
    return RequestRecord(
        index=index, warmup=False, scheduled_at=0.0, sent_at=0.0, first_content_at=chunks[0], end_at=chunks[-1],
        chunk_times=chunks, prompt_tokens=32, completion_tokens=4, output_tokens_target=4, tokens_source="usage",
        status=200,
    )  # fmt: skip


def make_run() -> RunResult:
    run = RunResult(
        name="vllm", started_at="2026-01-01T00:00:00+00:00", config={"url": "http://127.0.0.1:8000/v1"},
        environment={"python": "3.11"}, formulas=FORMULAS,
    )  # fmt: skip
    for users, ttft in ((1, 0.1), (8, 0.4)):
        load = LoadSpec(mode="concurrency", concurrency=users)
        records = [request(i, ttft) for i in range(10)]
        run.points.append(
            summarize(records, load=load, label=load.label, records_path=f"points/{load.label}/requests.jsonl",
                      slo=SloSpec.parse("ttft_p95=300ms"))
        )  # fmt: skip
    return run


def test_run_json_round_trips(tmp_path: Path) -> None:
    run = make_run()
    write_run_files(tmp_path, run, html=False)
    assert load_run(tmp_path) == run
    assert load_run(tmp_path / "run.json") == run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "summary.csv"]


def test_summary_csv_has_one_row_per_point_with_flat_columns_in_seconds(tmp_path: Path) -> None:
    write_run_files(tmp_path, make_run(), html=False)
    with (tmp_path / "summary.csv").open() as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    assert [row["label"] for row in rows] == ["c1", "c8"]
    assert float(rows[0]["ttft_p95_s"]) == pytest.approx(0.1)
    assert float(rows[1]["ttft_p95_s"]) == pytest.approx(0.4)
    assert [row["slo_passed"] for row in rows] == ["True", "False"]
    assert rows[0]["server_running_mean"] == ""  # not sampled: left empty, not zero
    assert rows[0]["errors"] == "0"


def test_an_empty_run_still_gets_a_csv_header(tmp_path: Path) -> None:
    run = make_run()
    run.points = []
    write_run_files(tmp_path, run, html=False)
    assert (tmp_path / "summary.csv").read_text().strip() == ",".join(CSV_COLUMNS)


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        load_run(tmp_path / "nope")


def test_a_directory_without_run_json_is_not_a_bench_run(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_run(tmp_path)
    assert f"{tmp_path} is not a bench run" in caught.value.message
    assert "mlway bench run --out" in str(caught.value.hint)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not a valid bench run"),
        ('{"name": "x"}', "is not a valid bench run: started_at"),
    ],
)
def test_a_broken_run_json_is_reported_with_the_field(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "run.json").write_text(content)
    with pytest.raises(InputError, match=expected):
        load_run(tmp_path)


def test_a_run_from_a_newer_mlway_asks_for_an_upgrade(tmp_path: Path) -> None:
    run = make_run()
    run.schema_version = 99
    write_run_files(tmp_path, run, html=False)
    with pytest.raises(InputError, match="newer mlway"):
        load_run(tmp_path)
