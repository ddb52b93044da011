"""Crash loop: SIGKILL the edge agent again and again while the link flaps and the hub dies and restarts.

    flock /tmp/mlway-cpu.lock python benchmarks/edge/crash_loop.py [--kills 200] [--mid-batch-kills 60]

Everything is real: ``mlway edge run`` is a child process running the bundled model over a simulated
shift's two video files (read flat out and restarted at their end, so each life of the agent produces
events and summaries), its SQLite outbox lives in one state directory across every life, the uploads
cross a ``LinkProxy`` with the 2G profile (40 kbit/s, 300-1000 ms, resets, stalls) that a seeded thread
switches down and up, and the hub is a real ``mlway hub start`` process (``start_hub``) on one SQLite file.

One cycle: start the agent, wait a seeded random 0.5-5 s (so kills land during start-up, inference,
uploads and acknowledgements alike), SIGKILL it; now and then SIGKILL the hub too and start it again on
the same file. After each agent kill, while nothing runs on the outbox, the harness opens it and checks:

- its last sequence number never went down (a confirmed record is never forgotten);
- every confirmed record that left the outbox (acknowledged: 1..last_seq minus the ones still pending)
  is in the hub's database (read-only): the hub committed it before the agent deleted it.

Mid-batch run: the link stays up (2G, no flaps) and the hub is SIGKILLed as soon as upload bytes cross
the link (within 0-1.2 s, i.e. while the batch is in the link, the hub, or its answer is on the way back),
every cycle, while the agent is also killed at random. In both runs, 30% of the agent kills wait for the
hub's answer to start coming back down the link and land 0-50 ms later (between the hub's commit and the
outbox's deletion of the acknowledged records: the records are sent again and must not be stored twice).

At the end the link is switched up for good, the hub runs, a last agent runs and is stopped with SIGTERM
(a graceful stop writes its final summary), and the records still in the outbox are sent by mlway's own
``Uploader`` (the agent's uplink code). Then: the hub's (device, seq) set must equal 1..last_seq (the
outbox confirmed every number it handed out, and none is pending), each once; every event id on the hub
has its records in order (start first, at most one end, last) and the hub's event row agrees with them.
Duplicates the hub acknowledged without storing come from its /metrics, read before every hub kill.
Results: benchmarks/edge/results/crash_loop.md (+ .json).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from machine_info import machine

import mlway.assets
from mlway.core.clock import Stamp
from mlway.core.wire import Clock, Heartbeat
from mlway.edge.outbox import Outbox
from mlway.edge.uploader import UplinkConfig, Uploader
from mlway.hub.testing import RunningHub, start_hub
from mlway.sim.link import LinkProfile, LinkProxy

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
DEVICE = "combine-01"
MAX_BYTES = 64 * 2**20
SHIFT_ARGS = ["--machines", "1", "--hours", "0.07", "--fps", "1", "--seed", "8", "--failure-rate", "1",
              "--start-hour", "11", "--size", "320x240"]  # fmt: skip
"""The same short shift as tests/integration/edge/conftest.py (252 s of one combine at 1 frame/s)."""


@dataclass
class Plan:
    """One crash-loop run."""

    kills: int
    seed: int = 6
    life_s: tuple[float, float] = (0.5, 5.0)
    hub_kill_p: float = 0.15
    """Chance per cycle that the hub is SIGKILLed (at a random moment of the cycle) and restarted."""
    hub_down_s: tuple[float, float] = (0.0, 2.0)
    flap_up_s: tuple[float, float] = (0.5, 4.0)
    flap_down_s: tuple[float, float] = (0.3, 3.0)
    answer_kill_p: float = 0.3
    """Chance per cycle that the agent is killed right as the hub's answer comes back down the link (0-50 ms
    after the first bytes), the moment between the hub's commit and the outbox's deletion: resends."""
    latency_s: tuple[float, float] = (0.3, 1.0)
    """The link's one-way latency per chunk (2G: 0.3-1.0 s); bandwidth, resets and stalls are 2G's always."""
    mid_batch: bool = False
    """Link always up; the hub is killed when upload bytes cross the link, every cycle."""
    final_run_s: float = 4.0
    drain_timeout_s: float = 180.0


@dataclass
class Result:
    plan: dict[str, Any]
    agent_kills: int = 0
    agent_kills_before_ready: int = 0
    """Kills that landed before the agent had written a status.json (still starting up)."""
    agent_kills_on_answer: int = 0
    hub_kills: int = 0
    hub_kills_mid_batch: int = 0
    link_flaps: int = 0
    link_stats: dict[str, Any] = field(default_factory=dict)
    last_seq: int = 0
    pending_at_end: int = 0
    hub_records: int = 0
    hub_distinct: int = 0
    hub_events: int = 0
    hub_event_records: int = 0
    hub_summary_records: int = 0
    events_open_on_hub: int = 0
    """Events still open on the hub at the end (none expected: the last life ends what it and killed lives left
    open)."""
    events_interrupted: int = 0
    """Events ended at an agent start because a killed life left them open (their end is marked interrupted)."""
    duplicates_acknowledged: int = 0
    lost: int = 0
    extra: int = 0
    duplicated: int = 0
    violations: list[str] = field(default_factory=list)
    seq_drops: int = 0
    max_pending_seen: int = 0
    acked_during_loop: int = 0
    """Records acknowledged (deleted from the outbox) before the last kill, each checked on the hub at every kill."""
    wall_s: float = 0.0
    drain_s: float = 0.0

    @property
    def exact(self) -> bool:
        return (not self.violations and self.lost == 0 and self.extra == 0 and self.duplicated == 0
                and self.events_open_on_hub == 0)  # fmt: skip


def make_shift(cache: Path) -> Path:
    """The short simulated shift, written once under ``cache`` (the tests' fixture writes the same)."""
    out = cache / ("shift-" + "-".join(a.strip("-") for a in SHIFT_ARGS))
    if not (out / "manifest.json").is_file():
        staging = out.with_name(out.name + f".tmp{os.getpid()}")
        done = subprocess.run([sys.executable, "-m", "mlway", "sim", "shift", "--out", str(staging), *SHIFT_ARGS],
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"mlway sim shift failed: {done.stderr[-2000:]}")
        staging.rename(out)
    return out


def agent_config(shift: Path, state: Path, url: str, token: str) -> dict[str, Any]:
    videos = json.loads((shift / "manifest.json").read_text())["machines"][0]["videos"]
    cameras = [{"name": cam, "source": str(shift / videos[cam]), "pace": "fast", "on_end": "restart"}
               for cam in ("header", "auger")]  # fmt: skip
    # the bundle's tuned smoothing, with an update every 60 s of stream time instead of 10: the files play
    # ~100x faster than real time, and 2G could not carry ten updates per event at that pace
    smoothing = json.loads((Path(mlway.assets.__file__).parent / "harvest-cam" / "smoothing.json").read_text())
    return {
        "device_id": DEVICE, "state_dir": str(state), "model": {"name": "harvest-cam", "threads": 1},
        "smoothing": smoothing | {"update_every_s": 60.0}, "cameras": cameras, "alerts": {"log": True},
        "summary_every_s": 1, "status_every_s": 0.5,
        "store": {"max_bytes": MAX_BYTES},
        "hub": {"url": url, "token": token, "batch_records": 25, "timeout_s": 4, "connect_timeout_s": 2,
                "backoff_base_s": 0.2, "backoff_max_s": 1.5, "poll_s": 0.2, "heartbeat_s": 2},
    }  # fmt: skip


def outbox_view(state: Path) -> tuple[int, set[int]]:
    """(last seq, pending seqs) of the outbox, opened while no agent runs."""
    with closing(Outbox.open(state / "outbox.db", DEVICE, max_bytes=MAX_BYTES)) as outbox:
        return outbox.stats().last_seq, {r.seq for r in outbox.pending(10**6)}


def hub_seqs(db: Path) -> list[int]:
    """Every seq the hub stored for the device (a list: a repeat would show twice), read-only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return [int(s) for (s,) in conn.execute("SELECT seq FROM records WHERE device_id = ?", (DEVICE,))]
    finally:
        conn.close()


def duplicates_metric(hub: RunningHub) -> int:
    """The hub's count of repeated records it acknowledged without storing (since it started)."""
    try:
        with urllib.request.urlopen(hub.url + "/metrics", timeout=3) as response:
            text = response.read().decode()
    except OSError:
        return 0
    match = re.search(r"^mlway_hub_records_duplicate_total(?:\{[^}]*\})?\s+([0-9.e+]+)$", text, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


class Flapper:
    """Switches the link down and up for seeded random durations until stopped, then leaves it up."""

    def __init__(self, link: LinkProxy, plan: Plan, rng: random.Random) -> None:
        self.link, self.plan, self.rng = link, plan, rng
        self.flaps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.rng.uniform(*self.plan.flap_up_s)):
            self.link.set_up(False)
            self.flaps += 1
            if self._stop.wait(self.rng.uniform(*self.plan.flap_down_s)):
                break
            self.link.set_up(True)
        self.link.set_up(True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.link.set_up(True)


class Agent:
    """``mlway edge run`` as a child process; its output is appended to ``log``."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = os.environ | {"NO_COLOR": "1", "COLUMNS": "200"}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mlway", "edge", "run", "--config", str(self.config)],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip

    def kill(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def heartbeat_of(outbox: Outbox) -> Any:
    def beat() -> Heartbeat:
        s, now = outbox.stats(), Stamp.now()
        return Heartbeat(
            device_id=DEVICE, clock=Clock(wall=now.wall, mono=now.mono, boot_id=now.boot_id, trusted=now.trusted),
            backlog_records=s.backlog_records, backlog_oldest_age_s=s.backlog_oldest_age_s,
            disk_free_bytes=s.disk_free_bytes, store_bytes=s.store_bytes,
        )  # fmt: skip

    return beat


def drain(state: Path, url: str, token: str, timeout_s: float) -> float:
    """Send what is left in the outbox with the agent's own Uploader; seconds it took."""
    started = time.monotonic()
    with closing(Outbox.open(state / "outbox.db", DEVICE, max_bytes=MAX_BYTES)) as outbox:
        config = UplinkConfig(url=url, token=token, device_id=DEVICE, batch_records=200, timeout_s=10,
                              connect_timeout_s=5, backoff_base_s=0.2, backoff_max_s=2, poll_s=0.1)  # fmt: skip
        uploader = Uploader(outbox, config, heartbeat=heartbeat_of(outbox))
        uploader.start()
        try:
            while outbox.stats().backlog_records:
                if time.monotonic() - started > timeout_s:
                    raise RuntimeError(f"the outbox did not drain in {timeout_s} s: {uploader.status()}")
                time.sleep(0.1)
        finally:
            uploader.stop(10)
    return time.monotonic() - started


def check_events(db: Path) -> tuple[int, int, int, list[str]]:
    """(events, open events, interrupted events, problems): each event id's records are start, updates, at
    most one end (last), and the hub's event row agrees with its records."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        kinds: dict[str, list[tuple[int, str]]] = {}
        interrupted = 0
        for seq, payload in conn.execute("SELECT seq, payload FROM records WHERE type = 'event' ORDER BY seq"):
            body = json.loads(payload)
            kinds.setdefault(body["event_id"], []).append((int(seq), body["kind"]))
            interrupted += bool(body.get("interrupted"))
        query = "SELECT event_id, state, updates, last_seq FROM events WHERE device_id = ?"
        rows = {e: (state, updates, last) for e, state, updates, last in conn.execute(query, (DEVICE,))}
    finally:
        conn.close()
    problems = []
    for event_id, seq_kinds in kinds.items():
        names = [k for _, k in seq_kinds]
        if names[0] != "start" or names.count("start") != 1:
            problems.append(f"event {event_id}: records {names} do not begin with one start")
        if names.count("end") > 1 or ("end" in names and names[-1] != "end"):
            problems.append(f"event {event_id}: records {names} have an end that is not the single last one")
        row = rows.get(event_id)
        expected = ("ended" if "end" in names else "open", len(names), seq_kinds[-1][0])
        if row != expected:
            problems.append(f"event {event_id}: hub row {row} but its records say {expected}")
    if set(rows) != set(kinds):
        problems.append(f"hub event rows without records or records without rows: {set(rows) ^ set(kinds)}")
    open_events = sum(1 for names in kinds.values() if "end" not in [k for _, k in names])
    return len(kinds), open_events, interrupted, problems


def wait_bytes(link: LinkProxy, deadline_s: float, *, down: bool = False) -> bool:
    """Wait until bytes cross the link upwards (a batch or heartbeat is in flight) or ``down`` (an answer comes
    back); False at the deadline."""

    def count() -> int:
        stats = link.stats()
        return stats.bytes_down if down else stats.bytes_up

    before = count()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if count() > before:
            return True
        time.sleep(0.01)
    return False


def run(plan: Plan, work: Path, shift: Path, progress: Any = print) -> Result:
    """See the module docstring."""
    rng = random.Random(plan.seed)
    result = Result(plan=asdict(plan))
    state = work / "state"
    started = time.monotonic()
    with start_hub(work / "hub.db") as hub:
        token = hub.add_device(DEVICE)
        profile = LinkProfile.gsm_2g(seed=plan.seed, latency_min_s=plan.latency_s[0], latency_max_s=plan.latency_s[1])
        with LinkProxy(upstream=("127.0.0.1", hub.port), profile=profile) as link:
            url = link.url_for("/").rstrip("/")
            config = work / "edge.yaml"
            config.write_text(yaml.safe_dump(agent_config(shift, state, url, token)))
            flapper = Flapper(link, plan, random.Random(plan.seed + 1))
            if not plan.mid_batch:
                flapper.start()
            agent = Agent(config, work / "agent.log")
            try:
                for cycle in range(plan.kills):
                    cycle_once(plan, rng, result, agent, hub, link, state, cycle)
                    if cycle % 10 == 9:
                        progress(
                            f"cycle {cycle + 1}/{plan.kills}: last_seq {result.last_seq}, acknowledged "
                            f"{result.acked_during_loop}, hub kills {result.hub_kills}, flaps {flapper.flaps}"
                        )
            finally:
                agent.kill()
                flapper.stop()
            result.link_flaps = flapper.flaps
            # the last life: link up, hub up; a graceful stop, then what is left goes by the agent's uploader
            agent.start()
            time.sleep(plan.final_run_s)
            code = agent.terminate()
            if code != 0:
                result.violations.append(f"the last agent's graceful stop exited with {code}")
            result.drain_s = drain(state, url, token, plan.drain_timeout_s)
            result.link_stats = asdict(link.stats())
        result.duplicates_acknowledged += duplicates_metric(hub)
        result.last_seq, pending = outbox_view(state)
        result.pending_at_end = len(pending)
        stored = hub_seqs(hub.data)
    result.hub_records, result.hub_distinct = len(stored), len(set(stored))
    confirmed = set(range(1, result.last_seq + 1)) - pending
    result.lost = len(confirmed - set(stored))
    result.extra = len(set(stored) - set(range(1, result.last_seq + 1)))
    result.duplicated = len(stored) - len(set(stored))
    result.hub_events, result.events_open_on_hub, result.events_interrupted, problems = check_events(work / "hub.db")
    result.violations += problems
    with closing(sqlite3.connect(f"file:{work / 'hub.db'}?mode=ro", uri=True)) as conn:
        counts = dict(conn.execute("SELECT type, COUNT(*) FROM records GROUP BY type").fetchall())
    result.hub_event_records, result.hub_summary_records = counts.get("event", 0), counts.get("summary", 0)
    result.wall_s = time.monotonic() - started
    return result


def cycle_once(
    plan: Plan, rng: random.Random, result: Result, agent: Agent, hub: RunningHub, link: LinkProxy, state: Path,
    cycle: int,
) -> None:  # fmt: skip
    """One life of the agent, ended by SIGKILL (the hub maybe killed and restarted meanwhile), then the checks."""
    with contextlib.suppress(FileNotFoundError):
        (state / "status.json").unlink()
    agent.start()
    life = rng.uniform(*plan.life_s)
    t0 = time.monotonic()
    if plan.mid_batch or rng.random() < plan.hub_kill_p:
        if plan.mid_batch:
            hit = wait_bytes(link, life)
            time.sleep(rng.uniform(0.0, 1.2))
        else:
            time.sleep(rng.uniform(0, life))
            hit = False
        result.duplicates_acknowledged += duplicates_metric(hub)
        hub.kill()
        result.hub_kills += 1
        result.hub_kills_mid_batch += int(hit)
        time.sleep(rng.uniform(*plan.hub_down_s))
        hub.start()
    time.sleep(max(0.0, life - (time.monotonic() - t0)))
    if rng.random() < plan.answer_kill_p and wait_bytes(link, plan.life_s[1], down=True):
        time.sleep(rng.uniform(0.0, 0.05))
        result.agent_kills_on_answer += 1
    if not (state / "status.json").exists():
        result.agent_kills_before_ready += 1
    agent.kill()
    result.agent_kills += 1
    seq, pending = outbox_view(state)
    if seq < result.last_seq:
        result.seq_drops += 1
        result.violations.append(f"cycle {cycle}: outbox last_seq went down {result.last_seq} -> {seq}")
    result.last_seq = seq
    result.max_pending_seen = max(result.max_pending_seen, len(pending))
    acked = set(range(1, seq + 1)) - pending
    missing = acked - set(hub_seqs(hub.data))
    if missing:
        result.violations.append(
            f"cycle {cycle}: {len(missing)} acknowledged records not on the hub, e.g. {sorted(missing)[:5]}"
        )
    result.acked_during_loop = len(acked)


ROWS = [
    ("agent SIGKILLs", "agent_kills"), ("... of them during start-up (no status.json yet)", "agent_kills_before_ready"),
    ("... of them 0-50 ms after the hub's answer began to arrive", "agent_kills_on_answer"),
    ("hub SIGKILLs + restarts", "hub_kills"),
    ("... of them while upload bytes crossed the link", "hub_kills_mid_batch"),
    ("link flaps (down, then up)", "link_flaps"), ("records confirmed by the outbox (last seq)", "last_seq"),
    ("still pending after the drain", "pending_at_end"), ("records stored on the hub", "hub_records"),
    ("... distinct (device, seq)", "hub_distinct"), ("... events / summaries", None),
    ("event ids on the hub", "hub_events"), ("... ended at a restart (interrupted)", "events_interrupted"),
    ("... still open at the end", "events_open_on_hub"),
    ("resent duplicates acknowledged by the hub", "duplicates_acknowledged"),
    ("most records pending at one kill", "max_pending_seen"),
    ("records acknowledged during the kill loop (checked on the hub)", "acked_during_loop"),
    ("lost (confirmed, not on the hub)", "lost"), ("extra (on the hub, never confirmed)", "extra"),
    ("duplicated (stored twice)", "duplicated"), ("invariant violations", None), ("final drain (s)", "drain_s"),
    ("wall time (s)", "wall_s"),
]  # fmt: skip


def report(results: dict[str, Result], info: dict[str, Any], command: str) -> str:
    names = list(results)
    lines = [
        "# Crash loop: agent SIGKILLed at random, link flapping, hub SIGKILLed and restarted",
        "",
        f"`{command}` (benchmarks/edge/crash_loop.py; its docstring describes the method).",
        "",
        (
            f"Machine: {info['cores']} cores, {info['cpu']}, Linux {info['kernel']}, Python {info['python']}, "
            f"SQLite {info['sqlite']}. Commit {info['commit']}, {info['date']}."
        ),
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for title, key in ROWS:
        cells = []
        for r in results.values():
            if key is None and title.startswith("..."):
                cells.append(f"{r.hub_event_records} / {r.hub_summary_records}")
            elif key is None:
                cells.append(str(len(r.violations)))
            else:
                value = getattr(r, key)
                cells.append(f"{value:.1f}" if isinstance(value, float) else str(value))
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines += ["", "Verdict: " + ", ".join(
        f"{n}: {'exact (hub == confirmed, none lost, none twice, none left open)' if r.exact else 'NOT EXACT'}"
        for n, r in results.items())]  # fmt: skip
    for n, r in results.items():
        lines += [f"- {n} violations: {v}" for v in r.violations[:20]]
    lines += [
        "",
        "Records: events (start/update/end of each event) and 1 s summaries. An event open when its agent was",
        "killed is ended by the next agent's start (at its last recorded frame, `interrupted: true`), so no",
        "event stays open on the hub; the verdict requires none open at the end.",
        "Duplicates: resent records the hub acknowledged without storing (its /metrics counter, read before",
        "every hub kill and at the end; a kill can lose the last few counts, never stored rows).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--mid-batch-kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    shift = make_shift(ROOT / ".cache" / "edge")
    info = machine(["src/mlway/edge", "src/mlway/hub"])
    results: dict[str, Result] = {}
    runs = [
        ("flapping link", Plan(kills=args.kills, seed=args.seed, latency_s=(0.05, 0.3))),
        ("hub killed mid-batch", Plan(kills=args.mid_batch_kills, seed=args.seed + 100, mid_batch=True)),
    ]
    for name, plan in runs:
        if plan.kills <= 0:
            continue
        with tempfile.TemporaryDirectory(prefix="mlway-crash-") as tmp:
            print(f"== {name}: {plan.kills} kills", flush=True)
            results[name] = run(plan, Path(tmp), shift, progress=lambda s: print(s, flush=True))
            print(json.dumps(asdict(results[name]), default=str)[:2000], flush=True)
    command = "flock /tmp/mlway-cpu.lock python benchmarks/edge/crash_loop.py " + " ".join(sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "crash_loop.json").write_text(
        json.dumps({"machine": info, "command": command, "runs": {n: asdict(r) for n, r in results.items()}}, indent=1)
    )
    text = report(results, info, command.strip())
    (args.out / "crash_loop.md").write_text(text)
    print(text)
    if not all(r.exact for r in results.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
