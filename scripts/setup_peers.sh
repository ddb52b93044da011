#!/usr/bin/env bash
# Install the peer LLM load testers that benchmarks/bench/ runs side by side with mlway bench,
# each in its own virtualenv under the repository (they pin conflicting dependencies):
#   .venvs/guidellm   guidellm 0.8.1 on torch 2.13.0 (CPU wheel, installed first)   ~2-3 min fresh
#   .venvs/aiperf     NVIDIA aiperf 0.13.0 (torch 2.13.0 pinned first if it wants torch)
# Idempotent: every step leaves a stamp file and is skipped when its stamp is current, so a
# second run takes seconds. Usage: scripts/setup_peers.sh [--force]   (--force redoes every step)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TORCH_VERSION="2.13.0"
GUIDELLM_VERSION="0.8.1"
AIPERF_VERSION="0.13.0"
PYTHON="${PYTHON:-python3}"

VENVS="$ROOT/.venvs"
CACHE="$ROOT/.cache"
STAMPS="$CACHE/stamps"
GUIDELLM_VENV="$VENVS/guidellm"
AIPERF_VENV="$VENVS/aiperf"

FORCE=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "setup_peers: unknown argument '$arg' (use --force or --help)" >&2; exit 2 ;;
    esac
done

START_ALL=$SECONDS
CURRENT_STEP="start"
log() { printf '[setup_peers %4ds] %s\n' "$((SECONDS - START_ALL))" "$*"; }
die() { printf '\n[setup_peers] FAILED: %s\n' "$*" >&2; exit 1; }
# shellcheck disable=SC2154  # rc is assigned inside the trap string
trap 'rc=$?; [ $rc -ne 0 ] && printf "\n[setup_peers] FAILED during step: %s (exit %s). Fix the error above and rerun %s\n" "$CURRENT_STEP" "$rc" "$0" >&2' EXIT

mkdir -p "$VENVS" "$STAMPS" "$CACHE/logs"

stamp_ok() { [ "$FORCE" -eq 0 ] && [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { printf '%s' "$2" >"$STAMPS/$1"; }
step() { CURRENT_STEP="$1"; log "== $1"; }
done_in() { log "   done in $((SECONDS - $1)) s"; }

command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.11 (apt-get install python3 python3-venv)"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "python venv/ensurepip missing: apt-get install python3-venv"

# new_venv DIR: a fresh virtualenv with a current pip.
new_venv() {
    rm -rf "$1"
    "$PYTHON" -m venv "$1"
    "$1/bin/python" -m pip --disable-pip-version-check install -q --upgrade pip
}

# ---------------------------------------------------------------------------------------------
step "guidellm venv ($GUIDELLM_VENV)"
KEY_GUIDELLM="torch==$TORCH_VERSION guidellm==$GUIDELLM_VERSION"
if stamp_ok guidellm-venv "$KEY_GUIDELLM" && [ -x "$GUIDELLM_VENV/bin/guidellm" ]; then
    log "   cached ($KEY_GUIDELLM)"
else
    t0=$SECONDS
    new_venv "$GUIDELLM_VENV"
    GPIP=("$GUIDELLM_VENV/bin/python" -m pip --disable-pip-version-check)
    log "   pip install torch==$TORCH_VERSION (first, so nothing pulls a CUDA build)"
    "${GPIP[@]}" install -q "torch==$TORCH_VERSION" || die "torch==$TORCH_VERSION did not install"
    log "   pip install guidellm==$GUIDELLM_VERSION"
    "${GPIP[@]}" install -q "guidellm==$GUIDELLM_VERSION" "torch==$TORCH_VERSION" \
        || die "guidellm==$GUIDELLM_VERSION did not install"
    stamp_set guidellm-venv "$KEY_GUIDELLM"
    done_in "$t0"
fi
"$GUIDELLM_VENV/bin/guidellm" --help >"$CACHE/logs/guidellm-help.log" 2>&1 \
    || die "guidellm does not start (see $CACHE/logs/guidellm-help.log); rerun with --force"

# ---------------------------------------------------------------------------------------------
step "aiperf venv ($AIPERF_VENV)"
KEY_AIPERF="aiperf==$AIPERF_VERSION torch==$TORCH_VERSION-if-needed"
if stamp_ok aiperf-venv "$KEY_AIPERF" && [ -x "$AIPERF_VENV/bin/aiperf" ]; then
    log "   cached ($KEY_AIPERF)"
else
    t0=$SECONDS
    new_venv "$AIPERF_VENV"
    APIP=("$AIPERF_VENV/bin/python" -m pip --disable-pip-version-check)
    # Does aiperf (or anything it depends on) ask for torch? A dry-run resolve tells without
    # installing; if so, install the CPU torch first so the resolver keeps it.
    if "${APIP[@]}" install --dry-run --quiet --report - "aiperf==$AIPERF_VERSION" 2>/dev/null \
        | "$AIPERF_VENV/bin/python" -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if any(i["metadata"]["name"].lower()=="torch" for i in r["install"]) else 1)'; then
        log "   aiperf wants torch: pip install torch==$TORCH_VERSION first"
        "${APIP[@]}" install -q "torch==$TORCH_VERSION" || die "torch==$TORCH_VERSION did not install"
        TORCH_PIN=("torch==$TORCH_VERSION")
    else
        log "   aiperf does not need torch"
        TORCH_PIN=()
    fi
    log "   pip install aiperf==$AIPERF_VERSION"
    "${APIP[@]}" install -q "aiperf==$AIPERF_VERSION" "${TORCH_PIN[@]}" \
        || die "aiperf==$AIPERF_VERSION did not install"
    stamp_set aiperf-venv "$KEY_AIPERF"
    done_in "$t0"
fi
"$AIPERF_VENV/bin/aiperf" --help >"$CACHE/logs/aiperf-help.log" 2>&1 \
    || die "aiperf does not start (see $CACHE/logs/aiperf-help.log); rerun with --force"

CURRENT_STEP="summary"
log "ready:"
log "   guidellm $("$GUIDELLM_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("guidellm"))') in $GUIDELLM_VENV ($(du -sh "$GUIDELLM_VENV" | cut -f1))"
log "   aiperf   $("$AIPERF_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("aiperf"))') in $AIPERF_VENV ($(du -sh "$AIPERF_VENV" | cut -f1))"
