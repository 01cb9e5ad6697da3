"""Shared argparse types."""

from __future__ import annotations

import argparse

import pytest

from consent_gym.cli import main
from consent_gym.commands.arguments import int_at_least


@pytest.mark.parametrize(("minimum", "text", "value"), [(1, "1", 1), (0, "0", 0), (1, "250", 250)])
def test_accepts_whole_numbers_at_the_bound_and_above(minimum, text, value):
    assert int_at_least(minimum)(text) == value


@pytest.mark.parametrize(("minimum", "text"), [(1, "0"), (0, "-1"), (1, "1.5"), (1, "many")])
def test_rejects_the_rest_naming_the_bound(minimum, text):
    with pytest.raises(argparse.ArgumentTypeError, match=f">= {minimum}, got '{text}'"):
        int_at_least(minimum)(text)


def test_commands_use_it(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "delivery-curb", "--seeds", "0"])
    assert "expected a whole number >= 1, got '0'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", "log.jsonl", "--max-text", "-1"])
    assert "expected a whole number >= 0, got '-1'" in capsys.readouterr().err
