"""Build a tiny random-weight Llama model and its tokenizer entirely offline.

Run with the vLLM venv's python (it has torch, transformers and sentencepiece):

    .venvs/vllm/bin/python scripts/build_tiny_llm.py --out .cache/llm/tiny-llama

What it writes into --out (a normal Hugging Face model directory):
- tokenizer.model + tokenizer files: a SentencePiece BPE tokenizer (vocab 2000, byte fallback,
  unk=0 bos=1 eos=2) trained on local text (Debian's licence texts and a fixed set of Python
  stdlib sources), loaded back with ``transformers.LlamaTokenizer.from_pretrained`` and given a
  chat template that accepts string content or a list of {"type": "text", "text": ...} parts;
- config.json, generation_config.json, model.safetensors: ``LlamaForCausalLM`` with hidden 128,
  2 layers, 2 heads of head_dim 64 (a size vLLM's CPU attention supports), random weights from a
  fixed seed (~0.9 M parameters, most in the embeddings);
- tiny_llm.json: what was built (seed, vocab size, special token ids, parameter count).

Deterministic: the same seed, corpus and library versions give byte-identical files. No network:
nothing is downloaded, so it runs with HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

import sentencepiece as spm
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, LlamaTokenizer

LICENSE_DIR = Path("/usr/share/common-licenses")
# Fixed list so the corpus (and so the tokenizer) is the same on every machine with Python 3.11.
STDLIB_FILES = (
    "argparse.py",
    "base64.py",
    "collections/__init__.py",
    "csv.py",
    "dataclasses.py",
    "datetime.py",
    "difflib.py",
    "email/message.py",
    "enum.py",
    "functools.py",
    "http/client.py",
    "json/decoder.py",
    "json/encoder.py",
    "logging/__init__.py",
    "pathlib.py",
    "random.py",
    "shutil.py",
    "string.py",
    "textwrap.py",
    "typing.py",
)
VOCAB_SIZE = 2000
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
MIN_CORPUS_CHARS = 200_000

# Accepts message content as a string, None, or a list of parts ({"type": "text", "text": ...});
# non-text parts are dropped. Llama style: BOS once, then one block per message.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% elif message['content'] is not none %}"
    "{% for part in message['content'] %}"
    "{% if part is string %}{{ part }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}"
    "{% endif %}"
    "{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def corpus_files() -> list[Path]:
    # Symlinks (GPL -> GPL-3, ...) are skipped so each text counts once.
    files = []
    if LICENSE_DIR.is_dir():
        files = sorted(p for p in LICENSE_DIR.iterdir() if p.is_file() and not p.is_symlink())
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files += [stdlib / name for name in STDLIB_FILES if (stdlib / name).is_file()]
    return files


def write_corpus(path: Path) -> tuple[int, int]:
    """Write one sentence per line; return (files, characters)."""
    files = corpus_files()
    chars = 0
    with path.open("w", encoding="utf-8") as out:
        for f in files:
            for raw in f.read_text(encoding="utf-8", errors="replace").splitlines():
                line = raw.rstrip()
                if line.strip():
                    out.write(line[:2000] + "\n")
                    chars += len(line)
    if chars < MIN_CORPUS_CHARS:
        raise SystemExit(
            f"build_tiny_llm: only {chars} characters of local text found in {LICENSE_DIR} and the "
            f"Python stdlib; need {MIN_CORPUS_CHARS}. Is this a Debian/Ubuntu machine with base-files?"
        )
    return len(files), chars


def train_tokenizer(corpus: Path, model_prefix: Path) -> None:
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(model_prefix),
        model_type="bpe",
        vocab_size=VOCAB_SIZE,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        add_dummy_prefix=True,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        pad_id=-1,
        shuffle_input_sentence=False,
        num_threads=1,
        max_sentence_length=4096,
        minloglevel=2,
    )


def fix_tokenizer_config(path: Path) -> None:
    """State BOS/EOS insertion explicitly (convert_hf_to_gguf.py reads it from here) and drop the
    load-time flags transformers 5 writes back (is_local, local_files_only), which vary by env."""
    config = json.loads(path.read_text(encoding="utf-8"))
    for key in ("is_local", "local_files_only"):
        config.pop(key, None)
    config["add_bos_token"] = True
    config["add_eos_token"] = False
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def build(out: Path, seed: int) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tiny-llm-") as tmp:
        corpus = Path(tmp) / "corpus.txt"
        n_files, n_chars = write_corpus(corpus)
        print(f"build_tiny_llm: corpus {n_files} files, {n_chars} chars", flush=True)
        spm_dir = Path(tmp) / "spm"
        spm_dir.mkdir()
        # Relative paths: the trainer stores input and model_prefix in tokenizer.model, and an
        # absolute temp path there would make the file differ on every run.
        with contextlib.chdir(tmp):
            train_tokenizer(Path("corpus.txt"), Path("spm") / "tokenizer")
        # from_pretrained(dir) converts the whole SentencePiece vocabulary; the
        # LlamaTokenizer(vocab_file=...) constructor silently gives a 3-token vocabulary.
        # transformers 5 defaults add_bos_token to False for LlamaTokenizer: ask for Llama's BOS.
        tokenizer = LlamaTokenizer.from_pretrained(str(spm_dir), add_bos_token=True, add_eos_token=False)
        spm_model = spm_dir / "tokenizer.model"
        tokenizer.chat_template = CHAT_TEMPLATE
        vocab = len(tokenizer)
        if vocab != VOCAB_SIZE:
            raise SystemExit(f"build_tiny_llm: tokenizer has {vocab} tokens, expected {VOCAB_SIZE}")
        ids = (tokenizer.unk_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
        if ids != (UNK_ID, BOS_ID, EOS_ID):
            raise SystemExit(f"build_tiny_llm: special ids unk/bos/eos are {ids}, expected 0/1/2")
        tokenizer.save_pretrained(str(out))
        fix_tokenizer_config(out / "tokenizer_config.json")
        # convert_hf_to_gguf.py reads the SentencePiece model itself: keep it beside the HF files.
        shutil.copyfile(spm_model, out / "tokenizer.model")

    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=4096,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    n_params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(str(out), safe_serialization=True)

    info: dict[str, object] = {
        "name": "tiny-llama",
        "seed": seed,
        "vocab_size": vocab,
        "unk_token_id": UNK_ID,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_hidden_layers,
        "head_dim": 64,
        "parameters": n_params,
        "corpus_files": n_files,
        "corpus_chars": n_chars,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    (out / "tiny_llm.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def digest(out: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        h.update(f.relative_to(out).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output model directory")
    parser.add_argument("--seed", type=int, default=1234, help="torch seed for the random weights")
    args = parser.parse_args(argv)
    info = build(args.out, args.seed)
    print(
        f"build_tiny_llm: wrote {args.out} ({info['parameters']} params, vocab {info['vocab_size']}, "
        f"eos {info['eos_token_id']}, sha256 {digest(args.out)[:16]})",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
