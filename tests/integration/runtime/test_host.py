"""ModelHost with real worker processes and real (tiny) ONNX models: quotas, fallback, crashes, swaps."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from mlway.core.errors import InputError, NotFoundError
from mlway.runtime import (
    Budget,
    BudgetError,
    Bundle,
    DeadlineExceededError,
    ModelHost,
    OverloadedError,
    QuotaExceededError,
    WorkerCrashedError,
    load_bundle,
)
from mlway.runtime.limits import rss_of

MIB = 1024**2
ROW = np.ones((2, 16), np.float32)
IMAGE = np.ones((1, 3, 32, 32), np.float32)


class Hammer:
    """Sends requests to one model from a thread until stopped; counts answers and errors."""

    def __init__(self, host: ModelHost, model: str, inputs: dict[str, np.ndarray]) -> None:
        self.host, self.model, self.inputs = host, model, inputs
        self.ok = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.host.infer(self.model, self.inputs, timeout=30)
                self.ok += 1
            except Exception as exc:  # noqa: BLE001 - every failure is what the test counts
                self.errors.append(exc)

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def test_two_models_serve_on_their_own_cores_with_correct_outputs(host: ModelHost, built: dict[str, Path]) -> None:
    status = host.start([load_bundle(built["heavy"]), load_bundle(built["cam"])], Budget(memory="2GiB", cpus=2))
    assert [(m.name, m.state, m.variant) for m in status.models] == [
        ("cam", "ready", "fp32"),
        ("heavy", "ready", "fp32"),
    ]
    for model in status.models:
        assert model.pid is not None
        assert sorted(os.sched_getaffinity(model.pid)) == model.cpu_ids
        limits = Path(f"/proc/{model.pid}/limits").read_text()
        assert "Max address space         unlimited" not in limits
    assert status.model("cam").cpu_ids != status.model("heavy").cpu_ids
    reference = ort.InferenceSession(str(built["cam"] / "fp32.onnx")).run(None, {"image": IMAGE})[0]
    np.testing.assert_allclose(host.infer("cam", {"image": IMAGE})["logits"], reference, rtol=1e-5)
    assert host.infer("heavy", {"input": ROW})["logits"].shape == (2, 4)
    assert host.model_status("cam").served == 1


def test_quota_breach_falls_back_to_the_next_variant_while_the_neighbour_keeps_serving(
    host: ModelHost, built: dict[str, Path]
) -> None:
    host.start([load_bundle(built["heavy"]), load_bundle(built["cam"])], Budget(memory="2GiB", cpus=2))
    neighbour_pid = host.model_status("cam").pid
    with Hammer(host, "cam", {"image": IMAGE}) as neighbour:
        huge = {"input": np.ones((100_000, 16), np.float32)}  # ~400 MiB of activations per layer
        with pytest.raises(QuotaExceededError, match=r"fp32 exceeded its 300.00 MiB quota \(RSS"):
            host.infer("heavy", huge, timeout=60)
        assert host.infer("heavy", {"input": ROW}, timeout=60)["logits"].shape == (2, 4)
    status = host.model_status("heavy")
    assert status.variant == "int8"
    assert status.reason.startswith("int8: fp32 exceeded its 300.00 MiB quota (RSS ")
    assert "fp32" in status.refused
    assert neighbour.errors == []
    assert neighbour.ok > 0
    assert host.model_status("cam").pid == neighbour_pid


def test_kill_9_mid_request_fails_that_request_and_restarts_the_worker(
    host: ModelHost, bundle_copy: Callable[..., Path], edit: Callable[..., Bundle], waiter: Callable[..., None]
) -> None:
    bundle = edit(bundle_copy("heavy"), quota={"memory": "4GiB"})
    host.start([bundle], Budget(memory="6GiB", cpus=1))
    before = host.model_status("heavy")
    assert before.pid is not None
    future = host.submit("heavy", {"input": np.ones((100_000, 16), np.float32)}, timeout=120)
    waiter(lambda: (rss_of(before.pid) or 0) > before.rss_bytes + 150 * MIB, "the worker to be mid-request")
    os.kill(before.pid, signal.SIGKILL)
    with pytest.raises(WorkerCrashedError, match="killed by SIGKILL"):
        future.result(timeout=60)
    waiter(
        lambda: host.model_status("heavy").state == "ready" and host.model_status("heavy").pid != before.pid,
        "the restarted worker",
    )
    after = host.model_status("heavy")
    assert after.pid != before.pid
    assert after.variant == "fp32"
    assert after.restarts == 1
    assert "restarted after fp32 crashed" in after.reason
    assert host.infer("heavy", {"input": ROW})["logits"].shape == (2, 4)


def test_repeated_crashes_move_to_the_next_variant(
    bundle_copy: Callable[..., Path], waiter: Callable[..., None]
) -> None:
    from mlway.runtime import HostSettings  # noqa: PLC0415

    with ModelHost(HostSettings(max_restarts=0)) as host:
        host.start([load_bundle(bundle_copy("cam"))], Budget(memory="1GiB", cpus=1))
        pid = host.model_status("cam").pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        waiter(lambda: host.model_status("cam").variant == "int8", "the fallback to int8")
        status = host.model_status("cam")
        assert "more than 0 times" in status.refused["fp32"]
        assert host.infer("cam", {"image": IMAGE})["logits"].shape == (1, 4)


def test_tampered_artefact_refuses_that_variant_and_serves_the_next(
    host: ModelHost, bundle_copy: Callable[..., Path]
) -> None:
    path = bundle_copy("cam")
    (path / "fp32.onnx").write_bytes((path / "fp32.onnx").read_bytes()[:-10] + b"0123456789")
    status = host.start([load_bundle(path)], Budget(memory="1GiB", cpus=1)).model("cam")
    assert status.variant == "int8"
    assert status.reason.startswith("int8: fp32 refused: sha256 mismatch for fp32.onnx (manifest ")
    assert host.infer("cam", {"image": IMAGE})["logits"].shape == (1, 4)


def test_a_small_budget_serves_the_reduced_input_size(
    host: ModelHost, bundle_copy: Callable[..., Path], edit: Callable[..., Bundle]
) -> None:
    path = bundle_copy("cam")
    bundle = load_bundle(path)
    sizes = {"fp32": 200 * MIB, "int8": 150 * MIB, "int8-small": 100 * MIB}
    variants = [v.model_copy(update={"memory_bytes": sizes[v.name]}) for v in bundle.manifest.variants]
    bundle = edit(path, variants=[v.model_dump() for v in variants])
    status = host.start([bundle], Budget(memory="120MiB", cpus=1)).model("cam")
    assert status.variant == "int8-small"
    assert status.inputs[0].shape == ["batch", 3, 16, 16]
    assert host.input_specs("cam")[0].shape == ["batch", 3, 16, 16]
    assert host.infer("cam", {"image": np.ones((2, 3, 16, 16), np.float32)})["logits"].shape == (2, 4)
    with pytest.raises(InputError, match="size 32 on axis 2, expected 16"):
        host.submit("cam", {"image": IMAGE})


def test_swap_under_concurrent_load_fails_no_request(
    host: ModelHost, bundle_copy: Callable[..., Path], edit: Callable[..., Bundle]
) -> None:
    host.start([load_bundle(bundle_copy("cam"))], Budget(memory="1GiB", cpus=2))
    update = edit(bundle_copy("cam", as_name="cam-v2"), version="2.0.0")
    with Hammer(host, "cam", {"image": IMAGE}) as first, Hammer(host, "cam", {"image": IMAGE}) as second:
        assert host.swap("cam", variant="int8").variant == "int8"
        assert host.swap("cam", bundle=update).version == "2.0.0"
        reloaded = host.swap("cam")
    assert first.errors == []
    assert second.errors == []
    assert first.ok > 0
    assert second.ok > 0
    assert reloaded.variant == "fp32"
    assert reloaded.version == "2.0.0"
    assert any("swapped from int8 to fp32" in e.message for e in reloaded.events)


def test_higher_priority_model_evicts_the_least_recently_used_unpinned_one(
    host: ModelHost, bundle_copy: Callable[..., Path], edit: Callable[..., Bundle]
) -> None:
    pinned = edit(bundle_copy("cam", as_name="pinned"), name="pinned", pinned=True)
    plain = edit(bundle_copy("cam", as_name="plain"), name="plain")
    host.start([pinned, plain], Budget(memory="1GiB", cpus=2))
    host.infer("plain", {"image": IMAGE})  # plain is used more recently than pinned: still the one to go
    urgent = edit(bundle_copy("cam", as_name="urgent"), name="urgent", priority=5)
    assert host.add(urgent).state == "ready"
    evicted = host.model_status("plain")
    assert evicted.state == "evicted"
    assert evicted.reason.startswith("evicted to make room for 'urgent' (priority 5 > 0)")
    assert host.model_status("pinned").state == "ready"
    low = edit(bundle_copy("cam", as_name="low"), name="low", priority=-1)
    waiting = host.add(low)
    assert waiting.state == "not_loaded"
    assert "cores are never shared" in waiting.reason
    host.remove("urgent")
    assert host.model_status("plain").state == "ready"  # freed room goes back by placement order


def test_deadlines_overload_and_client_mistakes(
    host: ModelHost, bundle_copy: Callable[..., Path], edit: Callable[..., Bundle]
) -> None:
    bundle = edit(bundle_copy("heavy"), quota={"memory": "4GiB", "max_concurrency": 1, "max_queue": 0})
    host.start([bundle], Budget(memory="6GiB", cpus=1))
    slow = host.submit("heavy", {"input": np.ones((50_000, 16), np.float32)}, timeout=0.2)
    with pytest.raises(OverloadedError, match="already holds 1 requests") as overloaded:
        host.submit("heavy", {"input": ROW})
    assert overloaded.value.http_status == 429
    with pytest.raises(DeadlineExceededError, match="deadline") as late:
        slow.result(timeout=60)
    assert late.value.http_status == 504
    with pytest.raises(NotFoundError, match="no model named 'heavvy'") as unknown:
        host.submit("heavvy", {"input": ROW})
    assert "did you mean heavy" in str(unknown.value)
    with pytest.raises(InputError, match="dtype float64, expected float32"):
        host.submit("heavy", {"input": np.ones((1, 16))})


def test_infer_async_awaits_the_worker(host: ModelHost, built: dict[str, Path]) -> None:
    host.start([load_bundle(built["cam"])], Budget(memory="1GiB", cpus=1))

    async def many() -> list[dict[str, Any]]:
        return await asyncio.gather(*(host.infer_async("cam", {"image": IMAGE}) for _ in range(8)))

    results = asyncio.run(many())
    assert len(results) == 8
    assert all(r["logits"].shape == (1, 4) for r in results)


def test_an_allocation_past_the_address_space_cap_is_a_quota_breach(host: ModelHost, built: dict[str, Path]) -> None:
    host.start([load_bundle(built["heavy"])], Budget(memory="1GiB", cpus=1))
    enormous = {"input": np.ones((1_000_000, 16), np.float32)}  # asks for ~4 GB at once: refused by RLIMIT_AS
    with pytest.raises(QuotaExceededError, match=r"fp32 ran out of address space under its 300\.00 MiB quota"):
        host.infer("heavy", enormous, timeout=60)
    assert host.infer("heavy", {"input": ROW})["logits"].shape == (2, 4)
    assert host.model_status("heavy").variant == "int8"


def test_a_swap_without_room_keeps_the_old_worker_serving(
    host: ModelHost, bundle_copy: Callable[..., Path], edit: Callable[..., Bundle]
) -> None:
    path = bundle_copy("cam")
    sizes = {"fp32": 400 * MIB, "int8": 300 * MIB, "int8-small": 250 * MIB}
    variants = [v.model_copy(update={"memory_bytes": sizes[v.name]}) for v in load_bundle(path).manifest.variants]
    bundle = edit(path, variants=[v.model_dump() for v in variants], quota={"memory": "1GiB"})
    host.start([bundle], Budget(memory="500MiB", cpus=1))
    before = host.model_status("cam")
    with pytest.raises(BudgetError, match=r"int8 needs 300\.00 MiB \(measured\) but only 100\.00 MiB"):
        host.swap("cam", variant="int8")
    after = host.model_status("cam")
    assert (after.variant, after.pid, after.state) == ("fp32", before.pid, "ready")
    assert "not swapped, fp32 keeps serving" in after.events[-1].message
    assert host.infer("cam", {"image": IMAGE})["logits"].shape == (1, 4)
