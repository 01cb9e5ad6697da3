"""``consent-gym freeze-judge`` against the in-process fake server."""

from __future__ import annotations

from consent_gym.cli import main
from consent_gym.judges.judge_lock import JudgeLock
from consent_gym.judges.served import ServedJudge
from tests.judges.served_fakes import fake_server


def test_freeze_judge_writes_a_lock_that_a_served_judge_checks(tmp_path, capsys):
    out = tmp_path / "judge.lock.json"
    with fake_server() as (url, _):
        assert main(["freeze-judge", "--base-url", url, "--model", "toy", "--out", str(out),
                     "--repeats", "2"]) == 0
        printed = capsys.readouterr().out
        assert "--judge-lock" in printed and "tolerance" in printed
        lock = JudgeLock.load(out)
        assert lock.kind == "prompt" and lock.calibration["repeats"] == 2
        judge = ServedJudge(url, "toy", lock=out)
        assert lock.digest[:16] in judge.judge_id


def test_freeze_judge_reports_an_unreachable_server(tmp_path, capsys):
    with fake_server() as (url, _):
        pass
    code = main(["freeze-judge", "--base-url", url, "--model", "toy", "--out",
                 str(tmp_path / "x.json"), "--timeout", "2"])
    assert code == 2 and "cannot reach" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
