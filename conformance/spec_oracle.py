"""A black-box oracle for any saga spec: the compiled model judges every handling.

The oracle sees what a test harness sees of a system under test: which event it
delivered to which participant, under which world, and which events came out. It keeps,
per participant, the set of model states consistent with everything observed so far
(the model may branch; the outputs decide). A handling is wrong when no model outcome
publishes exactly the observed event types with the world the suite set up; every
emitted event must also validate against the spec's schema, belong to a saga the suite
started, and carry the field values its provenance says (``from: EVENT.FIELD``).

Everything is typed: a :class:`Failure` names the check, participant, saga and event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagaspec.model.compile import SpecParticipantModel, spec_system
from sagaspec.model.participant import Msg
from sagaspec.spec.sagafile import SagaSpec

__all__ = ["Failure", "SpecOracle"]


@dataclass(frozen=True)
class Failure:
    """One way the system under test departed from the spec."""

    check: str  # model | schema | unknown-saga | provenance | property
    participant: str
    saga: str
    event: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.message}"


@dataclass
class SpecOracle:
    """Judges handlings of a system of ``spec`` with the sagas ``saga_ids``."""

    spec: SagaSpec
    saga_ids: list[str]
    params: dict[str, Any]
    world: dict[str, dict[str, str]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    #: False when nobody set the world up (a recorded log): any world value may hold.
    world_known: bool = True

    def __post_init__(self) -> None:
        self.system = spec_system(self.spec, len(self.saga_ids), params=self.params)
        self.models: dict[str, SpecParticipantModel] = {p.name: p for p in self.system.participants}
        self.states: dict[str, set] = {n: {m.init()} for n, m in self.models.items()}
        self.index = {s: i for i, s in enumerate(self.saga_ids)}
        self.seen: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in self.saga_ids}
        self.event_ids: set[str] = set()
        self.publishers = {e.name: [p.name for p in self.spec.participants if e.name in p.publishes] for e in self.spec.events}

    # -- observations ---------------------------------------------------------------
    def knob(self, saga: str, knob: str) -> str:
        return self.world.get(saga, {}).get(knob, self.spec.world[knob][0])

    def _fits(self, saga: str, alt) -> bool:
        if alt is None or not self.world_known:
            return True
        return all(self.knob(saga, k) == v for k, v in alt.world)

    def started(self, participant: str, saga: str, emitted: list[dict[str, Any]]) -> None:
        """``participant`` started ``saga`` by its trigger and published ``emitted``."""
        model = self.models[participant]
        i = self.index[saga]
        types = [e["eventType"] for e in emitted]
        nxt = set()
        for state in self.states[participant]:
            shared, slots = model._split(state)
            for reaction in model.triggers:
                for _label, slot, new_shared, emit, alt in model._run(reaction, slots[i], shared):
                    if alt is not None and list(emit) == types and self._fits(saga, alt):
                        nxt.add(model._join(new_shared, (*slots[:i], slot, *slots[i + 1:])))
        self._advance(participant, saga, "(start)", nxt, types)
        self._outputs(participant, saga, emitted)

    def handled(self, participant: str, event: dict[str, Any], duplicate: bool,
                emitted: list[dict[str, Any]]) -> None:
        """``participant`` was given ``event`` (a redelivery if ``duplicate``) and
        published ``emitted`` as a result."""
        saga = event["sagaId"]
        if saga not in self.index:
            return
        types = [e["eventType"] for e in emitted]
        if duplicate:
            # The spec assumes an idempotency store: a redelivered event changes nothing.
            if emitted:
                self.failures.append(Failure(
                    "model", participant, saga, event["eventType"],
                    f"{participant} published {', '.join(types)} again on a redelivered "
                    f"{event['eventType']} of saga {saga} (eventId {event['eventId']}); a duplicate must have no effect",
                ))
            return
        model = self.models[participant]
        msg = Msg(event["eventType"], self.index[saga], self._src(event))
        nxt = set()
        for state in self.states[participant]:
            for alt, out in model.choices(state, msg):
                if [m.type for m in out.publish] == types and self._fits(saga, alt):
                    nxt.add(out.state)
        self._advance(participant, saga, event["eventType"], nxt, types, msg)
        self._outputs(participant, saga, emitted)

    def _src(self, event: dict[str, Any]) -> str:
        pubs = self.publishers.get(event["eventType"]) or ["?"]
        return pubs[0]

    def _advance(self, participant: str, saga: str, on: str, nxt: set, types: list[str], msg: Msg | None = None) -> None:
        if nxt:
            self.states[participant] = nxt
            return
        allowed = set()
        model = self.models[participant]
        for state in self.states[participant]:
            if msg is not None:
                allowed.update(
                    tuple(m.type for m in out.publish) for alt, out in model.choices(state, msg) if self._fits(saga, alt)
                )
        want = " or ".join(sorted("[" + ", ".join(a) + "]" for a in allowed)) or "(nothing enabled)"
        self.failures.append(Failure(
            "model", participant, saga, on,
            f"{participant} on {on} of saga {saga} published [{', '.join(types)}]; the spec allows {want}",
        ))

    def _outputs(self, participant: str, saga: str, emitted: list[dict[str, Any]]) -> None:
        from sagaspec.spec.schemas import validate_event

        for e in emitted:
            if e.get("eventId") in self.event_ids:
                continue  # the same event published again after a crash
            self.event_ids.add(e.get("eventId"))
            problems = validate_event(e, spec=self.spec)
            if problems:
                self.failures.append(Failure("schema", participant, saga, e.get("eventType", "?"),
                                             f"{participant} published an invalid {e.get('eventType')}: {problems[0]}"))
                continue
            if e["sagaId"] not in self.index:
                self.failures.append(Failure("unknown-saga", participant, saga, e["eventType"],
                                             f"{participant} published {e['eventType']} for saga {e['sagaId']!r}, "
                                             f"which the suite never started (it handled saga {saga})"))
                continue
            self._provenance(participant, e)
            self.seen[e["sagaId"]].setdefault(e["eventType"], e)

    def _provenance(self, participant: str, e: dict[str, Any]) -> None:
        spec_event = self.spec.event(e["eventType"])
        seen = self.seen[e["sagaId"]]
        for f in spec_event.fields:
            src = f.source
            if not src or src == "new" or src.startswith(("world.", "sum(")):
                continue
            ev, _, name = src.partition(".")
            earlier = seen.get(ev)
            if earlier is None or name not in earlier or f.name not in e:
                continue
            if e[f.name] != earlier[name]:
                self.failures.append(Failure(
                    "provenance", participant, e["sagaId"], e["eventType"],
                    f"{participant} published {e['eventType']}.{f.name} = {e[f.name]!r}; "
                    f"the spec says it is {ev}.{name} = {earlier[name]!r}",
                ))

    # -- verdicts ---------------------------------------------------------------------
    def check_properties(self) -> None:
        """At quiescence: the spec's always and at-rest properties on the tracked states."""
        from itertools import product

        names = list(self.models)
        combos = list(product(*(sorted(self.states[n], key=repr) for n in names)))[:64]
        for combo in combos:
            view = dict(zip(names, combo, strict=True))

            class _V:
                def __getitem__(self, n, _v=view):
                    return _v[n]

            for prop in self.system.properties:
                if prop.kind in ("always", "at-rest") and not prop.pred(_V()):
                    self.failures.append(Failure("property", "system", "*", "-",
                                                 f"{prop.name} is false when the system is quiet"))
                    return
