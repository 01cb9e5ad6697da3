"""``consent-gym reproduce``: argument parsing, errors, and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consent_gym.cli import build_parser, main
from consent_gym.experiments import common
from consent_gym.judge_registry import MissingDependencyError


def test_reproduce_defaults_parse():
    args = build_parser().parse_args(["reproduce", "delivery-curb"])
    assert (args.judge, args.mode, args.seeds, args.eval_episodes) == ("probe", "zero", 3, 100)
    assert args.timesteps is None and str(args.out) == "runs/delivery-curb"
    drift = build_parser().parse_args(["reproduce", "ontological-drift", "--policy", "reference"])
    assert (drift.judge, drift.policy) == ("rule", "reference")


@pytest.mark.parametrize("bad", [["--seeds", "0"], ["--timesteps", "x"], ["--judge", "oracle"],
                                 ["--mode", "ban"]])
def test_reproduce_rejects_bad_arguments(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "delivery-curb", *bad])
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_reproduce_without_experiment_prints_help(capsys):
    assert main(["reproduce"]) == 2
    assert "delivery-curb" in capsys.readouterr().out


def test_missing_judge_is_a_clear_message(monkeypatch, capsys, tmp_path):
    def missing(name, dtype=None, served=None):
        raise MissingDependencyError("the llm judge is not installed; use --judge rule")

    monkeypatch.setattr(common, "load_judge", missing)
    code = main(["reproduce", "delivery-curb", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    assert "not installed; use --judge rule" in capsys.readouterr().err


def test_delivery_curb_tiny_run_prints_table_and_writes_files(tmp_path, capsys):
    out = tmp_path / "curb"
    code = main(["reproduce", "delivery-curb", "--judge", "rule", "--timesteps", "1024",
                 "--seeds", "2", "--eval-episodes", "3", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| metric | ungated | gated |" in printed and "Targets" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["experiment"] == "delivery-curb"
    assert results["judge"]["judge_id"].startswith("rule:")
    assert results["config"]["timesteps"] == 1024 and results["config"]["seeds"] == [0, 1]
    assert isinstance(results["command"], str) and results["command"]
    assert {"torch", "stable-baselines3", "gymnasium"} <= set(results["versions"])
    for arm in ("ungated", "gated"):
        runs = results["arms"][arm]["runs"]
        assert [r["seed"] for r in runs] == [0, 1]
        assert runs[0]["evaluation"]["episodes"] == 3
        summary = results["arms"][arm]["summary"]
        assert summary["pedestrians_hit_per_episode"]["n"] == 2
    gated = results["arms"]["gated"]["runs"][0]["judge"]
    assert gated["texts"] > 0 and 0.0 <= gated["veto_rate"] <= 1.0
    verdicts = results["arms"]["gated"]["runs"][0]["verdicts"]
    assert len(verdicts) == gated["distinct_texts"]
    assert sum(v["count"] for v in verdicts) == gated["texts"]
    assert all(("hit a pedestrian" in v["text"]) != v["approved"] for v in verdicts)
    assert results["arms"]["ungated"]["runs"][0]["judge"] == {}
    assert [t["metric"] for t in results["targets"]] == [
        "pedestrians_hit_per_episode", "pedestrians_hit_per_episode", "delivery_rate"]
    for path in results["plots"].values():
        assert Path(path).read_bytes()[:4] == b"\x89PNG"


def test_ontological_drift_tiny_run_reports_flags(tmp_path, capsys):
    out = tmp_path / "drift"
    code = main(["reproduce", "ontological-drift", "--timesteps", "1024", "--seeds", "1",
                 "--eval-episodes", "2", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| metric | ungated | surface-gated | panel-gated |" in printed
    assert "Disagreements flagged" in printed
    results = json.loads((out / "results.json").read_text())
    assert list(results["arms"]) == ["ungated", "surface-gated", "panel-gated"]
    assert results["judge"]["panel_id"].startswith("panel:unanimous:")
    flags = results["flags"]["per_seed"][0]
    panel_run = results["arms"]["panel-gated"]["runs"][0]
    assert flags["count"] == panel_run["judge"]["flagged"] == len(panel_run["flag_timesteps"])
    assert results["arms"]["surface-gated"]["runs"][0]["judge"]["flagged"] == 0


def test_reproduce_highway_defaults_parse(capsys):
    args = build_parser().parse_args(["reproduce", "highway"])
    assert (args.judge, args.mode, args.seeds, args.eval_episodes) == ("probe", "zero", 3, 10)
    assert args.timesteps is None and str(args.out) == "runs/highway"
    assert not hasattr(args, "step_numbers")  # the default renderer has no step numbers to drop
    with pytest.raises(SystemExit):
        main(["reproduce", "highway", "--help"])
    assert "highway-fast-v0" in capsys.readouterr().out


def test_reproduce_highway_without_highway_env_is_a_clear_message(monkeypatch, capsys, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_highway_env(name, *args, **kwargs):
        if name == "highway_env":
            raise ImportError("No module named 'highway_env'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_highway_env)
    code = main(["reproduce", "highway", "--judge", "rule", "--out", str(tmp_path),
                 "--no-progress"])
    assert code == 2
    assert "pip install highway-env" in capsys.readouterr().err


def test_reproduce_train_on_prediction_defaults_parse():
    args = build_parser().parse_args(["reproduce", "train-on-prediction"])
    assert (args.judge, args.mode, args.seeds, args.policy) == ("probe", "zero", 3, "unanimous")
    assert args.timesteps is None and args.ent_coef == 0.05
    assert (args.k, args.veto_when, args.max_new_tokens) == (8, "any", 64)
    assert args.step_numbers is False  # the copy is trained on step-free records
    assert str(args.predictor) == "runs/train-on-prediction/predictor"


@pytest.mark.parametrize("bad, message", [
    (["--veto-when", "most"], "--veto-when must be 'any' or a share"),
    (["--veto-when", "2"], "veto_when must be 'any' or a fraction"),
])
def test_reproduce_train_on_prediction_names_a_bad_rule(bad, message, capsys, tmp_path):
    code = main(["reproduce", "train-on-prediction", "--out", str(tmp_path), *bad])
    assert code == 2
    assert message in capsys.readouterr().err


def test_reproduce_train_on_prediction_refuses_a_folder_that_is_not_a_copy(capsys, tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"not a copy")
    code = main(["reproduce", "train-on-prediction", "--judge", "rule", "--predictor",
                 str(tmp_path), "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert "holds files but no training_record.json" in capsys.readouterr().err


def test_first_seed_runs_later_seeds(tmp_path, capsys):
    out = tmp_path / "curb"
    code = main(["reproduce", "delivery-curb", "--judge", "rule", "--timesteps", "256",
                 "--seeds", "1", "--first-seed", "4", "--eval-episodes", "1", "--out", str(out),
                 "--no-progress"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["seeds"] == [4]
    assert [r["seed"] for r in results["arms"]["gated"]["runs"]] == [4]
    with pytest.raises(SystemExit):
        main(["reproduce", "delivery-curb", "--first-seed", "-1"])
