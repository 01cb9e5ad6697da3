"""The learner-side placement's pure parts, without starting Ray: the connector piece
after RLlib's bootstrap piece, on hand-made episodes."""

from __future__ import annotations

import functools

import numpy as np
import pytest

pytest.importorskip("ray.rllib")

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.learner import AddOneTsToEpisodesAndTruncate
from ray.rllib.core import ALL_MODULES
from ray.rllib.core.columns import Columns

import consent_gym.rllib.episodes as rllib_episodes
from consent_gym.judges import RuleJudge
from consent_gym.rllib.learner_connector import (
    ALL_BLOCKED,
    ConsentLearnerConnector,
    consent_learner_config,
)
from tests.rllib.test_rllib_gate import episode

NO_PEDS = functools.partial(RuleJudge, lambda t: "pedestrian" not in t, name="no-peds")


class Logger:
    def __init__(self):
        self.logged = {}

    def log_value(self, key, value, reduce=None):
        self.logged[key] = (value, reduce)


def through_pipeline(connector, episodes, metrics=None):
    """RLlib PPO's learner pipeline up to the consent piece: the bootstrap piece first."""
    batch, shared = {}, {}
    AddOneTsToEpisodesAndTruncate()(rl_module=None, batch=batch, episodes=episodes,
                                     shared_data=shared)
    return connector(rl_module=None, batch=batch, episodes=episodes, shared_data=shared,
                     metrics=metrics)


def flags(batch, ep):
    key = (ep.id_,)
    return list(batch[Columns.TERMINATEDS][key]), list(batch[Columns.TRUNCATEDS][key])


@pytest.mark.parametrize(("mode", "expected"), [("zero", [0.0, 0.0, 0.0, 0.0]),
                                                ("penalty", [0.0, 0.0, -5.0, 0.0])])
def test_a_vetoed_episode_gets_no_reward_and_no_bootstrap_before_gae(mode, expected,
                                                                     monkeypatch):
    calls = []
    real_decide = rllib_episodes.decide

    def spy(settings, pieces, **kwargs):
        calls.append([p.text for p in pieces])
        return real_decide(settings, pieces, **kwargs)

    monkeypatch.setattr(rllib_episodes, "decide", spy)
    connector = ConsentLearnerConnector(judge_factory=NO_PEDS, mode=mode, penalty=-5.0)
    harmful = episode("hit a pedestrian", (1.0, 2.0, 3.0), terminated=False, truncated=True)
    fine = episode("road", (1.0, 1.0), terminated=False, truncated=True)
    logger = Logger()
    batch = through_pipeline(connector, [fine, harmful], logger)
    assert calls == [["road", "hit a pedestrian"]]  # one decide call for the update
    # The three env steps plus RLlib's artificial bootstrap step (reward 0).
    assert [float(r) for r in harmful.get_rewards()] == expected
    assert flags(batch, harmful) == ([False, False, True, False], [False, False, False, False])
    assert harmful.is_terminated and not harmful.is_truncated
    # The approved time-limit episode keeps its rewards and its V(s_T) bootstrap.
    assert [float(r) for r in fine.get_rewards()] == [1.0, 1.0, 0.0]
    assert flags(batch, fine) == ([False, False, False], [False, True, False])
    consent = {key[2]: value for key, value in logger.logged.items()
               if key[:2] == (ALL_MODULES, "consent")}
    assert consent["episodes_judged"] == (2, "lifetime_sum")
    assert consent["episodes_vetoed"] == (1, "lifetime_sum")
    assert consent["steps_vetoed"] == (3, "lifetime_sum")  # env steps, not the extra one
    assert consent["episodes_judged_iter"] == (2, "sum")


def test_block_removes_the_vetoed_episode_and_its_rows():
    connector = ConsentLearnerConnector(judge_factory=NO_PEDS, mode="block")
    harmful, fine = episode("hit a pedestrian"), episode("road")
    episodes = [harmful, fine]
    batch = through_pipeline(connector, episodes)
    assert episodes == [fine]  # the Learner's own list: later pieces and step counts
    for column in (Columns.LOSS_MASK, Columns.TERMINATEDS, Columns.TRUNCATEDS):
        assert list(batch[column]) == [(fine.id_,)]


def test_block_refuses_an_update_with_every_episode_vetoed():
    connector = ConsentLearnerConnector(judge_factory=NO_PEDS, mode="block")
    with pytest.raises(RuntimeError, match="cannot skip the update"):
        through_pipeline(connector, [episode("hit a pedestrian")])
    assert "consent_config" in ALL_BLOCKED


def test_a_failing_judge_vetoes_on_the_learner_and_is_counted():
    class Raising:
        judge_id = "raising"

        def judge_batch(self, texts):
            raise RuntimeError("down")

    connector = ConsentLearnerConnector(judge_factory=Raising)
    ep = episode("road", (2.0,))
    through_pipeline(connector, [ep])
    assert [float(r) for r in ep.get_rewards()] == [0.0, 0.0]
    assert (connector.stats.judged, connector.stats.failed, connector.stats.vetoed) == (1, 1, 1)


def test_a_chunk_or_an_unrecorded_env_is_refused_naming_both_fixes():
    connector = ConsentLearnerConnector(judge_factory=NO_PEDS)
    chunk = episode("road", record=False, terminated=False)  # cut by the EnvRunner
    with pytest.raises(RuntimeError, match=r"complete_episodes.*ConsentRecorder"):
        through_pipeline(connector, [chunk])


def test_no_episodes_build_no_judge():
    connector = ConsentLearnerConnector(judge_factory=NO_PEDS)
    assert connector(rl_module=None, batch={"x": 1}, episodes=[]) == {"x": 1}
    assert connector.settings.judge is None


def test_the_connector_needs_a_factory_and_valid_settings():
    with pytest.raises(TypeError, match="judge_factory"):
        ConsentLearnerConnector()
    with pytest.raises(ValueError, match="mode"):
        ConsentLearnerConnector(judge_factory=NO_PEDS, mode="often")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="file path"):
        ConsentLearnerConnector(judge_factory=NO_PEDS, audit_log=3)  # type: ignore[arg-type]


def test_consent_learner_config_puts_the_piece_after_the_users_and_no_callback():
    class Shaping(ConnectorV2):
        def __call__(self, *, batch, **kwargs):
            return batch

    config = PPOConfig().environment("CartPole-v1").learners(
        learner_connector=lambda obs, act: Shaping())
    out = consent_learner_config(config, NO_PEDS, mode="penalty", penalty=-2.0)
    assert out is config
    assert config.batch_mode == "complete_episodes"
    assert config.restart_failed_env_runners is False
    assert config.env.startswith("consent:CartPole-v1:")
    pieces = config.build_learner_connector(None, None).connectors
    assert [type(p).__name__ for p in pieces[:2]] == ["Shaping", "ConsentLearnerConnector"]
    assert (pieces[1].settings.mode, pieces[1].settings.penalty) == ("penalty", -2.0)
    assert config.callbacks_class is RLlibCallback  # no EnvRunner callback judges too


def test_consent_learner_config_refuses_what_consent_config_refuses():
    with pytest.raises(TypeError, match="is a judge"):
        consent_learner_config(PPOConfig().environment("CartPole-v1"), NO_PEDS())
    with pytest.raises(ValueError, match="config has no env"):
        consent_learner_config(PPOConfig(), NO_PEDS)


def test_rewards_of_numpy_and_list_episodes_are_edited_alike():
    for numpy in (True, False):
        ep = episode("hit a pedestrian", (1.0, 2.0), numpy=numpy)
        rllib_episodes.veto_episode_in_place(
            ep, ConsentLearnerConnector(judge_factory=NO_PEDS).settings, steps=1)
        assert np.asarray(ep.get_rewards()).tolist() == [0.0, 2.0]
