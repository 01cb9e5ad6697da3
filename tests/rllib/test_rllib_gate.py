"""The RLlib integration's pure parts, without starting Ray: episodes, config, checks."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("ray.rllib")

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from consent_gym.gate import ConsentSettings, ConsentStats
from consent_gym.judge_registry import load_judge
from consent_gym.judges import RuleJudge
from consent_gym.rllib import (
    ConsentCallback,
    RecordedEnv,
    check_batch_mode,
    check_fault_tolerance,
    consent_config,
    episode_piece,
    gate_episodes,
)

RULE = functools.partial(load_judge, "rule")


def episode(text="road", rewards=(1.0, 2.0), *, terminated=True, truncated=False,
            record=True, pending=True, length=None, numpy=True):
    n = len(rewards)
    infos = [{} for _ in range(n + 1)]
    if record:
        infos[-1] = {"consent": {"text": text, "length": n if length is None else length,
                                 "episode_return": float(sum(rewards)), "env_id": "X-v0",
                                 "episode_index": 4, "pending": pending}}
    ep = SingleAgentEpisode(observations=list(range(n + 1)), actions=[0] * n,
                            rewards=list(rewards), infos=infos, terminated=terminated,
                            truncated=truncated, len_lookback_buffer=0)
    return ep.to_numpy() if numpy else ep


def settings(mode="zero", penalty=-5.0):
    return ConsentSettings(RuleJudge(lambda t: "pedestrian" not in t, name="no-peds"),
                           mode=mode, penalty=penalty)


def test_episode_piece_reads_the_recorder_record():
    piece = episode_piece(episode("hello", (1.0, 0.5)))
    assert (piece.text, piece.episode_return, piece.env_id, piece.episode_index,
            piece.steps, piece.finished) == ("hello", 1.5, "X-v0", 4, 2, True)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"terminated": False}, "batch_mode='complete_episodes'"),
    ({"record": False}, "ConsentRecorder"),
    ({"pending": False}, "ConsentWrapper already judged"),
    ({"length": 5}, "must wrap the env directly"),
])
def test_episode_piece_refuses_what_it_cannot_judge(kwargs, message):
    with pytest.raises(RuntimeError, match=message):
        episode_piece(episode(**kwargs))


def test_a_chunk_that_does_not_start_the_episode_is_refused():
    ep = episode(terminated=False, numpy=False)
    tail = ep.cut()
    tail.add_env_step(observation=9, action=0, reward=1.0, terminated=True,
                      infos={"consent": {"text": "x", "length": 1, "pending": True}})
    with pytest.raises(RuntimeError, match="as a chunk"):
        episode_piece(tail)


@pytest.mark.parametrize("numpy", [True, False])
@pytest.mark.parametrize(("mode", "expected"), [("zero", [0.0, 0.0, 0.0]),
                                                ("penalty", [0.0, 0.0, -5.0])])
def test_a_vetoed_episode_is_edited_on_a_copy(mode, expected, numpy):
    harmful = episode("hit a pedestrian", (1.0, 2.0, 3.0), terminated=False, truncated=True,
                      numpy=numpy)
    fine = episode("road", (1.0,), numpy=numpy)
    stats = ConsentStats()
    kept, decisions = gate_episodes(settings(mode), [fine, harmful], stats=stats)
    assert [d.approved for d in decisions] == [True, False]
    assert kept[0] is fine
    assert [float(r) for r in kept[1].get_rewards()] == expected
    assert kept[1].is_terminated and not kept[1].is_truncated  # no value bootstrap
    assert [float(r) for r in harmful.get_rewards()] == [1.0, 2.0, 3.0]  # metrics keep it
    assert harmful.is_truncated
    assert (stats.judged, stats.vetoed, stats.judge_calls) == (2, 1, 1)


def test_block_leaves_a_vetoed_episode_out():
    fine, harmful = episode("road"), episode("hit a pedestrian")
    kept, decisions = gate_episodes(settings("block"), [harmful, fine])
    assert kept == [fine]
    assert [d.released for d in decisions] == [0.0, 3.0]


def test_no_episodes_ask_nothing():
    assert gate_episodes(settings(), []) == ([], [])


def test_batch_mode_and_fault_tolerance_checks_name_the_fix():
    with pytest.raises(ValueError, match="batch_mode='complete_episodes'"):
        check_batch_mode(SimpleNamespace(batch_mode="truncate_episodes"))
    check_batch_mode(SimpleNamespace(batch_mode="complete_episodes"))
    with pytest.raises(ValueError, match="restart_failed_env_runners=False"):
        check_fault_tolerance(SimpleNamespace(restart_failed_env_runners=True,
                                              ignore_env_runner_failures=False))
    check_fault_tolerance(SimpleNamespace(restart_failed_env_runners=False,
                                          ignore_env_runner_failures=False))


def test_the_callback_refuses_chunks_before_training():
    callback = ConsentCallback(judge_factory=RULE)
    algo = SimpleNamespace(config=PPOConfig())  # RLlib's default: truncate_episodes
    with pytest.raises(ValueError, match="complete_episodes"):
        callback.on_algorithm_init(algorithm=algo)


def test_the_callback_needs_a_factory_and_valid_settings():
    with pytest.raises(TypeError, match="judge_factory"):
        ConsentCallback()
    with pytest.raises(ValueError, match="mode"):
        ConsentCallback(judge_factory=RULE, mode="sometimes")  # type: ignore[arg-type]


def test_the_callback_gates_a_sample_and_logs_metrics():
    class Logger:
        def __init__(self):
            self.logged = {}

        def log_value(self, key, value, reduce=None):
            self.logged[key[1]] = (value, reduce)

    callback = ConsentCallback(judge_factory=functools.partial(
        RuleJudge, lambda t: "pedestrian" not in t, name="no-peds"), mode="block")
    runner = SimpleNamespace(config=SimpleNamespace(batch_mode="complete_episodes",
                                                    in_evaluation=False), worker_index=2)
    samples = [episode("hit a pedestrian"), episode("road")]
    logger = Logger()
    callback.on_sample_end(env_runner=runner, metrics_logger=logger, samples=samples)
    assert len(samples) == 1 and episode_piece(samples[0]).text == "road"
    assert logger.logged["episodes_judged"] == (2, "lifetime_sum")
    assert logger.logged["episodes_vetoed"] == (1, "lifetime_sum")
    assert logger.logged["steps_vetoed"] == (2, "lifetime_sum")
    assert logger.logged["episodes_judged_iter"] == (2, "sum")
    result = {"env_runners": {"consent": {"episodes_judged": 4, "episodes_vetoed": 1,
                                          "episodes_judged_iter": 2,
                                          "episodes_vetoed_iter": 0}}}
    callback.on_train_result(algorithm=None, result=result)
    assert result["env_runners"]["consent"]["veto_rate"] == 0.25
    assert result["env_runners"]["consent"]["veto_rate_iter"] == 0.0


def test_evaluation_runners_are_not_gated():
    callback = ConsentCallback(judge_factory=RULE)
    runner = SimpleNamespace(config=SimpleNamespace(batch_mode="truncate_episodes",
                                                    in_evaluation=True))
    samples = [episode("hit a pedestrian", terminated=False)]
    callback.on_sample_end(env_runner=runner, metrics_logger=None, samples=samples)
    assert len(samples) == 1 and callback.settings.judge is None


def test_consent_config_sets_what_gating_needs():
    config = PPOConfig().environment("CartPole-v1")
    out = consent_config(config, RULE, mode="penalty", penalty=-1.0)
    assert out is config
    assert config.batch_mode == "complete_episodes"
    assert config.restart_failed_env_runners is False
    assert config.env.startswith("consent:CartPole-v1:")
    callback = config.callbacks_class()
    assert isinstance(callback, ConsentCallback)
    assert (callback.settings.mode, callback.settings.penalty) == ("penalty", -1.0)


def test_consent_config_keeps_the_users_callbacks():
    from ray.rllib.callbacks.callbacks import RLlibCallback

    class Mine(RLlibCallback):
        pass

    config = consent_config(PPOConfig().environment("CartPole-v1").callbacks(Mine), RULE)
    built = [c() for c in config.callbacks_class]
    assert [type(c) for c in built] == [Mine, ConsentCallback]


@pytest.mark.parametrize(("config", "factory", "error", "message"), [
    (PPOConfig().environment("CartPole-v1"), load_judge("rule"), TypeError, "is a judge"),
    (PPOConfig().environment("CartPole-v1"), "llm", TypeError, "callable"),
    (PPOConfig(), RULE, ValueError, "config has no env"),
    (PPOConfig().environment("not-an-env-v9"), RULE, ValueError, "register_env"),
    ({"env": "CartPole-v1"}, RULE, TypeError, "AlgorithmConfig"),
])
def test_consent_config_refuses_bad_input(config, factory, error, message):
    with pytest.raises(error, match=message):
        consent_config(config, factory)


def test_consent_config_refuses_a_bad_mode_and_the_old_api_stack():
    with pytest.raises(ValueError, match="mode"):
        consent_config(PPOConfig().environment("CartPole-v1"), RULE, mode="maybe")  # type: ignore[arg-type]
    old = PPOConfig().environment("CartPole-v1").api_stack(
        enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
    with pytest.raises(ValueError, match="new API stack"):
        consent_config(old, RULE)


def test_recorded_env_renders_each_episode_into_its_last_info():
    env = RecordedEnv("CartPole-v1")({})
    env.reset(seed=0)
    done, info = False, {}
    while not done:
        _, _, terminated, truncated, info = env.step(0)
        done = terminated or truncated
    assert info["consent"]["pending"] and info["consent"]["length"] > 0
    assert np.isclose(info["consent"]["episode_return"], info["consent"]["length"])
