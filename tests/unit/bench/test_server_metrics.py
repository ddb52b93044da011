from mlway.bench.server_metrics import metrics_url, parse_gauges

VLLM_EXPOSITION = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="tiny"} 7.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="tiny"} 12.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="tiny"} 0.93
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="tiny"} 1234.0
"""


def test_vllm_gauges_are_read() -> None:
    assert parse_gauges(VLLM_EXPOSITION) == {"running": 7.0, "waiting": 12.0, "kv_cache_usage": 0.93}


def test_servers_without_gauges_give_nothing() -> None:
    assert parse_gauges("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3.0\n") == {}


def test_metrics_url_drops_the_api_path() -> None:
    assert metrics_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/metrics"
