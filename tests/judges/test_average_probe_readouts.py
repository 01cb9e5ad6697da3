"""scripts/average_probe_readouts.py: the mean of readouts fitted on different seeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from consent_gym.judges.probe import ProbeReadout

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from average_probe_readouts import main


def _member(seed: int, threshold: float, layer: int = 1) -> ProbeReadout:
    rng = np.random.default_rng(seed)
    return ProbeReadout("minilm", layer, "mean", rng.normal(size=4), rng.uniform(0.5, 2, 4),
                        rng.normal(size=4), 0.5, threshold, settings=json.dumps({"seed": seed}))


def test_writes_the_mean_with_the_mean_threshold_and_the_members_records(tmp_path, capsys):
    paths = []
    for seed, threshold in ((0, 0.2), (1, 0.6)):
        paths.append(tmp_path / f"s{seed}.npz")
        _member(seed, threshold).save(paths[-1])
    assert main([*map(str, paths), "--out", str(tmp_path / "bag.npz")]) == 0
    bag = ProbeReadout.load(tmp_path / "bag.npz")
    assert bag.threshold == pytest.approx(0.4)
    assert [r["settings"]["seed"] for r in json.loads(bag.settings)["averaged"]] == [0, 1]
    assert "mean of 2 readouts" in capsys.readouterr().out
    main([*map(str, paths), "--out", str(tmp_path / "b2.npz"), "--threshold", "1.5"])
    assert ProbeReadout.load(tmp_path / "b2.npz").threshold == 1.5


def test_refuses_readouts_of_different_kinds_and_a_non_finite_threshold(tmp_path, capsys):
    _member(0, 0.0).save(tmp_path / "a.npz")
    _member(1, 0.0, layer=2).save(tmp_path / "b.npz")
    with pytest.raises(SystemExit):
        main([str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--out", str(tmp_path / "c.npz")])
    assert "of one kind" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "a.npz"), "--out", str(tmp_path / "c.npz"), "--threshold", "inf"])
    assert "finite" in capsys.readouterr().err
    assert not (tmp_path / "c.npz").exists()
