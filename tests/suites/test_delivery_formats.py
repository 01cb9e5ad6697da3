"""Delivery episodes in formats the renderer never produces."""

from __future__ import annotations

import json
import random
import re

import pytest

from consent_gym.render.delivery import HARM_PHRASES
from consent_gym.suites.delivery_formats import (
    DEV_FORMATS,
    FORMATS,
    HELD_OUT_2_FORMATS,
    HELD_OUT_3_FORMATS,
    HELD_OUT_4_FORMATS,
    HELD_OUT_5_FORMATS,
    HELD_OUT_6_FORMATS,
    HELD_OUT_ONLY_FORMATS,
    format_episodes,
    random_trip,
)


def test_dev_and_held_out_are_disjoint_and_balanced():
    dev = format_episodes("dev", 6)
    held = format_episodes("held_out", 6)
    assert len(dev) == 6 * len(DEV_FORMATS)
    assert len(held) == 6 * (len(DEV_FORMATS) + len(HELD_OUT_ONLY_FORMATS))
    assert not {r["text"] for r in dev} & {r["text"] for r in held}
    assert {r["tag"] for r in dev} == set(DEV_FORMATS)
    assert set(HELD_OUT_ONLY_FORMATS) <= {r["tag"] for r in held}
    assert sum(r["acceptable"] for r in held) == len(held) // 2
    assert format_episodes("dev", 6) == dev  # deterministic


@pytest.mark.parametrize(("split", "own", "earlier_splits"), [
    ("held_out_2", HELD_OUT_2_FORMATS, ("dev", "held_out")),
    ("held_out_3", HELD_OUT_3_FORMATS, ("dev", "held_out", "held_out_2")),
    ("held_out_4", HELD_OUT_4_FORMATS, ("dev", "held_out", "held_out_2", "held_out_3")),
    ("held_out_5", HELD_OUT_5_FORMATS, ("dev", "held_out", "held_out_2", "held_out_3",
                                        "held_out_4")),
    ("held_out_6", HELD_OUT_6_FORMATS, ("dev", "held_out", "held_out_2", "held_out_3",
                                        "held_out_4", "held_out_5")),
])
def test_each_later_held_out_split_has_only_its_own_formats_and_seeds(split, own,
                                                                      earlier_splits):
    rows = format_episodes(split, 6)
    assert {r["tag"] for r in rows} == set(own)
    earlier = {r["tag"] for s in earlier_splits for r in format_episodes(s, 6)}
    assert not earlier & set(own)
    assert sum(r["acceptable"] for r in rows) == len(rows) // 2
    assert all(r["split"] == split for r in rows)
    with pytest.raises(ValueError, match="not in the held_out split"):
        format_episodes("held_out", formats=[own[0]])


def test_every_format_belongs_to_exactly_one_split():
    owned = (DEV_FORMATS + HELD_OUT_ONLY_FORMATS + HELD_OUT_2_FORMATS + HELD_OUT_3_FORMATS
             + HELD_OUT_4_FORMATS + HELD_OUT_5_FORMATS + HELD_OUT_6_FORMATS)
    assert sorted(owned) == sorted(FORMATS)


def test_at_least_five_formats_none_with_the_renderers_phrases():
    assert len(DEV_FORMATS) >= 5
    for row in [r for s in ("held_out", "held_out_2", "held_out_3", "held_out_4", "held_out_5",
                            "held_out_6")
                for r in format_episodes(s, 10)]:
        assert not any(p in row["text"] for p in HARM_PHRASES)
        assert "the car mounted the curb" not in row["text"]


def test_json_format_is_json_and_harm_is_in_the_text():
    for row in format_episodes("dev", 10, formats=["json_events"]):
        events = json.loads(row["text"])["events"]
        injured = any(e.get("injured") for e in events)
        assert injured == (not row["acceptable"])


@pytest.mark.parametrize("name", ["tsv_sheet", "xml_events"])
def test_the_injured_count_is_in_the_tabular_formats(name):
    for row in format_episodes("held_out_3", 10, formats=[name]):
        hurt = "casualties=\"1\"" in row["text"] or "\t1\n" in row["text"] + "\n"
        dog = "dog (dead)" in row["text"] or "dog killed" in row["text"]
        assert (hurt or dog) == (not row["acceptable"])


_STRUCK = {"person", "cyclist", "dog", "person_in_box", "sidewalk_person"}


def _trips(n=40, seed=3):
    """Harmful and harmless trips, with the rng that renders them."""
    rng = random.Random(seed)
    return [(random_trip(rng, harmful=i % 2 == 1), rng) for i in range(n)]


def test_toml_record_parses_and_body_contact_is_true_on_harmful_legs_only():
    tomllib = pytest.importorskip("tomllib")  # standard library from Python 3.11
    for trip, rng in _trips():
        doc = tomllib.loads(FORMATS["toml_record"](trip, rng))
        legs = doc["run"]["leg"]
        assert [leg.get("body_contact", False) for leg in legs] == [
            e["kind"] in _STRUCK for e in trip["events"]]
        assert doc["run"]["parcel_handed_over"] is trip["delivered"]
        assert [leg["at"].minute for leg in legs] == [e["minute"] % 60 for e in trip["events"]]


def test_fixed_width_logbook_columns_line_up_and_struck_rows_are_the_harmful_events():
    for trip, rng in _trips():
        lines = FORMATS["fixed_width_logbook"](trip, rng).splitlines()
        starts = [lines[1].index(h) for h in ("ROAD", "ENTRY", "REMARKS")]
        rows = lines[3:]
        assert len(rows) == len(trip["events"]) + 1
        for line in rows:
            assert all(line[s - 1] == " " and line[s] != " " for s in starts), line
        entries = [line[starts[1]:starts[2]].strip() for line in rows[:-1]]
        assert ["STRUCK" in x for x in entries] == [e["kind"] in _STRUCK for e in trip["events"]]
        if any(e["kind"] == "near_miss" for e in trip["events"]):
            assert "emergency braking" in entries


def test_icalendar_is_well_formed_and_priority_marks_the_struck_events():
    for trip, rng in _trips():
        text = FORMATS["icalendar"](trip, rng)
        assert all(len(line) <= 75 for line in text.splitlines())
        lines = text.replace("\n ", "").splitlines()  # unfold continuation lines
        assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
        assert all(re.fullmatch(r"[A-Z-]+:.+", line) for line in lines), lines
        assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == len(trip["events"]) + 1
        for line in lines:
            name, value = line.split(":", 1)
            if name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
                assert not re.search(r"(?<!\\)[,;]", value), line  # TEXT escapes , and ;
        n_struck = sum(e["kind"] in _STRUCK for e in trip["events"])
        assert lines.count("PRIORITY:1") == n_struck


def test_live_commentary_has_one_timed_line_per_event_and_names_the_harm_there_only():
    for trip, rng in _trips():
        lines = FORMATS["live_commentary"](trip, rng).splitlines()
        entries = lines[4:-1]
        assert len(entries) == len(trip["events"]) and lines[-1].startswith("FULL TIME: ")
        for line, e in zip(entries, trip["events"], strict=True):
            hour, minute = map(int, re.match(r"(\d\d):(\d\d)  ", line).groups())
            assert (hour, minute) == (trip["start"] + e["minute"] // 60, e["minute"] % 60)
            harm = "dead" in line or ("injury" in e and e["injury"] in line)
            assert harm == (e["kind"] in _STRUCK), line


def test_deposition_alternates_questions_and_answers_and_admits_only_real_strikes():
    for trip, rng in _trips():
        lines = FORMATS["deposition"](trip, rng).splitlines()[1:]
        assert [line[:3] for line in lines] == ["Q. ", "A. "] * (len(lines) // 2)
        admission = lines[lines.index("Q. Did your vehicle strike any person or animal on "
                                      "that run?") + 1]
        assert admission.startswith("A. Yes") == any(e["kind"] in _STRUCK
                                                     for e in trip["events"])
        misses = sum(e["kind"] == "near_miss" for e in trip["events"])
        assert sum("I didn't touch them" in line for line in lines) == misses


def test_harmful_trips_name_a_victim():
    rng = random.Random(1)
    for _ in range(20):
        kinds = {e["kind"] for e in random_trip(rng, harmful=True)["events"]}
        assert kinds & {"person", "cyclist", "dog", "person_in_box", "sidewalk_person"}
        kinds = {e["kind"] for e in random_trip(rng, harmful=False)["events"]}
        assert not kinds & {"person", "cyclist", "dog", "person_in_box", "sidewalk_person"}


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        format_episodes("test")
    with pytest.raises(ValueError, match="not in the dev split"):
        format_episodes("dev", formats=["csv_table"])
    with pytest.raises(ValueError, match="per_format"):
        format_episodes("dev", 0)
