"""One served model: its settings, its batchers, and the two request forms (tensors and texts).

Tensor requests are checked against the serving variant's input specs before they queue (a wrong
name, dtype or shape is a 400 naming what was expected), batched along the first axis when every
input and output starts with the same named dimension, and split back per request. Text requests
are tokenized, inferred and pooled as one batch; tokenizing and pooling run on a small thread pool
so the event loop only does I/O. Inference itself crosses to the runtime's worker process; one full
batch more than ``max_concurrency`` is sent ahead to wait there (see ``Batcher``'s ``pipeline``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from mlway.core.errors import InputError
from mlway.core.units import format_duration
from mlway.runtime import Bundle, DeadlineExceededError, ModelHost, TextPreprocessing
from mlway.runtime.tensors import check_inputs
from mlway.serve.batcher import Batcher, Job
from mlway.serve.settings import MODEL_SETTINGS_FILE, ModelServeSettings, ServeSettings
from mlway.serve.text import FEEDS, TextEncoder

Arrays = dict[str, np.ndarray]
BatchObserver = Callable[[str, str, int, float], None]


@dataclass(frozen=True, slots=True)
class Embedded:
    """A text request's answer: one vector per text and the tokens it used."""

    vectors: np.ndarray
    tokens: int


@dataclass(frozen=True, slots=True)
class Limits:
    """The batching and deadline a model runs with, and which setting each came from."""

    max_batch: int
    max_delay_s: float
    timeout_s: float
    timeout_setting: str


def limits_for(bundle: Bundle, settings: ServeSettings, own: ModelServeSettings) -> Limits:
    if own.timeout_ms is not None:
        timeout, where = own.timeout_ms / 1000, f"timeout_ms in {bundle.directory / MODEL_SETTINGS_FILE}"
    else:
        timeout, where = settings.request_timeout_s, "the server's --request-timeout"
    return Limits(
        max_batch=own.max_batch_size or settings.max_batch_size,
        max_delay_s=(own.max_delay_ms if own.max_delay_ms is not None else settings.max_delay_ms) / 1000,
        timeout_s=timeout,
        timeout_setting=where,
    )


class ServedModel:
    """A hosted model as the HTTP layer sees it."""

    def __init__(
        self,
        bundle: Bundle,
        host: ModelHost,
        limits: Limits,
        *,
        pool: Executor,
        observe: BatchObserver | None = None,
    ) -> None:
        manifest = bundle.manifest
        self.bundle = bundle
        self.name = manifest.name
        self.host = host
        self.limits = limits
        self._pool = pool
        self._observe = observe
        pre = manifest.preprocessing
        self.text = TextEncoder.for_bundle(bundle, pre) if isinstance(pre, TextPreprocessing) else None
        self.batchable = _batch_axis(bundle)
        quota = manifest.quota
        common = {
            "max_batch": limits.max_batch,
            "max_delay": limits.max_delay_s,
            "max_queue": quota.max_queue,
            "concurrency": quota.max_concurrency,
            # one full batch waits inside the worker while another runs, so it never idles between calls
            # (the host holds max_concurrency + max_queue requests per worker: with no queue, none ahead)
            "pipeline": 1 if quota.max_queue >= 1 else 0,
            "expired": lambda _job: self.deadline_error(),
            "overload_hint": f"retry later, or raise max_queue ({quota.max_queue}) in the quota of "
            f"{bundle.manifest_path}",
        }
        self.tensors: Batcher[Arrays] = Batcher(self.name, self._run_tensors, **common)  # type: ignore[arg-type]
        self.texts: Batcher[list[str]] = Batcher(self.name, self._run_texts, **common)  # type: ignore[arg-type]
        self._variant: tuple[float, str] = (0.0, "none")

    # state ---------------------------------------------------------------------------------------

    @property
    def task(self) -> str:
        return self.bundle.manifest.task

    @property
    def depth(self) -> int:
        return self.tensors.depth + self.texts.depth

    def variant(self) -> str:
        """The serving variant's name ("none" while none serves), read at most every 0.5 s."""
        now = time.monotonic()
        if now - self._variant[0] > 0.5:
            self._variant = (now, self.host.model_status(self.name).variant or "none")
        return self._variant[1]

    def deadline_error(self) -> DeadlineExceededError:
        return DeadlineExceededError(
            f"model {self.name!r}: no answer within {format_duration(self.limits.timeout_s)}, the request's deadline",
            hint=f"raise {self.limits.timeout_setting}, or send fewer requests at once",
        )

    def deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.limits.timeout_s

    async def close(self) -> None:
        await self.tensors.close()
        await self.texts.close()

    # tensors -------------------------------------------------------------------------------------

    async def infer(self, inputs: dict[str, object]) -> Arrays:
        """Run one request of named arrays; raises InputError (400) for inputs the model does not take."""
        arrays = check_inputs(inputs, self.host.input_specs(self.name), model=self.name)
        if self.text is not None:
            _check_tokens(arrays, self.text, self.name)
        deadline = self.deadline()
        if not self.batchable:
            return await self._submit(arrays, size=1, key=object(), deadline=deadline)
        rows = next(iter(arrays.values())).shape[0]
        if rows < 1:
            raise InputError(f"model {self.name!r}: the batch (first) dimension is 0; send at least one row")
        key: Hashable = tuple((n, a.shape[1:], a.dtype.str) for n, a in sorted(arrays.items()))
        return await self._submit(arrays, size=rows, key=key, deadline=deadline)

    async def _submit(self, arrays: Arrays, *, size: int, key: Hashable, deadline: float) -> Arrays:
        result: Arrays = await self.tensors.submit(arrays, size=size, key=key, deadline=deadline)
        return result

    async def _call(self, arrays: Arrays, jobs: list[Job[Arrays]] | list[Job[list[str]]], items: int) -> Arrays:
        loop = asyncio.get_running_loop()
        timeout = max(j.deadline for j in jobs) - loop.time()
        if timeout <= 0:
            raise self.deadline_error()
        started = time.perf_counter()
        try:
            outputs = await self.host.infer_async(self.name, arrays, timeout=timeout)
        except DeadlineExceededError as exc:
            raise self.deadline_error() from exc
        if self._observe is not None:
            self._observe(self.name, self.variant(), items, time.perf_counter() - started)
        return outputs

    async def _run_tensors(self, jobs: list[Job[Arrays]]) -> None:
        if len(jobs) == 1:
            jobs[0].resolve(await self._sliced(jobs[0].payload, jobs, jobs[0].size))
            return
        names = list(jobs[0].payload)
        arrays = {n: np.concatenate([j.payload[n] for j in jobs]) for n in names}
        total = sum(j.size for j in jobs)
        try:
            outputs = await self._sliced(arrays, jobs, total)
        except InputError:
            # one request's values (not shapes: those were checked) upset the model: find which
            await asyncio.gather(*(self._run_alone(j) for j in jobs))
            return
        if any(a.ndim == 0 or a.shape[0] != total for a in outputs.values()):
            await asyncio.gather(*(self._run_alone(j) for j in jobs))  # outputs not per row: no split
            return
        offset = 0
        for job in jobs:
            job.resolve({n: a[offset : offset + job.size] for n, a in outputs.items()})
            offset += job.size

    async def _sliced(self, arrays: Arrays, jobs: list[Job[Arrays]], total: int) -> Arrays:
        """One call, or calls of ``max_batch`` rows one after another for a request larger than that."""
        step = self.limits.max_batch
        if not self.batchable or total <= step:
            return await self._call(arrays, jobs, total)
        parts = []
        for start in range(0, total, step):
            part = {n: a[start : start + step] for n, a in arrays.items()}
            parts.append(await self._call(part, jobs, min(step, total - start)))
        return {n: np.concatenate([p[n] for p in parts]) for n in parts[0]}

    async def _run_alone(self, job: Job[Arrays]) -> None:
        try:
            await self._run_tensors([job])
        except Exception as exc:  # noqa: BLE001 - request boundary: the job carries its own failure
            job.fail(exc)

    # texts ---------------------------------------------------------------------------------------

    async def embed(self, texts: list[str]) -> Embedded:
        """Embed ``texts`` (one vector each) through the batcher."""
        if self.text is None:
            raise InputError(
                f"model {self.name!r} is a {self.task} model without text preprocessing",
                hint="send text to a model whose bundle declares preprocessing kind: text (task embed)",
            )
        _check_unicode(texts, self.name)  # before batching: one bad text must not fail its batch-mates
        result: Embedded = await self.texts.submit(texts, size=len(texts), key="text", deadline=self.deadline())
        return result

    async def _run_texts(self, jobs: list[Job[list[str]]]) -> None:
        encoder = self.text
        assert encoder is not None
        loop = asyncio.get_running_loop()
        texts = [t for j in jobs for t in j.payload]
        step = self.limits.max_batch  # a request larger than a batch runs as several calls
        vectors, counts = [], []
        for start in range(0, len(texts), step):
            part = texts[start : start + step]
            feeds, mask = await loop.run_in_executor(self._pool, encoder.encode, part)
            outputs = await self._call(feeds, jobs, len(part))
            vectors.append(await loop.run_in_executor(self._pool, encoder.pool, outputs, mask))
            counts.append(mask.sum(axis=1))
        all_vectors = vectors[0] if len(vectors) == 1 else np.concatenate(vectors)
        all_counts = np.concatenate(counts)
        offset = 0
        for job in jobs:
            end = offset + job.size
            job.resolve(Embedded(all_vectors[offset:end], int(all_counts[offset:end].sum())))
            offset = end


def _batch_axis(bundle: Bundle) -> bool:
    """Whether requests can be stacked: every input and output starts with one named dimension."""
    manifest = bundle.manifest
    firsts = {s.shape[0] if s.shape else None for s in [*manifest.inputs, *manifest.outputs]}
    return len(firsts) == 1 and isinstance(next(iter(firsts)), str)


def _check_unicode(texts: list[str], model: str) -> None:
    """400 for a text the tokenizer cannot take: JSON allows lone surrogate escapes (``"\\ud800"``), UTF-8 does not."""
    for index, text in enumerate(texts):
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InputError(
                    f"model {model!r}: text {index} is not valid Unicode ({exc.reason} at character {exc.start})",
                    hint="send UTF-8 text; a \\ud800-\\udfff escape in JSON must be half of a surrogate pair",
                ) from None


def _check_tokens(arrays: Arrays, encoder: TextEncoder, model: str) -> None:
    """400 for token tensors longer than the text model takes (its preprocessing.max_length)."""
    longest = encoder.preprocessing.max_length
    for name, array in arrays.items():
        if name in FEEDS and array.ndim == 2 and array.shape[1] > longest:
            raise InputError(
                f"model {model!r}: input {name!r} has {array.shape[1]} tokens per text, more than the {longest} "
                "this model takes",
                hint=f"cut each text to at most {longest} tokens, or send the text itself and let the server cut it",
            )
