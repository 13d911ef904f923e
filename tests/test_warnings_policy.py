"""The suite's configuration makes warnings errors: a deprecated call fails its test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(120)


def test_a_warning_fails_the_test_that_raises_it(tmp_path):
    (tmp_path / "test_warns.py").write_text(
        "import warnings\n\n"
        "def test_deprecated():\n"
        "    warnings.warn('something old', DeprecationWarning)\n\n"
        "def test_future():\n"
        "    warnings.warn('something changing', FutureWarning)\n\n"
        "def test_quiet():\n"
        "    pass\n"
    )
    # A plain run of the project's configuration (not as an xdist worker of this one).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONWARNINGS"))}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-o", "addopts=", "-p", "no:cacheprovider", "-p", "no:benchmark", "-p", "no:xdist",
         "-q", str(tmp_path / "test_warns.py")],
        capture_output=True, text=True, timeout=100, cwd=tmp_path, env=env,
    )
    assert run.returncode == 1, run.stdout[-1500:]
    assert "2 failed, 1 passed" in run.stdout
    assert "DeprecationWarning: something old" in run.stdout
    assert "FutureWarning: something changing" in run.stdout
