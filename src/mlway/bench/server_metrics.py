"""Samples the server's Prometheus gauges during a run: queue depth and KV-cache usage.

These explain latency: at "15 s at 60 RPS" the waiting queue is long and the KV cache is full.
Names follow vLLM (``vllm:num_requests_running``, ``vllm:num_requests_waiting``,
``vllm:kv_cache_usage_perc``, formerly ``vllm:gpu_cache_usage_perc``) and SGLang's equivalents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

log = logging.getLogger(__name__)

GAUGES: dict[str, tuple[str, ...]] = {
    "running": ("vllm:num_requests_running", "sglang:num_running_reqs"),
    "waiting": ("vllm:num_requests_waiting", "sglang:num_queue_reqs"),
    "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage"),
}


def metrics_url(base_url: str) -> str:
    """``http://h:p/v1`` -> ``http://h:p/metrics``."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, "/metrics", "", ""))


def parse_gauges(text: str) -> dict[str, float]:
    """The known gauges in a Prometheus exposition, summed over label sets (e.g. per model)."""
    values: dict[str, float] = {}
    wanted = {name: key for key, names in GAUGES.items() for name in names}
    for family in text_string_to_metric_families(text):
        key = wanted.get(family.name)
        if key is None or key in values:
            continue
        values[key] = sum(sample.value for sample in family.samples if sample.name == family.name)
    return values


class ServerMetricsSampler:
    """Polls ``/metrics`` every ``interval`` seconds while running; disabled if the first poll fails."""

    def __init__(self, base_url: str, *, interval: float = 0.5, timeout: float = 2.0) -> None:
        self.url = metrics_url(base_url)
        self.interval = interval
        self.timeout = timeout
        self.available: bool | None = None
        self.samples: list[dict[str, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def probe(self, session: aiohttp.ClientSession) -> bool:
        """One poll: does the server expose any of the known gauges?"""
        sample = await self._poll(session)
        self.available = bool(sample)
        if not self.available:
            log.info("no queue/KV gauges at %s: server metrics will not be sampled", self.url)
        return self.available

    async def _poll(self, session: aiohttp.ClientSession) -> dict[str, float]:
        try:
            async with session.get(self.url, timeout=aiohttp.ClientTimeout(total=self.timeout)) as r:
                if r.status != 200:
                    return {}
                return parse_gauges(await r.text())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return {}

    def start(self, session: aiohttp.ClientSession, clock_zero: float) -> None:
        self.samples = []
        if self.available:
            self._task = asyncio.create_task(self._loop(session, clock_zero))

    async def _loop(self, session: aiohttp.ClientSession, zero: float) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            sample = await self._poll(session)
            if sample:
                sample["t"] = time.perf_counter() - zero
                self.samples.append(sample)
            next_at += self.interval
            await asyncio.sleep(max(next_at - loop.time(), 0.0))

    async def stop(self) -> list[dict[str, float]]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        return self.samples
