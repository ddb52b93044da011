"""Prometheus metrics of one hub.

mlway_hub_records_stored_total{type}                    records stored (event, summary)
mlway_hub_records_duplicate_total                       repeats acknowledged, not stored again
mlway_hub_seq_conflicts_total                           repeats whose content differed from the stored copy
mlway_hub_batches_total                                 ingest batches committed
mlway_hub_heartbeats_total                              heartbeats stored
mlway_hub_rejected_total{endpoint,status}               refused requests (401, 403, 413, 415, 422, 400)
mlway_hub_ingest_seconds                                histogram: validation + commit of one batch
mlway_hub_device_last_seen_timestamp_seconds{device}    hub time of each device's last batch or heartbeat
                                                        (read from the database, so it survives restarts)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mlway.hub.store import HubStore

INGEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ENDPOINTS = ("ingest", "heartbeat", "events", "fleet")


class _LastSeen(Collector):
    def __init__(self, store: HubStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily(
            "mlway_hub_device_last_seen_timestamp_seconds",
            "Hub time of the device's last batch or heartbeat.",
            labels=["device"],
        )
        for device, seen in sorted(self.store.last_seen().items()):
            family.add_metric([device], seen)
        yield family


class HubMetrics:
    """The hub's own registry (several hubs in one process do not collide)."""

    def __init__(self, store: HubStore) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.stored = Counter("mlway_hub_records_stored", "Records stored.", ["type"], registry=self.registry)
        self.duplicates = Counter(
            "mlway_hub_records_duplicate", "Repeated records acknowledged, not stored again.", registry=self.registry
        )
        self.conflicts = Counter(
            "mlway_hub_seq_conflicts",
            "Repeated seqs whose content differed from the stored record.",
            registry=self.registry,
        )
        self.batches = Counter("mlway_hub_batches", "Ingest batches committed.", registry=self.registry)
        self.heartbeats = Counter("mlway_hub_heartbeats", "Heartbeats stored.", registry=self.registry)
        self.rejected = Counter(
            "mlway_hub_rejected", "Refused requests.", ["endpoint", "status"], registry=self.registry
        )
        self.ingest_seconds = Histogram(
            "mlway_hub_ingest_seconds",
            "Validation and commit of one batch.",
            buckets=INGEST_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_LastSeen(store))

    def render(self) -> bytes:
        return generate_latest(self.registry)
