#!/usr/bin/env bash
# The main job on embedded defaults: set up, then the field-to-cloud run (`mlway demo`): a simulated
# harvest shift -> a hub on SQLite -> the edge agent with the bundled model through an emulated 2G
# link that goes down and up -> event timeline, delivery check, event precision/recall (no GPU, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/mlway demo "$@"
