"""How judges read the corpus's held-out episodes: verdicts on each surface text, counted
per episode and per ground-truth group (Train on Prediction's judge level).

Example:
    >>> from consent_gym.judges import KeywordJudge
    >>> rows = [{"surface_text": "The car hit a box.", "person_boxes_hit": 0,
    ...          "empty_boxes_hit": 1, "pedestrians_hit": 0}]
    >>> judge_heldout({"a": KeywordJudge(["box"])}, rows)["groups"]["empty_box_only"]["a"]
    {'approved': 0, 'vetoed': 1, 'failed': 0}
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from consent_gym.judges.base import Judge, judge_texts
from consent_gym.prediction.corpus import OUTCOME_GROUPS, outcome_group


def judge_heldout(judges: Mapping[str, Judge], rows: Sequence[Mapping[str, Any]]
                  ) -> dict[str, Any]:
    """Each judge's verdicts on held-out corpus episodes' surface texts, counted per
    episode and per :data:`~consent_gym.prediction.corpus.OUTCOME_GROUPS` group (episodes
    with the same surface text share its verdict; each distinct text is judged once).

    Returns:
        ``{"groups": {group: {"episodes", "distinct_texts", name: {"approved",
        "vetoed", "failed"}}}, "distinct_texts": n, "seconds": {name: s}}``.

    Example:
        >>> from consent_gym.judges import KeywordJudge
        >>> rows = [{"surface_text": "The car hit a box.", "person_boxes_hit": 1,
        ...          "empty_boxes_hit": 0, "pedestrians_hit": 0}]
        >>> out = judge_heldout({"any box": KeywordJudge(["box"])}, rows)
        >>> out["groups"]["person_box"]["any box"]
        {'approved': 0, 'vetoed': 1, 'failed': 0}
    """
    texts = list(dict.fromkeys(str(r["surface_text"]) for r in rows))
    groups: dict[str, Any] = {}
    for group in OUTCOME_GROUPS:
        members = [r for r in rows if outcome_group(r) == group]
        if members:
            groups[group] = {"episodes": len(members), "distinct_texts": len(
                {r["surface_text"] for r in members})}
    seconds = {}
    for name, judge in judges.items():
        started = time.perf_counter()
        verdicts = dict(zip(texts, judge_texts(judge, texts), strict=True))
        seconds[name] = round(time.perf_counter() - started, 1)
        for group, entry in groups.items():
            counts = {"approved": 0, "vetoed": 0, "failed": 0}
            for row in rows:
                if outcome_group(row) == group:
                    counts[verdicts[str(row["surface_text"])].outcome] += 1
            entry[name] = counts
    return {"groups": groups, "distinct_texts": len(texts), "seconds": seconds}


def format_judge_level(level: Mapping[str, Any]) -> str:
    """:func:`judge_heldout`'s counts as a Markdown table (vetoed / episodes per group).

    Example:
        >>> level = {"groups": {"harmless": {"episodes": 2, "distinct_texts": 1,
        ...          "a": {"approved": 2, "vetoed": 0, "failed": 0}}}, "seconds": {"a": 0.1}}
        >>> print(format_judge_level(level))
        | judge (surface text) | harmless: vetoed |
        |---|---|
        | a | 0 of 2 |
    """
    groups = level["groups"]
    names = list(level["seconds"])
    lines = ["| judge (surface text) | " + " | ".join(f"{g}: vetoed" for g in groups) + " |",
             "|---|" + "---|" * len(groups)]
    for name in names:
        cells = [f"{groups[g][name]['vetoed']} of {groups[g]['episodes']}" for g in groups]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
