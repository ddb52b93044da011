"""Quality and speed of a harvest-cam bundle on held-out simulated shifts: the drift gap and event P/R.

    .venv/bin/python benchmarks/sim-train/quality.py                       # the bundled default model
    .venv/bin/python benchmarks/sim-train/quality.py --bundle models/harvest-cam --data data/bench

Simulates (once; reused when present) two held-out shifts with seeds never used in training:
  seen    the training poses: combine-01..08 (pose seed 0), shift seed 201
  unseen  new camera poses: combine-21..24, shift seed 202
at --fps (1 by default, as the training shifts), failure rate 0.6, one hour each.

Per variant (fp32, int8, reduced int8) and set: frame accuracy, per-class precision/recall, ECE with
and without the bundle's temperature; event precision/recall after smoothing with the settings the
training chose on its validation machines (the bundle's smoothing.json; never tuned on these test
sets), and without smoothing for contrast. Events match one to one within a camera stream when their
time IoU is >= 0.3 (mlway.core.smoothing.match_events). Then onnxruntime frames/s per variant at 1 and
2 threads, batch 1. Writes benchmarks/sim-train/results/quality.json and quality.md (machine, commit, date, commands).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlway.assets import bundled_model_path
from mlway.core.smoothing import SmoothingConfig
from mlway.curate import CLASSES
from mlway.curate.calibration import ece, softmax
from mlway.curate.evaluate import event_scores, predicted_spans, score_table, score_variants, truth_spans
from mlway.curate.inference import frames_per_second
from mlway.curate.metrics import frame_metrics
from mlway.runtime import load_bundle

HERE = Path(__file__).resolve().parent
SETS = {
    "seen": ["--machines", "8", "--first-machine", "1", "--seed", "201"],
    "unseen": ["--machines", "4", "--first-machine", "21", "--seed", "202"],
}
RAW = SmoothingConfig(window=1, min_duration_s=0, min_gap_s=0)


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def _sim_args(data: Path, name: str, hours: float, fps: float) -> list[str]:
    return ["sim", "shift", *SETS[name], "--hours", f"{hours:g}", "--fps", f"{fps:g}", "--failure-rate", "0.6",
            "--out", str(data / name), "--overwrite"]  # fmt: skip


def simulate(data: Path, name: str, hours: float, fps: float) -> Path:
    out = data / name
    if (out / "manifest.json").is_file():
        return out
    cmd = [sys.executable, "-m", "mlway", *_sim_args(data, name, hours, fps)]
    print("$ mlway " + " ".join(cmd[3:]), flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    return out


def evaluate(bundle_dir: Path, shifts: dict[str, Path], threads: int) -> dict[str, object]:
    bundle = load_bundle(bundle_dir)
    report = json.loads((bundle_dir / "training.json").read_text())
    temperature = float(report["temperature"])
    tuned = SmoothingConfig.model_validate_json((bundle_dir / "smoothing.json").read_text())
    models: dict[str, tuple[Path, tuple[int, int]]] = {}
    for variant in bundle.manifest.variants:
        shape = (variant.input_shapes or {}).get("image") or bundle.manifest.inputs[0].shape
        models[variant.name] = (bundle.path_of(variant.entry), (int(shape[3]), int(shape[2])))
    results: dict[str, dict[str, Any]] = {
        name: {"size": list(size), "file_bytes": sum(f.bytes or 0 for f in bundle.manifest.variant(name).files),
               "sets": {}}
        for name, (_, size) in models.items()
    }  # fmt: skip
    labels_ev = ("harvesting", "unloading", "unloading_failure")
    for set_name, root in shifts.items():
        started = time.perf_counter()
        scored = score_variants(models, root, threads=threads)
        truth = truth_spans([root])
        for name, streams in scored.items():
            probs = np.concatenate([s.probs for s in streams])
            logits = np.concatenate([s.logits for s in streams])
            labels = np.concatenate([s.labels for s in streams])
            metrics = frame_metrics(probs, labels, CLASSES).as_dict()
            metrics["ece_without_temperature"] = round(ece(softmax(logits * temperature), labels), 4)
            results[name]["sets"][set_name] = {
                "frames": metrics,
                "events": score_table(event_scores(predicted_spans(streams, tuned), truth, labels_ev)),
                "events_unsmoothed": score_table(event_scores(predicted_spans(streams, RAW), truth, labels_ev)),
                "true_events": {k: sum(1 for t in truth if t.label == k) for k in labels_ev},
            }
            events = results[name]["sets"][set_name]["events"]
            print(f"{name} {set_name}: accuracy {metrics['accuracy']}, events {events}", flush=True)
        print(f"  scored {set_name} in {time.perf_counter() - started:.0f} s", flush=True)
    for name, (path, size) in models.items():
        results[name]["frames_per_s"] = {f"{t}_threads": frames_per_second(path, size, threads=t) for t in (1, 2)}
    return {"temperature": temperature, "smoothing": tuned.model_dump(), "variants": results}


def _pr(score: dict[str, Any]) -> str:
    return f"{score['precision']:.3f} / {score['recall']:.3f}"


def _markdown(doc: dict[str, Any]) -> str:
    variants: dict[str, Any] = doc["variants"]
    lines = [
        "# harvest-cam quality on held-out simulated shifts",
        "",
        f"- machine: {doc['machine']} (load average at start {', '.join(f'{x:.1f}' for x in doc['load_average'])})",
        f"- commit: {doc['commit']}; date: {doc['date']}; bundle: {doc['bundle']}",
        f"- test shifts ({doc['hours']} h each at {doc['fps']} frames/s per camera, never used in training "
        "or tuning): " + "; ".join(f"{k}: `{v}`" for k, v in doc["commands"].items()),
        f"- this run: `{doc['command']}` ({doc['seconds']:.0f} s)",
        (
            f"- temperature {doc['temperature']:g}; smoothing (chosen on the training run's validation machines): "
            f"`{json.dumps({k: v for k, v in doc['smoothing'].items() if k in SHOWN})}`"
        ),
        f"- events: {doc['event_matching']}",
        "",
        "## Frames",
        "",
        "| variant | set | frames | accuracy | ECE with T | ECE without T | "
        + " | ".join(f"P / R {c}" for c in CLASSES)
        + " |",
        "|" + "---|" * (6 + len(CLASSES)),
    ]
    for name, v in variants.items():
        for set_name, s in v["sets"].items():
            f = s["frames"]
            per_class = " | ".join(f"{f['precision'][c]:.3f} / {f['recall'][c]:.3f}" for c in CLASSES)
            lines.append(
                f"| {name} | {set_name} | {f['frames']:,} | {f['accuracy']:.3f} | {f['ece']:.3f} "
                f"| {f['ece_without_temperature']:.3f} | {per_class} |"
            )
    lines += [
        "",
        "## Events (precision / recall; true events in brackets)",
        "",
        "| variant | set | unloading | unloading_failure | harvesting | unsmoothed unloading | unsmoothed failure |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, v in variants.items():
        for set_name, s in v["sets"].items():
            e, raw, n = s["events"], s["events_unsmoothed"], s["true_events"]
            lines.append(
                f"| {name} | {set_name} | {_pr(e['unloading'])} ({n['unloading']}) "
                f"| {_pr(e['unloading_failure'])} ({n['unloading_failure']}) "
                f"| {_pr(e['harvesting'])} ({n['harvesting']}) "
                f"| {_pr(raw['unloading'])} | {_pr(raw['unloading_failure'])} |"
            )
    lines += [
        "",
        "## Speed (onnxruntime, batch 1, random input, median)",
        "",
        "| variant | input | file | frames/s 1 thread | frames/s 2 threads | vs fp32 (1 thread) |",
        "|---|---|---|---|---|---|",
    ]
    base = next(iter(variants.values()))["frames_per_s"]["1_threads"]
    for name, v in variants.items():
        size, speed = v["size"], v["frames_per_s"]
        lines.append(
            f"| {name} | {size[0]}x{size[1]} | {v['file_bytes'] / 1024**2:.2f} MiB | {speed['1_threads']:,.0f} "
            f"| {speed['2_threads']:,.0f} | {speed['1_threads'] / base:.2f}x |"
        )
    return "\n".join(lines) + "\n"


SHOWN = ("window_s", "enter", "exit", "min_duration_s", "min_gap_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=None, help="bundle directory (default: the bundled model)")
    parser.add_argument("--data", type=Path, default=Path("data/bench"), help="where the test shifts are kept")
    parser.add_argument("--hours", type=float, default=1.0, help="hours per test shift")
    parser.add_argument("--fps", type=float, default=1.0, help="camera frames per second of the test shifts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "quality.json")
    args = parser.parse_args()
    bundle_dir = args.bundle or bundled_model_path("harvest-cam")
    shifts = {name: simulate(args.data, name, args.hours, args.fps) for name in SETS}
    started = time.perf_counter()
    doc: dict[str, Any] = {
        "machine": f"{_cpu()}, {os.cpu_count()} cpus",
        "load_average": os.getloadavg(),
        "commit": _commit(),
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "bundle": str(bundle_dir),
        "command": "python benchmarks/sim-train/quality.py " + " ".join(sys.argv[1:]),
        "commands": {name: "mlway " + " ".join(_sim_args(args.data, name, args.hours, args.fps)) for name in SETS},
        "shifts": {k: str(v) for k, v in shifts.items()},
        "hours": args.hours,
        "fps": args.fps,
        "event_matching": "one to one within a camera stream, highest IoU first, IoU >= 0.3",
    }
    doc |= evaluate(bundle_dir, shifts, args.threads)
    doc["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    markdown = _markdown(doc)
    args.out.with_suffix(".md").write_text(markdown)
    print(markdown)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
