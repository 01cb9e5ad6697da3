"""A readable report of an audit log: what the judges decided, when, and where they disagreed.

The functions here are pure (records in, report out) so they can be tested on constructed
logs; ``consent-gym audit LOG.jsonl`` (:mod:`consent_gym.commands.audit`) reads the log with
:func:`consent_gym.audit.read_audit_log` and prints :func:`format_report`.

A report has four parts:

1. counts by outcome (``approved`` / ``vetoed`` / ``failed``) and how many were flagged;
2. the veto rate over time: the verdict records, in log order, cut into equal bins
   (deciles by default) or bins of ``every`` records; the veto rate counts vetoed *and*
   failed verdicts (both withhold the reward);
3. approval rates per judge, and per member of each panel (from the ``members`` field);
4. every flagged record (panel disagreements, failed members) with each member's verdict
   and the text that member saw: a panel's views text is split back into its views
   (:func:`consent_gym.judges.views.parse_views`); a plain text was seen by every member.

Optionally, a generative causal LM is asked what behaviour or persona each flagged episode
would reinforce: :mod:`consent_gym.audit_explain` (weak with small models), which fills
:attr:`Flagged.explanation`.

Lines of the log that are not verdict records (no ``outcome``/``judge_id``) are counted
and skipped, so other record kinds can share a log.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from consent_gym.judges.views import parse_views

OUTCOMES: tuple[str, ...] = ("approved", "vetoed", "failed")


@dataclass
class Counts:
    """Outcome counts of a set of verdicts."""

    approved: int = 0
    vetoed: int = 0
    failed: int = 0
    flagged: int = 0
    p_sum: float = 0.0
    p_n: int = 0

    @property
    def n(self) -> int:
        """The number of verdicts counted."""
        return self.approved + self.vetoed + self.failed

    @property
    def approval_rate(self) -> float:
        """Approved / all (``nan`` when empty)."""
        return self.approved / self.n if self.n else math.nan

    @property
    def veto_rate(self) -> float:
        """(Vetoed + failed) / all: the share whose reward is withheld (``nan`` when empty)."""
        return (self.vetoed + self.failed) / self.n if self.n else math.nan

    @property
    def mean_p(self) -> float:
        """Mean ``p_acceptable`` over the verdicts that have one (``nan`` when none)."""
        return self.p_sum / self.p_n if self.p_n else math.nan

    def add(self, outcome: str, p: Any = None, flagged: bool = False) -> None:
        """Count one verdict."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}.")
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.flagged += bool(flagged)
        if isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p):
            self.p_sum += float(p)
            self.p_n += 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts and rates (``None`` for an undefined rate)."""
        return {
            "n": self.n,
            "approved": self.approved,
            "vetoed": self.vetoed,
            "failed": self.failed,
            "flagged": self.flagged,
            "approval_rate": _none_if_nan(self.approval_rate),
            "veto_rate": _none_if_nan(self.veto_rate),
            "mean_p_acceptable": _none_if_nan(self.mean_p),
        }


@dataclass
class TimeBin:
    """A run of consecutive verdict records (1-based record numbers, inclusive)."""

    first_record: int
    last_record: int
    first_episode: int | None
    last_episode: int | None
    counts: Counts


@dataclass
class JudgeStats:
    """Approval statistics of one judge, or of one member seat of a panel."""

    label: str
    judge_id: str
    counts: Counts
    panel_id: str | None = None
    position: int | None = None
    view: str | None = None


@dataclass
class MemberView:
    """One member's verdict on a flagged episode and the text it saw (``None``: not stored)."""

    position: int
    judge_id: str
    outcome: str
    p_acceptable: float | None
    reason: str
    view: str | None
    text: str | None


@dataclass
class Flagged:
    """A flagged verdict record: a disagreement, or a member that failed."""

    record: int
    episode_index: int | None
    env_id: str
    judge_id: str
    outcome: str
    reason: str
    text_sha256: str
    text: str | None
    members: list[MemberView] = field(default_factory=list)
    explanation: str | None = None

    @property
    def disagreement(self) -> bool:
        """Whether the working members reached different decisions."""
        outcomes = {m.outcome for m in self.members if m.outcome != "failed"}
        return len(outcomes) > 1


@dataclass
class AuditReport:
    """Everything :func:`format_report` prints; build it with :func:`build_report`."""

    counts: Counts
    skipped: int
    bins: list[TimeBin]
    judges: list[JudgeStats]
    flagged: list[Flagged]
    first_time: float | None = None
    last_time: float | None = None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole report."""
        return {
            "source": self.source,
            "counts": self.counts.to_dict(),
            "skipped_records": self.skipped,
            "duration_s": (
                None
                if self.first_time is None or self.last_time is None
                else self.last_time - self.first_time
            ),
            "veto_rate_over_time": [
                {
                    "first_record": b.first_record,
                    "last_record": b.last_record,
                    "first_episode": b.first_episode,
                    "last_episode": b.last_episode,
                    **b.counts.to_dict(),
                }
                for b in self.bins
            ],
            "judges": [
                {
                    "label": j.label,
                    "judge_id": j.judge_id,
                    "panel_id": j.panel_id,
                    "position": j.position,
                    "view": j.view,
                    **j.counts.to_dict(),
                }
                for j in self.judges
            ],
            "flagged": [
                {
                    "record": f.record,
                    "episode_index": f.episode_index,
                    "env_id": f.env_id,
                    "judge_id": f.judge_id,
                    "outcome": f.outcome,
                    "disagreement": f.disagreement,
                    "reason": f.reason,
                    "text_sha256": f.text_sha256,
                    "members": [asdict(m) for m in f.members],
                    "explanation": f.explanation,
                }
                for f in self.flagged
            ],
        }


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else x


def _is_verdict_record(record: Mapping[str, Any]) -> bool:
    return record.get("outcome") in OUTCOMES and isinstance(record.get("judge_id"), str)


def _episode(record: Mapping[str, Any]) -> int | None:
    index = record.get("episode_index")
    return index if isinstance(index, int) and index >= 0 else None


def member_views(record: Mapping[str, Any]) -> list[MemberView]:
    """Each member's verdict in ``record`` with the text that member saw.

    The text comes from the record's ``text``: a panel views text is split into the
    members' views, a plain text was read by every member; ``None`` when the log did not
    store the text (only flagged records, or logs opened with ``store_text=True``, have it).

    Example:
        >>> from consent_gym.judges.views import format_views
        >>> text = format_views([("a", "surface"), ("b", "informed")],
        ...                     {"surface": "hit a box", "informed": "hit a box with a person"})
        >>> record = {"text": text, "members": [
        ...     {"judge_id": "a", "outcome": "approved", "p_acceptable": 1.0, "reason": ""},
        ...     {"judge_id": "b", "outcome": "vetoed", "p_acceptable": 0.0, "reason": ""}]}
        >>> [(m.view, m.text) for m in member_views(record)]
        [('surface', 'hit a box'), ('informed', 'hit a box with a person')]
    """
    members = record.get("members") or []
    if not isinstance(members, list):
        raise ValueError(f"record field 'members' must be a list, got {type(members).__name__}.")
    text = record.get("text")
    views: list[tuple[str | None, str | None]] = [(None, text)] * len(members)
    if isinstance(text, str):
        try:
            parsed = parse_views(text)
        except ValueError:
            parsed = None  # shown as the plain text it is
        if parsed is not None and len(parsed.members) == len(members):
            views = [(view, parsed.views[view]) for _, view in parsed.members]
    out = []
    for i, (member, (view, seen)) in enumerate(zip(members, views, strict=True)):
        if not isinstance(member, Mapping):
            raise ValueError(f"member {i} of a record is not an object: {member!r}.")
        p = member.get("p_acceptable")
        out.append(
            MemberView(
                position=i,
                judge_id=str(member.get("judge_id", "?")),
                outcome=str(member.get("outcome", "?")),
                p_acceptable=float(p) if isinstance(p, (int, float)) else None,
                reason=str(member.get("reason", "")),
                view=view,
                text=seen if isinstance(seen, str) else None,
            )
        )
    return out


def _bin_bounds(n: int, bins: int | None, every: int | None) -> list[tuple[int, int]]:
    if n == 0:
        return []
    if every is not None:
        return [(start, min(start + every, n)) for start in range(0, n, every)]
    k = min(bins or 10, n)
    edges = [i * n // k for i in range(k + 1)]
    return [(edges[i], edges[i + 1]) for i in range(k)]


def build_report(
    records: Iterable[Mapping[str, Any]],
    *,
    bins: int | None = 10,
    every: int | None = None,
    source: str = "",
) -> AuditReport:
    """Summarise audit records (as :func:`consent_gym.audit.read_audit_log` yields them).

    Args:
        records: The log's records, in log order.
        bins: Cut the verdicts into this many equal bins for the veto rate over time
            (default 10: deciles; fewer when there are fewer records).
        every: Instead of ``bins``: one bin per ``every`` consecutive verdicts.
        source: Where the records came from, for the report's title.

    Example:
        >>> records = [{"judge_id": "j", "outcome": o, "episode_index": i}
        ...            for i, o in enumerate(["approved", "vetoed", "approved", "failed"])]
        >>> report = build_report(records, bins=2)
        >>> report.counts.approved, report.counts.vetoed, report.counts.failed
        (2, 1, 1)
        >>> [b.counts.veto_rate for b in report.bins]
        [0.5, 0.5]
    """
    if bins is not None and (not isinstance(bins, int) or bins < 1):
        raise ValueError(f"bins must be a positive integer, got {bins!r}.")
    if every is not None and (not isinstance(every, int) or every < 1):
        raise ValueError(f"every must be a positive integer (records per bin), got {every!r}.")
    verdicts: list[Mapping[str, Any]] = []
    skipped = 0
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ValueError(f"record {i + 1} is a {type(record).__name__}, not a JSON object.")
        if _is_verdict_record(record):
            verdicts.append(record)
        else:
            skipped += 1

    total = Counts()
    judges: dict[tuple[str, int | None, str], JudgeStats] = {}
    panel_views: dict[str, list[str]] = {}
    flagged: list[Flagged] = []
    times: list[float] = []
    for number, record in enumerate(verdicts, start=1):
        outcome, judge_id = str(record["outcome"]), str(record["judge_id"])
        p, is_flagged = record.get("p_acceptable"), bool(record.get("flagged", False))
        total.add(outcome, p, is_flagged)
        t = record.get("time")
        if isinstance(t, (int, float)):
            times.append(float(t))
        top = judges.setdefault(
            (judge_id, None, ""), JudgeStats(label=judge_id, judge_id=judge_id, counts=Counts())
        )
        top.counts.add(outcome, p, is_flagged)
        views = member_views(record)
        if views and views[0].view is not None:
            panel_views.setdefault(judge_id, [str(m.view) for m in views])
        for m in views:
            if m.outcome not in OUTCOMES:
                continue
            key = (judge_id, m.position, m.judge_id)
            stats = judges.setdefault(
                key,
                JudgeStats(
                    label=f"member {m.position}: {m.judge_id}",
                    judge_id=m.judge_id,
                    counts=Counts(),
                    panel_id=judge_id,
                    position=m.position,
                ),
            )
            stats.counts.add(m.outcome, m.p_acceptable)
        if is_flagged:
            text = record.get("text")
            flagged.append(
                Flagged(
                    record=number,
                    episode_index=_episode(record),
                    env_id=str(record.get("env_id", "")),
                    judge_id=judge_id,
                    outcome=outcome,
                    reason=str(record.get("reason", "")),
                    text_sha256=str(record.get("text_sha256", "")),
                    text=text if isinstance(text, str) else None,
                    members=views,
                )
            )
    # Members are listed right under their panel; a view learned from any record of a
    # panel applies to all of its records (the panel id covers every member's view).
    ordered: list[JudgeStats] = []
    for (judge_id, position, _), stats in judges.items():
        if position is not None:
            continue
        ordered.append(stats)
        members = sorted(
            (s for (pid, pos, _), s in judges.items() if pid == judge_id and pos is not None),
            key=lambda s: (s.position or 0, s.judge_id),
        )
        for s in members:
            known = panel_views.get(judge_id)
            if known is not None and s.position is not None and s.position < len(known):
                s.view = known[s.position]
                s.label = f"member {s.position}: {s.judge_id} (view {s.view})"
        ordered.extend(members)

    time_bins = []
    for start, stop in _bin_bounds(len(verdicts), bins, every):
        counts = Counts()
        episodes = []
        for record in verdicts[start:stop]:
            flag = bool(record.get("flagged"))
            counts.add(str(record["outcome"]), record.get("p_acceptable"), flag)
            ep = _episode(record)
            if ep is not None:
                episodes.append(ep)
        time_bins.append(
            TimeBin(
                first_record=start + 1,
                last_record=stop,
                first_episode=min(episodes) if episodes else None,
                last_episode=max(episodes) if episodes else None,
                counts=counts,
            )
        )
    return AuditReport(
        counts=total,
        skipped=skipped,
        bins=time_bins,
        judges=ordered,
        flagged=flagged,
        first_time=min(times) if times else None,
        last_time=max(times) if times else None,
        source=source,
    )


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}%"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = []
    for row in (header, *rows):
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _quote(text: str, max_chars: int, prefix: str) -> list[str]:
    shown = text if len(text) <= max_chars else text[:max_chars]
    lines = [prefix + line for line in shown.splitlines() or [""]]
    if len(text) > max_chars:
        lines.append(f"{prefix}... ({len(text) - max_chars} more characters)")
    return lines


def format_report(report: AuditReport, *, max_text_chars: int = 1000) -> str:
    """The report as plain text (see ``docs/panels.md`` for an example).

    Args:
        report: From :func:`build_report`.
        max_text_chars: Episode texts longer than this are cut, saying how much was left out.

    Example:
        >>> records = [{"judge_id": "rule:x", "outcome": "approved", "episode_index": 0}]
        >>> print(format_report(build_report(records)).splitlines()[2])
        Outcomes: 1 approved (100.0%), 0 vetoed (0.0%), 0 failed (0.0%); 0 flagged
    """
    if max_text_chars < 0:
        raise ValueError(f"max_text_chars must be >= 0, got {max_text_chars}.")
    c = report.counts
    lines = [f"Audit report: {report.source or '(records)'}"]
    duration = (
        ""
        if report.first_time is None or report.last_time is None
        else f", spanning {report.last_time - report.first_time:.1f} s"
    )
    lines.append(
        f"Verdict records: {c.n}{duration}"
        + (f" ({report.skipped} other records skipped)" if report.skipped else "")
    )
    if c.n == 0:
        lines.append("Outcomes: no verdict records.")
        return "\n".join(lines)
    lines.append(
        f"Outcomes: {c.approved} approved ({_pct(c.approved / c.n)}), "
        f"{c.vetoed} vetoed ({_pct(c.vetoed / c.n)}), "
        f"{c.failed} failed ({_pct(c.failed / c.n)}); {c.flagged} flagged"
    )
    lines.append("")
    lines.append("Veto rate over time (vetoed + failed, per bin of consecutive records):")
    rows = []
    for b in report.bins:
        eps = "-" if b.first_episode is None else f"{b.first_episode}-{b.last_episode}"
        bc = b.counts
        rows.append(
            [
                f"{b.first_record}-{b.last_record}",
                eps,
                str(bc.n),
                str(bc.approved),
                str(bc.vetoed),
                str(bc.failed),
                str(bc.flagged),
                _pct(bc.veto_rate),
            ]
        )
    header = ["records", "episodes", "n", "approved", "vetoed", "failed", "flagged", "veto rate"]
    lines += _table(header, rows)
    lines.append("")
    lines.append("Approval rate by judge (panel members indented under their panel):")
    rows = []
    for j in report.judges:
        jc = j.counts
        label = j.label if j.panel_id is None else "  " + j.label
        mean_p = "-" if math.isnan(jc.mean_p) else f"{jc.mean_p:.3f}"
        rows.append(
            [label, str(jc.n), str(jc.approved), str(jc.vetoed), str(jc.failed),
             _pct(jc.approval_rate), mean_p]
        )
    lines += _table(["judge", "n", "approved", "vetoed", "failed", "approval", "mean p"], rows)
    lines.append("")
    n_dis = sum(f.disagreement for f in report.flagged)
    lines.append(
        f"Flagged episodes: {len(report.flagged)} ({n_dis} disagreements between members)"
    )
    for f in report.flagged:
        where = f"episode {f.episode_index}" if f.episode_index is not None else "episode ?"
        kind = "disagreement" if f.disagreement else "flagged"
        lines.append("")
        lines.append(
            f"[record {f.record}] {where}{' of ' + f.env_id if f.env_id else ''}: "
            f"{kind}, panel outcome {f.outcome}"
        )
        lines.append(f"  judge: {f.judge_id}")
        lines.append(f"  reason: {f.reason}")
        if not f.members:
            lines += _text_lines(f.text, f.text_sha256, max_text_chars)
        for m in f.members:
            p = "-" if m.p_acceptable is None else f"{m.p_acceptable:.3f}"
            view = f", view {m.view}" if m.view else ""
            lines.append(
                f"  member {m.position} {m.judge_id}{view}: {m.outcome} (p={p}) {m.reason}"
            )
            lines += _text_lines(m.text, f.text_sha256, max_text_chars, indent="    ")
        if f.explanation is not None:
            lines.append("  explanation (generated; weak with small models):")
            lines += _quote(f.explanation, max_text_chars, "    > ")
    return "\n".join(lines)


def _text_lines(text: str | None, sha: str, max_chars: int, indent: str = "  ") -> list[str]:
    if text is None:
        return [f"{indent}(text not stored in the log; sha256 {sha[:16]})"]
    return _quote(text, max_chars, indent + "| ")
