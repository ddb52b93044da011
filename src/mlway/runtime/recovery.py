"""What happens after a worker dies: restart or fall back, and the requests that waited meanwhile."""

from __future__ import annotations

import functools
import time
from concurrent.futures import Future

from mlway.runtime.errors import DeadlineExceededError
from mlway.runtime.settings import HostSettings
from mlway.runtime.slot import Arrays, Queued, Slot
from mlway.runtime.worker import ExitCause, Worker


def after_exit(slot: Slot, variant: str, cause: ExitCause, settings: HostSettings) -> str:
    """Decide the fate of ``variant`` after its worker ended: returns the reason prefix for a restart,
    or "" after setting the variant aside (quota breach, or more than ``max_restarts`` crashes in the window)."""
    if cause.kind != "crash":
        slot.refused[variant] = cause.message
        return ""
    now = time.monotonic()
    window = settings.restart_window_s
    while slot.restart_times and slot.restart_times[0] < now - window:
        slot.restart_times.popleft()
    if len(slot.restart_times) >= settings.max_restarts:
        slot.refused[variant] = f"{cause.message}, more than {settings.max_restarts} times within {window:.0f} s"
        return ""
    slot.restart_times.append(now)
    slot.restarts += 1
    return (
        f"restarted after {cause.message} "
        f"(restart {len(slot.restart_times)} of {settings.max_restarts} within {window:.0f} s)"
    )


def late_error() -> DeadlineExceededError:
    return DeadlineExceededError(
        "the request waited for a worker to be replaced past its deadline",
        hint="raise the request timeout (timeout= on infer, or the server's request timeout)",
    )


def flush(backlog: list[Queued], worker: Worker) -> None:
    """Send requests that waited during a replacement to the new worker, keeping their futures."""
    for queued in backlog:
        if queued.future.done():
            continue
        if queued.deadline <= time.monotonic():
            queued.future.set_exception(late_error())
            continue
        inner = worker.submit(queued.inputs, queued.deadline)
        inner.add_done_callback(functools.partial(_forward_to, queued.future))


def expire(slot: Slot, now: float) -> None:
    """Fail the slot's queued requests whose deadline has passed."""
    with slot.lock:
        late = [q for q in slot.backlog if q.deadline <= now]
        slot.backlog = [q for q in slot.backlog if q.deadline > now]
    for queued in late:
        if not queued.future.done():
            queued.future.set_exception(late_error())


def _forward_to(outer: Future[Arrays], inner: Future[Arrays]) -> None:
    if outer.done():
        return
    error = inner.exception()
    if error is not None:
        outer.set_exception(error)
    else:
        outer.set_result(inner.result())
