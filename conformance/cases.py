"""Replayable test cases: the failure file format, and model-checker traces as cases.

A failure is saved as a *case file* (JSON, format ``sagaspec.conformance/1``): the sagas,
the world, and the recorded steps of the shrunk test case, plus the check it broke and
how to reproduce it. ``sagaspec conform --replay FILE`` takes a case file or a model
checker trace (``sagaspec.trace/1``, from ``sagaspec check --trace-out`` or
``Path.to_json``); :func:`load_case` turns either into a :class:`CaseFile`.

A trace becomes a case for one target: its steps at the target are deliveries to the
service (a repeated delivery of the same message is a duplicate), steps of other
participants are played by the suite with the trace's outcome, crashes of the target
are crashes of the service; the world (which users are declined, how much stock) is
derived from what the trace published, so the service takes the trace's branch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagaspec.adapters.base import World
from sagaspec.conformance.harness import SYSTEM, Step
from sagaspec.conformance.history import SagaInfo

from sagaspec.errors import InputError

__all__ = ["CASE_FORMAT", "TRACE_FORMAT", "CaseFile", "load_case", "case_from_trace",
           "replay_sagas", "case_defaults"]

CASE_FORMAT = "sagaspec.conformance/1"
TRACE_FORMAT = "sagaspec.trace/1"


@dataclass
class CaseFile:
    """A replayable test case (see the module docstring)."""

    design: str
    participant: str
    sagas: list[SagaInfo]
    world: World | None
    steps: list[Step]
    check: str | None = None
    message: str | None = None
    seed: int | None = None
    adapter: str | None = None
    mutant: str | None = None
    source: str = "conformance"  # conformance | trace
    property: str | None = None  # the model property a trace violates
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CASE_FORMAT,
            "design": self.design,
            "participant": self.participant,
            "adapter": self.adapter,
            "mutant": self.mutant,
            "check": self.check,
            "message": self.message,
            "seed": self.seed,
            "sagas": [s.to_json() for s in self.sagas],
            "world": self.world.to_json() if self.world is not None else None,
            "steps": [s.to_json() for s in self.steps],
            **self.extra,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        return path


def replay_sagas(n: int) -> list[SagaInfo]:
    """Plain sagas for replaying a model trace: one unit of ``sku-1`` at 10.00 each."""
    return [SagaInfo(i, f"saga-{i}", f"order-{i}", f"user-{i}", "10.00", "USD",
                     ({"sku": "sku-1", "quantity": 1, "unitPrice": "10.00"},))
            for i in range(n)]


def _read(path: Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object ({CASE_FORMAT} or {TRACE_FORMAT})")
    return data


def case_defaults(path: str | Path) -> dict[str, Any]:
    """What a replayed file says about how it was run: ``adapter``, ``participant``,
    ``design``, ``mutant`` (each may be missing; a trace only knows its design)."""
    data = _read(Path(path))
    if data.get("format") == TRACE_FORMAT:
        return {"design": _design_of(data)}
    return {k: data.get(k) for k in ("adapter", "participant", "design", "mutant")
            if data.get(k) is not None}


def load_case(path: str | Path, *, participant: str | None = None,
              design: str | None = None) -> CaseFile:
    """Read a case file or a model trace; :class:`InputError` names what is wrong."""
    path = Path(path)
    data = _read(path)
    fmt = data.get("format")
    if fmt == TRACE_FORMAT:
        return case_from_trace(data, participant=participant or "system", design=design,
                               where=str(path))
    if fmt != CASE_FORMAT:
        raise InputError(f"{path}: format {fmt!r} is neither {CASE_FORMAT!r} nor {TRACE_FORMAT!r}")
    try:
        sagas = [SagaInfo.from_json(s) for s in data["sagas"]]
        steps = [Step.from_json(s) for s in data["steps"]]
        world = World.from_json(data["world"]) if data.get("world") else None
        return CaseFile(
            design=design or data["design"], participant=participant or data["participant"],
            sagas=sagas, world=world, steps=steps, check=data.get("check"),
            message=data.get("message"), seed=data.get("seed"), adapter=data.get("adapter"),
            mutant=data.get("mutant"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: malformed case file: missing or bad field {exc}") from None


def _design_of(data: dict[str, Any]) -> str | None:
    name = str(data.get("system") or "")
    if "/" in name:
        return name.rsplit("/", 1)[1]
    return None


def case_from_trace(data: dict[str, Any], *, participant: str, design: str | None = None,
                    where: str = "trace") -> CaseFile:
    """The case that replays model trace ``data`` against ``participant``."""
    steps_in = data.get("steps")
    if not isinstance(steps_in, list):
        raise InputError(f"{where}: a trace needs a 'steps' list")
    design = design or _design_of(data)
    if design is None:
        raise InputError(f"{where}: cannot tell the design from system {data.get('system')!r}; "
                         "pass --design")
    init = (data.get("initial") or {}).get("order")
    sagas_n = len(init) if isinstance(init, list) and init else 1 + max(
        (s.get("saga") or 0 for s in steps_in if isinstance(s, dict)), default=0)
    sagas = replay_sagas(sagas_n)
    sut = ("order", "payment", "inventory", "notification") if participant == SYSTEM \
        else (participant,)
    label = participant
    out: list[Step] = []
    declined: set[str] = set()
    reserved: set[int] = set()
    delivered: set[tuple] = set()
    kept: list[tuple[str, str, dict]] = []  # deliveries that left a duplicate copy
    redelivered: set[tuple] = set()
    for i, st in enumerate(steps_in, start=1):
        if not isinstance(st, dict) or "kind" not in st or "participant" not in st:
            raise InputError(f"{where}: step {i} needs 'kind' and 'participant'")
        kind, who = st["kind"], st["participant"]
        for pub in st.get("published") or ():
            if pub.get("event") == "PaymentFailed":
                declined.add(sagas[pub["saga"]].userId)
            if pub.get("event") == "InventoryReserved":
                reserved.add(pub["saga"])
        # An event nobody subscribes to is not in "published" (it has no delivery), so
        # the outcome labels of the order-saga model say it too.
        if kind in ("deliver", "duplicate", "crash-in-handler") and st.get("event") == "OrderCreated":
            if who == "payment" and st.get("outcome") == "decline":
                declined.add(sagas[st["saga"]].userId)
            if who == "inventory" and st.get("outcome") == "reserve":
                reserved.add(st["saga"])
        if kind == "internal":
            if who == "order" and str(st.get("outcome", "")).startswith("place order"):
                saga = int(str(st["outcome"]).rsplit(" ", 1)[1])
                msg = {"type": "OrderCreated", "saga": saga, "src": "order"}
                if "order" in sut:
                    out.append(Step("place", src="customer", to=label, msg=msg))
                else:
                    out.append(Step("place", src="customer", to="order", msg=msg,
                                    outcome=st.get("outcome")))
            continue
        if kind == "crash":
            out.append(Step("crash", src="suite", to=label if who in sut else who, kind=who))
            continue
        if st.get("event") is None:
            continue
        msg = {"type": st["event"], "saga": st["saga"], "src": st.get("src")}
        key4 = (msg["type"], msg["saga"], msg["src"], who)
        if key4 in delivered:
            redelivered.add(key4)
        if kind == "duplicate":
            kept.append((kind, who, msg))
        if who in sut:
            if participant == SYSTEM:
                # Deliveries inside the system are the system's own business; only a
                # repeated one is something the suite can do (a duplicate from the bus).
                if key4 in delivered:
                    out.append(Step("duplicate", src=msg["src"], to=label, msg=msg))
                delivered.add(key4)
            else:
                key = (msg["type"], msg["saga"], msg["src"], who)
                op = "duplicate" if key in delivered else "deliver"
                if kind == "drop" and key not in delivered:
                    op = "deliver"
                out.append(Step(op, src=msg["src"], to=label, msg=msg))
                delivered.add(key)
            if kind == "crash-in-handler":
                out.append(Step("crash", src="suite", to=label, kind=who))
        else:
            key = (msg["type"], msg["saga"], msg["src"], who)
            if key in delivered:
                # A second copy: the played participant's idempotency store drops it.
                out.append(Step("duplicate", src=msg["src"], to=who, msg=msg))
                continue
            delivered.add(key)
            out.append(Step("deliver", src=msg["src"], to=who, msg=msg,
                            outcome=st.get("outcome")))
            if kind == "crash-in-handler":
                out.append(Step("crash", src="suite", to=who, kind=who))
    # A duplicate copy the trace left in flight is still delivered, in the model as on a
    # real bus; deliver it at the end so the copy's edge is really exercised.
    for _kind, who, msg in kept:
        key = (msg["type"], msg["saga"], msg["src"], who)
        if key not in redelivered:
            out.append(Step("duplicate", src=msg["src"], to=label if who in sut else who,
                            msg=msg, phase="drain"))
    world = World(stock={"sku-1": len(reserved), "sku-2": 0},
                  declined_users=frozenset(declined))
    prop = data.get("property") or (data.get("violation") or {}).get("property")
    return CaseFile(design=design, participant=participant, sagas=sagas, world=world,
                    steps=out, source="trace", property=prop,
                    check=prop, message=f"model checker trace of {data.get('system')}")
