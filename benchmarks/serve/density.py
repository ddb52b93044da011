"""Benchmark 3: how many models of a set serve within 6 GiB with fallback variants, vs full variants only; and 8 GiB.

The set: 4 x all-MiniLM-L6-v2 (fp32, int8), 6 x a wide MLP "scorer" (hidden 12288: fp32, int8 static QDQ),
4 x a small conv net "cam" at 224 px (fp32, int8, int8 at half resolution). Every distinct variant's footprint is
measured here first, in a real worker process (`measure_bundle`: peak RSS after load and inference at
batch 8), and written into its manifest; admission then places the set with `plan_placement` exactly as
`mlway serve` does at start. Fourteen models need fourteen cores (cores are never shared), so the plan uses
a budget of one core per model; this 2-core machine cannot start all fourteen workers at once, which is why the memory
side is measured per variant and planned, not run side by side.

    .venv/bin/python benchmarks/serve/density.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from common import CACHE, WORK, machine, write_result

from mlway.core.units import format_bytes
from mlway.runtime import Budget, Bundle, load_bundle, load_bundles, measure_bundle, plan_placement, save_manifest
from mlway.runtime.testing import write_bundle
from mlway.serve import build_minilm

COPIES = {"minilm": 4, "scorer": 6, "cam": 4}


def _measured(bundle: Bundle) -> Bundle:
    measured, _ = measure_bundle(bundle, threads=[1], batches=[8], iterations=10, max_seconds=5.0, write=True)
    return measured


def templates(root: Path) -> list[Bundle]:
    minilm = build_minilm(root / "minilm", cpu_threads=1, cache_dir=CACHE)
    scorer = write_bundle(root / "scorer", name="scorer", hidden=12288, memory="3GiB")
    cam = write_bundle(root / "cam", name="cam", kind="conv", variants=("fp32", "int8", "int8-small"),
                       image_size=224, memory="1GiB")  # fmt: skip
    return [_measured(b) for b in (minilm, scorer, cam)]


def fleet(templates: list[Bundle], root: Path, *, full_only: bool) -> list[Bundle]:
    if root.exists():
        shutil.rmtree(root)
    for template in templates:
        for copy in range(COPIES[template.name]):
            name = f"{template.name}-{copy}"
            target = root / name
            shutil.copytree(template.directory, target, symlinks=True)
            bundle = load_bundle(target)
            manifest = bundle.manifest.model_copy(update={"name": name})
            if full_only:
                manifest = manifest.model_copy(update={"variants": manifest.variants[:1]})
            save_manifest(bundle, manifest)
    return load_bundles(root)


def plan(bundles: list[Bundle], memory: str) -> dict[str, Any]:
    placement = plan_placement(bundles, Budget(memory=memory, cpus=len(bundles)))  # type: ignore[arg-type]
    served = [m for m in placement.models if m.variant]
    return {
        "budget": memory,
        "served": len(served),
        "of": len(placement.models),
        "memory_used": format_bytes(placement.budget.memory - placement.free_memory),
        "variants": {m.model: m.variant for m in placement.models},
        "fallbacks": sum(1 for m in served if m.variant != m.considered[0].variant),
    }


def main() -> None:
    root = WORK / "density"
    bases = templates(root / "templates")
    footprints = {b.name: {v.name: format_bytes(v.memory_bytes or 0) for v in b.manifest.variants} for b in bases}
    with_fallback = fleet(bases, root / "fallback", full_only=False)
    full_only = fleet(bases, root / "full", full_only=True)
    rows = []
    for memory in ("6GiB", "8GiB"):
        rows.append({"mode": "with fallback variants", **plan(with_fallback, memory)})
        rows.append({"mode": "full variants only", **plan(full_only, memory)})
    result = {"machine": machine(), "footprints_measured": footprints, "plans": rows}
    path = write_result("density", result)
    print(json.dumps({"footprints_measured": footprints, "plans": rows}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
