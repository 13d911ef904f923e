"""The package installs under one namespace and its front door works."""

import importlib

from click.testing import CliRunner

from sagaspec.cli import main


def test_everything_lives_under_the_sagaspec_namespace():
    for name in ("sagaspec.spec", "sagaspec.model", "sagaspec.conformance", "sagaspec.adapters"):
        assert importlib.import_module(name).__name__ == name
    for generic in ("spec", "model", "conformance", "adapters", "examples"):
        assert importlib.util.find_spec(generic) is None, f"{generic} must not be installed"


def test_cli_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "sagaspec" in result.output
