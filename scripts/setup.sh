#!/usr/bin/env bash
# Create .venv and install mlway with every product extra (and the dev tools with --dev).
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
extras="all"
[ "${1:-}" = "--dev" ] && extras="all,dev"

if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  echo "error: mlway needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "==> installing python3-venv (Debian)"
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  else
    echo "error: '$PYTHON -m venv' is unavailable: install python3-venv (sudo apt-get install python3-venv)" >&2
    exit 2
  fi
fi

stamp=.venv/.mlway-setup-$extras
for done_stamp in "$stamp" .venv/.mlway-setup-all,dev; do  # a dev install includes every extra
  if [ -x .venv/bin/python ] && [ -f "$done_stamp" ] && [ "$done_stamp" -nt pyproject.toml ]; then
    echo "==> .venv is up to date (mlway[${done_stamp#.venv/.mlway-setup-}])"
    exit 0
  fi
done
echo "==> creating .venv and installing mlway[$extras]"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first and pinned (training and model export need it): any unpinned torch pulls a CUDA build
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e ".[$extras]"
rm -f .venv/.mlway-setup-*
touch "$stamp"
echo "==> mlway $(.venv/bin/mlway --version | cut -d' ' -f2) installed in .venv"
