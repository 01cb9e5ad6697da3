"""tests/conftest.py's shared_path: ../shared beside the repository root, loud in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_DIR, shared_path


def test_the_shared_folder_is_beside_the_repository_root():
    root = Path(__file__).resolve().parent.parent
    assert (root / "pyproject.toml").exists()
    assert root.parent / "shared" == SHARED_DIR


def test_a_present_file_is_returned(tmp_path, monkeypatch):
    (tmp_path / "judge-bench").mkdir()
    (tmp_path / "judge-bench" / "dev.jsonl").write_text("{}\n")
    monkeypatch.setenv("CONSENT_GYM_SHARED", str(tmp_path))
    assert shared_path("judge-bench/dev.jsonl") == tmp_path / "judge-bench" / "dev.jsonl"


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                             ("", pytest.skip.Exception)])
def test_a_missing_file_fails_in_ci_and_skips_elsewhere(tmp_path, monkeypatch, ci, outcome):
    monkeypatch.setenv("CONSENT_GYM_SHARED", str(tmp_path))
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="must sit beside the repository root"):
        shared_path("judge-bench/dev.jsonl")
