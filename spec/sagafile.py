"""The saga spec file: one YAML (or JSON) file that declares a whole saga as data.

A spec declares the saga's **events** (payload fields as JSON Schema, a role, which event
a compensation undoes, where each field's value comes from), its **participants** (state
variables with finite domains, reactions with guarded alternatives written in CEL), its
**properties** (``always``, ``at_rest``, ``eventually``, ``sometimes``, ``leads_to``),
the **world** knobs that decide alternatives outside the services' control (with
**rules** that decide a knob from the world's data, for a real world), the **keys** of
shared variables kept per key (stock per sku: one key in the model, per key of a saga's
lines in a real service), how the conformance suite **draws** a trigger for a world kept
per key (``draw:``), and default **bounds**. The format itself is a JSON Schema (``spec schema``); every other check
(names, types, domains) runs here, when the file is loaded, and reports
``FILE:LINE:COL: what was expected``.

:func:`load_spec` returns a :class:`SagaSpec`; :mod:`sagaspec.model.compile` turns it into
participants and properties for the explorer, :meth:`SagaSpec.design` into the
:class:`~sagaspec.spec.designs.Design` that lint and the docs read.

>>> s = shipped_spec("corrected")
>>> s.name, [p.name for p in s.participants], len(s.properties)
('order-corrected', ['order', 'payment', 'inventory', 'notification'], 15)
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from sagaspec.spec._cel import CelEnv, Expr, Literal, scan
from sagaspec.spec._yamlpos import Located, load_located
from sagaspec.spec.designs import Design, Reaction, Service

from sagaspec.errors import DesignError, InputError, SpecError

__all__ = [
    "FORMAT_SCHEMA",
    "SHIPPED",
    "Param",
    "Var",
    "Alternative",
    "SpecReaction",
    "SpecParticipant",
    "SpecEvent",
    "SpecField",
    "SpecProperty",
    "SpecKey",
    "FieldDraw",
    "WorldRule",
    "SagaSpec",
    "load_spec",
    "parse_spec",
    "shipped_spec",
    "shipped_names",
    "resolve_spec",
    "format_schema",
    "decimal_text",
]

#: Shipped specs: short name -> file name in ``sagaspec/spec/sagas``.
SHIPPED = {"seed": "order-seed.saga.yaml", "corrected": "order-corrected.saga.yaml"}

ROLES = ("trigger", "step", "failure", "compensation", "outcome")
KINDS = ("always", "at_rest", "eventually", "sometimes", "leads_to")
_CEL_TYPE = {"enum": "string", "bool": "bool", "int": "int", "counter": "int"}


def decimal_text(n: int, decimals: int) -> str:
    """``n`` / 10^``decimals`` written with exactly ``decimals`` fraction digits.

    >>> decimal_text(1234, 2), decimal_text(5, 2), decimal_text(-5, 2)
    ('12.34', '0.05', '-0.05')
    """
    from decimal import Decimal

    return f"{Decimal(n).scaleb(-decimals):.{decimals}f}"


@cache
def format_schema() -> dict:
    """The JSON Schema (2020-12) of the spec format."""
    text = resources.files("sagaspec.spec").joinpath("data/saga-spec.schema.json").read_text()
    return json.loads(text)


FORMAT_SCHEMA = "saga-spec.schema.json"


# ------------------------------------------------------------------------------ types


@dataclass(frozen=True)
class Param:
    """A named bound of the model that a run may set (``--param stock=3``)."""

    name: str
    type: str  # int | bool
    default: Expr | Literal
    low: int | None = None
    high: int | None = None
    description: str = ""


@dataclass(frozen=True)
class Var:
    """A state variable with a finite domain.

    ``kind`` is ``enum`` (one of ``values``), ``bool``, ``int`` (``low``..``high``) or
    ``counter`` (0..``high``, saturating: ``+ 1`` at the cap stays at the cap). ``shared``
    variables have one copy for all sagas; the others one per saga. ``ghost`` variables
    record what happened in the world (charges made); only properties should read them,
    and a crash never loses them. ``volatile`` variables are lost on a crash.
    """

    name: str
    kind: str
    values: tuple[str, ...] = ()
    low: Expr | Literal | None = None
    high: Expr | Literal | None = None
    initial: Expr | Literal | None = None
    shared: bool = False
    ghost: bool = False
    volatile: bool = False
    description: str = ""
    where: str = ""
    #: The key (``keys:`` name) of a keyed shared variable: one value per key.
    key: str | None = None

    @property
    def cel_type(self) -> str:
        return _CEL_TYPE[self.kind]


@dataclass(frozen=True)
class SpecKey:
    """A key of keyed shared variables (``keys:``): what a saga's lines are.

    The lines are the entries of the list field ``event.field`` (``OrderCreated.items``);
    each names its key in ``key`` and its units in ``quantity``. In the model every saga
    has one line of one key (all sagas contend for it), of ``units`` (an int param)
    units; a real service evaluates a keyed variable's guards and updates per key of the
    saga's lines, with ``units`` the saga's units of that key
    (:func:`sagaspec.model.compile.run_per_key`).
    """

    name: str
    event: str
    field: str
    key: str
    quantity: str
    units: str
    description: str = ""
    where: str = ""


@dataclass(frozen=True)
class WorldRule:
    """How a real world decides a knob from its data: ``knob`` is ``value`` for a saga
    whose field ``event.field`` is in the world data list ``data`` (``test == "in"``)
    or, as a decimal, above the world data limit ``data`` (``test == "above"``)."""

    knob: str
    value: str
    event: str
    field: str
    test: str  # in | above
    data: str
    description: str = ""
    where: str = ""


@dataclass(frozen=True)
class Alternative:
    """One possible outcome of a reaction: guard, world decision, updates, emitted events."""

    label: str
    when: Expr | Literal | None
    otherwise: bool
    world: tuple[tuple[str, str], ...]
    updates: tuple[tuple[str, Expr | Literal], ...]
    emit: tuple[str, ...]
    where: str


@dataclass(frozen=True)
class SpecReaction:
    """What ``participant`` does on ``on`` (kind ``event``), on a join, or spontaneously.

    For a ``join``, ``memory`` pairs each joined event with the boolean variable that
    remembers its arrival; the alternatives run once all have arrived.
    """

    participant: str
    kind: str  # event | join | trigger
    on: tuple[str, ...]
    memory: tuple[tuple[str, str], ...]
    alternatives: tuple[Alternative, ...]
    note: str
    where: str

    @property
    def emits(self) -> tuple[tuple[str, ...], ...]:
        """Alternative published event lists, deduplicated; ``()`` (nothing) last."""
        seen: dict[tuple[str, ...], None] = {}
        for a in self.alternatives:
            seen.setdefault(a.emit, None)
        out = [e for e in seen if e]
        if () in seen:
            out.append(())
        return tuple(out)


@dataclass(frozen=True)
class SpecParticipant:
    name: str
    description: str
    subscribes: tuple[str, ...]
    publishes: tuple[str, ...]
    state: tuple[Var, ...]
    shared: tuple[Var, ...]
    reactions: tuple[SpecReaction, ...]
    where: str

    def var(self, name: str) -> Var:
        for v in (*self.state, *self.shared):
            if v.name == name:
                return v
        raise KeyError(name)


@dataclass(frozen=True)
class SpecField:
    """A payload field: its JSON Schema, whether required, and where its value comes from."""

    name: str
    schema: dict
    optional: bool
    nullable: bool
    source: str | None  # EVENT.FIELD | new | world.KNOB | sum(EVENT.LIST.FIELD) | None
    where: str


@dataclass(frozen=True)
class FieldDraw:
    """How the conformance suite draws one field of a trigger (``draw:``), for a target
    whose world is per key: sagas must compete for a few keys.

    ``kind`` is ``one_of`` (a value of ``values``), ``between`` (an integer
    ``low``..``high``, written with ``decimals`` fraction digits when set), ``text``
    (``prefix`` with ``{saga}`` the saga's index, then a character of ``first`` if set,
    then up to ``max_length`` characters of ``chars`` in all), ``each`` (a list of
    ``min_items``..``max_items`` objects drawn field by field as ``each`` says, no two
    sharing ``unique_by``) or ``sum`` (derived: ``field`` x ``times`` summed over the
    entries of the drawn list ``list``, with ``decimals`` fraction digits when set).
    """

    name: str
    kind: str
    values: tuple = ()
    low: int = 0
    high: int = 0
    decimals: int | None = None
    chars: str = ""
    first: str = ""
    max_length: int = 8
    prefix: str = ""
    each: tuple[FieldDraw, ...] = ()
    min_items: int = 0
    max_items: int = 0
    unique_by: str | None = None
    list: str = ""
    field: str = ""
    times: str | None = None
    where: str = ""


@dataclass(frozen=True)
class SpecEvent:
    name: str
    role: str
    version: int
    undoes: str | None
    terminal: bool
    description: str
    fields: tuple[SpecField, ...]
    #: A trigger's ``draw:``, in drawing order (empty: drawn from the fields' schemas).
    draw: tuple[FieldDraw, ...] = ()


@dataclass(frozen=True)
class SpecProperty:
    """A named property. ``over`` is ``saga`` (about one saga, quantified) or ``all``."""

    name: str
    kind: str
    expr: Expr | Literal
    over: str
    description: str
    target: Expr | Literal | None = None  # leads_to: the `to` expression
    where: str = ""


@dataclass(frozen=True, eq=False)
class SagaSpec:
    """A loaded, checked saga spec.

    Compared and hashed by identity: two loads of one file (edited in between, or read
    from another folder under the same relative name) are different specs, so nothing
    cached for one is served for the other; loads of the same text from the same source
    are one spec (see :func:`parse_spec`). Never changed after the load.
    """

    name: str
    title: str
    summary: str
    description: str
    assumes: frozenset[str]
    params: tuple[Param, ...]
    bounds: dict
    world: dict[str, tuple[str, ...]]
    types: dict
    common: tuple[SpecField, ...]
    events: tuple[SpecEvent, ...]
    participants: tuple[SpecParticipant, ...]
    properties: tuple[SpecProperty, ...]
    source: str
    #: The shipped short name (``seed``), or ``None`` for a user's file.
    shipped: str | None = None
    #: Keys of keyed shared variables (``keys:``).
    keys: tuple[SpecKey, ...] = ()
    #: World rules per knob, in order (``world: KNOB: rules:``).
    rules: tuple[WorldRule, ...] = ()

    def key(self, name: str) -> SpecKey:
        for k in self.keys:
            if k.name == name:
                return k
        raise DesignError(f"spec {self.name!r} has no key {name!r}")

    def knob_by_rules(self, knob: str, data: dict, events: dict) -> str | None:
        """The value of ``knob`` that the first of its world rules matching the saga gives
        (``None``: none matches, the knob has none, or a rule's data is not given).

        ``data`` is the world's data by name; ``events`` maps an event type to the saga's
        payload of it. ``above`` compares decimals exactly.

        >>> s = shipped_spec("corrected")
        >>> created = {"OrderCreated": {"userId": "bob", "amount": "100.01"}}
        >>> s.knob_by_rules("payment", {"decline_over": "100.00"}, created)
        'decline'
        >>> s.knob_by_rules("payment", {"declined_users": ["eve"]}, created) is None
        True
        """
        from decimal import Decimal, InvalidOperation

        for r in self.rules:
            if r.knob != knob or data.get(r.data) is None:
                continue
            value = (events.get(r.event) or {}).get(r.field)
            if value is None:
                continue
            if r.test == "in":
                if value in data[r.data]:
                    return r.value
                continue
            try:
                if Decimal(str(value)) > Decimal(str(data[r.data])):
                    return r.value
            except InvalidOperation:
                continue  # not a decimal: this rule cannot say
        return None

    @property
    def world_data(self) -> dict[str, str]:
        """World data names the rules read -> ``list`` (``in``) or ``limit`` (``above``)."""
        return {r.data: ("list" if r.test == "in" else "limit") for r in self.rules}

    def participant(self, name: str) -> SpecParticipant:
        for p in self.participants:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.participants)
        raise DesignError(f"spec {self.name!r} has no participant {name!r}; expected one of {known}")

    def event(self, name: str) -> SpecEvent:
        for e in self.events:
            if e.name == name:
                return e
        raise DesignError(f"spec {self.name!r} has no event {name!r}")

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.events)

    def resolve_params(self, sagas: int, overrides: dict | None = None) -> dict:
        """Every param's value for ``sagas`` sagas, defaults evaluated in order."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - {p.name for p in self.params})
        if unknown:
            known = ", ".join(p.name for p in self.params) or "none"
            raise InputError(f"spec {self.name!r}: unknown param {', '.join(unknown)}; expected one of {known}")
        values: dict = {"sagas": sagas}
        for p in self.params:
            if p.name in overrides and overrides[p.name] is not None:
                v = overrides[p.name]
            else:
                v = p.default(values)
            if p.type == "bool":
                if not isinstance(v, bool):
                    raise InputError(f"{p.name} must be true or false, got {v!r}")
            else:
                if not isinstance(v, int) or isinstance(v, bool):
                    raise InputError(f"{p.name} must be an integer, got {v!r}")
                if (p.low is not None and v < p.low) or (p.high is not None and v > p.high):
                    raise InputError(f"{p.name} must be an integer from {p.low} to {p.high}, got {v!r}")
            values[p.name] = v
        return values

    def design(self) -> Design:
        """The choreography table (services, reactions, roles) that lint and docs read."""
        return _design_of(self)

    @property
    def default_sagas(self) -> int:
        return int(self.bounds.get("sagas", 2))

    @property
    def max_sagas(self) -> int:
        return int(self.bounds.get("max_sagas", 6))


@cache
def _design_of(spec: SagaSpec) -> Design:
    services = tuple(
        Service(p.name, p.subscribes, p.publishes, p.description) for p in spec.participants
    )
    reactions = tuple(
        Reaction(
            r.participant,
            () if r.kind == "trigger" else r.on,
            r.emits,
            join=r.kind == "join",
            note=r.note,
        )
        for p in spec.participants
        for r in p.reactions
    )
    roles = {e.name: e.role for e in spec.events}
    return Design(
        name=spec.shipped or spec.name,
        title=spec.title or spec.name,
        description=spec.description,
        services=services,
        reactions=reactions,
        terminal=frozenset(e.name for e in spec.events if e.terminal),
        failures=frozenset(n for n, r in roles.items() if r == "failure"),
        compensates={e.name: e.undoes for e in spec.events if e.undoes},
        outcomes=frozenset(n for n, r in roles.items() if r == "outcome"),
    )


# ------------------------------------------------------------------------------ loading


def shipped_names() -> tuple[str, ...]:
    return tuple(SHIPPED)


@cache
def shipped_spec(name: str) -> SagaSpec:
    """A spec shipped in the package, by short name (``seed``, ``corrected``)."""
    try:
        filename = SHIPPED[name]
    except KeyError:
        raise DesignError(f"unknown design {name!r}; expected one of {', '.join(SHIPPED)} or a spec file") from None
    text = resources.files("sagaspec.spec").joinpath(f"sagas/{filename}").read_text()
    return parse_spec(text, f"sagas/{filename}", shipped=name)


def resolve_spec(ref: str) -> SagaSpec:
    """A shipped name or a path to a spec file."""
    if ref in SHIPPED:
        return shipped_spec(ref)
    path = Path(ref)
    if path.suffix in (".yaml", ".yml", ".json") or path.exists():
        return load_spec(path)
    raise DesignError(
        f"unknown design {ref!r}; expected one of {', '.join(SHIPPED)} or a spec file (.saga.yaml)"
    )


def load_spec(path: str | Path) -> SagaSpec:
    """Read and check a spec file; :class:`SpecError` names ``FILE:LINE:COL``."""
    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(f"{path}: is a folder; expected a spec file")
        with open(path, "rb") as fh:
            raw = fh.read(2_000_001)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_spec(text, str(path))


#: Specs parsed in this process, by (text, source, shipped name), newest last: reading
#: the same file again (every test module, every run of one process) costs a dictionary
#: look-up instead of a 75 ms parse. A spec depends on nothing but its text.
_PARSED: OrderedDict[tuple[str, str, str | None], SagaSpec] = OrderedDict()
_PARSED_MAX = 32


def parse_spec(text: str, source: str = "<spec>", *, shipped: str | None = None) -> SagaSpec:
    """Parse and check spec text (YAML or JSON). The same text from the same source
    gives the same spec object."""
    key = (text, source, shipped)
    spec = _PARSED.get(key)
    if spec is not None:
        _PARSED.move_to_end(key)
        return spec
    located = load_located(text, source)
    spec = _PARSED[key] = _Builder(located, shipped).build()
    if len(_PARSED) > _PARSED_MAX:
        _PARSED.popitem(last=False)
    return spec


# ------------------------------------------------------------------------------ builder


def _schema_errors(located: Located) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(format_schema())
    # Shallowest first; at one place an unknown key before a missing one (a misspelt
    # `alternativs:` is both: the typo is what to fix).
    errors = sorted(validator.iter_errors(located.data),
                    key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)),
                                   e.validator != "additionalProperties"))
    if not errors:
        return
    err = _deepest(errors[0])
    path = tuple(err.absolute_path)
    field = "/".join(str(p) for p in path) or "(top level)"
    where = located.where(path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        if extra:
            where = located.where_key((*path, extra[0]))
    raise SpecError(f"{where}: {field}: {_schema_message(err)}")


def _deepest(err):
    # oneOf/anyOf errors: the most specific sub-error says what is wrong, within the
    # branch the value picked by its keys (a draw: with `sum` is told about `sum`'s keys).
    while err.context:
        branch = _branch(err)
        ctx = [e for e in err.context if branch is None or e.relative_schema_path[0] == branch]
        err = max(ctx or err.context, key=lambda e: len(e.absolute_path))
    return err


def _branch(err) -> int | None:
    """The only oneOf/anyOf branch whose required keys the value has, if one."""
    if err.validator not in ("oneOf", "anyOf") or not isinstance(err.instance, dict):
        return None
    picked = [i for i, sub in enumerate(err.validator_value)
              if isinstance(sub, dict) and sub.get("required")
              and all(k in err.instance for k in sub["required"])]
    return picked[0] if len(picked) == 1 else None


def _schema_message(err) -> str:
    v = err.validator
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(err.schema.get("properties", {}))
        return f"unknown key {', '.join(map(repr, extra))}; expected one of {allowed}"
    if v == "required":
        return err.message.replace("is a required property", "is required")
    if v == "oneOf" and isinstance(err.instance, dict):
        return "expected exactly one of " + ", ".join(
            k for s in err.schema["oneOf"] for k in s.get("required", [])
        )
    if v == "pattern":
        return f"{err.instance!r} does not match {err.schema['pattern']}"
    if v == "enum":
        return f"{err.instance!r} is not one of {_either(err.validator_value)}"
    return err.message


def _either(values) -> str:
    """``a, b or c``: a choice said as a sentence, not a Python list."""
    words = [v if isinstance(v, str) else json.dumps(v) for v in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


class _Builder:
    def __init__(self, located: Located, shipped: str | None) -> None:
        self.loc = located
        self.d = located.data
        self.shipped = shipped
        # The JSON Schema checks (the file against the format schema, each field's schema,
        # each drawn value against its field) run on a user's file at every load. The
        # shipped files are the package's own and pass them (the suite runs them:
        # tests/spec/test_sagafile.py), so their load, which every `sagaspec check` makes,
        # skips them and the import of jsonschema (about 60 ms of CPU).
        self.schema_checks = shipped is None

    def where_of(self, path):
        def where(offset):
            return self.loc.where(path, offset)

        return where

    def fail(self, path, message: str):
        raise SpecError(f"{self.loc.where(path)}: {message}")

    # -- expressions

    def expr(self, env: CelEnv, value, path, want: str | None):
        if isinstance(value, bool):
            if want not in (None, "bool"):
                self.fail(path, f"{value!r} is a bool; expected {want}")
            return Literal(value, self.loc.where(path))
        if isinstance(value, int):
            if want not in (None, "int"):
                self.fail(path, f"{value!r} is an int; expected {want}")
            return Literal(value, self.loc.where(path))
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "expected a CEL expression")
        return env.compile(value, self.where_of(path), want)

    def check_strings(self, value, path, enums: dict[str, tuple[str, ...]]) -> None:
        """String literals of an expression must be values of an enum it reads."""
        if not isinstance(value, str):
            return
        strings, names = scan(value)
        if not strings:
            return
        allowed = set()
        for n in names:
            for k, vals in enums.items():
                if n == k or n.startswith(k + "."):
                    allowed.update(vals)
        if not allowed:
            return
        for s in strings:
            if s not in allowed:
                self.fail(path, f"{s!r} is not a value of any enum variable this expression reads ({', '.join(sorted(allowed))})")

    # -- sections

    def build(self) -> SagaSpec:
        if self.schema_checks:
            _schema_errors(self.loc)
        d = self.d
        params = self.params()
        self.param_names = {p.name for p in params}
        world = {k: tuple(v["values"]) for k, v in (d.get("world") or {}).items()}
        self.world = world
        types = d.get("types") or {}
        self.types = types
        events = self.events()
        self.event_names = [e.name for e in events]
        self.spec_events = {e.name: e for e in events}
        keys = self.keys(params)
        self.key_map = {k.name: k for k in keys}
        rules = self.rules()
        participants = self.participants(params)
        props = self.properties(participants, params)
        self.check_provenance(events, participants)
        self.check_domains(participants, params)
        bounds = dict(d.get("bounds") or {})
        if bounds.get("sagas", 1) > bounds.get("max_sagas", 6):
            self.fail(("bounds", "sagas"), "sagas is larger than max_sagas")
        return SagaSpec(
            name=d["saga"],
            title=d.get("title", ""),
            summary=d.get("summary", ""),
            description=d.get("description", ""),
            assumes=frozenset(d.get("assumes") or ()),
            params=params,
            bounds=bounds,
            world=world,
            types=types,
            common=tuple(self.fields(d.get("common") or {}, ("common",))),
            events=events,
            participants=participants,
            properties=props,
            source=self.loc.source,
            shipped=self.shipped,
            keys=keys,
            rules=rules,
        )

    def _resolve(self, schema):
        """``schema`` with a ``$ref`` to a declared type followed (once per level)."""
        seen = 0
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 20:
            ref = schema["$ref"]
            if not ref.startswith("#/types/") or ref[8:] not in self.types:
                return schema
            schema = self.types[ref[8:]]
            seen += 1
        return schema

    def event_field(self, ref: str, path, what: str) -> SpecField:
        """The field ``EVENT.FIELD`` names (a load error naming ``what`` otherwise)."""
        ev, _, fname = ref.partition(".")
        if ev not in self.spec_events:
            self.fail(path, f"{what}: unknown event {ev!r}; expected one of {', '.join(self.event_names)}")
        fields = {f.name: f for f in self.spec_events[ev].fields}
        if fname not in fields:
            self.fail(path, f"{what}: event {ev} has no field {fname!r} (fields: {', '.join(fields) or 'none'})")
        return fields[fname]

    def keys(self, params) -> tuple[SpecKey, ...]:
        out = []
        ints = {p.name for p in params if p.type == "int"}
        used: dict[str, str] = {}
        for name, k in (self.d.get("keys") or {}).items():
            path = ("keys", name)
            f = self.event_field(k["lines"], (*path, "lines"), f"key {name}: lines")
            schema = self._resolve(f.schema)
            if not isinstance(schema, dict) or schema.get("type") != "array" or "items" not in schema:
                self.fail((*path, "lines"), f"key {name}: lines: {k['lines']} must be a list field (type: array with items)")
            item = self._resolve(schema["items"])
            props = item.get("properties") if isinstance(item, dict) else None
            if not isinstance(props, dict):
                self.fail((*path, "lines"), f"key {name}: lines: the items of {k['lines']} must be objects with properties")
            for role in ("key", "quantity"):
                if k[role] not in props:
                    self.fail((*path, role), f"key {name}: a line of {k['lines']} has no field {k[role]!r} "
                              f"(fields: {', '.join(props)})")
            if self._resolve(props[k["quantity"]]).get("type") != "integer":
                self.fail((*path, "quantity"), f"key {name}: quantity: field {k['quantity']!r} of a line must be an integer")
            if k["units"] not in ints:
                self.fail((*path, "units"), f"key {name}: units: {k['units']!r} is not an int param "
                          f"(int params: {', '.join(sorted(ints)) or 'none'})")
            if k["units"] in used:
                self.fail((*path, "units"), f"key {name}: units: param {k['units']!r} already stands for key {used[k['units']]}'s units")
            used[k["units"]] = name
            ev, _, field = k["lines"].partition(".")
            out.append(SpecKey(name, ev, field, k["key"], k["quantity"], k["units"],
                               k.get("description", ""), self.loc.where(path)))
        return tuple(out)

    def rules(self) -> tuple[WorldRule, ...]:
        out = []
        kinds: dict[str, tuple[str, tuple]] = {}
        for knob, w in (self.d.get("world") or {}).items():
            for i, r in enumerate(w.get("rules") or ()):
                path = ("world", knob, "rules", i)
                if r["value"] not in w["values"]:
                    self.fail((*path, "value"), f"{r['value']!r} is not a value of world knob {knob} ({', '.join(w['values'])})")
                self.event_field(r["if"], (*path, "if"), f"world {knob}: rule")
                test = "in" if "in" in r else "above"
                data = r[test]
                if data in kinds and kinds[data][0] != test:
                    self.fail((*path, test), f"world data {data!r} is a {'list (in)' if kinds[data][0] == 'in' else 'limit (above)'} "
                              f"at {self.loc.where(kinds[data][1])}; one name, one kind")
                kinds.setdefault(data, (test, (*path, test)))
                ev, _, field = r["if"].partition(".")
                out.append(WorldRule(knob, r["value"], ev, field, test, data, r.get("description", ""),
                                     self.loc.where(path)))
        return tuple(out)

    def params(self) -> tuple[Param, ...]:
        out = []
        names = {"sagas": "int"}
        for name, p in (self.d.get("params") or {}).items():
            path = ("params", name)
            if name == "sagas":
                self.fail(path, "'sagas' is built in (the number of sagas); choose another name")
            env = CelEnv(names)
            default = self.expr(env, p["default"], (*path, "default"), p["type"])
            out.append(Param(name, p["type"], default, p.get("min"), p.get("max"), p.get("description", "")))
            names[name] = p["type"]
        self.param_env = names
        return tuple(out)

    def events(self) -> tuple[SpecEvent, ...]:
        out = []
        evs = self.d["events"]
        for name, e in evs.items():
            path = ("events", name)
            undoes = e.get("undoes")
            if undoes is not None and undoes not in evs:
                self.fail((*path, "undoes"), f"unknown event {undoes!r}; expected one of {', '.join(evs)}")
            if e["role"] == "compensation" and undoes is None:
                self.fail(path, "a compensation must say which event it undoes (undoes: EVENT)")
            fields = tuple(self.fields(e.get("fields") or {}, (*path, "fields")))
            draw = ()
            if "draw" in e:
                if e["role"] != "trigger":
                    self.fail((*path, "draw"), f"draw: only a trigger is drawn; {name} is a {e['role']}")
                draw = self.draws(name, e["draw"], {f.name: (f.schema, not f.optional) for f in fields},
                                  (*path, "draw"))
            out.append(
                SpecEvent(
                    name,
                    e["role"],
                    int(e.get("version", 1)),
                    undoes,
                    bool(e.get("terminal", False)),
                    e.get("description", ""),
                    fields,
                    draw,
                )
            )
        return tuple(out)

    def draws(self, owner: str, decl: dict, fields: dict, path) -> tuple[FieldDraw, ...]:
        """The ``draw:`` of ``owner`` (an event, or a list's entries): ``fields`` maps each
        field name to ``(schema, required)``."""
        for fname in fields:
            if fields[fname][1] and fname not in decl:
                self.fail(path, f"draw: required field {fname!r} of {owner} is not declared "
                          "(declare how each required field is drawn)")
        out = []
        for fname, g in decl.items():
            if fname not in fields:
                self.fail((*path, fname), f"draw: {owner} has no field {fname!r} (fields: {', '.join(fields) or 'none'})")
            out.append(self.field_draw(owner, fname, g, fields[fname][0], (*path, fname)))
        drawn = {d.name: d for d in out}
        for d in out:
            if d.kind != "sum":
                continue
            lst = drawn.get(d.list)
            if lst is None or lst.kind != "each":
                self.fail((*path, d.name, "sum"), f"draw {d.name}: sum: {d.list!r} is not a list drawn here "
                          f"(lists drawn with each: {', '.join(n for n, x in drawn.items() if x.kind == 'each') or 'none'})")
            entry = {x.name: x for x in lst.each}
            for part, where in ((d.field, "sum"), (d.times, "times")):
                if part is None:
                    continue
                if part not in entry or entry[part].kind != "between":
                    self.fail((*path, d.name, where), f"draw {d.name}: {where}: {part!r} is not a number drawn "
                              f"(between) for an entry of {d.list} (numbers: "
                              f"{', '.join(n for n, x in entry.items() if x.kind == 'between') or 'none'})")
        return tuple(out)

    def _valid(self, value, schema, path, what: str) -> None:
        """``value`` must be valid for the field's ``schema`` (its type references followed)."""
        if not self.schema_checks:
            return
        import jsonschema

        err = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator({**schema, "types": self.types}).iter_errors(value))
        if err is not None:
            self.fail(path, f"{what}: {value!r} is not a valid value of the field: {err.message}")

    def field_draw(self, owner: str, fname: str, g: dict, schema, path) -> FieldDraw:
        where = self.loc.where(path)
        what = f"draw {fname}"
        if "one_of" in g:
            for i, v in enumerate(g["one_of"]):
                self._valid(v, schema, (*path, "one_of", i), f"{what}: one_of")
            return FieldDraw(fname, "one_of", values=tuple(g["one_of"]), where=where)
        if "between" in g:
            low, high = g["between"]
            if low > high:
                self.fail((*path, "between"), f"{what}: between: {low} is above {high}; expected [LOW, HIGH]")
            d = FieldDraw(fname, "between", low=low, high=high, decimals=g.get("decimals"), where=where)
            for end in (low, high):
                self._valid(decimal_text(end, d.decimals) if d.decimals else end, schema,
                            (*path, "between"), f"{what}: between")
            return d
        if "text" in g:
            chars, first = (self.chars(g[k], (*path, k), what) if k in g else "" for k in ("text", "first"))
            d = FieldDraw(fname, "text", chars=chars, first=first, max_length=g.get("max_length", 8),
                          prefix=g.get("prefix", ""), where=where)
            self._valid(d.prefix.replace("{saga}", "0") + d.first[:1], schema, path, f"{what}: text")
            return d
        if "each" in g:
            lst = self._resolve(schema)
            item = self._resolve(lst.get("items")) if isinstance(lst, dict) and lst.get("type") == "array" else None
            props = item.get("properties") if isinstance(item, dict) else None
            if not isinstance(props, dict):
                self.fail((*path, "each"), f"{what}: each: {fname} must be a list of objects with properties")
            required = set(item.get("required") or ())
            each = self.draws(f"an entry of {owner}.{fname}", g["each"],
                              {n: (s, n in required) for n, s in props.items()}, (*path, "each"))
            low = g.get("min_items", lst.get("minItems", 0))
            if low > g["max_items"]:
                self.fail((*path, "max_items"), f"{what}: max_items {g['max_items']} is below min_items {low}")
            if "unique_by" in g and g["unique_by"] not in g["each"]:
                self.fail((*path, "unique_by"), f"{what}: unique_by: {g['unique_by']!r} is not a field drawn "
                          f"for an entry ({', '.join(g['each'])})")
            pool = next((x for x in each if x.name == g.get("unique_by") and x.kind == "one_of"), None)
            if pool is not None and len(pool.values) < low:
                self.fail((*path, "min_items"), f"{what}: min_items {low} entries cannot each have another "
                          f"{pool.name} (its one_of has {len(pool.values)})")
            return FieldDraw(fname, "each", each=each, min_items=low, max_items=g["max_items"],
                             unique_by=g.get("unique_by"), where=where)
        lst, _, field = g["sum"].partition(".")
        d = FieldDraw(fname, "sum", list=lst, field=field, times=g.get("times"),
                      decimals=g.get("decimals"), where=where)
        self._valid(decimal_text(0, d.decimals) if d.decimals else 0, schema, path, f"{what}: sum")
        return d

    def chars(self, text: str, path, what: str) -> str:
        """The characters of ``text`` written as a regular expression's class without
        brackets: ``a-z`` a range, a ``-`` first or last itself."""
        out, i = [], 0
        while i < len(text):
            if i + 2 < len(text) and text[i + 1] == "-":
                a, b = text[i], text[i + 2]
                if a > b:
                    self.fail(path, f"{what}: {a}-{b} is not a range (its first character comes after its last)")
                out += [chr(c) for c in range(ord(a), ord(b) + 1)]
                i += 3
            else:
                out.append(text[i])
                i += 1
        return "".join(dict.fromkeys(out))

    def fields(self, fields: dict, path) -> list[SpecField]:
        out = []
        for fname, f in fields.items():
            schema = {k: v for k, v in f.items() if k not in ("optional", "nullable", "from")}
            for key, value in schema.items():
                if value is None:
                    self.fail((*path, fname, key), f"field {fname}: key {key!r} has no value "
                              "(an unquoted text with a comma in a {...} mapping? quote it)")
            self.check_refs(schema, (*path, fname))
            if self.schema_checks:
                import jsonschema

                try:
                    jsonschema.Draft202012Validator.check_schema(schema)
                except jsonschema.SchemaError as exc:
                    self.fail((*path, fname), f"field {fname}: not a valid JSON Schema: {exc.message}")
            out.append(
                SpecField(
                    fname,
                    schema,
                    bool(f.get("optional", False)),
                    bool(f.get("nullable", False)),
                    f.get("from"),
                    self.loc.where((*path, fname)),
                )
            )
        return out

    def check_refs(self, schema, path) -> None:
        if isinstance(schema, dict):
            ref = schema.get("$ref")
            if ref is not None:
                if not (isinstance(ref, str) and ref.startswith("#/types/") and ref[8:] in self.types):
                    known = ", ".join(self.types) or "none declared"
                    self.fail((*path, "$ref"), f"unknown type reference {ref!r}; expected '#/types/NAME' ({known})")
            for k, v in schema.items():
                self.check_refs(v, (*path, k))
        elif isinstance(schema, list):
            for i, v in enumerate(schema):
                self.check_refs(v, (*path, i))

    def var(self, name: str, v: dict, path, shared: bool) -> Var:
        kind = v["type"]
        env = CelEnv(self.param_env)
        low = high = None
        if kind == "int":
            low = self.expr(env, v["min"], (*path, "min"), "int")
            high = self.expr(env, v["max"], (*path, "max"), "int")
        elif kind == "counter":
            high = self.expr(env, v["max"], (*path, "max"), "int")
            low = Literal(0)
        elif "min" in v or "max" in v:
            self.fail(path, f"min/max apply to int and counter variables, not {kind}")
        values = tuple(v.get("values") or ())
        if kind != "enum" and values:
            self.fail((*path, "values"), "values apply to enum variables only")
        initial = None
        if "initial" in v:
            init = v["initial"]
            if kind == "enum":
                if init not in values:
                    self.fail((*path, "initial"), f"{init!r} is not one of {', '.join(values)}")
                initial = Literal(init)
            else:
                initial = self.expr(env, init, (*path, "initial"), _CEL_TYPE[kind])
        if v.get("ghost") and v.get("volatile"):
            self.fail(path, "a ghost variable records what happened in the world; it cannot be volatile")
        key = v.get("key")
        if key is not None:
            if key not in self.key_map:
                self.fail((*path, "key"), f"unknown key {key!r}; expected one of {', '.join(self.key_map) or 'none declared (top-level keys:)'}")
            if kind not in ("int", "counter"):
                self.fail((*path, "key"), f"a keyed variable counts something per key: type int or counter, not {kind}")
        if name in self.param_names or name == "sagas":
            self.fail(path, f"variable {name!r} has the name of a param")
        return Var(
            name, kind, values, low, high, initial, shared, bool(v.get("ghost")),
            bool(v.get("volatile")), v.get("description", ""), self.loc.where(path), key,
        )

    def participants(self, params) -> tuple[SpecParticipant, ...]:
        out = []
        for pname, p in self.d["participants"].items():
            ppath = ("participants", pname)
            state = tuple(self.var(n, v, (*ppath, "state", n), False) for n, v in (p.get("state") or {}).items())
            shared = tuple(self.var(n, v, (*ppath, "shared", n), True) for n, v in (p.get("shared") or {}).items())
            dup = {v.name for v in state} & {v.name for v in shared}
            if dup:
                self.fail(ppath, f"variable {sorted(dup)[0]!r} is declared both per saga and shared")
            allvars = {v.name: v for v in (*state, *shared)}
            self.keyed = {v.name: v.key for v in shared if v.key}
            names = dict(self.param_env)
            names.update({n: v.cel_type for n, v in allvars.items()})
            env = CelEnv(names)
            enums = {n: v.values for n, v in allvars.items() if v.kind == "enum"}
            reactions = []
            seen_on: dict[str, tuple] = {}
            for i, r in enumerate(p.get("reactions") or ()):
                rpath = (*ppath, "reactions", i)
                reaction = self.reaction(pname, r, rpath, env, allvars, enums)
                for ev in reaction.on:
                    if ev in seen_on:
                        self.fail(rpath, f"{pname} already reacts to {ev} (at {self.loc.where(seen_on[ev])}); merge the alternatives into one reaction")
                    seen_on[ev] = rpath
                reactions.append(reaction)
            subs = p.get("subscribes")
            if subs is None:
                subs = tuple(dict.fromkeys(e for r in reactions for e in r.on))
            else:
                for i, ev in enumerate(subs):
                    self.known_event(ev, (*ppath, "subscribes", i))
                for r in reactions:
                    for ev in r.on:
                        if ev not in subs:
                            raise SpecError(f"{r.where}: {pname} reacts to {ev} but does not subscribe to it (subscribes: {', '.join(subs)})")
            for v in shared:
                if v.key:
                    k = self.key_map[v.key]
                    sees = set(subs) | {e for r in reactions for a in r.alternatives for e in a.emit}
                    if k.event not in sees:
                        self.fail((*ppath, "shared", v.name, "key"),
                                  f"{pname} keeps {v.name} per {k.name} but never sees {k.event}, the event with the lines "
                                  f"({k.event}.{k.field}); subscribe to it")
            emitted = tuple(dict.fromkeys(e for r in reactions for a in r.alternatives for e in a.emit))
            pubs = p.get("publishes")
            if pubs is None:
                pubs = emitted
            else:
                for i, ev in enumerate(pubs):
                    self.known_event(ev, (*ppath, "publishes", i))
                for r in reactions:
                    for a in r.alternatives:
                        for ev in a.emit:
                            if ev not in pubs:
                                raise SpecError(f"{a.where}: {pname} emits {ev} but does not publish it (publishes: {', '.join(pubs)})")
            out.append(
                SpecParticipant(
                    pname, p.get("description", ""), tuple(subs), tuple(pubs), state, shared,
                    tuple(reactions), self.loc.where(ppath),
                )
            )
        return tuple(out)

    def known_event(self, ev: str, path) -> None:
        if ev not in self.event_names:
            self.fail(path, f"unknown event {ev!r}; expected one of {', '.join(self.event_names)}")

    def reaction(self, pname, r, rpath, env, allvars, enums) -> SpecReaction:
        memory: tuple = ()
        if "trigger" in r:
            if r["trigger"] is not True:
                self.fail((*rpath, "trigger"), "trigger: true is the only value")
            kind, on = "trigger", ()
        elif "join" in r:
            kind = "join"
            on = tuple(r["join"])
            for ev, var in r["join"].items():
                self.known_event(ev, (*rpath, "join", ev))
                v = allvars.get(var)
                if v is None or v.kind != "bool" or v.shared:
                    self.fail((*rpath, "join", ev), f"{var!r} must be a per-saga bool variable of {pname} (it remembers that {ev} arrived)")
            memory = tuple(r["join"].items())
        else:
            kind = "event"
            on = (r["on"],) if isinstance(r["on"], str) else tuple(r["on"])
            for i, ev in enumerate(on):
                self.known_event(ev, (*rpath, "on") if isinstance(r["on"], str) else (*rpath, "on", i))
        alts = []
        otherwise = 0
        for j, a in enumerate(r["alternatives"]):
            apath = (*rpath, "alternatives", j)
            when = None
            if "when" in a:
                self.check_strings(a["when"], (*apath, "when"), enums)
                when = self.expr(env, a["when"], (*apath, "when"), "bool")
            if a.get("otherwise"):
                otherwise += 1
                if when is not None:
                    self.fail(apath, "an 'otherwise' alternative has no 'when'")
            world = []
            for knob, value in (a.get("world") or {}).items():
                if knob not in self.world:
                    self.fail((*apath, "world", knob), f"unknown world knob {knob!r}; expected one of {', '.join(self.world) or 'none declared (top-level world:)'}")
                if value not in self.world[knob]:
                    self.fail((*apath, "world", knob), f"{value!r} is not a value of world knob {knob} ({', '.join(self.world[knob])})")
                world.append((knob, value))
            updates = []
            for var, value in (a.get("set") or {}).items():
                upath = (*apath, "set", var)
                v = allvars.get(var)
                if v is None:
                    self.fail(upath, f"{pname} has no variable {var!r}; expected one of {', '.join(allvars) or 'none'}")
                if v.kind == "enum" and isinstance(value, str) and value in v.values:
                    updates.append((var, Literal(value, self.loc.where(upath))))
                    continue
                if v.kind == "enum" and isinstance(value, str) and value.isidentifier() and value not in env.names:
                    self.fail(upath, f"{value!r} is not a value of {var} ({', '.join(v.values)})")
                self.check_strings(value, upath, {var: v.values} if v.kind == "enum" else enums)
                updates.append((var, self.expr(env, value, upath, v.cel_type)))
            self.check_keyed(when, updates, apath)
            emit = tuple(a.get("emit") or ())
            for k, ev in enumerate(emit):
                self.known_event(ev, (*apath, "emit", k))
            alts.append(
                Alternative(a["label"], when, bool(a.get("otherwise")), tuple(world), tuple(updates), emit, self.loc.where(apath))
            )
        if otherwise > 1:
            self.fail(rpath, "at most one alternative may be 'otherwise'")
        return SpecReaction(pname, kind, on, memory, tuple(alts), r.get("note", ""), self.loc.where(rpath))

    def check_keyed(self, when, updates, apath) -> None:
        """Keyed variables are read and written per key: a guard reads keyed data of one
        key only; an update of a keyed variable reads no other key's; any other update
        reads no keyed variable (it runs once, not per key)."""
        if not self.keyed:
            return

        def keys_read(expr) -> set[str]:
            refs = getattr(expr, "refs", frozenset())
            return {self.keyed[r] for r in refs if r in self.keyed}

        if when is not None and len(keys_read(when)) > 1:
            self.fail((*apath, "when"), f"the guard reads variables of keys {', '.join(sorted(keys_read(when)))}; "
                      "a guard runs per key of one kind")
        for var, expr in updates:
            read = keys_read(expr)
            own = self.keyed.get(var)
            if own is None and read:
                names = sorted(r for r in getattr(expr, "refs", ()) if r in self.keyed)
                self.fail((*apath, "set", var), f"{var} is not keyed but its update reads keyed {', '.join(names)}: "
                          "an update of a per-saga or unkeyed variable runs once, not per key")
            if own is not None and read - {own}:
                self.fail((*apath, "set", var), f"{var} is keyed by {own} but its update reads variables keyed by "
                          f"{', '.join(sorted(read - {own}))}")

    def properties(self, participants, params) -> tuple[SpecProperty, ...]:
        per_saga = dict(self.param_env)
        lists = dict(self.param_env)
        enums = {}
        for p in participants:
            for v in p.state:
                per_saga[f"{p.name}.{v.name}"] = v.cel_type
                lists[f"{p.name}.{v.name}"] = f"list<{v.cel_type}>"
                if v.kind == "enum":
                    enums[f"{p.name}.{v.name}"] = v.values
            for v in p.shared:
                per_saga[f"{p.name}.{v.name}"] = v.cel_type
                lists[f"{p.name}.{v.name}"] = v.cel_type
                if v.kind == "enum":
                    enums[f"{p.name}.{v.name}"] = v.values
        env_saga, env_all = CelEnv(per_saga), CelEnv(lists)
        out = []
        for name, p in (self.d.get("properties") or {}).items():
            path = ("properties", name)
            kind = next(k for k in KINDS if k in p)
            over = p.get("over", "saga")
            env = env_saga if over == "saga" else env_all
            if kind == "leads_to":
                if over != "saga":
                    self.fail((*path, "over"), "leads_to is about one saga: over must be 'saga'")
                src = p[kind]
                for k in ("from", "to"):
                    self.check_strings(src[k], (*path, kind, k), enums)
                expr = self.expr(env, src["from"], (*path, kind, "from"), "bool")
                target = self.expr(env, src["to"], (*path, kind, "to"), "bool")
            else:
                self.check_strings(p[kind], (*path, kind), enums)
                expr = self.expr(env, p[kind], (*path, kind), "bool")
                target = None
            out.append(SpecProperty(name, kind, expr, over, p.get("description", ""), target, self.loc.where(path)))
        return tuple(out)

    def check_domains(self, participants, params) -> None:
        """An integer update that can never land in its variable's domain (for any value
        of the variables it reads, at the params' defaults) is an error now; one that
        only might leave it is checked when it runs (with this position)."""
        from sagaspec.spec._cel import interval

        values: dict = {"sagas": int((self.d.get("bounds") or {}).get("sagas", 2))}
        try:
            for p in params:
                values[p.name] = p.default(values)
        except Exception:  # noqa: BLE001 - a default the runtime reports better
            return
        for part in participants:
            bounds: dict[str, tuple[int, int]] = {
                n: (v, v) for n, v in values.items() if isinstance(v, int) and not isinstance(v, bool)
            }
            domains: dict[str, tuple[int, int]] = {}
            for v in (*part.state, *part.shared):
                if v.kind in ("int", "counter"):
                    try:
                        low, high = int(v.low(values)), int(v.high(values))
                    except Exception:  # noqa: BLE001 - not decidable here
                        continue
                    domains[v.name] = bounds[v.name] = (low, high)
            for r in part.reactions:
                for a in r.alternatives:
                    for var, expr in a.updates:
                        if var not in domains:
                            continue
                        got = interval(expr, bounds)
                        if got is None:
                            continue
                        low, high = domains[var]
                        kind = part.var(var).kind
                        never = got[1] < low or (got[0] > high and kind != "counter")
                        if never:
                            raise SpecError(
                                f"{expr.where}: update of {var} gives {got[0]}..{got[1]}, never within "
                                f"its domain {low}..{high}" + (" (a counter saturates only at its max)" if kind == "counter" else "")
                            )

    def check_provenance(self, events, participants) -> None:
        fields = {e.name: {f.name for f in e.fields} | {f.name for f in self.fields(self.d.get("common") or {}, ("common",))} for e in events}
        for e in events:
            for f in e.fields:
                src = f.source
                if src is None or src == "new":
                    continue
                path = ("events", e.name, "fields", f.name, "from")
                if src.startswith("world."):
                    if src[6:] not in self.world:
                        self.fail(path, f"unknown world knob {src[6:]!r}")
                    continue
                body = src[4:-1] if src.startswith("sum(") and src.endswith(")") else src
                ev, _, rest = body.partition(".")
                fname = rest.split(".")[0]
                if ev not in fields:
                    self.fail(path, f"unknown event {ev!r} in {src!r}; expected EVENT.FIELD, new, world.KNOB or sum(EVENT.LIST.FIELD)")
                if fname not in fields[ev]:
                    self.fail(path, f"event {ev} has no field {fname!r} (fields: {', '.join(sorted(fields[ev]))})")

