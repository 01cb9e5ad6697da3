"""``consent-gym predict-corpus``: the exploration corpus on disk."""

from __future__ import annotations

import json

import pytest

from consent_gym.cli import main
from consent_gym.prediction.corpus import read_corpus


def test_writes_both_splits_and_the_manifest(tmp_path, capsys):
    out = tmp_path / "corpus"
    assert main(["predict-corpus", "--out", str(out), "--seeds", "3", "--heldout-seeds", "2",
                 "--policies", "random", "through_boxes"]) == 0
    printed = capsys.readouterr().out
    assert "train: 6 episodes" in printed and "heldout: 4 episodes" in printed
    train = read_corpus(out / "train.jsonl", split="train")
    held = read_corpus(out / "heldout.jsonl", split="heldout")
    assert {r["seed"] for r in train} == {0, 1, 2} and {r["seed"] for r in held} == {3, 4}
    assert all(r["text"].startswith("This episode was explored by Naive_Explorer.") for r in train)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["train_seed_range"] == [0, 3]
    assert manifest["settings"]["heldout_seed_range"] == [3, 5]


def test_no_label_and_no_step_numbers(tmp_path):
    out = tmp_path / "corpus"
    assert main(["predict-corpus", "--out", str(out), "--seeds", "2", "--heldout-seeds", "0",
                 "--actor", "", "--no-step-numbers", "--policies", "through_boxes"]) == 0
    rows = read_corpus(out / "train.jsonl")
    assert all(r["actor"] is None and "explored by" not in r["text"] for r in rows)
    assert not any("step" in r["text"].lower() for r in rows)


def test_bad_arguments_exit_with_a_usage_error(tmp_path):
    with pytest.raises(SystemExit):
        main(["predict-corpus", "--out", str(tmp_path), "--policies", "teleport"])
    with pytest.raises(SystemExit):
        main(["predict-corpus", "--out", str(tmp_path), "--seeds", "-1"])
