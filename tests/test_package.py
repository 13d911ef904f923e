"""The package installs under one namespace and its front door works."""

import importlib
import subprocess
import sys

from click.testing import CliRunner

from sagaspec.cli import main


def test_everything_lives_under_the_sagaspec_namespace(tmp_path):
    for name in ("sagaspec.spec", "sagaspec.model", "sagaspec.conformance", "sagaspec.adapters"):
        assert importlib.import_module(name).__name__ == name
    # Run from an empty folder so the checkout itself is not on sys.path.
    probe = (
        "import importlib.util as u, sys; "
        "bad = [n for n in ('spec', 'model', 'conformance', 'adapters', 'examples') "
        "if u.find_spec(n) is not None]; print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, f"generic top-level names installed: {done.stdout}"


def test_cli_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "sagaspec" in result.output
