"""GET /metrics: per model and variant latency, batch sizes, queue depth, worker memory and CPU, statuses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import ServeProcess


def test_metrics_cover_models_variants_batches_memory_and_cpu(main_server: ServeProcess) -> None:
    assert main_server.post("/v1/embeddings", {"model": "minilm", "input": ["a", "b", "c"]}).status_code == 200
    assert main_server.post("/v2/models/nope/infer", {"inputs": []}).status_code == 400
    response = main_server.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in [
        'mlway_request_duration_seconds_count{endpoint="embeddings",model="minilm",variant="fp32"}',
        'mlway_batch_size_bucket{le="4.0",model="minilm",variant="fp32"}',
        'mlway_batch_duration_seconds_count{model="minilm",variant="fp32"}',
        'mlway_queue_depth{model="minilm"} 0.0',
        'mlway_queue_depth{model="cam"} 0.0',
        'mlway_model_ready{model="cam",variant="fp32"} 1.0',
        'mlway_worker_memory_limit_bytes{model="minilm"} 1.073741824e+09',
        'mlway_worker_restarts_total{model="cam"} 0.0',
    ]:
        assert line in text, line
    rss = next(x for x in text.splitlines() if x.startswith('mlway_worker_rss_bytes{model="minilm",variant="fp32"}'))
    assert float(rss.split()[-1]) > 50 * 1024**2
    cpu = next(x for x in text.splitlines() if x.startswith('mlway_worker_cpu_seconds_total{model="minilm"'))
    assert float(cpu.split()[-1]) > 0
    assert 'mlway_requests_total{endpoint="embeddings",model="minilm",status="200"}' in text
