"""scripts/fit_probe_judge.py's chunk labels: by position in the text, so one word means harm
only where it answers a harm question."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
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


class _CountingEncoder:
    """A stand-in for ChunkEncoder in the fit's token cache: one 'state' per chunk, counted."""

    calls: ClassVar[list[list[str]]] = []

    def __init__(self, name: str) -> None:
        from consent_gym.judges.frozen import WeightFingerprint

        self.model_name = "counting"
        self.fingerprint = WeightFingerprint(_CountingEncoder._model())

    @staticmethod
    def _model():
        import torch

        torch.manual_seed(0)
        return torch.nn.Linear(2, 2)

    def token_states(self, chunks, layer, batch_size, prefixes):
        _CountingEncoder.calls.append(list(chunks))
        return [np.full((2, 3), float(len(c)), np.float32) for c in chunks]


def test_the_token_cache_is_reused_only_for_the_same_token_budgets(tmp_path, monkeypatch):
    """States read with other token budgets (a chunk cut at 64 tokens) are not reused: the
    cache records the budgets, and one without them was read at 64 and 64."""
    import json

    import fit_probe_judge

    monkeypatch.setattr(fit_probe_judge, "ChunkEncoder", _CountingEncoder)
    _CountingEncoder.calls = []
    keys = [("", "a chunk"), ("a chunk", "another")]
    first, _, _ = fit_probe_judge.token_states("gemma", keys, 8, 4, tmp_path)
    fit_probe_judge.token_states("gemma", keys, 8, 4, tmp_path)
    assert _CountingEncoder.calls == [["a chunk", "another"]]  # the second call: all cached
    path = tmp_path / "probe_tokens_gemma_8.npz"
    with np.load(path) as data:
        stored = dict(data)
    meta = json.loads(str(stored["meta"]))
    assert meta["tokens"] == [fit_probe_judge.MAX_CHUNK_TOKENS, fit_probe_judge.MAX_PREFIX_TOKENS]
    del meta["tokens"]  # as written before the budgets were recorded: read at 64 and 64
    np.savez(path, **{**stored, "meta": np.array(json.dumps(meta))})
    again, _, _ = fit_probe_judge.token_states("gemma", keys, 8, 4, tmp_path)
    assert len(_CountingEncoder.calls) == 2  # read again with this encoder's budgets
    assert all(np.array_equal(first[k], again[k]) for k in keys)
