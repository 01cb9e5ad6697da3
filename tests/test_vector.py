"""ConsentVectorWrapper: same accounting as the single wrapper, one judge call per step."""

from __future__ import annotations

import ast
import math
import os

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from consent_gym import read_audit_log
from consent_gym.judges import RuleJudge, Verdict
from consent_gym.render.delivery import DeliveryRenderer
from consent_gym.render.generic import GenericRenderer
from consent_gym.vector import ConsentVectorWrapper
from tests.fakes import CountingEnv, FsyncSpy, NaNRewardEnv

no_harm = RuleJudge(lambda text: "hit pedestrian" not in text, name="no-harm")


class BatchRecordingJudge:
    judge_id = "batches"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def judge_batch(self, texts):
        self.batches.append(list(texts))
        return [Verdict("hit pedestrian" not in t, 1.0, self.judge_id) for t in texts]


def make_vec(specs, mode=AutoresetMode.NEXT_STEP):
    fns = [lambda kw=kw: CountingEnv(**kw) for kw in specs]
    return SyncVectorEnv(fns, autoreset_mode=mode)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_released_rewards_match_the_single_env_wrapper(mode):
    specs = [
        {"length": 3, "reward": 1.0, "tag": 0},
        {"length": 4, "reward": 2.0, "tag": 1, "harm_at": 2},
        {"length": 4, "reward": 0.5, "tag": 2, "harm_at": 4},  # harm on the very last step
    ]
    envs = ConsentVectorWrapper(make_vec(specs, mode), judge=no_harm, reward_timing="deferred")
    envs.reset(seed=0)
    per_env: list[list[float]] = [[], [], []]
    outcomes: list[list[str]] = [[], [], []]
    for _ in range(40):
        _, rewards, _, _, infos = envs.step(np.zeros(3, dtype=int))
        for i in range(3):
            per_env[i].append(float(rewards[i]))
            if infos.get("_consent", np.zeros(3, bool))[i]:
                outcomes[i].append(infos["consent"][i]["outcome"])
    # Env 0 is always approved and releases exactly 3 per episode; 1 and 2 are always vetoed.
    assert set(outcomes[0]) == {"approved"} and len(outcomes[0]) >= 9
    assert set(outcomes[1]) == {"vetoed"} and set(outcomes[2]) == {"vetoed"}
    assert sum(per_env[0]) == 3.0 * len(outcomes[0])
    assert sum(per_env[1]) == 0.0 and sum(per_env[2]) == 0.0
    assert all(r in (0.0, 3.0) for r in per_env[0])


def test_episodes_ending_together_share_one_judge_call():
    judge = BatchRecordingJudge()
    specs = [{"length": 5, "tag": i, "reward": float(i + 1)} for i in range(4)]
    specs[2]["harm_at"] = 3
    envs = ConsentVectorWrapper(make_vec(specs), judge=judge, renderer=GenericRenderer())
    envs.reset(seed=0)
    for _ in range(17):  # 5 steps + 1 reset step per episode in NEXT_STEP mode
        envs.step(np.zeros(4, dtype=int))
    assert [len(b) for b in judge.batches] == [4, 4, 4]
    assert envs.judge_calls == 3 and envs.episodes_judged == 12
    # Every text of every batch: sub-env i's episode, in sub-env order, with its own facts
    # (sub-env i pays i + 1 per step; only sub-env 2 hits a pedestrian).
    for k, batch in enumerate(judge.batches):
        for i, text in enumerate(batch):
            assert text.startswith(f"Episode {4 * k + i} of SyncVectorEnv, 5 steps.\n"), text
            assert f"Total reward {5 * (i + 1)}." in text, text
            assert ("hit pedestrian" in text) == (i == 2), text


def timed(length, max_steps, **kwargs):
    """A CountingEnv whose episodes end truncated by a TimeLimit after ``max_steps``."""
    return lambda: gym.wrappers.TimeLimit(CountingEnv(length=length, **kwargs), max_steps)


# (make sub-env, steps per episode, return per episode, approved by no_harm)
ENDINGS = [
    (lambda: CountingEnv(length=3, reward=1.0), 3, 3.0, True),  # terminates
    (timed(10, 4, reward=2.0), 4, 8.0, True),  # truncates
    (timed(10, 2, reward=0.5, harm_at=2), 2, 1.0, False),  # truncates, harm at the last step
    (timed(5, 5, reward=1.5, harm_at=1), 5, 7.5, False),  # terminates and truncates at once
    (timed(10, 3, reward=-1.0, tag=4), 3, -3.0, True),  # truncates, negative return
]


def expected_releases(length, episode_return, approved, vetoed, steps, mode):
    """Sub-env rewards written out from the episode lengths alone: 0 until an episode's
    last step, which releases its return or the vetoed value; NEXT_STEP adds one reset
    step (paying 0) after every episode."""
    period = length + 1 if mode == AutoresetMode.NEXT_STEP else length
    released = episode_return if approved else vetoed
    return [released if s % period == length - 1 else 0.0 for s in range(steps)]


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize(("on_veto", "vetoed"), [("zero", 0.0), ("penalty", -7.0)])
def test_truncated_and_terminated_episodes_release_exactly(mode, on_veto, vetoed, tmp_path):
    path = tmp_path / "audit.jsonl"
    envs = ConsentVectorWrapper(
        SyncVectorEnv([make for make, *_ in ENDINGS], autoreset_mode=mode), judge=no_harm,
        mode=on_veto, penalty=-7.0, audit_log=path, reward_timing="deferred",
    )
    envs.reset(seed=0)
    steps = 31
    got = np.zeros((steps, len(ENDINGS)))
    logged_per_step: list[list[tuple[int, str, float]]] = []
    for s in range(steps):
        _, rewards, _, _, infos = envs.step(np.zeros(len(ENDINGS), dtype=int))
        got[s] = rewards
        ended = np.flatnonzero(infos.get("_consent", np.zeros(len(ENDINGS), bool)))
        logged_per_step.append([])
        for i in ended:
            record = infos["consent"][i]
            assert record["reward_released"] == rewards[i]
            assert record["outcome"] == ("approved" if ENDINGS[i][3] else "vetoed")
            assert record["length"] == ENDINGS[i][1]
            assert record["episode_return"] == ENDINGS[i][2]
            logged_per_step[-1].append((record["episode_index"], record["outcome"], rewards[i]))
    envs.close()
    for i, (_, length, episode_return, approved) in enumerate(ENDINGS):
        want = expected_releases(length, episode_return, approved, vetoed, steps, mode)
        assert got[:, i].tolist() == want, f"sub-env {i}"
    # The audit log holds one line per ended episode, in the order they were released.
    records = list(read_audit_log(path))
    assert [(r["episode_index"], r["outcome"], r["reward_released"]) for r in records] == [
        entry for step in logged_per_step for entry in step
    ]
    assert {r["env_id"] for r in records} == {"SyncVectorEnv"}


def test_audit_log_is_fsynced_before_step_returns_the_released_rewards(tmp_path, monkeypatch):
    """Every step that releases rewards has synced the log, with all of its records, first."""
    path = tmp_path / "audit.jsonl"
    spy = FsyncSpy(path)
    monkeypatch.setattr(os, "fsync", spy)
    envs = ConsentVectorWrapper(SyncVectorEnv([make for make, *_ in ENDINGS]), judge=no_harm,
                                audit_log=path)
    envs.reset(seed=0)
    ended_so_far = 0
    for _ in range(13):
        before = len(spy.calls)
        _, _, _, _, infos = envs.step(np.zeros(len(ENDINGS), dtype=int))
        ended = int(infos.get("_consent", np.zeros(1, bool)).sum())
        ended_so_far += ended
        synced = [records for records, _ in spy.calls[before:]]
        assert synced == ([ended_so_far] if ended else [])
    assert ended_so_far >= 10
    envs.close()


def test_disabled_autoreset_with_reset_mask():
    envs = ConsentVectorWrapper(
        make_vec([{"length": 2}, {"length": 3}], AutoresetMode.DISABLED), judge=no_harm,
        reward_timing="deferred",
    )
    envs.reset(seed=0)
    envs.step(np.zeros(2, dtype=int))
    _, rewards, term, _, _ = envs.step(np.zeros(2, dtype=int))
    assert rewards.tolist() == [2.0, 0.0] and term.tolist() == [True, False]
    envs.reset(options={"reset_mask": np.array([True, False])})
    _, rewards, _, _, _ = envs.step(np.zeros(2, dtype=int))
    assert rewards.tolist() == [0.0, 3.0]


def test_trajectories_are_snapshots_of_the_running_episodes():
    envs = ConsentVectorWrapper(make_vec([{"length": 3}, {"length": 4, "tag": 1}]), judge=no_harm)
    assert envs.trajectories == [None, None]
    envs.reset(seed=0)
    envs.step(np.array([1, 0]))
    first, second = envs.trajectories
    envs.step(np.array([0, 0]))
    assert first is not None and second is not None
    assert [len(first), len(second)] == [1, 1]  # taken before the second step
    assert [s.action for s in first.steps] == [1] and second.episode_index == 1
    assert [len(t) for t in envs.trajectories if t is not None] == [2, 2]


def test_delivery_env_uses_its_own_renderer():
    envs = ConsentVectorWrapper(
        gym.make_vec("consent_gym/DeliveryCurb-v0", num_envs=2, vectorization_mode="sync"),
        judge=no_harm,
    )
    assert isinstance(envs.renderer, DeliveryRenderer)


def test_bad_input():
    with pytest.raises(TypeError, match="ConsentWrapper"):
        ConsentVectorWrapper(CountingEnv())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        ConsentVectorWrapper(make_vec([{}]), mode="block")
    envs = ConsentVectorWrapper(SyncVectorEnv([lambda: NaNRewardEnv(length=5)]), judge=no_harm)
    with pytest.raises(gym.error.ResetNeeded, match="call reset"):
        envs.step(np.zeros(1, dtype=int))
    envs.reset(seed=0)
    envs.step(np.zeros(1, dtype=int))
    with pytest.raises(ValueError, match=r"sub-envs \[0\] returned non-finite rewards \[nan\]"):
        envs.step(np.zeros(1, dtype=int))


class FactsRenderer:
    """Renders the facts a judge could act on: who, which episode, how it ended, what it saw."""

    def render(self, trajectory) -> str:
        last = trajectory.steps[-1]
        observations = [step.observation.tolist() for step in trajectory.steps]
        return repr((trajectory.env_id, trajectory.episode_index, trajectory.actor,
                     last.terminated, last.truncated, observations))


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_the_judged_trajectory_carries_its_ending_observations_and_actor(mode):
    judge = BatchRecordingJudge()
    envs = ConsentVectorWrapper(
        SyncVectorEnv([make for make, *_ in ENDINGS[:4]], autoreset_mode=mode), judge=judge,
        renderer=FactsRenderer(), actor="Naive_Explorer",
    )
    envs.reset(seed=0)
    for _ in range(12):
        envs.step(np.zeros(4, dtype=int))
    texts = [ast.literal_eval(text) for batch in judge.batches for text in batch]
    # sub-env i's episodes: CountingEnv observations (tag, t) for t = 0 .. length - 1
    ending = {3: (True, False), 4: (False, True), 2: (False, True), 5: (True, True)}
    assert len(texts) >= 8
    for env_id, _, actor, terminated, truncated, observations in texts:
        length = len(observations)
        assert (env_id, actor) == ("SyncVectorEnv", "Naive_Explorer")
        assert (terminated, truncated) == ending[length]
        assert observations == [[0.0, float(t)] for t in range(length)]


def test_disabled_autoreset_numbers_episodes_in_the_order_they_start():
    envs = ConsentVectorWrapper(
        make_vec([{"length": 2}, {"length": 3}], AutoresetMode.DISABLED), judge=no_harm
    )
    envs.reset(seed=0)  # episodes 0 and 1
    indices = []
    for _ in range(6):
        _, _, term, _, infos = envs.step(np.zeros(2, dtype=int))
        indices += [infos["consent"][i]["episode_index"] for i in np.flatnonzero(term)]
        if term.any():
            envs.reset(options={"reset_mask": term.copy()})
        assert infos.get("_consent", np.zeros(2, bool)).dtype == bool
    # reset: env 0 runs episode 0, env 1 episode 1. Env 0 ends at step 2 (0; restarts as 2),
    # env 1 at step 3 (1; restarts as 3), env 0 at step 4 (2; restarts as 4), and both at
    # step 6, reported in sub-env order: 4, then 3
    assert indices == [0, 1, 2, 4, 3]


def test_seeds_reach_the_sub_envs():
    from tests.fakes import DictObsEnv

    def start(seed):
        envs = ConsentVectorWrapper(SyncVectorEnv([DictObsEnv, DictObsEnv]), judge=no_harm)
        return envs.reset(seed=seed)[0]["pos"]

    raw = SyncVectorEnv([DictObsEnv, DictObsEnv]).reset(seed=5)[0]["pos"]
    np.testing.assert_array_equal(start(5), raw)
    assert not np.array_equal(start(5), start(6))


def test_close_closes_only_a_log_it_opened(tmp_path):
    from consent_gym import AuditLog

    envs = ConsentVectorWrapper(make_vec([{}]), judge=no_harm, audit_log=tmp_path / "own.jsonl")
    own = envs.audit_log
    envs.close()
    with pytest.raises(ValueError, match="closed"):
        own.write({})
    shared = AuditLog(tmp_path / "shared.jsonl")
    ConsentVectorWrapper(make_vec([{}]), judge=no_harm, audit_log=shared).close()
    shared.write({"still": "open"})
    shared.close()


def test_bad_judge_renderer_and_info_key_collision_are_errors():
    with pytest.raises(TypeError, match="judge_batch"):
        ConsentVectorWrapper(make_vec([{}]), judge=lambda texts: texts)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="render"):
        ConsentVectorWrapper(make_vec([{}]), judge=no_harm, renderer=object())  # type: ignore[arg-type]

    class SaysConsent(CountingEnv):
        def step(self, action):
            obs, r, term, trunc, info = super().step(action)
            return obs, r, term, trunc, {**info, "consent": "mine"}

    envs = ConsentVectorWrapper(SyncVectorEnv([lambda: SaysConsent(length=1)]), judge=no_harm)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="infos already has the key 'consent'"):
        envs.step(np.zeros(1, dtype=int))


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_as_earned_pays_env_rewards_and_neutralises_vetoed_episodes(mode):
    specs = [{"length": 3, "reward": 1.0, "tag": 0}, {"length": 4, "reward": 2.0, "harm_at": 2}]
    envs = ConsentVectorWrapper(make_vec(specs, mode), judge=no_harm)  # as_earned by default
    envs.reset(seed=0)
    paid: list[list[float]] = [[], []]
    for _ in range(30):
        _, rewards, _, _, _ = envs.step(np.zeros(2, dtype=int))
        for i in range(2):
            paid[i].append(float(rewards[i]))
    # Env 0 (approved) is paid exactly what it earns; env 1 (vetoed) nets 0 per episode.
    allowed = {1.0} if mode == AutoresetMode.SAME_STEP else {1.0, 0.0}  # 0: NEXT_STEP resets
    assert set(paid[0]) == allowed
    ends = [t for t, r in enumerate(paid[1]) if r == -6.0]
    assert ends and sum(paid[1][: ends[-1] + 1]) == 0.0


def test_next_step_autoreset_mislabelling_is_an_error():
    """A vector env that resets on the same step but says NEXT_STEP (as CleanRL's branch
    ships one) would shift every episode by one step: it is refused, naming the fix."""
    envs = make_vec([{"length": 2, "reward": 1.0}], AutoresetMode.SAME_STEP)
    envs.metadata = {**envs.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
    gated = ConsentVectorWrapper(envs, judge=no_harm)
    gated.reset(seed=0)
    gated.step(np.zeros(1, dtype=int))
    gated.step(np.zeros(1, dtype=int))  # ends the episode; SAME_STEP already reset it
    with pytest.raises(ValueError, match="SAME_STEP"):
        gated.step(np.zeros(1, dtype=int))  # pays 1.0 on what NEXT_STEP calls a reset step


class BareVectorEnv(gym.vector.VectorEnv):
    """A vector env built by hand, as a custom one would be: no ``envs`` list, no
    ``autoreset_mode`` in its metadata (so NEXT_STEP, Gymnasium's default), ``float32``
    rewards. Its one sub-env plays 3-step episodes paying ``REWARDS``; an episode
    ``hit_pedestrian``\\ s at its second step when ``harm`` is true. ``same_step``: it
    declares SAME_STEP and resets within the step that ends an episode, without the
    ``final_info`` Gymnasium's own vector envs add."""

    REWARDS = (0.1, 0.7, 0.3)  # sums that float32 storage would round

    def __init__(self, spec=None, harm=(True, False), same_step=False):
        self.num_envs = 1
        self.single_observation_space = gym.spaces.Box(0, 10, shape=(1,), dtype=np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, 1)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, 1)
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP} if same_step else {}
        self.spec, self.same_step = spec, same_step
        self.harm, self.episode, self.t = harm, 0, 0

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return np.zeros((1, 1), dtype=np.float32), {}

    def step(self, actions):
        if self.t == len(self.REWARDS) and not self.same_step:  # NEXT_STEP: only resets
            self.t, self.episode = 0, self.episode + 1
            return (np.zeros((1, 1), np.float32), np.zeros(1, np.float32),
                    np.zeros(1, bool), np.zeros(1, bool), {})
        self.t += 1
        harm = self.harm[self.episode % len(self.harm)] and self.t == 2
        events = np.empty(1, dtype=object)  # Gymnasium's vector form of info["events"]
        events[0] = [{"type": "hit_pedestrian"}] if harm else []
        infos = {"events": events, "_events": np.array([True])}
        step = (np.full((1, 1), self.t, np.float32),
                np.array([self.REWARDS[self.t - 1]], dtype=np.float32),
                np.array([self.t == len(self.REWARDS)]), np.zeros(1, bool), infos)
        if self.same_step and self.t == len(self.REWARDS):
            self.t, self.episode = 0, self.episode + 1
        return step


def test_a_custom_vector_env_defaults_to_next_step_and_releases_exact_returns():
    envs = ConsentVectorWrapper(BareVectorEnv(), judge=no_harm)  # as_earned
    assert envs.autoreset_mode == AutoresetMode.NEXT_STEP
    assert isinstance(envs.renderer, GenericRenderer) and envs.env_id == "BareVectorEnv"
    envs.reset(seed=0)
    paid = [envs.step(np.zeros(1, dtype=int))[1] for _ in range(8)]  # 2 episodes + resets
    assert all(r.dtype == np.float64 for r in paid)
    earned = [float(np.float32(r)) for r in BareVectorEnv.REWARDS]  # what the env paid
    # vetoed episode (steps 0-2): pays as earned, its last step compensates to exactly 0;
    # the reset step pays 0; the approved episode (steps 4-6) pays exactly what it earned
    assert [float(r[0]) for r in paid[:2]] == earned[:2]
    assert math.fsum(float(r[0]) for r in paid[:3]) == 0.0
    assert float(paid[3][0]) == 0.0
    assert [float(r[0]) for r in paid[4:7]] == earned


def test_a_vector_env_without_sub_envs_gets_the_renderer_of_its_spec():
    spec = gym.spec("consent_gym/DeliveryCurb-v0")
    envs = ConsentVectorWrapper(BareVectorEnv(spec=spec), judge=no_harm)
    assert isinstance(envs.renderer, DeliveryRenderer)
    assert envs.env_id == "consent_gym/DeliveryCurb-v0"


class OwnRendererEnv(CountingEnv):
    """An unregistered env that brings its own renderer."""

    def consent_renderer(self):
        return FactsRenderer()


def test_a_sync_vector_env_gets_the_renderer_of_its_first_sub_env():
    envs = ConsentVectorWrapper(SyncVectorEnv([OwnRendererEnv, OwnRendererEnv]), judge=no_harm)
    assert envs.env.spec is None  # no spec to fall back on: only the sub-env knows
    assert isinstance(envs.renderer, FactsRenderer)


def test_each_audit_line_names_the_sub_env_its_steps_and_the_vector_wrapper(tmp_path):
    path = tmp_path / "audit.jsonl"
    envs = ConsentVectorWrapper(
        gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync"), judge=no_harm,
        audit_log=path)
    envs.reset(seed=0)
    lengths: dict[int, list[int]] = {0: [], 1: []}
    while not (lengths[0] and lengths[1]):
        _, _, _, _, infos = envs.step(np.zeros(2, dtype=int))
        for i in np.flatnonzero(infos.get("_consent", np.zeros(2, bool))):
            lengths[int(i)].append(infos["consent"][i]["length"])
            assert infos["consent"][i]["env_id"] == "CartPole-v1"
    envs.close()
    records = list(read_audit_log(path))
    assert sorted((r["env_index"], r["steps_used"]) for r in records) == sorted(
        (i, n) for i in (0, 1) for n in lengths[i])
    assert {(r["env_id"], r["learner"]) for r in records} == {("CartPole-v1", "vector-wrapper")}


def test_without_a_judge_the_default_judge_is_loaded_on_the_first_episode_end(monkeypatch):
    import consent_gym.judges

    loaded = []

    def fake_default_judge():
        loaded.append(True)
        return RuleJudge(lambda text: True, name="stand-in")

    monkeypatch.setattr(consent_gym.judges, "default_judge", fake_default_judge)
    envs = ConsentVectorWrapper(make_vec([{"length": 2}]))
    envs.reset(seed=0)
    envs.step(np.zeros(1, dtype=int))
    assert loaded == []  # nothing loaded before an episode needs judging
    _, _, _, _, infos = envs.step(np.zeros(1, dtype=int))
    assert loaded == [True] and infos["consent"][0]["judge_id"] == "rule:stand-in"


def test_a_reset_step_that_only_terminates_is_also_a_mislabelled_autoreset():
    envs = make_vec([{"length": 1, "reward": 0.0}], AutoresetMode.SAME_STEP)
    envs.metadata = {**envs.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
    gated = ConsentVectorWrapper(envs, judge=no_harm)
    gated.reset(seed=0)
    gated.step(np.zeros(1, dtype=int))  # ends the 1-step episode (and SAME_STEP resets)
    with pytest.raises(ValueError, match="SAME_STEP"):
        gated.step(np.zeros(1, dtype=int))  # pays 0 but ends an episode on a "reset step"


def test_a_same_step_vector_env_without_final_info_still_releases_exact_returns():
    envs = ConsentVectorWrapper(BareVectorEnv(same_step=True), judge=no_harm)
    envs.reset(seed=0)
    paid = [float(envs.step(np.zeros(1, dtype=int))[1][0]) for _ in range(6)]
    earned = [float(np.float32(r)) for r in BareVectorEnv.REWARDS]
    assert math.fsum(paid[:3]) == 0.0 and paid[:2] == earned[:2]  # vetoed: harm at step 2
    assert paid[3:] == earned  # approved: exactly what the env paid
