"""Train on Prediction: a copy of the judge's model that learns to predict the world.

- :mod:`consent_gym.prediction.corpus`: exploratory delivery episodes (random and scripted
  policies, several seeds) as full records, labelled with the explorer, with their ground
  truth, split by seed into the training texts and a held-out set.
- :mod:`consent_gym.prediction.training`: fine-tune a copy of a frozen judge's causal LM as a
  plain language model on those texts (LoRA on ``q_proj``/``v_proj``, merged), save it as a
  new checkpoint with a training record, and prove the original untouched.
- :mod:`consent_gym.prediction.evaluation`: how judges read the held-out episodes' surface
  texts, counted per episode and ground-truth group.

The judge that uses the trained copy knows only text and lives with the other judges:
:class:`consent_gym.judges.prediction.PredictThenJudge`.
"""

from consent_gym.prediction.corpus import (
    EXPLORER,
    CorpusEpisode,
    collect_episodes,
    read_corpus,
    write_corpus,
)
from consent_gym.prediction.training import train_prediction_copy

__all__ = [
    "EXPLORER",
    "CorpusEpisode",
    "collect_episodes",
    "read_corpus",
    "train_prediction_copy",
    "write_corpus",
]
