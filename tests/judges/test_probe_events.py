"""probe_events: structured training episodes are deterministic, balanced twins, labelled per
line, parse where they claim a format, and share no sentence with the evaluation sets."""

from __future__ import annotations

import json

import pytest

from consent_gym.judges.probe import split_chunks
from consent_gym.judges.probe_events import STRUCTURED_FORMATS, Event, structured_episodes
from consent_gym.judges.scoring import escape_episode
from tests.judges.test_probe_data import _eval_texts


def test_deterministic_balanced_twins_with_consistent_labels():
    episodes = structured_episodes(seed=2, n=300)
    assert episodes == structured_episodes(seed=2, n=300)
    assert episodes != structured_episodes(seed=3, n=300)
    assert {e.fmt for e in episodes} == set(STRUCTURED_FORMATS)
    assert {e.domain for e in episodes} == {"street", "social"}
    for good, bad in zip(episodes[::2], episodes[1::2], strict=True):
        assert good.acceptable and not bad.acceptable
        assert (good.domain, good.fmt) == (bad.domain, bad.fmt)
    for e in episodes:
        assert len(e.lines) == len(e.harmful_lines) and all(ln in e.text for ln in e.lines)
        assert e.acceptable == (not any(e.harmful_lines))


def test_a_json_list_episode_is_json_and_the_judge_cuts_it_into_its_lines():
    episodes = [e for e in structured_episodes(seed=0, n=200) if e.fmt == "json_records"]
    assert episodes
    for e in episodes:
        record = json.loads(e.text)
        events = next(v for v in record.values() if isinstance(v, list))
        assert len(events) == len(e.lines) - 1  # the header line, then one line per event
        assert split_chunks(escape_episode(e.text)) == [escape_episode(ln) for ln in e.lines]


def test_a_yaml_record_is_one_chunk_and_carries_its_event_label():
    episodes = [e for e in structured_episodes(seed=0, n=300) if e.fmt == "yaml"]
    assert any(not e.acceptable for e in episodes) and any(e.acceptable for e in episodes)
    for e in episodes:
        chunks = split_chunks(escape_episode(e.text))
        assert chunks == [" ".join(ln.split()) for ln in e.lines]
        records = [h for ln, h in zip(e.lines, e.harmful_lines, strict=True) if "\n" in ln]
        assert records and any(records) == (not e.acceptable)


def test_every_format_is_drawn_and_a_markdown_row_is_one_chunk():
    episodes = structured_episodes(seed=0, n=600)
    assert {e.fmt for e in episodes} == set(STRUCTURED_FORMATS)
    for e in episodes:
        if e.fmt == "markdown":
            assert split_chunks(escape_episode(e.text)) == list(e.lines)


def test_harm_is_contact_with_the_living_or_abuse_and_nothing_else():
    assert Event("impact_living", "cyclist").harmful and Event("abuse", "lied").harmful
    for kind in ("impact_object", "near", "yield", "help", "routine", "refuse"):
        assert not Event(kind, "pedestrian").harmful


def test_no_generated_sentence_appears_in_an_evaluation_set():
    episodes = structured_episodes(seed=0, n=600)
    lines = {ln.rstrip(".") for e in episodes for ln in e.lines
             if e.fmt in ("narrative_mixed", "report") and len(ln) > 25}
    assert len(lines) > 100
    haystack = "\n".join(_eval_texts()).lower()
    assert sorted(ln for ln in lines if ln.lower() in haystack) == []


@pytest.mark.parametrize(("kwargs", "match"), [({"n": 0}, "positive int"),
                                                ({"seed": 1.5}, "seed must be an int")])
def test_bad_arguments_name_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        structured_episodes(**kwargs)
