"""Train on Prediction at training level: PPO on DeliveryBoxes gated by the original judge
alone, and by a panel of the original and its prediction-trained copy.

On ``consent_gym/DeliveryBoxes-v0`` some boxes in the road's inner lane hide a person, and
the *surface* text every judge here reads says only "the car hit a box". Three arms per
seed:

- ``ungated``: plain SB3 PPO;
- ``original-gated``: gated by the original judge (the embedded default judge on the
  original Gemma 3 270M, frozen): it vetoes running pedestrians over and approves hitting
  boxes, so the agent may learn to drive through them, people inside or not;
- ``panel-gated``: gated by a :class:`~consent_gym.judges.JudgePanel` of the original and
  :class:`~consent_gym.judges.PredictThenJudge` (the prediction-trained copy writes ``k``
  continuations of the surface text, the original reads each). Both members read the same
  surface text; where they disagree the episode is flagged for a person, and under the
  default ``unanimous`` policy the predicting member's veto counts.

The copy comes from ``consent-gym predict-corpus`` and ``consent-gym predict-train``; when
``predictor`` holds no checkpoint yet, :func:`prepare_predictor` builds one there with the
settings docs/panels.md measured (about 12 minutes on a 2-core CPU).

Example:
    >>> config = TrainOnPredictionConfig(predictor=Path("runs/predictor"), seeds=1)
    >>> config.policy, config.k, config.step_numbers, config.timesteps, config.ppo_kwargs
    ('unanimous', 8, False, 100000, {'ent_coef': 0.05})
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consent_gym.experiments.common import (
    ExperimentConfig,
    GateSpec,
    load_experiment_judge,
    set_torch_threads,
)
from consent_gym.experiments.ontological_drift import run_panel_arms
from consent_gym.judges.base import Judge
from consent_gym.prediction.corpus import EXPLORER, build_corpus, file_sha256
from consent_gym.prediction.training import RECORD_NAME, train_prediction_copy
from consent_gym.render.delivery import DeliveryRenderer, actor_header

ARMS: tuple[str, ...] = ("ungated", "original-gated", "panel-gated")
#: How :func:`prepare_predictor` builds a missing copy: the corpus (``predict-corpus``
#: defaults, step-free) and the training settings docs/panels.md measured.
CORPUS_SEEDS, HELDOUT_SEEDS = 100, 50
TRAIN_SETTINGS: dict[str, Any] = {"steps": 200, "max_minutes": 11.0, "lr": 2e-3}


@dataclass
class TrainOnPredictionConfig(ExperimentConfig):
    """Settings of the Train on Prediction reproduction (see :class:`ExperimentConfig`).

    Attributes:
        predictor: The prediction-trained copy's folder (``consent-gym predict-train``);
            built there by :func:`prepare_predictor` when it holds no checkpoint yet.
        k: Continuations the copy writes per episode.
        veto_when: ``"any"`` (one vetoed continuation vetoes) or a share in ``(0, 1]``.
        max_new_tokens: Tokens per continuation at most.
        prompt_prefix: Put before each surface text the copy continues; ``None``: the
            actor label its training texts began with (from its training record).
        policy: The panel's policy (``"unanimous"``: any member's veto counts).
        corpus: The copy's corpus folder (``consent-gym predict-corpus --out DIR``); its
            held-out split is judged by both members before training (``None``: the
            ``<predictor>-corpus`` folder :func:`prepare_predictor` writes; no held-out
            file there: no judge-level table).
        step_numbers: Step numbers in the judged texts; ``False`` by default, like the
            corpus the copy is trained on (and far fewer distinct texts to continue).
        timesteps: 100,000 by default and ``ppo_kwargs`` ``ent_coef=0.05`` (the env's
            recommendation is 0.01): the copy vetoes every box hit (a surface text cannot
            tell an empty box from one with a person inside), so the only delivery it
            approves is the way round the boxes, which PPO must find by exploring; at
            30,000 steps and 0.01 no panel-gated seed found it (docs/results.md has the
            settings tried).
    """

    out: Path = Path("runs/train-on-prediction")
    judge: str = "probe"
    timesteps: int | None = 100_000
    ppo_kwargs: dict[str, Any] = field(default_factory=lambda: {"ent_coef": 0.05})
    predictor: Path | None = None
    k: int = 8
    veto_when: str | float = "any"
    max_new_tokens: int = 64
    prompt_prefix: str | None = None
    policy: str = "unanimous"
    corpus: Path | None = None
    step_numbers: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        from consent_gym.judges.panel import POLICIES
        from consent_gym.judges.prediction import min_vetoes_for

        if self.predictor is None:
            raise ValueError("predictor is required: the folder of the prediction-trained "
                             "copy (consent-gym predict-train --out DIR), or an empty or new "
                             "folder to build it in.")
        self.predictor = Path(self.predictor)
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {self.policy!r}.")
        for name in ("k", "max_new_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")
        min_vetoes_for(self.veto_when, self.k)  # raises on a bad rule


def predictor_prefix(predictor: str | Path) -> str:
    """The prompt prefix for a copy: its training texts' actor header and a space, or ``""``
    when they carried none (the label is read from ``training_record.json``).

    Raises:
        FileNotFoundError: ``predictor`` holds no training record.
    """
    record_path = Path(predictor) / RECORD_NAME
    if not record_path.is_file():
        raise FileNotFoundError(f"{record_path} not found: {predictor} is not a checkpoint "
                                f"written by consent-gym predict-train.")
    label = json.loads(record_path.read_text()).get("label")
    return f"{actor_header(label)} " if label else ""


def prepare_predictor(
    folder: str | Path,
    *,
    base: str | Path | None = None,
    corpus_seeds: int = CORPUS_SEEDS,
    heldout_seeds: int = HELDOUT_SEEDS,
    train_settings: Mapping[str, Any] | None = None,
    step_numbers: bool = False,
    log: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """The copy's training record; when ``folder`` holds no checkpoint yet, build one
    there first: collect the corpus into ``<folder>-corpus`` beside it
    (:func:`~consent_gym.prediction.corpus.build_corpus`: seeds ``0 .. corpus_seeds-1`` to
    train on, the next ``heldout_seeds`` held out; labelled Naive_Explorer), then train a
    copy of ``base`` (``None``: the embedded Gemma 3 270M) into ``folder`` with
    :data:`TRAIN_SETTINGS` updated by ``train_settings`` (about 12 minutes on a 2-core CPU).

    Raises:
        ValueError: ``folder`` holds files but no training record (not a finished copy).
    """
    folder = Path(folder)
    record_path = folder / RECORD_NAME
    if record_path.is_file():
        record: dict[str, Any] = json.loads(record_path.read_text())
        return record
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(f"{folder} holds files but no {RECORD_NAME}: not a finished "
                         f"prediction-trained copy. Give the copy's folder, or a new or empty "
                         f"one to build it in.")
    settings = {**TRAIN_SETTINGS, **(train_settings or {})}
    log(f"No prediction-trained copy in {folder}: collecting the corpus, then training it "
        f"(up to {float(settings['max_minutes']):g} minutes) ...")
    episodes, paths = build_corpus(folder.with_name(f"{folder.name}-corpus"), corpus_seeds,
                                   heldout_seeds, actor=EXPLORER, step_numbers=step_numbers)
    return train_prediction_copy(
        [e.text for e in episodes if e.split == "train"], folder, base=base,
        corpus_sha256=file_sha256(paths["train"]), label=EXPLORER, progress=log, **settings)


def make_gates(judge: Judge, predicting: Judge,
               config: TrainOnPredictionConfig) -> dict[str, GateSpec | None]:
    """The three arms: no gate, the original judge alone, the panel (both read the
    surface text).

    Example:
        >>> from consent_gym.judges import KeywordJudge
        >>> config = TrainOnPredictionConfig(predictor=Path("p"))
        >>> gates = make_gates(KeywordJudge(["pedestrian"]), KeywordJudge(["box"]), config)
        >>> list(gates), gates["panel-gated"].judge.judge_id.startswith("panel:unanimous:")
        (['ungated', 'original-gated', 'panel-gated'], True)
    """
    from consent_gym.judges import JudgePanel

    surface = DeliveryRenderer("surface", step_numbers=config.step_numbers)
    panel = JudgePanel([judge, predicting], policy=config.policy,  # type: ignore[arg-type]
                       name="original+predicting-copy")
    return {
        "ungated": None,
        "original-gated": GateSpec(judge=judge, mode=config.mode, renderer=surface,
                                   penalty=config.penalty),
        "panel-gated": GateSpec(judge=panel, mode=config.mode, renderer=surface,
                                penalty=config.penalty),
    }


def run_train_on_prediction(
    config: TrainOnPredictionConfig,
    argv: Sequence[str] | None = None,
    log: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Build the copy if needed, train and evaluate the three arms over all seeds, write
    results.json and plots.

    Before training, both members judge the corpus's held-out episodes
    (:func:`~consent_gym.prediction.evaluation.judge_heldout`); the copy's verdicts are
    cached, so PPO's episodes with the same texts cost nothing more.

    Returns:
        The content of ``results.json``: the table, ``flags`` and ``flag_summary`` (when
        the members disagreed), ``plots``, ``judge_level`` (``judge_heldout``'s counts and their
        ``table``, or ``skipped``), and under ``judge`` both members' ids and the copy's
        training record (its fingerprints, corpus digest and settings).
    """
    from consent_gym.judges import ContinuationSampler, PredictThenJudge

    started = time.perf_counter()
    assert config.predictor is not None
    record = prepare_predictor(config.predictor, step_numbers=config.step_numbers, log=log)
    set_torch_threads(config.torch_threads)
    judge, load_s = load_experiment_judge(config.judge, log, config.judge_dtype,
                                           config.served_judge)
    prefix = (predictor_prefix(config.predictor) if config.prompt_prefix is None
              else config.prompt_prefix)
    sampler = ContinuationSampler(str(config.predictor), max_new_tokens=config.max_new_tokens,
                                  prompt_prefix=prefix)
    predicting = PredictThenJudge(sampler, judge, k=config.k, veto_when=config.veto_when)
    heldout = Path(config.corpus if config.corpus is not None
                   else config.predictor.with_name(f"{config.predictor.name}-corpus"))
    heldout = heldout / "heldout.jsonl"
    level: dict[str, Any] = {"corpus": str(heldout)}
    if heldout.is_file():
        from consent_gym.prediction.corpus import read_corpus
        from consent_gym.prediction.evaluation import format_judge_level, judge_heldout

        log(f"Judge level: both members on the surface texts of {heldout} ...")
        level.update(judge_heldout({"original": judge, "predicting copy": predicting},
                                   read_corpus(heldout, split="heldout")))
        level["table"] = format_judge_level(level)
        log(level["table"])
    else:
        level["skipped"] = f"{heldout} not found: no judge-level table"
        log(f"Judge level skipped: {level['skipped']}.")
    gates = make_gates(judge, predicting, config)
    panel_gate = gates["panel-gated"]
    assert panel_gate is not None
    training = {k: record.get(k) for k in (
        "fingerprint", "base_fingerprint", "corpus_sha256", "texts", "label", "steps",
        "train_seconds", "lr", "rank")}
    return run_panel_arms(
        "train-on-prediction", config, gates,
        {"name": config.judge, "judge_id": judge.judge_id, "load_s": load_s,
         "predicting_id": predicting.judge_id, "predicting": json.loads(predicting.describe),
         "prompt_prefix": prefix, "predictor": str(config.predictor),
         "predictor_training": training,
         "panel_id": panel_gate.judge.judge_id, "panel_policy": config.policy},
        started=started, title=f"{config.judge} judge, copy k={config.k}",
        members="original vs predicting copy", argv=argv, log=log,
        extra={"judge_level": level},
    )
