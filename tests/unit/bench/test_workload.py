import json
from pathlib import Path

import pytest

from mlway.bench.lengths import LengthDist
from mlway.bench.target import TargetSpec, build_body
from mlway.bench.workload import PromptFactory, load_dataset
from mlway.core.errors import InputError


def _factory(**kwargs: object) -> PromptFactory:
    defaults: dict[str, object] = {
        "endpoint": "completions",
        "input_tokens": LengthDist.parse("100"),
        "output_tokens": LengthDist.parse("20"),
        "seed": 1,
    }
    return PromptFactory(**(defaults | kwargs))  # type: ignore[arg-type]


def test_calibrated_prompt_sizes_follow_the_server_token_rate() -> None:
    factory = _factory()
    factory.calibration.per_word = 2.0  # the server counts two tokens per word
    factory.calibration.overhead = 10  # and adds 10 of its own (BOS, template): not input tokens
    factory.prepare()
    prompt = next(iter(factory))
    assert prompt.text is not None
    assert len(prompt.text.split()) == 50  # 100 / 2, the four salt words included
    assert prompt.output_tokens == 20


def test_same_seed_same_prompts_but_salt_differs_per_run() -> None:
    a, b = _factory(salt=False), _factory(salt=False)
    assert next(iter(a)).text == next(iter(b)).text
    runs = [_factory() for _ in range(4)]
    for run in runs:
        run.prepare()
    heads = {" ".join((next(iter(run)).text or "").split()[:4]) for run in runs}
    assert len(heads) == 4  # a per-run salt opens the prompt


def test_shared_prefix_is_shared_within_a_run() -> None:
    factory = _factory(salt=False, shared_prefix_tokens=30)
    factory.prepare()
    assert len(next(iter(factory)).text.split()) == 100  # type: ignore[union-attr]
    it = iter(factory)
    first, second = next(it).text, next(it).text
    assert first is not None
    assert second is not None
    assert first.split()[:30] == second.split()[:30]
    assert first.split()[30:] != second.split()[30:]


def test_chat_prompts_are_messages() -> None:
    prompt = next(iter(_factory(endpoint="chat")))
    assert prompt.messages is not None
    assert prompt.messages[0]["role"] == "user"


def test_dataset_prompts_and_messages(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps({"prompt": "hello", "output_tokens": 7})
        + "\n\n"
        + json.dumps({"messages": [{"role": "user", "content": "hi"}]})
        + "\n"
    )
    items = load_dataset(path)
    assert items[0].text == "hello"
    assert items[0].output_tokens == 7
    assert items[1].messages == [{"role": "user", "content": "hi"}]
    factory = _factory(dataset=path)
    prompts = [p for _, p in zip(range(3), factory, strict=False)]
    assert prompts[2].text == "hello"  # the dataset cycles
    assert prompts[1].output_tokens == 20  # default output length where the line gives none


def test_bad_dataset_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "ok"}\n{"text": 3}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        load_dataset(path)
    path.write_text("{not json\n")
    with pytest.raises(InputError, match=r"bad.jsonl:1: not valid JSON"):
        load_dataset(path)


def test_body_forces_output_length_both_ways() -> None:
    prompt = next(iter(_factory(salt=False)))
    spec = TargetSpec(base_url="http://x/v1", model="m", eos_token_id=2)
    body = build_body(spec, prompt)
    assert body["max_tokens"] == 20
    assert body["ignore_eos"] is True
    assert body["logit_bias"] == {"2": -100}
    assert body["stream_options"] == {"include_usage": True}
    plain = build_body(TargetSpec(base_url="http://x/v1", model="m", force_output="none", stream=False), prompt)
    assert "ignore_eos" not in plain
    assert "stream" not in plain
    assert spec.url == "http://x/v1/completions"
