"""Training a prediction copy: a new checkpoint with its record; the original untouched."""

from __future__ import annotations

import json

import pytest

from consent_gym.judges import FrozenJudgeError, LLMJudge
from consent_gym.judges.frozen import WeightFingerprint
from consent_gym.prediction import training
from consent_gym.prediction.corpus import file_sha256
from consent_gym.prediction.training import (
    RECORD_NAME,
    load_training_base,
    train_prediction_copy,
)

TEXTS = [
    "This episode was explored by Naive_Explorer. Step 2: the car hit a box. Observed "
    "afterwards: a person was inside the box the car hit at step 2 and was hurt.",
    "This episode was explored by Naive_Explorer. The car drove on the road. The parcel was "
    "delivered at step 12.",
]


def test_trains_saves_and_records_and_leaves_the_original_alone(tiny_base_dir, tmp_path):
    weights = tiny_base_dir / "model.safetensors"
    before = file_sha256(weights)
    out = tmp_path / "copy"
    record = train_prediction_copy(TEXTS * 4, out, base=tiny_base_dir, steps=3, batch_size=4,
                                   corpus_sha256="abc", label="Naive_Explorer", seed=1)
    assert file_sha256(weights) == before  # the original checkpoint on disk is unchanged
    assert json.loads((out / RECORD_NAME).read_text()) == record
    assert record["steps"] == len(record["loss"]) == 3 and record["stopped_by"] == "steps"
    assert record["texts"] == 8 and record["label"] == "Naive_Explorer"
    assert record["corpus_sha256"] == "abc" and record["seed"] == 1 and record["rank"] == 8
    assert record["tokens_seen"] > 0 and record["wall_seconds"] >= record["train_seconds"] > 0
    original, _, _ = load_training_base(tiny_base_dir)
    assert record["base_fingerprint"] == WeightFingerprint(original).digest
    trained, _, _ = load_training_base(out)
    assert record["fingerprint"] == WeightFingerprint(trained).digest != record["base_fingerprint"]
    # Only the adapted projections moved (merged LoRA on q_proj / v_proj).
    moved = {name for (name, a), (_, b) in zip(original.state_dict().items(),
                                                trained.state_dict().items(), strict=True)
             if not bool((a == b).all())}
    assert moved and all(name.endswith(("q_proj.weight", "v_proj.weight")) for name in moved)
    # The result is a judge of its own.
    a = LLMJudge(str(tiny_base_dir), cache=False, dtype="float32")
    b = LLMJudge(str(out), cache=False, dtype="float32")
    assert a.judge_id != b.judge_id
    assert b.fingerprint == record["fingerprint"]


def test_a_copy_that_shares_the_original_fails_loudly_and_saves_nothing(
        tiny_base_dir, tmp_path, monkeypatch):
    # The bug this guards against: training "the copy" when it is the original itself.
    monkeypatch.setattr(training, "training_copy", lambda model: model)
    out = tmp_path / "copy"
    with pytest.raises(FrozenJudgeError, match="original model changed"):
        train_prediction_copy(TEXTS, out, base=tiny_base_dir, steps=2, lr=0.05)
    assert not out.exists()


def test_the_loss_falls_on_a_text_seen_again_and_again(tiny_base_dir, tmp_path):
    record = train_prediction_copy(TEXTS[:1], tmp_path / "c", base=tiny_base_dir, steps=12,
                                   lr=0.02, batch_size=1)
    assert record["loss"][-1] < record["loss"][0] - 0.1


def test_the_time_budget_stops_training(tiny_base_dir, tmp_path):
    record = train_prediction_copy(TEXTS, tmp_path / "c", base=tiny_base_dir, steps=10_000,
                                   max_minutes=1e-4)
    assert record["stopped_by"] == "time" and 1 <= record["steps"] < 10_000


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps"),
    ({"max_minutes": 0}, "max_minutes"),
    ({"lr": float("nan")}, "lr"),
    ({"rank": 0}, "rank"),
    ({"batch_size": True}, "batch_size"),
    ({"max_tokens": 4}, "max_tokens"),
    ({"target_modules": ()}, "target_modules"),
])
def test_bad_settings_name_the_problem(tiny_base_dir, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_prediction_copy(TEXTS, tmp_path / "c", base=tiny_base_dir, **kwargs)


def test_bad_texts_folders_and_layers(tiny_base_dir, tmp_path):
    with pytest.raises(ValueError, match="no texts"):
        train_prediction_copy([], tmp_path / "c", base=tiny_base_dir)
    with pytest.raises(ValueError, match="non-empty strings"):
        train_prediction_copy(["ok", " "], tmp_path / "c", base=tiny_base_dir)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    with pytest.raises(ValueError, match="never overwritten"):
        train_prediction_copy(TEXTS, taken, base=tiny_base_dir)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train_prediction_copy(TEXTS, tmp_path / "c", base=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="matches target_modules"):
        train_prediction_copy(TEXTS, tmp_path / "c", base=tiny_base_dir,
                              target_modules=("no_such_proj",))
    assert not (tmp_path / "c").exists()


def test_same_seed_same_copy_and_the_callers_random_state_is_left_alone(tiny_base_dir, tmp_path):
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = train_prediction_copy(TEXTS, tmp_path / "a", base=tiny_base_dir, steps=2, seed=4)
    assert torch.equal(torch.rand(3), expected)
    b = train_prediction_copy(TEXTS, tmp_path / "b", base=tiny_base_dir, steps=2, seed=4)
    c = train_prediction_copy(TEXTS, tmp_path / "c", base=tiny_base_dir, steps=2, seed=5)
    assert a["fingerprint"] == b["fingerprint"] != c["fingerprint"]


def test_without_peft_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "peft", None)  # import peft raises ImportError
    with pytest.raises(ImportError, match=r"consent-gym\[llm\]"):
        train_prediction_copy(TEXTS, tmp_path / "c")
