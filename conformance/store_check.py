"""The spec's properties a bus cannot show, judged on the participants' real variables.

A property that reads a *shared* variable (a stock level every saga draws from) or
quantifies over all sagas (``over: all``) is not something one saga's events tell: the
bus monitor skips it. At the end of a run, once the system is quiet, each participant
reports its spec variables (per saga and shared) through the runners' ``variables``
control op; they are laid out as the compiled model's global state and the spec's own
compiled property (the one ``check`` explores) is evaluated on them.

A participant that cannot report its variables (``available: false``, no answer) leaves
each property reading it *not judged*, with the reason: never held.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sagaspec.spec.sagafile import SagaSpec, SpecProperty

__all__ = ["StoreVerdict", "bus_blind", "judge_variables", "in_chunks", "merge_variables"]

HELD, VIOLATED, NOT_JUDGED = "held", "violated", "not judged"

#: Sagas asked for per ``variables`` request (keeps each reply well under a broker's
#: message size limit on long runs).
CHUNK = 300


def in_chunks(saga_ids: list[str], size: int = CHUNK) -> list[list[str]]:
    """``saga_ids`` in requests of at most ``size`` (one, possibly empty, at least)."""
    return [saga_ids[i:i + size] for i in range(0, len(saga_ids), size)] or [[]]


def merge_variables(parts: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One answer per participant from the answers to several ``variables`` requests;
    a participant not available in one of them is not available."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for name, r in part.items():
            have = out.get(name)
            if have is not None and not have.get("available"):
                continue
            if have is None or not r.get("available"):
                out[name] = {**r, "sagas": dict(r.get("sagas") or {})}
                continue
            have["sagas"].update(r.get("sagas") or {})
            have["shared"] = r.get("shared", have.get("shared"))
    return out


@dataclass
class StoreVerdict:
    """One property judged on the stores: ``held``, ``violated`` or ``not judged``."""

    name: str
    verdict: str
    reason: str = ""
    #: Sagas for which a per-saga property is false.
    sagas: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def bus_blind(spec: SagaSpec) -> list[SpecProperty]:
    """The ``always`` and ``at_rest`` properties the bus monitor cannot judge: those
    reading a shared variable, and those over all sagas (it sees one saga at a time)."""
    from sagaspec.conformance.history import HistoryModel
    from sagaspec.conformance.models import suite_model

    hidden = HistoryModel(suite_model(spec, 1)).not_judged
    return [sp for sp in spec.properties if sp.kind in ("always", "at_rest")
            and (sp.name in hidden or sp.over == "all")]


def _readers(sp: SpecProperty) -> set[str]:
    refs = set(sp.expr.refs) | (set(sp.target.refs) if sp.target is not None else set())
    return {r.partition(".")[0] for r in refs if "." in r}


class _View:
    def __init__(self, states: dict[str, Any]) -> None:
        self._states = states

    def __getitem__(self, name: str) -> Any:
        return self._states[name]


def widened_params(spec: SagaSpec, params: dict[str, Any]) -> tuple:
    """The spec's params, each bound raised to the value the services report when that is
    above it: a real stock level (a total per key) is what they run with."""
    return tuple(dataclasses.replace(p, high=params[p.name])
                 if isinstance(params.get(p.name), int) and isinstance(p.high, int) and params[p.name] > p.high
                 else p for p in spec.params)


def judge_variables(spec: SagaSpec, saga_ids: list[str], replies: dict[str, dict[str, Any] | None],
                    properties: Iterable[SpecProperty], *, at_rest: bool = True) -> dict[str, StoreVerdict]:
    """Judge ``properties`` on the participants' variables.

    ``replies`` maps each participant to its answer to the ``variables`` op
    (``{"available": true, "sagas": {ID: {VAR: VALUE}}, "shared": {...}, "params": {...}}``,
    or ``{"available": false, "reason": ...}``, or ``None`` when it did not answer). Saga
    ``i`` of the model is ``saga_ids[i]``. ``at_rest=False`` (the run did not go quiet)
    leaves the ``at_rest`` properties not judged.
    """
    from sagaspec.model.compile import spec_system

    props = list(properties)
    out: dict[str, StoreVerdict] = {}
    missing: dict[str, str] = {}
    for p in spec.participants:
        r = replies.get(p.name)
        if r is None:
            missing[p.name] = f"{p.name} did not report its variables"
        elif not r.get("available"):
            missing[p.name] = f"{p.name}'s variables are not available: {r.get('reason') or 'no reason given'}"
    params: dict[str, Any] = next((dict(r.get("params") or {}) for n, r in replies.items()
                                   if n not in missing and r is not None), {})
    params.pop("sagas", None)
    states: dict[str, Any] = {}
    system = None
    if saga_ids:
        try:
            roomy = dataclasses.replace(spec, bounds={**spec.bounds, "max_sagas": max(len(saga_ids), spec.max_sagas)},
                                        params=widened_params(spec, params))
            system = spec_system(roomy, len(saga_ids), params=params)
        except Exception as exc:  # params a service reported that the spec refuses
            for sp in props:
                out[sp.name] = StoreVerdict(sp.name, NOT_JUDGED, f"the services' params do not fit the spec: {exc}")
            return out
        for part in system.participants:
            if part.name in missing:
                continue
            r = replies[part.name] or {}
            try:
                per = r.get("sagas") or {}
                slots = tuple(part._slot(tuple(per[s][f] for f in part.slot_cls._fields)) for s in saga_ids)
                shared = tuple((r.get("shared") or {})[n] for n in part.shared_names)
            except (KeyError, TypeError) as exc:
                missing[part.name] = f"{part.name} reported no value of {exc} (not the spec's variables)"
                continue
            states[part.name] = part._join(shared, slots)
    compiled = {p.name: p for p in system.properties} if system is not None else {}
    view = _View(states)
    for sp in props:
        blind = sorted(_readers(sp) & set(missing))
        if blind:
            out[sp.name] = StoreVerdict(sp.name, NOT_JUDGED, "; ".join(missing[n] for n in blind))
            continue
        if sp.kind == "at_rest" and not at_rest:
            out[sp.name] = StoreVerdict(sp.name, NOT_JUDGED, "the run did not go quiet")
            continue
        if system is None:
            out[sp.name] = StoreVerdict(sp.name, HELD, "no saga was started")
            continue
        prop = compiled[sp.name]
        by_saga = getattr(prop.pred, "by_saga", None)
        try:
            if by_saga is not None:
                bad = [s for s, ok in zip(saga_ids, by_saga(states), strict=True) if not ok]
            else:
                bad = [] if prop.pred(view) else ["*"]
        except Exception as exc:  # a value the spec's expression cannot read
            out[sp.name] = StoreVerdict(sp.name, NOT_JUDGED, f"cannot evaluate on the variables: {exc}")
            continue
        if bad:
            where = "over all sagas" if bad == ["*"] else "for " + ", ".join(bad[:5])
            out[sp.name] = StoreVerdict(sp.name, VIOLATED, f"false on the stores {where}: {sp.description}",
                                        [] if bad == ["*"] else bad)
        else:
            out[sp.name] = StoreVerdict(sp.name, HELD)
    return out
