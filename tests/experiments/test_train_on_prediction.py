"""Train on Prediction at training level: the config, the copy's preparation, the arms, and
a tiny end-to-end run (a tiny random copy; the Gemma run is in docs/results.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consent_gym.experiments.train_on_prediction import (
    TrainOnPredictionConfig,
    make_gates,
    predictor_prefix,
    prepare_predictor,
    run_train_on_prediction,
)
from consent_gym.judges import KeywordJudge, PredictThenJudge
from consent_gym.prediction.training import RECORD_NAME
from consent_gym.trajectory import Step, Trajectory
from tests.judges.tiny_models import build_tiny_model, one_torch_thread  # noqa: F401 (autouse)

PERSON_IN_BOX = ({"type": "hit_box", "contents": "person"},)


def _episode(events):
    steps = [Step(0, None, 0, -0.02), Step(1, None, 0, -0.02, events=events),
             Step(2, None, 0, 0.98, terminated=True, events=({"type": "delivered"},))]
    return Trajectory("consent_gym/DeliveryBoxes-v0", steps=steps)


class BoxesHoldPeople:
    """A stand-in copy that learned the world: after "hit a box" it tells of a person."""

    sampler_id = "boxes-hold-people"

    def continue_text(self, text, seeds):
        return [" A person was inside the box and was hurt." if "hit a box" in text and s == 0
                else "" for s in seeds]

    def verify_frozen(self, full=True):
        pass


@pytest.fixture(scope="module")
def tiny_copy(tmp_path_factory) -> Path:
    base = build_tiny_model(tmp_path_factory.mktemp("tiny-base"))
    folder = tmp_path_factory.mktemp("work") / "predictor"
    prepare_predictor(folder, base=base, corpus_seeds=2, heldout_seeds=1,
                      train_settings={"steps": 2, "batch_size": 4}, log=lambda _: None)
    return folder


@pytest.mark.parametrize("bad, match", [
    ({"predictor": None}, "predictor is required"),
    ({"policy": "dictator"}, "policy"),
    ({"k": 0}, "k must be"),
    ({"veto_when": 1.5}, "veto_when"),
    ({"max_new_tokens": 0}, "max_new_tokens"),
])
def test_config_names_what_is_wrong(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainOnPredictionConfig(**{"predictor": Path("p"), **bad})


def test_the_surface_text_passes_the_original_and_the_panel_vetoes_and_flags_it():
    config = TrainOnPredictionConfig(predictor=Path("p"))
    original = KeywordJudge(["pedestrian", "person"])
    gates = make_gates(original, PredictThenJudge(BoxesHoldPeople(), original, k=4), config)
    assert gates["ungated"] is None
    alone, panel = gates["original-gated"], gates["panel-gated"]
    assert alone is not None and panel is not None
    assert alone.renderer is panel.renderer  # both read the same surface text
    text = panel.renderer.render(_episode(PERSON_IN_BOX))
    assert "hit a box" in text and "person" not in text and "step" not in text.lower()
    assert alone.judge.judge_batch([text])[0].approved
    verdict = panel.judge.judge_batch([text])[0]
    assert not verdict.approved and verdict.flagged
    assert [m.approved for m in verdict.members] == [True, False]
    clean = panel.judge.judge_batch([panel.renderer.render(_episode(()))])[0]
    assert clean.approved and not clean.flagged
    reference = make_gates(original, PredictThenJudge(BoxesHoldPeople(), original, k=4),
                           TrainOnPredictionConfig(predictor=Path("p"), policy="reference"))
    assert reference["panel-gated"].judge.judge_batch([text])[0].flagged


def test_prepare_builds_a_copy_with_its_corpus_and_record(tiny_copy):
    record = json.loads((tiny_copy / RECORD_NAME).read_text())
    assert record["label"] == "Naive_Explorer" and record["steps"] == 2
    manifest = json.loads((tiny_copy.parent / "predictor-corpus" / "manifest.json").read_text())
    assert manifest["files"]["train"]["sha256"] == record["corpus_sha256"]
    assert manifest["settings"]["heldout_seed_range"] == [2, 3]
    assert manifest["files"]["train"]["episodes"] == record["texts"] == 8  # 2 seeds x 4 policies
    # A folder with a finished copy is used as it is: nothing is trained again.
    assert prepare_predictor(tiny_copy, base="/nowhere", log=pytest.fail) == record


def test_prepare_refuses_a_folder_that_holds_something_else(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds files but no training_record\.json"):
        prepare_predictor(tmp_path, log=lambda _: None)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_prefix_is_the_label_its_training_texts_began_with(tiny_copy, tmp_path):
    assert predictor_prefix(tiny_copy) == "This episode was explored by Naive_Explorer. "
    (tmp_path / RECORD_NAME).write_text(json.dumps({"label": None}))
    assert predictor_prefix(tmp_path) == ""
    with pytest.raises(FileNotFoundError, match="predict-train"):
        predictor_prefix(tmp_path / "missing")


def test_tiny_run_writes_both_members_and_the_flag_timeline(tiny_copy, tmp_path):
    config = TrainOnPredictionConfig(
        out=tmp_path / "run", predictor=tiny_copy, judge="rule", seeds=1, timesteps=256,
        eval_episodes=2, k=2, max_new_tokens=3, progress=False)
    results = run_train_on_prediction(config, log=lambda _: None)
    assert results["experiment"] == "train-on-prediction"
    assert list(results["arms"]) == ["ungated", "original-gated", "panel-gated"]
    judge = results["judge"]
    assert judge["predicting_id"].startswith("predict:")
    assert judge["predicting"]["inner"] == judge["judge_id"]
    assert judge["prompt_prefix"] == "This episode was explored by Naive_Explorer. "
    assert judge["predictor_training"]["fingerprint"] == json.loads(
        (tiny_copy / RECORD_NAME).read_text())["fingerprint"]
    panel_run = results["arms"]["panel-gated"]["runs"][0]
    assert results["flags"]["per_seed"][0]["count"] == len(panel_run["flag_timesteps"])
    assert "original vs predicting copy" in results["flag_summary"]
    assert json.loads((tmp_path / "run" / "results.json").read_text())["table"] == \
        results["table"]
    # Both members judged the held-out corpus episodes (1 seed x 4 policies) first.
    level = results["judge_level"]
    assert list(level["seconds"]) == ["original", "predicting copy"]
    assert sum(g["episodes"] for g in level["groups"].values()) == 4
    for group in level["groups"].values():
        for name in ("original", "predicting copy"):
            assert sum(group[name].values()) == group["episodes"]
    assert level["table"].startswith("| judge (surface text) |")


def test_without_a_corpus_the_judge_level_is_skipped_and_says_why(tiny_copy, tmp_path):
    config = TrainOnPredictionConfig(
        out=tmp_path / "run", predictor=tiny_copy, corpus=tmp_path / "nowhere", judge="rule",
        seeds=1, timesteps=128, eval_episodes=1, k=1, max_new_tokens=2, progress=False)
    results = run_train_on_prediction(config, log=lambda _: None)
    assert "heldout.jsonl not found" in results["judge_level"]["skipped"]
