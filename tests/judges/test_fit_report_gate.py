"""scripts/fit_report_gate.py's pure parts: its rows and labels, and its fit, which must score
as the ReportGate it writes does."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from consent_gym.judges.probe_acts import ACTS
from consent_gym.judges.report_gate import ReportGate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from fit_report_gate import fit_gate, gate_logits, gate_rows


def test_rows_label_report_episodes_as_reports_and_name_each_other_rows_act():
    keys, y, acts = gate_rows(0, 6, 6, 12)
    assert len(keys) == len(set(keys)) == len(y) == len(acts) > 0
    assert keys == sorted(keys)
    assert all((act == "") == bool(report) for act, report in zip(acts, y, strict=True))
    assert {a for a in acts if a} <= set(ACTS) and (~y).any() and y.any()
    # every row is read after the chunk before it: first chunks have nothing before them
    assert any(prefix == "" for prefix, _ in keys) and any(prefix for prefix, _ in keys)
    assert gate_rows(0, 6, 6, 12)[0] == keys  # deterministic


def test_fit_separates_and_scores_as_the_written_gate_does():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = x[:, 0] + 0.1 * rng.normal(size=200) > 0
    fit = fit_gate(x, y, 1.0)
    logits = gate_logits(x, fit)
    assert ((logits > 0) == y).mean() > 0.95
    mean, scale, w, b = fit
    gate = ReportGate("gemma", 8, mean, scale, w, b, 0.0)
    np.testing.assert_allclose(gate.logits(x), logits, rtol=1e-4, atol=1e-4)
