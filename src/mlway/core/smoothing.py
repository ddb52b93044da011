"""Per-frame class scores -> smoothed scores -> events with stable ids; and event matching for evaluation.

Shared by the edge agent (live) and ``mlway curate`` (benchmarks). Pure Python, no numpy::

    smoother = EventSmoother(["idle", "harvesting", "unloading", "unloading_failure"], source="combine-07/auger")
    for time_s, probs in frames:                     # probabilities per class, one frame at a time
        for update in smoother.push(time_s, probs):  # EventUpdate: start | update | end
            ...
    smoother.close()                                 # ends what is still open (end of stream)

Per frame, in order:

1. the scores are averaged over the last ``window`` frames (``method="mean"``, as the talk did; with
   ``window_s``, over the frames of the last ``window_s`` seconds) or exponentially (``method="ema"``,
   weight ``alpha`` on the newest frame);
2. per event class (every label but the ``background`` ones), hysteresis: a candidate opens at the
   frame whose smoothed score reaches ``enter`` and stays open while the score is at least ``exit``;
3. a candidate that has lasted ``min_duration_s`` (first to latest frame time) becomes an event: a
   ``start`` update. A candidate that falls below ``exit`` earlier is dropped silently;
4. an event whose score falls below ``exit`` ends once it stayed below for more than ``min_gap_s``
   (a shorter dip that climbs back to ``enter`` continues the same event); its ``end_s`` is the last
   frame at or above ``exit``;
5. an open event is *unsure* while its smoothed score is below ``sure``; an ``update`` is emitted when
   that changed and held for ``min_duration_s`` (so the fall at an event's end is not reported), and
   every ``update_every_s`` with the running confidence.

Times are the frames' own times (seconds, any origin, non-decreasing per smoother); a gap longer than
``max_gap_s`` ends open events at the last frame before the gap and restarts the averages.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, model_validator

from mlway.core.errors import InputError
from mlway.core.model import StrictModel

UpdateKind = Literal["start", "update", "end"]


class Thresholds(StrictModel):
    """Per-label overrides of the hysteresis and duration settings (unset fields keep the global value)."""

    enter: float | None = Field(default=None, gt=0, le=1, description="Smoothed score that opens a candidate.")
    exit: float | None = Field(default=None, ge=0, lt=1, description="Smoothed score below which an event closes.")
    min_duration_s: float | None = Field(default=None, ge=0, le=3600, description="Seconds before a start fires.")
    min_gap_s: float | None = Field(default=None, ge=0, le=3600, description="Dip below exit that is bridged.")


_NO_OVERRIDES = Thresholds()


class SmoothingConfig(StrictModel):
    """How per-frame scores become events. Defaults suit 1-5 frames per second per camera."""

    method: Literal["mean", "ema"] = Field(default="mean", description="Moving average or exponential average.")
    window: int = Field(default=5, ge=1, le=1000, description="Frames in the moving average (method=mean).")
    window_s: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="If set, the moving average covers the frames of the last window_s seconds instead (at most "
        "`window` of them), so the same setting suits any frame rate.",
    )
    alpha: float = Field(default=0.4, gt=0, le=1, description="Weight of the newest frame (method=ema).")
    enter: float = Field(default=0.6, gt=0, le=1, description="Smoothed score that opens an event candidate.")
    exit: float = Field(default=0.4, ge=0, lt=1, description="Smoothed score below which an event closes.")
    min_duration_s: float = Field(default=2.0, ge=0, le=3600, description="Seconds a candidate lasts to start.")
    min_gap_s: float = Field(default=2.0, ge=0, le=3600, description="Dips below exit up to this long are bridged.")
    sure: float = Field(default=0.7, gt=0, le=1, description="An open event scoring below this is unsure.")
    update_every_s: float = Field(default=10.0, ge=0, le=86400, description="Periodic updates; 0 = on change only.")
    max_gap_s: float = Field(default=10.0, gt=0, le=86400, description="A longer gap between frames ends events.")
    background: list[str] = Field(default=["idle"], max_length=1000, description="Labels that never form events.")
    labels: dict[str, Thresholds] = Field(default_factory=dict, description="Per-label overrides.")

    @model_validator(mode="after")
    def _ordered(self) -> SmoothingConfig:
        for label in [None, *self.labels]:
            enter, exit_ = self.rule(label)[:2]
            if exit_ > enter:
                where = f"labels.{label}" if label else "config"
                raise ValueError(f"{where}: exit {exit_} is above enter {enter}; exit must be <= enter (hysteresis)")
        return self

    def rule(self, label: str | None) -> tuple[float, float, float, float]:
        """(enter, exit, min_duration_s, min_gap_s) for ``label``."""
        o = self.labels.get(label or "") or _NO_OVERRIDES
        return (
            self.enter if o.enter is None else o.enter,
            self.exit if o.exit is None else o.exit,
            self.min_duration_s if o.min_duration_s is None else o.min_duration_s,
            self.min_gap_s if o.min_gap_s is None else o.min_gap_s,
        )


@dataclass(frozen=True, slots=True)
class EventUpdate:
    """One change of one event. ``event_id`` is the same for its start, updates and end."""

    kind: UpdateKind
    event_id: str
    label: str
    source: str
    start_s: float
    """Time of the frame where the event's smoothed score first reached ``enter``."""
    time_s: float
    """Time of the frame that caused this update."""
    end_s: float | None
    """``end`` only: time of the event's last frame at or above ``exit``."""
    confidence: float
    """The label's smoothed score at ``time_s`` (``end``: the mean over the event)."""
    peak: float
    mean: float
    frames: int
    unsure: bool


@dataclass(frozen=True, slots=True)
class SmoothedFrame:
    """The stream's state after a frame: the top smoothed label, its score and whether that is unsure."""

    time_s: float
    label: str
    confidence: float
    unsure: bool
    scores: tuple[float, ...]


@dataclass(slots=True)
class _Track:
    label: str
    start_s: float
    last_s: float  # time of the last frame at or above exit
    event_id: str = ""
    confirmed: bool = False
    below_since: float | None = None
    unsure: bool = False
    flip_since: float | None = None
    last_emit_s: float = 0.0
    total: float = 0.0
    peak: float = 0.0
    frames: int = 0

    def add(self, time_s: float, score: float) -> None:
        self.last_s = time_s
        self.total += score
        self.peak = max(self.peak, score)
        self.frames += 1

    @property
    def mean(self) -> float:
        return self.total / self.frames if self.frames else 0.0

    def update(self, kind: UpdateKind, source: str, time_s: float, confidence: float, sure: float) -> EventUpdate:
        ending = kind == "end"
        return EventUpdate(
            kind=kind,
            event_id=self.event_id,
            label=self.label,
            source=source,
            start_s=self.start_s,
            time_s=time_s,
            end_s=self.last_s if ending else None,
            confidence=round(self.mean if ending else confidence, 6),
            peak=round(self.peak, 6),
            mean=round(self.mean, 6),
            frames=self.frames,
            unsure=self.mean < sure if ending else self.unsure,
        )


def softmax(logits: Sequence[float]) -> list[float]:
    """Probabilities from logits (for models that output logits)."""
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


class EventSmoother:
    """Turns one stream's per-frame class probabilities into events (see the module docstring)."""

    def __init__(
        self,
        labels: Sequence[str],
        config: SmoothingConfig | None = None,
        *,
        source: str = "",
        id_factory: Callable[[str], str] | None = None,
    ) -> None:
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise InputError(f"labels {list(labels)} must name at least two distinct classes")
        self.config = config or SmoothingConfig()
        unknown = sorted((set(self.config.background) | set(self.config.labels)) - set(labels))
        if unknown:
            raise InputError(f"smoothing config names {unknown}, not among the model's labels {list(labels)}")
        self.labels = tuple(labels)
        self.source = source
        self._events = [i for i, name in enumerate(labels) if name not in self.config.background]
        self._rules = [self.config.rule(name) for name in labels]  # per frame, a lookup (the config is read once)
        self._count = 0
        self._id_factory = id_factory or self._default_id
        self._tracks: dict[int, _Track] = {}
        self._recent: deque[tuple[float, tuple[float, ...]]] = deque(maxlen=self.config.window)
        self._ema: list[float] | None = None
        self._last_time: float | None = None
        self.last: SmoothedFrame | None = None

    def _default_id(self, label: str) -> str:
        self._count += 1
        prefix = f"{self.source}/" if self.source else ""
        return f"{prefix}{label}/{self._count}"

    def _smooth(self, time_s: float, scores: tuple[float, ...]) -> list[float]:
        if self.config.method == "ema":
            a = self.config.alpha
            self._ema = (
                list(scores)
                if self._ema is None
                else [a * s + (1 - a) * e for s, e in zip(scores, self._ema, strict=True)]
            )
            return list(self._ema)
        self._recent.append((time_s, scores))
        span = self.config.window_s
        while span is not None and self._recent[0][0] <= time_s - span:
            self._recent.popleft()
        n = len(self._recent)
        return [sum(frame[i] for _, frame in self._recent) / n for i in range(len(scores))]

    def _check(self, time_s: float, scores: Sequence[float]) -> tuple[float, ...]:
        if len(scores) != len(self.labels):
            raise InputError(f"{len(scores)} scores for {len(self.labels)} labels {list(self.labels)}")
        values = tuple(float(s) for s in scores)
        if not all(0.0 <= v <= 1.0 for v in values):  # also rejects NaN
            raise InputError(f"scores {values} are not probabilities in [0, 1]", hint="apply softmax to logits first")
        if not math.isfinite(time_s):
            raise InputError(f"frame time {time_s} is not a finite number of seconds")
        if self._last_time is not None and time_s < self._last_time:
            raise InputError(f"frame time {time_s} is before the previous frame's {self._last_time}",
                             hint="feed each stream's frames in time order, one smoother per stream")  # fmt: skip
        return values

    def push(self, time_s: float, scores: Sequence[float]) -> list[EventUpdate]:
        """Add one frame's class probabilities; return the event updates it causes, ends first."""
        values = self._check(time_s, scores)
        out: list[EventUpdate] = []
        if self._last_time is not None and time_s - self._last_time > self.config.max_gap_s:
            out += self.close()
        self._last_time = time_s
        smoothed = self._smooth(time_s, values)
        for index in self._events:
            out += self._step(index, time_s, smoothed[index])
        top = max(range(len(smoothed)), key=smoothed.__getitem__)
        self.last = SmoothedFrame(time_s, self.labels[top], smoothed[top], smoothed[top] < self.config.sure,
                                  tuple(smoothed))  # fmt: skip
        out.sort(key=lambda u: u.kind != "end")
        return out

    def _step(self, index: int, time_s: float, score: float) -> list[EventUpdate]:
        label = self.labels[index]
        enter, exit_, min_duration, min_gap = self._rules[index]
        track = self._tracks.get(index)
        if track is None:
            if score < enter:
                return []
            track = self._tracks[index] = _Track(label, time_s, time_s)
        elif score < exit_ or (track.below_since is not None and score < enter):
            return self._below(index, track, time_s, min_gap)
        track.below_since = None
        track.add(time_s, score)
        if not track.confirmed:
            return self._maybe_start(track, time_s, score, min_duration)
        return self._maybe_update(track, time_s, score, min_duration)

    def _below(self, index: int, track: _Track, time_s: float, min_gap: float) -> list[EventUpdate]:
        """A frame below ``exit`` (or still in a dip, below ``enter``): drop a candidate, end an event after the gap."""
        if not track.confirmed:
            del self._tracks[index]
            return []
        if track.below_since is None:
            track.below_since = time_s
        if time_s - track.last_s > min_gap:
            del self._tracks[index]
            return [track.update("end", self.source, time_s, 0.0, self.config.sure)]
        return []

    def _maybe_start(self, track: _Track, time_s: float, score: float, min_duration: float) -> list[EventUpdate]:
        if time_s - track.start_s < min_duration:
            return []
        track.confirmed = True
        track.event_id = self._id_factory(track.label)
        track.unsure = score < self.config.sure
        track.last_emit_s = time_s
        return [track.update("start", self.source, time_s, score, self.config.sure)]

    def _maybe_update(self, track: _Track, time_s: float, score: float, hold: float) -> list[EventUpdate]:
        """Report a change of the unsure state once it held for ``hold`` seconds, and periodic updates."""
        unsure = score < self.config.sure
        if unsure == track.unsure:
            track.flip_since = None
        elif track.flip_since is None:
            track.flip_since = time_s
        flip = track.flip_since is not None and time_s - track.flip_since >= hold
        every = self.config.update_every_s
        if not flip and not (every and time_s - track.last_emit_s >= every):
            return []
        if flip:
            track.unsure, track.flip_since = unsure, None
        track.last_emit_s = time_s
        return [track.update("update", self.source, time_s, score, self.config.sure)]

    def close(self) -> list[EventUpdate]:
        """End every open event at its last frame (end of stream, or a gap); drop unconfirmed candidates."""
        time_s = self._last_time or 0.0
        out = [
            t.update("end", self.source, time_s, 0.0, self.config.sure)
            for _, t in sorted(self._tracks.items())
            if t.confirmed
        ]
        self._tracks.clear()
        self._recent.clear()
        self._ema = None
        return out


@dataclass(frozen=True, slots=True)
class Span:
    """A labelled time interval of one source: a ground-truth event or a finished predicted one."""

    label: str
    source: str
    start_s: float
    end_s: float


def smooth_series(
    labels: Sequence[str],
    frames: Iterable[tuple[float, Sequence[float]]],
    config: SmoothingConfig | None = None,
    *,
    source: str = "",
) -> list[Span]:
    """The finished events of one stream of (time, probabilities) frames, in start order."""
    smoother = EventSmoother(labels, config, source=source)
    updates = [u for time_s, scores in frames for u in smoother.push(time_s, scores)] + smoother.close()
    ends = [u for u in updates if u.kind == "end"]
    return sorted((Span(u.label, u.source, u.start_s, u.end_s or u.start_s) for u in ends), key=lambda s: s.start_s)


def iou(a: Span, b: Span) -> float:
    """Intersection over union of two time intervals (1.0 for two equal instants)."""
    inter = min(a.end_s, b.end_s) - max(a.start_s, b.start_s)
    union = max(a.end_s, b.end_s) - min(a.start_s, b.start_s)
    if union <= 0:
        return 1.0 if inter == 0 else 0.0
    return max(0.0, inter) / union


@dataclass(frozen=True, slots=True)
class EventScore:
    """Event-level precision and recall of one label: one-to-one matches at ``iou >= min_iou``."""

    label: str
    true_positives: int
    false_positives: int
    false_negatives: int
    pairs: tuple[tuple[Span, Span], ...] = field(default=(), repr=False)
    """(predicted, truth) of each match."""

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_positives + self.false_negatives
        return self.true_positives / real if real else 1.0


def match_events(predicted: Sequence[Span], truth: Sequence[Span], label: str, *, min_iou: float = 0.3) -> EventScore:
    """Match ``label``'s events of the same source one to one, highest IoU first, keeping pairs with IoU >= min_iou.

    A predicted event is a true positive when it is matched, a false positive otherwise; a true event
    left unmatched is a false negative. Precision (recall) is 1.0 when nothing was predicted (true).
    """
    pred = [p for p in predicted if p.label == label]
    real = [t for t in truth if t.label == label]
    candidates = sorted(
        ((iou(p, t), i, j) for i, p in enumerate(pred) for j, t in enumerate(real) if p.source == t.source),
        key=lambda c: (-c[0], c[1], c[2]),
    )
    used_p: set[int] = set()
    used_t: set[int] = set()
    pairs: list[tuple[Span, Span]] = []
    for overlap, i, j in candidates:
        if overlap < min_iou:
            break
        if i in used_p or j in used_t:
            continue
        used_p.add(i)
        used_t.add(j)
        pairs.append((pred[i], real[j]))
    return EventScore(label, len(pairs), len(pred) - len(pairs), len(real) - len(pairs), tuple(pairs))
