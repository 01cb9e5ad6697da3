"""Consent for TRL reward functions: a frozen judge vetoes completions before they pay.

:class:`ConsentRewards` wraps the user's ``reward_funcs`` (the plain-function kind TRL's
``GRPOTrainer`` calls as ``func(prompts=, completions=, completion_ids=, **columns)``). On
the first wrapped call of each generation batch it renders every (prompt, completion) with
:class:`~consent_gym.render.completion.CompletionRenderer`, asks the judge about the whole
batch in ONE :func:`consent_gym.gate.decide` call (fail closed, audit log, statistics), runs
every user function once, and then each wrapped function returns its own column with the
vetoed rows replaced according to the mode:

- ``"abstain"`` (default): ``None`` from every function. TRL (since 1.6) then marks the row
  unscorable: it is left out of its group's reward mean and std and its advantage is set to
  0, so no policy-gradient term comes from it. What still reaches the gradient with plain
  ``GRPOTrainer``: the KL term ``beta * KL(policy || reference)`` on the row's tokens when
  ``beta > 0`` (it pulls the policy towards the reference on that completion), the entropy
  bonus when ``entropy_coef != 0``, and the row's tokens in the loss normaliser (with the
  default ``loss_type="dapo"`` and ``"bnpo"`` they count in the token total, with ``"grpo"``
  the row counts in the mean over rows; either way they scale the other rows' gradients
  down). :class:`~consent_gym.trl.trainer.ConsentGRPOTrainer` removes all of that.
- ``"zero"``: every function returns 0.0 for the row; ``"penalty"``: every function returns
  ``penalty``. The row keeps its place in the group, so relative to the group's mean it
  usually gets a negative advantage: the policy is pushed *away* from what was vetoed (with
  several functions the row's weighted reward is the value times the sum of the weights).

Logged through TRL's ``log_metric`` hook (when TRL passes it): ``consent/veto_rate``,
``consent/failed``, ``consent/judge_seconds`` per batch, and a ``consent`` column of each
row's outcome in the completions table (``log_extra``). The totals are in :attr:`stats`.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any, cast

from consent_gym.audit import AuditLog
from consent_gym.gate import ConsentSettings, ConsentStats, Decision, Mode, Piece, decide
from consent_gym.judges.base import Judge, OnJudgeError
from consent_gym.render.completion import CompletionRenderer

#: What a vetoed completion's rewards become (see the module doc).
TRL_MODES: tuple[str, ...] = ("abstain", "zero", "penalty")

RewardFunc = Callable[..., Sequence[float | None]]


def check_reward_funcs(reward_funcs: object) -> list[RewardFunc]:
    """``reward_funcs`` as a non-empty list of plain callables, or an error naming the fix."""
    funcs = reward_funcs if isinstance(reward_funcs, (list, tuple)) else [reward_funcs]
    if not funcs:
        raise ValueError("reward_funcs is empty: give at least one reward function.")
    import torch

    out: list[RewardFunc] = []
    for i, func in enumerate(funcs):
        if isinstance(func, (str, torch.nn.Module)):
            raise TypeError(
                f"reward_funcs[{i}] is a reward model ({func!r:.60}); the consent wrapper gates "
                "reward *functions*: wrap the model in a function that scores "
                "(prompts, completions) and pass that."
            )
        if not callable(func):
            raise TypeError(f"reward_funcs[{i}] is a {type(func).__name__}, not a callable.")
        if inspect.iscoroutinefunction(func):
            raise TypeError(
                f"reward_funcs[{i}] is async; the consent wrapper needs every reward function's "
                "rewards before it returns any: pass a synchronous function."
            )
        if isinstance(func, GatedRewardFunc):
            raise ValueError(f"reward_funcs[{i}] is already gated; wrap the user's functions once.")
        out.append(func)
    return out


class GatedRewardFunc:
    """One user reward function behind the consent gate (made by :class:`ConsentRewards`).

    TRL names each reward function by its ``__name__`` in its logs; the gated function keeps
    the user's.
    """

    def __init__(self, consent: ConsentRewards, index: int, func: RewardFunc) -> None:
        self.consent = consent
        self.index = index
        self.func = func
        functools.update_wrapper(self, func, assigned=("__name__", "__qualname__", "__doc__"),
                                 updated=())

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 **kwargs: Any) -> list[float | None]:
        return self.consent.rewards_for(self.index, prompts, completions, kwargs)


class ConsentRewards:
    """The consent gate for a list of TRL reward functions (see the module doc).

    Args:
        reward_funcs: The user's reward functions (one or a list), TRL's calling convention.
        judge: Any :class:`~consent_gym.judges.Judge`; for the policy's own start checkpoint
            see :func:`consent_gym.trl.start_checkpoint_judge`.
        mode: ``"abstain"`` (default), ``"zero"`` or ``"penalty"``.
        penalty: The reward each function gives a vetoed row in ``"penalty"`` mode.
        audit_log: A path or :class:`~consent_gym.audit.AuditLog`; one line per completion.
        on_judge_error: ``"veto"`` (default: a failed judge vetoes), ``"raise"``, ``"approve"``.
        renderer: How a pair becomes judge text (default :class:`CompletionRenderer`).
        stats: Where the judge calls are counted (default: a new
            :class:`~consent_gym.gate.ConsentStats`).

    Attributes:
        funcs: The gated functions, in order: pass them to ``GRPOTrainer(reward_funcs=...)``.
        last_vetoed: Per row of the latest batch, whether it was vetoed (failures included).
        last_decisions: The latest batch's :class:`~consent_gym.gate.Decision` per row.

    Example:
        >>> from consent_gym.judges import RuleJudge
        >>> def speed(prompts, completions, **kwargs):
        ...     return [float(len(c)) for c in completions]
        >>> gate = ConsentRewards(speed, RuleJudge(lambda t: "sidewalk" not in t, name="r"))
        >>> gate.funcs[0](prompts=["go", "go"], completions=["road", "sidewalk"])
        [4.0, None]
    """

    def __init__(
        self,
        reward_funcs: RewardFunc | Sequence[RewardFunc],
        judge: Judge,
        mode: str = "abstain",
        penalty: float = -1.0,
        audit_log: AuditLog | str | os.PathLike[str] | None = None,
        on_judge_error: OnJudgeError = "veto",
        *,
        renderer: CompletionRenderer | None = None,
        stats: ConsentStats | None = None,
    ) -> None:
        user_funcs = check_reward_funcs(reward_funcs)
        if judge is None:
            raise ValueError("judge is None: give the judge that decides (e.g. "
                             "start_checkpoint_judge(policy, tokenizer)).")
        if renderer is not None and not callable(getattr(renderer, "render", None)):
            raise TypeError("renderer must have a render(prompt, completion) -> str method.")
        # The gate's settings type checks judge, mode (against TRL_MODES), penalty, policy, log.
        self.settings = ConsentSettings(judge, cast(Mode, mode), penalty, audit_log,
                                        on_judge_error, modes=TRL_MODES)
        self.renderer = renderer if renderer is not None else CompletionRenderer()
        self.stats = stats if stats is not None else ConsentStats()
        self.user_funcs = user_funcs
        self.funcs = [GatedRewardFunc(self, i, f) for i, f in enumerate(user_funcs)]
        self.last_vetoed: tuple[bool, ...] = ()
        self.last_decisions: list[Decision] = []
        self._columns: list[list[float | None]] = []
        self._served: set[int] = set()
        self._completions: Sequence[Any] | None = None

    @property
    def mode(self) -> str:
        """``"abstain"``, ``"zero"`` or ``"penalty"``."""
        return self.settings.mode

    @property
    def judge(self) -> Judge:
        """The judge (never ``None`` here)."""
        assert self.settings.judge is not None
        return self.settings.judge

    def rewards_for(self, index: int, prompts: Sequence[Any], completions: Sequence[Any],
                    kwargs: dict[str, Any]) -> list[float | None]:
        """Function ``index``'s rewards for the batch; judges the batch on its first call.

        A new batch starts when the completions are a different list from the last call's,
        or when a function asks a second time (TRL calls each function once per batch).
        """
        if completions is not self._completions or index in self._served:
            self._judge_batch(prompts, completions, kwargs)
        self._served.add(index)
        return list(self._columns[index])

    def _judge_batch(self, prompts: Sequence[Any], completions: Sequence[Any],
                     kwargs: dict[str, Any]) -> None:
        if len(prompts) != len(completions):
            raise ValueError(
                f"{len(prompts)} prompts but {len(completions)} completions: TRL passes one "
                "prompt per completion."
            )
        columns = []
        for func in self.user_funcs:
            values = list(func(prompts=prompts, completions=completions, **kwargs))
            if len(values) != len(completions):
                raise ValueError(
                    f"reward function {getattr(func, '__name__', func)!r} returned {len(values)} "
                    f"rewards for {len(completions)} completions."
                )
            columns.append(values)
        ids = kwargs.get("completion_ids")
        pieces = []
        for row, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            values = [c[row] for c in columns]
            total = float(sum(v for v in values if v is not None))
            steps = len(ids[row]) if ids is not None else 0
            pieces.append(Piece(self.renderer.render(prompt, completion), total,
                                env_id="trl", episode_index=row, steps=steps))
        state = kwargs.get("trainer_state")
        step = getattr(state, "global_step", None)
        if isinstance(step, int):
            self.stats.timestep = step
        decisions = decide(self.settings, pieces, stats=self.stats, learner="trl")
        vetoed = tuple(not d.approved for d in decisions)
        # abstain: None (TRL leaves the row out); zero / penalty: the gate's vetoed value.
        fixed = None if self.mode == "abstain" else self.settings.released(False, 0.0)
        self._columns = [
            [fixed if v else value for value, v in zip(column, vetoed, strict=True)]
            for column in columns
        ]
        self.last_vetoed, self.last_decisions = vetoed, decisions
        self._served, self._completions = set(), completions
        self._log(kwargs)

    def _log(self, kwargs: dict[str, Any]) -> None:
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            n = max(self.stats.last_judged, 1)
            log_metric("consent/veto_rate", self.stats.last_vetoed / n)
            log_metric("consent/failed", float(sum(d.verdict.failed for d in self.last_decisions)))
            log_metric("consent/judge_seconds", self.stats.last_latency_s)
        log_extra = kwargs.get("log_extra")
        if callable(log_extra):
            log_extra("consent", [d.verdict.outcome for d in self.last_decisions])


def consent_reward_funcs(
    reward_funcs: RewardFunc | Sequence[RewardFunc],
    judge: Judge,
    mode: str = "abstain",
    **kwargs: Any,
) -> list[GatedRewardFunc]:
    """The user's reward functions behind one consent gate, ready for ``GRPOTrainer``.

    ``kwargs`` go to :class:`ConsentRewards` (``penalty``, ``audit_log``, ``on_judge_error``,
    ``renderer``, ``stats``); each returned function's ``.consent`` is that gate.

    Example:
        >>> from consent_gym.judges import RuleJudge
        >>> def speed(prompts, completions, **kwargs):
        ...     return [1.0 for _ in completions]
        >>> funcs = consent_reward_funcs([speed], RuleJudge(lambda t: "red light" not in t,
        ...                              name="r"), mode="penalty", penalty=-2.0)
        >>> funcs[0](prompts=["a", "b"], completions=["wait", "run the red light"])
        [1.0, -2.0]
        >>> funcs[0].__name__, funcs[0].consent.stats.vetoed
        ('speed', 1)
    """
    return ConsentRewards(reward_funcs, judge, mode, **kwargs).funcs
