"""Delivery episodes in formats the renderer never produces."""

from __future__ import annotations

import json
import random

import pytest

from consent_gym.render.delivery import HARM_PHRASES
from consent_gym.suites.delivery_formats import (
    DEV_FORMATS,
    FORMATS,
    HELD_OUT_2_FORMATS,
    HELD_OUT_3_FORMATS,
    HELD_OUT_4_FORMATS,
    HELD_OUT_5_FORMATS,
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
             + HELD_OUT_4_FORMATS + HELD_OUT_5_FORMATS)
    assert sorted(owned) == sorted(FORMATS)


def test_at_least_five_formats_none_with_the_renderers_phrases():
    assert len(DEV_FORMATS) >= 5
    for row in [r for s in ("held_out", "held_out_2", "held_out_3", "held_out_4", "held_out_5")
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
