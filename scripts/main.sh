#!/usr/bin/env bash
# The main job on embedded defaults: set up, then benchmark mlway's simulated LLM server
# at 1, 8 and 32 users and print the result table (no GPU, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/mlway bench demo "$@"
