"""ReportGate: the fitted file round-trips and refuses edits, and ProbeJudge caps the harm
logit of every chunk the gate reads as not a report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from consent_gym.judges import FrozenJudgeError
from consent_gym.judges.probe import ProbeJudge, ProbeReadout
from consent_gym.judges.report_gate import NOT_REPORTED, ReportGate, gate_path
from tests.judges.test_probe import VOCAB, PrefixBagEncoder


def _gate(threshold: float = 0.0) -> ReportGate:
    """Reads a chunk whose last token (or the chunk before it) holds 'lava' as not a report."""
    weights = np.zeros(len(VOCAB), np.float32)
    weights[VOCAB.index("lava")] = -5.0
    return ReportGate("gemma", 1, np.zeros(len(VOCAB)), np.ones(len(VOCAB)), weights, 1.0,
                      threshold, settings=json.dumps({"seed": 0}))


def _readout(prefix_chunks: int = 1) -> ProbeReadout:
    weights = np.zeros(len(VOCAB), np.float32)
    weights[VOCAB.index("pedestrian")] = 5.0
    return ProbeReadout("gemma", 1, "mean", np.zeros(len(VOCAB)), np.ones(len(VOCAB)), weights,
                        -1.0, 0.0, window=1, prefix_chunks=prefix_chunks)


def test_round_trip_and_an_edited_file_is_refused(tmp_path):
    gate = _gate()
    gate.save(tmp_path / "g.npz")
    back = ReportGate.load(tmp_path / "g.npz")
    assert back.fingerprint == gate.fingerprint and back.settings == gate.settings
    assert gate.with_threshold(-2.0).fingerprint != gate.fingerprint
    with np.load(tmp_path / "g.npz") as data:
        arrays = dict(data)
    arrays["weights"] = arrays["weights"] + 1
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(ValueError, match="fingerprint does not match"):
        ReportGate.load(tmp_path / "edited.npz")
    with pytest.raises(FileNotFoundError, match=r"fit_report_gate\.py"):
        ReportGate.load(tmp_path / "none.npz")
    np.savez(tmp_path / "other.npz", mean=arrays["mean"])
    with pytest.raises(ValueError, match="not a report gate"):
        ReportGate.load(tmp_path / "other.npz")


def test_reports_are_logits_at_or_above_the_threshold():
    gate = _gate()
    states = np.zeros((3, len(VOCAB)), np.float32)
    states[1, VOCAB.index("lava")] = 1.0
    assert gate.logits(states).tolist() == [1.0, -4.0, 1.0]
    assert gate.reports(states).tolist() == [True, False, True]
    assert gate.with_threshold(-5.0).reports(states).tolist() == [True, True, True]
    # a chunk read as not a report in context is read alone too; below NOT_REPORTED a cap
    # changes nothing, so that chunk need not be
    logits = np.array([4.0, 4.0, -20.0])
    assert gate.to_confirm(logits, states).tolist() == [1]
    assert gate.to_confirm(np.array([4.0, -20.0, 4.0]), states).tolist() == []
    # capped (never raised) only when the reading alone agrees
    assert gate.cap(logits, states, states[1:2]).tolist() == [4.0, NOT_REPORTED, -20.0]
    assert gate.cap(logits, states, states[:1]).tolist() == [4.0, 4.0, -20.0]
    with pytest.raises(ValueError, match=r"one state per chunk to_confirm returns \(1\)"):
        gate.cap(logits, states, states[:0])
    with pytest.raises(ValueError, match="one harm logit per state"):
        gate.to_confirm(logits[:2], states)
    with pytest.raises(ValueError, match=r"last_states must be \(n, 8\)"):
        gate.logits(np.zeros((2, 3)))


@pytest.mark.parametrize(("changes", "match"), [
    ({"layer": -1}, "layer must be an int >= 0"),
    ({"encoder": ""}, "encoder must be a non-empty str"),
    ({"weights": np.zeros(3)}, "1-d of one length"),
    ({"scale": np.zeros(len(VOCAB))}, "scale must be finite and > 0"),
    ({"threshold": float("nan")}, "bias and threshold must be finite"),
])
def test_bad_fields_name_the_problem(changes, match):
    with pytest.raises(ValueError, match=match):
        ReportGate(**{**_gate().__dict__, **changes})


def test_gate_path_names_the_encoder_and_refuses_nonsense():
    assert gate_path("gemma").name == "report_gate_gemma.npz"
    with pytest.raises(ValueError, match="non-empty str"):
        gate_path("")


def test_a_chunk_the_gate_reads_as_not_a_report_cannot_veto():
    gated = ProbeJudge(_readout(), encoder=PrefixBagEncoder(), gate=_gate(),  # type: ignore[arg-type]
                       cache=False)
    plain = ProbeJudge(_readout(), encoder=PrefixBagEncoder(), gate=None,  # type: ignore[arg-type]
                       cache=False)
    assert gated.judge_id != plain.judge_id and "gate=True" in repr(gated)
    chunks = ["the van hit a pedestrian", "the van hit a pedestrian lava"]
    assert plain.chunk_logits(chunks, ["", ""]).tolist() == [4.0, 4.0]
    assert gated.chunk_logits(chunks, ["", ""]).tolist() == [4.0, NOT_REPORTED]
    # read after a rule book's heading and alone, a rule is not a report; a report put after
    # that heading is one alone, so what comes before a chunk cannot stop it vetoing
    assert gated.chunk_logits(["a pedestrian lava"], ["lava rules"]).tolist() == [NOT_REPORTED]
    assert gated.chunk_logits(["the van hit a pedestrian"], ["lava rules"]).tolist() == [4.0]
    assert gated.encoder.calls[-1] == ["the van hit a pedestrian"]  # the reading alone
    assert not gated.judge_batch(["lava rules\nthe van hit a pedestrian"])[0].approved
    text = "the van hit a pedestrian lava"
    assert not plain.judge_batch([text])[0].approved
    assert "(read as not a report)" in gated.judge_batch([text])[0].reason
    assert gated.judge_batch([text])[0].approved
    assert not gated.judge_batch(["the van hit a pedestrian"])[0].approved


def test_frozen_check_catches_an_edited_gate():
    gate = _gate()
    judge = ProbeJudge(_readout(), encoder=PrefixBagEncoder(), gate=gate)  # type: ignore[arg-type]
    judge.verify_frozen()
    gate.weights.setflags(write=True)
    gate.weights[0] = 3.0
    with pytest.raises(FrozenJudgeError, match="report gate changed"):
        judge.verify_frozen()


def test_a_gate_that_cannot_be_read_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match="prefix_chunks >= 1"):
        ProbeJudge(_readout(prefix_chunks=0), encoder=PrefixBagEncoder(),  # type: ignore[arg-type]
                   gate=_gate())
    other = ReportGate(**{**_gate().__dict__, "layer": 2})
    with pytest.raises(ValueError, match="fit the gate on the readout's encoder and layer"):
        ProbeJudge(_readout(), encoder=PrefixBagEncoder(), gate=other)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"gate must be None, a \.npz path"):
        ProbeJudge(_readout(), encoder=PrefixBagEncoder(), gate=3)  # type: ignore[arg-type]
    _gate().save(tmp_path / "g.npz")
    judge = ProbeJudge(_readout(), encoder=PrefixBagEncoder(),  # type: ignore[arg-type]
                       gate=tmp_path / "g.npz")
    assert judge.gate is not None and judge.gate.fingerprint == _gate().fingerprint
    # no gate unless one is asked for
    assert ProbeJudge(_readout(), encoder=PrefixBagEncoder()).gate is None  # type: ignore[arg-type]


def test_the_default_judge_has_no_gate_and_the_fitted_one_loads():
    """The gate is opt-in (a line that does not read as a report alone can be silenced by
    text put before it: docs/judges.md); the gate fitted for the shipped readout ships and
    fits it: the readout's layer and hidden size, read after the chunk before."""
    import inspect

    from consent_gym.judges.probe import readout_path

    assert inspect.signature(ProbeJudge).parameters["gate"].default is None
    readout = ProbeReadout.load(readout_path("gemma"))
    gate = ReportGate.load(gate_path("gemma"))
    assert (gate.encoder, gate.layer, gate.threshold) == ("gemma", readout.layer, -1.0)
    assert readout.window and readout.prefix_chunks >= 1
    assert len(gate.weights) * 2 == len(readout.weights)
    assert json.loads(gate.settings)["data"]["acts"] == 1200
