"""scripts/fit_probe_judge.py's chunk labels: by position in the text, so one word means harm
only where it answers a harm question."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from consent_gym.judges.probe_data import ProbeEpisode, probe_episodes
from consent_gym.judges.probe_events import structured_episodes

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from fit_probe_judge import episode_chunks, main


def _episode(lines: list[str], harmful: list[bool], joiners: list[str]) -> ProbeEpisode:
    text = lines[0] + "".join(j + ln for j, ln in zip(joiners, lines[1:], strict=True))
    return ProbeEpisode(text=text, lines=tuple(lines), harmful_lines=tuple(harmful),
                        acceptable=not any(harmful), domain="street", fmt="form")


def test_a_bare_answer_is_harmful_only_where_it_answers_the_harm_question():
    e = _episode(["Parcel handed over?", "Yes.", "Anyone injured?", "Yes.",
                  "The cyclist broke a wrist."],
                 [False, False, False, True, True], [" ", "\n", " ", " "])
    assert episode_chunks(e) == [("Parcel handed over?", False), ("Yes.", False),
                                 ("Anyone injured?", False), ("Yes.", True),
                                 ("The cyclist broke a wrist.", True)]


def test_a_word_window_inside_a_harmful_line_is_harmful_and_one_around_it_too():
    long_bad = " ".join(["the van hit a man"] * 10)  # 50 words: cut into windows
    e = _episode(["Start.", long_bad, "End."], [False, True, False], ["\n", "\n"])
    labels = episode_chunks(e, max_words=8)
    assert labels[0] == ("Start.", False) and labels[-1] == ("End.", False)
    assert all(h for _, h in labels[1:-1]) and len(labels) > 4


def test_every_generated_episode_is_labelled_line_by_line():
    for e in structured_episodes(seed=1, n=400) + probe_episodes(seed=1, n=200):
        labels = episode_chunks(e)
        assert any(h for _, h in labels) == (not e.acceptable), e.text


def test_lines_that_are_not_the_texts_lines_name_the_problem():
    e = ProbeEpisode(text="A. B.", lines=("A.", "C."), harmful_lines=(False, True),
                     acceptable=False, domain="street", fmt="form")
    with pytest.raises(ValueError, match="must be its text's lines, in order"):
        episode_chunks(e)


@pytest.mark.parametrize(("argv", "match"), [
    (["--prefix-chunks", "1"], "--prefix-chunks needs --window"),
    (["--window", "4", "--prefix-chunks", "1", "--encoder", "minilm"], "a causal encoder"),
    (["--threshold", "0.5"], "--threshold needs --window"),
    (["--window", "4", "--threshold", "nan"], "a finite number"),
])
def test_fit_options_that_cannot_go_together_are_refused_before_any_work(argv, match, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and match in capsys.readouterr().err
