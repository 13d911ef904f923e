"""The browser tests never install system packages: without Chromium they skip locally
(saying how to install it) and fail in CI (CI must run them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.timeout(180)


def _run_without_chromium(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess:
    # A PATH with python and the usual tools but no chromium.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = f"{bindir}:{Path(sys.executable).parent}"
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(HERE / "test_docs_browser.py"), "-k", "harness_sees_console_errors",
         "-q", "-rs", "-p", "no:cacheprovider", "-n", "0"],  # one test: no xdist workers to start
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=170,
    )


def test_without_chromium_a_local_run_skips_with_the_install_command(tmp_path):
    r = _run_without_chromium(tmp_path, ci=False)
    assert r.returncode == 0, r.stdout[-2000:]
    assert "1 skipped" in r.stdout
    assert "chromium is not installed (local run, CI not set): apt-get install chromium" in r.stdout


def test_without_chromium_ci_fails(tmp_path):
    r = _run_without_chromium(tmp_path, ci=True)
    assert r.returncode == 1, r.stdout[-2000:]
    assert "CI is set but chromium is not installed" in r.stdout


def test_no_test_runs_a_package_manager():
    for path in HERE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "subprocess.run((\"apt-get\"" not in text and "\"apt-get\", \"install\"" not in text, path
