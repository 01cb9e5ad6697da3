"""Where the RLlib veto should land: the EnvRunner callback or a learner connector, measured.

Both placements (:func:`consent_gym.rllib.consent_config`: ``ConsentCallback`` on each
EnvRunner; :func:`consent_gym.rllib.learner_connector.consent_learner_config`:
``ConsentLearnerConnector`` on each Learner) train the same PPO on the same env with the
same seed, side by side in one Ray session. Per arm it records:

- wall time per ``algo.train()`` iteration;
- where the judge was built and called (process ids, the driver's marked), from
  :class:`ProbeJudge`'s JSONL log: judge copies loaded, calls and texts per iteration;
- what reached GAE: per episode, the sha256 of its text, the sum of its env-step rewards
  and its terminated / truncated flags at its last env step, recorded by
  :class:`LearnerProbe`, a learner-connector piece after the consent piece;
- the learner's weights after the last iteration (sha256).

:func:`compare_arms` says whether two arms saw the same episodes, verdicts and returns
and ended with the same weights. :func:`chunk_behaviour` and :func:`failure_behaviour`
record what each placement does with ``batch_mode="truncate_episodes"`` and with a judge
that raises. ``scripts/measure_rllib_placement.py`` runs it all and prints JSON.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.core.columns import Columns

from consent_gym.audit import text_sha256
from consent_gym.judges.base import Verdict
from consent_gym.rllib.learner_connector import BOOTSTRAP_STEP_FLAG, batch_keys

#: The two placements, by the name used in the report.
PLACEMENTS = ("callback", "connector")


class ProbeJudge:
    """A judge that logs where it was built and each call, and may cost fixed time.

    Wraps the judge ``load_judge(name)`` builds (``"fail"``: a judge that raises). Each
    build and each ``judge_batch`` call appends a JSON line to ``log_path`` (pid, texts,
    seconds), so the measurement sees which process judged, however RLlib placed it.

    Args:
        name: A :func:`consent_gym.judge_registry.load_judge` name, or ``"fail"``.
        log_path: The JSONL file (appended by every process).
        sleep_per_call: Seconds slept per ``judge_batch`` call (a slow judge's fixed cost).
        sleep_per_text: Seconds slept per text (a slow judge's per-episode cost).
    """

    def __init__(self, name: str, log_path: str, sleep_per_call: float = 0.0,
                 sleep_per_text: float = 0.0) -> None:
        if sleep_per_call < 0 or sleep_per_text < 0:
            raise ValueError("sleep_per_call and sleep_per_text must be >= 0.")
        self.inner: Any = None
        if name != "fail":
            from consent_gym.judge_registry import load_judge

            self.inner = load_judge(name)
        self.judge_id = f"probe:{name}" if self.inner is None else f"probe:{self.inner.judge_id}"
        self.log_path = log_path
        self.sleep_per_call = sleep_per_call
        self.sleep_per_text = sleep_per_text
        self.log({"event": "built"})

    def log(self, entry: Mapping[str, Any]) -> None:
        """Append one JSON line (with this process's id and the time)."""
        line = json.dumps({**entry, "pid": os.getpid(), "t": time.time()}) + "\n"
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(line)

    def judge_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """Sleep the fixed costs, then ask the wrapped judge (or raise for ``"fail"``)."""
        start = time.perf_counter()
        time.sleep(self.sleep_per_call + self.sleep_per_text * len(texts))
        try:
            if self.inner is None:
                raise RuntimeError("the probe judge fails on purpose")
            return list(self.inner.judge_batch(list(texts)))
        finally:
            self.log({"event": "call", "texts": len(texts),
                      "seconds": time.perf_counter() - start})


def probe_factory(name: str, log_path: str | os.PathLike[str], sleep_per_call: float = 0.0,
                  sleep_per_text: float = 0.0) -> Callable[[], ProbeJudge]:
    """A picklable factory for :class:`ProbeJudge` (what the placements call per process)."""
    return functools.partial(ProbeJudge, name, str(log_path), sleep_per_call, sleep_per_text)


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The JSON lines of ``path`` ([] if it does not exist)."""
    if not Path(path).exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def learner_probe_builder(log_path: str | os.PathLike[str]) -> Callable[..., Any]:
    """A ``learner_connector`` builder returning one :class:`LearnerProbe` (picklable)."""
    return functools.partial(_make_learner_probe, str(log_path))


def _make_learner_probe(log_path: str, *args: Any) -> Any:
    return LearnerProbe(log_path)


class LearnerProbe(ConnectorV2):
    """Records what GAE will read for each episode of an update (one JSON line each).

    Placed after the consent piece: the text's sha256, the sum of the env-step rewards
    (RLlib's artificial bootstrap step left out) and the terminated / truncated flags the
    batch holds for the last env step.
    """

    def __init__(self, log_path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(None, None)
        self.log_path = log_path

    def __call__(self, *, rl_module: Any, batch: dict[str, Any], episodes: list[Any],
                 shared_data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Append one line per episode; change nothing."""
        extra = int(bool((shared_data or {}).get(BOOTSTRAP_STEP_FLAG, False)))
        with open(self.log_path, "a", encoding="utf-8") as f:
            for episode in episodes:
                steps = len(episode) - extra
                record = episode.get_infos(-1).get("consent", {})
                flags: dict[str, bool | None] = {}
                for column in (Columns.TERMINATEDS, Columns.TRUNCATEDS):
                    keys = [k for c, k in batch_keys(batch, episode) if c == column]
                    flags[column] = bool(batch[column][keys[0]][steps - 1]) if keys else None
                f.write(json.dumps({
                    "pid": os.getpid(),
                    "text_sha256": text_sha256(str(record.get("text", ""))),
                    "env_return": float(record.get("episode_return", float("nan"))),
                    "reward_sum": float(np.sum(episode.get_rewards()[:steps])),
                    "terminated": flags[Columns.TERMINATEDS],
                    "truncated": flags[Columns.TRUNCATEDS],
                    "steps": steps,
                }) + "\n")
        return batch


@dataclass
class ArmResult:
    """One placement's run; see the module docstring."""

    placement: str
    judge: str
    env_runners: int
    iterations: int
    build_s: float
    iteration_s: list[float]
    judge_pids: list[int]
    judge_in_driver: bool
    judge_copies: int
    judge_calls_per_iter: float
    texts_per_iter: float
    judge_seconds_per_iter: float
    busiest_judge_seconds_per_iter: float
    episodes_judged: int
    episodes_vetoed: int
    episodes_failed: int
    metrics_where: str
    metrics: dict[str, Any]
    weights_sha256: str
    reached_gae: list[dict[str, Any]] = field(repr=False, default_factory=list)
    verdicts: list[dict[str, Any]] = field(repr=False, default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready result without the per-episode lists."""
        out = asdict(self)
        out.pop("reached_gae")
        out.pop("verdicts")
        out["iteration_s_median"] = statistics.median(self.iteration_s)
        return out


def build_config(placement: str, judge_factory: Callable[[], Any], *, mode: str = "zero",
                 env_id: str = "consent_gym/DeliveryCurb-v0", env_runners: int = 0,
                 seed: int = 0, audit_log: str | None = None,
                 probe_log: str | None = None) -> Any:
    """The reproduction's PPO on ``env_id``, gated in ``placement``; not built yet.

    Eight envs in all (``num_env_runners=0``: eight on the local EnvRunner; otherwise
    split over the EnvRunners), a 1024-step train batch, whole episodes; with
    ``probe_log`` a :class:`LearnerProbe` is the last learner-connector piece.
    """
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    from consent_gym.envs.training import N_ENVS, PPO_KWARGS
    from consent_gym.experiments.rllib_training import rllib_ppo_kwargs
    from consent_gym.rllib import consent_config
    from consent_gym.rllib.learner_connector import consent_learner_config

    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}.")
    envs_per_runner = N_ENVS if env_runners == 0 else max(1, N_ENVS // env_runners)
    config = (
        PPOConfig()
        .environment(env_id)
        .env_runners(num_env_runners=env_runners, num_envs_per_env_runner=envs_per_runner)
        .training(use_kl_loss=False, kl_coeff=0.0, vf_loss_coeff=0.5, grad_clip=0.5,
                  grad_clip_by="global_norm", **rllib_ppo_kwargs(PPO_KWARGS, N_ENVS))
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=[64, 64],
                                                   fcnet_activation="tanh",
                                                   vf_share_layers=False))
        .debugging(seed=seed)
    )
    gate = consent_config if placement == "callback" else consent_learner_config
    gate(config, judge_factory, mode, audit_log=audit_log)  # type: ignore[arg-type]
    if probe_log is not None:
        with_learner_probe(config, probe_log)
    return config


def with_learner_probe(config: Any, log_path: str | os.PathLike[str]) -> Any:
    """Append a :class:`LearnerProbe` after the config's learner-connector pieces."""
    existing = getattr(config, "_learner_connector", None)  # RLlib keeps no public copy
    config.learners(learner_connector=functools.partial(
        _with_probe, existing, learner_probe_builder(log_path)))
    return config


def _with_probe(existing: Callable[..., Any] | None, probe: Callable[..., Any],
                observation_space: Any = None, action_space: Any = None) -> list[Any]:
    pieces: list[Any] = []
    if existing is not None:
        made = existing(observation_space, action_space)
        pieces = list(made) if isinstance(made, (list, tuple)) else [made]
    return [*pieces, probe(observation_space, action_space)]


def consent_metrics(result: Mapping[str, Any], placement: str) -> dict[str, Any]:
    """The consent counts in an RLlib result dict, wherever the placement logs them."""
    from ray.rllib.core import ALL_MODULES

    if placement == "callback":
        found = result.get("env_runners", {}).get("consent", {})
    else:
        found = result.get("learners", {}).get(ALL_MODULES, {}).get("consent", {})
    return {k: float(v) for k, v in dict(found).items()}


def weights_sha256(algo: Any) -> str:
    """sha256 over the learner's module weights (sorted by name)."""
    state = algo.learner_group.get_weights()
    module = state.get("default_policy", state)
    digest = hashlib.sha256()
    for name in sorted(module):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(np.asarray(module[name])).tobytes())
    return digest.hexdigest()


def run_arm(placement: str, judge: str, workdir: str | os.PathLike[str], *,
            iterations: int = 3, env_runners: int = 0, seed: int = 0,
            sleep_per_call: float = 0.0, sleep_per_text: float = 0.0,
            mode: str = "zero", env_id: str = "consent_gym/DeliveryCurb-v0") -> ArmResult:
    """Build and train one arm for ``iterations``; needs a running Ray (``ray.init``)."""
    from consent_gym import read_audit_log

    tag = f"{placement}-{judge}-r{env_runners}"
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    judge_log, probe_log, audit = (workdir / f"{tag}.{kind}.jsonl"
                                   for kind in ("judge", "gae", "audit"))
    for path in (judge_log, probe_log, audit):
        path.unlink(missing_ok=True)
    factory = probe_factory(judge, judge_log, sleep_per_call, sleep_per_text)
    start = time.perf_counter()
    algo = build_config(placement, factory, mode=mode, env_id=env_id,
                        env_runners=env_runners, seed=seed, audit_log=str(audit),
                        probe_log=str(probe_log)).build_algo()
    build_s = time.perf_counter() - start
    times: list[float] = []
    metrics: dict[str, Any] = {}
    try:
        for _ in range(iterations):
            start = time.perf_counter()
            result = algo.train()
            times.append(time.perf_counter() - start)
            metrics = consent_metrics(result, placement)
        weights = weights_sha256(algo)
    finally:
        algo.stop()
    events = read_jsonl(judge_log)
    built = [e for e in events if e["event"] == "built"]
    calls = [e for e in events if e["event"] == "call"]
    pids = sorted({int(e["pid"]) for e in built})
    verdicts = [{"text_sha256": line.get("text_sha256"), "outcome": line.get("outcome"),
                 "released": line.get("reward_released")}
                for line in read_audit_log(audit)] if audit.exists() else []
    return ArmResult(
        placement=placement, judge=judge, env_runners=env_runners, iterations=iterations,
        build_s=build_s, iteration_s=times, judge_pids=pids,
        judge_in_driver=os.getpid() in pids, judge_copies=len(built),
        judge_calls_per_iter=len(calls) / iterations,
        texts_per_iter=sum(int(e["texts"]) for e in calls) / iterations,
        judge_seconds_per_iter=sum(float(e["seconds"]) for e in calls) / iterations,
        busiest_judge_seconds_per_iter=busiest_judge_seconds(calls) / iterations,
        episodes_judged=int(metrics.get("episodes_judged", 0)),
        episodes_vetoed=int(metrics.get("episodes_vetoed", 0)),
        episodes_failed=int(metrics.get("episodes_failed", 0)),
        metrics_where=("result['env_runners']['consent']" if placement == "callback"
                       else "result['learners']['__all_modules__']['consent']"),
        metrics=metrics, weights_sha256=weights,
        reached_gae=read_jsonl(probe_log), verdicts=verdicts,
    )


def busiest_judge_seconds(calls: Sequence[Mapping[str, Any]]) -> float:
    """The judge seconds of the process that judged longest (the judging that parallel
    EnvRunners cannot hide: the algorithm waits for its slowest EnvRunner)."""
    per_process: dict[int, float] = {}
    for call in calls:
        per_process[int(call["pid"])] = per_process.get(int(call["pid"]), 0.0) + float(
            call["seconds"])
    return max(per_process.values(), default=0.0)


def compare_arms(a: ArmResult, b: ArmResult) -> dict[str, Any]:
    """Whether two arms saw the same episodes and verdicts, and the learner the same data.

    ``same_verdicts``: the audit logs hold the same (text, outcome, released return)
    lines (``same_verdict_order``: in the same order; EnvRunners append concurrently, so
    with remote EnvRunners the order is the OS's); ``same_reached_gae``: the learner
    probes list the same (text, reward sum, terminated, truncated) per episode in the same
    order; ``vetoed_reward_sums_at_gae``: the reward sums at GAE of the vetoed episodes
    (zero mode: all exactly 0).
    """
    def gae_rows(arm: ArmResult) -> list[tuple[Any, ...]]:
        return [(r["text_sha256"], r["reward_sum"], r["terminated"], r["truncated"])
                for r in arm.reached_gae]

    vetoed = {v["text_sha256"] for arm in (a, b) for v in arm.verdicts
              if v["outcome"] != "approved"}
    vetoed_returns = sorted({r["reward_sum"] for arm in (a, b) for r in arm.reached_gae
                             if r["text_sha256"] in vetoed})
    return {
        "same_verdicts": sorted(map(_verdict_key, a.verdicts)) == sorted(
            map(_verdict_key, b.verdicts)),
        "same_verdict_order": a.verdicts == b.verdicts,
        "verdicts": [len(a.verdicts), len(b.verdicts)],
        "same_reached_gae": gae_rows(a) == gae_rows(b),
        "episodes_at_gae": [len(a.reached_gae), len(b.reached_gae)],
        "vetoed_episodes_at_gae": [sum(r["text_sha256"] in vetoed for r in arm.reached_gae)
                                   for arm in (a, b)],
        "vetoed_reward_sums_at_gae": vetoed_returns,
        "vetoed_terminated_at_gae": sorted({str(r["terminated"]) for arm in (a, b)
                                            for r in arm.reached_gae
                                            if r["text_sha256"] in vetoed}),
        "same_weights": a.weights_sha256 == b.weights_sha256,
    }


def _verdict_key(verdict: Mapping[str, Any]) -> tuple[str, str, float]:
    return (str(verdict["text_sha256"]), str(verdict["outcome"]), float(verdict["released"]))


def chunk_behaviour(placement: str, workdir: str | os.PathLike[str], *,
                    env_id: str = "consent_gym/DeliveryCurb-v0") -> dict[str, Any]:
    """What happens when the user switches back to ``batch_mode="truncate_episodes"``.

    Builds the gated config, sets RLlib's default batch mode again, builds and trains one
    iteration; returns where it failed (``"build"`` or ``"train"``) and the error.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    factory = probe_factory("rule", workdir / f"chunks-{placement}.judge.jsonl")
    config = build_config(placement, factory, env_id=env_id)
    config.env_runners(batch_mode="truncate_episodes")
    stage, algo = "build", None
    try:
        algo = config.build_algo()
        stage = "train"
        algo.train()
        return {"stage": None, "error": None, "message": "trained on chunks"}
    except Exception as exc:  # recording what RLlib surfaces, whatever it is
        return {"stage": stage, "error": type(exc).__name__,
                "message": _first_consent_line(exc)}
    finally:
        if algo is not None:
            algo.stop()


def _first_consent_line(exc: BaseException) -> str:
    text = str(exc)
    for line in text.splitlines():
        if "complete_episodes" in line or "chunk" in line:
            return line.strip()[:300]
    return text.strip().splitlines()[-1][:300] if text.strip() else type(exc).__name__


def failure_behaviour(placement: str, workdir: str | os.PathLike[str], *,
                      env_id: str = "consent_gym/DeliveryCurb-v0") -> dict[str, Any]:
    """One iteration with a judge that raises (fail closed): the counts RLlib reports."""
    arm = run_arm(placement, "fail", Path(workdir) / "fail", iterations=1, env_id=env_id)
    return {"episodes_judged": arm.episodes_judged, "episodes_vetoed": arm.episodes_vetoed,
            "episodes_failed": arm.episodes_failed, "metrics_where": arm.metrics_where,
            "vetoed_reward_sums_at_gae": sorted({r["reward_sum"] for r in arm.reached_gae})}
