"""The default renderer: an episode of any env told the way a person watching it would.

:class:`NarrativeRenderer` reads only what the env itself exposes and says it in words:

- what the env is: its spec id and the first sentence of its own docstring;
- a mission or goal string (an info key or an observation key such as ``"mission"``);
- what the agent did, by action name where the env names its actions
  (:func:`action_names_of`: ``action_names``, ``get_action_meanings()``, the spec's
  ``kwargs["action_names"]``, ``metadata["action_names"]``), summarised ("mostly FASTER");
- what ``info`` reported: flags that turned true (``crashed``), costs and penalties
  (``cost``), counters that changed (``lives``), other numbers as a range and trend,
  ``info["events"]`` lists, strings that changed;
- rewards in words ("no reward except 1 at the last step");
- why it ended: terminated by the env, or stopped by its time limit, with what the env
  reported at that step.

Step numbers and raw numbers are coarsened on purpose (episode lengths in ranges, numbers
to two significant digits, when something happened as "early", "midway", "late" or "at
the last step"): similar episodes then render to the *same* text, so the verdict cache
answers them, and the text stays short. Where an env exposes no meaning, one line adds it
(:class:`Meaning`; ``NarrativeRenderer.for_env(env, actions=[...], info={...})``).

Example:
    >>> from consent_gym.trajectory import Step, Trajectory
    >>> steps = [Step(i, None, 3, 0.8, info={"crashed": False}) for i in range(7)]
    >>> steps.append(Step(7, None, 1, 0.0, terminated=True, info={"crashed": True}))
    >>> renderer = NarrativeRenderer(Meaning(actions=["left", "idle", "right", "faster"]))
    >>> print(renderer.render(Trajectory("Road-v0", steps=steps)))
    Environment: Road-v0. The episode lasted 8 steps. The agent mostly chose faster, also idle. Reward 0.8 per step, except 0 at the last step. The env ended the episode (terminated); at that last step the env's flag 'crashed' turned true.
"""  # noqa: E501

from __future__ import annotations

import contextlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from consent_gym.render.generic import format_event, sanitize_text
from consent_gym.trajectory import Trajectory

#: info keys that are bookkeeping of wrappers and learners, never something that happened.
BOOKKEEPING_KEYS = frozenset({
    "events", "TimeLimit.truncated", "episode", "terminal_observation", "final_observation",
    "final_info", "_final_observation", "_final_info", "_episode", "consent",
})
#: info or observation keys whose string value states what the agent is asked to do.
MISSION_KEYS = ("mission", "goal", "task", "instruction", "objective")
#: Numeric info keys with these words in their name are told as events wherever non-zero
#: (never as a range or trend), and as a running total by its rises.
HARM_WORDS = re.compile(
    r"cost|penalt|violat|collision|collide|crash|damage|injur|harm|death|dead|kill|unsafe|hazard",
    re.IGNORECASE,
)


def _clean(text: str, limit: int = 160) -> str:
    """One printable line of at most ``limit`` characters (env strings are data)."""
    out = " ".join(sanitize_text(str(text)).split())
    if len(out) <= limit:
        return out
    cut = out[: limit - 3]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut).rstrip(" ,;") + "..."


def approx(x: float, digits: int = 2) -> str:
    """``x`` to ``digits`` significant digits, as short text (``19.09`` -> ``'19'``).

    Example:
        >>> approx(19.09), approx(0.0333), approx(-1234.5), approx(float("nan"))
        ('19', '0.033', '-1200', 'nan')
    """
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x)).lower()
    xf = float(x)
    if math.isnan(xf) or math.isinf(xf):
        return str(xf)
    if xf == 0:
        return "0"
    rounded = round(xf, digits - 1 - math.floor(math.log10(abs(xf))))
    if float(rounded).is_integer() and abs(rounded) < 1e15:
        return str(int(rounded))
    return f"{rounded:.{digits}g}"


def rough(x: float, up: bool | None = None) -> str:
    """``x`` on the 1-2-5 grid (..., 0.5, 1, 2, 5, 10, ...): the nearest grid value, or the
    next one up or down (``up=True``/``False``), so a range holds its values and repeats.

    Example:
        >>> rough(-0.43, up=True), rough(-0.43, up=False), rough(7.4), rough(0)
        ('-0.2', '-0.5', '10', '0')
    """
    xf = float(x)
    if xf == 0 or math.isnan(xf) or math.isinf(xf):
        return approx(xf)
    sign = 1 if xf > 0 else -1
    magnitude = abs(xf)
    decade = 10.0 ** math.floor(math.log10(magnitude))
    grid = [decade * m for m in (0.5, 1, 2, 5, 10)]
    if up is None:
        best = min(grid, key=lambda g: abs(math.log(g / magnitude)))
    elif (up and sign > 0) or (not up and sign < 0):  # away from zero
        best = min(g for g in grid if g >= magnitude * (1 - 1e-9))
    else:  # towards zero
        best = max(g for g in grid if g <= magnitude * (1 + 1e-9))
    return approx(sign * best)


def _numeric(value: Any) -> bool:
    if _is_number(value):
        return True
    if isinstance(value, (tuple, list, np.ndarray)):
        return all(_is_number(v) for v in np.asarray(value, dtype=object).ravel())
    return False


def event_phrase(event: Any) -> str:
    """An event in words, without its numeric fields (positions, step counters).

    Example:
        >>> event_phrase({"type": "hit_box", "contents": "empty", "step": 4, "pos": (1, 2)})
        "hit box (contents: 'empty')"
    """
    if isinstance(event, Mapping):
        event = {k: v for k, v in event.items() if k == "type" or not _numeric(v)}
    return _clean(format_event(event), 120)


def length_phrase(n: int) -> str:
    """An episode length in words, exact up to 9 and as a range above (so texts repeat).

    Example:
        >>> length_phrase(1), length_phrase(7), length_phrase(37), length_phrase(500)
        ('1 step', '7 steps', '20-49 steps', '500-999 steps')
    """
    if n < 10:
        return "1 step" if n == 1 else f"{n} steps"
    low = 10
    while True:
        for factor, nxt in ((1, 2), (2, 5), (5, 10)):
            if n < low * nxt // factor:
                return f"{low}-{low * nxt // factor - 1} steps"
            low = low * nxt // factor
        # loop continues with the next decade


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _human_key(key: str) -> str:
    return _clean(key.replace("_", " ").replace(".", " "), 60)


def _is_flag(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    if _is_flag(value):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf"


@dataclass(frozen=True)
class Meaning:
    """What the env does not say itself: names for actions, what info keys mean.

    Args:
        actions: Names of the ``Discrete`` actions, in order (``["left", "right"]``), or a
            mapping from action index to name.
        info: ``info`` key -> what it means, in words. For a flag, the phrase is said when it
            turns true (``{"crashed": "the car crashed into another car"}``); for a number it
            names the quantity (``{"speed": "the car's speed"}``). ``None`` hides a key.
            Keys of a nested dict are written ``"outer.inner"``.
        description: One sentence about what the env is (replaces its docstring).

    Example:
        >>> Meaning(actions=["left", "right"], info={"crashed": "the car crashed"}).action_name(1)
        'right'
    """

    actions: Sequence[str] | Mapping[int, str] | None = None
    info: Mapping[str, str | None] = field(default_factory=dict)
    description: str | None = None

    def __post_init__(self) -> None:
        if self.actions is not None:
            names = self.actions.values() if isinstance(self.actions, Mapping) else self.actions
            if isinstance(self.actions, str) or not all(isinstance(n, str) for n in names):
                raise TypeError(
                    "Meaning(actions=...) must be a list of action names or a dict "
                    f"{{index: name}} of strings, got {self.actions!r}."
                )
        if not isinstance(self.info, Mapping) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in self.info.items()
        ):
            raise TypeError(
                "Meaning(info=...) must map info keys to a phrase (str) or None (hide the key), "
                f"got {self.info!r}."
            )
        if self.description is not None and not isinstance(self.description, str):
            raise TypeError(f"Meaning(description=...) must be a str, got {self.description!r}.")

    def action_name(self, action: Any) -> str | None:
        """The name of ``action`` (an int or a 0-d/1-element array), or ``None``."""
        if self.actions is None:
            return None
        try:
            index = int(np.asarray(action).reshape(-1)[0]) if np.size(action) == 1 else None
        except (TypeError, ValueError):
            return None
        if index is None:
            return None
        if isinstance(self.actions, Mapping):
            return self.actions.get(index)
        return self.actions[index] if 0 <= index < len(self.actions) else None


def action_names_of(env: gym.Env) -> list[str] | None:
    """The names an env gives its ``Discrete`` actions, if it gives any.

    Looked up on ``env.unwrapped``: an ``action_names`` attribute, ALE's
    ``get_action_meanings()``, then ``metadata["action_names"]`` and the spec's
    ``kwargs["action_names"]``.
    """
    base = env.unwrapped
    candidates: list[Any] = [getattr(base, "action_names", None)]
    meanings = getattr(base, "get_action_meanings", None)
    if callable(meanings):
        # an env's optional helper failing must not stop wrapping it
        with contextlib.suppress(Exception):
            candidates.append(meanings())
    candidates.append((getattr(base, "metadata", None) or {}).get("action_names"))
    spec = getattr(env, "spec", None)
    if spec is not None:
        candidates.append((spec.kwargs or {}).get("action_names"))
    for names in candidates:
        if isinstance(names, Mapping):
            names = [names[k] for k in sorted(names)]
        if isinstance(names, Sequence) and not isinstance(names, str) and names:
            return [_clean(str(n), 40) for n in names]
    return None


def description_of(env: gym.Env) -> str | None:
    """The first sentence of the env class's own docstring (markdown headings skipped)."""
    for cls in type(env.unwrapped).__mro__:
        if cls.__module__.startswith(("gymnasium.core", "typing", "builtins")):
            break
        doc = cls.__dict__.get("__doc__")
        if not doc:
            continue
        for paragraph in re.split(r"\n\s*\n", doc.strip()):
            text = " ".join(paragraph.split())
            if not text or text.startswith(("#", ":", "Args", "Example", ">>>")):
                continue
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # markdown links
            sentence = re.split(r"(?<=[.!?:])\s", text, maxsplit=1)[0].rstrip(":.")
            if len(sentence) > 200:  # a long first sentence: up to its last comma within 200
                head = sentence[:200]
                sentence = head.rsplit(",", 1)[0] if "," in head else head.rsplit(" ", 1)[0]
            return _clean(sentence, 200)
    return None


Position = Callable[[int], str]


def _position_phrase(first: int, n: int) -> Position:
    """Where the step at ``offset`` lies: first or last step, early, midway or late."""

    def where(offset: int) -> str:
        if n <= 3:
            return f"at step {first + offset + 1}"
        if offset == 0:
            return "at the first step"
        if offset == n - 1:
            return "at the last step"
        return ("early on", "midway", "late")[offset * 3 // n]

    return where


class NarrativeRenderer:
    """The default renderer for any env: what happened, in words, short and repeatable.

    Args:
        meaning: What the env does not say itself (:class:`Meaning`).
        description: One sentence about the env (``Meaning.description`` wins).
        time_limit: The env's step limit, to say "stopped at its time limit of N steps".
        max_chars: Budget for the text (at least 200); over it, events in the middle of the
            episode are left out with a note saying how many.

    Use :meth:`for_env` to read names and description from an env.
    """

    def __init__(
        self,
        meaning: Meaning | None = None,
        description: str | None = None,
        time_limit: int | None = None,
        max_chars: int = 700,
    ) -> None:
        if meaning is not None and not isinstance(meaning, Meaning):
            raise TypeError(f"meaning must be a Meaning, got {type(meaning).__name__}.")
        if not isinstance(max_chars, int) or max_chars < 200:
            raise ValueError(f"max_chars must be an int >= 200, got {max_chars!r}.")
        if time_limit is not None and (not isinstance(time_limit, int) or time_limit < 1):
            raise ValueError(f"time_limit must be a positive int or None, got {time_limit!r}.")
        self.meaning = meaning if meaning is not None else Meaning()
        desc = self.meaning.description or description
        self.description = _clean(desc, 200).removesuffix(".") if desc else None
        self.time_limit = time_limit
        self.max_chars = max_chars

    def __repr__(self) -> str:
        return (
            f"NarrativeRenderer(meaning={self.meaning!r}, time_limit={self.time_limit}, "
            f"max_chars={self.max_chars})"
        )

    @classmethod
    def for_env(
        cls,
        env: gym.Env,
        actions: Sequence[str] | Mapping[int, str] | None = None,
        info: Mapping[str, str | None] | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> NarrativeRenderer:
        """A renderer for ``env``: its action names, docstring and time limit, plus yours.

        Args:
            env: The env (wrapped or not).
            actions: Action names to use instead of (or where the env has no) names.
            info: What ``info`` keys mean (see :class:`Meaning`).
            description: One sentence about the env instead of its docstring.
            **kwargs: ``max_chars``.

        Example:
            >>> import gymnasium as gym
            >>> r = NarrativeRenderer.for_env(gym.make("CartPole-v1"),
            ...                               actions=["push left", "push right"])
            >>> r.meaning.action_name(0), r.time_limit
            ('push left', 500)
        """
        if not isinstance(env, gym.Env):
            raise TypeError(f"env must be a gymnasium.Env, got {type(env).__name__}.")
        spec = getattr(env, "spec", None)
        meaning = Meaning(
            actions=actions if actions is not None else action_names_of(env),
            info=dict(info or {}),
            description=description,
        )
        limit = getattr(spec, "max_episode_steps", None) if spec is not None else None
        return cls(meaning, description_of(env), limit, **kwargs)

    # ------------------------------------------------------------------ rendering
    def render(self, trajectory: Trajectory) -> str:
        """Describe ``trajectory`` (deterministic; at most ``max_chars`` characters)."""
        if not isinstance(trajectory, Trajectory):
            raise TypeError(f"render() takes a Trajectory, got {type(trajectory).__name__}.")
        indices, observations, actions, rewards, events, infos = trajectory.columns()
        n = len(actions)
        head = [f"Environment: {_clean(trajectory.env_id, 80)}"
                + (f": {self.description}." if self.description else ".")]
        if trajectory.actor:
            head.append(f"This episode was explored by {_clean(trajectory.actor, 60)}.")
        mission = self._mission(observations, infos)
        if mission:
            head.append(f"Mission: {mission}.")
        if n == 0:
            return self._fit(head, [], "Nothing has happened yet.")
        first = indices[0]
        shown = f" (shown from step {first + 1})" if first else ""
        last = trajectory.last_step
        finished = last is not None and (last.terminated or last.truncated)
        verb = "lasted" if finished else "has run"
        at_limit = last is not None and last.truncated and last.index + 1 == self.time_limit
        length = f"{n + first} steps" if at_limit else length_phrase(n + first)
        head.append(f"The episode {verb} {length}{shown}.")
        head.append(self._actions(actions))
        where = _position_phrase(first, n)
        head.append(self._rewards(rewards, where))
        moments, summaries, final = self._info_story(actions, events, infos, where)
        body = []
        for pos, texts in moments:
            if pos == where(n - 1):  # the ending sentence says what the last step reported
                texts = [t for t in texts if t not in final]
            if texts:
                body.append(f"{_capital(pos)}: {'; '.join(texts)}.")
        body.extend(summaries)
        if not moments and not summaries and not final:
            body.append("The env reported no events.")
        return self._fit(head, body, self._ending(trajectory, n, final))

    def _mission(self, observations: Sequence[Any], infos: Sequence[Any]) -> str | None:
        for source in (infos[0] if infos else None, observations[0] if observations else None):
            if isinstance(source, Mapping):
                for key in MISSION_KEYS:
                    value = source.get(key)
                    if isinstance(value, str) and value.strip():
                        return _clean(value, 160).rstrip(".")
        return None

    def _actions(self, actions: Sequence[Any]) -> str:
        names: list[str] = []
        for action in actions:
            name = self.meaning.action_name(action)
            if name is None:
                return self._raw_actions(actions)
            names.append(name)
        counts = Counter(names)
        order = sorted(counts, key=names.index)  # first use, so equal episodes agree
        if len(counts) == 1:
            return f"The agent chose {order[0]} every time."
        top, top_count = counts.most_common(1)[0]
        if top_count * 10 >= 6 * len(names):
            rest = [a for a in order if a != top]
            return f"The agent mostly chose {top}, also {_join(rest[:5])}."
        if len(counts) > 6:
            return f"The agent used {len(counts)} different actions, most often {top}."
        by_index = sorted(counts, key=lambda a: self._index_of(a, names, actions))
        return f"The agent chose {_join(by_index)}."

    def _index_of(self, name: str, names: list[str], actions: Sequence[Any]) -> int:
        action = actions[names.index(name)]
        try:
            return int(np.asarray(action).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            return 0

    @staticmethod
    def _raw_actions(actions: Sequence[Any]) -> str:
        try:
            arr = np.asarray(actions, dtype=np.float64)
        except (TypeError, ValueError):
            return f"The agent took {len(actions)} actions."
        if arr.ndim == 1 and np.all(arr == np.round(arr)) and arr.size and np.ptp(arr) < 20:
            values = sorted({int(a) for a in arr})
            if len(values) == 1:
                return f"The agent chose action {values[0]} every time."
            return f"The agent chose actions {_join([str(v) for v in values])}."
        if arr.size == 0:
            return "The agent took no actions."
        return (
            f"The agent's actions were numbers between {rough(arr.min(), up=False)} and "
            f"{rough(arr.max(), up=True)}."
        )

    @staticmethod
    def _rewards(rewards: Sequence[float], where: Position) -> str:
        values = [float(r) for r in rewards]
        text_of = {v: approx(v) for v in set(values)}  # rewards repeat: round each once
        distinct = Counter(text_of[v] for v in values)
        if len(distinct) == 1:
            only = next(iter(distinct))
            return "No reward at any step." if only == "0" else f"Reward {only} at every step."
        middle = float(np.median(values))
        if middle != 0 and all(abs(r - middle) <= 0.1 * abs(middle) for r in values):
            return f"Reward about {approx(middle)} per step."
        common, common_count = distinct.most_common(1)[0]
        others = [i for i, r in enumerate(values) if approx(r) != common]
        if len(others) <= 3 and common_count * 10 >= 7 * len(values):
            base = "No reward" if common == "0" else f"Reward {common} per step"
            parts = [f"{approx(values[i])} {where(i)}" for i in others]
            return f"{base}, except {_join(parts)}."
        low, high = min(values), max(values)
        scale = max(abs(low), abs(high))
        low, high = (0.0 if abs(low) < 0.01 * scale else low), (
            0.0 if abs(high) < 0.01 * scale else high)
        total = math.fsum(values)
        return (
            f"Rewards between {rough(low, up=False)} and {rough(high, up=True)} per step, "
            f"about {rough(total)} in all."
        )

    def _info_story(
        self,
        actions: Sequence[Any],
        events: Sequence[tuple[Any, ...]],
        infos: Sequence[Any],
        where: Position,
    ) -> tuple[list[tuple[str, list[str]]], list[str], list[str]]:
        """Moments (position, what happened), one-line summaries, what the last step said."""
        n = len(actions)
        happened: dict[int, list[str]] = {}
        summaries: list[str] = []
        final: list[str] = []
        for i, step_events in enumerate(events):
            for event in step_events:
                happened.setdefault(i, []).append(event_phrase(event))
        if n and events[-1]:
            final.extend(event_phrase(e) for e in events[-1])
        for key, series in self._series(infos, actions).items():
            phrase = self.meaning.info.get(key, "")
            if phrase is None:
                continue
            values = [v for _, v in series]
            if all(_is_flag(v) for v in values):
                said = phrase or f"the env's flag '{_clean(key, 60)}' turned true"
                prev = False
                for i, value in series:
                    if bool(value) and not prev:
                        happened.setdefault(i, []).append(said)
                    prev = bool(value)
                if series[-1][0] == n - 1 and bool(series[-1][1]):
                    final.append(said)
            elif all(_is_number(v) for v in values):
                line = self._numbers(key, phrase, series, where, happened)
                if line:
                    summaries.append(line)
            elif all(isinstance(v, str) for v in values):
                changes = [values[0]] + [b for a, b in itertools.pairwise(values) if a != b]
                if len(changes) > 1 and key not in MISSION_KEYS:
                    name = phrase or _human_key(key)
                    shown = [repr(_clean(c, 40)) for c in changes[:4]]
                    more = " ..." if len(changes) > 4 else ""
                    summaries.append(f"{_capital(name)} went {' -> '.join(shown)}{more}.")
        moments: dict[str, list[str]] = {}
        for i in sorted(happened):
            texts = moments.setdefault(where(i), [])
            for text in happened[i]:
                if text not in texts:
                    texts.append(text)
        return list(moments.items()), summaries, final

    def _series(
        self, infos: Sequence[Any], actions: Sequence[Any]
    ) -> dict[str, list[tuple[int, Any]]]:
        """``key -> [(step offset, value)]`` over the infos, one level of nesting flattened."""
        series: dict[str, list[tuple[int, Any]]] = {}
        hidden = {k for k, v in self.meaning.info.items() if v is None}
        for i, info in enumerate(infos):
            if not isinstance(info, Mapping):
                continue
            for key, value in info.items():
                if not isinstance(key, str) or key in BOOKKEEPING_KEYS or key.startswith("_"):
                    continue
                if key in hidden:
                    continue
                if isinstance(value, Mapping):
                    for sub, inner in value.items():
                        series.setdefault(f"{key}.{sub}", []).append((i, inner))
                else:
                    series.setdefault(key, []).append((i, value))
        # an info value that only echoes the (varying) action taken adds nothing
        varied = len({repr(a) for a in actions}) > 1
        for key in [k for k, s in series.items() if varied and len(s) == len(actions)]:
            try:
                if all(
                    _is_number(v) and float(v) == float(np.asarray(actions[i]).reshape(-1)[0])
                    for i, v in series[key]
                ):
                    del series[key]
            except (TypeError, ValueError, IndexError):
                pass
        return series

    def _numbers(
        self,
        key: str,
        phrase: str,
        series: list[tuple[int, Any]],
        where: Position,
        happened: dict[int, list[str]],
    ) -> str | None:
        """A numeric info key: harm-like ones as events, counters by change, others as a range."""
        name = phrase or _human_key(key)
        values = [float(v) for _, v in series]
        harm_like = bool(HARM_WORDS.search(key)) or bool(phrase and HARM_WORDS.search(phrase))
        if harm_like:
            nonzero = [(i, v) for (i, _), v in zip(series, values, strict=False) if v != 0]
            if not nonzero:
                # said by leaving it out: "harm stayed 0" lowered the judge's p_acceptable
                # (docs/renderers.md), and a word judge reads it as harm
                return None
            rises = [j for j in range(len(values)) if values[j] > (values[j - 1] if j else 0)]
            if all(b >= a for a, b in itertools.pairwise(values)) and len(rises) < len(nonzero):
                # a running total (it never falls and stays up): say when it rose
                for j in rises[:3]:
                    happened.setdefault(series[j][0], []).append(
                        f"{name} rose to {approx(values[j])}")
                more = f" ({len(rises)} rises)" if len(rises) > 3 else ""
                return f"{_capital(name)} ended at {approx(values[-1])}{more}." if more else None
            for i, v in nonzero[:3]:
                happened.setdefault(i, []).append(f"{name} {approx(v)}")
            if len(nonzero) > 3:
                total = approx(math.fsum(v for _, v in nonzero))
                return f"{_capital(name)} was non-zero at {len(nonzero)} steps, {total} in all."
            return None
        rounded = [approx(v) for v in values]
        if len(set(rounded)) == 1:
            return None  # a constant says nothing about this episode
        changes = [j for j in range(1, len(values)) if rounded[j] != rounded[j - 1]]
        if len(changes) >= len(values) - 1 and all(
            b > a for a, b in itertools.pairwise(values)
        ) and all(float(v).is_integer() for v in values):
            return None  # a clock: it counts every step
        integral = all(v.is_integer() for v in values)
        if integral and len(changes) <= 3:
            for j in changes:
                i = series[j][0]
                happened.setdefault(i, []).append(
                    f"{name} went from {rounded[j - 1]} to {rounded[j]}"
                )
            return None
        low, high = approx(min(values)), approx(max(values))
        start, end = rounded[0], rounded[-1]
        if start == end:
            trend = f"stayed near {start}"
        else:
            trend = f"{'rose' if values[-1] > values[0] else 'fell'} from {start} to {end}"
        span = "" if {low, high} <= {start, end} else f" (between {low} and {high})"
        return f"{_capital(name)} {trend}{span}."

    def _ending(self, trajectory: Trajectory, n: int, final: list[str]) -> str:
        last = trajectory.last_step
        reported = f"; at that last step {_join(final[:4])}" if final else ""
        if last is None or not (last.terminated or last.truncated):
            return "Still running: the episode has not ended yet."
        if last.terminated:
            return f"The env ended the episode (terminated){reported}."
        limit = self.time_limit
        if limit is not None and last.index + 1 == limit:
            return f"It was stopped at its time limit of {limit} steps{reported}."
        return f"It was cut short (truncated){reported}."

    def _fit(self, head: list[str], body: list[str], ending: str) -> str:
        head = [s for s in head if s]
        text = " ".join([*head, *body, ending])
        if len(text) <= self.max_chars:
            return text
        kept = list(body)
        dropped = 0
        while kept and len(" ".join([*head, *kept, ending])) + 40 > self.max_chars:
            kept.pop(len(kept) // 2)
            dropped += 1
        note = [f"({dropped} more things the env reported are left out.)"] if dropped else []
        middle = len(kept) // 2
        text = " ".join([*head, *kept[:middle], *note, *kept[middle:], ending])
        if len(text) > self.max_chars:
            text = text[: self.max_chars - len(ending) - 5].rstrip() + " ... " + ending
        if len(text) > self.max_chars:
            text = text[: self.max_chars - 3] + "..."
        return text


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
