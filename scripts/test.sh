#!/usr/bin/env bash
# Set up everything (venv with all extras and dev tools, the real LLM servers the end-to-end tests
# drive) and run the whole test suite with the static checks. Usage: scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
scripts/setup_servers.sh
echo "==> static checks: ruff, mypy --strict, import contracts"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
echo "==> tests"
exec .venv/bin/pytest "$@"
