"""README documents every setting and every CLI command."""

from pathlib import Path

from service.cli import COMMANDS
from service.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented():
    for name in Settings.model_fields:
        assert f"`PULSE_{name.upper()}`" in README, name


def test_every_cli_command_is_documented():
    for command in COMMANDS:
        assert f"`pulse {command}" in README, command


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    assert "make serve" in README and "make test" in README
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "make test" in ci
