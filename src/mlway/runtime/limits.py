"""Process limits and readings: core affinity, the address-space cap, resident memory from /proc."""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

# Virtual reservations that are not memory use: allocator arenas (64 MiB each, capped by
# MALLOC_ARENA_MAX in workers), thread stacks, the engine's shared libraries mapped later.
ADDRESS_SPACE_ALLOWANCE = 2 * 1024**3


def available_cpus() -> list[int]:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))  # pragma: no cover - non-Linux


def pin_to(cpu_ids: tuple[int, ...]) -> None:
    """Restrict this process (and the threads it starts later) to ``cpu_ids``."""
    if cpu_ids and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpu_ids)


def rss_of(pid: int) -> int | None:
    """Resident memory of a process in bytes, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    except OSError:  # pragma: no cover - non-Linux
        return _rss_psutil(pid)
    return int(fields[1]) * _PAGE


def _rss_psutil(pid: int) -> int | None:  # pragma: no cover - non-Linux
    try:
        import psutil  # noqa: PLC0415 - only where /proc is absent

        return int(psutil.Process(pid).memory_info().rss)
    except Exception:  # noqa: BLE001 - any failure means "no reading"
        return None


def _status_field(name: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_self() -> int:
    """Peak resident memory of this process (VmHWM), in bytes."""
    return _status_field("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_self() -> int:
    return _status_field("VmRSS")


def cap_address_space(memory_limit: int) -> int | None:
    """Cap this process's address space at its current size + 2 x the memory quota + an allowance.

    A backstop for allocations too fast for the RSS watchdog: past it, allocation fails inside the
    worker (reported as a quota breach) instead of the machine swapping. Returns the cap set.
    """
    current = _status_field("VmSize")
    if not current:
        return None
    cap = current + 2 * memory_limit + ADDRESS_SPACE_ALLOWANCE
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    return cap
