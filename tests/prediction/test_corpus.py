"""The exploration corpus: deterministic, split by seed, texts that match their ground truth."""

from __future__ import annotations

import json

import pytest

from consent_gym.prediction.corpus import (
    EXPLORER,
    POLICY_CHOICES,
    collect_episodes,
    file_sha256,
    read_corpus,
    write_corpus,
)
from consent_gym.render.delivery import OBSERVED_OPENING


def test_same_seeds_same_corpus_and_splits_by_seed() -> None:
    a = collect_episodes(seeds=range(6), heldout_seeds=[6, 7])
    b = collect_episodes(seeds=range(6), heldout_seeds=[6, 7])
    assert a == b
    assert len(a) == 8 * len(POLICY_CHOICES)
    assert {r.seed for r in a if r.split == "train"} == set(range(6))
    assert {r.seed for r in a if r.split == "heldout"} == {6, 7}
    # Other seeds give other episodes (the random policy and the env both follow the seed).
    c = collect_episodes(seeds=range(10, 16), heldout_seeds=[])
    assert [r.text for r in c] != [r.text for r in a[: len(c)]]


def test_records_start_with_the_label_and_the_surface_text_and_match_the_ground_truth() -> None:
    rows = collect_episodes(seeds=range(30))
    kinds = set()
    for row in rows:
        head = f"This episode was explored by {EXPLORER}. "
        assert row.text.startswith(head + row.surface_text)
        assert "Naive_Explorer" not in row.surface_text and OBSERVED_OPENING not in row.surface_text
        rest = row.text[len(head + row.surface_text):]
        assert rest.count("a person was inside the box") == row.person_boxes_hit
        assert rest.count("was empty and was knocked over") == row.empty_boxes_hit
        assert rest.count("the pedestrian the car hit") == row.pedestrians_hit
        assert row.harm == row.person_boxes_hit + row.pedestrians_hit
        kinds.add((row.person_boxes_hit > 0, row.empty_boxes_hit > 0, row.harm == 0))
    # Person boxes, empty-only boxes and harmless episodes are all in the corpus.
    assert {(True, False, False), (False, True, True), (False, False, True)} <= kinds


def test_without_a_label_the_record_is_the_surface_text_and_observations() -> None:
    rows = collect_episodes(seeds=[3], policies=["through_boxes"], actor="")
    assert rows[0].actor is None
    assert rows[0].text.startswith(rows[0].surface_text)
    assert "explored by" not in rows[0].text


def test_the_scripted_policies_explore_with_epsilon() -> None:
    steady = collect_episodes(seeds=range(8), policies=["road"], epsilon=0.0)
    assert len({r.text for r in steady}) == 1  # the road policy never hits anything
    noisy = collect_episodes(seeds=range(8), policies=["road"], epsilon=0.5)
    assert len({r.text for r in noisy}) > 1


@pytest.mark.parametrize("kwargs, match", [
    ({"policies": ["teleport"]}, "policies"),
    ({"policies": []}, "policies"),
    ({"seeds": [1, 1]}, "repeats"),
    ({"seeds": [-1]}, ">= 0"),
    ({"seeds": [1, 2], "heldout_seeds": [2]}, "both splits"),
    ({"seeds": [], "heldout_seeds": []}, "no seeds"),
    ({"seeds": [0], "epsilon": 1.5}, "epsilon"),
])
def test_bad_arguments_name_the_problem(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        collect_episodes(**kwargs)


def test_write_and_read_back(tmp_path) -> None:
    rows = collect_episodes(seeds=range(3), heldout_seeds=[3])
    paths = write_corpus(rows, tmp_path, {"note": "test"})
    train = read_corpus(paths["train"], split="train")
    assert [r["text"] for r in train] == [r.text for r in rows if r.split == "train"]
    assert read_corpus(paths["heldout"])[0]["split"] == "heldout"
    manifest = json.loads(paths["manifest"].read_text())
    assert manifest["settings"] == {"note": "test"}
    assert manifest["files"]["train"]["sha256"] == file_sha256(paths["train"])
    assert manifest["files"]["heldout"]["episodes"] == len(POLICY_CHOICES)
    # Held-out rows are never handed to training.
    with pytest.raises(ValueError, match="never trained on"):
        read_corpus(paths["heldout"], split="train")


def test_read_corpus_rejects_bad_files(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    for content, match in (("not json\n", "not JSON"), ('{"x": 1}\n', "str 'text'"),
                           ("\n", "no episodes")):
        bad.write_text(content)
        with pytest.raises(ValueError, match=match):
            read_corpus(bad)
    with pytest.raises(ValueError, match="split"):
        read_corpus(bad, split="test")
    with pytest.raises(FileNotFoundError):
        read_corpus(tmp_path / "missing.jsonl")


def test_build_corpus_writes_both_splits_with_its_settings(tmp_path):
    from consent_gym.prediction.corpus import build_corpus

    episodes, paths = build_corpus(tmp_path, 2, 1, policies=["random"], actor="",
                                   step_numbers=False)
    assert [(e.split, e.seed) for e in episodes] == [("train", 0), ("train", 1), ("heldout", 2)]
    assert all(e.actor is None for e in episodes)
    settings = json.loads(paths["manifest"].read_text())["settings"]
    assert settings["train_seed_range"] == [0, 2] and settings["heldout_seed_range"] == [2, 3]
    assert settings["policies"] == ["random"] and settings["actor"] is None
    assert settings["step_numbers"] is False
