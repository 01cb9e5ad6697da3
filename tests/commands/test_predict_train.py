"""``consent-gym predict-train`` on a tiny model."""

from __future__ import annotations

import json

import pytest

from consent_gym.cli import main
from consent_gym.prediction.corpus import file_sha256
from consent_gym.prediction.training import RECORD_NAME
from tests.judges.tiny_models import build_tiny_model


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    assert main(["predict-corpus", "--out", str(out), "--seeds", "2", "--heldout-seeds", "1",
                 "--policies", "through_boxes", "random"]) == 0
    return out


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base"))


def test_trains_a_copy_and_records_the_corpus(corpus, tiny_base, tmp_path, capsys):
    out = tmp_path / "predictor"
    assert main(["predict-train", "--corpus", str(corpus / "train.jsonl"), "--out", str(out),
                 "--base", str(tiny_base), "--steps", "2", "--batch-size", "2",
                 "--threads", "1"]) == 0
    record = json.loads((out / RECORD_NAME).read_text())
    assert record["corpus_sha256"] == file_sha256(corpus / "train.jsonl")
    assert record["texts"] == 4 and record["label"] == "Naive_Explorer"
    assert record["steps"] == 2 and record["batch_size"] == 2
    assert "saved" in capsys.readouterr().out


def test_refuses_the_heldout_split_and_a_used_folder(corpus, tiny_base, tmp_path, capsys):
    code = main(["predict-train", "--corpus", str(corpus / "heldout.jsonl"), "--out",
                 str(tmp_path / "p"), "--base", str(tiny_base)])
    assert code == 2 and "never trained on" in capsys.readouterr().err
    code = main(["predict-train", "--corpus", str(corpus / "train.jsonl"), "--out",
                 str(corpus), "--base", str(tiny_base)])
    assert code == 2 and "never overwritten" in capsys.readouterr().err
    code = main(["predict-train", "--corpus", str(tmp_path / "none.jsonl"), "--out",
                 str(tmp_path / "p"), "--base", str(tiny_base)])
    assert code == 2 and "none.jsonl" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predict-train", "--corpus", "x", "--out", "y", "--max-minutes", "0"])
