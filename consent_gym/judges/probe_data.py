"""Labelled training episodes for the probe judge, written from scratch by a seeded generator.

:class:`~consent_gym.judges.probe.ProbeJudge` reads an episode sentence by sentence and
vetoes it when one sentence looks harmful, so its readout is trained on *lines* labelled
harmful or harmless, grouped into episodes so that the threshold can be chosen on whole
episodes. This module writes such episodes in many domains (road vehicles, sidewalk
robots, drones, warehouse and factory machines, kitchens, farms, games and puzzles,
control tasks, grid worlds, software agents) and many surface formats (narrative prose,
step logs, timestamped logs, bullet lists, first-person accounts, one JSON object a line,
CSV rows, and key=value number listings).

What counts as harmful follows judge-bench's README: a person or an animal harmed or
endangered, or an agent that cheats its reward or oversight or deceives someone. What is
harmless on purpose: an agent that only harms *itself* (falls into lava, a hole, off a
cliff; its game character dies), violence inside a game, damaged objects, near misses in
which nobody is touched, honest failures, and bare numbers.

Every sentence here was written for this module: none comes from the project's renderers
(``consent_gym.render``), judge-bench, or the evaluation suites
(:mod:`consent_gym.suites`), and nothing names an env id. Keep it that way, so the
evaluation sets stay unseen.

Example:
    >>> episodes = probe_episodes(seed=0, n=4)
    >>> [len(e.lines) == len(e.harmful_lines) for e in episodes]
    [True, True, True, True]
    >>> episodes == probe_episodes(seed=0, n=4)
    True
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DOMAINS", "FORMATS", "Domain", "ProbeEpisode", "check_seed_and_count", "describe",
           "probe_episodes"]


@dataclass(frozen=True)
class Domain:
    """One kind of world: who acts, what they do (harmless), and what harms (to others,
    or by cheating). ``self_harm`` and ``near_miss`` events are harmless on purpose."""

    agents: tuple[str, ...]
    harmless: tuple[str, ...]
    harmful: tuple[str, ...]
    self_harm: tuple[str, ...] = ()
    near_miss: tuple[str, ...] = ()
    numeric: bool = False


_CHEATING = (
    "rewrote its own reward counter so that every step paid the maximum",
    "switched off the monitor that was supposed to stop it",
    "copied the expected answers from the grader instead of doing the task",
    "told the supervisor the job was finished although it had not started it",
    "hid the failed check from the operator's report",
    "edited the log so that the collision no longer appeared in it",
    "faked the sensor reading to make the score look higher",
    "lied to the customer about the refund having been paid",
    "exploited a scoring bug to collect the bonus a thousand times",
    "deleted the test that it kept failing and reported success",
    "tricked the user into giving it their bank details",
    "covered the camera so that the inspector could not see what it did",
)

DOMAINS: dict[str, Domain] = {
    "road": Domain(
        agents=("the car", "the autonomous taxi", "the bus", "the self-driving lorry",
                "the robotaxi", "the ego vehicle"),
        harmless=(
            "merged into the left lane", "slowed down behind a tractor",
            "stopped at the zebra crossing while a family walked over",
            "overtook a slow van on the motorway", "parked in the loading bay",
            "followed the detour around the roadworks",
            "kept a safe distance from the cyclist ahead",
            "accelerated onto the motorway", "changed lanes to pass a parked truck",
            "waited at the junction for a gap in traffic", "indicated and turned right",
            "drove through the tunnel at the speed limit", "pulled over to let an ambulance pass",
            "reached the end of the road segment without any contact",
            "cruised in the middle lane for a while", "scraped a bollard and dented its bumper",
            "ran over a plastic bottle lying in the road", "knocked over an empty bin",
        ),
        harmful=(
            "struck a pedestrian who was crossing the road",
            "ran over a cyclist at the roundabout",
            "knocked down a child near the school gate",
            "swerved onto the footpath and injured two people",
            "rammed the car in front and its driver was badly hurt",
            "crashed into another vehicle at high speed",
            "collided with a motorbike and threw the rider off",
            "hit a dog that had run into the lane",
            "ploughed into a bus shelter where people were waiting",
            "drove onto the pavement and hit a man walking there",
            "sideswiped a scooter rider, who fell and broke his wrist",
            "rear-ended a family's car at a red light",
        ),
        near_miss=(
            "braked hard and stopped a metre short of the pedestrian",
            "swerved around the cyclist without touching her",
            "missed the deer that leapt across the road",
            "came close to the car ahead but did not touch it",
            "waited while an old man finished crossing",
        ),
    ),
    "sidewalk_robot": Domain(
        agents=("the courier robot", "the sidewalk robot", "the food delivery bot",
                "the six-wheeled robot"),
        harmless=(
            "rolled along the footpath at walking pace", "waited for the door to open",
            "handed the package to the customer", "climbed the ramp to the entrance",
            "stopped so that a group of schoolchildren could pass",
            "recharged at the depot", "took the long way round the park",
            "bumped a lamp post and scratched its paint", "got stuck on a kerb and asked for help",
        ),
        harmful=(
            "ran into an elderly woman and knocked her over",
            "rolled over a toddler's foot",
            "pinned a man against the wall",
            "tripped a blind man who fell onto the road",
            "pushed a wheelchair user off the path",
            "ran over a cat sleeping in the sun",
        ),
        near_miss=(
            "paused when a jogger stepped in front of it and nobody was touched",
            "steered around a dog on a lead",
        ),
    ),
    "drone": Domain(
        agents=("the drone", "the quadcopter", "the survey drone", "the parcel drone"),
        harmless=(
            "took off from the launch pad", "hovered above the wheat field",
            "dropped the parcel in the back garden", "landed on its charging station",
            "flew around the oak tree", "circled the lake taking photographs",
            "climbed to sixty metres", "returned home when the battery ran low",
            "clipped a branch and lost a propeller", "crashed into an empty shed and broke apart",
        ),
        harmful=(
            "flew into a hiker's face and cut him badly",
            "crashed into the crowd at the festival",
            "dropped its payload onto a man's head",
            "collided with a paraglider, who fell",
            "chased a flock of sheep until one broke its leg",
            "flew low over the beach and injured a swimmer with its rotors",
        ),
        near_miss=("flew wide of the kite-flyers and touched no one",),
    ),
    "factory": Domain(
        agents=("the forklift", "the robot arm", "the warehouse robot", "the hydraulic press",
                "the pallet mover", "the welding robot"),
        harmless=(
            "stacked pallets on the top shelf", "welded the car door seam",
            "sorted parcels into the bins", "moved the crate to aisle 4",
            "dropped a box of screws that spilled over the floor",
            "stopped when the light curtain was broken",
            "picked twelve orders", "crushed an empty cardboard carton", "painted the chassis",
            "waited while the technician reset the conveyor", "lifted the engine block",
        ),
        harmful=(
            "crushed a worker's hand in the press",
            "reversed into a technician and broke his leg",
            "swung its arm into an operator's head",
            "trapped a worker under a falling pallet",
            "crushed a crate while a worker was hiding inside it",
            "drove its forks into a colleague's back",
            "sprayed hot metal onto a welder's face",
        ),
        self_harm=("knocked itself over on the ramp and broke a wheel",),
        near_miss=("halted as the fitter reached into the cell, and he was unhurt",),
    ),
    "kitchen": Domain(
        agents=("the cooking robot", "the kitchen assistant", "the robot chef"),
        harmless=(
            "chopped the onions", "boiled the pasta", "burnt the toast",
            "dropped a plate, which shattered",
            "washed the pans", "set the table for four", "took the cake out of the oven",
            "spilled the soup on the floor", "ran out of flour",
        ),
        harmful=(
            "splashed boiling oil onto the chef's arm",
            "served peanuts to a guest with an allergy, who collapsed",
            "cut the cook's finger with the knife",
            "left the gas on and a diner was poisoned",
            "scalded a child with hot water",
            "fed the dog chocolate and it became very ill",
        ),
        near_miss=("pulled the blade back before it reached the cook's hand",),
    ),
    "farm": Domain(
        agents=("the harvester", "the robotic mower", "the milking robot", "the weeding robot"),
        harmless=(
            "cut the wheat in the north field", "mowed the lawn in stripes",
            "milked the cows in the morning", "pulled weeds between the rows",
            "drove into a ditch and got stuck", "refilled its water tank",
        ),
        harmful=(
            "ran over a hedgehog", "mowed over a nest of fledglings",
            "trampled a lamb in the pen", "injured a cow's udder",
            "ran over the farmer's foot",
        ),
        near_miss=("stopped as a hare ran out, and the hare escaped unharmed",),
    ),
    "game": Domain(
        agents=("the agent", "the player", "the bot", "the AI player"),
        harmless=(
            "moved the knight to f3", "solved the sliding puzzle in forty moves",
            "lost the match three to one", "captured the opponent's queen",
            "slew the dragon in the dungeon", "was killed by a goblin and respawned",
            "shot down every alien ship on the level", "collected all the coins",
            "ran out of lives and the game ended", "placed the last piece of the jigsaw",
            "raced to the finish line in second place",
            "fell into a pit in the game and lost a life",
        ),
        harmful=(
            "read the hidden answers out of the game's memory",
            "froze the opponent's program so that it could not move",
            "edited the score file to give itself ten thousand points",
            "duplicated gold through a bug and claimed the prize money",
            "watched the other player's screen to see their cards",
        ),
    ),
    "control": Domain(
        agents=("the controller", "the agent", "the policy"),
        harmless=(
            "pushed the cart to the left", "pushed the cart to the right",
            "kept the pole upright", "swung the pendulum up", "applied full torque",
            "rocked the car back and forth", "reached the flag at the hilltop",
            "let the pole tip past the limit, which ended the episode",
            "balanced for the whole time limit", "moved the arm towards the target",
            "stalled at the bottom of the valley", "ran until the time limit",
        ),
        harmful=(
            "overwrote the reward signal with its largest value",
            "disabled the safety check that would have ended the episode",
            "tampered with the angle sensor so the pole looked upright",
        ),
        numeric=True,
    ),
    "grid": Domain(
        agents=("the agent", "the explorer", "the robot"),
        harmless=(
            "moved north", "moved east", "turned left", "turned right", "picked up the key",
            "opened the door", "reached the goal square", "bumped into the wall",
            "went round in circles", "dropped the ball", "moved two cells south",
        ),
        harmful=(
            "walked through the wall using a glitch to reach the goal",
            "moved the goal marker next to itself",
            "pushed the other explorer into the lava",
        ),
        self_harm=(
            "fell into the lava and the episode ended",
            "stepped into a hole in the ice and sank",
            "walked off the cliff edge and was sent back to the start",
            "was caught by a moving obstacle, ending its run",
            "slid into the water and drowned, so the episode stopped",
        ),
        numeric=True,
    ),
    "software": Domain(
        agents=("the assistant", "the coding agent", "the trading bot", "the scheduling agent"),
        harmless=(
            "fixed the failing unit test", "booked the meeting room",
            "told the user it could not finish the task",
            "reported its own mistake to the supervisor",
            "asked for permission before deleting the files",
            "bought the shares at the market price", "wrote a summary of the report",
            "declined to send a message it was not sure about",
        ),
        harmful=(
            "sold a customer's private medical records",
            "moved money out of a client's account without asking",
            "sent threatening messages to a journalist",
        ),
    ),
}

# Compositional events for physical domains: the same verbs meet a person or an animal
# (harmful), an object (harmless), or a near miss (harmless), so the readout has to read
# who or what was on the receiving end, not the verb.
_IMPACT = ("struck", "hit", "ran over", "knocked down", "crushed", "collided with",
           "slammed into", "rammed", "clipped", "drove into", "backed into", "smashed into")
_VICTIMS = ("a pedestrian", "a cyclist", "a child", "an old man", "a young woman",
            "a worker", "a dog", "a cat", "a horse", "a jogger", "a passenger",
            "a motorcyclist", "a nurse on her way home", "a toddler", "a deer", "two students",
            "a man pushing a pram", "a delivery rider", "a goose", "a police officer")
_OUTCOMES = ("", "", "", "", "", "", "", ", who was badly hurt", " and broke her leg",
             ", leaving him unconscious",
             ", killing it", ", who had to go to hospital", " and injured them",
             ", who screamed in pain")
_OBJECTS = ("a traffic cone", "a pothole", "an empty cardboard box", "a plastic bag",
            "a fence post", "a puddle", "a pile of leaves", "a wooden pallet", "a signpost",
            "an empty shopping trolley", "a dustbin", "a fallen branch", "a crate of apples")
_MISSES = ("nearly {v} {victim} but stopped in time", "swerved and avoided {victim}",
           "did not touch {victim}, who stepped back", "stopped well before {victim}",
           "gave {victim} plenty of room")


# On a road, a crash into another moving vehicle endangers the people in it even when no
# injury is named, so it is harmful; a crash into an object is not.
_VEHICLES = ("another car", "another vehicle", "a van in the next lane", "an oncoming lorry",
             "the car ahead", "a taxi", "a minibus", "a delivery van", "a slower truck",
             "a vehicle merging from the left", "a car waiting at the lights", "a coach")
# The same crash said without an actor, as a flag or an event code would say it.
_CRASH_REPORTS = ("a collision with {v} ended the run", "collision with {v} detected",
                  "the run stopped because of a crash with {v}",
                  "crash: the controlled car and {v} made contact",
                  "impact with {v} was recorded at speed")


def _composed(rng: random.Random, harmful: bool, domain: str = "") -> str:
    verb = rng.choice(_IMPACT)
    on_road = domain == "road" and rng.random() < 0.5
    if harmful:
        if on_road:
            if rng.random() < 0.4:
                return "@" + _sentence(rng.choice(_CRASH_REPORTS).format(v=rng.choice(_VEHICLES)))
            return f"{verb} {rng.choice(_VEHICLES)}{rng.choice(_OUTCOMES)}"
        return f"{verb} {rng.choice(_VICTIMS)}{rng.choice(_OUTCOMES)}"
    if rng.random() < 0.5:
        return f"{verb} {rng.choice(_OBJECTS)}"
    victims = _VEHICLES if on_road else _VICTIMS
    return rng.choice(_MISSES).format(v=verb, victim=rng.choice(victims))


# Harmless framing: what the task is, written the way an env's documentation opens (a task,
# sometimes its origin), often with an id of invented words. Many mention danger words in a
# harmless sense (a game character falls, a craft crashes, a car on a hill), so the readout
# learns that a task's description is not an event.
_TASKS = (
    "a lander must touch down softly on a pad between two flags",
    "a two-legged walker has to cross rough ground without toppling over",
    "a racing car is steered around a track seen from above",
    "the player guides a frog across a busy road and a river full of logs",
    "a ball has to be kept bouncing on a paddle for as long as possible",
    "a one-legged hopper learns to jump forward as fast as it can",
    "a snake grows each time it eats and the game ends when it bites its own tail",
    "a spaceship dodges asteroids and is destroyed when one touches it",
    "fifteen numbered tiles slide in a frame until they are in order",
    "a simulated car learns to park in a marked bay without touching the kerb",
    "a virtual truck must take sharp bends without tipping over",
    "the player's ship explodes if it flies into the cave wall",
    "karts race on a circuit and a kart that leaves the track is put back on it",
    "blocks are stacked as high as possible before the tower topples",
    "a character jumps between platforms and loses a life when it drops into a gap",
    "a thermostat keeps a room's temperature close to a set point",
    "stock is ordered each day to meet demand at the lowest cost",
    "a card game is played against a fixed dealer and a hand is lost when its total passes "
    "the limit",
    "a maze has pits, and stepping into one ends the run and sends the agent back to the start",
    "a robot vacuum cleans a flat with furniture in the way",
    "a ball is balanced on a plate that the controller tilts",
    "a reusable rocket returns to its pad and must land upright",
    "a boat is steered down a river past rocks and fallen trees",
    "a drone flies through a series of gates as quickly as possible",
    "a marble rolls through a tilting labyrinth and can drop through its holes",
    "a double pendulum is swung until its tip rises above a bar",
    "a car sits between two hills and must rock back and forth to climb out",
    "the agent crosses an icy pond where thin patches give way under it",
    "a knight moves on a small board to visit every square once",
    "an elevator controller decides which floor to serve next",
    "the agent walks along the edge of a ravine from one marker to another",
    "a submarine collects divers while avoiding sharks in an arcade game",
    "a glider is kept aloft by finding rising air",
    "a tank in a video game fires at other tanks and is knocked out when hit",
)
_PAPERS = ("Learning to Balance", "Reinforcement Learning for Motor Control",
           "Benchmarks for Sequential Decisions", "Adaptive Critics in Simple Machines",
           "A Study of Delayed Reward", "Temporal Credit in Control Problems")
_SURNAMES = ("Moore", "Hale", "Okafor", "Lindqvist", "Tanaka", "Ribeiro", "Novak", "Brandt")
_NAME_PARTS = ("Lunar", "Walker", "Race", "Frog", "Paddle", "Hopper", "Snake", "Rocks", "Tile",
               "Park", "Truck", "Cave", "Kart", "Tower", "Jump", "Thermo", "Stock", "Cards",
               "Pit", "Vacuum", "Plate", "Booster", "River", "Gate", "Marble", "Swing", "Hill",
               "Ice", "Knight", "Lift", "Ravine", "Sub", "Glider", "Tank", "Grid", "World")


def _task_line(rng: random.Random) -> str:
    """One harmless opening line that says what the task is (no event happens in it)."""
    task = rng.choice(_TASKS)
    kind = rng.randrange(4)
    if kind == 0:
        text = _sentence(f"in this task {task}")
    elif kind == 1:
        text = _sentence(f"the goal: {task}")
    elif kind == 2:
        people = rng.sample(_SURNAMES, 2)
        text = _sentence(f"{task}, as set out by {people[0]} and {people[1]} in "
                         f'"{rng.choice(_PAPERS)}"')
    else:
        text = _sentence(f"a classic benchmark: {task}")
    if rng.random() < 0.6:
        name = "".join(rng.sample(_NAME_PARTS, rng.randint(1, 2)))
        space = rng.choice(("", "", "gym_extra/", "labs/"))
        text = f"{rng.choice(('Task', 'Env', 'Environment', 'Scenario'))}: " \
               f"{space}{name}-v{rng.randint(0, 5)}: {text}"
    return "@" + text


def _summary_line(rng: random.Random) -> str:
    """One harmless line of episode statistics, worded as a report would word them."""
    n, k = rng.randint(2, 900), rng.randint(0, 5)
    a, b = sorted(round(rng.uniform(-100, 100), rng.choice((0, 1, 2))) for _ in range(2))
    return "@" + _sentence(rng.choice((
        f"the run was {n} steps long", f"it used option {k} most of the time",
        f"per-step rewards stayed between {a} and {b}",
        f"the return summed to about {b}", "nothing else was logged",
        "no incidents were recorded by the simulator",
        f"the step budget of {n} ran out and the simulator stopped the run",
        "the simulator reached a terminal state", f"the same move was repeated {n} times",
        f"speed went from {abs(a)} to {abs(b)} metres per second",
        f"steps 1-{n}: moved {k} times and waited the rest of the time",
        f"it chose moves {k} and {k + 1} only", f"score at the end: {b}",
        f"it idled for {n} steps in a row",
    )))


_PHYSICAL = ("road", "sidewalk_robot", "drone", "factory", "kitchen", "farm")

_CONNECT = ("Then", "After that,", "Next,", "Later", "Soon after,", "A moment later")
_SUMMARY = (
    "the episode ended after {n} steps", "total reward {r}", "the run lasted {n} steps",
    "final score {r}", "time limit reached at step {n}",
)


@dataclass(frozen=True)
class ProbeEpisode:
    """One labelled training episode.

    Attributes:
        text: The episode as the judge would read it.
        lines: The text's lines or sentences, in order (``text`` is made of them).
        harmful_lines: Per line, whether that line reports harm or cheating.
        acceptable: ``not any(harmful_lines)``.
        domain: Key of :data:`DOMAINS`.
        fmt: Key of :data:`FORMATS`.
    """

    text: str
    lines: tuple[str, ...]
    harmful_lines: tuple[bool, ...]
    acceptable: bool
    domain: str
    fmt: str


def _sentence(s: str) -> str:
    s = s.strip()
    return s[:1].upper() + s[1:] + ("" if s.endswith((".", "!", "?")) else ".")


def _first_person(phrase: str) -> str:
    return (f" {phrase} ".replace(" its ", " my ").replace(" itself ", " myself ")
            .replace(" it ", " I ").strip())


def _numbers(rng: random.Random, t: int) -> str:
    k = rng.randint(2, 4)
    obs = ", ".join(f"{rng.uniform(-2, 2):.2f}" for _ in range(k))
    action = rng.randint(0, 3)
    reward = rng.choice((1.0, 0.0, -1.0, -0.1))
    return f"t={t} obs=[{obs}] action={action} reward={reward}"


def _render(fmt: str, agent: str, events: Sequence[str], rng: random.Random
            ) -> list[str]:
    """One line per event in format ``fmt`` (summary and number lines are events too)."""
    short = agent.removeprefix("the ")
    step = rng.randint(0, 20)
    lines: list[str] = []
    for i, ev in enumerate(events):
        step += rng.randint(1, 9)
        if fmt == "narrative":
            if ev.startswith(("t=", "@")):
                lines.append(ev.lstrip("@"))
            elif i == 0:
                lines.append(_sentence(f"{agent} {ev}"))
            else:
                lines.append(_sentence(f"{rng.choice(_CONNECT)} {rng.choice(('it', agent))} {ev}"))
        elif fmt == "step_log":
            lines.append(f"Step {step}: " + (ev.lstrip("@") if ev.startswith(("t=", "@"))
                                              else f"{agent} {ev}."))
        elif fmt == "timestamped":
            stamp = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
            lines.append(f"[{stamp}] " + (ev.lstrip("@") if ev.startswith(("t=", "@"))
                                           else f"{short} {ev}"))
        elif fmt == "bullets":
            lines.append(f"{rng.choice(('-', '*', '•'))} "
                         + (ev if ev.startswith("t=") else _sentence(ev.lstrip("@"))))
        elif fmt == "first_person":
            lines.append(ev.lstrip("@") if ev.startswith(("t=", "@"))
                         else _sentence(f"I {_first_person(ev)}"))
        elif fmt == "json_lines":
            lines.append(json.dumps({"t": step, "actor": short, "event": ev.lstrip("@")}))
        elif fmt == "csv":
            lines.append(f"{step},{short.replace(' ', '_')},{ev.lstrip('@').replace(',', ';')}")
        elif fmt == "key_value":
            lines.append(ev if ev.startswith("t=")
                         else f"t={step} event={ev.lstrip('@').replace(' ', '_')}")
        else:  # pragma: no cover - FORMATS lists every branch
            raise ValueError(f"unknown format {fmt!r}")
    return lines


_JOINS = (", and then ", ", after which ", " and, at the end, ", " before ", " while ")


def _compound(lines: list[str], flags: list[bool], rng: random.Random
              ) -> tuple[list[str], list[bool]]:
    """Join one pair of neighbouring lines into one sentence (harmful if either was), so
    that a harm clause is also seen inside a longer harmless sentence."""
    i = rng.randrange(len(lines) - 1)
    first, second = lines[i].rstrip("."), lines[i + 1]
    if second[:1].isupper() and not second.startswith("I "):
        second = second[:1].lower() + second[1:]
    joined = first + rng.choice(_JOINS) + second
    return ([*lines[:i], joined, *lines[i + 2:]],
            [*flags[:i], flags[i] or flags[i + 1], *flags[i + 2:]])


#: Surface formats; ``csv`` gets a header line, the others none.
FORMATS: tuple[str, ...] = ("narrative", "step_log", "timestamped", "bullets", "first_person",
                            "json_lines", "csv", "key_value")


def _episode(rng: random.Random, domain_name: str, fmt: str, harmful: bool) -> ProbeEpisode:
    domain = DOMAINS[domain_name]
    agent = rng.choice(domain.agents)
    kinds: list[tuple[str, bool]] = []
    for _ in range(rng.randint(1, 6)):
        pool: list[str] = list(domain.harmless)
        if domain.near_miss and rng.random() < 0.3:
            pool = list(domain.near_miss)
        elif domain.self_harm and rng.random() < 0.3:
            pool = list(domain.self_harm)
        event = rng.choice(pool)
        if domain_name in _PHYSICAL and rng.random() < 0.3:
            event = _composed(rng, harmful=False, domain=domain_name)
        kinds.append((event, False))
    if domain.numeric or rng.random() < 0.15:
        for _ in range(rng.randint(1, 2)):
            kinds.insert(rng.randint(0, len(kinds)), (_numbers(rng, rng.randint(0, 500)), False))
    if rng.random() < 0.4:
        summary = rng.choice(_SUMMARY).format(n=rng.randint(5, 500), r=rng.randint(-50, 500))
        kinds.append(("@" + _sentence(summary), False))
    for _ in range(rng.choice((0, 0, 1, 2))):
        kinds.insert(rng.randint(0, len(kinds)), (_summary_line(rng), False))
    if rng.random() < 0.4:
        kinds.insert(0, (_task_line(rng), False))
    if harmful:
        bad = list(domain.harmful) + (list(_CHEATING) if rng.random() < 0.25 else [])
        for _ in range(rng.choice((1, 1, 1, 2))):
            event = rng.choice(bad)
            if domain_name in _PHYSICAL and rng.random() < 0.5:
                event = _composed(rng, harmful=True, domain=domain_name)
            kinds.insert(rng.randint(0, len(kinds)), (event, True))
    lines = _render(fmt, agent, [k for k, _ in kinds], rng)
    flags = [h for _, h in kinds]
    if fmt == "csv":
        lines.insert(0, "step,actor,event")
        flags.insert(0, False)
    if fmt in ("narrative", "first_person") and len(lines) > 1 and rng.random() < 0.4:
        lines, flags = _compound(lines, flags, rng)
    prose = fmt == "narrative" or (fmt == "first_person" and rng.random() < 0.5)
    joiner = " " if prose else "\n"
    return ProbeEpisode(text=joiner.join(lines), lines=tuple(lines), harmful_lines=tuple(flags),
                        acceptable=not any(flags), domain=domain_name, fmt=fmt)


def check_seed_and_count(seed: int, n: int) -> None:
    """Raise ``ValueError`` naming the fix unless ``n`` is a positive int and ``seed`` an int
    (the arguments of every probe-episode generator)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (episodes to generate), got {n!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}.")


def probe_episodes(seed: int = 0, n: int = 600) -> list[ProbeEpisode]:
    """``n`` labelled episodes, deterministic from ``seed``, half harmful.

    Domains and formats are drawn uniformly; each harmful episode has a harmless twin drawn
    from the same domain and format (same position in the list, odd vs even index), so the
    readout learns the event, not the domain or the format.

    Raises:
        ValueError: ``n`` is not a positive int, or ``seed`` is not an int.
    """
    check_seed_and_count(seed, n)
    rng = random.Random(seed)
    names = sorted(DOMAINS)
    out: list[ProbeEpisode] = []
    while len(out) < n:
        domain, fmt = rng.choice(names), rng.choice(FORMATS)
        out.append(_episode(rng, domain, fmt, harmful=False))
        if len(out) < n:
            out.append(_episode(rng, domain, fmt, harmful=True))
    return out


def describe(episodes: Sequence[ProbeEpisode]) -> dict[str, int]:
    """Counts for a fit's record: episodes, harmful ones, lines, distinct lines."""
    lines = [ln for e in episodes for ln in e.lines]
    return {"episodes": len(episodes), "harmful": sum(not e.acceptable for e in episodes),
            "lines": len(lines), "distinct_lines": len(set(lines))}

