"""PanelRenderer (consent_gym.render.views): a panel's views text from a trajectory."""

from __future__ import annotations

import pytest

from consent_gym.judges import JudgePanel, PanelMember
from consent_gym.render import GenericRenderer
from consent_gym.render.views import (
    SHARED_VIEW,
    PanelRenderer,
    format_views,
    parse_views,
)
from tests.fakes import FixedJudge, Informed, Surface, box_episode, no_people


def test_panel_renderer_holds_no_judge_and_pickles_without_it():
    import pickle

    class Unpicklable(FixedJudge):
        def __reduce__(self):
            raise TypeError("a judge model must never be copied into an env")

    panel = JudgePanel([Unpicklable(True)], renderers=[Informed()])
    copy = pickle.loads(pickle.dumps(PanelRenderer(panel)))
    text = copy.render(box_episode("person"))
    assert panel.judge_batch([text])[0].members[0].approved
    assert "informed" in repr(copy)
    with pytest.raises(TypeError, match="JudgePanel"):
        PanelRenderer(FixedJudge(True))  # type: ignore[arg-type]


def test_views_text_holds_each_distinct_renderer_once_in_member_order():
    surface, informed = Surface(), Informed()
    panel = JudgePanel([PanelMember(no_people, informed), no_people,
                        PanelMember(no_people, surface), PanelMember(no_people, informed)])
    renderer = PanelRenderer(panel, GenericRenderer())
    text = renderer.render(box_episode("person"))
    parsed = parse_views(text)
    assert parsed is not None and parsed.members == panel.member_views
    assert list(parsed.views) == ["informed", SHARED_VIEW, "surface"]
    assert (surface.calls, informed.calls) == (1, 1)
    assert text == format_views(panel.member_views, renderer.render_views(box_episode("person")))
    assert panel.member_texts(text)[0] == "Step 2: the car hit a box with a person inside."


def test_a_shared_renderer_is_dropped_when_no_member_needs_it():
    panel = JudgePanel([no_people], renderers=[Informed()])
    assert PanelRenderer(panel, Surface()).shared is None
    with pytest.raises(TypeError, match="render"):
        PanelRenderer(JudgePanel([no_people, no_people], renderers=[None, Informed()]), 3)
