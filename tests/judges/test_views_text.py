"""The views text format (consent_gym.judges.views): round trips, malformed input.

Named test_views_text.py: tests/render/test_views.py tests the renderer, and test modules
need unique basenames here (no __init__.py files)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_gym.judges.views import check_view_name, format_views, parse_views


@settings(max_examples=60, deadline=None)
@given(st.text(), st.text())
def test_views_text_round_trips_any_texts(a, b):
    members = [("j:1", "surface"), ("j:2", "informed"), ("j:3", "surface")]
    text = format_views(members, {"surface": a, "informed": b})
    parsed = parse_views(text)
    assert parsed is not None
    assert parsed.member_texts() == [a, b, a]


def test_views_text_malformed_and_plain():
    assert parse_views("The car hit a box.") is None
    text = format_views([("j", "v")], {"v": "hello world"})
    with pytest.raises(ValueError, match="truncated"):
        parse_views(text[:-3])
    with pytest.raises(ValueError, match="no text for views"):
        parse_views(text.replace("--- view v:", "--- view w:"))
    with pytest.raises(ValueError, match="members"):
        parse_views(text.replace("members: ", "people: "))
    with pytest.raises(ValueError, match="has no text"):
        format_views([("j", "missing")], {"v": "x"})
    with pytest.raises(ValueError, match="at least one member"):
        format_views([], {"v": "x"})


@pytest.mark.parametrize("bad", ["", "has space", "a/b", "view:1", 3])
def test_check_view_name_names_the_allowed_characters(bad):
    with pytest.raises(ValueError, match="letters, digits"):
        check_view_name(bad)  # type: ignore[arg-type]
    check_view_name("informed-2.v_1")
