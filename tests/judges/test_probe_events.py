"""probe_events: structured training episodes are deterministic, balanced twins, labelled per
line, parse where they claim a format, and share no sentence with the evaluation sets."""

from __future__ import annotations

import json
import re

import pytest

from consent_gym.judges.probe import split_chunks
from consent_gym.judges.probe_events import (
    _ASKED,
    _COLUMNS,
    _INTROS,
    _LIVING_CONTACT_KEYS,
    _MARKS,
    _NOBODY,
    _SAFE_CLAIMS,
    _SECTION_NAMES,
    STRUCTURED_FORMATS,
    Event,
    structured_episodes,
)
from consent_gym.judges.scoring import escape_episode
from tests.judges.test_probe_data import _eval_texts


def _line_chunks(episode):
    """The judge's chunks of each line of ``episode`` in turn."""
    return [c for ln in episode.lines for c in split_chunks(escape_episode(ln))]


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
        if e.fmt == "markdown":  # (a header name ending in "?" is a sentence of its own)
            assert split_chunks(escape_episode(e.text)) == _line_chunks(e)


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


def test_a_sections_text_flags_only_the_line_that_completes_contact_with_the_living():
    episodes = [e for e in structured_episodes(seed=0, n=1200) if e.fmt == "sections"]
    assert any(not e.acceptable for e in episodes) and any(e.acceptable for e in episodes)
    for e in episodes:
        assert split_chunks(escape_episode(e.text)) == [" ".join(ln.split()) for ln in e.lines]
        header = re.compile(rf"[\[=#<(\-\s\d)]*(?:{'|'.join(_SECTION_NAMES)})[\s#.\d]*[\]=>:\-\s]*",
                            re.IGNORECASE)
        headers = {i for i, ln in enumerate(e.lines) if header.fullmatch(ln)}
        assert headers
        for i, harmful in enumerate(e.harmful_lines):
            if harmful and not e.harmful_lines[i - 1]:  # a harmful run: never a first field,
                assert i - 1 not in headers, e.text  # which says only half of the harm
    # one separator per text: every line after the headers splits on the same one
    assert any("\t" in e.text for e in episodes) and any(" -> " in e.text for e in episodes)


def test_a_chain_is_one_line_of_steps_labelled_step_by_step():
    episodes = [e for e in structured_episodes(seed=0, n=600) if e.fmt == "chain"]
    assert any(not e.acceptable for e in episodes) and any(e.acceptable for e in episodes)
    for e in episodes:
        assert e.text.count("\n") <= 1  # a label may stand on the line above
        bad = [ln for ln, h in zip(e.lines, e.harmful_lines, strict=True) if h]
        assert bool(bad) == (not e.acceptable)
        assert all(ln in e.text for ln in e.lines)


def test_a_checklist_reports_harm_by_the_mark_on_a_claim_about_others():
    episodes = [e for e in structured_episodes(seed=0, n=900) if e.fmt == "checklist"]
    assert any(not e.acceptable for e in episodes) and any(e.acceptable for e in episodes)
    for e in episodes:
        assert split_chunks(escape_episode(e.text)) == [" ".join(ln.split()) for ln in e.lines]
        harmful = [ln for ln, h in zip(e.lines, e.harmful_lines, strict=True) if h]
        assert bool(harmful) == (not e.acceptable)
    # a claim that nobody was harmed is harmful where it is left unticked, harmless ticked
    claims = [(ln, h) for e in episodes for ln, h in zip(e.lines, e.harmful_lines, strict=True)
              if any(ln.endswith(c) for c in _SAFE_CLAIMS)]
    assert {h for _, h in claims} == {True, False}
    for line, harmful in claims:
        mark = line[:line.index(next(c for c in _SAFE_CLAIMS if line.endswith(c)))].strip()
        assert harmful == any(mark == unticked for _, unticked in _MARKS)


def test_a_table_may_write_its_rows_as_quoted_tuples_and_a_party_may_be_hit_by_a_pronoun():
    episodes = structured_episodes(seed=0, n=900)
    tuples = [e for e in episodes if e.fmt == "table" and e.text.startswith("(")]
    assert tuples
    for e in tuples:
        assert all(ln.startswith("(") and ln.rstrip(",;").endswith(")") for ln in e.lines)
        assert e.lines[-1].endswith(";")
    intro = re.compile("|".join(re.escape(s.rstrip(".")).replace(r"\{A\}", ".+").replace(
        r"\{a\}", ".+").replace(r"\{t\}", ".+") for s in _INTROS) + r"\.")
    named = [(e, i) for e in episodes if e.fmt in ("narrative_mixed", "first_person_mixed")
             for i, ln in enumerate(e.lines[:-1]) if intro.fullmatch(ln)
             and re.search(r" (them|him|her|it)\b", e.lines[i + 1])]  # not a line put between
    assert any(e.harmful_lines[i + 1] for e, i in named)  # a person hit, named the line before
    assert any(not e.harmful_lines[i + 1] for e, i in named)  # an object, named the line before
    for e, i in named:
        assert not e.harmful_lines[i]  # naming the party is not harm


def test_a_grid_header_names_harm_harmlessly_and_only_rows_report_it():
    episodes = [e for e in structured_episodes(seed=0, n=1200) if e.fmt == "grid"]
    assert any(not e.acceptable for e in episodes) and any(e.acceptable for e in episodes)
    markers = {"<tr>": "html", " \\\\": "latex", "!!": "wiki", "| ": "boxed"}
    syntaxes = set()
    for e in episodes:
        assert split_chunks(escape_episode(e.text)) == _line_chunks(e)
        syntaxes.add(next((name for m, name in markers.items() if m in e.text), "fixed"))
        frame = ("<table", "</table", "\\", "{|", "|}", "|-", "+", "---")
        header = next(i for i, ln in enumerate(e.lines) if not ln.startswith(frame))
        rows = [i for i, ln in enumerate(e.lines) if i > header and not ln.startswith(frame)]
        assert not any(h for i, h in enumerate(e.harmful_lines) if i not in rows)
        assert any(e.harmful_lines) == (not e.acceptable)
    assert syntaxes == {"html", "latex", "wiki", "boxed", "fixed"}
    # some harmless headers ask about harm
    asking = [n.lower() for n in _COLUMNS[4] if n.endswith("?")]
    assert any(any(n in ln.lower() for n in asking) for e in episodes if e.acceptable
               for ln in e.lines)


def test_a_column_wise_record_is_harmful_only_where_its_values_say_so():
    episodes = [e for e in structured_episodes(seed=0, n=1200) if e.fmt == "columns"]
    assert any(not e.acceptable for e in episodes) and any(e.acceptable for e in episodes)
    false_harm_keys = 0
    for e in episodes:
        assert split_chunks(escape_episode(e.text)) == _line_chunks(e)
        for ln, harmful in zip(e.lines, e.harmful_lines, strict=True):
            key = re.match(r"""['"]?(\w+)""", ln)
            if key and key.group(1) in _LIVING_CONTACT_KEYS:
                truthy = re.search(r"\b(True|true|1|yes|Y)\b", ln.split("[", 1)[-1]
                                   .split("(", 1)[-1])
                assert harmful == bool(truthy), ln
                false_harm_keys += not harmful
        assert any(e.harmful_lines) == (not e.acceptable)
    assert false_harm_keys > 10  # keys that name harm and hold only "no"


def test_a_chat_may_ask_about_harm_and_only_a_yes_reports_it():
    episodes = [e for e in structured_episodes(seed=0, n=1200) if e.fmt == "chat"]
    asked = [(e, i) for e in episodes for i, ln in enumerate(e.lines)
             if ln.split(": ", 1)[-1] in _ASKED]
    assert {e.acceptable for e, _ in asked} == {True, False}
    for e, i in asked:
        assert not e.harmful_lines[i]
        answer = e.lines[i + 1].split(": ", 1)[1]
        assert e.harmful_lines[i + 1] == (answer not in _NOBODY) == (not e.acceptable)
