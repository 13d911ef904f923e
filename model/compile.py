"""The bridge from a saga spec to the explorer: participants and properties from data.

:func:`spec_system` turns a loaded :class:`~sagaspec.spec.sagafile.SagaSpec` into an
ordinary :class:`~sagaspec.model.system.System`, so symmetry, crashes, FIFO, liveness,
shrinking and replay work as for a hand-written model.

Local state of a compiled participant
-------------------------------------
One *slot* per saga, a named tuple of the participant's per-saga variables (field order as
declared). A participant with shared variables has the state ``(shared..., slots)``, a
named tuple too; otherwise its state is the tuple of slots. Slots are interned, so equal
slots are one object across all states.

Semantics of a reaction
-----------------------
On a message, the reaction for its type runs on the message's saga slot. Its enabled
alternatives are those whose ``when`` holds (an ``otherwise`` alternative is enabled when
no other is); each is one possible outcome, so several enabled alternatives are a
nondeterministic choice (a world decision, or the bus's timing). Updates are evaluated
together in the state before the step. A counter saturates at its maximum; any other
value outside its variable's domain stops the run with the update's ``FILE:LINE:COL``.
A join first records the arrival in its memory variable and waits (``wait (join)``)
until every joined event has arrived. A subscribed event without a reaction, or a
reaction with no enabled alternative, is consumed with no change (``ignore (...)``).
Reaction results are memoized per (slot, shared values), so CEL is evaluated once per
distinct situation, not once per explored state.

Keyed shared variables
----------------------
A keyed variable (``key: sku``) holds one value per key in a real service. The model
keeps one key: every saga has one line of that key, of ``units`` units (the key's
``units`` param), so all sagas compete for it, the worst case for the resource. A keyed
variable is then one value, like any shared variable, and the state vector is what it
would be without keys. How a real service evaluates a keyed variable per key of a
saga's lines is :func:`run_per_key`; with one line of one key it is the model's step.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Iterable

from sagaspec.model.participant import Msg, Outcome, Participant
from sagaspec.model.properties import Property
from sagaspec.model.system import System
from sagaspec.spec.sagafile import (
    Alternative,
    SagaSpec,
    SpecParticipant,
    SpecProperty,
    SpecReaction,
    Var,
)

from sagaspec.errors import ModelError, SpecError, UsageError

__all__ = ["spec_system", "SpecParticipantModel", "SpecTriggerModel", "spec_properties", "run_per_key"]


def _class_name(name: str, suffix: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + suffix


def _new_record_class(name: str, fields: tuple[str, ...]) -> type:
    cls = namedtuple(name, fields)
    cls.__module__ = __name__
    return cls


#: The named tuple class of a slot or state with these name and fields: one class for
#: every model of the same participant (a conformance run builds a service's model per
#: case; making a named tuple class is most of that model's cost). Its instances are
#: plain tuples to any code here (equality and hashing by value), so sharing the class
#: changes no state or result.
_record_class = functools.cache(_new_record_class)


class _Domain:
    """A variable's resolved domain: checks and saturates values."""

    __slots__ = ("var", "low", "high", "values")

    def __init__(self, var: Var, params: dict) -> None:
        self.var = var
        self.values = var.values
        self.low = var.low(params) if var.low is not None else None
        self.high = var.high(params) if var.high is not None else None
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ModelError(f"{var.where}: {var.name}: min {self.low} is above max {self.high}")

    def initial(self, params: dict):
        v = self.var
        if v.initial is not None:
            value = v.initial(params)
        elif v.kind == "enum":
            value = v.values[0]
        elif v.kind == "bool":
            value = False
        else:
            value = self.low if v.kind == "int" else 0
        return self.check(value, v.where, "initial value")

    def check(self, value, where: str, what: str):
        v = self.var
        if v.kind == "counter":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ModelError(f"{where}: {what} of counter {v.name} is {value!r}; counters are 0 or more")
            return value if value <= self.high else self.high
        if v.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
                raise ModelError(f"{where}: {what} of {v.name} is {value!r}, outside {self.low}..{self.high}")
            return value
        if v.kind == "bool":
            if not isinstance(value, bool):
                raise ModelError(f"{where}: {what} of {v.name} is {value!r}; expected true or false")
            return value
        if value not in v.values:
            raise ModelError(f"{where}: {what} of {v.name} is {value!r}; expected one of {', '.join(v.values)}")
        return value


class SpecParticipantModel(Participant):
    """A participant interpreted from its spec (see the module docstring)."""

    def __init__(self, spec: SpecParticipant, sagas: int, params: dict, volatile: frozenset[str],
                 keys: tuple = ()) -> None:
        self.spec = spec
        self.name = spec.name
        self.subscribes = frozenset(spec.subscribes)
        self.publishes = frozenset(spec.publishes)
        self.emits = frozenset(e for r in spec.reactions for a in r.alternatives for e in a.emit)
        self.sagas = sagas
        self.params = dict(params)
        self.slot_cls = _record_class(_class_name(spec.name, "Slot"), tuple(v.name for v in spec.state))
        self.shared_names = tuple(v.name for v in spec.shared)
        self.state_cls = None
        if spec.shared:
            self.state_cls = _record_class(_class_name(spec.name, "State"), (*self.shared_names, "slots"))
        self.domains = {v.name: _Domain(v, params) for v in (*spec.state, *spec.shared)}
        self.index = {v.name: i for i, v in enumerate(spec.state)}
        self.sindex = {n: i for i, n in enumerate(self.shared_names)}
        self.by_event: dict[str, SpecReaction] = {}
        for r in spec.reactions:
            for ev in r.on:
                self.by_event[ev] = r
        self.triggers = tuple(r for r in spec.reactions if r.kind == "trigger")
        #: Keys of this participant's keyed variables (the model has one key of each).
        self.keys = keys
        self.volatile = tuple(i for i, v in enumerate(spec.state) if v.name in volatile)
        self.svolatile = tuple(i for i, v in enumerate(spec.shared) if v.name in volatile)
        self._interned: dict = {}
        self._memo: dict = {}
        init_slot = self._slot(tuple(self.domains[v.name].initial(params) for v in spec.state))
        self._init_slot = init_slot
        self._init_shared = tuple(self.domains[n].initial(params) for n in self.shared_names)

    # -- state plumbing

    def _slot(self, values: tuple):
        s = self._interned.get(values)
        if s is None:
            s = self._interned[values] = self.slot_cls(*values)
        return s

    def _split(self, state):
        if self.state_cls is None:
            return (), state
        return tuple(state[:-1]), state[-1]

    def _join(self, shared: tuple, slots: tuple):
        if self.state_cls is None:
            return slots
        return self.state_cls(*shared, slots)

    def init(self):
        return self._join(self._init_shared, (self._init_slot,) * self.sagas)

    def permute(self, state, perm):
        shared, slots = self._split(state)
        out = list(slots)
        for i, v in enumerate(slots):
            out[perm[i]] = v
        return self._join(shared, tuple(out))

    def restart(self, state):
        if not self.volatile and not self.svolatile:
            return state
        shared, slots = self._split(state)
        init = self._init_slot
        new_slots = []
        for slot in slots:
            values = list(slot)
            for i in self.volatile:
                values[i] = init[i]
            new_slots.append(self._slot(tuple(values)))
        shared = list(shared)
        for i in self.svolatile:
            shared[i] = self._init_shared[i]
        return self._join(tuple(shared), tuple(new_slots))

    # -- reactions

    def _data(self, slot, shared: tuple) -> dict:
        data = dict(self.params)
        data.update(zip(self.slot_cls._fields, slot, strict=True))
        data.update(zip(self.shared_names, shared, strict=True))
        return data

    def _run(self, reaction: SpecReaction, slot, shared: tuple) -> tuple:
        """``((label, new slot, new shared, emits, alternative), ...)`` for ``reaction`` on
        ``slot`` (alternative ``None``: none was enabled)."""
        key = (id(reaction), slot, shared)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        data = self._data(slot, shared)
        enabled = []
        fallback = None
        for alt in reaction.alternatives:
            if alt.otherwise:
                fallback = alt
                continue
            if alt.when is None:
                enabled.append(alt)
                continue
            ok = alt.when(data)
            if not isinstance(ok, bool):  # pragma: no cover - the checker types guards bool
                raise ModelError(f"{alt.when.where}: guard gave {ok!r}, not a bool")
            if ok:
                enabled.append(alt)
        if not enabled and fallback is not None:
            enabled.append(fallback)
        outs = []
        for alt in enabled:
            new_values = list(slot)
            new_shared = list(shared)
            computed = [(var, expr(data), expr.where) for var, expr in alt.updates]
            for var, value, where in computed:
                value = self.domains[var].check(value, where, "update")
                if var in self.index:
                    new_values[self.index[var]] = value
                else:
                    new_shared[self.sindex[var]] = value
            label = _label(alt.label, data)
            outs.append((label, self._slot(tuple(new_values)), tuple(new_shared), alt.emit, alt))
        if not outs:
            outs.append(("ignore (no alternative enabled)", slot, shared, (), None))
        result = tuple(outs)
        self._memo[key] = result
        return result

    def _outcomes(self, results, state, i: int) -> tuple[Outcome, ...]:
        shared, slots = self._split(state)
        out = []
        for label, new_slot, new_shared, emit, _alt in results:
            if "{saga}" in label:
                label = label.replace("{saga}", str(i))
            new_slots = (*slots[:i], new_slot, *slots[i + 1 :])
            out.append(
                Outcome(label, self._join(new_shared, new_slots), tuple(Msg(e, i, self.name) for e in emit))
            )
        return tuple(out)

    def on_event(self, state, msg: Msg):
        return self._react(state, msg)[0]

    def choices(self, state, msg: Msg) -> tuple[tuple[Alternative | None, Outcome], ...]:
        """:meth:`on_event`'s outcomes, each with the spec alternative it comes from.

        The alternative is ``None`` when none ran: no reaction to ``msg``, a join still
        waiting, or no alternative enabled. Lets a caller read a decision as data
        (``alternative.world``, ``alternative.emit``) instead of from the label.
        """
        outcomes, alts = self._react(state, msg)
        return tuple(zip(alts, outcomes, strict=True))

    def _react(self, state, msg: Msg) -> tuple[tuple[Outcome, ...], tuple]:
        reaction = self.by_event.get(msg.type)
        if reaction is None:
            return (Outcome("ignore (no reaction)", state),), (None,)
        shared, slots = self._split(state)
        i = msg.saga
        slot = slots[i]
        if reaction.kind == "join":
            values = list(slot)
            for ev, var in reaction.memory:
                if ev == msg.type:
                    values[self.index[var]] = True
            slot = self._slot(tuple(values))
            if not all(slot[self.index[var]] for _ev, var in reaction.memory):
                new_slots = (*slots[:i], slot, *slots[i + 1 :])
                return (Outcome("wait (join)", self._join(shared, new_slots)),), (None,)
        results = self._run(reaction, slot, shared)
        return self._outcomes(results, self._join(shared, slots), i), tuple(r[4] for r in results)

    # -- per key (a real service's keyed variables) -------------------------------------

    def keyed_choices(self, slot, shared: tuple, event: str | None, per_key: dict, lines: dict) -> list:
        """The outcomes of the reaction to ``event`` (``None``: the trigger reactions) of a
        real service whose keyed variables hold one value per key (see :func:`run_per_key`).

        ``[(alternative, label, slot, shared, per_key, emit), ...]``; the alternative is
        ``None`` when none ran (no reaction, a join still waiting, none enabled).
        """
        if event is None:
            out = []
            for reaction in self.triggers:
                out += [o for o in run_per_key(self, reaction, slot, shared, per_key, lines) if o[0] is not None]
            return out
        reaction = self.by_event.get(event)
        if reaction is None:
            return [(None, "ignore (no reaction)", slot, shared, per_key, ())]
        if reaction.kind == "join":
            values = list(slot)
            for ev, var in reaction.memory:
                if ev == event:
                    values[self.index[var]] = True
            slot = self._slot(tuple(values))
            if not all(slot[self.index[var]] for _ev, var in reaction.memory):
                return [(None, "wait (join)", slot, shared, per_key, ())]
        return run_per_key(self, reaction, slot, shared, per_key, lines)


def _keyed_check(domain: _Domain, value, where: str):
    """A real service's value of an int: at least its minimum, but not bounded above by
    the model's bound (a real stock, a real order's units, may be larger)."""
    if domain.var.kind == "int" and isinstance(value, int) and not isinstance(value, bool) \
            and domain.high is not None and value > domain.high:
        if value < domain.low:  # pragma: no cover - low <= high
            raise ModelError(f"{where}: update of {domain.var.name} is {value!r}, below {domain.low}")
        return value
    return domain.check(value, where, "update")


def run_per_key(model: SpecParticipantModel, reaction: SpecReaction, slot, shared: tuple,
                per_key: dict, lines: dict) -> list:
    """``reaction`` of a real service with keyed variables, evaluated per key.

    ``per_key`` maps each keyed variable to ``{key value: value}`` (a key not listed has
    its variable's minimum: nothing of it); ``lines`` maps a key name (``sku``) to the
    saga's units per key value, its lines' quantities added up per key (empty: the
    saga's lines are not known here). The positions of keyed variables in ``shared`` are
    not read.

    An alternative's guard that reads no keyed variable runs once; one that reads the
    keyed variables of key K runs once per key value of the saga's lines of K, with
    those variables at that key and K's ``units`` param at the saga's units of it: an
    alternative that updates a keyed variable (takes or gives back a resource) is
    enabled when its guard holds for *every* key (all or nothing), any other when it
    holds for *some* key (that key decides it, e.g. out of stock). Updates of keyed
    variables run per key likewise; every other update once, with each ``units`` param
    at the saga's total units of its key. An int may exceed its model bound here.
    In the model, one line of one key with ``units`` units: the same as
    :meth:`SpecParticipantModel._run`.
    """
    spec = model.spec
    keyed = {v.name: v.key for v in spec.shared if v.key}
    keys = {k.name: k for k in model.keys}
    base = model._data(slot, shared)
    for name in keyed:
        base.pop(name, None)
    for k in keys.values():
        base[k.units] = sum((lines.get(k.name) or {}).values())

    def at(key_name: str, kv: str, data: dict, values: dict) -> dict:
        d = dict(data)
        for var, kn in keyed.items():
            if kn == key_name:
                d[var] = values[var].get(kv, model.domains[var].low)
        d[keys[key_name].units] = lines[key_name][kv]
        return d

    def key_of(expr) -> str | None:
        return next((keyed[r] for r in getattr(expr, "refs", ()) if r in keyed), None)

    enabled = []
    fallback = None
    for alt in reaction.alternatives:
        if alt.otherwise:
            fallback = alt
            continue
        if alt.when is None:
            enabled.append(alt)
            continue
        kn = key_of(alt.when)
        if kn is None:
            ok = alt.when(base) is True
        else:
            kvs = sorted(lines.get(kn) or {})
            truths = [alt.when(at(kn, kv, base, per_key)) is True for kv in kvs]
            takes = any(var in keyed for var, _e in alt.updates)
            ok = bool(truths) and (all(truths) if takes else any(truths))
        if ok:
            enabled.append(alt)
    if not enabled and fallback is not None:
        enabled.append(fallback)
    out = []
    for alt in enabled:
        new_slot = list(slot)
        new_shared = list(shared)
        new_keyed = {var: dict(values) for var, values in per_key.items()}
        for var, expr in alt.updates:
            kn = keyed.get(var)
            if kn is None:
                value = _keyed_check(model.domains[var], expr(base), expr.where)
                if var in model.index:
                    new_slot[model.index[var]] = value
                else:
                    new_shared[model.sindex[var]] = value
                continue
            for kv in sorted(lines.get(kn) or {}):
                value = _keyed_check(model.domains[var], expr(at(kn, kv, base, per_key)), expr.where)
                new_keyed.setdefault(var, {})[kv] = value
        out.append((alt, _label(alt.label, base), model._slot(tuple(new_slot)), tuple(new_shared), new_keyed, alt.emit))
    if not out:
        out.append((None, "ignore (no alternative enabled)", slot, shared, per_key, ()))
    return out


class SpecTriggerModel(SpecParticipantModel):
    """A spec participant with spontaneous reactions (``trigger: true``).

    A separate class because the explorer skips participants whose class does not
    override :meth:`Participant.internal`, which saves a lookup per state for the rest.
    """

    def internal(self, state):
        shared, slots = self._split(state)
        out = []
        for i, slot in enumerate(slots):
            for reaction in self.triggers:
                results = [r for r in self._run(reaction, slot, shared) if r[4] is not None]
                out.extend(self._outcomes(results, state, i))
        return tuple(out)


def _label(template: str, data: dict) -> str:
    if "{" not in template:
        return template
    out = template
    for k, v in data.items():
        token = "{" + k + "}"
        if token in out:
            out = out.replace(token, str(v).lower() if isinstance(v, bool) else str(v))
    return out


# ------------------------------------------------------------------------------ properties


def spec_properties(spec: SagaSpec, parts: dict[str, SpecParticipantModel], params: dict) -> tuple[Property, ...]:
    """The spec's properties as explorer :class:`Property` objects."""
    return tuple(_property(p, parts, params) for p in spec.properties)


def _refs(expr_refs: Iterable[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for ref in sorted(expr_refs):
        if "." in ref:
            pname, _, var = ref.partition(".")
            out.append((pname, var))
    return tuple(out)


def _per_saga(refs, parts, params, expr):
    """``f(view, sagas) -> list of per-saga bools`` of ``expr``.

    Memoized per combination of the saga's slots (and the shared values read), so the
    expression runs once per distinct situation of one saga, whatever the others do.
    """
    names = tuple(dict.fromkeys(p for p, _v in refs))
    models = tuple(parts[n] for n in names)
    with_shared = tuple(
        k for k, n in enumerate(names) if any(p == n and v not in parts[n].index for p, v in refs)
    )
    has_state_cls = tuple(m.state_cls is not None for m in models)
    cache: dict = {}
    getters = []
    for pname, var in refs:
        m = parts[pname]
        k = names.index(pname)
        if var in m.index:
            getters.append((k, m.index[var], False, f"{pname}.{var}"))
        else:
            getters.append((k, m.sindex[var], True, f"{pname}.{var}"))

    def compute(row, shared):
        data = dict(params)
        for k, idx, is_shared, full in getters:
            data[full] = shared[k][idx] if is_shared else row[k][idx]
        return bool(expr(data))

    def evaluate(view, sagas: int):
        locs = [view[n] for n in names]
        slots = [s[-1] if cls else s for s, cls in zip(locs, has_state_cls, strict=True)]
        shared = {k: locs[k] for k in with_shared}
        skey = tuple(locs[k][:-1] for k in with_shared)
        out = []
        get = cache.get
        for row in zip(*slots, strict=True):
            key = (row, skey)
            hit = get(key)
            if hit is None:
                hit = cache[key] = compute(row, shared)
            out.append(hit)
        return out

    return evaluate


def _over_all(refs, parts, params, expr):
    names = tuple(dict.fromkeys(p for p, _v in refs))
    models = [parts[n] for n in names]
    cache: dict = {}

    def evaluate(view) -> bool:
        locals_ = tuple(view[n] for n in names)
        hit = cache.get(locals_)
        if hit is None:
            data = dict(params)
            split = {n: m._split(s) for n, m, s in zip(names, models, locals_, strict=True)}
            for pname, var in refs:
                m = parts[pname]
                shared, slots = split[pname]
                if var in m.index:
                    data[f"{pname}.{var}"] = [s[m.index[var]] for s in slots]
                else:
                    data[f"{pname}.{var}"] = shared[m.sindex[var]]
            hit = cache[locals_] = bool(expr(data))
        return hit

    return evaluate


def _description(text: str, params: dict) -> str:
    return _label(text, params)


def _property(p: SpecProperty, parts, params) -> Property:
    sagas = params["sagas"]
    desc = _description(p.description, params)
    for ref in (*p.expr.refs, *(p.target.refs if p.target is not None else ())):
        pname = ref.partition(".")[0]
        if "." in ref and pname not in parts:  # pragma: no cover - the loader checks names
            raise SpecError(f"{p.where}: unknown participant {pname!r}")
    if p.over == "all":
        ev = _over_all(_refs(p.expr.refs), parts, params, p.expr)
        pred = ev
    elif p.kind in ("leads_to", "eventually"):
        # About each saga on its own: saga i eventually meets the target (after p, for
        # leads_to), not "all sagas at one moment".
        src = _per_saga(_refs(p.expr.refs), parts, params, p.expr)
        if p.kind == "eventually":
            return Property.eventually(
                p.name, lambda view, i: src(view, sagas)[i], desc, per_saga=True
            )
        dst = _per_saga(_refs(p.target.refs), parts, params, p.target)
        return Property.leads_to(
            p.name,
            lambda view, i: src(view, sagas)[i],
            lambda view, i: dst(view, sagas)[i],
            desc,
            per_saga=True,
        )
    else:
        ev = _per_saga(_refs(p.expr.refs), parts, params, p.expr)
        if p.kind == "sometimes":
            def pred(view, ev=ev):
                return any(ev(view, sagas))
        else:
            def pred(view, ev=ev):
                return all(ev(view, sagas))
        # Front ends name the sagas a violation is about: the truth per saga.
        pred.by_saga = lambda view, ev=ev: ev(view, sagas)
    # What it reads, for the partial-order reduction (model/_por.py): these variables,
    # of saga i only in instance i of a per-saga property (all sagas' for ``over: all``).
    pred.reads = (_refs(p.expr.refs), p.over == "all")
    make = {"always": Property.always, "sometimes": Property.sometimes, "at_rest": Property.at_rest}[p.kind]
    return make(p.name, pred, desc)


# ------------------------------------------------------------------------------ systems


def _keys_of(spec: SagaSpec, part: SpecParticipant) -> tuple:
    """The keys of ``part``'s keyed variables."""
    names = dict.fromkeys(v.key for v in part.shared if v.key)
    return tuple(spec.key(n) for n in names)


def spec_system(
    spec: SagaSpec,
    sagas: int | None = None,
    *,
    params: dict | None = None,
    volatile: Iterable[str] | None = None,
    name: str | None = None,
    meta: dict | None = None,
) -> System:
    """``spec`` as a checkable :class:`System` with ``sagas`` interchangeable sagas.

    ``params`` overrides the spec's params; ``volatile`` (participant names) makes those
    participants' join memory volatile instead of what the spec declares.
    """
    sagas = spec.default_sagas if sagas is None else sagas
    if isinstance(sagas, bool) or not isinstance(sagas, int) or not 1 <= sagas <= spec.max_sagas:
        raise UsageError(f"sagas must be an integer from 1 to {spec.max_sagas}, got {sagas!r}")
    values = spec.resolve_params(sagas, params)
    if volatile is None:
        vol = {p.name: frozenset(v.name for v in (*p.state, *p.shared) if v.volatile) for p in spec.participants}
    else:
        chosen = frozenset(volatile)
        joins = {p.name: frozenset(var for r in p.reactions for _e, var in r.memory) for p in spec.participants}
        unknown = sorted(chosen - {n for n, j in joins.items() if j})
        if unknown:
            has = ", ".join(n for n, j in joins.items() if j) or "none"
            raise UsageError(f"volatile: only participants with join memory can lose it ({has}), got {', '.join(unknown)}")
        vol = {p.name: (joins[p.name] if p.name in chosen else frozenset()) for p in spec.participants}
    parts = {
        p.name: (SpecTriggerModel if any(r.kind == "trigger" for r in p.reactions) else SpecParticipantModel)(
            p, sagas, values, vol[p.name], _keys_of(spec, p)
        )
        for p in spec.participants
    }
    props = spec_properties(spec, parts, values)
    return System(
        participants=tuple(parts.values()),
        properties=props,
        name=name or spec.name,
        sagas=sagas,
        description=spec.title + (f"; {spec.summary}" if spec.summary else ""),
        meta=meta if meta is not None else {"spec": spec.shipped or spec.source, "sagas": sagas, "params": {k: v for k, v in values.items() if k != "sagas"}},
    )
