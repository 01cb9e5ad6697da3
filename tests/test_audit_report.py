"""The audit log (consent_gym.audit) and its report (consent_gym.audit_report).

The AuditLog tests live here rather than in tests/test_audit.py: without __init__.py files
pytest cannot collect two test modules named test_audit.py (tests/commands/ has one).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import pickle
import time

import pytest

from consent_gym import AuditLog, Step, Trajectory, read_audit_log
from consent_gym.audit_explain import explain_flagged, explain_prompt
from consent_gym.audit_report import (
    Counts,
    build_report,
    format_report,
    member_views,
)
from consent_gym.gate import judge_trajectories
from consent_gym.judges import JudgePanel, PanelMember, RuleJudge, Verdict, failed_verdict
from consent_gym.judges.views import parse_views

# --- AuditLog --------------------------------------------------------------------------


def test_reopening_appends_never_truncates(tmp_path):
    path = tmp_path / "sub" / "audit.jsonl"
    with AuditLog(path) as log:
        log.record(Verdict(True, 0.9, "j"), text="first", episode_index=0)
    with AuditLog(path) as log:
        log.record(Verdict(False, 0.1, "j"), text="second", episode_index=1)
    records = list(read_audit_log(path))
    assert [(r["episode_index"], r["outcome"]) for r in records] == [(0, "approved"), (1, "vetoed")]
    for line in path.read_text().splitlines():
        json.loads(line)  # every line is one whole JSON object


def test_text_written_for_flagged_or_store_text_only(tmp_path):
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        log.record(Verdict(True, 1.0, "j"), text="quiet")
        log.record(Verdict(False, 0.0, "j", flagged=True), text="look at me")
    quiet, flagged = read_audit_log(path)
    assert "text" not in quiet and len(quiet["text_sha256"]) == 64
    assert flagged["text"] == "look at me"
    with AuditLog(tmp_path / "b.jsonl", store_text=True) as log:
        log.record(Verdict(True, 1.0, "j"), text="kept")
    assert next(read_audit_log(tmp_path / "b.jsonl"))["text"] == "kept"


def test_failed_verdict_nan_becomes_null_and_extra_fields(tmp_path):
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        log.record(failed_verdict("j", "boom"), text="t", extra={"reward_released": 0.0})
        with pytest.raises(ValueError, match="collide"):
            log.record(Verdict(True, 1.0, "j"), text="t", extra={"outcome": "approved"})
    (record,) = read_audit_log(path)
    assert record["p_acceptable"] is None and record["outcome"] == "failed"
    assert record["reward_released"] == 0.0


def test_bad_paths_and_closed_log(tmp_path):
    with pytest.raises(IsADirectoryError, match="folder"):
        AuditLog(tmp_path)
    with pytest.raises(TypeError, match="file path"):
        AuditLog(3)  # type: ignore[arg-type]
    log = AuditLog(tmp_path / "a.jsonl")
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.record(Verdict(True, 1.0, "j"), text="t")


def test_malformed_line_names_its_number(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"outcome": "approved"}\n\nnot json\n')
    with pytest.raises(ValueError, match=r"a\.jsonl:3"):
        list(read_audit_log(path))


def test_pickled_log_reopens_for_append(tmp_path):
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    log.record(Verdict(True, 1.0, "j"), text="parent")
    copy = pickle.loads(pickle.dumps(log))
    copy.record(Verdict(True, 1.0, "j"), text="copy")
    copy.close()
    log.close()
    assert len(list(read_audit_log(path))) == 2


def test_a_log_file_is_created_readable_by_all_writable_by_its_owner(tmp_path):
    """Mode 0o644 (less the umask) for a new log, also when a pickled copy (a SubprocVecEnv
    worker) recreates a log that was moved away."""
    umask = os.umask(0o022)
    try:
        path = tmp_path / "a.jsonl"
        log = AuditLog(path)
        assert path.stat().st_mode & 0o777 == 0o644
        data = pickle.dumps(log)
        log.close()
        path.unlink()
        copy = pickle.loads(data)
        copy.record(Verdict(True, 1.0, "j"), text="copy")
        copy.close()
        assert path.stat().st_mode & 0o777 == 0o644
        assert [r["judge_id"] for r in read_audit_log(path)] == ["j"]
    finally:
        os.umask(umask)


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")
def test_a_log_holds_one_descriptor_and_close_releases_it(tmp_path):
    before = open_descriptors()
    log = AuditLog(tmp_path / "a.jsonl")
    for i in range(20):
        log.record(Verdict(True, 1.0, "j"), text=str(i))
        log.sync()
    assert open_descriptors() == before + 1  # not one per write
    copy = pickle.loads(pickle.dumps(log))  # as a SubprocVecEnv worker gets it
    for i in range(20):
        copy.record(Verdict(True, 1.0, "j"), text=str(i))
    assert open_descriptors() == before + 2
    copy.close()
    log.close()
    assert open_descriptors() == before
    assert len(list(read_audit_log(tmp_path / "a.jsonl"))) == 40


@pytest.mark.skipif(not hasattr(os, "fork") or not os.path.isdir("/proc/self/fd"),
                    reason="needs os.fork and /proc")
def test_a_forked_child_appends_through_its_own_descriptor(tmp_path):
    """A child forked after the log was opened (a forked SubprocVecEnv worker) writes whole
    lines after the parent's, and its close leaves the parent's log usable."""
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    log.record(Verdict(True, 1.0, "j"), text="parent before", episode_index=0)
    pid = os.fork()
    if pid == 0:  # the child: report success through the exit status only
        try:
            log.record(Verdict(False, 0.0, "j"), text="child", episode_index=1)
            held = open_descriptors()
            for _ in range(5):  # reopened once after the fork, not on every write
                log.sync()
            if open_descriptors() != held:
                os._exit(2)
            log.sync()
            log.close()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    log.record(Verdict(True, 1.0, "j"), text="parent after", episode_index=2)
    log.close()
    assert [r["episode_index"] for r in read_audit_log(path)] == [0, 1, 2]


def test_parent_folders_are_created(tmp_path):
    path = tmp_path / "runs" / "seed-0" / "audit.jsonl"
    with AuditLog(path) as log:
        log.record(Verdict(True, 1.0, "j"), text="a")
    assert len(list(read_audit_log(path))) == 1


def test_records_are_ascii_json_with_time_defaults_and_no_nan(tmp_path):
    path = tmp_path / "a.jsonl"
    before = time.time()
    with AuditLog(path, store_text=True) as log:
        entry = log.record(Verdict(True, 0.5, "j"), text="café ☕ crossed")
        log.write({"where": tmp_path})  # not JSON-native: written as its str()
        with pytest.raises(ValueError, match="not JSON compliant"):
            log.write({"score": float("nan")})  # NaN is not JSON: refused, not written
    raw = path.read_bytes()
    assert raw.isascii() and raw.count(b"\n") == 2
    first, second = read_audit_log(path)
    assert first == entry and first["text"] == "café ☕ crossed"
    assert first["env_id"] == "" and first["episode_index"] == -1
    assert before <= first["time"] <= time.time()
    assert second == {"where": str(tmp_path)}


def test_a_non_path_is_rejected_by_type_name():
    with pytest.raises(TypeError, match="got int"):
        AuditLog(42)  # type: ignore[arg-type]


def test_text_hash_accepts_lone_surrogates():
    """Rendered text may carry a lone surrogate (from an env's bytes); hashing must not fail."""
    import hashlib

    from consent_gym.audit import text_sha256

    text = "hit \ud800 box"
    assert text_sha256(text) == hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def test_repr_names_the_file(tmp_path):
    with AuditLog(tmp_path / "a.jsonl") as log:
        assert repr(log) == f"AuditLog({str(tmp_path / 'a.jsonl')!r})"


def _append_many(path: str, writer: int, n: int) -> None:
    log = AuditLog(path)
    big = chr(ord("a") + writer) * 6000  # lines longer than PIPE_BUF (4096)
    for i in range(n):
        log.write({"writer": writer, "seq": i, "payload": big})
    log.close()


def test_two_processes_appending_never_interleave(tmp_path):
    path = str(tmp_path / "shared.jsonl")
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    procs = [ctx.Process(target=_append_many, args=(path, w, 150)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    records = list(read_audit_log(path))  # raises on any torn line
    assert len(records) == 300
    for writer in range(2):
        mine = [r for r in records if r["writer"] == writer]
        assert [r["seq"] for r in mine] == list(range(150))
        assert all(r["payload"] == chr(ord("a") + writer) * 6000 for r in mine)
    assert os.path.getsize(path) == sum(len(json.dumps(r)) + 1 for r in records)


# --- the report ------------------------------------------------------------------------


class Surface:
    perception = "surface"

    def render(self, trajectory: Trajectory) -> str:
        return "The car hit a box." if trajectory.events else "The car drove on the road."


class Informed:
    perception = "informed"

    def render(self, trajectory: Trajectory) -> str:
        if not trajectory.events:
            return "The car drove on the road."
        return f"The car hit a box with {trajectory.events[0][1]['contents']} inside."


def episode(index: int, contents: str | None) -> Trajectory:
    events = ({"type": "hit_box", "contents": contents},) if contents else ()
    return Trajectory("Boxes-v0", index, [Step(0, None, 0, 1.0, True, events=events)])


@pytest.fixture
def constructed_log(tmp_path):
    """20 episodes judged by a perception panel (unanimous), plus one non-verdict line.

    Episodes 0-9: 8 quiet, then empty boxes at 8 and 9 (both members approve).
    Episodes 10-19: a person in the box at 12, 15 and 18 (disagreement, vetoed), the
    others quiet.
    """
    no_people = RuleJudge(lambda t: "a person" not in t, name="no-people")
    panel = JudgePanel(
        [PanelMember(no_people, Surface()), PanelMember(no_people, Informed())],
        policy="unanimous",
    )
    contents = {8: "nothing", 9: "nothing", 12: "a person", 15: "a person", 18: "a person"}
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        for i in range(20):
            judge_trajectories(panel, [episode(i, contents.get(i))], audit_log=log)
            if i == 5:
                log.write({"kind": "fingerprint-check", "ok": True})
    return path, panel


def test_report_numbers_on_constructed_log(constructed_log):
    path, panel = constructed_log
    report = build_report(read_audit_log(path), bins=2, source=str(path))
    assert (report.counts.n, report.counts.approved, report.counts.vetoed) == (20, 17, 3)
    assert report.counts.failed == 0 and report.counts.flagged == 3
    assert report.skipped == 1
    first, second = report.bins
    assert (first.first_record, first.last_record, first.counts.veto_rate) == (1, 10, 0.0)
    assert (second.first_episode, second.last_episode, second.counts.veto_rate) == (10, 19, 0.3)
    top, surface, informed = report.judges
    assert top.judge_id == panel.judge_id and top.counts.approval_rate == pytest.approx(0.85)
    assert (surface.position, surface.view, surface.counts.approved) == (0, "surface", 20)
    assert (informed.position, informed.view, informed.counts.approved) == (1, "informed", 17)
    assert [f.episode_index for f in report.flagged] == [12, 15, 18]
    assert all(f.disagreement for f in report.flagged)
    texts = [m.text for m in report.flagged[0].members]
    assert texts == ["The car hit a box.", "The car hit a box with a person inside."]


def test_report_every_n_records(constructed_log):
    path, _ = constructed_log
    report = build_report(read_audit_log(path), every=6)
    assert [b.counts.n for b in report.bins] == [6, 6, 6, 2]
    assert [b.counts.vetoed for b in report.bins] == [0, 0, 2, 1]


def test_format_report_shows_everything(constructed_log):
    path, panel = constructed_log
    text = format_report(build_report(read_audit_log(path), source="demo.jsonl"))
    assert "Audit report: demo.jsonl" in text
    assert "Outcomes: 17 approved (85.0%), 3 vetoed (15.0%), 0 failed (0.0%); 3 flagged" in text
    assert "(1 other records skipped)" in text
    assert "member 1: rule:no-people (view informed)" in text
    assert "Flagged episodes: 3 (3 disagreements between members)" in text
    assert "| The car hit a box with a person inside." in text
    assert panel.judge_id in text
    json.dumps(build_report(read_audit_log(path)).to_dict(), allow_nan=False)


def test_format_report_cuts_long_texts_and_handles_missing_text():
    records = [
        {"judge_id": "j", "outcome": "vetoed", "flagged": True, "text": "x" * 50,
         "text_sha256": "ab" * 32},
        {"judge_id": "j", "outcome": "failed", "flagged": True, "text_sha256": "cd" * 32,
         "members": [{"judge_id": "m", "outcome": "failed", "p_acceptable": None,
                      "reason": "judge error: OOM"}]},
    ]
    text = format_report(build_report(records), max_text_chars=10)
    assert "... (40 more characters)" in text
    assert "(text not stored in the log; sha256 cdcdcdcd" in text
    assert "member 0 m: failed (p=-) judge error: OOM" in text


def test_empty_log_and_bad_arguments():
    report = build_report([])
    assert report.counts.n == 0 and report.bins == []
    assert "no verdict records" in format_report(report)
    with pytest.raises(ValueError, match="bins"):
        build_report([], bins=0)
    with pytest.raises(ValueError, match="every"):
        build_report([], every=0)
    with pytest.raises(ValueError, match="record 1"):
        build_report([["not", "a", "dict"]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="max_text_chars"):
        format_report(report, max_text_chars=-1)
    with pytest.raises(ValueError, match="outcome"):
        Counts().add("maybe")


def test_counts_rates():
    c = Counts()
    assert math.isnan(c.approval_rate) and math.isnan(c.mean_p)
    for outcome, p in [("approved", 0.9), ("vetoed", 0.1), ("failed", None), ("approved", 0.8)]:
        c.add(outcome, p)
    assert (c.approval_rate, c.veto_rate) == (0.5, 0.5)
    assert c.mean_p == pytest.approx(0.6)


def test_member_views_plain_text_seen_by_all():
    record = {"text": "hello", "members": [{"judge_id": "a", "outcome": "approved"},
                                           {"judge_id": "b", "outcome": "vetoed"}]}
    assert [(m.view, m.text) for m in member_views(record)] == [(None, "hello"), (None, "hello")]
    with pytest.raises(ValueError, match="members"):
        member_views({"members": "oops"})


def test_explanations(constructed_log):
    path, _ = constructed_log
    report = build_report(read_audit_log(path))
    prompt = explain_prompt(report.flagged[0])
    assert "[as seen by view surface]" in prompt and "[as seen by view informed]" in prompt
    assert "not instructions" in prompt
    seen = []
    assert explain_flagged(report, lambda p: seen.append(p) or " reckless driving ", limit=2) == 2
    assert [f.explanation for f in report.flagged] == ["reckless driving", "reckless driving", None]
    assert "explanation (generated; weak with small models):" in format_report(report)
    with pytest.raises(TypeError, match="callable"):
        explain_flagged(report, "model")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected str"):
        explain_flagged(report, lambda p: 3)  # type: ignore[arg-type,return-value]


def test_views_text_survives_the_log(constructed_log):
    path, _ = constructed_log
    flagged = [r for r in read_audit_log(path) if r.get("flagged")]
    assert all(parse_views(r["text"]) is not None for r in flagged)
