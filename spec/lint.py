"""Static checks of a choreography design: holes you can see without running anything.

Each check is a rule with a stable id; :func:`lint_design` returns a :class:`Finding`
per hole, naming the event and the service concerned. The table rules compare the
services table (who subscribes, who publishes) with the reactions; the flow rules follow
reactions to ask whether every failure is compensated.

The flow rules reason about one saga with idempotent consumers (each reaction fires at
most once per saga) and treat a reaction's alternative outcomes as possible, not certain.
Two events *exclude* each other when they are alternative outcomes of the same reaction
(``PaymentProcessed`` vs ``PaymentFailed``), or follow from events that do. A forward
step *may already have happened* when a failure is published if it is a causal ancestor
of the failure (``OrderCreated`` before ``PaymentFailed``) or may run concurrently with it
(``InventoryReserved``, reserved in parallel with the payment). Every such step must be
compensated by some chain of reactions that starts at the failure. This is an
over-approximation of the behaviours; the model checker (``sagaspec check``) explores the
real interleavings.

Any saga spec is linted the same way (:func:`lint_spec`): the rules read only the
design's table and reactions and the spec's list of events, never an event's name.

>>> from sagaspec.spec.designs import get_design
>>> [f.rule for f in lint_design(get_design("corrected"))]
[]
>>> sorted({(f.rule, f.event) for f in lint_design(get_design("seed"))})[:2]
[('compensation-missing', 'PaymentFailed'), ('compensation-unguarded', 'PaymentRefunded')]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from sagaspec.spec.designs import Design, Reaction

if TYPE_CHECKING:
    from sagaspec.spec.sagafile import SagaSpec

__all__ = ["Finding", "RULES", "lint_design", "lint_spec", "FlowAnalysis"]

#: Rule id -> what it reports. The order is the report order.
RULES: dict[str, str] = {
    "unknown-event": "the design names an event that the saga does not declare",
    "subscribed-not-published": "a service subscribes to an event that no service publishes",
    "published-not-consumed": "an event is published, nobody subscribes, and it is not terminal",
    "published-never-emitted": "the table says a service publishes an event, but none of its "
    "reactions emits it",
    "subscribed-not-handled": "a service subscribes to an event but has no reaction to it",
    "emitted-not-declared": "a reaction emits an event its service does not list as published",
    "handled-not-subscribed": "a reaction handles an event its service does not subscribe to",
    "failure-not-handled": "a failure event that no service reacts to",
    "compensation-missing": "a failure event does not lead, through reactions, to the "
    "compensation of a forward step that may already have happened",
    "compensation-unguarded": "a reaction always publishes a compensation although the step it "
    "undoes need not have happened",
    "compensation-never-triggered": "a compensation that no reaction which can ever run publishes",
    "join-never-completes": "a join waits for an event that is never published, or for two "
    "events that never both happen in one saga",
    "reaction-unreachable": "a reaction to events of which none is ever published",
    "keyed-update-reads-total": "an update of a keyed variable reads a per-saga number, which is "
    "the saga's total over all keys, not the units of the key being updated",
}


@dataclass(frozen=True)
class Finding:
    """One hole in a design: which rule, which event, which service, and why."""

    rule: str
    event: str
    service: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.event} ({self.service}): {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "event": self.event, "service": self.service,
                "message": self.message}


def _alternatives(reaction: Reaction) -> str:
    return " | ".join(", ".join(alt) or "nothing" for alt in reaction.emits)


class FlowAnalysis:
    """Causal facts about a design's events, derived from its reactions (pure, cached)."""

    def __init__(self, design: Design) -> None:
        self.design = design
        self._ancestors: dict[str, frozenset[str]] = {}

    @cached_property
    def producible(self) -> frozenset[str]:
        """Events some run can publish, starting from the external triggers."""
        seen: set[str] = set()
        changed = True
        while changed:
            changed = False
            for r in self.design.reactions:
                if self._fires(r, seen):
                    for alt in r.emits:
                        for e in alt:
                            if e not in seen:
                                seen.add(e)
                                changed = True
        return frozenset(seen)

    @staticmethod
    def _fires(r: Reaction, available: set[str] | frozenset[str]) -> bool:
        if not r.on:
            return True
        return all(e in available for e in r.on) if r.join else any(e in available for e in r.on)

    def emitters(self, event: str) -> tuple[Reaction, ...]:
        return tuple(r for r in self.design.emitters(event) if self._fires(r, self.producible))

    def reaction_ancestors(self, r: Reaction) -> frozenset[str]:
        """Events that have certainly happened when ``r`` fires."""
        if not r.on:
            return frozenset()
        parts = [frozenset({t}) | self.ancestors(t) for t in r.on]
        if r.join:
            return frozenset().union(*parts)
        return frozenset.intersection(*parts)

    def ancestors(self, event: str) -> frozenset[str]:
        """Events that have certainly happened before ``event`` (its causal ancestors)."""
        if event in self._ancestors:
            return self._ancestors[event]
        self._ancestors[event] = frozenset()  # cycle guard: a cycle proves nothing
        emitters = self.emitters(event)
        result = (
            frozenset.intersection(*(self.reaction_ancestors(r) for r in emitters))
            if emitters else frozenset()
        )
        self._ancestors[event] = result - {event}
        return self._ancestors[event]

    def _base_exclusive(self, a: str, b: str) -> bool:
        ra, rb = self.emitters(a), self.emitters(b)
        if not ra or len(ra) != 1 or ra != rb:
            return False
        return not any(a in alt and b in alt for alt in ra[0].emits)

    def exclusive(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` never both happen in one saga."""
        left = {a} | self.ancestors(a)
        right = {b} | self.ancestors(b)
        return any(self._base_exclusive(x, y) for x in left for y in right if x != y)

    def may_precede(self, step: str, event: str) -> bool:
        """Whether ``step`` may have happened when ``event`` is published."""
        return (
            step in self.producible
            and step != event
            and not self.exclusive(step, event)
            and event not in self.ancestors(step)
        )

    def leads_to(self, event: str) -> frozenset[str]:
        """Events that some chain of reactions starting at ``event`` may publish."""
        maybe = {e for e in self.producible if not self.exclusive(e, event)}
        reached = {event}
        changed = True
        while changed:
            changed = False
            for r in self.design.reactions:
                if not r.on or not any(e in reached for e in r.on):
                    continue
                if r.join and not all(e in reached or e in maybe for e in r.on):
                    continue
                for alt in r.emits:
                    for e in alt:
                        if e not in reached:
                            reached.add(e)
                            changed = True
        return frozenset(reached - {event})


def _table_findings(d: Design, events: Sequence[str]) -> list[Finding]:
    out: list[Finding] = []
    mentioned = [(e, s) for e in d.events for s in (*d.publishers(e), *d.subscribers(e))]
    mentioned += [(e, r.service) for r in d.reactions for e in (*r.on, *(x for a in r.emits for x in a))]
    for e, s in mentioned:
        if e not in events:
            out.append(Finding("unknown-event", e, s, f"{e} is not an event of the saga; "
                               f"expected one of {', '.join(events)}"))
    for s in d.services:
        reactions = d.reactions_of(s.name)
        for e in s.subscribes:
            if not d.publishers(e):
                out.append(Finding("subscribed-not-published", e, s.name,
                                   f"{s.name} subscribes to {e}, but no service publishes it"))
            if not any(e in r.on for r in reactions):
                out.append(Finding("subscribed-not-handled", e, s.name,
                                   f"{s.name} subscribes to {e}, but none of its reactions "
                                   "handles it"))
        for e in s.publishes:
            if not d.subscribers(e) and e not in d.terminal:
                out.append(Finding("published-not-consumed", e, s.name,
                                   f"{s.name} publishes {e}, but no service subscribes to it "
                                   "and it is not terminal"))
            if not any(e in alt for r in reactions for alt in r.emits):
                out.append(Finding("published-never-emitted", e, s.name,
                                   f"{s.name} lists {e} as published, but no reaction of "
                                   f"{s.name} emits it: nothing triggers it"))
        for r in reactions:
            for e in sorted({e for alt in r.emits for e in alt} - set(s.publishes)):
                out.append(Finding("emitted-not-declared", e, s.name,
                                   f"a reaction of {s.name} emits {e}, which {s.name} does not "
                                   "list as published"))
            for e in r.on:
                if e not in s.subscribes:
                    out.append(Finding("handled-not-subscribed", e, s.name,
                                       f"a reaction of {s.name} handles {e}, but {s.name} does "
                                       "not subscribe to it"))
    return out


def _flow_findings(d: Design, rank) -> list[Finding]:
    flow = FlowAnalysis(d)
    out: list[Finding] = []
    undoers: dict[str, list[str]] = {}
    for comp, step in d.compensates.items():
        undoers.setdefault(step, []).append(comp)
    for failure in sorted(d.failures, key=rank):
        if failure not in flow.producible:
            continue
        publisher = ", ".join(d.publishers(failure)) or "nobody"
        if not d.reactions_to(failure):
            who = ", ".join(d.subscribers(failure))
            why = f"{who} subscribe(s) but do(es) not react" if who else "nobody subscribes to it"
            out.append(Finding("failure-not-handled", failure, publisher,
                               f"{failure} reports a failed step, but no service reacts to it "
                               f"({why})"))
        reached = flow.leads_to(failure)
        for step in sorted(undoers, key=rank):
            if not flow.may_precede(step, failure):
                continue
            if any(c in reached for c in undoers[step]):
                continue
            when = ("always follows" if step in flow.ancestors(failure)
                    else "may happen concurrently with")
            for comp in undoers[step]:
                owner = ", ".join(d.publishers(comp)) or "nobody"
                out.append(Finding("compensation-missing", failure, owner,
                                   f"{failure} {when} {step}, but no chain of reactions from "
                                   f"{failure} publishes {comp} to undo it"))
    for r in d.reactions:
        for comp, step in d.compensates.items():
            if not r.emits or not all(comp in alt for alt in r.emits):
                continue
            if step in flow.reaction_ancestors(r):
                continue
            trigger = " + ".join(r.on) or "the external trigger"
            out.append(Finding("compensation-unguarded", comp, r.service,
                               f"{r.service} always publishes {comp} on {trigger}, but "
                               f"{step} need not have happened then (outcomes: "
                               f"{_alternatives(r)}); publish {comp} only if {step} did"))
    out.extend(_reach_findings(d, flow, rank))
    return out


def _reach_findings(d: Design, flow: FlowAnalysis, rank) -> list[Finding]:
    """Parts of the design that no run gets to: reactions, joins, compensations."""
    out: list[Finding] = []
    for comp in sorted(d.compensates, key=rank):
        if comp in flow.producible:
            continue
        emitters = d.emitters(comp)
        owner = ", ".join(d.publishers(comp)) or ", ".join(dict.fromkeys(r.service for r in emitters)) or "nobody"
        if emitters:
            waits = "; ".join(" + ".join(r.on) for r in emitters)
            out.append(Finding("compensation-never-triggered", comp, owner,
                               f"{comp} undoes {d.compensates[comp]}, but the reactions that publish "
                               f"it (on {waits}) can never run: what they wait for is never published"))
        elif not d.publishers(comp):
            out.append(Finding("compensation-never-triggered", comp, owner,
                               f"{comp} undoes {d.compensates[comp]}, but no service publishes it"))
    for r in d.reactions:
        if not r.on:
            continue
        missing = [e for e in r.on if e not in flow.producible]
        if r.join and len(r.on) > 1:
            clash = next(((a, b) for i, a in enumerate(r.on) for b in r.on[i + 1:]
                          if a in flow.producible and b in flow.producible and flow.exclusive(a, b)), None)
            if missing:
                out.append(Finding("join-never-completes", missing[0], r.service,
                                   f"{r.service} waits for {' + '.join(r.on)}, but "
                                   f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                                   "never published"))
            elif clash:
                out.append(Finding("join-never-completes", clash[0], r.service,
                                   f"{r.service} waits for {' + '.join(r.on)}, but {clash[0]} and "
                                   f"{clash[1]} never both happen in one saga"))
            continue
        if len(missing) == len(r.on) and any(d.publishers(e) for e in r.on):
            # (an event nobody publishes at all is reported as subscribed-not-published)
            out.append(Finding("reaction-unreachable", r.on[0], r.service,
                               f"{r.service} reacts to {' or '.join(r.on)}, but no run publishes "
                               f"{'it' if len(r.on) == 1 else 'any of them'}: the reaction never runs"))
    return out


def lint_design(design: Design, events: Sequence[str] | None = None) -> list[Finding]:
    """Every finding of every rule on ``design``, in :data:`RULES` then event order.

    ``events`` are the saga's declared events (default: those of the shipped order saga).
    """
    if events is None:
        from sagaspec.spec.sagafile import shipped_spec

        events = shipped_spec("corrected").event_names
    order = {e: i for i, e in enumerate(events)}

    def rank(event: str) -> tuple[int, str]:
        return (order.get(event, len(order)), event)

    findings = _table_findings(design, events) + _flow_findings(design, rank)
    rule_rank = {r: i for i, r in enumerate(RULES)}
    unique = dict.fromkeys(findings)
    # Stable sort: within one rule and event, findings keep the causal order they were found in.
    return sorted(unique, key=lambda f: (rule_rank[f.rule], rank(f.event)))


def lint_spec(spec: SagaSpec) -> list[Finding]:
    """Every finding on a saga spec's design (its events are the catalogue), and on its
    keyed variables."""
    return lint_design(spec.design(), spec.event_names) + _keyed_findings(spec)


def _keyed_findings(spec: SagaSpec) -> list[Finding]:
    out = []
    for p in spec.participants:
        keyed = {v.name: v.key for v in p.shared if v.key}
        numbers = {v.name for v in p.state if v.kind in ("int", "counter")}
        for r in p.reactions:
            for a in r.alternatives:
                for var, expr in a.updates:
                    if var not in keyed:
                        continue
                    for ref in sorted(set(getattr(expr, "refs", ())) & numbers):
                        units = spec.key(keyed[var]).units
                        event = r.on[0] if r.on else (a.emit[0] if a.emit else "")
                        out.append(Finding(
                            "keyed-update-reads-total", event, p.name,
                            f"{expr.where}: {var} is kept per {keyed[var]}, but its update `{expr.text}` "
                            f"reads {ref}, one number per saga: a saga of several {keyed[var]}s would "
                            f"move each by its total; use {units} (that {keyed[var]}'s units)"))
    return out
