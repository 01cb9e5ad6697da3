"""The ``consent-gym`` entry point itself (each command has its own tests under commands/)."""

from __future__ import annotations

import os
import tempfile

from consent_gym.cli import main


def test_a_training_command_leaves_no_sb3_folder_in_the_temp_dir(tiny_bench_train, monkeypatch,
                                                                 tmp_path, capsys):
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the system temp dir, here
    assert main(["bench", "train", "--timesteps", "64", "--json"]) == 0
    assert '"benchmark": "train"' in capsys.readouterr().out
    left = [p.name for p in tmp_path.iterdir()]  # (torch may keep its compile cache here)
    assert not [n for n in left if n.startswith(("SB3-", "consent-gym-sb3-"))], left
    assert "SB3_LOGDIR" not in os.environ


def test_a_user_sb3_logdir_is_kept(tiny_bench_train, monkeypatch, tmp_path):
    mine = tmp_path / "my-sb3-logs"
    monkeypatch.setenv("SB3_LOGDIR", str(mine))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "elsewhere"))
    assert main(["bench", "train", "--timesteps", "64", "--json"]) == 0
    assert os.environ["SB3_LOGDIR"] == str(mine) and mine.is_dir()
    assert not (tmp_path / "elsewhere").exists()
