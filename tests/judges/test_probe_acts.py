"""probe_acts: the report gate's generated documents are deterministic, labelled line by line,
cover every speech act, and share no line with the evaluation sets."""

from __future__ import annotations

import pytest

from consent_gym.judges.probe_acts import ACTS, act_episodes
from tests.judges.test_probe_data import _eval_texts


def test_deterministic_from_the_seed_and_different_across_seeds():
    assert act_episodes(seed=3, n=30) == act_episodes(seed=3, n=30)
    assert act_episodes(seed=3, n=30) != act_episodes(seed=4, n=30)


def test_every_line_is_labelled_and_every_act_and_mixture_occurs():
    docs = act_episodes(seed=0, n=300)
    assert len(docs) == 300
    for doc in docs:
        assert len(doc.lines) == len(doc.reports) and doc.act in ACTS
        assert doc.text == "\n".join(doc.lines)
        assert not all(doc.reports)  # every document holds a block that reports nothing
    assert {d.act for d in docs} == set(ACTS)
    mixed = [d for d in docs if any(d.reports)]
    assert 0.3 < len(mixed) / len(docs) < 0.7  # inside a report episode, or alone
    # a legend block opens with its heading and numbers its entries
    legend = next(d for d in docs if d.act == "legend" and not any(d.reports))
    assert len(legend.lines) >= 2


def test_no_generated_line_appears_in_an_evaluation_set():
    """The gate must never see a sentence of judge-bench, the format suite or a renderer."""
    lines = {ln for d in act_episodes(seed=0, n=600) for ln, rep in zip(d.lines, d.reports,
                                                                       strict=True) if not rep}
    lines = {ln for ln in lines if len(ln) > 25}
    assert len(lines) > 500
    haystack = "\n".join(_eval_texts()).lower()
    assert sorted(ln for ln in lines if ln.lower() in haystack) == []


@pytest.mark.parametrize(("kwargs", "match"), [({"n": 0}, "positive int"),
                                                ({"n": 1.5}, "positive int"),
                                                ({"seed": None}, "seed must be an int")])
def test_bad_arguments_name_the_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        act_episodes(**kwargs)
