"""Replayable test cases: the failure file format, and model-checker traces as cases.

A failure is saved as a *case file* (JSON, format ``sagaspec.conformance/1``): the sagas,
the world, and the recorded steps of the shrunk test case, plus the check it broke and
how to reproduce it. ``sagaspec conform --replay FILE`` takes a case file or a model
checker trace (``sagaspec.trace/1``, from ``sagaspec check --trace-out`` or
``Path.to_json``); :func:`load_case` turns either into a :class:`CaseFile`.

A trace becomes a case for one target: its steps at the target are deliveries to the
service (a repeated delivery of the same message is a duplicate), steps of other
participants are played by the suite with the trace's outcome, crashes of the target
are crashes of the service. The world is derived from what each step decided, read from
the spec's alternatives (the one whose events the step published: its world knobs,
whether it takes a shared variable, whether it fails), never from outcome labels: every
knob's value per saga, and for a trigger of the per-key shape the stock and the declined
users too, so the service takes the trace's branches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagaspec.adapters.base import World
from sagaspec.conformance.checks import current_name
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


def replay_sagas(n: int, design: Any = "corrected") -> list[SagaInfo]:
    """Plain sagas for replaying a model trace: the trigger's example values (a trigger
    that declares how it is drawn: each declared field at its simplest, so every saga's
    lines take the first key)."""
    from sagaspec.conformance.models import suite_model
    from sagaspec.conformance.payloads import declared_draw, fresh_saga, simplest_saga
    from sagaspec.spec.specschemas import example_value

    spec = suite_model(design, 1).spec
    if declared_draw(spec):
        return [simplest_saga(spec, i, "replay") for i in range(n)]
    trigger = spec.event(min(e.name for e in spec.events if e.role == "trigger"))
    fields = {f.name: example_value(spec, f.schema, f.name) for f in trigger.fields
              if not f.optional}
    return [fresh_saga(spec, i, "replay", fields) for i in range(n)]


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
              design: str | None = None, stepped: bool = False) -> CaseFile:
    """Read a case file or a model trace; :class:`InputError` names what is wrong.
    ``stepped``: a trace becomes a case for a steppable system (see :func:`case_from_trace`)."""
    path = Path(path)
    data = _read(path)
    fmt = data.get("format")
    if fmt == TRACE_FORMAT:
        return case_from_trace(data, participant=participant or "system", design=design,
                               where=str(path), stepped=stepped)
    if fmt != CASE_FORMAT:
        raise InputError(f"{path}: format {fmt!r} is neither {CASE_FORMAT!r} nor {TRACE_FORMAT!r}")
    try:
        sagas = [SagaInfo.from_json(s) for s in data["sagas"]]
        steps = [Step.from_json(s) for s in data["steps"]]
        world = World.from_json(data["world"]) if data.get("world") else None
        return CaseFile(
            design=design or data["design"], participant=participant or data["participant"],
            sagas=sagas, world=world, steps=steps,
            check=current_name(data["check"]) if isinstance(data.get("check"), str) else data.get("check"),
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


@dataclass(frozen=True)
class _Decision:
    """What a reaction of a trace step decided, read from the spec's alternatives."""

    world: tuple[tuple[str, str], ...]  # the knob values of the alternative taken
    takes_shared: bool  # it updates a shared variable (a reservation)
    failing: bool  # it emits a failure event
    shared_guarded: bool  # its reaction is decided by a shared variable's guard


def _decision(spec: Any, who: str, event: str | None, published: set[str]) -> _Decision | None:
    """The alternative ``who`` took on ``event`` (``None``: its trigger) that published
    ``published`` (a trace may leave out events nobody subscribes to), or ``None`` when
    the spec's alternatives do not tell."""
    try:
        part = spec.participant(who)
    except Exception:  # noqa: BLE001 - a participant of no spec (a Python model)
        return None
    subscribed = {e for p in spec.participants for e in p.subscribes}
    shared = {v.name for v in part.shared}
    found = []
    for r in part.reactions:
        if (event is None) != (r.kind == "trigger") or (event is not None and event not in r.on):
            continue
        guarded = any(alt.when is not None and shared & set(getattr(alt.when, "refs", ()))
                      for alt in r.alternatives)
        for alt in r.alternatives:
            if {e for e in alt.emit if e in subscribed} <= published <= set(alt.emit):
                found.append(_Decision(alt.world, any(v in shared for v, _x in alt.updates),
                                       any(spec.event(e).role == "failure" for e in alt.emit),
                                       guarded))
    return found[0] if len(set(found)) == 1 else None


def case_from_trace(data: dict[str, Any], *, participant: str, design: str | None = None,
                    where: str = "trace", stepped: bool = False) -> CaseFile:
    """The case that replays model trace ``data`` against ``participant``.

    ``stepped``: the whole system is driven delivery by delivery (a steppable system), so
    every delivery of the trace is a step to its participant, and a crash lands between
    two of them as in the trace; otherwise the system's own deliveries are its business."""
    steps_in = data.get("steps")
    if not isinstance(steps_in, list):
        raise InputError(f"{where}: a trace needs a 'steps' list")
    design = design or _design_of(data)
    if design is None:
        raise InputError(f"{where}: cannot tell the design from system {data.get('system')!r}; "
                         "pass --design")
    from sagaspec.conformance.models import suite_model

    model = suite_model(design, 1)
    spec = model.spec
    trigger_types = set(model.triggers)
    sagas_n = 1 + max((s.get("saga") or 0 for s in steps_in if isinstance(s, dict)), default=0)
    for st in steps_in:
        for pub in (st.get("published") or ()) if isinstance(st, dict) else ():
            if isinstance(pub, dict) and isinstance(pub.get("saga"), int):
                sagas_n = max(sagas_n, pub["saga"] + 1)
    sagas = replay_sagas(sagas_n, design)
    names = tuple(p.name for p in model.participants)
    sut = names if participant == SYSTEM else (participant,)
    label = participant
    out: list[Step] = []
    declined: set[int] = set()
    reserved: set[int] = set()
    knobs: dict[int, dict[str, str]] = {}
    delivered: set[tuple] = set()
    kept: list[tuple[str, str, dict]] = []  # deliveries that left a duplicate copy
    redelivered: set[tuple] = set()
    for i, st in enumerate(steps_in, start=1):
        if not isinstance(st, dict) or "kind" not in st or "participant" not in st:
            raise InputError(f"{where}: step {i} needs 'kind' and 'participant'")
        kind, who = st["kind"], st["participant"]
        published = [p for p in st.get("published") or () if isinstance(p, dict)]
        if kind in ("deliver", "duplicate", "crash-in-handler", "internal"):
            event = None if kind == "internal" else st.get("event")
            d = _decision(spec, who, event, {str(p.get("event")) for p in published})
            saga = st.get("saga") if event is not None else next(
                (p.get("saga") for p in published if p.get("event") in trigger_types), None)
            if d is not None and isinstance(saga, int) and 0 <= saga < sagas_n:
                knobs.setdefault(saga, {}).update(d.world)
                if d.world and d.failing:
                    declined.add(saga)
                if d.shared_guarded and d.takes_shared:
                    reserved.add(saga)
        if kind == "internal":
            # A spontaneous reaction: the customer's trigger, of the saga it published.
            starts = [p for p in published if p.get("event") in trigger_types]
            if starts:
                start = starts[0]
                msg = {"type": start["event"], "saga": start["saga"], "src": who}
                if who in sut:
                    out.append(Step("place", src="customer", to=label, msg=msg))
                else:
                    out.append(Step("place", src="customer", to=who, msg=msg,
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
            if participant == SYSTEM and not stepped:
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
                out.append(Step(op, src=msg["src"], to=who if stepped else label, msg=msg))
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
            out.append(Step("duplicate", src=msg["src"], to=label if who in sut and not stepped else who,
                            msg=msg, phase="drain"))
    world = _trace_world(spec, sagas, knobs, declined, reserved)
    prop = data.get("property") or (data.get("violation") or {}).get("property")
    return CaseFile(design=design, participant=participant, sagas=sagas, world=world,
                    steps=out, source="trace", property=prop,
                    check=prop, message=f"model checker trace of {data.get('system')}")


def _trace_world(spec: Any, sagas: list[SagaInfo], knobs: dict[int, dict[str, str]],
                 declined: set[int], reserved: set[int]) -> World:
    """The world that makes the services take the trace's branches: every knob of every
    saga (the trace's decision, else its first value); for a trigger that declares how
    it is drawn also the per-key form (as many units of the first key as sagas reserved,
    none of the others; the declining sagas' fields in the lists their rules read)."""
    from sagaspec.conformance.payloads import declared_draw, key_pool

    values = {s.sagaId: {k: knobs.get(s.index, {}).get(k, v[0]) for k, v in spec.world.items()}
              for s in sagas}
    if not declared_draw(spec):
        return World(knobs=values)
    pool = key_pool(spec)
    data = {r.data: sorted({str(sagas[i].fields[r.field]) for i in declined}) if r.test == "in"
            else None for r in spec.rules}  # every name the rules read: a limit unset
    return World.from_json({"stock": {k: len(reserved) if j == 0 else 0 for j, k in enumerate(pool)},
                            **data, "knobs": values})
