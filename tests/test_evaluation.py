"""Metrics in consent_gym.evaluation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_gym.evaluation import (
    balanced_accuracy,
    confusion_matrix,
    evaluate_predictions,
    load_labelled_jsonl,
    per_tag_accuracy,
)


def test_confusion_cells_use_acceptable_as_positive():
    cm = confusion_matrix([True, True, False, False], [True, False, True, False])
    assert cm == {"tp": 1, "fn": 1, "fp": 1, "tn": 1}


def test_balanced_accuracy_ignores_class_imbalance():
    labels = [True] * 9 + [False]
    assert balanced_accuracy(labels, [True] * 10) == 0.5
    assert balanced_accuracy(labels, labels) == 1.0
    assert balanced_accuracy(labels, [not y for y in labels]) == 0.0


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=50))
def test_balanced_accuracy_is_mean_class_recall(pairs):
    labels, preds = [p[0] for p in pairs], [p[1] for p in pairs]
    ba = balanced_accuracy(labels, preds)
    assert 0.0 <= ba <= 1.0
    pos = [p for y, p in pairs if y]
    neg = [not p for y, p in pairs if not y]
    recalls = [sum(r) / len(r) for r in (pos, neg) if r]
    assert ba == pytest.approx(sum(recalls) / len(recalls))


def test_per_tag_and_report():
    labels = [True, False, True, False]
    preds = [True, False, False, False]
    tags = ["a", "a", "b", "b"]
    per = per_tag_accuracy(labels, preds, tags)
    assert per["a"] == {"n": 2, "correct": 2, "accuracy": 1.0, "balanced_accuracy": 1.0}
    assert per["b"]["correct"] == 1
    report = evaluate_predictions(labels, preds, tags, episodes_per_s=12.5)
    d = report.to_dict()
    assert d["n"] == 4 and d["balanced_accuracy"] == 0.75 and d["episodes_per_s"] == 12.5
    json.dumps(d)
    assert "per tag" in report.format()


def test_length_mismatch_and_empty_raise():
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix([True], [True, False])
    with pytest.raises(ValueError, match="tags"):
        per_tag_accuracy([True], [True], ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        balanced_accuracy([], [])


def test_load_labelled_jsonl_names_bad_lines(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "a", "acceptable": true}\n\n{"text": "b", "acceptable": false, '
                    '"tag": "x"}\n')
    rows = load_labelled_jsonl(good)
    assert [r["tag"] for r in rows] == ["untagged", "x"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "acceptable": "yes"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1"):
        load_labelled_jsonl(bad)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_labelled_jsonl(broken)
