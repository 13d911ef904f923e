"""The example sagas in examples/sagas/: each correct version holds every property on its
default bounds, each buggy version violates its named property with a pinned shortest
trace."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sagaspec.model import Config, explore, saga_system
from sagaspec.spec.sagafile import load_spec

from sagaspec.cli import main

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "sagas"
README = ROOT / "README.md"

# example -> (property the buggy version violates, its shortest trace in steps,
#             every property that is not "held" in the buggy version)
# The lengths were computed once by the checker on the spec's default bounds and pinned.
BUGS = {
    # One trip. 1 request trip, 2 no seat (FlightBookingFailed), 3 trip cancels,
    # 4 TripCancelled reaches flight, 5 TripCancelled reaches hotel BEFORE the request:
    # ignored, 6 the late TripRequested books the hotel, 7 HotelBooked waits in Payment's
    # join, 8-9 car remembers the cancellation and refuses the request: at rest with the
    # room of a cancelled trip still booked.
    "travel": ("no-booking-left", 9, {"no-booking-left": "violated"}),
    # Two orders. 1 place order, 2 reserve, 3 charge, 4 carrier refuses, 5 refund,
    # 6 Order cancels on PaymentRefunded while the unit is still reserved (an invariant:
    # no need to wait for the run to settle). The refused shipment is never released, so
    # the non-vacuity check of a compensated shipping failure finds no such run.
    "shop": (
        "cancelled-holds-nothing",
        6,
        {"cancelled-holds-nothing": "violated", "nothing-left": "violated",
         "some-shipping-failure-compensated": "vacuous"},
    ),
    # Two orders, an at-rest property, so both sagas must settle. Saga 0 in 8 steps:
    # place, charge, reserve, join, complete, carrier refuses, Order ignores
    # ShippingFailed (its guard wants an open order), the confirmation email. Saga 1 needs
    # 7 to settle, e.g. place, decline, cancel, OrderCancelled reaching payment, inventory
    # and notification, the late OrderCreated reaching inventory. 8 + 7 = 15.
    "order-shipping": (
        "failed-shipment-undone",
        15,
        {"failed-shipment-undone": "violated", "completed-exactly-once": "violated",
         "some-failed-shipment-undone": "vacuous", "some-confirmation-withdrawn": "vacuous"},
    ),
}


def _path(name: str, buggy: bool) -> Path:
    return EXAMPLES / f"{name}{'-buggy' if buggy else ''}.saga.yaml"


def _check(path: Path):
    """Exhaustive check on the spec's own default bounds, as ``sagaspec check`` runs it."""
    spec = load_spec(path)
    system = saga_system(str(path))
    bounds = spec.bounds
    config = Config(
        bus=bounds["bus"], duplicates=bounds["duplicates"], crashes=bounds["crashes"],
        symmetry=system.sagas > 1,
    )
    return spec, explore(system, config)


@pytest.mark.parametrize("name", sorted(BUGS))
def test_correct_version_holds_every_property(name):
    spec, result = _check(_path(name, buggy=False))
    assert result.complete and not result.truncated
    assert result.violations == []
    assert set(result.verdicts) == {p.name for p in spec.properties}
    assert set(result.verdicts.values()) == {"held"}, result.verdicts
    assert result.ok
    # real invariants, liveness at rest and non-vacuity, each kind at least once
    assert {p.kind for p in spec.properties} >= {"always", "at_rest", "sometimes"}


@pytest.mark.parametrize("name", sorted(BUGS))
def test_buggy_version_violates_the_named_property_with_its_shortest_trace(name):
    prop, steps, not_held = BUGS[name]
    _spec, result = _check(_path(name, buggy=True))
    assert result.complete
    assert {k: v for k, v in result.verdicts.items() if v != "held"} == not_held
    violation = result.violation(prop)
    assert violation is not None
    assert len(violation.path) == steps, violation.message
    assert not result.ok


def test_shop_holds_under_a_crash_of_each_participant():
    """Every shop service keeps its records durably, so one crash/restart of each
    participant (redelivering what it had not acknowledged) breaks no property."""
    system = saga_system(str(_path("shop", buggy=False)))
    result = explore(system, Config(crashes=1, symmetry=True))
    assert result.complete and result.ok, result.verdicts


def test_travel_trace_shows_the_cancellation_overtaking_the_request():
    _spec, result = _check(_path("travel", buggy=True))
    hotel = [a for a in result.violation("no-booking-left").path.actions if a.participant == "hotel"]
    assert [(a.msg.type, a.label) for a in hotel] == [
        ("TripCancelled", "ignore (hotel none)"),
        ("TripRequested", "book hotel"),
    ]


def _data(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _differences(a, b, at=()):
    """Paths (tuples of keys) where two YAML documents differ, as deep as both are dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _differences(a.get(k), b.get(k), (*at, k)) if k in a and k in b else [(*at, k)]
        return out
    return [] if a == b else [at]


@pytest.mark.parametrize(
    "name, where",
    [
        ("travel", [("participants", "hotel", "reactions")]),
        ("shop", [("participants", "inventory", "reactions"), ("participants", "inventory", "subscribes"),
                  ("participants", "order", "reactions"), ("participants", "order", "subscribes")]),
        ("order-shipping", [("participants", "order", "reactions")]),
    ],
)
def test_buggy_version_differs_only_where_its_hole_is(name, where):
    good, bad = _data(_path(name, buggy=False)), _data(_path(name, buggy=True))
    assert _differences(good, bad) == where


def test_a_fifth_participant_is_one_files_change():
    """order-shipping is the shipped corrected order saga plus Shipping: every event and
    the Payment and Inventory participants are the shipped ones, unchanged (their
    compensations for OrderCancelled also undo a failed shipment)."""
    shipped = _data(ROOT / "spec" / "sagas" / "order-corrected.saga.yaml")
    five = _data(_path("order-shipping", buggy=False))
    assert list(five["participants"]) == [*shipped["participants"], "shipping"]
    for event, body in shipped["events"].items():
        assert five["events"][event] == body, event
    assert set(five["events"]) - set(shipped["events"]) == {"OrderShipped", "ShippingFailed", "CancellationSent"}
    for unchanged in ("payment", "inventory"):
        assert five["participants"][unchanged] == shipped["participants"][unchanged]
    assert {k: v for k, v in five["world"].items() if k != "shipping"} == shipped["world"]


def test_lint_finds_the_shops_hole_and_not_the_two_others():
    """The README says so: the shop's missing release is structural (no chain of reactions
    from ShippingFailed publishes StockReleased); travel's race and order-shipping's
    guard are visible only to the checker."""
    shop = CliRunner().invoke(main, ["lint", "--design", str(_path("shop", buggy=True))])
    assert shop.exit_code == 1, shop.output
    assert "compensation-missing: ShippingFailed (inventory)" in shop.stdout
    assert "StockReleased" in shop.stdout
    for name in ("travel", "order-shipping"):
        r = CliRunner().invoke(main, ["lint", "--design", str(_path(name, buggy=True))])
        assert r.exit_code == 0 and "clean" in r.output, r.output


def test_cli_check_names_the_violated_property_and_exits_1():
    r = CliRunner().invoke(main, ["check", "--design", str(_path("travel", buggy=True))])
    assert r.exit_code == 1, r.output
    assert re.search(r"FAIL\s+at-rest\s+no-booking-left\b.*shortest trace 9 steps", r.stdout), r.stdout
    assert "Verdict: 1 of 14 properties VIOLATED (no-booking-left)" in r.stdout
    ok = CliRunner().invoke(main, ["check", "--design", str(_path("travel", buggy=False))])
    assert ok.exit_code == 0, ok.output
    assert "Verdict: all 14 properties hold" in ok.stdout


# ------------------------------------------------------------------------------ README

_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
_COPY = re.compile(r"Copy `(examples/sagas/[\w.-]+)` over your `([\w.-]+)`")


def _readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Write your own saga\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end == -1 else text[start:end]


def _reading_order(section: str):
    """``("prose", text)`` and ``(language, body)`` of each fenced block, in reading order."""
    pos = 0
    for m in _BLOCK.finditer(section):
        yield "prose", section[pos : m.start()]
        yield m.group(1), m.group(2)
        pos = m.end()
    yield "prose", section[pos:]


def _apply_diff(path: Path, diff: str) -> None:
    lines = diff.splitlines(keepends=True)
    before = "".join(line[1:] for line in lines if not line.startswith("+"))
    after = "".join(line[1:] for line in lines if not line.startswith("-"))
    text = path.read_text(encoding="utf-8")
    assert text.count(before) == 1, f"the README's diff does not apply to {path.name}:\n{before}"
    path.write_text(text.replace(before, after), encoding="utf-8")


def test_readme_write_your_own_saga_runs_verbatim(tmp_path, monkeypatch, capsys):
    """Walk the README section as a reader does, in a fresh folder: run every ``$``
    command verbatim (exit status as its ``# exit N`` comment says, else 0) and find each
    output line it shows (but ``...``) in the real output; copy the file the prose says to copy; find
    every YAML excerpt in the example file; apply the diff; run the Python snippet."""
    monkeypatch.chdir(tmp_path)
    example = _path("travel", buggy=True).read_text(encoding="utf-8")
    exits, output, copied = [], "", []
    for kind, body in _reading_order(_readme_section()):
        if kind == "prose":
            for src, dst in _COPY.findall(" ".join(body.split())):
                (tmp_path / dst).write_text((ROOT / src).read_text(encoding="utf-8"), encoding="utf-8")
                copied.append(src)
        elif kind == "console":
            for line in body.splitlines():
                if line.startswith("$ "):
                    argv = shlex.split(line[2:], comments=True)
                    assert argv[0] == "sagaspec", line
                    want = re.search(r"#.*\bexit (\d+)", line)
                    r = CliRunner().invoke(main, argv[1:])
                    assert r.exit_code == (int(want.group(1)) if want else 0), (line, r.output)
                    exits.append(r.exit_code)
                    output = {out.rstrip() for out in r.output.splitlines()}
                elif line.strip() and line.strip() != "...":  # "..." marks left-out lines
                    assert line.rstrip() in output, f"the README shows a line the command does not print:\n{line}"
        elif kind == "yaml":
            assert body in example, f"the README's excerpt is not in the example file:\n{body}"
        elif kind == "diff":
            _apply_diff(tmp_path / "travel.saga.yaml", body)
        elif kind == "python":
            exec(compile(body, "README.md", "exec"), {})
            shown = re.search(r"print\(.*\)\s+#\s*(.+)$", body, re.M).group(1)
            assert capsys.readouterr().out.strip() == shown
        else:
            raise AssertionError(f"no rule for a {kind!r} block in the README section")
    # the schema's path; init, validate, check the starter; check and lint the buggy
    # copy; check the fix
    assert exits == [0, 0, 0, 0, 1, 0, 0]
    assert copied == ["examples/sagas/travel-buggy.saga.yaml"]
    # the README's fix is the real one: the result is the shipped correct example
    assert _data(tmp_path / "travel.saga.yaml") == _data(_path("travel", buggy=False))


def test_readme_table_of_examples_matches_the_checker():
    rows = re.findall(r"^\| `([\w-]+)` \|.*\| `([\w-]+)`, (\d+) steps \|$", _readme_section(), re.M)
    assert {name: (prop, int(steps)) for name, prop, steps in rows} == {
        name: (prop, steps) for name, (prop, steps, _) in BUGS.items()
    }
