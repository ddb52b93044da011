"""The typed messages a worker process and its host exchange over one pipe.

    host -> worker   WorkerSpec (first), InferRequest, MeasureRequest, Shutdown
    worker -> host   Ready or LoadFailed (first), InferReply, InferFailed, MeasureReply

Arrays travel as numpy arrays (pickled, protocol 5). Deadlines are ``time.monotonic()`` values,
which every process on one Linux machine shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlway.runtime.backend import OptionValue
from mlway.runtime.tensors import TensorSpec

EXIT_OUT_OF_MEMORY = 3  # a worker's exit code after an allocation failed under its address-space cap


@dataclass(frozen=True, slots=True)
class Failure:
    """An error crossing the process boundary: the class name, message and hint of the original."""

    kind: str
    message: str
    hint: str | None = None
    out_of_memory: bool = False


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """Everything a worker needs to load one variant under its quota."""

    model: str
    variant: str
    backend_target: str
    entry: str
    files: tuple[str, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    threads: int
    cpu_ids: tuple[int, ...]
    memory_limit: int
    max_concurrency: int
    options: dict[str, OptionValue] = field(default_factory=dict)
    address_space_limit: bool = True


@dataclass(frozen=True, slots=True)
class Ready:
    pid: int
    rss_bytes: int
    peak_rss_bytes: int
    memory_estimate: int
    load_seconds: float
    address_space_limit: int | None


@dataclass(frozen=True, slots=True)
class LoadFailed:
    failure: Failure


@dataclass(frozen=True, slots=True)
class InferRequest:
    id: int
    inputs: dict[str, np.ndarray]
    deadline: float


@dataclass(frozen=True, slots=True)
class InferReply:
    id: int
    outputs: dict[str, np.ndarray]
    seconds: float


@dataclass(frozen=True, slots=True)
class InferFailed:
    id: int
    failure: Failure


@dataclass(frozen=True, slots=True)
class MeasureRequest:
    """Run the backend ``iterations`` times on dummy inputs of ``batch`` items, inside the worker."""

    id: int
    batch: int
    iterations: int
    max_seconds: float


@dataclass(frozen=True, slots=True)
class MeasureReply:
    id: int
    latencies: tuple[float, ...]
    peak_rss_bytes: int


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


ToWorker = WorkerSpec | InferRequest | MeasureRequest | Shutdown
FromWorker = Ready | LoadFailed | InferReply | InferFailed | MeasureReply
