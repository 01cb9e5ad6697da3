"""``consent-gym audit``: argument parsing, text and JSON reports, errors, ``--explain``."""

from __future__ import annotations

import argparse
import json
import sys
import types

import pytest

from consent_gym import AuditLog
from consent_gym.audit_explain import load_causal_lm_generator
from consent_gym.commands import audit
from consent_gym.judges import JudgePanel, RuleJudge, Verdict


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="consent-gym")
    audit.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["audit", *argv])


@pytest.fixture
def log_path(tmp_path):
    """10 episodes under a reference panel; the second member disagrees on episodes 3 and 7."""
    lenient = RuleJudge(lambda t: True, name="lenient")
    strict = RuleJudge(lambda t: "box" not in t, name="strict")
    panel = JudgePanel([lenient, strict], policy="reference")
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        for i in range(10):
            text = f"Episode {i}: the car hit a box." if i in (3, 7) else f"Episode {i}: road."
            (verdict,) = panel.judge_batch([text])
            log.record(verdict, text=text, env_id="Boxes-v0", episode_index=i)
        log.record(Verdict(False, 0.0, "rule:other"), text="x", episode_index=10)
    return path


def test_text_report(log_path, capsys):
    assert audit.run(parse(str(log_path), "--bins", "2")) == 0
    out = capsys.readouterr().out
    assert "Verdict records: 11" in out
    assert "Outcomes: 10 approved (90.9%), 1 vetoed (9.1%), 0 failed (0.0%); 2 flagged" in out
    assert "member 1: rule:strict" in out
    assert "[record 4] episode 3 of Boxes-v0: disagreement, panel outcome approved" in out
    assert "| Episode 7: the car hit a box." in out


def test_json_report(log_path, capsys):
    assert audit.run(parse(str(log_path), "--json", "--every", "5")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["n"] == 11 and report["counts"]["flagged"] == 2
    assert [b["n"] for b in report["veto_rate_over_time"]] == [5, 5, 1]
    members = [j for j in report["judges"] if j["panel_id"] is not None]
    assert [(j["judge_id"], j["approved"]) for j in members] == [
        ("rule:lenient", 10), ("rule:strict", 8)
    ]
    assert [f["episode_index"] for f in report["flagged"]] == [3, 7]
    assert report["flagged"][0]["members"][1]["text"] == "Episode 3: the car hit a box."


def test_errors_return_2_with_a_message(tmp_path, log_path, capsys):
    assert audit.run(parse(str(tmp_path / "missing.jsonl"))) == 2
    assert "no such log file" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"outcome": "approved", "judge_id": "j"}\n{oops\n')
    assert audit.run(parse(str(bad))) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    assert audit.run(parse(str(tmp_path))) == 2
    assert "folder" in capsys.readouterr().err
    assert audit.run(parse(str(log_path), "--model", "m")) == 2
    assert "--explain" in capsys.readouterr().err
    assert audit.run(parse(str(log_path), "--explain", "--model", str(tmp_path / "nope"))) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(str(log_path), "--bins", "0")
    with pytest.raises(SystemExit):
        parse(str(log_path), "--bins", "2", "--every", "3")


def test_explain_without_model_and_without_default_fails_clearly(log_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "consent_gym.judges.loading", types.ModuleType("loading"))
    assert audit.run(parse(str(log_path), "--explain")) == 2
    assert "--model PATH" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A randomly initialised 1-layer GPT-2 and a word-level tokenizer, built offline."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = ["the", "car", "hit", "a", "box", "with", "person", "inside", "road", "episode",
             "agent", "reward", "learn"]
    vocab = {w: i for i, w in enumerate(["[UNK]", "[PAD]", "[EOS]", *words])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(vocab), n_positions=512, n_embd=16, n_layer=1, n_head=2,
        bos_token_id=2, eos_token_id=2,
    )
    path = tmp_path_factory.mktemp("tiny-lm")
    GPT2LMHeadModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_explain_with_a_tiny_local_model(log_path, tiny_lm, capsys):
    args = parse(str(log_path), "--explain", "--model", str(tiny_lm), "--max-new-tokens", "5")
    assert audit.run(args) == 0
    out = capsys.readouterr().out
    assert out.count("explanation (generated; weak with small models):") == 2
    assert audit.run(parse(str(log_path), "--json", "--explain", "--model", str(tiny_lm),
                           "--max-explain", "1", "--max-new-tokens", "3")) == 0
    flagged = json.loads(capsys.readouterr().out)["flagged"]
    assert isinstance(flagged[0]["explanation"], str) and flagged[1]["explanation"] is None


def test_default_model_comes_from_the_loading_module(tiny_lm, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    fake = types.ModuleType("loading")
    fake.load_default_model = lambda: (  # type: ignore[attr-defined]
        AutoModelForCausalLM.from_pretrained(tiny_lm),
        AutoTokenizer.from_pretrained(tiny_lm),
        "tiny",
    )
    monkeypatch.setitem(sys.modules, "consent_gym.judges.loading", fake)
    generate = load_causal_lm_generator(None, max_new_tokens=3)
    first = generate("the car hit a box")
    assert isinstance(first, str) and generate("the car hit a box") == first  # greedy
