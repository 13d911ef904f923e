"""The reference services are found through entry points: declared, installed, and a
missing one is a one-line error naming it, wherever the generic code looks it up."""

from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest
import sagaspec.adapters.plugins as plugins
from click.testing import CliRunner
from sagaspec.adapters import load_adapter
from sagaspec.adapters.plugins import INTERPRETERS, LAUNCHERS, TARGETS, load_plugin
from sagaspec.conformance.spec_conform import InProcessSpecAdapter, spec_service_factory
from sagaspec.spec.sagafile import load_spec

from sagaspec.cli import main
from sagaspec.errors import AdapterError

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "sagas" / "shop.saga.yaml"


def _declared() -> dict[str, dict[str, str]]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {g: dict(v) for g, v in doc["project"]["entry-points"].items() if g.startswith("sagaspec.")}


def test_every_group_the_code_looks_up_is_declared_and_installed_as_declared():
    declared = _declared()
    assert set(declared) == {TARGETS, INTERPRETERS, LAUNCHERS}
    for group, points in declared.items():
        installed = {e.name: e.value for e in entry_points(group=group)}
        # A stale install (pip install -e . not rerun) shows here, not as a strange failure.
        assert installed == points, (group, installed)
    assert callable(load_plugin(TARGETS)) and callable(load_plugin(TARGETS, "interpreter"))
    assert callable(getattr(load_plugin(INTERPRETERS), "handle", None))
    assert set(load_plugin(LAUNCHERS).crash_points) == {"before-commit", "after-commit", "after-publish"}


@pytest.fixture
def nothing_installed(monkeypatch):
    """As if no package declared sagaspec's entry points (and none loaded yet)."""
    monkeypatch.setattr(plugins, "_LOADED", {})
    monkeypatch.setattr(plugins, "entry_points", lambda **kw: [])


def _one_line(exc: BaseException, group: str, name: str = "reference") -> str:
    text = str(exc)
    assert "\n" not in text and f"no entry point {name!r} in group {group!r}" in text, text
    return text


def test_a_missing_entry_point_is_one_line_naming_it(nothing_installed):
    with pytest.raises(AdapterError) as e:
        load_plugin(TARGETS, "reference")
    assert "pip install -e ." in _one_line(e.value, TARGETS)


def test_an_entry_point_that_cannot_be_imported_is_one_line_naming_it(monkeypatch):
    broken = EntryPoint(name="reference", value="sagaspec.no_such_module:make", group=TARGETS)
    monkeypatch.setattr(plugins, "_LOADED", {})
    monkeypatch.setattr(plugins, "entry_points", lambda **kw: [broken])
    with pytest.raises(AdapterError) as e:
        load_plugin(TARGETS)
    text = str(e.value)
    assert "\n" not in text and "entry point 'reference' in group 'sagaspec.targets'" in text
    assert "sagaspec.no_such_module:make" in text and "cannot be loaded" in text


def test_the_generic_code_reports_the_missing_entry_point(nothing_installed):
    """Each place that used to import the reference services: the in-process adapter's
    default target, the spec's interpreter in-process, the mutants of a spec."""
    with pytest.raises(AdapterError) as e:
        load_adapter("inprocess:?participant=payment")
    _one_line(e.value, TARGETS)
    with pytest.raises(AdapterError) as e:
        InProcessSpecAdapter(load_spec(SHOP))
    _one_line(e.value, TARGETS, "interpreter")
    with pytest.raises(AdapterError) as e:
        spec_service_factory(load_spec(SHOP))
    _one_line(e.value, INTERPRETERS)
    r = CliRunner().invoke(main, ["mutate", "--design", str(SHOP), "-n", "1", "--operator", "wrong-saga"])
    assert r.exit_code not in (0, 1) and "Traceback" not in r.output, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    # The mutants' services are the reference side's too (the ``mutant`` entry point).
    assert f"no entry point 'mutant' in group {INTERPRETERS!r}" in lines[0]


def test_spawn_finds_the_launcher_by_its_entry_point_without_registration(monkeypatch):
    """A library user's broker adapter (no command line to register one) gets the
    reference launcher; with none installed, the one-line error names the entry point."""
    import sagaspec.adapters.broker as broker

    monkeypatch.setattr(broker, "_LAUNCHER", [])
    assert broker.registered_launcher() is load_plugin(LAUNCHERS)
    monkeypatch.setattr(plugins, "_LOADED", {})
    monkeypatch.setattr(plugins, "entry_points", lambda **kw: [])
    with pytest.raises(AdapterError) as e:
        broker.registered_launcher()
    _one_line(e.value, LAUNCHERS)
    def mine(*args, **kwargs):
        raise AssertionError("not called here")

    broker.register_launcher(mine)  # a registered one comes first
    assert broker.registered_launcher() is mine
