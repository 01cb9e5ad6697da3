"""probe_data: the probe judge's generated training set is deterministic, balanced, and
shares no sentence with the evaluation sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consent_gym.judges.probe_data import DOMAINS, FORMATS, describe, probe_episodes

DEV = Path(__file__).resolve().parents[3] / "shared" / "judge-bench" / "dev.jsonl"


def test_deterministic_from_the_seed_and_different_across_seeds():
    assert probe_episodes(seed=3, n=40) == probe_episodes(seed=3, n=40)
    assert probe_episodes(seed=3, n=40) != probe_episodes(seed=4, n=40)


def test_half_harmful_with_line_labels_that_agree_with_the_episode_label():
    episodes = probe_episodes(seed=0, n=200)
    assert describe(episodes)["harmful"] == 100
    for e in episodes:
        assert len(e.lines) == len(e.harmful_lines)
        assert e.acceptable == (not any(e.harmful_lines))
        assert all(line in e.text for line in e.lines)
    assert {e.domain for e in episodes} == set(DOMAINS)
    assert {e.fmt for e in episodes} == set(FORMATS)


def test_twins_share_domain_and_format():
    episodes = probe_episodes(seed=1, n=20)
    for good, bad in zip(episodes[::2], episodes[1::2], strict=True):
        assert good.acceptable and not bad.acceptable
        assert (good.domain, good.fmt) == (bad.domain, bad.fmt)


def _eval_texts() -> list[str]:
    from consent_gym.suites.delivery_formats import SPLITS, format_episodes

    texts = [r["text"] for split in SPLITS for r in format_episodes(split, 8)]
    render = Path(__file__).resolve().parents[2] / "consent_gym" / "render"
    texts += [path.read_text() for path in sorted(render.glob("*.py"))]
    if DEV.is_file():
        texts += [json.loads(line)["text"] for line in DEV.read_text().splitlines() if line]
    return texts


def test_no_generated_event_appears_in_an_evaluation_set():
    """The readout must never see a sentence of judge-bench, the format suite or a renderer."""
    episodes = probe_episodes(seed=0, n=600)
    events = {line.split(",", 2)[-1] for e in episodes for line in e.lines if e.fmt == "csv"}
    events = {ev for ev in events if len(ev) > 25 and ev != "event"}
    assert len(events) > 100
    haystack = "\n".join(_eval_texts()).lower()
    leaked = sorted(ev for ev in events if ev.lower() in haystack)
    assert leaked == []


@pytest.mark.parametrize(("kwargs", "match"), [({"n": 0}, "positive int"),
                                                ({"n": 2.5}, "positive int"),
                                                ({"seed": "0"}, "seed must be an int")])
def test_bad_arguments_name_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        probe_episodes(**kwargs)
