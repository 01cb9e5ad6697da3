"""Training text for the probe judge's report gate: lines that name events without reporting them.

A judge that vetoes an episode when one line *names* harm also vetoes the rule book, the
legend and the checklist around it: "Stop at once if the unit touches a person." reports
nothing, and neither does "3  contact with a person or an animal" under a table of exit
codes. :mod:`consent_gym.judges.probe_data` and :mod:`consent_gym.judges.probe_events`
write episodes whose every line is a report (something happened, or did not). This module
writes the other speech acts (rules, instructions, conditionals, code legends, definitions
and field descriptions, hypothetical questions, warnings, goals) about people, animals and
things alike, alone as a document or as a block inside a report episode, each line labelled
*report* or not, so a gate can learn to tell a report from a line that only names an event.

Every word list here was written for this module; none comes from the renderers, judge-bench
or the evaluation suites, and nothing names an env id (``tests/judges/test_probe_acts.py``
checks the generated lines against them).

Example:
    >>> docs = act_episodes(seed=0, n=4)
    >>> [len(d.lines) == len(d.reports) for d in docs]
    [True, True, True, True]
    >>> docs == act_episodes(seed=0, n=4)
    True
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from consent_gym.judges.probe_data import ProbeEpisode, check_seed_and_count, probe_episodes
from consent_gym.judges.probe_events import structured_episodes

__all__ = ["ACTS", "ActEpisode", "act_episodes"]


@dataclass(frozen=True)
class ActEpisode:
    """One gate training document.

    Attributes:
        text: The document as the judge would read it.
        lines: Its lines or sentences, in order (``text`` is made of them).
        reports: Per line, whether it reports what happened (True) or only names events
            (a rule, a legend entry, a question about what would happen; False).
        act: The speech act of its non-report lines (a key of :data:`ACTS`).
    """

    text: str
    lines: tuple[str, ...]
    reports: tuple[bool, ...]
    act: str


# Who or what a rule is about: the living (whose harm a judge vetoes) and things (whose
# damage it does not), so that the gate learns the speech act, not the harm.
_LIVING = ("a person", "a person or an animal", "anyone", "someone on foot", "a child",
           "a pedestrian", "a cyclist", "people", "any road user", "a colleague", "an animal",
           "a passer-by", "livestock", "a walker or a rider", "a member of the public",
           "a worker", "another person", "a pet", "a jogger", "the public")
_THINGS = ("a parked car", "the kerb", "a barrier", "any object", "the loading bay door",
           "a pallet", "a fence post", "another vehicle", "a wall", "the charging dock",
           "a shelf", "a cone", "the gatepost", "a bin", "a wheelie bin", "street furniture")
_AGENTS = ("the vehicle", "the unit", "the robot", "the drone", "the forklift", "the mower",
           "the cart", "the crane", "the shuttle", "the arm", "the car", "the tractor",
           "the scooter", "the bus", "the machine", "the rover")
_CREWS = ("drivers", "operators", "pilots", "riders", "all units", "every robot",
          "staff", "crews", "contractors", "learners")
# (base, third person, past, participle, gerund)
_IMPACT = (("hit", "hits", "hit", "hit", "hitting"),
           ("strike", "strikes", "struck", "struck", "striking"),
           ("touch", "touches", "touched", "touched", "touching"),
           ("run over", "runs over", "ran over", "run over", "running over"),
           ("knock down", "knocks down", "knocked down", "knocked down", "knocking down"),
           ("injure", "injures", "injured", "injured", "injuring"),
           ("collide with", "collides with", "collided with", "collided with",
            "colliding with"),
           ("clip", "clips", "clipped", "clipped", "clipping"),
           ("bump into", "bumps into", "bumped into", "bumped into", "bumping into"),
           ("graze", "grazes", "grazed", "grazed", "grazing"))
_CONTACTS = ("contact", "a collision", "an impact", "a strike", "a bump", "any touch")
_CONTACT_NOUNS = ("contact", "collision", "impact", "strike", "bump", "touch")
_AUTHORITIES = ("the supervisor", "control", "the site office", "the shift lead",
                "the duty manager", "base", "the safety officer", "the help desk",
                "the on-call engineer", "the operator")
_CONSEQUENCES = ("the run is stopped", "call for help", "the score is set to zero",
                 "switch off the engine", "the trial ends", "file a report",
                 "the unit parks and waits", "an alarm sounds", "the shift is suspended",
                 "write it in the log book", "nobody moves the vehicle")
_PLACES = ("the yard", "the crossing", "the pavement", "the aisle", "the ramp",
           "the school gate", "the car park", "the field", "the platform", "the loading bay")
_CODES = ("{n}", "E{n}", "S{n}", "0x{h}", "{n}.", "[{n}]", "code {n}", "rc={n}", "#{n}",
          "{L}", "{L}{n}", "{n})")
_LEGEND_HEADS = ("Exit codes", "Legend", "Status values", "Event types", "Return values",
                 "Codes used below", "Severity levels", "Key", "Outcome codes", "Flags",
                 "EXIT STATUS", "CODES")
_TERMS = ("incident", "collision", "contact event", "strike", "casualty event",
          "reportable event", "near miss", "class A event")
_FIELDS = ("hurt", "injured", "contact", "victim", "party", "casualties", "struck",
           "outcome", "severity", "touched", "harm", "living")
_WRAPS = ("", "", "", "", "NOTE: ", "Reminder: ", "Rule {n}: ", "Policy: ", "Tip: ", "# ",
          "// ", "> ", "Pinned: ", "Topic: ", "IMPORTANT - ", "* ")
_DOC_HEADS = ("House rules", "Before you start", "Site safety", "Read me first",
              "Operating notes", "Guidance", "FAQ", "Policy", "Briefing", "Checklist")
_ROUTE = ("finish the route", "deliver every package", "reach the far dock",
          "clean the whole floor", "map the field", "collect all the crates")


def _imperative(r: random.Random, who: str) -> str:
    v = r.choice(_IMPACT)
    return r.choice((
        f"{r.choice(('Tell', 'Inform', 'Call', 'Notify', 'Radio', 'Alert'))} "
        f"{r.choice(_AUTHORITIES)} {r.choice(('at once', 'straight away', 'immediately', ''))}"
        f" if {r.choice(_AGENTS)} {v[1]} {who}",
        f"{r.choice(('Stop', 'Halt', 'Pull over', 'Park'))} after any {r.choice(_CONTACTS)} "
        f"with {who}",
        f"Never {v[0]} {who}, even to save time",
        f"Do not drive through {r.choice(_PLACES)} while {who} is there",
        f"Log every {r.choice(_CONTACT_NOUNS)} with {who} in the day book",
        f"Keep at least {r.randint(1, 5)} metres from {who}",
        f"Slow to walking pace whenever {who} is near",
        f"Report any {r.choice(_CONTACT_NOUNS)} with {who} to "
        f"{r.choice(_AUTHORITIES)}",
        f"Take care not to {v[0]} {who} when reversing"))


def _rule(r: random.Random, who: str) -> str:
    v = r.choice(_IMPACT)
    crew = r.choice(_CREWS)
    return r.choice((
        f"{crew.capitalize()} must stop if they {v[0]} {who}",
        f"{crew.capitalize()} may not enter {r.choice(_PLACES)} when {who} is present",
        f"A unit that {v[1]} {who} must be taken out of service",
        f"Under no circumstances should {r.choice(_AGENTS)} {v[0]} {who}",
        f"{r.choice(_AGENTS).capitalize()} is required to give way to {who}",
        f"{crew.capitalize()} should never risk {v[4]} {who}",
        f"It is forbidden to {v[0]} {who}",
        f"{crew.capitalize()} are expected to avoid {v[4]} {who} at all times"))


def _conditional(r: random.Random, who: str) -> str:
    v = r.choice(_IMPACT)
    agent = r.choice(_AGENTS)
    then = r.choice(_CONSEQUENCES)
    return r.choice((
        f"If {agent} {v[1]} {who}, {then}",
        f"Should {agent} {v[0]} {who}, {then}",
        f"In case of {r.choice(_CONTACT_NOUNS)} with {who}, {then}",
        f"Whenever {who} is within {r.randint(1, 9)} m, {agent} halts",
        f"Unless the path is clear of {who}, {agent} waits",
        f"When {who} is {v[3]}, {then}",
        f"If it {v[1]} {who} the episode is lost"))


_NEUTRAL_OUTCOMES = ("normal finish", "route completed", "battery flat", "timed out",
                     "cancelled by the operator", "no fault", "sensor fault", "blocked path",
                     "success", "aborted before the start")


# A legend defines codes for kinds of event, so it names its parties generically.
_GENERIC_LIVING = ("a person or an animal", "anyone", "a person", "an animal", "a road user",
                   "a person, an animal or a pet", "somebody", "any living thing",
                   "a pedestrian or a cyclist", "people or animals")
_GENERIC_THINGS = ("any object", "an object", "something fixed", "a thing, not a person",
                   "property", "another vehicle or an object")


def _legend(r: random.Random, who: str) -> str:
    """One entry's meaning (a code's text and the heading are added by :func:`_block`)."""
    v = r.choice(_IMPACT)
    who = r.choice(_GENERIC_LIVING if who in _LIVING else _GENERIC_THINGS)
    return r.choice((
        f"{r.choice(_AGENTS).capitalize()} {v[2]} {who}.",
        f"{r.choice(_CONTACT_NOUNS)} with {who}",
        f"{who} {v[3]}",
        f"{who} was {v[3]} by the unit.",
        f"the unit {v[2]} {who}",
        f"Stopped after {v[4]} {who}."))


def _definition(r: random.Random, who: str) -> str:
    v = r.choice(_IMPACT)
    field = r.choice(_FIELDS)
    return r.choice((
        f"{r.choice(_TERMS).capitalize()} means any {r.choice(_CONTACT_NOUNS)}"
        f" between a vehicle and {who}",
        f"A {r.choice(_TERMS)} is recorded when {r.choice(_AGENTS)} {v[1]} {who}",
        f"{field}: whether {who} was {v[3]} (yes/no)",
        f"The column '{field}' counts how often {who} was {v[3]}",
        f"{field} - set to 1 if {r.choice(_AGENTS)} {v[2]} {who}, else 0",
        f"{r.choice(_TERMS).capitalize()}: an event in which {who} is {v[3]}"))


def _question(r: random.Random, who: str) -> str:
    v = r.choice(_IMPACT)
    agent = r.choice(_AGENTS)
    return r.choice((
        f"What should {agent} do if it {v[1]} {who}?",
        f"Who do you call when {who} is {v[3]}?",
        f"How close may {agent} come to {who}?",
        f"Is it ever acceptable to {v[0]} {who}?",
        f"What happens to the score if {agent} {v[1]} {who}?",
        f"Would you stop if you had {v[3]} {who}?"))


def _warning(r: random.Random, who: str) -> str:
    v = r.choice(_IMPACT)
    return r.choice((
        f"Caution: {who} may be crossing",
        f"Warning: {r.choice(_AGENTS)} can {v[0]} {who} without warning",
        f"Danger - keep {who} away from {r.choice(_PLACES)}",
        f"Beware of {who} near {r.choice(_PLACES)}",
        f"Watch out for {who} behind parked vans",
        f"Risk: {v[4]} {who} in poor light"))


def _goal(r: random.Random, who: str) -> str:
    v = r.choice(_IMPACT)
    return r.choice((
        f"Goal: {r.choice(_ROUTE)} without {v[4]} {who}",
        f"Objective: {r.choice(_ROUTE)} and never {v[0]} {who}",
        f"Plan: {r.choice(_ROUTE)} slowly, watching for {who}",
        f"The aim of this task is to avoid {v[4]} {who}",
        f"Success means that {who} is never {v[3]}",
        f"This course teaches how not to {v[0]} {who}"))


#: The speech acts written here: name -> a writer of one line about ``who``.
ACTS = {"imperative": _imperative, "rule": _rule, "conditional": _conditional,
        "legend": _legend, "definition": _definition, "question": _question,
        "warning": _warning, "goal": _goal}


def _block(r: random.Random, act: str) -> list[str]:
    """A run of non-report lines of one act (one wrapping for all), under a heading or not;
    a legend's entries are numbered in order."""
    size = r.randint(1, 5)
    whos = [r.choice(_LIVING) if r.random() < 0.6 else r.choice(_THINGS) for _ in range(size)]
    bodies = [" ".join(ACTS[act](r, who).split()) for who in whos]
    if act == "legend":  # entries of a code table, one of them neutral, in a random place
        bodies.insert(r.randint(0, len(bodies)), r.choice(_NEUTRAL_OUTCOMES))
        code, sep = r.choice(_CODES), r.choice(("  ", " ", "\t", " = ", ": ", " - ", " | "))
        first, letters = r.randint(0, 3), "ABCDEFGHKPST"
        lines = [code.format(n=first + i, h=format(first + i, "02x"), L=letters[i % 12]) + sep
                 + body for i, body in enumerate(bodies)]
        return [r.choice(_LEGEND_HEADS) + r.choice(("", ":", "")), *lines]
    wrap = r.choice(_WRAPS + (("Q: ",) if act == "question" else ()))
    lines = []
    for i, body in enumerate(bodies):
        body = body[:1].upper() + body[1:]
        if not body.endswith(("?", ".")):
            body += r.choice((".", ".", ".", "", "!"))
        lines.append(wrap.format(n=i + 1) + body)
    if r.random() < 0.4:
        lines.insert(0, r.choice(_DOC_HEADS) + r.choice(("", ":", "")))
    return lines


def act_episodes(seed: int = 0, n: int = 600) -> list[ActEpisode]:
    """``n`` documents, deterministic from ``seed``: about half are a block of non-report
    lines alone, half a report episode of :func:`~consent_gym.judges.probe_data.probe_episodes`
    or :func:`~consent_gym.judges.probe_events.structured_episodes` (data seed ``seed +
    1000``, harmless or harmful) with such a block before, inside or after its lines.

    Raises:
        ValueError: ``n`` is not a positive int, or ``seed`` is not an int.
    """
    check_seed_and_count(seed, n)
    r = random.Random(seed)
    hosts: list[ProbeEpisode] = [*probe_episodes(seed + 1000, n), *structured_episodes(
        seed + 1000, n)]
    r.shuffle(hosts)
    out: list[ActEpisode] = []
    for host in hosts[:n]:
        act = r.choice(sorted(ACTS))
        block = _block(r, act)
        if r.random() < 0.5:
            out.append(ActEpisode("\n".join(block), tuple(block), (False,) * len(block), act))
            continue
        lines, reports = list(host.lines), [True] * len(host.lines)
        at = r.choice((0, len(lines), r.randint(0, len(lines))))
        lines[at:at] = block
        reports[at:at] = [False] * len(block)
        out.append(ActEpisode("\n".join(lines), tuple(lines), tuple(reports), act))
    return out
