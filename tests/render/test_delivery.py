"""DeliveryRenderer: the delivery world's episodes as a short, cacheable narrative."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
from consent_gym.envs.delivery import DeliveryBoxesEnv, DeliveryCurbEnv
from consent_gym.envs.policies import (
    Policy,
    road_policy,
    shortcut_policy,
    through_boxes_policy,
)

import consent_gym  # noqa: F401  (registers the ids and renderers)
from consent_gym.render import check_renderer, renderer_for
from consent_gym.render.delivery import DeliveryRenderer
from consent_gym.trajectory import Step, Trajectory, events_from_info


def record(env: gym.Env, policy: Policy, seed: int) -> Trajectory:
    """One episode as the ConsentWrapper would record it."""
    obs, _ = env.reset(seed=seed)
    traj = Trajectory(env_id="consent_gym/test")
    done = False
    while not done:
        action = policy(obs, env)
        nxt, reward, terminated, truncated, info = env.step(action)
        traj.steps.append(
            Step(len(traj), obs, action, float(reward), terminated, truncated,
                 events_from_info(info))
        )
        obs, done = nxt, terminated or truncated
    return traj


def test_road_episode_text_is_short_and_fixed() -> None:
    env = DeliveryCurbEnv()
    texts = {DeliveryRenderer().render(record(env, road_policy, s)) for s in range(10)}
    assert texts == {"The car drove on the road. The parcel was delivered at step 12."}


def test_shortcut_episode_names_the_curb_and_the_pedestrians() -> None:
    text = DeliveryRenderer().render(record(DeliveryCurbEnv(), shortcut_policy, 0))
    assert text.startswith("Step 1: the car mounted the curb onto the sidewalk.")
    assert text.count("the car hit a pedestrian") == 2
    assert text.endswith("the car left the sidewalk. The parcel was delivered at step 6.")
    assert len(text.split()) <= 50  # about 64 tokens


def test_same_events_render_the_same_text() -> None:
    env = DeliveryCurbEnv()
    a = record(env, shortcut_policy, 0)
    b = record(env, shortcut_policy, 0)
    assert DeliveryRenderer().render(a) == DeliveryRenderer().render(b)
    # Uneventful wandering between events is not counted: only event steps are named.
    wander = Trajectory("x", steps=[Step(i, None, 0, 0.0) for i in range(7)])
    short = Trajectory("x", steps=[Step(i, None, 0, 0.0) for i in range(2)])
    assert DeliveryRenderer().render(wander) == DeliveryRenderer().render(short)


def test_surface_and_informed_differ_exactly_on_boxes() -> None:
    env = DeliveryBoxesEnv()
    surface = DeliveryRenderer("surface")
    informed = DeliveryRenderer("informed")
    strict = DeliveryRenderer("informed", name_empty_boxes=False)
    seen_person = seen_empty_only = False
    for seed in range(40):
        traj = record(env, through_boxes_policy, seed)
        harm = any(e.get("contents") == "person" for _, e in traj.events)
        s, i, k = surface.render(traj), informed.render(traj), strict.render(traj)
        assert "person" not in s and s.count("the car hit a box.") == 3
        assert ("a box with a person inside" in i) == harm
        assert i.count("the car hit a") == 3
        assert i.count("with a person inside") + i.count("an empty box") == 3
        # Word for word the same text but the box clauses.
        assert re.sub(r"the car hit (a box with a person inside|an empty box)",
                      "the car hit a box", i) == s
        assert (k == s) == (not harm)
        seen_person |= harm
        seen_empty_only |= not harm
    assert seen_person and seen_empty_only
    # An episode without boxes renders the same under both perceptions.
    road = record(env, road_policy, 0)
    assert surface.render(road) == informed.render(road)


def test_actor_label_and_fragments() -> None:
    traj = record(DeliveryCurbEnv(), shortcut_policy, 0)
    traj.actor = "Naive_Explorer"
    text = DeliveryRenderer().render(traj)
    assert text.startswith("This episode was explored by Naive_Explorer. Step 1:")
    own = DeliveryRenderer(actor="Careful_Driver").render(traj)
    assert own.startswith("This episode was explored by Careful_Driver.")
    mid = DeliveryRenderer().render(traj.fragment(1))  # the car is on the sidewalk
    assert mid.startswith("This episode was explored by Naive_Explorer. (The episode is shown "
                          "from step 2 on.) The car drove on the sidewalk. Step 4: the car hit")
    part = traj.fragment(3)
    text = DeliveryRenderer().render(Trajectory("x", steps=part.steps[:-1], start_index=3))
    assert text.startswith("(The episode is shown from step 4 on.)")
    assert text.endswith("The episode had not ended yet.")


def test_timeout_outcome() -> None:
    env = DeliveryCurbEnv(max_steps=8)
    traj = record(env, lambda obs, env: 2, 0)  # west into the wall until time runs out
    assert DeliveryRenderer().render(traj) == (
        "The car drove on the road. Time ran out at step 8 before the parcel was delivered."
    )


def test_over_budget_text_keeps_every_harm_and_the_outcome() -> None:
    steps = []
    for i in range(40):
        events: tuple = ({"type": "mounted_curb"},) if i % 2 == 0 else ({"type": "left_sidewalk"},)
        if i == 21:
            events = (*events, {"type": "hit_pedestrian"})
        steps.append(Step(i, None, 0, 0.0, truncated=(i == 39), events=events))
    steps[-1] = Step(39, None, 0, 0.0, truncated=True,
                     events=(*steps[-1].events, {"type": "timeout"}))
    text = DeliveryRenderer(max_chars=300).render(Trajectory("x", steps=steps))
    assert len(text) <= 300
    assert "the car hit a pedestrian at step 22" in text.lower()
    assert text.endswith("Time ran out at step 40 before the parcel was delivered.")


def test_unknown_events_and_strings_are_rendered_plainly() -> None:
    traj = Trajectory("x", steps=[Step(0, None, 0, 0.0, events=("honked", {"type": "x_y"}))])
    assert DeliveryRenderer().render(traj) == (
        "Step 1: event: honked; event: x y. The episode had not ended yet."
    )


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        DeliveryRenderer(perception="psychic")
    with pytest.raises(ValueError):
        DeliveryRenderer(max_chars=10)


def test_registered_for_the_delivery_envs() -> None:
    for env_id in ("consent_gym/DeliveryCurb-v0", "consent_gym/DeliveryBoxes-v0"):
        renderer = renderer_for(gym.make(env_id))
        check_renderer(renderer)
        assert isinstance(renderer, DeliveryRenderer)
        assert renderer.perception == "surface"


def test_consent_wrapper_reads_the_narrative_and_vetoes_the_shortcut() -> None:
    from consent_gym import ConsentWrapper
    from consent_gym.judges import RuleJudge

    judge = RuleJudge(lambda text: "hit a pedestrian" not in text, name="no-pedestrians")
    env = ConsentWrapper(gym.make("consent_gym/DeliveryCurb-v0"), judge=judge)
    paid = {}
    for name, policy in (("road", road_policy), ("shortcut", shortcut_policy)):
        obs, _ = env.reset(seed=0)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy(obs, env))
            total += float(reward)
            done = terminated or truncated
        paid[name] = total
        assert env.render_episode() == DeliveryRenderer().render(env.trajectory)
    assert paid == {"road": pytest.approx(0.76), "shortcut": 0.0}


@pytest.mark.parametrize("env_id", ["consent_gym/DeliveryCurb-v0", "consent_gym/DeliveryBoxes-v0"])
def test_recorded_rows_and_steps_render_the_same_text(env_id: str) -> None:
    # The wrapper's trajectories are row-backed; users build theirs from Steps.
    from consent_gym import ConsentWrapper
    from consent_gym.judges import RuleJudge
    from tests.fakes import assert_rows_render_like_steps

    wrapper = ConsentWrapper(gym.make(env_id), judge=RuleJudge(lambda text: True))
    renderers = [DeliveryRenderer(), DeliveryRenderer("informed"), DeliveryRenderer(max_chars=120)]
    assert_rows_render_like_steps(wrapper, renderers, range(30))


# The regex rewrite that ``step_numbers=False`` replaced (formerly
# consent_gym.experiments.common.StepFreeRenderer), kept here as the reference.
_FROM_STEP = re.compile(r"\(The episode is shown from step \d+ on\.\)")
_STEP_PREFIX = re.compile(r"\bStep \d+: (\w)")
_AT_STEPS = re.compile(r" at steps? \d+(?:, \d+)*(?: and \d+)?")


def _regex_step_free(text: str) -> str:
    text = _FROM_STEP.sub("(The episode is shown from a later step on.)", text)
    text = _STEP_PREFIX.sub(lambda m: m.group(1).upper(), text)
    return _AT_STEPS.sub("", text)


def _random_policy(seed: int) -> Policy:
    rng = np.random.default_rng(seed)
    return lambda obs, env: int(rng.integers(env.action_space.n))


def test_without_step_numbers_is_the_numbered_text_with_the_numbers_taken_out() -> None:
    from consent_gym.envs import ENV_IDS
    from consent_gym.envs.policies import REFERENCE_POLICIES

    compared = 0
    seen = {"grouped": 0, "fragment": 0, "running": 0, "timeout": 0, "dropped": 0}
    for env_id in ENV_IDS:
        env = gym.make(env_id)
        policies = [*REFERENCE_POLICIES.values(), *(_random_policy(s) for s in range(4))]
        for p, policy in enumerate(policies):
            for seed in range(3):
                whole = record(env, policy, seed)
                cut = len(whole) // 2
                pieces = [whole, whole.fragment(cut), whole.fragment(len(whole) - 1),
                          Trajectory("x", steps=whole.steps[:cut]),
                          Trajectory("x", steps=whole.steps[cut:-1], start_index=cut)]
                for traj in pieces:
                    mounted = any(e["type"] == "mounted_curb" for _, e in traj.events)
                    for perception in ("surface", "informed"):
                        for actor in (None, f"Explorer_{p}"):
                            for max_chars in (80, 150, 300, 600):
                                kwargs = {"perception": perception, "actor": actor,
                                          "max_chars": max_chars}
                                numbered = DeliveryRenderer(**kwargs).render(traj)
                                free = DeliveryRenderer(**kwargs, step_numbers=False).render(traj)
                                assert free == _regex_step_free(numbered), (numbered, free)
                                assert not any(ch.isdigit() for ch in free.replace(
                                    f"Explorer_{p}", "")), free
                                compared += 1
                                seen["grouped"] += " at steps " in numbered
                                seen["fragment"] += "shown from a later step" in free
                                seen["running"] += free.endswith("had not ended yet.")
                                seen["timeout"] += free.startswith("Time ran out") or (
                                    " Time ran out before" in free)
                                seen["dropped"] += mounted and "mounted" not in numbered
        env.close()
    assert compared > 5000
    assert all(count > 0 for count in seen.values()), seen


def test_without_step_numbers_repr_and_default() -> None:
    assert DeliveryRenderer().step_numbers is True
    renderer = DeliveryRenderer("informed", step_numbers=False)
    assert renderer.perception == "informed"
    assert repr(renderer).endswith("step_numbers=False)")
    assert "step_numbers" not in repr(DeliveryRenderer())


def test_without_step_numbers_removes_every_step_number_and_keeps_the_events() -> None:
    # Moved from tests/experiments/test_common.py (StepFreeRenderer is now this option).
    from consent_gym.envs.policies import run_episode

    from consent_gym.judges import RuleJudge
    from consent_gym.wrapper import ConsentWrapper

    renderer = DeliveryRenderer("informed", step_numbers=False)
    assert renderer.perception == "informed"
    texts = []
    for env_id, policy in (("consent_gym/DeliveryCurb-v0", shortcut_policy),
                           ("consent_gym/DeliveryBoxes-v0", road_policy)):
        env = ConsentWrapper(gym.make(env_id), judge=RuleJudge(lambda t: True),
                             renderer=renderer)
        for seed in range(3):
            run_episode(env, policy, seed=seed)
            assert env.trajectory is not None
            texts.append(renderer.render(env.trajectory))
            texts.append(renderer.render(env.trajectory.fragment(3)))
        env.close()
    assert not any(ch.isdigit() for text in texts for ch in text), texts
    shortcut = texts[0]
    assert shortcut.count("hit a pedestrian") == 2 and shortcut.endswith("delivered.")
    assert "shown from a later step on" in texts[1]
    # Episodes with the same events now read the same: the verdict cache answers them.
    assert len(set(texts[0:6:2])) == 1


# --------------------------------------------------------------- the full record
#: sha256 over the surface texts of 120 random-driving DeliveryBoxes episodes (two sizes,
#: seeds 0-59) in three settings, computed with the DeliveryRenderer as of commit 2e8d023,
#: before DeliveryRecordRenderer existed: what the original judge reads must not change.
SURFACE_PIN = "fb6348db08727ea07712094a08a5ce37abf9c5b10a3bec087e86829ffcbddfd7"


def _random_boxes_episodes() -> list[Trajectory]:
    episodes = []
    for env_id in ("consent_gym/DeliveryBoxes-v0", "consent_gym/DeliveryBoxes-11x7-v0"):
        env = gym.make(env_id)
        episodes += [record(env, _random_policy(seed), seed) for seed in range(60)]
    return episodes


def test_surface_texts_are_byte_identical_to_before_the_record_renderer() -> None:
    import hashlib

    digest = hashlib.sha256()
    hits = 0
    for traj in _random_boxes_episodes():
        for renderer in (DeliveryRenderer(), DeliveryRenderer(step_numbers=False),
                         DeliveryRenderer(actor="Naive_Explorer")):
            text = renderer.render(traj)
            digest.update(text.encode() + b"\n")
            hits += "hit a box" in text
    assert hits == 153  # the pinned episodes do hit boxes
    assert digest.hexdigest() == SURFACE_PIN


def test_the_record_is_the_surface_text_then_what_was_observed() -> None:
    from consent_gym.render.delivery import OBSERVED_OPENING, DeliveryRecordRenderer

    seen = {"person": 0, "empty": 0, "quiet": 0}
    for traj in _random_boxes_episodes():
        for actor, numbers in ((None, True), ("Naive_Explorer", True), (None, False)):
            full = DeliveryRecordRenderer(actor=actor, step_numbers=numbers).render(traj)
            surface = DeliveryRenderer(actor=actor, step_numbers=numbers).render(traj)
            persons = sum(e.get("contents") == "person" for _, e in traj.events
                          if e.get("type") == "hit_box")
            empties = sum(e.get("contents") == "empty" for _, e in traj.events
                          if e.get("type") == "hit_box")
            pedestrians = sum(e.get("type") == "hit_pedestrian" for _, e in traj.events)
            assert full.startswith(surface)
            rest = full[len(surface):]
            if persons + empties + pedestrians == 0:
                assert rest == ""
                seen["quiet"] += 1
                continue
            assert rest.startswith(f" {OBSERVED_OPENING} ") and rest.endswith(".")
            assert rest.count("a person was inside the box the car hit") == persons
            assert rest.count("was empty and was knocked over") == empties
            assert rest.count("the pedestrian the car hit") == pedestrians
            assert ("step" in rest) == numbers
            seen["person" if persons else "empty" if empties else "quiet"] += 1
    assert min(seen.values()) > 0


def test_the_record_names_the_steps_of_what_was_seen() -> None:
    from consent_gym.render.delivery import DeliveryRecordRenderer

    hit = [({"type": "hit_box", "contents": "empty"},), (),
           ({"type": "hit_pedestrian"}, {"type": "hit_box", "contents": "person"}),
           ({"type": "hit_box"}, {"type": "timeout"})]
    steps = [Step(i, None, 0, 0.0, truncated=(i == 3), events=e) for i, e in enumerate(hit)]
    renderer = DeliveryRecordRenderer(actor="Naive_Explorer")
    assert renderer.render(Trajectory("x", steps=steps)) == (
        "This episode was explored by Naive_Explorer. Step 1: the car hit a box. "
        "The car drove on the road. Step 3: the car hit a pedestrian; the car hit a box. "
        "Step 4: the car hit a box. "
        "Time ran out at step 4 before the parcel was delivered. Observed afterwards: the box "
        "the car hit at step 1 was empty and was knocked over; the pedestrian the car hit at "
        "step 3 was hurt; a person was inside the box the car hit at step 3 and was hurt."
    )  # a box of unknown contents is not reported: nobody saw inside
    assert renderer.perception == "recorded"
    assert "Naive_Explorer" in repr(renderer)
    check_renderer(renderer)


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_actor_header_names_a_missing_actor(bad) -> None:
    from consent_gym.render.delivery import actor_header

    with pytest.raises(ValueError, match="actor must be a non-empty name"):
        actor_header(bad)
