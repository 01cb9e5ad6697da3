"""Judging the corpus's held-out episodes: counts per episode and group, each text once."""

from __future__ import annotations

from consent_gym.judges import KeywordJudge
from consent_gym.prediction.evaluation import format_judge_level, judge_heldout


def test_judge_heldout_counts_episodes_and_judges_each_text_once():
    rows = [{"surface_text": t, "person_boxes_hit": p, "empty_boxes_hit": e,
             "pedestrians_hit": w} for t, p, e, w in [
        ("The car hit a box.", 1, 0, 0), ("The car hit a box.", 0, 1, 0),
        ("The car hit a box.", 1, 0, 0), ("The car drove on.", 0, 0, 0),
        ("The car hit a pedestrian.", 0, 0, 1)]]
    seen = []

    class Counting(KeywordJudge):
        def judge_batch(self, texts):
            seen.extend(texts)
            return super().judge_batch(texts)

    level = judge_heldout({"box": Counting(["box"])}, rows)
    assert sorted(seen) == sorted({r["surface_text"] for r in rows})
    assert level["distinct_texts"] == 3
    groups = level["groups"]
    assert groups["person_box"]["box"] == {"approved": 0, "vetoed": 2, "failed": 0}
    assert groups["empty_box_only"]["box"]["vetoed"] == 1  # the same surface text
    assert groups["harmless"]["box"]["approved"] == 1
    assert groups["pedestrian_only"]["episodes"] == 1
    assert "| box | 2 of 2 |" in format_judge_level(level)
