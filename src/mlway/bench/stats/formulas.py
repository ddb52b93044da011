"""How each bench metric is computed, in words a report prints beside the numbers.

Peers use the same names for different formulas (vLLM's ITL is the gap between chunks;
GenAI-Perf/aiperf's "ITL" is what vLLM calls TPOT), so every report states mlway's.
"""

from __future__ import annotations

from mlway.bench.stats.gaps import GapAccumulator

PERCENTILES: dict[str, float] = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}
"""Distribution field -> percentile, computed with numpy's default (linear) method."""

FORMULAS: dict[str, str] = {
    "ttft": "time to first token = first_content_at - sent_at (first chunk with non-empty text; sent_at is "
    "when the request's last byte went to the socket: guidellm and vLLM's benchmark start the clock before "
    "their HTTP client builds the request, a few tenths of a ms earlier)",
    "tpot": "time per output token = (E2E - TTFT) / (output_tokens - 1), over requests with >= 2 "
    "output tokens (GenAI-Perf and aiperf call this ITL)",
    "itl": "inter-token latency = every gap between consecutive content chunks, pooled over requests, "
    "as vLLM (a chunk may carry several tokens); percentiles exact up to "
    f"{GapAccumulator.EXACT_LIMIT:,} gaps per point, beyond that from a log histogram (<= 0.5% error)",
    "e2e": "end-to-end latency = end_at - sent_at",
    "queue_time": "client-side wait = sent_at - scheduled_at (the request was due but not yet sent)",
    "input_tokens": "prompt tokens per request: the server's usage.prompt_tokens (which includes what the "
    "server adds: BOS, chat template), else the target length (tokens of the prompt text alone)",
    "output_tokens": "completion tokens per request as recorded: server usage, else the client's "
    "tokenizer, else the content-chunk count (see tokens_source)",
    "duration": "last end_at - first sent_at over measured requests (warm-up and cancelled excluded)",
    "request_rate": "successful requests / duration",
    "output_token_rate": "sum of output_tokens over successful requests / duration",
    "total_token_rate": "sum of input_tokens + output_tokens over successful requests / duration",
    "send_rate": "achieved sending rate = (sent requests - 1) / (last sent_at - first sent_at)",
    "attainment": "share of measured requests (cancelled excluded) that succeeded with their own TTFT, "
    "TPOT and E2E within every SLO limit, and their own ITL statistic within an ITL limit",
    "goodput": "requests meeting every SLO limit / duration (as DistServe)",
    "statistics": "over successful measured requests: mean, population std (ddof=0), min, max and "
    "p50/p90/p95/p99/p99.9 with numpy's default linear interpolation between order statistics",
}
