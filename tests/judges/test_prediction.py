"""PredictThenJudge: a predictor writes what happened next, the inner judge reads it."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import pytest
import torch

from consent_gym.judges import (
    FrozenJudgeError,
    JudgePanel,
    KeywordJudge,
    LLMJudge,
    RuleJudge,
    Verdict,
    judge_texts,
    verify_frozen,
)
from consent_gym.judges.continuation import ContinuationSampler
from consent_gym.judges.prediction import PredictThenJudge, min_vetoes_for

BOX = "The car hit a box."
ROAD = "The car drove on the road."


class ScriptedPredictor:
    """Writes a person-hurt continuation for the seeds in ``harmful`` after a box, else
    nothing; counts its calls."""

    sampler_id = "scripted"

    def __init__(self, harmful: Sequence[int] = (0,)) -> None:
        self.harmful = set(harmful)
        self.calls = 0
        self.tampered = False

    def continue_text(self, text: str, seeds: Sequence[int]) -> list[str]:
        self.calls += 1
        if "box" not in text:
            return ["" for _ in seeds]
        return [" A person inside was hurt." if s in self.harmful else " The box was empty."
                for s in seeds]

    def verify_frozen(self, full: bool = True) -> None:
        if self.tampered:
            raise FrozenJudgeError("scripted predictor changed")


NO_HARM = KeywordJudge(["hurt"])


def test_any_vetoed_continuation_vetoes_the_episode():
    judge = PredictThenJudge(ScriptedPredictor([2]), NO_HARM, k=4)
    box, road = judge.judge_batch([BOX, ROAD])
    assert box.outcome == "vetoed" and road.outcome == "approved"
    assert box.p_acceptable == 0.75 and road.p_acceptable == 1.0
    assert "1 of 4 predicted continuations vetoed" in box.reason
    assert '[seed 2] vetoed: "A person inside was hurt."' in box.reason
    assert '[seed 0] approved: "The box was empty."' in box.reason
    assert "(nothing: the record ends)" in road.reason
    # Every expanded text's inner verdict, in seed order, with what was predicted.
    assert [m.outcome for m in box.members] == ["approved", "approved", "vetoed", "approved"]
    assert box.members[2].reason.startswith('seed 2 predicted "A person inside was hurt."')
    assert all(m.judge_id == NO_HARM.judge_id for m in box.members)


def test_a_fraction_rule_needs_that_share_of_vetoes():
    assert [min_vetoes_for(f, 8) for f in ("any", 0.125, 0.5, 1.0)] == [1, 1, 4, 8]
    half = PredictThenJudge(ScriptedPredictor([0, 1]), NO_HARM, k=4, veto_when=0.5)
    assert half.judge_batch([BOX])[0].outcome == "vetoed"
    most = PredictThenJudge(ScriptedPredictor([0, 1]), NO_HARM, k=4, veto_when=0.75)
    assert most.judge_batch([BOX])[0].outcome == "approved"
    assert "veto when >= 3" in most.judge_batch([BOX])[0].reason


def test_the_inner_judge_reads_the_text_then_the_continuation():
    seen: list[str] = []

    def remember(text: str) -> bool:
        seen.append(text)
        return True

    judge = PredictThenJudge(ScriptedPredictor([1]), RuleJudge(remember, name="see"), k=2,
                             seeds=[0, 1], cache=False)
    judge.judge_batch([BOX + "  ", ROAD])
    assert seen == [BOX + " The box was empty.", BOX + " A person inside was hurt.", ROAD, ROAD]


def test_failed_inner_verdicts_count_as_vetoes_and_fail_when_they_decide():
    class FailsOnPerson:
        judge_id = "fails-on-person"

        def judge_batch(self, texts):
            return [Verdict(False, math.nan, self.judge_id, "broke", failed=True)
                    if "person" in t.lower() else Verdict(True, 1.0, self.judge_id) for t in texts]

    verdict = PredictThenJudge(ScriptedPredictor([0]), FailsOnPerson(), k=3).judge_batch([BOX])[0]
    assert verdict.outcome == "failed" and math.isnan(verdict.p_acceptable)
    assert "1 failed" in verdict.reason
    # A judge that raises fails closed for every expanded text.
    broken = RuleJudge(lambda t: 1 / 0, name="broken")
    verdicts = judge_texts(PredictThenJudge(ScriptedPredictor(), broken, k=2), [ROAD])
    assert verdicts[0].outcome == "failed" and not verdicts[0].approved


def test_judge_id_covers_predictor_inner_k_seeds_and_rule():
    base = PredictThenJudge(ScriptedPredictor(), NO_HARM, k=4)
    ids = {base.judge_id}
    other = ScriptedPredictor()
    other.sampler_id = "other"
    for judge in (PredictThenJudge(other, NO_HARM, k=4),
                  PredictThenJudge(ScriptedPredictor(), KeywordJudge(["person"]), k=4),
                  PredictThenJudge(ScriptedPredictor(), NO_HARM, k=5),
                  PredictThenJudge(ScriptedPredictor(), NO_HARM, k=4, seeds=[4, 5, 6, 7]),
                  PredictThenJudge(ScriptedPredictor(), NO_HARM, k=4, veto_when=0.5)):
        ids.add(judge.judge_id)
    assert len(ids) == 6 and all(i.startswith("predict:") for i in ids)
    assert base.judge_id == PredictThenJudge(ScriptedPredictor(), NO_HARM, k=4).judge_id
    assert '"inner": "rule:keywords' in base.describe


def test_verdicts_are_cached_per_text():
    predictor = ScriptedPredictor()
    judge = PredictThenJudge(predictor, NO_HARM, k=2)
    first = judge.judge_batch([BOX, BOX, ROAD])
    assert predictor.calls == 2  # the repeated text is predicted once
    assert judge.judge_batch([BOX]) == first[:1] and predictor.calls == 2


def test_frozen_checks_cover_the_predictor_and_the_inner_judge(tiny_model_dir):
    predictor = ScriptedPredictor()
    inner = LLMJudge(str(tiny_model_dir), cache=False, dtype="float32")
    judge = PredictThenJudge(predictor, inner, k=2, cache=False)
    verify_frozen(judge)
    predictor.tampered = True
    with pytest.raises(FrozenJudgeError, match="scripted"):
        judge.judge_batch([ROAD])
    predictor.tampered = False
    with torch.no_grad():
        next(inner.model.parameters()).add_(1.0)
    with pytest.raises(FrozenJudgeError):
        verify_frozen(judge, full=True)
    with pytest.raises(FrozenJudgeError):  # judge_texts lets tampering through, never votes
        judge_texts(judge, [ROAD])


def test_a_panel_member_beside_the_original():
    original = NO_HARM
    predicting = PredictThenJudge(ScriptedPredictor([0]), NO_HARM, k=2)
    panel = JudgePanel([original, predicting], policy="reference")
    box, road = panel.judge_batch([BOX, ROAD])
    assert box.approved and box.flagged  # the original approves, the predicting one vetoes
    assert [m.outcome for m in box.members] == ["approved", "vetoed"]
    assert "A person inside was hurt." in box.members[1].reason
    assert road.approved and not road.flagged
    verify_frozen(panel)


def test_on_a_real_sampler_end_to_end(tiny_model_dir):
    sampler = ContinuationSampler(str(tiny_model_dir), max_new_tokens=6, temperature=2.0)
    judge = PredictThenJudge(sampler, KeywordJudge(["zzz-never"]), k=3, cache=False)
    assert judge.judge_id == PredictThenJudge(sampler, KeywordJudge(["zzz-never"]), k=3).judge_id
    verdict = judge.judge_batch([BOX])[0]
    assert verdict.approved and len(verdict.members) == 3
    predicted = judge.predict(BOX)
    assert predicted == sampler.continue_text(BOX, [0, 1, 2])
    for seed, (continuation, member) in enumerate(zip(predicted, verdict.members, strict=True)):
        quoted = json.dumps(continuation.strip(), ensure_ascii=False)
        assert member.reason.startswith(f"seed {seed} predicted {quoted}: ")
    # A checkpoint folder builds its own sampler from the options.
    built = PredictThenJudge(str(tiny_model_dir), NO_HARM, k=2, max_new_tokens=6,
                             temperature=2.0)
    assert built.sampler.sampler_id == sampler.sampler_id


@pytest.mark.parametrize("kwargs, error, match", [
    ({"k": 0}, ValueError, "k must"),
    ({"k": 2, "seeds": [1]}, ValueError, "one seed per continuation"),
    ({"k": 2, "seeds": [1, 1]}, ValueError, "repeat"),
    ({"veto_when": 0}, ValueError, "veto_when"),
    ({"veto_when": 1.5}, ValueError, "veto_when"),
    ({"veto_when": "all"}, ValueError, "veto_when"),
    ({"max_new_tokens": 4}, ValueError, "sampler already"),
])
def test_bad_arguments_name_the_problem(kwargs, error, match):
    with pytest.raises(error, match=match):
        PredictThenJudge(ScriptedPredictor(), NO_HARM, **kwargs)


def test_bad_inner_judges_and_predictors():
    with pytest.raises(TypeError, match="inner"):
        PredictThenJudge(ScriptedPredictor(), object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="checkpoint folder"):
        PredictThenJudge(object(), NO_HARM)

    class Liar(ScriptedPredictor):
        def continue_text(self, text, seeds):
            return ["only one"]

    with pytest.raises(TypeError, match="one str per seed"):
        PredictThenJudge(Liar(), NO_HARM, k=2).judge_batch([BOX])
    assert judge_texts(PredictThenJudge(Liar(), NO_HARM, k=2), [BOX])[0].outcome == "failed"


@pytest.mark.slow
def test_the_sampler_continues_on_the_embedded_gemma():
    """Gemma 3's cache (sliding-window layers) through the sampler's own decoding loop."""
    from consent_gym.judges.loading import load_default_model

    model, tokenizer, _ = load_default_model(dtype=torch.float32)
    sampler = ContinuationSampler(model, tokenizer, max_new_tokens=6)
    two = sampler.continue_text("The car drove on the road and", [0, 1])
    assert two == sampler.continue_text("The car drove on the road and", [0, 1])
    assert sampler.continue_text("The car drove on the road and", [1]) == two[1:]
    assert all(c.strip() for c in two)
    # Greedy-like sampling continues as the model's own generate() does.
    cold = ContinuationSampler(model, tokenizer, max_new_tokens=6, temperature=1e-4)
    ids = tokenizer("The car drove on the road and", return_tensors="pt")
    greedy = model.generate(**ids, max_new_tokens=6, do_sample=False)
    expected = tokenizer.decode(greedy[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert cold.continue_text("The car drove on the road and", [0])[0].strip() == \
        expected.strip()


def test_the_audit_log_shows_what_the_copy_predicted(tmp_path):
    from consent_gym.audit import AuditLog, read_audit_log
    from consent_gym.gate import judge_trajectories
    from consent_gym.trajectory import Step, Trajectory

    class Surface:
        def render(self, trajectory):
            return BOX

    panel = JudgePanel([NO_HARM, PredictThenJudge(ScriptedPredictor([1]), NO_HARM, k=2)],
                       policy="reference")
    with AuditLog(tmp_path / "audit.jsonl") as log:
        judge_trajectories(panel, [Trajectory("x", steps=[Step(0, None, 0, 0.0)])], Surface(),
                           audit_log=log)
    (record,) = list(read_audit_log(tmp_path / "audit.jsonl"))
    assert record["flagged"] and record["text"].endswith(BOX)
    predicted = record["members"][1]
    assert predicted["outcome"] == "vetoed"
    assert '[seed 1] vetoed: "A person inside was hurt."' in predicted["reason"]
    assert "seed 1 predicted" in predicted["members"][1]["reason"]
